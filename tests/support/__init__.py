"""Shared test helpers: a real-Prometheus testbed and a runner for the installed `finops` script."""

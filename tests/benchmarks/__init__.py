"""Benchmarks: each module here runs with ``python -m tests.benchmarks.<name>`` (``nox -s bench``
runs them all). They are not tests: they generate large inputs and print figures."""

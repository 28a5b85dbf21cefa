"""The use-case layer: one plain function per command, from settings and options to a document.

``cli/`` parses options, calls one function here and writes what it returns through the
renderer registry (``render/registry.py``). Everything between — which source to open, which
windows to ask for, which analytics to run, which notes to print — lives here, so that a command
can be run, tested and reused without typer. Modules here import pandas and the analytics only
after the first query has left (see ``sources.load_in_background``).
"""

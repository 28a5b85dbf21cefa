"""The typer application: builds only the subcommand a run names; nothing heavy at start-up."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence

import typer

from finops_cli import __version__
from finops_cli.errors import EXIT_FAILURE, EXIT_USAGE, FinopsError

COMMANDS: dict[str, tuple[str, str]] = {
    "costs": ("finops_cli.cli.costs", "costs"),
    "gpus": ("finops_cli.cli.gpus", "gpus"),
    "rightsize": ("finops_cli.cli.rightsize", "rightsize"),
    "pricing": ("finops_cli.cli.pricing", "pricing_app"),
    "forecast": ("finops_cli.cli.forecast", "forecast"),
    "anomalies": ("finops_cli.cli.anomalies", "anomalies"),
    "deploy": ("finops_cli.cli.deploy", "deploy_app"),
    "billing": ("finops_cli.cli.billing", "billing_app"),
    "report": ("finops_cli.cli.report", "report_app"),
}
"""Subcommand -> (module, attribute): a command function or a ``typer.Typer`` group, in
``--help`` order."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"finops {__version__}")
        raise typer.Exit(0)


def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """GPU cost visibility for AI/ML workloads on Kubernetes.

    With nothing configured every command reads a built-in sample cluster; point it at a real
    one with --prometheus-url or FINOPS_PROMETHEUS_URL. Exit codes: 0 ok, 1 failure,
    2 usage or configuration error, 3 a --fail-on threshold was crossed.
    """


def invoked_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs, or None when it names none (``--help``, a typo).

    The root takes flags only (``--version``, ``--help``), so the first word that is not a flag
    is the subcommand.
    """
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMANDS else None


def build_app(argv: Sequence[str] = ()) -> typer.Typer:
    """The application with the subcommand ``argv`` runs, or with all of them.

    typer turns every registered command's signature into click parameters on each run, and
    each command module has its own imports: registering only the one that runs takes them off
    the start-up of every command. Root help and "no such command" suggestions need them all;
    ``--version`` alone needs none (its eager callback exits before any command is looked up).
    """
    app = typer.Typer(
        name="finops",
        help="GPU cost visibility, attribution and optimisation for AI/ML workloads on Kubernetes.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(root)
    wanted = invoked_command(argv)
    version_only = wanted is None and "--version" in argv and "--help" not in argv
    for name, (module, attribute) in COMMANDS.items():
        if version_only or wanted not in (None, name):
            continue
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    from finops_cli.cli.help import install

    return install(app)


def _fail(message: str, code: int) -> None:
    one_line = " ".join(part.strip() for part in message.splitlines())
    sys.stderr.write(f"finops: error: {one_line}\n")
    sys.exit(code)


def main() -> None:
    """Entry point: every failure ends as one line on stderr and a documented exit code."""
    debug = "--debug" in sys.argv
    try:
        code = build_app(sys.argv[1:])(standalone_mode=False)
    except FinopsError as err:
        if debug:
            _print_traceback()
        _fail(str(err), err.exit_code)
    except typer.Abort:
        _fail("aborted", EXIT_FAILURE)
    except typer.TyperException as err:  # click's usage errors, re-exported by typer
        usage_ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError" and usage_ctx is not None:
            sys.exit(EXIT_USAGE)  # typer has already printed the help
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        _fail(" ".join(message.split()), getattr(err, "exit_code", EXIT_USAGE))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)
    except OSError as err:
        if debug:
            _print_traceback()
        if err.filename is None:
            _fail(f"internal error: {type(err).__name__}: {err} (rerun with --debug)", EXIT_FAILURE)
        # A file the user named (--output-file in a read-only or missing directory, say); the
        # commands write through a temporary file, so nothing half-written is left behind.
        _fail(f"{err.filename}: {err.strerror or type(err).__name__}", EXIT_USAGE)
    except Exception as err:  # a bug: still one line, unless --debug asks for the traceback
        if debug:
            _print_traceback()
        _fail(f"internal error: {type(err).__name__}: {err} (rerun with --debug)", EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The console script: ``main``, then the process ends as soon as its output is flushed.

    Tearing down an interpreter that has loaded pandas and numpy takes a tenth of a second and
    frees nothing the operating system would not; every file finops writes is closed by then
    (written atomically). ``main`` alone is for callers that go on, such as the test suite.
    """
    from finops_cli.usecases import sources

    sources.ENDS_WITH_THE_COMMAND = True
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    end_now(code)


def end_now(code: int) -> None:
    """Flush what the process wrote and end it without the interpreter's teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # reader gone (| head), or stream closed
            code = code or EXIT_FAILURE
    os._exit(code)


def _print_traceback() -> None:
    """``--debug`` only: importing traceback (linecache, tokenize) costs start-up time."""
    import traceback

    traceback.print_exc()

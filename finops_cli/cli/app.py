"""The typer application: registers every subcommand; imports nothing heavy at start-up."""

from __future__ import annotations

import logging
import os
import sys

import typer

from finops_cli import __version__
from finops_cli.cli.anomalies import anomalies
from finops_cli.cli.billing import billing_app
from finops_cli.cli.costs import costs
from finops_cli.cli.deploy import deploy_app
from finops_cli.cli.forecast import forecast
from finops_cli.cli.gpus import gpus
from finops_cli.cli.pricing import pricing_app
from finops_cli.cli.report import report_app
from finops_cli.cli.rightsize import rightsize
from finops_cli.errors import EXIT_FAILURE, EXIT_USAGE, FinopsError

app = typer.Typer(
    name="finops",
    help="GPU cost visibility, attribution and optimisation for AI/ML workloads on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"finops {__version__}")
        raise typer.Exit(0)


@app.callback()
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


app.command("costs")(costs)
app.command("gpus")(gpus)
app.command("rightsize")(rightsize)
app.add_typer(pricing_app, name="pricing")
app.command("forecast")(forecast)
app.command("anomalies")(anomalies)
app.add_typer(deploy_app, name="deploy")
app.add_typer(billing_app, name="billing")
app.add_typer(report_app, name="report")


def _fail(message: str, code: int) -> None:
    one_line = " ".join(part.strip() for part in message.splitlines())
    sys.stderr.write(f"finops: error: {one_line}\n")
    sys.exit(code)


def main() -> None:
    """Entry point: every failure ends as one line on stderr and a documented exit code."""
    debug = "--debug" in sys.argv
    try:
        code = app(standalone_mode=False)
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

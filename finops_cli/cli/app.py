"""The typer application: registers every subcommand; imports nothing heavy at start-up."""

from __future__ import annotations

import typer

from finops_cli import __version__

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
    """GPU cost visibility for AI/ML workloads on Kubernetes."""


def main() -> None:
    app()

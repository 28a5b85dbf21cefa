"""Commands registered from the start but not built yet: they say so and exit 1."""

from __future__ import annotations

from collections.abc import Callable

import typer

from finops_cli.errors import EXIT_FAILURE

PLANNED: dict[str, str] = {}


def _not_built(command: str) -> Callable[[], None]:
    def not_built() -> None:
        typer.echo(f"finops: error: 'finops {command}' is not built yet", err=True)
        raise typer.Exit(EXIT_FAILURE)

    return not_built


def register(app: typer.Typer) -> None:
    for name, summary in PLANNED.items():
        app.command(
            name,
            help=f"NOT BUILT YET (exits 1). {summary}",
            short_help=f"(not built yet) {summary}",
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )(_not_built(name))

"""What every data-reading command shares: source, window and output options, and error handling.

``data_command`` adds the shared options to a command's signature (so they have the same names and
meaning everywhere) and hands the command one ``CommandContext`` built from them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import math
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from finops_cli.errors import UsageError
from finops_cli.settings.registry import settings_from_flags, typer_options
from finops_cli.usecases.context import Outcome, RunContext


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def option(
    text: str, *flags: Any, panel: str | None = None, show_default: bool = False, **extra: Any
) -> Any:
    """A typer option with its help ``text`` (kept in each command module's ``HELP`` table),
    under the help panel ``panel``; defaults are not shown unless asked."""
    return typer.Option(
        *flags, help=text, rich_help_panel=panel, show_default=show_default, **extra
    )


def number_in(*, ge: float | None = None, le: float | None = None) -> Callable[..., Any]:
    """A typer ``callback`` that refuses NaN, infinities and values outside ``[ge, le]`` as a
    usage error (one line, exit 2). typer's own ``min``/``max`` let ``nan`` through."""
    if ge is not None and le is not None:
        wanted = f"a number from {ge:g} to {le:g}"
    elif ge is not None:
        wanted = f"a finite number, {ge:g} or more"
    else:
        wanted = "a finite number" if le is None else f"a finite number, {le:g} or less"

    def check(value: Any) -> Any:
        if value is None:
            return value
        number = float(value)
        if (
            not math.isfinite(number)
            or (ge is not None and number < ge)
            or (le is not None and number > le)
        ):
            raise typer.BadParameter(f"{value!r}: expected {wanted}")
        return value

    return check


SOURCE = "Data source"
WINDOW = "Time window"
OUTPUT = "Output"

# The settings flags are generated from the settings' declarations (one place per setting);
# the rest are about the question asked (window) and the answer (output).
_SHARED: list[tuple[str, Any, Any]] = [
    *typer_options(SOURCE),
    (
        "config",
        Annotated[
            Path | None,
            typer.Option(
                "--config",
                metavar="PATH",
                help="Read this finops.toml instead of the usual places.",
                rich_help_panel=SOURCE,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "window",
        Annotated[
            str | None,
            typer.Option(
                "--window",
                "-w",
                metavar="DURATION|month|last-month",
                help="Window ending now (or at --end): 24h, 7d, 30d, month (month to date).",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "start",
        Annotated[
            str | None,
            typer.Option(
                "--start",
                metavar="TIME",
                help="Window start: RFC 3339 or YYYY-MM-DD (UTC).",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "end",
        Annotated[
            str | None,
            typer.Option(
                "--end",
                metavar="TIME",
                help="Window end: RFC 3339 or YYYY-MM-DD (UTC); default now.",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "output",
        Annotated[
            OutputFormat | None,
            typer.Option(
                "--output",
                "-o",
                help="table (default on a terminal), json (default otherwise) or csv.",
                rich_help_panel=OUTPUT,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "quiet",
        Annotated[
            bool,
            typer.Option(
                "--quiet",
                "-q",
                help="No progress or notices on stderr (errors still print).",
                rich_help_panel=OUTPUT,
            ),
        ],
        False,
    ),
    (
        "debug",
        Annotated[
            bool,
            typer.Option(
                "--debug",
                help="Log queries to stderr and show tracebacks (secrets are never logged).",
                rich_help_panel=OUTPUT,
            ),
        ],
        False,
    ),
]
_SHARED_NAMES = [name for name, _, _ in _SHARED]


@dataclass(frozen=True)
class CommandContext(RunContext):
    """The use cases' ``RunContext`` plus what only the command line has: the output format."""

    output: OutputFormat = OutputFormat.json
    debug: bool = False

    def emit(self, document: dict[str, Any]) -> None:
        """The document on stdout in the chosen format (see ``emit``)."""
        emit(document, self.output)

    def deliver(self, outcome: Outcome) -> None:
        """An outcome's document on stdout, then its notification and its exit code."""
        self.emit(outcome.document)
        outcome.finish()


def emit(document: dict[str, Any], output: OutputFormat) -> None:
    """The one output path: the document on stdout as JSON, CSV or a rich table, rendered by
    the renderer registered for its kind (``render/registry.py``)."""
    from finops_cli.render.registry import render

    if output is OutputFormat.table:
        from rich.console import Console

        console = Console(markup=False, emoji=False)  # label values are text, never markup
        console.print(render(document, "table", console.width))
    else:
        typer.echo(render(document, output.value), nl=False)


def _settings_flags(opts: dict[str, Any]) -> dict[str, object]:
    """The dotted settings the shared flags set, as the declarations map them."""
    return settings_from_flags(opts)


def build_context(opts: dict[str, Any], now: datetime | None = None) -> CommandContext:
    from finops_cli.settings import load_settings
    from finops_cli.timewindow import resolve_window

    now = now or datetime.now(UTC)
    settings = load_settings(_settings_flags(opts), config_file=opts["config"])
    window = resolve_window(opts["window"], opts["start"], opts["end"], now=now)
    log = logging.getLogger("finops")
    if log.isEnabledFor(logging.DEBUG):  # describe() masks every secret: only when it is shown
        log.debug("settings: %s", settings.describe())
    output = opts["output"] or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)
    given = any(opts[name] is not None for name in ("window", "start", "end"))
    return CommandContext(
        settings,
        window,
        now,
        quiet=opts["quiet"],
        window_given=given,
        output=output,
        debug=opts["debug"],
    )


def configure_logging(debug: bool) -> None:
    """Debug logs go to stderr; httpx's own request logs are kept quiet (they print full URLs)."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="finops: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _refuse_undecodable(kwargs: dict[str, Any]) -> None:
    """Refuse option values that are not UTF-8 (a Latin-1 terminal, a binary file pasted in).

    Python keeps undecodable argv bytes as lone surrogates, which fail much later, deep inside
    a query or an HTTP header; here the flag is named instead. The value is not echoed: it may
    be a token.
    """
    for name, value in kwargs.items():
        for text in value if isinstance(value, list | tuple) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    flag = "--" + name.replace("_", "-")
                    raise UsageError(
                        f"{flag} is not valid UTF-8 text; check the terminal's or script's encoding"
                    ) from None


Command = Callable[..., None]


@typing.overload
def data_command(fn: Command) -> Command: ...
@typing.overload
def data_command(
    *,
    hide: tuple[str, ...] = (),
    sources: tuple[str, ...] | None = None,
    omit: tuple[str, ...] = (),
) -> Callable[[Command], Command]: ...
def data_command(
    fn: Command | None = None,
    *,
    hide: tuple[str, ...] = (),
    sources: tuple[str, ...] | None = None,
    omit: tuple[str, ...] = (),
) -> Command | Callable[[Command], Command]:
    """Give ``fn(ctx: CommandContext, ...)`` the shared options and one-line error handling.

    ``@data_command(hide=("window", "start"))`` keeps those shared options out of ``--help``
    (the command still takes them and its use case says why they do not apply);
    ``sources=("sample", "prometheus")`` offers only those values of ``--source`` (and auto) in
    ``--help``, for a command whose question the other sources cannot answer (they still fail
    with the reason when asked for). ``omit=("start",)`` leaves a shared option out altogether,
    for a command whose own option has that flag (``billing plan --start``: a job's start, not
    the window's); the window is then built as if it had not been given.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        shared = [option for option in _SHARED if option[0] not in omit]
        return _with_shared_options(command, _narrowed(shared, hide, sources))

    return decorate(fn) if fn is not None else decorate


def document_command(fn: Callable[..., None]) -> Callable[..., None]:
    """``data_command`` for a command that writes a document in a ``--format`` of its own: no
    ``--output/-o``, which it would accept and ignore."""
    return _with_shared_options(fn, [option for option in _SHARED if option[0] != "output"])


def _narrowed(
    options: list[tuple[str, Any, Any]], hide: tuple[str, ...], sources: tuple[str, ...] | None
) -> list[tuple[str, Any, Any]]:
    """``options`` with the ``hide`` ones hidden from ``--help`` and ``--source``'s help and
    metavar limited to ``sources``."""
    if sources is not None and "opencost" not in sources:
        hide = (*hide, "opencost_url")
    out = []
    for name, annotation, default in options:
        if name in hide or (name == "source" and sources is not None):
            kind, info = typing.get_args(annotation)
            info = copy.copy(info)
            if name in hide:
                info.hidden = True
            else:
                offered = ("auto", *(sources or ()))
                info.metavar = "<" + "|".join(offered) + ">"
                info.help = (
                    f"Data source: {', '.join(sources or ())}, or auto (prometheus when a URL "
                    "is set). Env: FINOPS_SOURCE."
                )
            out.append((name, Annotated[kind, info], default))
            continue
        out.append((name, annotation, default))
    return out


def _with_shared_options(
    fn: Callable[..., None], options: list[tuple[str, Any, Any]]
) -> Callable[..., None]:
    # Resolve string annotations (``from __future__ import annotations``) so that typer sees the
    # ``Annotated[..., typer.Option(...)]`` metadata of the command's own options.
    hints = typing.get_type_hints(fn, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(fn).parameters.values()
        if p.name != "ctx"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=default)
        for name, ann, default in options
    ]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        _refuse_undecodable(kwargs)
        shared_opts = {name: kwargs.pop(name, None) for name in _SHARED_NAMES}
        configure_logging(bool(shared_opts["debug"]))
        ctx = build_context(shared_opts)
        fn(ctx, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper

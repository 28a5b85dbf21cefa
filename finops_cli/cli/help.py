"""``--help`` that fits the terminal: no option or variable name is ever cut.

typer's rich help lays options out in five columns (name, short name, negative name, type, help)
and, when they do not fit, rich cuts the widest of them with an ellipsis: at 80 columns
``--no-thanos-partial-respo…`` and ``FINOPS_PROMETHEUS_UR…``. This module renders the same panels
(usage, description, one box per ``rich_help_panel``, the subcommands of a group) with two
columns only: the option as it is typed (``-b, --by KEY``, ``--[no-]thanos-dedup``) and its help.
The option column is as wide as its longest entry and never wraps; when that leaves the help too
narrow, each help text goes under its option instead. Help texts are plain text (no markup), with
long choice lists, defaults and numeric ranges written out in words.

Every typer command and group of finops uses these classes (``cls=``); see ``cli/app.py``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

MIN_HELP_WIDTH = 34
"""Narrower help columns than this put each help text under its option instead."""
MAX_INLINE_METAVAR = 24
"""A choice list longer than this is named by a word in the option column (``KEY``) and
spelled out in the help text."""
WORDS = {"by": "KEY", "fail_on": "STATUS"}
"""The word naming an option's value where the parameter's name would read oddly (``--by BY``)."""
OPTIONS = "Options"
ARGUMENTS = "Arguments"
COMMANDS = "Commands"


def _console() -> Any:
    from rich.console import Console

    width = os.environ.get("TERMINAL_WIDTH")
    return Console(width=int(width) if width and width.isdigit() else None, highlight=False)


def _paragraphs(text: str) -> list[str]:
    """A docstring's paragraphs with their lines joined, so that rich wraps them to the width;
    lines that start a list item (``-``, ``*``) or are indented keep their own line."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines: list[str] = []
        for line in block.splitlines():
            stripped = line.strip()
            if lines and not re.match(r"(-|\*|\d+\.)\s", stripped) and not line.startswith(" "):
                lines[-1] += " " + stripped
            else:
                lines.append(stripped if not line.startswith(" ") else line.rstrip())
        out.append("\n".join(lines))
    return out


# typer 0.15 to 0.28 run on click or on a copy of it (typer._click) with typer's own choice and
# path types: parameters are read by their attributes, not their classes.


def _choices(param: Any) -> list[str] | None:
    choices = getattr(param.type, "choices", None)
    return [str(getattr(c, "value", c)) for c in choices] if choices else None


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _range_words(param: Any) -> str:
    kind = param.type
    if not hasattr(kind, "min") or not hasattr(kind, "max"):
        return ""
    low = None if kind.min is None else f"{kind.min:g}"
    high = None if kind.max is None else f"{kind.max:g}"
    if low is not None and high is not None:
        return f"From {low} to {high}."
    if low is not None:
        return f"At least {low}." if not kind.min_open else f"More than {low}."
    if high is not None:
        return f"At most {high}." if not kind.max_open else f"Less than {high}."
    return ""


def _metavar(param: Any) -> tuple[str, str]:
    """The word after the option name, and what the help text should add about the value."""
    if _is_option(param) and (param.is_flag or param.count):
        return "", ""
    explicit = getattr(param, "metavar", None)
    choices = _choices(param)
    if explicit:
        return explicit, ""
    if choices:
        inline = "|".join(choices)
        if len(inline) + 2 <= MAX_INLINE_METAVAR:
            return f"<{inline}>", ""
        word = WORDS.get(param.name or "", (param.name or "value").upper())
        help_text = getattr(param, "help", None) or ""
        if all(re.search(rf"\b{re.escape(c)}\b", help_text) for c in choices):
            return word, ""  # the help already names every choice
        return word, f"{word}: {', '.join(choices)}."
    kind = getattr(param.type, "name", "")
    if kind.startswith("int"):
        return "N", _range_words(param)
    if kind.startswith("float"):
        return "NUMBER", _range_words(param)
    if kind in ("path", "filename", "file"):
        return "PATH", ""
    return (param.name or "value").upper(), ""


def _names(param: Any) -> str:
    """How the option is typed: short and long names, ``--[no-]name`` for a pair of flags."""
    if not _is_option(param):
        return (param.name or "").upper()
    short = [o for o in param.opts if not o.startswith("--")]
    long = [o for o in param.opts if o.startswith("--")]
    secondary = list(getattr(param, "secondary_opts", []))
    if len(long) == 1 and secondary == [f"--no-{long[0][2:]}"]:
        long, secondary = [f"--[no-]{long[0][2:]}"], []
    names = ", ".join(short + long + secondary)
    metavar, _ = _metavar(param)
    return f"{names} {metavar}" if metavar else names


def _default_words(param: Any, ctx: Any) -> str:
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return f"Default: {show}."
    if not show:
        return ""
    default = param.get_default(ctx, call=False)
    if _is_option(param) and param.is_flag:
        if not getattr(param, "secondary_opts", None):
            return ""
        flag = param.opts[-1] if default else param.secondary_opts[-1]
        return f"Default: {flag}."
    if default is None or default in ((), []):
        return ""
    value = getattr(default, "value", default)
    if isinstance(value, float):  # 1/3 reads 0.333333, 10.0 reads 10
        value = f"{value:g}"
    return f"Default: {value}."


def _help_text(param: Any, ctx: Any) -> str:
    parts = [" ".join((getattr(param, "help", None) or "").split())]
    parts.append(_metavar(param)[1])
    parts.append(_default_words(param, ctx))
    if getattr(param, "required", False):
        parts.append("Required.")
    return " ".join(p for p in parts if p)


def _rows_table(rows: list[tuple[str, str]], names_width: int, width: int) -> Any:
    """Two columns when the help column keeps ``MIN_HELP_WIDTH`` and its longest word (a
    ``FINOPS_*`` name, a URL) fits on a line; else each help text under its option."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    help_width = width - 4 - names_width - 2  # the panel's border and padding, the gap
    longest = max((len(word) for _, text in rows for word in text.split()), default=0)
    if help_width >= max(MIN_HELP_WIDTH, longest):
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, width=names_width, style="bold cyan")
        table.add_column(overflow="fold")
        for names, text in rows:
            table.add_row(Text(names), Text(text, overflow="fold"))
        return table
    table = Table.grid()
    table.add_column(overflow="fold")
    for names, text in rows:
        table.add_row(Text(names, style="bold cyan", overflow="fold"))
        if text:
            table.add_row(Padding(Text(text, overflow="fold"), (0, 0, 0, 4)))
    return table


def _panels(command: Any, ctx: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    panels: dict[str, list[tuple[str, str]]] = {}
    arguments: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        row = (_names(param), _help_text(param, ctx))
        if not _is_option(param):
            name = getattr(param, "rich_help_panel", None) or ARGUMENTS
            arguments.setdefault(name, []).append(row)
        else:
            name = getattr(param, "rich_help_panel", None) or OPTIONS
            panels.setdefault(name, []).append(row)
    ordered = sorted(arguments.items(), key=lambda item: item[0] != ARGUMENTS)
    ordered += sorted(panels.items(), key=lambda item: item[0] != OPTIONS)
    if hasattr(command, "list_commands"):
        commands: list[tuple[str, str]] = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            summary = sub.short_help or (_paragraphs(sub.help)[0] if sub.help else "")
            commands.append((name, " ".join(summary.split())))
        if commands:
            ordered.append((COMMANDS, commands))
    return ordered


def render_help(command: Any, ctx: Any, console: Any = None) -> None:
    """Print ``command``'s help to ``console`` (stdout at the terminal's width by default)."""
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.text import Text

    console = console or _console()
    width = console.width
    pieces = " ".join(command.collect_usage_pieces(ctx))
    console.print(Padding(Text(f"Usage: {ctx.command_path} {pieces}".rstrip(), style="bold"), 1))
    if command.help:
        text = "\n\n".join(_paragraphs(command.help))
        console.print(Padding(Text(text), (0, 1, 1, 1)))
    panels = _panels(command, ctx)
    widest = max((len(names) for _, rows in panels for names, _ in rows), default=0)
    for title, rows in panels:
        console.print(
            Panel(
                _rows_table(rows, widest, width),
                title=title,
                title_align="left",
                border_style="dim",
            )
        )
    if command.epilog:
        console.print(Padding(Text("\n\n".join(_paragraphs(command.epilog))), 1))


class HelpCommand(TyperCommand):
    """A typer command whose ``--help`` is ``render_help``."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        render_help(self, ctx)


class HelpGroup(TyperGroup):
    """A typer group whose ``--help`` is ``render_help`` and whose commands use ``HelpCommand``."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        render_help(self, ctx)


def _unset(value: Any) -> bool:
    """typer's "not given": None, its ``Default(None)`` placeholder or its own default class."""
    return (
        value is None
        or value in (TyperCommand, TyperGroup)
        or getattr(value, "value", object()) is None
    )


def install(app: typer.Typer) -> typer.Typer:
    """Make ``app`` (a ``typer.Typer``), its commands and its sub-apps render ``--help`` with
    ``render_help``; returns ``app``. Commands that chose a class of their own keep it."""
    if _unset(app.info.cls):
        app.info.cls = HelpGroup
    for info in app.registered_commands:
        if _unset(info.cls):
            info.cls = HelpCommand
    for group in app.registered_groups:
        if _unset(group.cls):
            group.cls = HelpGroup
        if group.typer_instance is not None:
            install(group.typer_instance)
    return app


__all__ = ["HelpCommand", "HelpGroup", "install", "render_help"]

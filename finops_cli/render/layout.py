"""Tables that fit the terminal: whole columns drop, nothing is cut.

What ``costs`` started (leave out the least useful columns, whole, until the table fits), for
every table: a renderer declares its columns with a drop priority and whether the column is
prose that may wrap, hands over its rows, and ``fitted_table`` decides, for the terminal's width:

1. every column at its natural width (its longest cell; its header on one line);
2. still too wide: prose columns (``wrap=True``: a price's source, a reason) wrap down to their
   ``min_width`` (never below their longest word, up to ``MAX_WORD``), then headers wrap;
3. still too wide: the column with the highest ``drop`` leaves the table, whole, and we go back
   to 1. Columns with ``drop=0`` always stay.

Numbers and identifiers (``wrap=False``) are never wrapped or cut: their column is always as
wide as their longest value. Column widths are fixed before rich sees them; should even the
columns that always stay not fit, rich folds (never "…") as a last resort.

The width is the terminal's (``Console().width``), passed by ``cli.common.emit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from finops_cli.render.format import new_table

OVERHEAD_PER_COLUMN = 3
"""What rich adds per column in the house style (``format.new_table``): padding and separator;
a table of n columns is ``sum(widths) + 3n - 1`` characters wide."""


MAX_WORD = 30
"""A prose column is never narrower than its longest word up to this length (a metric name, a
file name stays whole); longer words fold."""


@dataclass(frozen=True)
class Column:
    """One column: its header, alignment, when it drops (0 never; higher drops first), and
    whether it is prose that may wrap (to no narrower than ``min_width``)."""

    header: str
    justify: Literal["left", "right"] = "left"
    drop: int = 0
    wrap: bool = False
    min_width: int = 16


@dataclass(frozen=True)
class Row:
    """A row's cells (text or rich ``Text``), its style, and whether a rule comes before it."""

    cells: Sequence[Any]
    style: str | None = None
    section: bool = False


def cell_width(value: Any) -> int:
    """The widest line of a cell, in terminal columns."""
    from rich.cells import cell_len

    text = value.plain if hasattr(value, "plain") else str(value)
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for word in text.split()), default=0)


def plan(columns: Sequence[Column], rows: Sequence[Row], width: int) -> list[tuple[int, int]]:
    """``(column index, width)`` of the columns kept, in order (see the module's steps)."""
    cells = [max([cell_width(r.cells[i]) for r in rows] + [0]) for i in range(len(columns))]
    header = [cell_width(c.header) for c in columns]
    header_min = [_longest_word(c.header) for c in columns]
    words = [
        max([_longest_word(getattr(r.cells[i], "plain", str(r.cells[i]))) for r in rows] + [0])
        for i in range(len(columns))
    ]
    keep = list(range(len(columns)))
    while True:
        widths = {i: max(cells[i], header[i], 1) for i in keep}
        room = width - sum(widths.values()) - OVERHEAD_PER_COLUMN * len(keep) + 1
        for i in sorted(keep, key=lambda i: widths[i], reverse=True):  # prose wraps first
            if room < 0 and columns[i].wrap:
                floor = max(min(columns[i].min_width, cells[i]), min(words[i], MAX_WORD))
                cut = max(0, min(widths[i] - max(floor, header_min[i], 1), -room))
                widths[i] -= cut
                room += cut
        for i in keep:  # then headers wrap at their spaces, each all the way or not at all
            if room < 0 and not columns[i].wrap:
                floor = max(cells[i], header_min[i], 1)
                room += widths[i] - floor
                widths[i] = floor
        for i in keep:  # what that freed goes back to the prose
            if room > 0 and columns[i].wrap:
                grow = min(room, max(cells[i], header[i]) - widths[i])
                widths[i] += grow
                room -= grow
        droppable = [i for i in keep if columns[i].drop > 0]
        if room >= 0 or not droppable:
            return [(i, widths[i]) for i in keep]
        keep.remove(max(droppable, key=lambda i: (columns[i].drop, i)))


def fitted_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Row],
    width: int,
    caption: str | None = None,
) -> Any:
    """A house-style rich table of the columns that fit ``width`` (see ``plan``), at least as
    wide as its title where the terminal allows, so that the title stays on one line."""
    table = new_table(title, caption, min_width=min(cell_width(title) + 2, width))
    kept = plan(columns, rows, width)
    for i, column_width in kept:
        column = columns[i]
        table.add_column(
            column.header,
            justify=column.justify,
            width=column_width,
            overflow="fold",
            no_wrap=False,
        )
    for row in rows:
        if row.section:
            table.add_section()
        table.add_row(*(row.cells[i] for i, _ in kept), style=row.style)
    return table


def kept_headers(columns: Sequence[Column], rows: Sequence[Row], width: int) -> list[str]:
    """The headers ``fitted_table`` would show at ``width`` (for tests and docs)."""
    return [columns[i].header for i, _ in plan(columns, rows, width)]


def common_domain(names: Sequence[str]) -> str:
    """The DNS suffix every name shares (``.ec2.internal``, ``.us-west-2.compute.internal``),
    or ``""``: a table may leave it out of every name, and say so, to keep names short and whole
    (``ip-10-0-1-10`` and ``ip-10-0-1-11`` stay apart, only the shared tail goes)."""
    parts = [name.split(".") for name in names if name]
    if len(parts) < 1 or any(len(p) < 2 for p in parts):
        return ""
    shared: list[str] = []
    for labels in zip(*(reversed(p[1:]) for p in parts), strict=False):
        if len(set(labels)) != 1:
            break
        shared.insert(0, labels[0])
    if not shared or any(len(p) - 1 < len(shared) for p in parts):
        return ""
    return "." + ".".join(shared)

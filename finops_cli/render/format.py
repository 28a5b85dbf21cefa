"""Formatting every renderer shares: timestamps, numbers, money, and the CSV formula guard.

One module so that a timestamp, a rounded figure or a guarded spreadsheet cell looks the same in
every document kind; renderers import these public names instead of each other's private ones.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from finops_cli.timewindow import TIMESTAMP

SCHEMA_VERSION = "1"
"""The version of every JSON document finops writes (docs/output.md)."""
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iso(moment: datetime) -> str:
    """A UTC moment as documents write it (``2026-11-25T00:00:00Z``)."""
    return moment.strftime(TIMESTAMP)


def day_start(day: date) -> str:
    """The start of a UTC day as documents write it."""
    return f"{day.isoformat()}T00:00:00Z"


def num(value: float | None, digits: int = 6) -> float | None:
    """A figure rounded for a document; None stays None (JSON null)."""
    return None if value is None else round(value, digits)


def tidy(value: float | None, digits: int = 6) -> float | None:
    """``num``, and a rounded ``-0.0`` written ``0.0`` (``+ 0.0`` does it): for figures that are
    differences or projections, where a minus sign on zero would only confuse."""
    return None if value is None else round(value, digits) + 0.0


def money(value: float | None) -> str:
    """An amount for a table: thousands separated, cents; ``-`` when unknown."""
    return "-" if value is None else f"{value:,.2f}"


def figure(value: float | None, fmt: str = ",.2f") -> str:
    """A number for a table in ``fmt``; ``-`` when unknown."""
    return "-" if value is None else format(value, fmt)


def pct(value: float | None) -> str:
    """A 0-1 share for a table, as a whole percentage; ``-`` when unknown."""
    return "-" if value is None else f"{value * 100:.0f}%"


KEY_HEADERS = {"gpu_model": "GPU model", "cost_center": "Cost center", "gpu": "GPU"}


def key_header(key: str) -> str:
    """A grouping key as a table header: ``gpu_model`` is "GPU model", ``team`` "Team"."""
    if key in KEY_HEADERS:
        return KEY_HEADERS[key]
    words = key.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formulas: a team named ``=HYPERLINK(...)`` stays text."""
    if isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
        return "'" + value
    return value


def cell(value: object) -> object:
    """A CSV cell: empty for None, formula-guarded for text."""
    return "" if value is None else safe_cell(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV with one header line; every cell goes through ``cell`` (the formula guard)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()


def json_text(document: dict[str, Any]) -> str:
    """A document as finops prints JSON: indented, UTF-8 kept, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def several_clusters(rows: list[dict[str, Any]]) -> bool:
    """Whether rows come from more than one cluster: the table shows a cluster column then
    (JSON and CSV always carry the field)."""
    return len({row.get("cluster") or "" for row in rows}) > 1


def new_table(title: str, caption: str | None = None, **options: Any) -> Any:
    """A rich table in the house style: plain header rule, no edge padding, caption on the left
    (rich is imported only when a table is asked for)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    return Table(
        title=title,
        # Plain text: a note may quote a setting such as ``[carbon]``, which is not markup.
        caption=Text(caption) if caption is not None else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        **options,
    )


def envelope(
    kind: str,
    source: str,
    generated_at: datetime,
    window: dict[str, str],
    currency: str | None = None,
) -> dict[str, Any]:
    """The fields every command's document starts with, in this order (docs/output.md); the
    currency follows when given (billing documents place their own)."""
    head = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "source": source,
        "generated_at": iso(generated_at),
        "window": window,
    }
    return head if currency is None else head | {"currency": currency}


def window_fields(start: datetime, end: datetime, label: str) -> dict[str, str]:
    """A document's ``window``: [start, end) and the words the user asked for it with."""
    return {"start": iso(start), "end": iso(end), "label": label}


@dataclass(frozen=True)
class Provenance:
    """Where and when a document's data comes from: its source, window, clock and currency,
    and the notes about the data. Renderers of per-window documents take it whole."""

    source: str
    start: datetime
    end: datetime
    window_label: str
    generated_at: datetime
    currency: str
    notes: list[str] = field(default_factory=list)

    def envelope(self, kind: str) -> dict[str, Any]:
        """``envelope`` for ``kind``, with this window, then the currency."""
        window = window_fields(self.start, self.end, self.window_label)
        return envelope(kind, self.source, self.generated_at, window, self.currency)

"""The catalog prices a recorded ledger was made with, and whether they answer for a window.

Without OpenCost the CLI prices each node from the pricing catalog through a constant table
written into every ledger query (``QueryContext.catalog_prices``: one entry per set of the
node's price labels, ``queries.NODE_PRICE_LABELS``, with its $/GPU-hour; see
``QueryContext._catalog_node_price``). Rules made with a table hold the same expressions, so a
recorded hour equals the raw hour exactly when the rules' table prices every node of the window
as the CLI's own table does. ``finops_rules_info`` carries the rules' table (``canonical``:
compact, sorted, stable; ``""`` for OpenCost's prices) and ``covers`` says whether it does.

An entry joins only the nodes whose labels carry its values, so the rules' table may hold more
entries than the window's (label sets the window's nodes do not have select nothing), but every
label set the window has must be priced alike: present in both with the same price, or absent
from both (the CLI leaves a label set the catalog cannot price out, and those GPUs cost 0: a
rules' price for it would not).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from finops_cli.queries.context import CatalogPrices, QueryContext

Table = dict[tuple[str, ...], float]


def canonical(prices: CatalogPrices | None) -> str:
    """The ``prices`` label of ``finops_rules_info``: ``""`` for OpenCost's prices, else the
    table as compact JSON, sorted, each entry its label values then its price."""
    if prices is None:
        return ""
    entries = sorted([*(str(v) for v in entry[:-1]), float(entry[-1])] for entry in prices)
    return json.dumps(entries, separators=(",", ":"))


def parse(text: str) -> Table | None:
    """``canonical``'s text as a table (None for ``""``: OpenCost's prices). Raises
    ``ValueError`` for text that is not one."""
    if not text:
        return None
    try:
        return _table(json.loads(text))
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"unreadable prices label ({exc})") from None


def covers(rules: Table | None, ctx: QueryContext) -> str | None:
    """None when rules made with the ``rules`` table price every node of the window as ``ctx``
    does; else what differs, for the note (``made with ...``)."""
    if ctx.catalog_prices is None:
        return None  # OpenCost's prices: ``allocation`` keeps catalog-priced rules out
    if rules is None:
        return "made without catalog prices"
    wanted = _table(ctx.catalog_prices)
    missing = sorted(key for key in wanted if key not in rules)
    changed = sorted(key for key, price in wanted.items() if key in rules and rules[key] != price)
    priced = sorted(key for key in ctx.catalog_unpriced if key in rules)
    parts = []
    if missing:
        parts.append(f"without a catalog price for {_names(missing)}")
    if changed:
        shown = ", ".join(
            f"{_name(key)} at {rules[key]:g}/GPU-hour (this run: {wanted[key]:g})"
            for key in changed[:3]
        )
        parts.append(f"with other catalog prices: {shown}")
    if priced:
        parts.append(f"with a price for {_names(priced)}, which this run's catalog has none for")
    return "made " + "; ".join(parts) if parts else None


def _table(entries: Iterable[Sequence[str | float]]) -> Table:
    """Entries (label values, then the price) keyed by their label values."""
    return {tuple(str(v) for v in e[:-1]): float(e[-1]) for e in entries}


def _name(key: tuple[str, ...]) -> str:
    """A label set by its non-empty values (instance type, region, capacity...)."""
    return "/".join(v for v in key if v) or "(no price labels)"


def _names(keys: list[tuple[str, ...]]) -> str:
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return ", ".join(_name(k) for k in keys[:3]) + more

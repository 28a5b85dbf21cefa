"""``finops pricing list`` and ``pricing explain`` output: CSV and a plain table of the rows.

Both documents are flat rows with fixed columns, so one CSV and one table writer serve both;
the columns come from the document's kind, so an empty answer still has its header.
"""

from __future__ import annotations

from typing import Any

from finops_cli.render.format import csv_text

LIST_FIELDS = (
    "provider", "instance_type", "region", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpu",
    "on_demand_hourly", "spot_hourly", "per_gpu_on_demand", "effective_per_gpu", "price_source",
    "priced", "as_of", "verified", "source",
)  # fmt: skip
EXPLAIN_FIELDS = (
    "node", "instance_type", "capacity_type", "gpus", "charged_per_gpu", "charged_from",
    "catalog_per_gpu", "catalog_source", "catalog_key", "catalog_key_from", "catalog_gpus",
    "cluster",
)  # fmt: skip
"""Fields are only added, at the end: CSV positions never move."""
FIELDS = {"pricing": LIST_FIELDS, "pricing-explain": EXPLAIN_FIELDS}
TITLES = {
    "pricing": "GPU price catalog ($/hour)",
    "pricing-explain": "Price per GPU-hour used, by node",
}


def render_csv(document: dict[str, Any]) -> str:
    """One line per row, the columns of docs/output.md, text cells formula-guarded."""
    fields = FIELDS[document["kind"]]
    return csv_text(fields, ([row.get(f) for f in fields] for row in document["rows"]))


def _price(value: Any) -> str:
    return "-" if value is None else f"{value:,.4f}"


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


# (field, header, justify, drop, wrap): drop 0 always stays, higher drops first.
_LIST_COLUMNS = (
    ("provider", "Provider", "left", 0, False),
    ("instance_type", "Instance type", "left", 0, False),
    ("region", "Region", "left", 5, False),
    ("gpu_model", "GPU model", "left", 6, False),
    ("gpu_count", "GPUs", "right", 7, False),
    ("gpu_memory_gib", "GPU GiB", "right", 10, False),
    ("vcpu", "vCPU", "right", 11, False),
    ("on_demand_hourly", "On-demand $/h", "right", 8, False),
    ("spot_hourly", "Spot $/h", "right", 9, False),
    ("per_gpu_on_demand", "On-demand $/GPU-h", "right", 12, False),
    ("effective_per_gpu", "$/GPU-h used", "right", 0, False),
    ("price_source", "Price source", "left", 13, True),
    ("as_of", "As of", "left", 14, False),
    ("verified", "Verified", "left", 15, False),
    ("source", "Source", "left", 16, True),
)
_EXPLAIN_COLUMNS = (
    ("node", "Node", "left", 0, False),
    ("instance_type", "Instance type", "left", 4, False),
    ("capacity_type", "Capacity", "left", 3, False),
    ("gpus", "GPUs", "right", 5, False),
    ("charged_per_gpu", "Charged $/GPU-h", "right", 0, False),
    ("catalog_per_gpu", "Catalog $/GPU-h", "right", 2, False),
    ("charged_from", "Charged from", "left", 6, True),
    ("catalog_source", "Catalog source", "left", 7, True),
)
_MONEY = {
    "on_demand_hourly",
    "spot_hourly",
    "per_gpu_on_demand",
    "effective_per_gpu",
    "charged_per_gpu",
    "catalog_per_gpu",
}


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """The rows with the columns that fit ``width``: identifiers and prices whole, the least
    useful columns dropped first, sources wrapped (``layout.fitted_table``). Node names lose the
    DNS suffix they all share, and the caption says which."""
    from finops_cli.render.layout import Column, Row, common_domain, fitted_table

    kind = document["kind"]
    specs = _LIST_COLUMNS if kind == "pricing" else _EXPLAIN_COLUMNS
    rows = document["rows"]
    domain = common_domain([str(r["node"]) for r in rows]) if kind == "pricing-explain" else ""
    columns = [
        Column(header, justify, drop=drop, wrap=wrap, min_width=20)  # type: ignore[arg-type]
        for _, header, justify, drop, wrap in specs
    ]
    body = []
    for row in rows:
        cells = []
        for field, *_ in specs:
            value = row.get(field)
            if field == "node" and domain and str(value).endswith(domain):
                value = str(value)[: -len(domain)]
            cells.append(_price(value) if field in _MONEY else _text(value))
        if kind == "pricing" and not row["priced"]:  # flagged, not a silent dash
            cells[[f for f, *_ in specs].index("effective_per_gpu")] = "unpriced"
        body.append(Row(cells))
    caption = f"node names without their shared {domain}" if domain else None
    return fitted_table(TITLES[kind], columns, body, width, caption)

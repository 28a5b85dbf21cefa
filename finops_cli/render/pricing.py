"""``finops pricing list`` and ``pricing explain`` output: CSV and a plain table of the rows.

Both documents are flat rows with fixed columns, so one CSV and one table writer serve both;
the columns come from the document's kind, so an empty answer still has its header.
"""

from __future__ import annotations

from typing import Any

from finops_cli.render.format import csv_text, new_table

LIST_FIELDS = (
    "provider", "instance_type", "region", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpu",
    "on_demand_hourly", "spot_hourly", "per_gpu_on_demand", "effective_per_gpu", "price_source",
    "as_of", "verified", "source",
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


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """Every column of the CSV, ``-`` for unknown (rich wraps to ``width``)."""
    kind = document["kind"]
    table = new_table(TITLES[kind])
    for field in FIELDS[kind]:
        table.add_column(field.replace("_", " "))
    for row in document["rows"]:
        table.add_row(*("-" if row.get(f) is None else str(row.get(f)) for f in FIELDS[kind]))
    return table

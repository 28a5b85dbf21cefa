"""``finops gpus`` output: JSON rows per GPU (or per group with ``--by``), CSV and a table."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from finops_cli.frames import records
from finops_cli.render.format import (
    Provenance,
    csv_text,
    key_header,
    money,
    new_table,
    pct,
    several_clusters,
)
from finops_cli.render.visual import bar

GPU_FIELDS = (
    "node", "gpu", "uuid", "mig_profile", "mig_instance", "model_name", "instance_type",
    "capacity_type", "region", "state", "team", "project", "model", "namespace", "pod",
    "held_share", "busy_avg",
    "busy_p95", "busy_any_avg", "memory_used_avg_mib", "memory_used_max_mib",
    "memory_total_mib", "memory_used_share", "power_avg_w", "temperature_avg_c",
    "temperature_max_c", "hourly_price", "cost", "waste", "holders", "cluster",
)  # fmt: skip


def _clean(value: Any) -> Any:
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def to_document(
    frame: pd.DataFrame,
    provenance: Provenance,
    *,
    busy_metric: str | None,
    group_by: str | None,
    idle_only: bool,
) -> dict[str, Any]:
    """The JSON document (schema_version 1), documented in docs/output.md."""
    if group_by is None:
        total = frame["memory_total_mib"].astype(float)
        frame = frame.assign(
            memory_used_share=frame["memory_used_max_mib"] / total.where(total > 0)
        )
        frame = frame.assign(uuid=frame["uuid"])
        rows = [{k: _clean(r.get(k)) for k in GPU_FIELDS} for r in records(frame)]
    else:
        rows = [{str(k): _clean(v) for k, v in r.items()} for r in records(frame)]
    return {
        **provenance.envelope("gpus"),
        "busy_metric": busy_metric,
        "group_by": group_by,
        "idle_only": idle_only,
        "rows": rows,
        "totals": {
            "gpus": int(frame["gpus"].sum()) if group_by else len(frame),
            "cost": round(float(frame["cost"].fillna(0.0).sum()), 6),
            "waste": round(float(frame["waste"].fillna(0.0).sum()), 6),
        },
        "notes": provenance.notes,
    }


def render_csv(document: dict[str, Any]) -> str:
    rows = document["rows"]
    columns = list(rows[0]) if rows else list(GPU_FIELDS)
    return csv_text(columns, ([_csv_cell(row.get(c)) for c in columns] for row in rows))


def _csv_cell(value: Any) -> Any:
    """A holders list as ``namespace/pod=share`` pairs (``;``-separated), one CSV cell."""
    if isinstance(value, list):
        return ";".join(f"{h['namespace']}/{h['pod']}={h['share']:.4f}" for h in value)
    return value


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """Per GPU, or per group with ``--by``; wasted GPUs in red (rich wraps to ``width``)."""

    window = document["window"]
    cur = document["currency"]
    title = "Wasted GPUs" if document["idle_only"] else "GPUs"
    table = new_table(
        title=f"{title} ({cur})  ·  {window['start']} → {window['end']}",
        caption=f"source: {document['source']}  ·  busy from {document['busy_metric'] or '-'}",
    )

    clusters = several_clusters(document["rows"])
    if document["group_by"]:
        return _grouped_table(document, clusters, width)
    from finops_cli.render.layout import common_domain

    headers = [*(["Cluster"] if clusters else []), "Node", "GPU", "Model", "Type", "State",
               "Held", "Team/Pod", "Busy", "p95", "Mem", "$/h", "Cost", "Waste"]  # fmt: skip
    styles = {"active": None, "underused": "yellow", "idle-allocated": "red", "unallocated": "red"}
    # Node names lose the DNS suffix they all share (said in the caption): whole and short.
    domain = common_domain([str(r["node"]) for r in document["rows"]])
    if domain:
        table.caption.append(f"\nnode names without their shared {domain}")
    table.caption.append(
        "\nHeld = share of the window a pod held the GPU  ·  Busy = while held  ·  "
        "Waste = cost - cost x busy, sample by sample"
    )
    body = []
    for r in document["rows"]:
        mig = f" {r['mig_profile']}#{r['mig_instance']}" if r["mig_profile"] else ""
        spot = " spot" if r["capacity_type"] == "spot" else ""
        busy = r["busy_avg"]
        node = str(r["node"])
        cells = [
            *([r.get("cluster") or "-"] if clusters else []),
            node[: -len(domain)] if domain and node.endswith(domain) else node, r["gpu"] + mig,
            r["model_name"], f"{r['instance_type']}{spot}", r["state"], pct(r.get("held_share")),
            r["team"] or r["pod"] or "-", f"{bar(busy or 0.0, 4)}{pct(busy):>5}",
            pct(r["busy_p95"]), pct(r["memory_used_share"]), money(r["hourly_price"]),
            money(r["cost"]), money(r["waste"]),
        ]  # fmt: skip
        body.append((cells, styles.get(r["state"])))
    # Columns that do not fit ``width`` are left out, least useful first, rather than cropped:
    # a cut node name or price is worse than a missing column.
    widths = [max([len(h), *(len(str(c[i])) for c, _ in body)]) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    for optional in ("Mem", "p95", "Model", "$/h", "Type", "Team/Pod", "Busy", "Held", "State"):
        if sum(widths[i] + 3 for i in keep) <= width:
            break
        keep.remove(headers.index(optional))
    right = ("GPU", "$/h", "Cost", "Waste", "p95", "Held")
    for i in keep:
        table.add_column(headers[i], justify="right" if headers[i] in right else "left",
                         no_wrap=True)  # fmt: skip
    for cells, style in body:
        table.add_row(*(cells[i] for i in keep), style=style)
    return table


def _grouped_table(document: dict[str, Any], clusters: bool, width: int) -> Any:
    """``--by``: one row per group, the state counts dropped before the money (``layout``)."""
    from finops_cli.render.layout import Column, Row, fitted_table

    key = document["group_by"]
    shown = clusters and "cluster" in (document["rows"] or [{}])[0]
    columns = [
        *([Column("Cluster")] if shown else []),
        Column(key_header(key)),
        Column("GPUs", "right", drop=2),
        Column("Active", "right", drop=6),
        Column("Under", "right", drop=5),
        Column("Idle-alloc", "right", drop=4),
        Column("Unalloc", "right", drop=3),
        Column("Busy", "right", drop=1),
        Column("Cost", "right"),
        Column("Waste", "right"),
    ]
    body = []
    for r in document["rows"]:
        cells = [*([str(r["cluster"])] if shown else []), str(r[key]), str(r["gpus"])]
        cells += [
            str(r[state]) for state in ("active", "underused", "idle-allocated", "unallocated")
        ]
        cells += [pct(r["busy_avg"]), money(r["cost"]), money(r["waste"])]
        body.append(Row(cells))
    window = document["window"]
    title = "Wasted GPUs" if document["idle_only"] else "GPUs"
    return fitted_table(
        f"{title} ({document['currency']})  ·  {window['start']} → {window['end']}",
        columns,
        body,
        width,
        f"source: {document['source']}  ·  busy from {document['busy_metric'] or '-'}",
    )

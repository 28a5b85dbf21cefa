"""``finops rightsize`` output: JSON rows per recommendation, CSV and a table."""

from __future__ import annotations

from typing import Any

from finops_cli.analytics.rightsize_common import Recommendation
from finops_cli.render.format import Provenance, csv_text, new_table, several_clusters

CSV_FIELDS = (
    "action", "workload", "namespace", "team", "pod", "current", "target", "current_monthly",
    "target_monthly", "monthly_savings", "savings_pct", "confidence", "evidence", "risk",
    "cluster",
)  # fmt: skip
"""Columns are only added, at the end: positions never move (docs/output.md)."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _row(r: Recommendation) -> dict[str, Any]:
    w = r.workload
    return {
        "workload": {"kind": w.kind, "name": w.name},
        "cluster": w.cluster,
        "namespace": w.namespace,
        "team": w.team,
        "project": w.project,
        "model": w.model,
        "pod": w.pods[-1] if w.pods else "",
        "pods": list(w.pods),
        "action": r.action,
        "current": r.current,
        "target": r.target,
        "current_monthly": _round(r.current_monthly),
        "target_monthly": _round(r.target_monthly),
        "monthly_savings": _round(r.monthly_savings),
        "savings_pct": _round(r.savings_pct),
        "confidence": r.confidence,
        "evidence": r.evidence,
        "risk": r.risk,
        "gpus_per_pod": w.gpus_per_pod,
        "gpu_hours": _round(w.gpu_hours),
        "busy_avg": _round(w.busy_avg),
        "busy_p95": _round(w.busy_p95),
        "memory_peak_gib": None
        if w.memory_peak_mib != w.memory_peak_mib  # NaN: a node
        else _round(w.memory_peak_mib / 1024),
        "window_cost": _round(w.cost),
        **r.details,
    }


def _savings_without_overlap(recs: list[Recommendation]) -> float:
    """One workload can get several recommendations (downsize and spot): count its best one."""
    best: dict[tuple[str, str, str, str], float] = {}
    for r in recs:
        key = (r.workload.cluster, r.workload.namespace, r.workload.kind, r.workload.name)
        best[key] = max(best.get(key, 0.0), r.monthly_savings)
    return sum(best.values())


def to_document(
    recs: list[Recommendation],
    provenance: Provenance,
) -> dict[str, Any]:
    savings = _savings_without_overlap(recs)
    return {
        **provenance.envelope("rightsize"),
        "rows": [_row(r) for r in recs],
        "totals": {
            "recommendations": len(recs),
            "monthly_savings": round(savings, 4),
            "monthly_extra_cost": round(
                -sum(r.monthly_savings for r in recs if r.monthly_savings < 0), 4
            ),
        },
        "notes": provenance.notes,
    }


def render_csv(document: dict[str, Any]) -> str:
    flat = [
        row | {"workload": f"{row['workload']['kind']}/{row['workload']['name']}"}
        for row in document["rows"]
    ]
    return csv_text(CSV_FIELDS, ([r.get(c) for c in CSV_FIELDS] for r in flat))


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """One line per recommendation; upsizes (a cost) in red (rich wraps to ``width``)."""

    totals = document["totals"]
    table = new_table(
        title=f"Right-sizing ({document['currency']}/month)  ·  "
        f"{document['window']['start']} → {document['window']['end']}",
        caption=f"source: {document['source']}  ·  savings available "
        f"{totals['monthly_savings']:,.2f}/month",
    )
    clusters = several_clusters(document["rows"])
    headers = ["Action", *(["Cluster"] if clusters else []), "Workload", "Team", "Current",
               "Target", "Saving/mo", "Conf.", "Evidence"]  # fmt: skip
    body = []
    for row in document["rows"]:
        saving = row["monthly_savings"]
        cells = [
            row["action"], *([row.get("cluster") or "-"] if clusters else []),
            f"{row['workload']['kind']}/{row['workload']['name']}", row["team"] or "-",
            row["current"], row["target"], f"{saving:,.2f}", row["confidence"], row["evidence"],
        ]  # fmt: skip
        body.append((cells, "red" if saving < 0 else None))
    # Identifiers and amounts are never cut: columns that do not fit ``width`` are left out,
    # least useful first; the evidence (prose) wraps in what is left, at least 24 wide.
    widths = [max([len(h), *(len(str(c[i])) for c, _ in body)]) for i, h in enumerate(headers)]
    widths[-1] = min(widths[-1], 24)
    keep = list(range(len(headers)))
    for optional in ("Evidence", "Conf.", "Team", "Current", "Target"):
        if sum(widths[i] + 3 for i in keep) <= width:
            break
        keep.remove(headers.index(optional))
    for i in keep:
        header = headers[i]
        table.add_column(
            header,
            justify="right" if header == "Saving/mo" else "left",
            no_wrap=header != "Evidence",
            min_width=24 if header == "Evidence" else None,
        )
    for cells, style in body:
        table.add_row(*(cells[i] for i in keep), style=style)
    return table

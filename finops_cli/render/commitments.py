"""``finops billing commitments`` output: the JSON document (the contract), CSV and tables.

One document holds five lists that answer five questions: what each commitment cost and wasted
(``commitments``), the same per GPU instance family (``families``), how the GPU instance-hours
that ran were bought (``coverage``), where a reservation sat idle while on-demand instances of
its type ran (``overlaps``) and what ends soon (``expiring``). Money is rounded here, once, from
the sums of the rows as billed. docs/billing.md lists every field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from finops_cli.analytics.commitments import CommitmentReport, CoverageRow
from finops_cli.render.format import csv_text, day_start, envelope, iso, money, num
from finops_cli.render.layout import Column, Row, fitted_table

__all__ = ["commitments_document", "render_csv", "render_table"]


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def _coverage(row: CoverageRow) -> dict[str, Any]:
    hours = row.hours
    return {
        "instance_type": row.instance_type,
        "hours": num(hours),
        "committed_hours": num(row.committed_hours),
        "on_demand_hours": num(row.on_demand_hours),
        "spot_hours": num(row.spot_hours),
        "coverage": num(row.coverage),
        "on_demand_share": num(row.on_demand_hours / hours) if hours else None,
        "spot_share": num(row.spot_hours / hours) if hours else None,
        "on_demand_cost": num(row.on_demand_cost),
    }


def commitments_document(
    report: CommitmentReport,
    *,
    source: str,
    start: date,
    end: date,
    window_label: str,
    generated_at: datetime,
    horizon_days: float,
    gates: list[str],
    tripped: list[str],
    paid_calls: int = 0,
    cached_calls: int = 0,
) -> dict[str, Any]:
    window = {"start": day_start(start), "end": day_start(end), "label": window_label}
    total = report.total_coverage
    return envelope("billing-commitments", source, generated_at, window, report.currency) | {
        "totals": {
            "committed": num(report.committed),
            "used": num(report.used),
            "unused": num(report.unused),
            "utilisation": num(report.utilisation),
            "coverage": _coverage(total),
            "idle_hours": num(sum(o.hours for o in report.overlaps)),
            "idle_money": num(report.overlap_money),
            "expiring": len(report.expiring),
        },
        "commitments": [
            {
                "id": c.commitment_id,
                "kind": c.kind,
                "type": c.type_name,
                "category": c.category,
                "provider": c.provider,
                "instance_types": list(c.instance_types),
                "zones": list(c.zones),
                "currency": c.currency,
                "committed": num(c.committed),
                "used": num(c.used),
                "unused": num(c.unused),
                "utilisation": num(c.utilisation),
                "used_hours": num(c.used_hours),
                "unused_hours": num(c.unused_hours),
                "purchased": num(c.purchased),
                "end": _when(c.end),
            }
            for c in report.commitments
        ],
        "families": [
            {
                "family": f.family,
                "committed": num(f.committed),
                "used": num(f.used),
                "unused": num(f.unused),
                "utilisation": num(f.utilisation),
                "committed_hours": num(f.committed_hours),
                "on_demand_hours": num(f.on_demand_hours),
                "spot_hours": num(f.spot_hours),
            }
            for f in report.families
        ],
        "coverage": [_coverage(r) for r in report.coverage],
        "overlaps": [
            {
                "reservation_id": o.reservation_id,
                "kind": o.kind,
                "instance_type": o.instance_type,
                "zone": o.zone,
                "hours": num(o.hours),
                "money": num(o.money),
                "periods": o.periods,
                "first": iso(o.first),
                "last": iso(o.last),
            }
            for o in report.overlaps
        ],
        "expiring": {
            "within_days": horizon_days,
            "commitments": [
                {
                    "id": t.commitment_id,
                    "kind": t.kind,
                    "end": _when(t.end),
                    "instance_type": t.instance_type,
                    "zone": t.zone,
                    "count": t.count,
                    "source": t.source,
                }
                for t in report.expiring
            ],
        },
        "fail_on": {"gates": gates, "tripped": tripped} if gates else None,
        "requests": {"paid": paid_calls, "cached": cached_calls},
        "notes": list(report.notes),
    }


CSV_COLUMNS = (
    "record", "id", "kind", "instance_type", "zone", "committed", "used", "unused",
    "utilisation", "committed_hours", "on_demand_hours", "spot_hours", "coverage", "hours",
    "money", "end",
)  # fmt: skip
"""One CSV for every list: ``record`` says which (commitment, family, coverage, overlap,
expiring); cells a record does not have are empty."""


def render_csv(document: dict[str, Any]) -> str:
    rows: list[dict[str, Any]] = []
    for c in document["commitments"]:
        rows.append(
            {
                "record": "commitment", "id": c["id"], "kind": c["kind"],
                "instance_type": " ".join(c["instance_types"]), "zone": " ".join(c["zones"]),
                "committed": c["committed"], "used": c["used"], "unused": c["unused"],
                "utilisation": c["utilisation"], "hours": c["used_hours"] + c["unused_hours"],
                "end": c["end"],
            }
        )  # fmt: skip
    for f in document["families"]:
        rows.append(
            {"record": "family", "id": f["family"]}
            | {k: f[k] for k in ("committed", "used", "unused", "utilisation")}
            | {k: f[k] for k in ("committed_hours", "on_demand_hours", "spot_hours")}
        )
    for r in [*document["coverage"], document["totals"]["coverage"]]:
        rows.append(
            {"record": "coverage", "instance_type": r["instance_type"]}
            | {k: r[k] for k in ("committed_hours", "on_demand_hours", "spot_hours")}
            | {"coverage": r["coverage"], "hours": r["hours"]}
        )
    for o in document["overlaps"]:
        rows.append(
            {
                "record": "overlap", "id": o["reservation_id"], "kind": o["kind"],
                "instance_type": o["instance_type"], "zone": o["zone"], "hours": o["hours"],
                "money": o["money"], "end": o["last"],
            }
        )  # fmt: skip
    for t in document["expiring"]["commitments"]:
        rows.append(
            {
                "record": "expiring", "id": t["id"], "kind": t["kind"],
                "instance_type": t["instance_type"], "zone": t["zone"], "end": t["end"],
            }
        )  # fmt: skip
    return csv_text(
        [*CSV_COLUMNS, "currency", "window_start", "window_end"],
        (
            [row.get(c) for c in CSV_COLUMNS]
            + [document["currency"], document["window"]["start"], document["window"]["end"]]
            for row in rows
        ),
    )


def short_id(commitment_id: str) -> str:
    """An ARN or resource path as its last part (``savingsplan/0f1e...`` -> ``0f1e...``): the
    table's name for it; the JSON and CSV keep the whole id."""
    return commitment_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    from rich.console import Group
    from rich.text import Text

    window, totals = document["window"], document["totals"]
    currency = document["currency"]
    span = f"{window['start'][:10]} → {window['end'][:10]}"
    columns = [
        Column("Commitment"),
        Column("Kind", drop=2),
        Column("Instance types", drop=4, wrap=True, min_width=12),
        Column("Committed", "right", drop=3),
        Column("Used", "right", drop=5),
        Column("Unused", "right"),
        Column("Util.", "right"),
        Column("Ends", drop=6),
    ]
    rows = [
        Row(
            [
                short_id(c["id"]),
                c["kind"],
                " ".join(c["instance_types"]) or "-",
                money(c["committed"]),
                money(c["used"]),
                money(c["unused"]),
                _pct(c["utilisation"]),
                (c["end"] or "-")[:10],
            ],
            style="yellow" if (c["utilisation"] or 1) < 0.8 else None,
        )
        for c in document["commitments"]
    ]
    rows.append(
        Row(
            [
                "Total",
                "",
                "",
                money(totals["committed"]),
                money(totals["used"]),
                money(totals["unused"]),
                _pct(totals["utilisation"]),
                "",
            ],
            style="bold",
            section=True,
        )
    )
    parts: list[Any] = [
        fitted_table(f"Commitments ({currency})  ·  {span}", columns, rows, width),
        Text(""),
    ]
    cover = [
        Column("Instance type"),
        Column("Hours", "right", drop=2),
        Column("Committed h", "right"),
        Column("On-demand h", "right"),
        Column("Spot h", "right", drop=1),
        Column("Coverage", "right"),
    ]
    cover_rows = [
        Row(
            [
                r["instance_type"],
                f"{r['hours']:,.1f}",
                f"{r['committed_hours']:,.1f}",
                f"{r['on_demand_hours']:,.1f}",
                f"{r['spot_hours']:,.1f}",
                _pct(r["coverage"]),
            ],
            style="bold" if r is totals["coverage"] else None,
            section=r is totals["coverage"],
        )
        for r in [*document["coverage"], totals["coverage"]]
    ]
    parts += [fitted_table("GPU instance-hours by how they were bought", cover, cover_rows, width)]
    if document["overlaps"]:
        idle = [
            Column("Reservation"),
            Column("Instance type"),
            Column("Zone", drop=2),
            Column("Idle h", "right"),
            Column("Money lost", "right"),
            Column("First", drop=3),
            Column("Last", drop=4),
        ]
        idle_rows = [
            Row(
                [
                    short_id(o["reservation_id"]),
                    o["instance_type"],
                    o["zone"] or "-",
                    f"{o['hours']:,.1f}",
                    money(o["money"]),
                    o["first"][:16].replace("T", " "),
                    o["last"][:16].replace("T", " "),
                ],
                style="yellow",
            )
            for o in document["overlaps"]
        ]
        title = "Reserved capacity idle while on-demand instances of its type ran"
        parts += [Text(""), fitted_table(title, idle, idle_rows, width)]
    lines = []
    ahead = document["expiring"]
    for t in ahead["commitments"]:
        lines.append(f"expiring: {t['id']} ({t['kind']}) ends {t['end']}")
    if not ahead["commitments"]:
        lines.append(f"no commitment ends in the next {ahead['within_days']:g} days")
    fail_on = document["fail_on"]
    if fail_on and fail_on["tripped"]:
        lines += [f"--fail-on tripped: {t}" for t in fail_on["tripped"]]
    lines += [f"note: {n}" for n in document["notes"]]
    parts.append(Text("\n".join(lines)))
    return Group(*parts)

"""``finops billing plan`` output: the JSON document (the contract), CSV and tables.

``baseline`` is the recommended Savings Plan commitment with its backtests (the recommendation,
then Cost Explorer's when given), ``ledger`` the instance-hours it was read from, and ``job``
the four ways to buy a planned job's hours with the risk of each. docs/billing.md lists the
fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finops_cli.analytics.commitment_plan import Backtest, Baseline, JobPlan
from finops_cli.render.format import csv_text, envelope, iso, money, num, window_fields
from finops_cli.render.layout import Column, Row, fitted_table

__all__ = ["plan_document", "render_csv", "render_table"]


def _backtest(b: Backtest) -> dict[str, Any]:
    return {
        "label": b.label,
        "hourly_commitment": num(b.hourly_commitment),
        "hours": b.hours,
        "cost_without": num(b.cost_without),
        "cost_with": num(b.cost_with),
        "savings": num(b.savings),
        "savings_pct": num(b.savings_pct),
        "unused": num(b.unused),
        "utilisation": num(b.utilisation),
    }


def plan_document(
    baseline: Baseline,
    job: JobPlan | None,
    *,
    ledger_hours: dict[tuple[str, str], float],
    ledger_cost: dict[tuple[str, str], float],
    source: str,
    start: datetime,
    end: datetime,
    window_label: str,
    generated_at: datetime,
    currency: str,
    job_start: datetime | None,
    notes: list[str],
    paid_calls: int = 0,
) -> dict[str, Any]:
    window = window_fields(start, end, window_label)
    recommended = baseline.backtests[0]
    return envelope("billing-plan", source, generated_at, window, currency) | {
        "baseline": {
            "hourly_commitment": num(baseline.hourly_commitment),
            "percentile": baseline.percentile,
            "discount": baseline.discount,
            "spend_percentile": num(baseline.spend_percentile),
            "spend_mean": num(baseline.spend_mean),
            "training_hours": baseline.training_hours,
            "holdout_hours": baseline.holdout_hours,
            "backtests": [_backtest(b) for b in baseline.backtests],
            "beats_no_commitment": recommended.savings > 0,
        },
        "ledger": [
            {
                "instance_type": itype,
                "capacity_type": capacity,
                "hours": num(hours),
                "cost": num(ledger_cost.get((itype, capacity), 0.0)),
            }
            for (itype, capacity), hours in sorted(ledger_hours.items())
        ],
        "job": None
        if job is None
        else {
            "instance_type": job.instance_type,
            "gpus": job.gpus,
            "instances": job.instances,
            "hours": job.hours,
            "start": None if job_start is None else iso(job_start),
            "cheapest": job.cheapest.option if job.cheapest else None,
            "options": [
                {
                    "option": o.option,
                    "hourly": num(o.hourly),
                    "cost": num(o.cost),
                    "commitment": num(o.commitment),
                    "risk": o.risk,
                    "source": o.source,
                }
                for o in job.options
            ],
        },
        "requests": {"paid": paid_calls, "cached": 0},
        "notes": notes,
    }


CSV_COLUMNS = (
    "record", "label", "hourly", "hours", "cost_without", "cost", "savings", "unused",
    "commitment", "risk",
)  # fmt: skip


def render_csv(document: dict[str, Any]) -> str:
    rows = [
        [
            "backtest", b["label"], b["hourly_commitment"], b["hours"], b["cost_without"],
            b["cost_with"], b["savings"], b["unused"], None, None,
        ]
        for b in document["baseline"]["backtests"]
    ]  # fmt: skip
    job = document["job"]
    for o in job["options"] if job else []:
        rows.append(
            ["job", o["option"], o["hourly"], job["hours"], None, o["cost"], None, None,
             o["commitment"], o["risk"]]
        )  # fmt: skip
    return csv_text([*CSV_COLUMNS, "currency"], ([*r, document["currency"]] for r in rows))


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    from rich.console import Group
    from rich.text import Text

    base = document["baseline"]
    window = document["window"]
    title = (
        f"Savings Plan for the steady baseline ({document['currency']})  ·  "
        f"{window['start'][:10]} → {window['end'][:10]}"
    )
    columns = [
        Column("Commitment"),
        Column("$/h", "right"),
        Column("Held-out h", "right", drop=3),
        Column("No plan", "right", drop=2),
        Column("With plan", "right", drop=1),
        Column("Savings", "right"),
        Column("Unused", "right"),
    ]
    rows = [
        Row(
            [
                b["label"],
                money(b["hourly_commitment"]),
                str(b["hours"]),
                money(b["cost_without"]),
                money(b["cost_with"]),
                f"{money(b['savings'])} ({(b['savings_pct'] or 0) * 100:.1f}%)",
                money(b["unused"]),
            ],
            style="bold" if b["label"] == "recommended" else None,
        )
        for b in base["backtests"]
    ]
    parts: list[Any] = [fitted_table(title, columns, rows, width)]
    lines = [
        f"commit {money(base['hourly_commitment'])}/h: the {base['percentile']:g}th percentile of "
        f"hourly on-demand GPU spend ({money(base['spend_percentile'])}/h over "
        f"{base['training_hours']} h) at {base['discount']:.0%} off; backtested on the last "
        f"{base['holdout_hours']} h, unseen when choosing it"
    ]
    job = document["job"]
    if job:
        job_columns = [
            Column("Option"),
            Column("$/h each", "right", drop=2),
            Column("Job cost", "right"),
            Column("Committed", "right", drop=3),
            Column("Risk", wrap=True, min_width=24, drop=1),
        ]
        job_rows = [
            Row(
                [
                    o["option"],
                    money(o["hourly"]),
                    money(o["cost"]),
                    money(o["commitment"]),
                    o["risk"],
                ],
                style="bold" if o["option"] == job["cheapest"] else None,
            )
            for o in job["options"]
        ]
        job_title = (
            f"{job['gpus']} GPUs = {job['instances']} x {job['instance_type']} for "
            f"{job['hours']:g} h"
        )
        parts += [Text(""), fitted_table(job_title, job_columns, job_rows, width)]
        lines += [f"{o['option']}: {o['source']}" for o in job["options"] if o["source"]]
    lines += [f"note: {n}" for n in document["notes"]]
    parts.append(Text("\n".join(lines)))
    return Group(*parts)

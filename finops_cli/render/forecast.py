"""``finops forecast`` output: the JSON document (the contract), CSV and a rich table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finops_cli.analytics.forecast import ForecastReport, ForecastRow
from finops_cli.render.format import csv_text, envelope, iso, tidy, window_fields
from finops_cli.render.visual import bar, sparkline

CSV_COLUMNS = (
    "scope",
    "name",
    "kind",
    "status",
    "method",
    "actual_to_date",
    "expected_to_date",
    "projected",
    "projected_low",
    "projected_high",
    "budget",
    "remaining",
    "burn_rate",
    "days_until_exhausted",
    "exhausted_at",
    "avg_7d",
    "avg_30d",
    "avg_90d",
    "change_7d",
    "change_30d",
    "owner",
)


def _row(row: ForecastRow) -> dict[str, Any]:
    p = row.projection
    b = row.budget
    t = row.trend
    key = {"team": "team", "project": "project"}.get(row.scope)
    names = {key: row.name} if key else {"team": None}
    return {
        **names,
        "scope": row.scope,
        "kind": row.kind,
        "status": row.status,
        "method": p.method,
        "history_days": p.history_days,
        "actual_to_date": tidy(p.actual_to_date),
        "expected_to_date": tidy(row.expected_to_date),
        "projected": tidy(p.projected),
        "projected_low": tidy(p.low),
        "projected_high": tidy(p.high),
        "budget": tidy(b.monthly) if b else None,
        "warning_percent": b.warning_percent if b else None,
        "critical_percent": b.critical_percent if b else None,
        "owner": b.owner if b else None,
        "budget_from": b.origin if b else None,
        "remaining": tidy(row.remaining),
        "burn_rate": tidy(row.burn_rate),
        "days_until_exhausted": tidy(row.days_until_exhausted, 3),
        "exhausted_at": iso(row.exhausted_at) if row.exhausted_at else None,
        "level_change_on": p.change_day.isoformat() if p.change_day else None,
        "trend_per_day": tidy(p.slope_per_day),
        "trend": {
            "avg_7d": tidy(t.avg_7d),
            "avg_30d": tidy(t.avg_30d),
            "avg_90d": tidy(t.avg_90d),
            "change_7d": tidy(t.change_7d),
            "change_30d": tidy(t.change_30d),
        },
        "daily_cost": [tidy(v) for v in row.daily_cost],
    }


def to_document(
    report: ForecastReport, *, currency: str, window_label: str, generated_at: datetime
) -> dict[str, Any]:
    """The JSON document; its fields are documented in docs/forecast.md and versioned."""
    rows = [_row(r) for r in report.rows]
    if report.total is not None:
        total = _row(report.total)
        total["team"] = "__total__"
    else:
        total = None
    month_s = (report.month_end - report.month_start).total_seconds()
    elapsed = (report.as_of - report.month_start).total_seconds()
    window = window_fields(report.history_start, report.as_of, window_label)
    return {
        **envelope("forecast", report.source, generated_at, window, currency),
        "as_of": iso(report.as_of),
        "month": {
            "start": iso(report.month_start),
            "end": iso(report.month_end),
            "days": round(month_s / 86400),
            "elapsed_days": round(elapsed / 86400, 4),
        },
        "measure": "gpu_cost",
        "days": list(report.days),
        "rows": rows,
        "projects": [_row(r) for r in report.projects],
        "total": total,
        "fail_on": None
        if report.fail_on is None
        else {
            "level": report.fail_on,
            "tripped": [
                {"scope": t.scope, "name": t.name, "status": t.status} for t in report.tripped
            ],
        },
        "notes": list(report.notes),
        "unmatched_budgets": [
            {
                "scope": b.scope,
                "name": b.name,
                "budget": tidy(b.monthly),
                "origin": b.origin,
                "status": "no_spend",
            }
            for b in report.unmatched_budgets
        ],
    }


def _all_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    total = [document["total"]] if document["total"] else []
    return [*document["rows"], *document["projects"], *total]


def _name(row: dict[str, Any]) -> str:
    if row["scope"] == "project":
        return str(row["project"])
    return str(row["team"])


def render_csv(document: dict[str, Any]) -> str:
    """One line per team, project with a budget, and the total; trend figures flattened."""
    flat = [{**row, **row["trend"], "name": _name(row)} for row in _all_rows(document)]
    return csv_text(
        [*CSV_COLUMNS, "currency", "as_of", "source"],
        (
            [r.get(c) for c in CSV_COLUMNS]
            + [document["currency"], document["as_of"], document["source"]]
            for r in flat
        ),
    )


_STATUS_STYLE = {
    "on_track": "green",
    "no_spend": "yellow",
    "warning": "yellow",
    "critical": "red",
    "exceeded": "bold red",
    None: "dim",
}


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """Spend to date, projection and budget per row, with a 30-day sparkline; columns drop
    whole, least useful first, to fit ``width`` (``layout.fitted_table``)."""
    from rich.text import Text

    from finops_cli.render.layout import Column, Row, fitted_table

    month = document["month"]["start"][:7]
    title = f"Month-end GPU spend forecast ({document['currency']})  ·  {month}"

    def money(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    columns = [
        Column("Team"),
        Column("Actual", "right", drop=2),
        Column("Projected", "right"),
        Column("90% range", "right", drop=3),
        Column("Budget", "right"),
        Column("Used", drop=4),
        Column("Burn/day", "right", drop=6),
        Column("Exhausted", drop=5),
        Column("Status"),
        Column("Last 30 days", drop=7),
    ]
    rows = _all_rows(document)
    body = []
    for i, row in enumerate(rows):
        span = "-"
        if row["projected_low"] is not None and row["projected_high"] is not None:
            span = f"{money(row['projected_low'])}-{money(row['projected_high'])}"
        used = ""
        if row["budget"]:
            share = row["actual_to_date"] / row["budget"]
            used = f"{bar(min(share, 1.0), 5)}{share * 100:4.0f}%"
        exhausted = "-"
        if row["budget"]:
            days = row["days_until_exhausted"]
            exhausted = "not this month" if days is None else f"in {days:.1f} d"
            if days == 0:
                exhausted = "already"
        status = row["status"] or "no budget"
        cells: list[Any] = [
            _label(row),
            money(row["actual_to_date"]),
            money(row["projected"]),
            span,
            money(row["budget"]),
            Text(used),
            money(row["burn_rate"]),
            exhausted,
            Text(status, style=_STATUS_STYLE.get(row["status"], "")),
            sparkline(row["daily_cost"]),
        ]
        style = "dim" if row["kind"] in ("unallocated", "idle") else None
        if row["scope"] == "total":
            style = "bold"
        section = bool(i) and row["scope"] != rows[i - 1]["scope"]
        body.append(Row(cells, style, section))
    return fitted_table(
        f"{title}, as of {document['as_of']}", columns, body, width, _caption(document)
    )


def _label(row: dict[str, Any]) -> str:
    if row["scope"] == "project":
        return f"project {row['project']}"
    if row["scope"] == "total":
        return "Total (cluster)"
    return str(row["team"])


def _caption(document: dict[str, Any]) -> str:
    methods = sorted({r["method"] for r in _all_rows(document)})
    lines = [
        f"source: {document['source']}  ·  month {document['month']['elapsed_days']:.1f} of "
        f"{document['month']['days']} days  ·  method: {', '.join(methods)}  ·  GPU cost"
    ]
    changes = [
        f"{_label(r)} changed level on {r['level_change_on']}"
        for r in _all_rows(document)
        if r["level_change_on"] and r["kind"] == "allocated"
    ]
    if changes:
        lines.append("; ".join(changes))
    fail_on = document["fail_on"]
    if fail_on and fail_on["tripped"]:
        who = ", ".join(
            f"{t['scope']} {t['name'] or 'total'} ({t['status']})" for t in fail_on["tripped"]
        )
        lines.append(f"--fail-on {fail_on['level']} tripped by: {who}")
    lines += [f"note: {n}" for n in document["notes"]]
    return "\n".join(lines)

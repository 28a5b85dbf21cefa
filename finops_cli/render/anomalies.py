"""``finops anomalies`` output: the JSON document (the contract), CSV and a rich table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finops_cli.analytics.anomalies import SEVERITIES, Anomaly, AnomalyReport
from finops_cli.render.format import csv_text, envelope, iso, tidy, window_fields

CSV_COLUMNS = (
    "team",
    "metric",
    "at",
    "end",
    "buckets",
    "actual",
    "expected",
    "deviation",
    "deviation_pct",
    "score",
    "direction",
    "severity",
    "impact",
    "reason",
)


def _row(a: Anomaly) -> dict[str, Any]:
    return {
        "team": a.team,
        "metric": a.metric,
        "at": iso(a.start),
        "end": iso(a.end),
        "buckets": a.buckets,
        "actual": tidy(a.actual),
        "expected": tidy(a.expected),
        "deviation": tidy(a.deviation),
        "deviation_pct": tidy(a.deviation_pct),
        "score": tidy(a.score, 3),
        "direction": a.direction,
        "severity": a.severity,
        "impact": tidy(a.impact),
        "reason": a.reason,
    }


def to_document(
    report: AnomalyReport,
    *,
    currency: str,
    window_label: str,
    generated_at: datetime,
    filters: dict[str, Any],
    min_impact: float,
) -> dict[str, Any]:
    """The JSON document; its fields are documented in docs/anomalies.md and versioned."""
    rows = [_row(a) for a in report.anomalies]
    window = window_fields(report.since, report.as_of, window_label)
    return {
        **envelope("anomalies", report.source, generated_at, window, currency),
        "as_of": iso(report.as_of),
        "method": report.method,
        "threshold": report.threshold,
        "baseline": {
            "start": iso(report.baseline_start),
            "days": round((report.since - report.baseline_start).total_seconds() / 86400),
        },
        "filters": filters,
        "min_impact": min_impact,
        "series_checked": report.series_checked,
        "rows": rows,
        "summary": {
            "count": len(rows),
            "by_severity": {
                s: sum(1 for a in report.anomalies if a.severity == s) for s in SEVERITIES
            },
            # Per metric: an idle GPU shows as extra hourly cost, extra daily cost and a busy-share
            # drop, so one grand total would count the same dollars three times.
            "impact_by_metric": {
                m: tidy(sum(a.impact for a in report.anomalies if a.metric == m))
                for m in dict.fromkeys(a.metric for a in report.anomalies)
            },
        },
        "fail_on": None
        if report.fail_on is None
        else {"severity": report.fail_on, "tripped": [_row(a) for a in report.tripped]},
        "notes": list(report.notes),
    }


def render_csv(document: dict[str, Any]) -> str:
    return csv_text(
        [*CSV_COLUMNS, "method", "currency", "source"],
        (
            [row[c] for c in CSV_COLUMNS]
            + [document["method"], document["currency"], document["source"]]
            for row in document["rows"]
        ),
    )


_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}
_UNITS = {"hourly_cost": "/h", "daily_cost": "/day", "busy_share": "", "efficiency": ""}


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """One line per anomaly: when, which series, actual vs expected, severity and dollars; the
    reason when there is room. Columns drop whole to fit ``width`` (``layout.fitted_table``)."""
    from rich.text import Text

    from finops_cli.render.layout import Column, Row, fitted_table

    window = document["window"]
    columns = [
        Column("When (UTC)"),
        Column("Team"),
        Column("Metric"),
        Column("Actual", "right", drop=5),
        Column("Expected", "right", drop=6),
        Column("Change", "right", drop=4),
        Column("Severity"),
        Column("Impact", "right"),
        Column("Why", drop=9, wrap=True, min_width=40),
    ]
    body = []
    for row in document["rows"]:
        cost = row["metric"] in ("hourly_cost", "daily_cost")
        n = max(row["buckets"], 1)

        def value(v: float, cost: bool = cost, n: int = n) -> str:
            return f"{v / n:,.2f}" if cost else f"{v * 100:.0f}%"

        pct = row["deviation_pct"]
        change = "-" if pct is None else f"{pct * 100:+.0f}%"
        unit = "h" if row["metric"] in ("hourly_cost", "busy_share") else "d"
        span = f"{row['at'][:16].replace('T', ' ')} +{n}{unit}"
        cells: list[Any] = [
            span,
            row["team"],
            row["metric"],
            value(row["actual"]) + (_UNITS[row["metric"]] if cost else ""),
            value(row["expected"]) + (_UNITS[row["metric"]] if cost else ""),
            change,
            Text(row["severity"], style=_SEVERITY_STYLE.get(row["severity"], "")),
            f"{row['impact']:+,.2f}",
            row["reason"],
        ]
        body.append(Row(cells))
    title = (
        f"GPU cost and efficiency anomalies ({document['currency']})  ·  "
        f"{window['start']} → {window['end']}  ·  method {document['method']}"
    )
    return fitted_table(title, columns, body, width, _caption(document))


def _caption(document: dict[str, Any]) -> str:
    summary = document["summary"]
    counts = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    impacts = summary["impact_by_metric"]
    lines = [
        f"source: {document['source']}  ·  {summary['count']} anomalies ({counts or 'none'}) in "
        f"{document['series_checked']} series  ·  baseline {document['baseline']['days']} days"
    ]
    if impacts:
        cur = document["currency"]
        lines.append("impact: " + ", ".join(f"{m} {v:+,.2f} {cur}" for m, v in impacts.items()))
    fail_on = document["fail_on"]
    if fail_on and fail_on["tripped"]:
        lines.append(
            f"--fail-on-anomaly {fail_on['severity']} tripped by "
            f"{len(fail_on['tripped'])} anomalies"
        )
    lines += [f"note: {n}" for n in document["notes"]]
    return "\n".join(lines)

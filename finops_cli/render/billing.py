"""``finops billing`` output: JSON (the contract), CSV and rich tables, for actual, forecast and
compare. The JSON documents share ``schema_version``, ``kind``, ``source``, ``generated_at``,
``window`` and ``currency`` with every other command (docs/billing.md has their fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from finops_cli.analytics.billing import BillReport, Reconciliation
from finops_cli.render.format import (
    csv_text,
    day_start,
    envelope,
    json_text,
    key_header,
    new_table,
    num,
)
from finops_cli.render.visual import bar, sparkline
from finops_cli.sources.billing import Forecast

__all__ = [
    "actual_document",
    "compare_document",
    "forecast_document",
    "render_actual_csv",
    "render_actual_table",
    "render_compare_csv",
    "render_compare_table",
    "render_forecast_csv",
    "render_forecast_table",
    "render_json",
]


render_json = json_text


def _header(
    kind: str, source: str, generated_at: datetime, start: date, end: date, label: str
) -> dict[str, Any]:
    window = {"start": day_start(start), "end": day_start(end), "label": label}
    return envelope(kind, source, generated_at, window)


# ---- actual ---------------------------------------------------------------------------------
def actual_document(
    report: BillReport,
    *,
    window_label: str,
    generated_at: datetime,
    filters: dict[str, Any],
) -> dict[str, Any]:
    rows = [
        {
            **r.keys,
            "cost": num(r.cost),
            "currency": r.currency,
            "estimated": r.estimated,
            "share": num(r.share),
            "periods": [
                {
                    "start": p.start,
                    "end": p.end,
                    "cost": num(p.cost),
                    "estimated": p.estimated,
                }
                for p in r.periods
            ],
        }
        for r in report.rows
    ]
    total = report.totals.get(report.currency, 0.0)
    return _header(
        "billing-actual", report.source, generated_at, report.start, report.end, window_label
    ) | {
        "currency": report.currency,
        "metric": report.metric,
        "granularity": report.granularity,
        "group_by": list(report.group_by),
        "filters": filters,
        "estimated": report.estimated,
        "periods": [{"start": s, "end": e} for s, e in report.periods],
        "rows": rows,
        "totals": {
            "cost": num(total),
            "by_currency": {c: num(v) for c, v in sorted(report.totals.items())},
        },
        "requests": {"paid": report.paid_calls, "cached": report.cached_calls},
        "notes": list(report.notes),
    }


ACTUAL_CSV_COLUMNS = (
    "cost", "currency", "estimated", "share", "window_start", "window_end", "metric", "source",
)  # fmt: skip


def render_actual_csv(document: dict[str, Any]) -> str:
    keys = document["group_by"]
    window = document["window"]
    return csv_text(
        [*keys, *ACTUAL_CSV_COLUMNS],
        (
            [row[k] for k in keys]
            + [row["cost"], row["currency"], str(row["estimated"]).lower(), row["share"]]
            + [window["start"], window["end"], document["metric"], document["source"]]
            for row in document["rows"]
        ),
    )


def _money(value: float | None, currency: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}"


def render_actual_table(document: dict[str, Any], width: int = 120) -> Any:
    from rich.text import Text

    window = document["window"]
    keys = document["group_by"]
    title = (
        f"{document['metric']} by {' / '.join(keys) or 'total'} ({document['currency']})  ·  "
        f"{window['start'][:10]} → {window['end'][:10]}"
    )
    caption = [
        f"source: {document['source']}  ·  {_filters_text(document['filters'])}  ·  "
        "end date exclusive"
    ]
    if document["estimated"]:
        caption.append("* estimated: the provider has not finalised these figures yet")
    caption += [f"note: {n}" for n in document["notes"]]
    from finops_cli.render.layout import Column, Row, fitted_table

    multi_currency = len(document["totals"]["by_currency"]) > 1
    columns = [Column(key_header(key)) for key in keys]
    columns.append(Column("Cost", "right"))
    if multi_currency:
        columns.append(Column("Cur."))
    columns += [
        Column("Share", "right", drop=2),
        Column("", drop=4),  # the share as a bar
        Column(document["granularity"].title(), drop=3),
    ]
    body = []
    for row in document["rows"]:
        cells: list[Any] = [str(row[k]) for k in keys]
        cells.append(_money(row["cost"]) + ("*" if row["estimated"] else " "))
        if multi_currency:
            cells.append(row["currency"])
        cells += [f"{row['share'] * 100:.1f}%", Text(bar(row["share"], 5))]
        cells.append(sparkline([p["cost"] for p in row["periods"]]))
        untagged = any(str(row[k]).startswith("__") for k in keys)
        body.append(Row(cells, "dim" if untagged else None))
    totals: list[Any] = ["Total", *([""] * (len(keys) - 1))] if keys else []
    totals.append(_money(document["totals"]["cost"]) + " ")
    if multi_currency:
        totals.append(document["currency"])
    totals += ["", "", ""]
    body.append(Row(totals, "bold", section=True))
    return fitted_table(title, columns, body, width, "\n".join(caption))


def _filters_text(filters: dict[str, Any]) -> str:
    parts = []
    services = filters.get("services")
    parts.append(
        "services: " + (", ".join(services) if services else "all")
        if services is not None
        else "services: compute (default)"
    )
    if filters.get("instance_families"):
        parts.append("families: " + ",".join(filters["instance_families"]))
    for key, values in filters.get("tags", {}).items():
        parts.append(f"tag {key} in {', '.join(v or '(untagged)' for v in values)}")
    return "  ·  ".join(parts)


# ---- forecast -------------------------------------------------------------------------------
def forecast_document(
    forecast: Forecast,
    *,
    source: str,
    generated_at: datetime,
    filters: dict[str, Any],
    paid_calls: int,
    cached_calls: int,
) -> dict[str, Any]:
    f = forecast

    def plus(value: float | None) -> float | None:
        return None if value is None else num(f.month_to_date + value)

    return _header("billing-forecast", source, generated_at, f.month_start, f.end, "month") | {
        "currency": f.currency,
        "metric": f.metric,
        "filters": filters,
        "month": f"{f.month_start:%Y-%m}",
        "month_to_date": {
            "start": f.month_start.isoformat(),
            "end": f.start.isoformat(),
            "cost": num(f.month_to_date),
            "estimated": f.month_to_date_estimated,
        },
        "forecast": {
            "start": f.start.isoformat(),
            "end": f.end.isoformat(),
            "mean": num(f.mean),
            "lower": num(f.lower),
            "upper": num(f.upper),
            "prediction_interval": f.prediction_interval,
        },
        "month_end": {"mean": plus(f.mean), "lower": plus(f.lower), "upper": plus(f.upper)},
        "periods": [
            {"start": s, "end": e, "mean": num(m), "lower": num(lo), "upper": num(hi)}
            for s, e, m, lo, hi in f.periods
        ],
        "requests": {"paid": paid_calls, "cached": cached_calls},
        "notes": [],
    }


def render_forecast_csv(document: dict[str, Any]) -> str:
    mtd = document["month_to_date"]
    cur, metric = document["currency"], document["metric"]
    actual = [mtd["start"], mtd["end"], "actual", mtd["cost"], "", "", cur, metric]
    return csv_text(
        ["start", "end", "kind", "cost", "lower", "upper", "currency", "metric"],
        [
            actual,
            *(
                [p["start"], p["end"], "forecast", p["mean"], p["lower"], p["upper"], cur, metric]
                for p in document["periods"]
            ),
        ],
    )


def render_forecast_table(document: dict[str, Any], width: int = 120) -> Any:

    level = document["forecast"]["prediction_interval"]
    table = new_table(
        title=f"{document['metric']} forecast for {document['month']} ({document['currency']})",
        caption=f"source: {document['source']}  ·  {_filters_text(document['filters'])}",
    )
    for header in ("", "From", "To", "Cost", f"{level}% low", f"{level}% high"):
        table.add_column(header, justify="right" if header not in ("", "From", "To") else "left")
    mtd = document["month_to_date"]
    table.add_row(
        "month to date" + (" *" if mtd["estimated"] else ""),
        mtd["start"],
        mtd["end"],
        _money(mtd["cost"]),
        "",
        "",
    )
    fc = document["forecast"]
    table.add_row(
        "forecast",
        fc["start"],
        fc["end"],
        _money(fc["mean"]),
        _money(fc["lower"]),
        _money(fc["upper"]),
    )
    table.add_section()
    me = document["month_end"]
    table.add_row(
        "month end",
        "",
        "",
        _money(me["mean"]),
        _money(me["lower"]),
        _money(me["upper"]),
        style="bold",
    )
    return table


# ---- compare --------------------------------------------------------------------------------
def compare_document(
    result: Reconciliation,
    *,
    cost_source: str,
    bill_source: str,
    metric: str,
    currency: str,
    start: date,
    end: date,
    window_label: str,
    generated_at: datetime,
    paid_calls: int,
    cached_calls: int,
    notes: list[str],
) -> dict[str, Any]:
    rows = [
        {
            "group": r.group,
            "nodes": r.nodes,
            "spot_nodes": r.spot_nodes,
            "unpriced_nodes": r.unpriced_nodes,
            "estimated_cost": num(r.estimated_cost),
            "estimated_gpu_cost": num(r.estimated_gpu_cost),
            "billed_cost": num(r.billed_cost),
            "difference": num(r.difference),
            "difference_pct": num(r.difference_pct),
            "flagged": r.flagged,
            "causes": list(r.causes),
            "billed_by_purchase": {k: num(v) for k, v in r.billed_by_purchase.items()},
            "outside_resources": list(r.outside_resources),
            "missing_nodes": list(r.missing_nodes),
        }
        for r in result.rows
    ]
    pct = result.difference / result.estimated_cost if result.estimated_cost > 0 else None
    return _header("billing-compare", cost_source, generated_at, start, end, window_label) | {
        "bill_source": bill_source,
        "currency": currency,
        "metric": metric,
        "group_by": ["instance_type"],
        "threshold": result.threshold,
        "rows": rows,
        "totals": {
            "estimated_cost": num(result.estimated_cost),
            "billed_cost": num(result.billed_cost),
            "difference": num(result.difference),
            "difference_pct": num(pct),
            "explained_share": num(result.explained_share),
            "excluded_billed_cost": num(result.excluded_billed_cost),
        },
        "flagged": sum(1 for r in result.rows if r.flagged),
        "requests": {"paid": paid_calls, "cached": cached_calls},
        "notes": [*notes, *result.notes],
    }


COMPARE_CSV_COLUMNS = (
    "group", "nodes", "estimated_cost", "billed_cost", "difference", "difference_pct", "flagged",
    "causes",
)  # fmt: skip


def render_compare_csv(document: dict[str, Any]) -> str:
    window = document["window"]
    return csv_text(
        [*COMPARE_CSV_COLUMNS, "currency", "window_start", "window_end"],
        (
            [_compare_cell(c, row[c]) for c in COMPARE_CSV_COLUMNS]
            + [document["currency"], window["start"], window["end"]]
            for row in document["rows"]
        ),
    )


def _compare_cell(column: str, value: Any) -> Any:
    if column == "causes":
        return "; ".join(value)
    if column == "flagged":
        return str(value).lower()
    return value


def render_compare_table(document: dict[str, Any], width: int = 120) -> Any:

    window = document["window"]
    t = document["totals"]
    share = t["explained_share"]
    caption = [
        f"estimate: {document['source']} (whole instances at the cluster's prices)  ·  bill: "
        f"{document['bill_source']} {document['metric']}  ·  flag over "
        f"{document['threshold'] * 100:g}%",
        "the cluster model explains "
        + ("-" if share is None else f"{share * 100:.1f}%")
        + " of the billed GPU instance spend",
    ]
    for row in document["rows"]:
        for cause in row["causes"]:
            caption.append(f"⚠ {row['group']}: {cause}")
    caption += [f"note: {n}" for n in document["notes"]]
    title = (
        f"Cluster estimate vs bill by instance type ({document['currency']})  ·  "
        f"{window['start'][:10]} → {window['end'][:10]}"
    )
    table = new_table(
        title=title,
        min_width=len(title) + 2,
        caption="\n".join(caption),
    )
    for header in ("Instance type", "Nodes", "Estimate", "Bill", "Difference", "%", ""):
        table.add_column(header, justify="left" if header in ("Instance type", "") else "right")
    for row in document["rows"]:
        pct = row["difference_pct"]
        table.add_row(
            row["group"],
            str(row["nodes"]),
            _money(row["estimated_cost"]),
            _money(row["billed_cost"]),
            "-" if row["difference"] is None else f"{row['difference']:+,.2f}",
            "-" if pct is None else f"{pct * 100:+.1f}%",
            "⚠" if row["flagged"] else "",
            style="yellow" if row["flagged"] else None,
        )
    table.add_section()
    pct = t["difference_pct"]
    table.add_row(
        "Total",
        "",
        _money(t["estimated_cost"]),
        _money(t["billed_cost"]),
        f"{t['difference']:+,.2f}",
        "-" if pct is None else f"{pct * 100:+.1f}%",
        "",
        style="bold",
    )
    return table

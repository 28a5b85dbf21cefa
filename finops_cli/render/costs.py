"""``finops costs`` output: JSON (the stable contract), CSV and a rich table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finops_cli.analytics.compare import ComparedRow
from finops_cli.analytics.costs import CostReport, CostRow
from finops_cli.render.format import (
    csv_text,
    envelope,
    figure,
    json_text,
    key_header,
    money,
    new_table,
    num,
    pct,
    window_fields,
)
from finops_cli.render.visual import bar, sparkline

UNIT_COLUMNS = (
    "requests",
    "prompt_tokens",
    "generated_tokens",
    "tokens",
    "cost_per_1k_requests",
    "cost_per_1m_tokens",
    "cost_per_1m_generated_tokens",
    "unit_cost_status",
    "token_split",
    "cost_per_1m_input_tokens",
    "cost_per_1m_output_tokens",
    "prefix_cache_hit_rate",
)
ENERGY_COLUMNS = ("energy_kwh", "kg_co2e")
CSV_COLUMNS = (
    "kind",
    "gpu_hours",
    "gpu_cost",
    "cpu_ram_cost",
    "total_cost",
    "efficiency",
    "waste",
    "share",
)


def _row_dict(row: CostRow) -> dict[str, Any]:
    unit = {}
    if row.unit is not None:
        u = row.unit
        unit = {
            "requests": num(u.requests, 3),
            "prompt_tokens": num(u.prompt_tokens, 3),
            "generated_tokens": num(u.generated_tokens, 3),
            "tokens": num(u.tokens, 3),
            "cost_per_1k_requests": num(u.cost_per_1k_requests),
            "cost_per_1m_tokens": num(u.cost_per_1m_tokens),
            "cost_per_1m_generated_tokens": num(u.cost_per_1m_generated_tokens),
            "unit_cost_status": u.status,
            "token_split": u.token_split,
            "input_cost": num(u.input_cost),
            "output_cost": num(u.output_cost),
            "cost_per_1m_input_tokens": num(u.cost_per_1m_input_tokens),
            "cost_per_1m_output_tokens": num(u.cost_per_1m_output_tokens),
            "prefix_cache_hit_rate": num(u.prefix_cache_hit_rate),
        }
        if row.energy is not None:
            unit["kwh_per_1m_tokens"] = num(u.kwh_per_1m_tokens)
            unit["kg_co2e_per_1m_tokens"] = num(u.kg_co2e_per_1m_tokens)
    energy = {}
    if row.energy is not None:
        energy = {"energy_kwh": num(row.energy.kwh), "kg_co2e": num(row.energy.kg_co2e)}
    return {
        **row.keys,
        "kind": row.kind,
        "gpu_hours": num(row.gpu_hours),
        "gpu_cost": num(row.gpu_cost),
        "cpu_ram_cost": num(row.cpu_ram_cost),
        "total_cost": num(row.total_cost),
        "efficiency": num(row.efficiency),
        "waste": num(row.waste),
        "share": num(row.share),
        "daily_gpu_cost": [num(v) for v in row.daily_cost],
        **energy,
        **unit,
    }


def _comparison(
    source: str, rows: tuple[ComparedRow, ...], group_by: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "source": source,
        "rows": [
            {
                **r.keys,
                "gpu_cost": num(r.gpu_cost),
                f"{source}_gpu_cost": num(r.other_gpu_cost),
                "difference": num(r.difference),
                "difference_pct": num(r.difference_pct),
            }
            for r in rows
        ],
    }


def to_document(
    report: CostReport,
    *,
    currency: str,
    window_label: str,
    generated_at: datetime,
    comparison: tuple[str, tuple[ComparedRow, ...]] | None = None,
) -> dict[str, Any]:
    """The JSON document; its shape is documented in docs/output.md and versioned."""
    t = report.totals
    extra = {}
    if comparison is not None:
        extra["comparison"] = _comparison(comparison[0], comparison[1], report.group_by)
    window = window_fields(report.start, report.end, window_label)
    return {
        **envelope("costs", report.source, generated_at, window, currency),
        "group_by": list(report.group_by),
        "filters": report.filters,
        "efficiency_metric": report.busy_metric,
        "sample_interval_seconds": report.sample_interval_s,
        "days": list(report.days),
        "rows": [_row_dict(r) for r in report.rows],
        "totals": {
            "gpu_hours": num(t.gpu_hours),
            "gpu_cost": num(t.gpu_cost),
            "cpu_ram_cost": num(t.cpu_ram_cost),
            "total_cost": num(t.total_cost),
            "allocated_gpu_cost": num(t.allocated_gpu_cost),
            "unallocated_gpu_cost": num(t.unallocated_gpu_cost),
            "idle_gpu_cost": num(t.idle_gpu_cost),
            "idle_gpu_hours": num(t.idle_gpu_hours),
            "efficiency": num(t.efficiency),
            "waste": num(t.waste),
            "cluster_gpu_cost": num(t.cluster_gpu_cost),
            "includes": list(t.includes),
        },
        "notes": list(report.notes),
        **_energy(report),
        **extra,
    }


def _energy(report: CostReport) -> dict[str, Any]:
    """The ``energy`` block (with --energy): method, totals and each region's factors."""
    e = report.energy
    if e is None:
        return {}
    return {"energy": e.as_json()}


render_json = json_text


def render_csv(document: dict[str, Any]) -> str:
    """One row per group with stable columns: the group keys, ``CSV_COLUMNS``, currency, window
    and source, then the unit-cost columns when asked for (appended, so positions never move)."""
    keys = document["group_by"]
    units: tuple[str, ...] = (
        UNIT_COLUMNS if any("unit_cost_status" in r for r in document["rows"]) else ()
    )
    units += ENERGY_COLUMNS if "energy" in document else ()
    trailer = ("currency", "window_start", "window_end", "source")
    window = document["window"]
    return csv_text(
        [*keys, *CSV_COLUMNS, *trailer, *units],
        (
            [row[k] for k in keys]
            + [row.get(c) for c in CSV_COLUMNS]
            + [document["currency"], window["start"], window["end"], document["source"]]
            + [row.get(c) for c in units]
            for row in document["rows"]
        ),
    )


def render_table(document: dict[str, Any], width: int = 120) -> Any:
    """A rich renderable: costs per group with share bars and a daily sparkline.

    Columns that do not fit ``width`` are left out, least useful first, rather than cropped.
    """
    from rich.text import Text

    if any("unit_cost_status" in r for r in document["rows"]):
        return render_unit_table(document, width)
    cur = document["currency"]
    window = document["window"]
    has_cpu_ram = document["totals"]["cpu_ram_cost"] is not None
    energy = "energy" in document
    table = new_table(
        title=f"GPU cost by {' / '.join(key_header(k) for k in document['group_by'])} ({cur})  ·  "
        f"{window['start']} → {window['end']}",
        caption=_caption(document),
    )

    body: list[tuple[list[Any], str | None]] = []
    for row in document["rows"]:
        cells: list[Any] = _key_cells(row, document["group_by"])
        cells += [f"{row['gpu_hours']:,.1f}", money(row["gpu_cost"])]
        if has_cpu_ram:
            cells.append(money(row["cpu_ram_cost"]))
        cells += [
            money(row["total_cost"]),
            Text(f"{bar(row['share'], 5)}{row['share'] * 100:5.1f}%"),
            pct(row["efficiency"]),
            money(row["waste"]),
            sparkline(row["daily_gpu_cost"]),
            *_energy_cells(row, energy),
        ]
        body.append((cells, None if row["kind"] == "allocated" else "dim"))
    t = document["totals"]
    total_cells: list[Any] = ["Total", *([""] * (len(document["group_by"]) - 1))]
    total_cells += [f"{t['gpu_hours']:,.1f}", money(t["gpu_cost"])]
    if has_cpu_ram:
        total_cells.append(money(t["cpu_ram_cost"]))
    total_cells += [money(t["total_cost"]), "", pct(t["efficiency"]), money(t["waste"]), ""]
    total_cells += _energy_cells(document.get("energy") or {}, energy)
    headers = [key_header(k) for k in document["group_by"]]
    headers += ["GPU-h", "GPU cost", *(["CPU+RAM"] if has_cpu_ram else []), "Total", "Share"]
    headers += ["Eff.", "Waste", "Daily", *(["kWh", "kgCO2e"] if energy else [])]
    rows = [*(cells for cells, _ in body), total_cells]
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    for optional in ("Daily", "CPU+RAM", "Share", "Waste"):
        if sum(widths[i] + 3 for i in keep) <= width:
            break
        if optional in headers:
            keep.remove(headers.index(optional))
    for i in keep:
        numeric = headers[i] not in ("Share", "Daily") and i >= len(document["group_by"])
        table.add_column(headers[i], justify="right" if numeric else "left", min_width=widths[i])
    for cells, style in body:
        table.add_row(*(cells[i] for i in keep), style=style)
    table.add_section()
    table.add_row(*(total_cells[i] for i in keep), style="bold")
    return table


_MARKERS = {"idle": "__idle__", "unallocated": "__unallocated__"}


def _key_cells(row: dict[str, Any], keys: list[str]) -> list[str]:
    """The key columns of a row. A cluster's own ``__idle__`` or ``__unallocated__`` row (rows
    split by cluster) names its cluster in the cluster column; with ``--by cluster`` alone no
    other column says what the row is, so the marker follows the cluster's name."""
    cells = [str(row[k]) for k in keys]
    marker = _MARKERS.get(row["kind"])
    if marker is not None and marker not in cells:
        cells[0] = f"{cells[0]} {marker}"
    return cells


def _energy_cells(row: dict[str, Any], shown: bool) -> list[str]:
    if not shown:
        return []
    return [figure(row.get("energy_kwh"), ",.1f"), figure(row.get("kg_co2e"), ",.1f")]


def _caption(document: dict[str, Any]) -> str:
    metric = document["efficiency_metric"] or "no DCGM data"
    lines = [
        f"source: {document['source']}  ·  efficiency from {metric}  ·  "
        f"idle {document['totals']['idle_gpu_hours']:,.0f} GPU-h",
        # Eff. is a share of GPU-hours, Waste is money: say so, they are not one number twice.
        "Eff. = busy / observed GPU-h  ·  Waste = cost x (1 - busy), per GPU",
    ]
    lines += [f"note: {n}" for n in document["notes"]]
    return "\n".join(lines)


def render_unit_table(document: dict[str, Any], width: int = 120) -> Any:
    """Unit economics per model: what a thousand requests and a million tokens cost; columns
    drop whole to fit ``width`` (``layout.fitted_table``)."""
    from rich.text import Text

    from finops_cli.render.layout import Column, Row, fitted_table

    window = document["window"]
    columns = [
        Column("Model"),
        Column("GPU cost", "right"),
        Column("Requests", "right", drop=3),
        Column("Tokens", "right", drop=4),
        Column("/1k req", "right"),
        Column("/1M tok", "right", drop=2),
        # Input and output prices (prefill and decode time) before the blended per-generated.
        Column("/1M gen", "right", drop=8),
        Column("/1M in", "right", drop=7),
        Column("/1M out", "right", drop=5),
        Column("Busy", "right", drop=6),
        Column("Status"),
    ]
    if "energy" in document:
        columns.insert(-2, Column("kWh/1M", "right", drop=9))
    body = []
    for row in document["rows"]:
        if "unit_cost_status" not in row:
            continue
        status = row["unit_cost_status"]
        busy = row["efficiency"]
        body.append(
            Row(
                [
                    row["model"],
                    figure(row["gpu_cost"], ",.2f"),
                    figure(row["requests"], ",.0f"),
                    figure(row["tokens"], ",.0f"),
                    figure(row["cost_per_1k_requests"], ",.4f"),
                    figure(row["cost_per_1m_tokens"], ",.4f"),
                    figure(row["cost_per_1m_generated_tokens"], ",.4f"),
                    figure(row["cost_per_1m_input_tokens"], ",.4f"),
                    figure(row["cost_per_1m_output_tokens"], ",.4f"),
                    *(
                        [figure(row.get("kwh_per_1m_tokens"), ",.3f")]
                        if "energy" in document
                        else []
                    ),
                    "-" if busy is None else f"{busy * 100:.0f}%",
                    Text(status, style="" if status == "ok" else "yellow"),
                ]
            )
        )
    title = f"Unit costs by model ({document['currency']})  ·  {window['start']} → {window['end']}"
    return fitted_table(title, columns, body, width, _caption(document))


def render_comparison_table(document: dict[str, Any]) -> Any:
    """The ``--compare`` rows: both sources' GPU cost and the gap."""

    comparison = document["comparison"]
    other = comparison["source"]
    table = new_table(
        title=f"GPU cost: {document['source']} vs {other} ({document['currency']})",
    )
    for key in document["group_by"]:
        table.add_column(key_header(key))
    for header in (document["source"], other, "Difference", "%"):
        table.add_column(header, justify="right")

    for row in comparison["rows"]:
        share = row["difference_pct"]
        table.add_row(
            *(str(row[k]) for k in document["group_by"]),
            figure(row["gpu_cost"]),
            figure(row[f"{other}_gpu_cost"]),
            figure(row["difference"], "+,.2f"),
            "-" if share is None else f"{share * 100:+.1f}%",
        )
    return table


def render_tables(document: dict[str, Any], width: int = 120) -> Any:
    """What ``-o table`` shows: the cost (or unit-cost) table, then the ``--compare`` table."""
    from rich.console import Group

    parts = [render_table(document, width)]
    if "comparison" in document:
        parts.append(render_comparison_table(document))
    return Group(*parts)

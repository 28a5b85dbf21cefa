"""``finops report chargeback`` output: JSON (the data), CSV, HTML; atomic file writes.

The CSV and HTML (and the PDF, ``chargeback_pdf``) are renderings of exactly the JSON document.
jinja2 is imported only when HTML is asked for.
"""

from __future__ import annotations

from typing import Any

from finops_cli.render.format import csv_text, json_text

CSV_COLUMNS = (
    "kind",
    "gpu_hours",
    "avg_gpus",
    "gpu_cost",
    "cpu_ram_cost",
    "shared_idle_cost",
    "total_cost",
    "efficiency",
    "waste",
    "budget",
    "budget_variance",
    "budget_used",
    "previous_total_cost",
    "change",
    "change_pct",
    "savings_available",
)
"""After the group column (team, project or cost_center); then ``CSV_TRAILER``. New columns are
only ever appended."""
CSV_TRAILER = (
    "currency",
    "period_start",
    "period_end",
    "share_idle",
    "source",
    "comparison_basis",
    "previous_start",
    "previous_end",
)
"""The same on every row: the period, its idle policy and source, and what ``change`` compares
with (``comparison``: its basis and the previous span)."""


CSV_ENERGY = ("energy_kwh", "kg_co2e")
"""Appended after ``CSV_TRAILER`` when the report has energy (``--energy``)."""
CSV_COMMITMENTS = ("commitment_discount", "net_cost")
"""Appended last when the report was given the bill (``--focus``, ``--commitments``)."""


render_json = json_text


def render_csv(document: dict[str, Any]) -> str:
    """One row per group, stable columns (see ``CSV_COLUMNS``), formula-guarded text cells."""
    key = document["group_by"]
    period = document["period"]
    comparison = document["comparison"]
    trailer = [
        document["currency"],
        period["start"],
        period["end"],
        document["share_idle"],
        document["source"],
        comparison["basis"],
        comparison["previous_start"],
        comparison["previous_end"],
    ]
    sections = document["sections"]
    extra = (*(CSV_ENERGY if sections.get("energy") else ()),) + (
        CSV_COMMITMENTS if sections.get("commitments") else ()
    )
    return csv_text(
        [key, *CSV_COLUMNS, *CSV_TRAILER, *extra],
        (
            [row[key], *(row.get(c) for c in CSV_COLUMNS), *trailer, *(row.get(c) for c in extra)]
            for row in document["rows"]
        ),
    )


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def pct(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%" if sign else f"{value * 100:.1f}%"


def hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def kwh(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def kg(value: float | None) -> str:
    """kgCO2e; unknown (a region without a grid factor) is "-"."""
    return "-" if value is None else f"{value:,.1f}"


def per_million(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


TITLES = {"team": "Team", "project": "Project", "cost_center": "Cost center", "cluster": "Cluster"}


def group_title(document: dict[str, Any]) -> str:
    return TITLES[document["group_by"]]


MARKERS = {"unallocated": "__unallocated__", "idle": "__idle__"}


def row_label(document: dict[str, Any], row: dict[str, Any]) -> str:
    """A row's name as the HTML and PDF show it: by cluster, a cluster's idle and unallocated
    rows carry the cluster's name (as in ``finops costs --by cluster``) and show
    ``<cluster> · __idle__``."""
    name = str(row[document["group_by"]])
    marker = MARKERS.get(row.get("kind", ""))
    if document["group_by"] == "cluster" and marker and name != marker:
        return f"{name} · {marker}"
    return name


def idle_policy(document: dict[str, Any]) -> str:
    if document["share_idle"] == "proportional":
        return (
            "Idle and unallocated cost is shared over the groups in proportion to their GPU cost."
        )
    return "Idle and unallocated GPU cost is shown separately, not charged to any group."


def ranked_recommendations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every row's recommendations as ``(group, recommendation)``, largest monthly saving first:
    a change that costs money (an upsize) comes after every one that saves some."""
    key = document["group_by"]
    listed = [(str(r[key]), c) for r in document["rows"] for c in r.get("recommendations") or []]
    return sorted(listed, key=lambda item: -(item[1]["monthly_savings"] or 0.0))


def ranked_anomalies(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every row's anomalies as ``(group, anomaly)``, largest impact first, then the earliest."""
    key = document["group_by"]
    listed = [(str(r[key]), a) for r in document["rows"] for a in r.get("anomalies") or []]
    return sorted(listed, key=lambda item: (-(item[1]["impact"] or 0.0), item[1]["start"]))


def kpis(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The summary's figures as ``(label, value, what it is in a few words)``."""
    s = document["summary"]
    unlabelled = {
        "team": "pods without a team label",
        "project": "pods without a project label",
        "cost_center": "pods without a cost center",
        "cluster": "allocation no pod accounts for",
    }[document["group_by"]]
    cards = [
        ("Total spend", money(s["total_cost"]), "GPU + CPU/RAM, every group"),
        ("GPU share", pct(s["gpu_share"]), "of the total spend is GPUs"),
        ("Idle GPU cost", money(s["idle_gpu_cost"]), "GPUs no pod held"),
        ("Unallocated GPU", money(s["unallocated_gpu_cost"]), unlabelled),
        ("Waste", money(s["waste"]), "GPU cost of the time not busy"),
    ]
    if document["sections"].get("commitments"):
        cards.append(
            (
                "Net of commitments",
                money(s["net_cost"]),
                f"discount -{money(s['commitment_discount'])}, "
                f"unused +{money(s['unused_commitment'])}",
            )
        )
        cards.append(("Unused commitment", money(s["unused_commitment"]), "paid, not used"))
    if document["sections"].get("energy"):
        cards.append(("GPU energy", kwh(s["energy_kwh"]) + " kWh", f"{kg(s['kg_co2e'])} kgCO2e"))
    if s["savings_available"] is not None:
        cards.append(
            ("Savings / month", money(s["savings_available"]), "if the advice below is applied")
        )
    return cards


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>GPU chargeback {{ d.period.label }}</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:12px;color:#222;margin:24px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:22px 0 6px;border-bottom:1px solid #ccc}
.meta{color:#666} table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{padding:3px 6px;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f0f3f7} th:first-child,td:first-child,th.text,td.text{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:4px;padding:8px 12px;min-width:140px}
.card b{display:block;font-size:16px} .card small{color:#777}
.bar{background:#3b6ea5;height:10px;display:inline-block;vertical-align:middle}
.bar.unallocated{background:#e68c32} .bar.idle{background:#969696}
.key{display:inline-block;width:10px;height:10px;vertical-align:middle;margin:0 3px 0 10px}
.over{color:#b22} .under{color:#272} .special td{color:#777}
@media print{body{margin:0} h2{page-break-after:avoid} tr{page-break-inside:avoid}}
</style></head><body>
<h1>GPU chargeback · {{ d.period.label }}</h1>
<div class="meta">{{ d.period.start }} → {{ d.period.end }} · source: {{ d.source }} ·
currency: {{ d.currency }} · by {{ title|lower }} · generated {{ d.generated_at }}</div>
<p>{{ policy }}</p>
{% if d.sections.previous_period %}<p class="comparison">{{ d.comparison.description }}</p>
{% endif %}<h2>Summary</h2>
<div class="cards">
{% for label, value, words in cards %}<div class="card">{{ label }}<b>{{ value }}</b>
<small>{{ words }}</small></div>
{% endfor %}</div>
<h2>Top {{ s.top|length }} by total cost</h2>
<table><tr><th>{{ title }}</th><th>Total</th><th>Share</th><th class="text"></th></tr>
{% for t in s.top %}<tr><td>{{ t[key] }}</td><td>{{ money(t.total_cost) }}</td>
<td>{{ pct(t.share) }}</td><td class="text"><span class="bar"
style="width:{{ '%.0f' % ((t.share or 0) * 300) }}px"></span></td></tr>{% endfor %}
</table>
<h2>Daily GPU cost</h2>
<p class="meta">Each bar is the day's GPU cost on one scale:
<span class="key bar"></span>allocated<span class="key bar unallocated"></span>unallocated
<span class="key bar idle"></span>idle (no pod held the GPUs).</p>
<table><tr><th>Date</th><th>Allocated</th><th>Unallocated</th><th>Idle</th><th>Total</th>
<th class="text">Allocated · unallocated · idle</th></tr>
{% for day in d.daily %}{% set tot = day.allocated_gpu_cost + day.unallocated_gpu_cost
+ day.idle_gpu_cost %}<tr><td>{{ day.date }}</td><td>{{ money(day.allocated_gpu_cost) }}</td>
<td>{{ money(day.unallocated_gpu_cost) }}</td><td>{{ money(day.idle_gpu_cost) }}</td>
<td>{{ money(tot) }}</td><td class="text">{% for part, css in ((day.allocated_gpu_cost, "bar"),
(day.unallocated_gpu_cost, "bar unallocated"), (day.idle_gpu_cost, "bar idle")) %}<span
class="{{ css }}" style="width:{{ '%.0f' % ([part, 0]|max / max_day * 320) }}px"></span>{%
endfor %}</td></tr>{% endfor %}
</table>
<h2>Cost per {{ title|lower }}</h2>
<table><tr><th>{{ title }}</th><th>GPU-h</th><th>Avg GPUs</th><th>GPU cost</th><th>CPU/RAM</th>
{% if shared %}<th>Shared idle</th>{% endif %}<th>Total</th><th>Efficiency</th><th>Waste</th>
{% if d.sections.budgets %}<th>Budget</th><th>Variance</th>{% endif %}
{% if d.sections.previous_period %}<th>Change</th>{% endif %}
{% if energy %}<th>kWh</th><th>kgCO2e</th>{% endif %}
{% if commit %}<th>Commitment discount</th><th>Net</th>{% endif %}</tr>
{% for r in d.rows %}<tr{% if r.kind != "allocated" %} class="special"{% endif %}>
<td>{{ label(d, r) }}</td><td>{{ hours(r.gpu_hours) }}</td><td>{{ hours(r.avg_gpus) }}</td>
<td>{{ money(r.gpu_cost) }}</td><td>{{ money(r.cpu_ram_cost) }}</td>
{% if shared %}<td>{{ money(r.shared_idle_cost) }}</td>{% endif %}
<td><b>{{ money(r.total_cost) }}</b></td><td>{{ pct(r.efficiency) }}</td>
<td>{{ money(r.waste) }}</td>
{% if d.sections.budgets %}<td>{{ money(r.budget) }}</td><td class="{{ 'over' if (r.budget_variance
or 0) > 0 else 'under' }}">{{ signed(r.budget_variance) }}</td>{% endif %}
{% if d.sections.previous_period %}<td>{{ signed(r.change) }} ({{ pct(r.change_pct, True) }})</td>
{% endif %}{% if energy %}<td>{{ kwh(r.get("energy_kwh")) }}</td>
<td>{{ kg(r.get("kg_co2e")) }}</td>{% endif %}{% if commit %}
<td>{{ money(r.commitment_discount) }}</td><td><b>{{ money(r.net_cost) }}</b></td>{% endif %}
</tr>{% endfor %}
<tr><th>Total</th><th>{{ hours(s.gpu_hours) }}</th><th></th><th>{{ money(s.gpu_cost) }}</th>
<th>{{ money(s.cpu_ram_cost) }}</th>{% if shared %}<th></th>{% endif %}
<th>{{ money(s.total_cost) }}</th><th>{{ pct(s.efficiency) }}</th><th>{{ money(s.waste) }}</th>
{% if d.sections.budgets %}<th></th><th></th>{% endif %}
{% if d.sections.previous_period %}<th></th>{% endif %}
{% if energy %}<th>{{ kwh(s.energy_kwh) }}</th><th>{{ kg(s.kg_co2e) }}</th>{% endif %}
{% if commit %}<th>{{ money(s.commitment_discount) }}</th><th>{{ money(s.net_cost) }}</th>
{% endif %}</tr>
</table>
{% if commit %}{% set c = d.commitments %}<h2>Commitments</h2>
<p class="meta">From the bill ({{ c.source }}): {{ c.rule }}. Unused commitment is the row
__unused_commitment__, not part of idle.</p>
<table><tr><th>Family</th><th class="text">Instance types</th><th>Covered h</th>
<th>On demand</th><th>Paid</th><th>Discount</th><th class="text">Shared to</th></tr>
{% for f in c.families %}<tr><td>{{ f.family }}</td><td class="text">{{ f.instance_types|join(", ")
}}</td><td>{{ hours(f.covered_hours) }}</td><td>{{ money(f.on_demand_cost) }}</td>
<td>{{ money(f.effective_cost) }}</td><td>{{ money(f.discount) }}</td><td class="text">{% for
name, part in f.shares.items() %}{{ name }} {{ money(part) }}{{ "; " if not loop.last }}{%
endfor %}</td></tr>{% endfor %}
</table>
{% if c.unused_lines %}<table><tr><th>Unused commitment</th><th class="text">Kind</th>
<th>Unused</th><th>Utilisation</th></tr>
{% for u in c.unused_lines %}<tr><td>{{ u.id }}</td><td class="text">{{ u.kind }}</td>
<td>{{ money(u.unused) }}</td><td>{{ pct(u.utilisation) }}</td></tr>{% endfor %}
</table>{% endif %}{% endif %}
{% if d.sections.unit_costs %}<h2>Unit costs by model</h2>
<table><tr><th>{{ title }}</th><th class="text">Model</th><th>GPU cost</th><th>Requests</th>
<th>per 1k requests</th><th>per 1M tokens</th>{% if energy %}<th>kWh / 1M tokens</th>
<th>kgCO2e / 1M tokens</th>{% endif %}<th class="text">Status</th></tr>
{% for r in d.rows %}{% for m in r.get("models") or [] %}<tr><td>{{ r[key] }}</td>
<td class="text">{{ m.model }}</td><td>{{ money(m.gpu_cost) }}</td><td>{{ count(m.requests) }}</td>
<td>{{ unit(m.cost_per_1k_requests) }}</td><td>{{ unit(m.cost_per_1m_tokens) }}</td>
{% if energy %}<td>{{ unit(m.get("kwh_per_1m_tokens")) }}</td>
<td>{{ unit(m.get("kg_co2e_per_1m_tokens")) }}</td>{% endif %}
<td class="text">{{ m.unit_cost_status or "-" }}</td></tr>{% endfor %}{% endfor %}
</table>{% endif %}
{% if d.sections.recommendations %}<h2>Top recommendations</h2>
<p class="meta">Largest monthly saving first; a negative saving is a change that costs more
(an upsize for a workload that needs it).</p>
<table><tr><th>{{ title }}</th><th class="text">Workload</th><th class="text">Action</th>
<th class="text">Change</th><th>Saving / month</th><th class="text">Confidence</th></tr>
{% for group, c in recommendations %}<tr><td>{{ group }}</td>
<td class="text">{{ c.namespace ~ "/" if c.namespace else "" }}{{ c.workload }}</td>
<td class="text">{{ c.action }}</td>
<td class="text">{{ c.current }} → {{ c.target }}</td><td>{{ money(c.monthly_savings) }}</td>
<td class="text">{{ c.confidence }}</td></tr>{% endfor %}
</table>{% endif %}
{% if d.sections.anomalies %}<h2>Anomalies</h2>
<table><tr><th>{{ title }}</th><th class="text">Metric</th><th class="text">Start</th>
<th class="text">Severity</th><th>Impact</th><th class="text">Reason</th></tr>
{% for group, a in anomalies %}<tr><td>{{ group }}</td>
<td class="text">{{ a.metric }}</td><td class="text">{{ a.start }}</td>
<td class="text">{{ a.severity }}</td><td>{{ money(a.impact) }}</td>
<td class="text">{{ a.reason }}</td></tr>{% endfor %}
</table>{% endif %}
{% if d.notes %}<h2>Notes</h2><ul>{% for n in d.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def render_html(document: dict[str, Any]) -> str:
    """One self-contained, printable page (no scripts, no external resources), autoescaped."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_HTML)
    daily = document["daily"]
    max_day = max(
        [d["allocated_gpu_cost"] + d["unallocated_gpu_cost"] + d["idle_gpu_cost"] for d in daily]
        + [1e-9]
    )
    return template.render(
        d=document,
        s=document["summary"],
        key=document["group_by"],
        title=group_title(document),
        policy=idle_policy(document),
        shared=document["share_idle"] == "proportional",
        max_day=max_day,
        cards=kpis(document),
        recommendations=ranked_recommendations(document),
        anomalies=ranked_anomalies(document),
        label=row_label,
        energy=bool(document["sections"].get("energy")),
        commit=bool(document["sections"].get("commitments")),
        kwh=kwh,
        kg=kg,
        money=money,
        signed=signed,
        pct=pct,
        hours=hours,
        unit=lambda v: "-" if v is None else f"{v:,.4f}",
        count=lambda v: "-" if v is None else f"{v:,.0f}",
    )

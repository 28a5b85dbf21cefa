"""Grafana dashboards, generated so that every panel reads a series the rules record.

Four dashboards: GPU overview, team costs, efficiency and unit costs. Panels read the recorded
series of ``finops_cli.deploy.rules`` (cheap at any scale), plus dcgm-exporter's temperature; a
test runs every panel query against a real Prometheus holding the sample cluster.
"""

from __future__ import annotations

from typing import Any

from finops_cli.deploy import rules as r
from finops_cli.queries import GPU_TEMPERATURE

DATASOURCE = {"type": "prometheus", "uid": "finops-prometheus"}
SCHEMA_VERSION = 39
CLUSTER = 'cluster=~"$cluster"'
TEAM = f'{CLUSTER}, team=~"$team"'
MODEL = f'{CLUSTER}, model=~"$model"'
USD = "currencyUSD"
_SELECTORS = {"team": TEAM, "model": MODEL, "gpu_model": CLUSTER}
SHARE = "percentunit"


def _target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    return out


class _Layout:
    """Places panels left to right, 24 grid units a row."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos


def _panel(
    layout: _Layout,
    title: str,
    kind: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    description: str = "",
    decimals: int | None = None,
) -> dict[str, Any]:
    instant = kind in {"stat", "bargauge", "table"}
    refs = "ABCDEFGH"
    defaults: dict[str, Any] = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    panel: dict[str, Any] = {
        "id": layout.next_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": layout.place(w, h),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
        "targets": [
            _target(expr, legend, refs[i], instant=instant)
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    if kind == "stat":
        panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}
    elif kind == "bargauge":
        panel["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"]},
            "orientation": "horizontal",
        }
    elif kind == "timeseries":
        panel["options"] = {"legend": {"displayMode": "table", "placement": "bottom"}}
    layout.next_id += 1
    return panel


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    cluster = _variable("cluster", "Cluster", f"label_values({r.CLUSTER_CAPACITY}, cluster)")
    return {
        "uid": uid,
        "title": title,
        "tags": ["finops", "gpu"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [cluster, *variables]},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["finops"], "title": "FinOps", "asDropdown": True}
        ],
        "panels": panels,
    }


def _q(agg: str, measure: str, by: str = "", selector: str = CLUSTER) -> str:
    """``sum by (team) (measure{selector})``: how the panels read a recorded series."""
    if by:
        return f"{agg} by ({by}) ({measure}{{{selector}}})"
    return f"{agg}({measure}{{{selector}}})"


def _each(agg: str, by: str, measure: str, suffix: str = "") -> tuple[str, str]:
    """A target with one line per value of ``by``, each named by its value.

    The selector follows ``by``: team series obey the team variable, model series the model one.
    """
    return _q(agg, measure, by, _SELECTORS[by]), f"{{{{{by}}}}}{suffix}"


class _Board:
    """One dashboard's panels, placed left to right in the order they are added."""

    def __init__(self) -> None:
        self.layout = _Layout()
        self.panels: list[dict[str, Any]] = []

    def add(self, kind: str, title: str, *targets: tuple[str, str], **options: Any) -> None:
        self.panels.append(_panel(self.layout, title, kind, list(targets), **options))

    def series(self, title: str, *targets: tuple[str, str], **options: Any) -> None:
        self.add("timeseries", title, *targets, **options)

    def bars(self, title: str, *targets: tuple[str, str], **options: Any) -> None:
        self.add("bargauge", title, *targets, **options)

    def stat(self, title: str, expr: str, **options: Any) -> None:
        """A single number: one unnamed target."""
        self.add("stat", title, (expr, ""), **options)


def gpu_overview() -> dict[str, Any]:
    b = _Board()
    for title, measure in (
        ("GPU capacity", r.CLUSTER_CAPACITY),
        ("GPUs allocated", r.CLUSTER_ALLOCATED),
        ("GPUs idle", r.CLUSTER_IDLE),
    ):
        b.stat(title, _q("sum", measure), w=4)
    for title, agg, measure, unit, description in (
        (
            "GPU spend",
            "sum",
            r.CLUSTER_COST,
            USD,
            "$/h of every GPU the cluster has, allocated or not.",
        ),
        ("Idle GPU spend", "sum", r.CLUSTER_IDLE_COST, USD, "$/h of GPUs no pod holds."),
        (
            "Efficiency",
            "avg",
            r.CLUSTER_EFFICIENCY,
            SHARE,
            "Allocation-weighted engine-active share of allocated GPUs.",
        ),
    ):
        b.stat(title, _q(agg, measure), unit=unit, w=4, description=description)
    b.series(
        "GPUs: capacity, allocated, idle",
        (_q("sum", r.CLUSTER_CAPACITY), "capacity"),
        (_q("sum", r.CLUSTER_ALLOCATED), "allocated"),
        (_q("sum", r.CLUSTER_IDLE), "idle"),
    )
    b.series("GPU spend by GPU model", _each("sum", "gpu_model", r.GPU_MODEL_COST), unit=USD)
    b.series(
        "Efficiency by GPU model",
        _each("avg", "gpu_model", r.GPU_MODEL_EFFICIENCY),
        unit=SHARE,
    )
    temperature = r.rule_context().dcgm_node(f"{GPU_TEMPERATURE}{{{CLUSTER}}}")
    hottest = f"max by (node) ({temperature})"
    b.series("Hottest GPU per node", (hottest, "{{node}}"), unit="celsius")
    return _dashboard("finops-gpu-overview", "FinOps / GPU overview", b.panels, [])


def team_costs() -> dict[str, Any]:
    b = _Board()
    team = _variable("team", "Team", f"label_values({r.TEAM_COST}, team)")
    b.series(
        "GPU spend by team",
        _each("sum", "team", r.TEAM_COST),
        unit=USD,
        w=24,
        description="$/h of the GPUs each team's pods hold, at their nodes' prices.",
    )
    over_range = f"sum by (team) (sum_over_time({r.TEAM_COST}{{{TEAM}}}[$__range:1m])) / 60"
    b.bars("GPU spend over the selected range", (over_range, "{{team}}"), unit=USD)
    b.bars("GPU spend, last 24 hours", _each("sum", "team", r.TEAM_COST_24H), unit=USD)
    b.series("GPUs allocated by team", _each("sum", "team", r.TEAM_GPUS))
    b.bars(
        "Budget burn (projected share of the monthly budget)",
        _each("max", "team", r.TEAM_BUDGET_BURN),
        unit=SHARE,
        description="Last 24 hours' spend x days in the month / monthly budget; over 100% "
        "means on pace to overspend. Teams without a budget are not shown.",
    )
    b.series(
        "Spend against the 7-day baseline",
        _each("sum", "team", r.TEAM_COST),
        _each("sum", "team", r.TEAM_COST_AVG_7D, " 7-day mean"),
        unit=USD,
        w=24,
    )
    return _dashboard("finops-team-costs", "FinOps / Team GPU costs", b.panels, [team])


def efficiency() -> dict[str, Any]:
    b = _Board()
    team = _variable("team", "Team", f"label_values({r.TEAM_EFFICIENCY}, team)")
    b.series("Efficiency by team", _each("avg", "team", r.TEAM_EFFICIENCY), unit=SHARE)
    b.series(
        "Waste by team",
        _each("sum", "team", r.TEAM_WASTE),
        unit=USD,
        description="$/h x (1 - efficiency): what allocated but unused GPUs cost.",
    )
    idle_hours = (_q("sum", r.CLUSTER_IDLE_HOURS_1H), "idle GPU-hours (last hour)")
    b.series("Idle GPU-hours per hour", idle_hours)
    b.series("Idle GPU spend", (_q("sum", r.CLUSTER_IDLE_COST), "idle $/h"), unit=USD)
    over_range = f"sum(sum_over_time({r.CLUSTER_IDLE}{{{CLUSTER}}}[$__range:1m])) / 60"
    b.stat("Idle GPU-hours over the selected range", over_range, decimals=1)
    b.stat("Cluster efficiency", _q("avg", r.CLUSTER_EFFICIENCY), unit=SHARE)
    b.series(
        "GPU energy by team (kWh per hour)",
        _each("sum", "team", r.TEAM_POWER),
        (_q("sum", r.CLUSTER_POWER), "all GPUs"),
        unit="kwatt",
        description="Each GPU's power (dcgm-exporter's energy counter, else its power gauge) "
        "shared among its holders by their share, as cost is; 'all GPUs' includes idle ones.",
    )
    b.series(
        "Carbon by team (kgCO2e per hour)",
        _each("sum", "team", r.TEAM_CARBON),
        unit="masskg",
        description="GPU kWh x the provider's PUE x the region's location-based grid factor "
        "(pricing/carbon tables, dated and sourced).",
    )
    return _dashboard("finops-efficiency", "FinOps / GPU efficiency", b.panels, [team])


def unit_costs() -> dict[str, Any]:
    b = _Board()
    model = _variable("model", "Model", f"label_values({r.MODEL_REQUESTS_1H}, model)")
    cost_1h = f"avg_over_time({r.MODEL_COST}{{{MODEL}}}[1h])"
    b.series("GPU spend by model", _each("sum", "model", r.MODEL_COST), unit=USD)
    b.series("Requests per hour by model", _each("sum", "model", r.MODEL_REQUESTS_1H))
    for title, per, divisor in (
        ("GPU cost per 1k requests", r.MODEL_REQUESTS_1H, "1000"),
        ("GPU cost per 1M generated tokens", r.MODEL_GENERATED_TOKENS_1H, "1e6"),
    ):
        expr = f"sum by (model) ({cost_1h}) / ({_q('sum', per, 'model', MODEL)} / {divisor})"
        b.series(title, (expr, "{{model}}"), unit=USD)
    b.series(
        "Tokens per hour by model",
        _each("sum", "model", r.MODEL_PROMPT_TOKENS_1H, " prompt"),
        _each("sum", "model", r.MODEL_GENERATED_TOKENS_1H, " generated"),
        w=24,
    )
    return _dashboard("finops-unit-costs", "FinOps / Inference unit costs", b.panels, [model])


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    return {
        "gpu-overview.json": gpu_overview(),
        "team-costs.json": team_costs(),
        "efficiency.json": efficiency(),
        "unit-costs.json": unit_costs(),
    }

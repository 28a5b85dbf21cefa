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


def gpu_overview() -> dict[str, Any]:
    lay = _Layout()
    panels = [
        _panel(lay, "GPU capacity", "stat", [(f"sum({r.CLUSTER_CAPACITY}{{{CLUSTER}}})", "")], w=4),
        _panel(
            lay, "GPUs allocated", "stat", [(f"sum({r.CLUSTER_ALLOCATED}{{{CLUSTER}}})", "")], w=4
        ),
        _panel(lay, "GPUs idle", "stat", [(f"sum({r.CLUSTER_IDLE}{{{CLUSTER}}})", "")], w=4),
        _panel(
            lay,
            "GPU spend",
            "stat",
            [(f"sum({r.CLUSTER_COST}{{{CLUSTER}}})", "")],
            unit="currencyUSD",
            w=4,
            description="$/h of every GPU the cluster has, allocated or not.",
        ),
        _panel(
            lay,
            "Idle GPU spend",
            "stat",
            [(f"sum({r.CLUSTER_IDLE_COST}{{{CLUSTER}}})", "")],
            unit="currencyUSD",
            w=4,
            description="$/h of GPUs no pod holds.",
        ),
        _panel(
            lay,
            "Efficiency",
            "stat",
            [(f"avg({r.CLUSTER_EFFICIENCY}{{{CLUSTER}}})", "")],
            unit="percentunit",
            w=4,
            description="Allocation-weighted engine-active share of allocated GPUs.",
        ),
        _panel(
            lay,
            "GPUs: capacity, allocated, idle",
            "timeseries",
            [
                (f"sum({r.CLUSTER_CAPACITY}{{{CLUSTER}}})", "capacity"),
                (f"sum({r.CLUSTER_ALLOCATED}{{{CLUSTER}}})", "allocated"),
                (f"sum({r.CLUSTER_IDLE}{{{CLUSTER}}})", "idle"),
            ],
        ),
        _panel(
            lay,
            "GPU spend by GPU model",
            "timeseries",
            [(f"sum by (gpu_model) ({r.GPU_MODEL_COST}{{{CLUSTER}}})", "{{gpu_model}}")],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "Efficiency by GPU model",
            "timeseries",
            [(f"avg by (gpu_model) ({r.GPU_MODEL_EFFICIENCY}{{{CLUSTER}}})", "{{gpu_model}}")],
            unit="percentunit",
        ),
        _panel(
            lay,
            "Hottest GPU per node",
            "timeseries",
            [(f"max by (node) ({r.dcgm_node(f'{GPU_TEMPERATURE}{{{CLUSTER}}}')})", "{{node}}")],
            unit="celsius",
        ),
    ]
    return _dashboard("finops-gpu-overview", "FinOps / GPU overview", panels, [])


def team_costs() -> dict[str, Any]:
    lay = _Layout()
    team = _variable("team", "Team", f"label_values({r.TEAM_COST}, team)")
    panels = [
        _panel(
            lay,
            "GPU spend by team",
            "timeseries",
            [(f"sum by (team) ({r.TEAM_COST}{{{TEAM}}})", "{{team}}")],
            unit="currencyUSD",
            w=24,
            description="$/h of the GPUs each team's pods hold, at their nodes' prices.",
        ),
        _panel(
            lay,
            "GPU spend over the selected range",
            "bargauge",
            [
                (
                    f"sum by (team) (sum_over_time({r.TEAM_COST}{{{TEAM}}}[$__range:1m])) / 60",
                    "{{team}}",
                )
            ],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "GPU spend, last 24 hours",
            "bargauge",
            [(f"sum by (team) ({r.TEAM_COST_24H}{{{TEAM}}})", "{{team}}")],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "GPUs allocated by team",
            "timeseries",
            [(f"sum by (team) ({r.TEAM_GPUS}{{{TEAM}}})", "{{team}}")],
        ),
        _panel(
            lay,
            "Budget burn (projected share of the monthly budget)",
            "bargauge",
            [(f"max by (team) ({r.TEAM_BUDGET_BURN}{{{TEAM}}})", "{{team}}")],
            unit="percentunit",
            description="Last 24 hours' spend x days in the month / monthly budget; over 100% "
            "means on pace to overspend. Teams without a budget are not shown.",
        ),
        _panel(
            lay,
            "Spend against the 7-day baseline",
            "timeseries",
            [
                (f"sum by (team) ({r.TEAM_COST}{{{TEAM}}})", "{{team}}"),
                (f"sum by (team) ({r.TEAM_COST_AVG_7D}{{{TEAM}}})", "{{team}} 7-day mean"),
            ],
            unit="currencyUSD",
            w=24,
        ),
    ]
    return _dashboard("finops-team-costs", "FinOps / Team GPU costs", panels, [team])


def efficiency() -> dict[str, Any]:
    lay = _Layout()
    team = _variable("team", "Team", f"label_values({r.TEAM_EFFICIENCY}, team)")
    panels = [
        _panel(
            lay,
            "Efficiency by team",
            "timeseries",
            [(f"avg by (team) ({r.TEAM_EFFICIENCY}{{{TEAM}}})", "{{team}}")],
            unit="percentunit",
        ),
        _panel(
            lay,
            "Waste by team",
            "timeseries",
            [(f"sum by (team) ({r.TEAM_WASTE}{{{TEAM}}})", "{{team}}")],
            unit="currencyUSD",
            description="$/h x (1 - efficiency): what allocated but unused GPUs cost.",
        ),
        _panel(
            lay,
            "Idle GPU-hours per hour",
            "timeseries",
            [(f"sum({r.CLUSTER_IDLE_HOURS_1H}{{{CLUSTER}}})", "idle GPU-hours (last hour)")],
        ),
        _panel(
            lay,
            "Idle GPU spend",
            "timeseries",
            [(f"sum({r.CLUSTER_IDLE_COST}{{{CLUSTER}}})", "idle $/h")],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "Idle GPU-hours over the selected range",
            "stat",
            [(f"sum(sum_over_time({r.CLUSTER_IDLE}{{{CLUSTER}}}[$__range:1m])) / 60", "")],
            decimals=1,
        ),
        _panel(
            lay,
            "Cluster efficiency",
            "stat",
            [(f"avg({r.CLUSTER_EFFICIENCY}{{{CLUSTER}}})", "")],
            unit="percentunit",
        ),
    ]
    return _dashboard("finops-efficiency", "FinOps / GPU efficiency", panels, [team])


def unit_costs() -> dict[str, Any]:
    lay = _Layout()
    model = _variable("model", "Model", f"label_values({r.MODEL_REQUESTS_1H}, model)")
    cost_1h = f"avg_over_time({r.MODEL_COST}{{{MODEL}}}[1h])"
    panels = [
        _panel(
            lay,
            "GPU spend by model",
            "timeseries",
            [(f"sum by (model) ({r.MODEL_COST}{{{MODEL}}})", "{{model}}")],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "Requests per hour by model",
            "timeseries",
            [(f"sum by (model) ({r.MODEL_REQUESTS_1H}{{{MODEL}}})", "{{model}}")],
        ),
        _panel(
            lay,
            "GPU cost per 1k requests",
            "timeseries",
            [
                (
                    f"sum by (model) ({cost_1h}) / "
                    f"(sum by (model) ({r.MODEL_REQUESTS_1H}{{{MODEL}}}) / 1000)",
                    "{{model}}",
                )
            ],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "GPU cost per 1M generated tokens",
            "timeseries",
            [
                (
                    f"sum by (model) ({cost_1h}) / "
                    f"(sum by (model) ({r.MODEL_GENERATED_TOKENS_1H}{{{MODEL}}}) / 1e6)",
                    "{{model}}",
                )
            ],
            unit="currencyUSD",
        ),
        _panel(
            lay,
            "Tokens per hour by model",
            "timeseries",
            [
                (f"sum by (model) ({r.MODEL_PROMPT_TOKENS_1H}{{{MODEL}}})", "{{model}} prompt"),
                (
                    f"sum by (model) ({r.MODEL_GENERATED_TOKENS_1H}{{{MODEL}}})",
                    "{{model}} generated",
                ),
            ],
            w=24,
        ),
    ]
    return _dashboard("finops-unit-costs", "FinOps / Inference unit costs", panels, [model])


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    return {
        "gpu-overview.json": gpu_overview(),
        "team-costs.json": team_costs(),
        "efficiency.json": efficiency(),
        "unit-costs.json": unit_costs(),
    }

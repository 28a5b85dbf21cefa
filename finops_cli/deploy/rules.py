"""Prometheus recording and alerting rules, generated from the query library.

Every measure here is built by ``finops_cli.queries`` (``QueryContext`` and ``InferenceQueries``)
with the labelling a default deployment produces: dcgm-exporter scraped with ``honor_labels:
true``, kube-state-metrics exporting the ``ai-finops.io/*`` pod labels, OpenCost's allocation and
price series, all scraped every ``SCRAPE_INTERVAL_S``. ``finops deploy generate`` writes them to
``manifests/base/prometheus/rules/``; a test fails when the committed files and this module
disagree.

Names follow Prometheus' ``level:metric:operations`` convention; the team, model and GPU model
of a recorded series are in plain ``team``/``model``/``gpu_model`` labels (pods without the team
label are recorded as ``team="__unallocated__"``, as the CLI names them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from finops_cli.queries import (
    BUSY_PROFILING,
    BUSY_UTIL,
    ENERGY_COUNTER,
    GENERATED_TOKEN_COUNTERS,
    GPU_TEMPERATURE,
    POWER_USAGE,
    PROMPT_TOKEN_COUNTERS,
    REQUEST_COUNTERS,
    InferenceQueries,
    QueryContext,
    over_buckets,
    recorded_stats,
)
from finops_cli.queries.context import CatalogPrices
from finops_cli.queries.names import RULES_INFO
from finops_cli.queries.recorded import (
    RECORDED_MEASURES,
    ROLLUP_S,
    RULE_INTERVAL_S,
    TEAM_MEASURES,
    RecordedQueries,
    daily_name,
    hourly_name,
    info_labels,
    rate_name,
    team_hourly_name,
    team_rate_name,
)
from finops_cli.queries.sharing import Sharing

SCRAPE_INTERVAL_S = 60
UNALLOCATED = "__unallocated__"
DEFAULT_POD_LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
COST_CENTER_ANNOTATION = "ai-finops.io/cost-center"
XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"
BUSY_METRICS = frozenset({BUSY_PROFILING, BUSY_UTIL})

# ---- recorded series (dashboards and alerts refer to these names) ---------------------------
TEAM_COST = "team:finops_gpu_cost_dollars_per_hour:sum"
TEAM_GPUS = "team:finops_gpus_allocated:sum"
TEAM_BUSY = "team:finops_gpus_busy:sum"
TEAM_OBSERVED = "team:finops_gpus_observed:count"
TEAM_EFFICIENCY = "team:finops_gpu_efficiency:ratio"
TEAM_WASTE = "team:finops_gpu_waste_dollars_per_hour:sum"
TEAM_COST_24H = "team:finops_gpu_cost_dollars:sum_24h"
TEAM_COST_AVG_7D = "team:finops_gpu_cost_dollars_per_hour:avg_7d"
TEAM_COST_STDDEV_7D = "team:finops_gpu_cost_dollars_per_hour:stddev_7d"
TEAM_BUDGET = "team:finops_gpu_budget_dollars_per_month"
TEAM_BUDGET_BURN = "team:finops_gpu_budget_burn:ratio"
CLUSTER_CAPACITY = "cluster:finops_gpu_capacity:sum"
CLUSTER_ALLOCATED = "cluster:finops_gpus_allocated:sum"
CLUSTER_IDLE = "cluster:finops_gpus_idle:sum"
CLUSTER_COST = "cluster:finops_gpu_cost_dollars_per_hour:sum"
CLUSTER_ALLOCATED_COST = "cluster:finops_allocated_gpu_cost_dollars_per_hour:sum"
CLUSTER_IDLE_COST = "cluster:finops_idle_gpu_cost_dollars_per_hour:sum"
CLUSTER_IDLE_HOURS_1H = "cluster:finops_idle_gpu_hours:sum_1h"
CLUSTER_BUSY = "cluster:finops_gpus_busy:sum"
CLUSTER_OBSERVED = "cluster:finops_gpus_observed:count"
CLUSTER_EFFICIENCY = "cluster:finops_gpu_efficiency:ratio"
GPU_MODEL_COST = "gpu_model:finops_gpu_cost_dollars_per_hour:sum"
GPU_MODEL_BUSY = "gpu_model:finops_gpus_busy:sum"
GPU_MODEL_OBSERVED = "gpu_model:finops_gpus_observed:count"
GPU_MODEL_EFFICIENCY = "gpu_model:finops_gpu_efficiency:ratio"
MODEL_COST = "model:finops_gpu_cost_dollars_per_hour:sum"
MODEL_REQUESTS_1H = "model:finops_requests:increase_1h"
MODEL_PROMPT_TOKENS_1H = "model:finops_prompt_tokens:increase_1h"
MODEL_GENERATED_TOKENS_1H = "model:finops_generated_tokens:increase_1h"
TEAM_POWER = "team:finops_gpu_power_kilowatts:sum"  # by team and region: the ledger's energy
CLUSTER_POWER = "cluster:finops_gpu_power_kilowatts:sum"  # every GPU, by region
REGION_CARBON = "region:finops_carbon_kg_per_kwh"  # grid factor x PUE, from pricing/carbon
TEAM_CARBON = "team:finops_carbon_kg_per_hour:sum"
ENERGY_METRICS = frozenset({ENERGY_COUNTER, POWER_USAGE})

# ---- alert thresholds ----------------------------------------------------------------------
IDLE_BUSY_THRESHOLD = 0.05  # engine-active share under which an allocated GPU counts as idle
IDLE_FOR = "30m"
BUDGET_WARNING_BURN = 1.0  # on pace to spend the whole monthly budget
BUDGET_CRITICAL_BURN = 1.5
ANOMALY_SIGMAS = 3
ANOMALY_MIN_RATIO = 1.5  # and at least 50% above the 7-day mean, so a flat baseline is not noise
GPU_TEMP_WARNING_C = 85
GPU_TEMP_CRITICAL_C = 92
EXPORTER_JOBS = ("kube-state-metrics", "opencost", "dcgm-exporter")

RULES_FILE = "finops.rules.yaml"
BUDGETS_FILE = "budgets.rules.yaml"
LEDGER_BACKFILL_FILE = "finops-ledger-backfill.rules.yaml"
LEDGER_GROUP = "finops-ledger"
LEDGER_BACKFILL_GROUP = "finops-ledger-backfill"
LEDGER_REPLAY_HOURS_GROUP = "finops-ledger-replay-hours"
LEDGER_REPLAY_SUMS_GROUP = "finops-ledger-replay-sums"
LEDGER_CLUSTER_LABEL = "cluster"  # the CLI's default labels.cluster


def rule_context(pod_labels: Mapping[str, str] | None = None) -> QueryContext:
    """The query context a deployed Prometheus evaluates its rules in (no cluster label: the
    cluster is an external label that Thanos or remote write adds after recording)."""
    return QueryContext(
        pod_labels=dict(pod_labels or DEFAULT_POD_LABELS),
        sample_interval_s=SCRAPE_INTERVAL_S,
        cluster_label=None,
    )


def ledger_context(
    pod_labels: Mapping[str, str] | None = None,
    *,
    sample_interval_s: int = SCRAPE_INTERVAL_S,
    cluster_label: str | None = LEDGER_CLUSTER_LABEL,
    sharing: Sharing | None = None,
    catalog_prices: CatalogPrices | None = None,
    exported_pod_labels: bool = False,
    replica_labels: tuple[str, ...] = (),
    dcgm_node_by_ip: bool = False,
) -> QueryContext:
    """The context the recorded ledger is made in: the CLI's own (the pod-label keys, the
    cost-center annotation under ``cost_center``, the cluster label, the scrape interval), so
    that the grain keeps the labels the CLI groups by and ``finops_rules_info`` says which.
    With ``sharing`` (what discovery found shared, ``discover_sharing``) the rules are the
    share-aware ledger the CLI queries on such a cluster, and ``finops_rules_info`` says so
    (``queries.recorded_sharing``); without, whole GPUs. With ``catalog_prices`` (a cluster
    without OpenCost, priced from the catalog: ``node_catalog_prices``) the rules read
    kube-state-metrics' requests and price nodes from that table, as the CLI's raw queries do
    (``queries.recorded_prices``). ``exported_pod_labels``: dcgm-exporter scraped with
    ``honorLabels: false`` (its pod in ``exported_pod``), as the CLI finds it
    (``uses_exported_pod_labels``); ``finops_rules_info`` says which (``dcgm_pod_label``).
    ``replica_labels``: a backfill over a store holding both replicas of HA Prometheus pairs
    (``prometheus.replica_labels``) collapses them at every leaf, as the CLI's raw reads do.
    ``dcgm_node_by_ip``: some dcgm-exporter runs with ``--no-hostname`` (``places_gpus_by_ip``);
    ``finops_rules_info`` says so (``dcgm_node``)."""
    labels = dict(DEFAULT_POD_LABELS) | {"cost_center": COST_CENTER_ANNOTATION}
    return QueryContext(
        pod_labels=labels | dict(pod_labels or {}),
        sample_interval_s=sample_interval_s,
        cluster_label=cluster_label,
        sharing=sharing if sharing is not None and sharing.any else None,
        catalog_prices=catalog_prices,
        exported_pod_labels=exported_pod_labels,
        replica_labels=replica_labels,
        dcgm_node_by_ip=dcgm_node_by_ip,
    )


def _with_sharing(ctx: QueryContext | None, sharing: Sharing | None) -> QueryContext:
    """``ctx`` (default ``ledger_context()``), made with ``sharing`` when one is given."""
    if ctx is None:
        return ledger_context(sharing=sharing)
    if sharing is None:
        return ctx
    return replace(ctx, sharing=sharing if sharing.any else None)


@dataclass(frozen=True)
class Rule:
    """One recording (``record``) or alerting (``alert``) rule, as Prometheus reads it."""

    name: str
    expr: str
    alert: bool = False
    for_: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert" if self.alert else "record": self.name, "expr": self.expr}
        if self.for_:
            out["for"] = self.for_
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]
    interval: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = self.interval
        out["rules"] = [r.to_dict() for r in self.rules]
        return out


def _by(key: str, expr: str, ctx: QueryContext) -> str:
    """Move a pod-label key into a plain label (``team``), unlabelled pods as __unallocated__."""
    source = ctx.prom_label(key)
    if source == key:
        return expr
    expr = f'label_replace({expr}, "{key}", "{UNALLOCATED}", "{source}", "")'
    expr = f'label_replace({expr}, "{key}", "$1", "{source}", "(.+)")'
    return f"sum by ({key}) ({expr})"


def model_cost_rate(ctx: QueryContext) -> str:
    """$/h of GPUs per model: pods labelled with a model, plus unlabelled serving pods shared out
    over the models their inference server reports (Triton, vLLM ``model_name``)."""
    iq = InferenceQueries(ctx, ctx.attribute_lookback_s)
    model_label = ctx.prom_label("model")
    pods = iq.model_pods(ctx.attribute_lookback_s)
    labelled = (
        f"sum by (model) (label_replace(({ctx.pod_gpu_cost()}) * on (namespace, pod) "
        f'group_left ({model_label}) {pods}, "model", "$1", "{model_label}", "(.+)"))'
    )
    served = (
        f'sum by (model) (label_replace({iq.served(ctx.pod_gpu_cost())}, "model", "$1", '
        '"served_model", "(.+)"))'
    )
    return f"(({labelled}) + ({served})) or ({labelled}) or ({served})"


def team_power(ctx: QueryContext) -> str:
    """kW of the GPU entries each team holds, per region (the CLI's ``--energy``, per hour)."""
    source = ctx.prom_label("team")
    expr = ctx.energy_rate(["team"], {}, ENERGY_METRICS)
    expr = f'label_replace({expr}, "team", "{UNALLOCATED}", "{source}", "")'
    expr = f'label_replace({expr}, "team", "$1", "{source}", "(.+)")'
    return f"sum by (team, region) ({expr})"


def region_carbon() -> str:
    """kgCO2e per GPU kWh of each region in the packaged tables (grid factor x the provider's
    PUE), as a constant table: a deployed Prometheus has no other way to know them."""
    from finops_cli.pricing.carbon import load_carbon_tables

    tables = load_carbon_tables()
    entries = []
    for region in sorted(tables.grid):
        factor = tables.factor(region)
        value = (factor.kg_co2e_per_kwh or 0.0) * factor.pue
        entries.append(f'label_replace(vector({value:.6g}), "region", "{region}", "", "")')
    return " or ".join(entries)


def recording_groups(ctx: QueryContext | None = None) -> list[RuleGroup]:
    """The recording rules, in dependency order: a group only reads groups before it."""
    ctx = ctx or rule_context()
    iq = InferenceQueries(ctx, ctx.attribute_lookback_s)
    interval = f"{SCRAPE_INTERVAL_S}s"
    measures = RuleGroup(
        "finops-gpu-measures",
        (
            Rule(TEAM_COST, _by("team", ctx.gpu_cost_rate(["team"], {}), ctx)),
            Rule(TEAM_GPUS, _by("team", ctx.gpus_allocated(["team"], {}), ctx)),
            Rule(TEAM_BUSY, _by("team", ctx.busy_sum(["team"], {}, BUSY_METRICS), ctx)),
            Rule(TEAM_OBSERVED, _by("team", ctx.busy_count(["team"], {}, BUSY_METRICS), ctx)),
            # The ledger's waste, summed GPU by GPU (not team cost x (1 - team efficiency), which
            # is wrong whenever a team holds GPUs at different prices): the CLI's figure.
            Rule(TEAM_WASTE, _by("team", ctx.wasted_cost_rate(["team"], {}, BUSY_METRICS), ctx)),
            Rule(CLUSTER_CAPACITY, ctx.capacity_gpus()),
            Rule(CLUSTER_ALLOCATED, ctx.gpus_allocated([], {})),
            Rule(CLUSTER_COST, ctx.capacity_cost_rate()),
            Rule(CLUSTER_ALLOCATED_COST, ctx.gpu_cost_rate([], {})),
            Rule(CLUSTER_BUSY, ctx.busy_sum([], {}, BUSY_METRICS)),
            Rule(CLUSTER_OBSERVED, ctx.busy_count([], {}, BUSY_METRICS)),
            Rule(GPU_MODEL_COST, ctx.gpu_cost_rate(["gpu_model"], {})),
            Rule(GPU_MODEL_BUSY, ctx.busy_sum(["gpu_model"], {}, BUSY_METRICS)),
            Rule(GPU_MODEL_OBSERVED, ctx.busy_count(["gpu_model"], {}, BUSY_METRICS)),
            Rule(MODEL_COST, model_cost_rate(ctx)),
            Rule(MODEL_REQUESTS_1H, iq.traffic_by_model(REQUEST_COUNTERS, 3600, {})),
            Rule(MODEL_PROMPT_TOKENS_1H, iq.traffic_by_model(PROMPT_TOKEN_COUNTERS, 3600, {})),
            Rule(
                MODEL_GENERATED_TOKENS_1H,
                iq.traffic_by_model(GENERATED_TOKEN_COUNTERS, 3600, {}),
            ),
            Rule(TEAM_POWER, team_power(ctx)),
            Rule(CLUSTER_POWER, ctx.capacity_energy_rate(ENERGY_METRICS)),
            Rule(REGION_CARBON, region_carbon()),
        ),
        interval,
    )
    derived = RuleGroup(
        "finops-gpu-derived",
        (
            Rule(TEAM_EFFICIENCY, f"{TEAM_BUSY} / {TEAM_OBSERVED}"),
            Rule(CLUSTER_EFFICIENCY, f"{CLUSTER_BUSY} / {CLUSTER_OBSERVED}"),
            Rule(GPU_MODEL_EFFICIENCY, f"{GPU_MODEL_BUSY} / {GPU_MODEL_OBSERVED}"),
            Rule(CLUSTER_IDLE, f"{CLUSTER_CAPACITY} - ({CLUSTER_ALLOCATED} or vector(0))"),
            Rule(CLUSTER_IDLE_COST, f"{CLUSTER_COST} - ({CLUSTER_ALLOCATED_COST} or vector(0))"),
            Rule(TEAM_COST_24H, over_buckets(TEAM_COST, 86400, SCRAPE_INTERVAL_S)),
            Rule(TEAM_COST_AVG_7D, f"avg_over_time({TEAM_COST}[7d])"),
            Rule(TEAM_COST_STDDEV_7D, f"stddev_over_time({TEAM_COST}[7d])"),
            Rule(
                TEAM_CARBON,
                f"sum by (team) ({TEAM_POWER} * on (region) group_left () {REGION_CARBON})",
            ),
        ),
        interval,
    )
    burn = RuleGroup(
        "finops-gpu-burn",
        (
            Rule(CLUSTER_IDLE_HOURS_1H, over_buckets(CLUSTER_IDLE, 3600, SCRAPE_INTERVAL_S)),
            Rule(
                TEAM_BUDGET_BURN,
                f"{TEAM_COST_24H} * scalar(days_in_month()) / on (team) {TEAM_BUDGET}",
            ),
        ),
        interval,
    )
    return [measures, derived, burn]


def _alert(
    name: str,
    expr: str,
    labels: tuple[str, str],
    summary: str,
    description: str,
    for_: str | None = None,
) -> Rule:
    """An alerting rule with the labels and annotations every finops alert carries.

    ``labels`` is (severity, category): receivers route on both, so no alert may lack them.
    """
    severity, category = labels
    return Rule(
        name,
        expr,
        alert=True,
        for_=for_,
        labels={"severity": severity, "category": category},
        annotations={"summary": summary, "description": description},
    )


def _temperature_alerts(temperature: str) -> list[Rule]:
    """A warning and a critical alert on the hottest GPU, the same rule at two thresholds."""
    return [
        _alert(
            f"FinopsGPUTemperature{suffix}",
            f"{temperature} > {threshold}",
            (severity, "gpu-temperature"),
            summary,
            "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on {{ $labels.node }} is at "
            f"{{{{ $value }}}} C (over {threshold} C for {minutes} minutes){consequence}",
            for_=f"{minutes}m",
        )
        for suffix, severity, threshold, minutes, summary, consequence in (
            ("High", "warning", GPU_TEMP_WARNING_C, 10, "GPU running hot", "."),
            (
                "Critical",
                "critical",
                GPU_TEMP_CRITICAL_C,
                5,
                "GPU overheating",
                ": expect throttling.",
            ),
        )
    ]


def _budget_alerts() -> list[Rule]:
    """A warning and a critical alert on a team's budget burn, the same rule at two thresholds."""
    return [
        _alert(
            f"FinopsBudgetBurn{suffix}",
            f"{TEAM_BUDGET_BURN} > {threshold}",
            (severity, "budget"),
            summary,
            f"At the last 24 hours' rate, team {{{{ $labels.team }}}} would spend {how_much}.",
            for_="1h",
        )
        for suffix, severity, threshold, summary, how_much in (
            (
                "High",
                "warning",
                BUDGET_WARNING_BURN,
                "Team on pace to exceed its monthly GPU budget",
                f"more than its monthly GPU budget (burn over {BUDGET_WARNING_BURN:g})",
            ),
            (
                "Critical",
                "critical",
                BUDGET_CRITICAL_BURN,
                "Team burning its monthly GPU budget far too fast",
                f"over {BUDGET_CRITICAL_BURN:g} times its monthly GPU budget",
            ),
        )
    ]


def alert_groups(ctx: QueryContext | None = None) -> list[RuleGroup]:
    ctx = ctx or rule_context()
    idle = (
        f"max by (namespace, pod, node, gpu_model) ({ctx.busy_per_gpu(BUSY_METRICS)})"
        f" < {IDLE_BUSY_THRESHOLD}"
    )
    temperature = f"max by (node, gpu, UUID, modelName) ({ctx.dcgm_node(GPU_TEMPERATURE)})"
    anomaly = (
        f"({TEAM_COST} > on (team) ({TEAM_COST_AVG_7D} + {ANOMALY_SIGMAS} * {TEAM_COST_STDDEV_7D}))"
        f" and on (team) ({TEAM_COST} > on (team) {ANOMALY_MIN_RATIO} * {TEAM_COST_AVG_7D})"
    )
    gpu = RuleGroup(
        "finops-gpu-alerts",
        (
            _alert(
                "FinopsIdleAllocatedGPU",
                idle,
                ("warning", "idle-gpu"),
                "Allocated GPUs idle for 30 minutes",
                "Pod {{ $labels.namespace }}/{{ $labels.pod }} holds GPUs on "
                "{{ $labels.node }} ({{ $labels.gpu_model }}) that have been under "
                f"{IDLE_BUSY_THRESHOLD:.0%} busy for {IDLE_FOR}; it is paid for "
                'whatever it does. Busiest GPU: {{ $value | printf "%.2f" }} engine-active.',
                for_=IDLE_FOR,
            ),
            *_temperature_alerts(temperature),
            _alert(
                "FinopsGPUXidError",
                f"max by (node, gpu, UUID, modelName) ({ctx.dcgm_node(XID_ERRORS)}) > 0",
                ("critical", "gpu-xid"),
                "GPU reported an XID error",
                "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on {{ $labels.node }} "
                "reported XID {{ $value }}; see NVIDIA's XID catalogue (48, 63, 64, "
                "74, 79, 94, 95 usually need the node drained).",
            ),
            _alert(
                "FinopsExporterDown",
                f'up{{job=~"{"|".join(EXPORTER_JOBS)}"}} == 0',
                ("warning", "pipeline"),
                "A metrics source finops needs is down",
                "{{ $labels.job }} target {{ $labels.instance }} has not answered "
                "scrapes for 10 minutes: GPU costs will have gaps.",
                for_="10m",
            ),
        ),
    )
    cost = RuleGroup(
        "finops-cost-alerts",
        (
            *_budget_alerts(),
            _alert(
                "FinopsCostAnomaly",
                anomaly,
                ("warning", "cost-anomaly"),
                "Team GPU spend far above its 7-day baseline",
                'Team {{ $labels.team }} is spending {{ $value | printf "%.2f" }} $/h on '
                f"GPUs, over {ANOMALY_SIGMAS} standard deviations and "
                f"{ANOMALY_MIN_RATIO}x above its 7-day mean, for 30 minutes.",
                for_="30m",
            ),
        ),
    )
    return [gpu, cost]


def ledger_group(ctx: QueryContext | None = None, sharing: Sharing | None = None) -> RuleGroup:
    """The recorded ledger as a deployed Prometheus evaluates it: every interval (a minute, or
    the scrape interval under a minute: ``recorded.rule_interval``) the per-instant rates at the
    grain, and in the first interval of each hour their integral over the hour and
    ``finops_rules_info`` (see ``queries.recorded``); made with ``sharing`` when given."""
    ctx = _with_sharing(ctx, sharing)
    rq = RecordedQueries(ctx)
    rates = [Rule(rate_name(m), rq.rate(m, live=True)) for m in RECORDED_MEASURES]
    team_rates = [Rule(team_rate_name(m), rq.team_rate_from_grain(m)) for m in TEAM_MEASURES]
    hourly = [Rule(hourly_name(m), rq.hourly_from_rate(m)) for m in RECORDED_MEASURES]
    team_hourly = [
        Rule(team_hourly_name(m), rq.hourly_from_rate(m, team=True)) for m in TEAM_MEASURES
    ]
    daily = [Rule(daily_name(m), rq.daily_from_hourly(m)) for m in RECORDED_MEASURES]
    # finops_rules_info before the days: a day is rolled up once its 24 hours are recorded,
    # the hour just ended included (``RecordedQueries.from_hours``).
    info = Rule(RULES_INFO, rq.info(), labels=info_labels(ctx))
    stats_hourly, stats_daily = stats_rules(rq, from_hours=True)
    rules = (*rates, *team_rates, *hourly, *team_hourly, *stats_hourly, info, *daily, *stats_daily)
    return RuleGroup(LEDGER_GROUP, rules, f"{rq.interval_s}s")


def stats_rules(rq: RecordedQueries, *, from_hours: bool) -> tuple[list[Rule], list[Rule]]:
    """``gpus``' and ``rightsize``'s per-GPU and per-workload statistics per hour, and per UTC
    day (``queries.recorded_stats``): each hour from the raw series once an hour; each day from
    its hours (live, and a replay's second run) or from the raw series (promtool)."""
    hourly = [
        Rule(s.hourly_name(), recorded_stats.from_raw(rq, s)) for s in recorded_stats.RECORDED_STATS
    ]
    daily = [
        Rule(
            s.daily_name(),
            recorded_stats.daily_from_hourly(rq, s)
            if from_hours
            else recorded_stats.from_raw(rq, s, days=True),
        )
        for s in recorded_stats.RECORDED_STATS
        if s.daily
    ]
    return hourly, daily


def ledger_backfill_group(
    ctx: QueryContext | None = None, sharing: Sharing | None = None
) -> RuleGroup:
    """The hourly rollups and ``finops_rules_info`` for ``promtool tsdb create-blocks-from
    rules`` or ``vmalert -replay``: each rollup integrates the raw series itself (a backfill
    cannot read the rules it writes). Same names and values as ``ledger_group``'s; evaluated
    every minute whatever the scrape interval (the tools evaluate on whole minutes, so the
    gated evaluation is the hour's own instant). Made with ``sharing`` when given."""
    ctx = _with_sharing(ctx, sharing)
    rq = RecordedQueries(ctx, RULE_INTERVAL_S)
    hourly = [Rule(hourly_name(m), rq.hourly_from_raw(m)) for m in RECORDED_MEASURES]
    team_hourly = [
        Rule(team_hourly_name(m), rq.hourly_from_raw(m, team=True)) for m in TEAM_MEASURES
    ]
    daily = [Rule(daily_name(m), rq.daily_from_raw(m)) for m in RECORDED_MEASURES]
    info = Rule(RULES_INFO, rq.info(), labels=info_labels(ctx))
    stats_hourly, stats_daily = stats_rules(rq, from_hours=False)
    rules = (*hourly, *team_hourly, *daily, *stats_hourly, *stats_daily, info)
    return RuleGroup(LEDGER_BACKFILL_GROUP, rules, f"{RULE_INTERVAL_S}s")


def ledger_backfill_document(ctx: QueryContext | None = None) -> dict[str, Any]:
    return {"groups": [ledger_backfill_group(ctx).to_dict()]}


def ledger_replay_groups(
    ctx: QueryContext | None = None, sharing: Sharing | None = None
) -> tuple[RuleGroup, RuleGroup]:
    """``vmalert -replay``'s two runs, evaluated on the hour (``deploy.backfill`` starts them
    on one): first the hourly rollups from the raw series and ``finops_rules_info``, then what
    adds them up (the team rollups, and every UTC day whose 24 hours were recorded). A run's
    results are readable once it has exited, so the second reads the first's; integrating each
    day from the raw series again was more than half of a one-run replay's work. promtool's
    blocks are not readable until moved into the server, so ``ledger_backfill_group``
    integrates every rollup from the raw series. Same names and values as ``ledger_group``'s."""
    ctx = _with_sharing(ctx, sharing)
    rq = RecordedQueries(ctx, ROLLUP_S)
    hourly = [Rule(hourly_name(m), rq.hourly_from_raw(m)) for m in RECORDED_MEASURES]
    stats_hourly, stats_daily = stats_rules(rq, from_hours=True)
    info = Rule(RULES_INFO, rq.info(), labels=info_labels(ctx))
    team_hourly = [Rule(team_hourly_name(m), rq.team_hourly_from_hourly(m)) for m in TEAM_MEASURES]
    daily = [Rule(daily_name(m), rq.daily_from_hourly(m)) for m in RECORDED_MEASURES]
    interval = f"{ROLLUP_S}s"
    return (
        RuleGroup(LEDGER_REPLAY_HOURS_GROUP, (*hourly, *stats_hourly, info), interval),
        RuleGroup(LEDGER_REPLAY_SUMS_GROUP, (*team_hourly, *daily, *stats_daily), interval),
    )


def scrape_interval_problem(seconds: float) -> str | None:
    """Why the rules cannot be made for scrapes ``seconds`` apart, or None: the ledger's hours
    must hold whole sample instants, and its group runs every minute or every ``S``."""
    step = int(seconds)
    if step != seconds or step < 1 or 3600 % step or (60 % step and step % 60):
        return (
            f"scrape interval {seconds:g} s: the recorded ledger needs a whole number of seconds "
            "that divides a minute or is a whole number of minutes dividing an hour "
            "(15 s, 30 s, 60 s, 5 min...)"
        )
    return None


def rules_document(
    ctx: QueryContext | None = None, ledger: QueryContext | None = None
) -> dict[str, Any]:
    """Every rule group; the recorded ledger made in ``ledger`` (``ledger_context``: default
    60 s scrapes, whole GPUs, OpenCost's prices), which its ``finops_rules_info`` says, so the
    CLI refuses it on data that differs."""
    groups = [*recording_groups(ctx), ledger_group(ledger or ledger_context()), *alert_groups(ctx)]
    return {"groups": [g.to_dict() for g in groups]}


def budgets_document(budgets: Mapping[str, float]) -> dict[str, Any]:
    """Monthly GPU budgets per team as constant series; none gives an empty group."""
    rules = [
        Rule(TEAM_BUDGET, f"vector({float(amount)!r})", labels={"team": team}).to_dict()
        for team, amount in sorted(budgets.items())
    ]
    return {"groups": [{"name": "finops-budgets", "interval": "5m", "rules": rules}]}

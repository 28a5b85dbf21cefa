"""The recorded ledger: hourly rollups at the grain every cost question needs, and their reads.

The ledger's per-group measures (``QueryContext.gpus_allocated``, ``gpu_cost_rate``...) are
recorded without the pod name, at the grain of every ``--by`` and filter ``costs`` offers except
``node``: the cluster, the namespace, the pod-label keys (team, project, model, environment), the
cost-center annotation and the GPU model (``GRAIN_KEYS``). Pods join their attributes and their
node's GPU model as a *left* join here, so the grain adds up to the cluster's allocated figures
(recorded per cluster too, ``CLUSTER_MEASURES``), and a grouping that raw queries answer without
a join (``--by namespace``) loses nothing.

Unit costs have their own measures (``TRAFFIC_MEASURES``, ``SERVED_RECORDED``): the inference
servers' traffic (``InferenceQueries.traffic_rate``: per-scrape counter increases, per hour) by
cluster, namespace, the pod-attribute keys and ``served_model``, and the ledger measures of
serving pods without a model label moved onto the models they report (``InferenceQueries.served``)
by cluster, namespace and ``served_model``. Both integrate like the ledger's, so they have the
same three series and are read the same way.

Two kinds of series (docs/deployment.md, "The recorded ledger"):

- ``ledger:finops_<measure>:per_hour``: the per-instant rate at the grain (GPUs, $/h), recorded
  every minute by a deployed Prometheus (dashboards read it too);
- ``ledger:finops_<measure>:sum_1h``: its integral over the hour ``(h - 1h, h]``, recorded once
  an hour, in the minute after ``h`` (a rule group evaluated every minute whose hourly rules are
  gated by ``minute() == 0``: Prometheus offsets a group's evaluations by less than its interval,
  so a 1-minute group lands within a minute of the hour, where an hourly group could land
  anywhere in the hour). The sum is over the same instants, ``S`` apart and aligned to ``S``, that
  the CLI's raw bucket integrates (``over_buckets``), so a recorded hour equals the raw hour.

Live, the hourly rollups sum the minute rates (cheap); backfilled (``promtool tsdb
create-blocks-from rules``, ``vmalert -replay``) each rollup integrates the raw series itself,
since a backfill cannot read rules it is writing. ``finops_rules_info`` is recorded with the
rollups and carries the rule-set version and the settings the rules were made with; the CLI uses
recorded hours only where it exists with the CLI's own settings, and the capacity rollup marks
which hours (and clusters) were recorded.

The CLI reads a bucket ending at ``b`` (any whole number of hours) as
``sum by (keys) (sum_over_time(ledger:...:sum_1h{filters}[bucket]))`` evaluated at ``b + 60s``
(``READ_LAG_S``): that window holds exactly the rollups of the bucket's hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from finops_cli.promql import duration, label_name, matchers, quote
from finops_cli.queries import recorded_prices, recorded_sharing
from finops_cli.queries.context import QueryContext, over_buckets
from finops_cli.queries.inference import TRAFFIC_COUNTERS, InferenceQueries
from finops_cli.queries.names import (
    BUSY_PROFILING,
    BUSY_UTIL,
    ENERGY_COUNTER,
    POD_ATTRIBUTE_KEYS,
    POWER_USAGE,
    RULES_INFO,
)
from finops_cli.queries.sharing import alternation

RULES_VERSION = "5"
"""2: energy (``energy_kwh`` at the grain and region, the cluster's held and whole energy);
3: ``gpus``' and ``rightsize``'s statistics (``queries.recorded_stats``);
4: unit costs' traffic and served shares (``TRAFFIC_MEASURES``, ``SERVED_RECORDED``);
5: the ``sharing`` the rules were made with (``queries.recorded_sharing``)."""
RULE_INTERVAL_S = 60
"""Evaluation interval of the ledger's rule group at scrape intervals of a minute or more (and of
the backfill group always): a rollup lands less than this after its hour."""
ROLLUP_S = 3600
DAY_S = 86400
READ_LAG_S = RULE_INTERVAL_S
"""A bucket ending at ``b`` is read at ``b + READ_LAG_S``: its last rollup is in ``[b, b+60s)``."""
GRAIN_KEYS = ("namespace", *POD_ATTRIBUTE_KEYS, "gpu_model")
"""What the grain keeps (and the cluster label): every group key but ``node``."""
RECORDED_BUSY_METRICS = frozenset({BUSY_PROFILING, BUSY_UTIL})

GRAIN_MEASURES = (
    "gpu_hours",
    "gpu_cost",
    "cpu_ram_cost",
    "busy_gpu_hours",
    "observed_gpu_hours",
    "wasted_cost",
    "energy_kwh",
)
CLUSTER_MEASURES = (
    "allocated_gpu_hours",
    "allocated_gpu_cost",
    "allocated_wasted_cost",
    "capacity_gpu_hours",
    "capacity_gpu_cost",
    "allocated_energy_kwh",
    "capacity_energy_kwh",
)
"""Recorded per cluster: the grain summed would give the allocated ones too, at the grain's
cardinality; a series per cluster reads a sample an hour."""
TRAFFIC_MEASURES = tuple(TRAFFIC_COUNTERS)
"""Unit costs' traffic (requests, tokens, vLLM's phase seconds and prefix cache), per hour at
one instant, by ``TRAFFIC_KEYS`` and ``served_model``."""
TRAFFIC_KEYS = ("namespace", *POD_ATTRIBUTE_KEYS)
"""What the traffic grain keeps (and the cluster label, and ``served_model``): every key a unit
costs filter takes (a GPU model filter selects no traffic: a serving pod may hold none)."""
SERVED_RECORDED = {
    "served_gpu_hours": "gpu_hours",
    "served_gpu_cost": "gpu_cost",
    "served_busy_gpu_hours": "busy_gpu_hours",
    "served_observed_gpu_hours": "observed_gpu_hours",
    "served_wasted_cost": "wasted_cost",
    "served_energy_kwh": "energy_kwh",
}
"""The ledger measures of serving pods without a model label, moved onto the models they report
(``InferenceQueries.served``), by cluster, namespace and ``served_model``: the recorded name of
each, and the measure it moves."""
SERVED_KEYS = ("namespace",)
MODEL_MEASURES = frozenset({*TRAFFIC_MEASURES, *SERVED_RECORDED})
RECORDED_MEASURES = (*GRAIN_MEASURES, *CLUSTER_MEASURES, *TRAFFIC_MEASURES, *SERVED_RECORDED)
TEAM_MEASURES = ("gpu_cost", "busy_gpu_hours", "observed_gpu_hours")
"""Also recorded by cluster and team alone (``team_hourly_name``): what ``anomalies`` reads per
hour (and ``forecast``, ``costs --by team`` in part). The whole grain has several series per team
(a series per namespace, project, model...), one per team reads a sample per team and hour."""
ENERGY_MEASURES = frozenset(
    {"energy_kwh", "allocated_energy_kwh", "capacity_energy_kwh", "served_energy_kwh"}
)
"""kWh, per region too (``region``: the carbon factor is a region's): the energy counter or
power of every GPU, preferred GPU by GPU as ``queries.energy`` does with both present."""
RECORDED_ENERGY_METRICS = frozenset({ENERGY_COUNTER, POWER_USAGE})
NODE_JOINED = frozenset({"gpu_hours", "gpu_cost", "cpu_ram_cost"})
"""Measures whose GPU model comes from the node's model join: a raw ``--by gpu-model`` drops
pods on nodes without a model (they reach ``__unallocated__``), the grain keeps them with an
empty ``gpu_model``, so a read by GPU model leaves them out as raw does."""

INFO_FIELDS = (
    "version",
    "team_label",
    "project_label",
    "model_label",
    "environment_label",
    "cost_center_annotation",
    "cluster_label",
    "sample_interval",
    "allocation",
    "dcgm_pod_label",
    "dcgm_node",
    "sharing",
    "prices",
)
"""The labels of ``finops_rules_info``: what recorded data must agree with to be used (all but
``sharing`` and ``prices`` equal; those must cover the window's, ``recorded_sharing.covers``
and ``recorded_prices.covers``)."""
COVERED_FIELDS = ("sharing", "prices")
"""The fields of ``finops_rules_info`` that must cover the window's rather than equal it."""


def rule_interval(sample_interval_s: float) -> int:
    """How often the live ledger group runs for scrapes ``S`` apart: every ``S`` under a minute
    (each sample instant is evaluated, as the raw bucket integrates them), else every minute
    (``S`` is then a whole number of minutes, so each sample is summed ``S / 60`` times at
    ``1/60`` h, which is its ``S`` hours)."""
    step = int(sample_interval_s)
    if 0 < step < RULE_INTERVAL_S and RULE_INTERVAL_S % step == 0:
        return step
    return RULE_INTERVAL_S


def rate_name(measure: str) -> str:
    """The per-minute series of a measure (GPUs, $/h at one instant)."""
    return f"ledger:finops_{measure}:per_hour"


def hourly_name(measure: str) -> str:
    """The hourly rollup of a measure (GPU-hours, $ over the hour before it)."""
    return f"ledger:finops_{measure}:sum_1h"


def team_rate_name(measure: str) -> str:
    """The per-minute series of a measure by cluster and team alone."""
    return f"ledger_team:finops_{measure}:per_hour"


def team_hourly_name(measure: str) -> str:
    """The hourly rollup of a measure by cluster and team alone."""
    return f"ledger_team:finops_{measure}:sum_1h"


def daily_name(measure: str) -> str:
    """The daily rollup of a measure (over the UTC day before it)."""
    return f"ledger:finops_{measure}:sum_1d"


COVERAGE_SERIES = hourly_name("capacity_gpu_hours")
"""Recorded for every hour a cluster had GPUs: which hours (and clusters) the rollups cover."""


def info_labels(ctx: QueryContext) -> dict[str, str]:
    """What ``finops_rules_info`` says about rules made in ``ctx`` (and what a CLI in ``ctx``
    expects to find). ``prices`` only where the catalog prices the nodes: rules made for
    OpenCost's prices carry none (``allocation`` tells them apart)."""
    pod_labels = ctx.pod_labels
    labels = {
        "version": RULES_VERSION,
        "team_label": pod_labels.get("team", ""),
        "project_label": pod_labels.get("project", ""),
        "model_label": pod_labels.get("model", ""),
        "environment_label": pod_labels.get("environment", ""),
        "cost_center_annotation": ctx.annotation_key("cost_center"),
        "cluster_label": ctx.cluster_label or "",
        "sample_interval": str(int(ctx.sample_interval_s)),
        "allocation": "opencost" if ctx.catalog_prices is None else "catalog",
        "dcgm_pod_label": ctx.dcgm_pod_label,
        # Empty (no label) where every exporter names its host: rules made before the field.
        "dcgm_node": "pod_ip" if ctx.dcgm_node_by_ip else "",
        "sharing": recorded_sharing.canonical(ctx.sharing),
    }
    if ctx.catalog_prices is not None:
        labels["prices"] = recorded_prices.canonical(ctx.catalog_prices)
    return labels


def rules_info_selector(ctx: QueryContext) -> str:
    """``finops_rules_info`` of rules made in ``ctx`` exactly (one sample an hour they ran)."""
    return f"{RULES_INFO}{matchers(info_labels(ctx))}"


def _info_cluster(ctx: QueryContext) -> str:
    """The cluster filter on ``finops_rules_info``, which carries the cluster's label only where
    each cluster's own Prometheus evaluated the rules (its external labels, read through Thanos
    or a central store) and none where one engine evaluated them over every cluster's series (a
    backfill, vmalert over VictoriaMetrics): either answers for the cluster."""
    if ctx.cluster_filter is None or not ctx.cluster_label:
        return ""
    return f"{label_name(ctx.cluster_label)}=~{alternation([ctx.cluster_filter, ''])}"


@dataclass(frozen=True)
class RecordedQueries:
    """The recording rules of the ledger (``rate``, ``hourly_*``) and the CLI's reads."""

    ctx: QueryContext
    group_interval_s: int | None = None
    """The rule group's interval when not ``rule_interval``'s (a backfill: every minute)."""
    sharing_accepted: tuple[str, ...] | None = None
    """The ``sharing`` values of ``finops_rules_info`` whose rules cover the context's sharing
    (``recorded_sharing.covers``); None: the context's own value alone."""
    prices_accepted: tuple[str, ...] | None = None
    """The ``prices`` values whose rules price the window's nodes as the context does
    (``recorded_prices.covers``); None: the context's own value alone."""

    # ---- the rules -------------------------------------------------------------------------
    def _grain(
        self,
        per_entry: str,
        *,
        aggregate: str = "sum",
        node_labels: bool = False,
        extra: tuple[str, ...] = (),
        keys: tuple[str, ...] = GRAIN_KEYS,
    ) -> str:
        ctx = self.ctx
        carried = ", ".join(sorted({ctx.prom_label(k) for k in POD_ATTRIBUTE_KEYS}))
        attributes = ctx.pod_attributes(POD_ATTRIBUTE_KEYS, {})
        # Left joins: ``or ignoring (<what the join added>)`` keeps each entry the join did
        # not match, matched on all its own labels (``or on (pod)`` would match by a key that
        # several entries share, which VictoriaMetrics' range queries answer wrongly).
        expr = (
            f"(({per_entry}) * on ({ctx.pod_join}) group_left ({carried}) {attributes}"
            f" or ignoring ({carried}) ({per_entry}))"
        )
        if not node_labels and "gpu_model" in keys:
            expr = (
                f"({expr} * on ({ctx.node_join}) group_left (gpu_model) {ctx.node_gpu_model()}"
                f" or ignoring (gpu_model) {expr})"
            )
        by = ctx.grouping([*(ctx.prom_label(k) for k in keys), *extra])
        return f"{aggregate} by ({by}) ({expr})"

    def rate(self, measure: str, *, team: bool = False, live: bool = False) -> str:
        """The per-instant rate of ``measure`` at the grain (capacity: per cluster); with
        ``team``, by cluster and team alone (``TEAM_MEASURES``); ``live``: the rule group's own
        series, evaluated every ``interval_s`` (traffic differences over that step)."""
        ctx = self.ctx
        busy = RECORDED_BUSY_METRICS
        keys = ("team",) if team else GRAIN_KEYS
        if measure in TRAFFIC_MEASURES:
            iq = InferenceQueries(ctx, ctx.attribute_lookback_s)
            step = self.interval_s if live else None
            return iq.traffic_rate(TRAFFIC_COUNTERS[measure], TRAFFIC_KEYS, {}, step)
        if measure in SERVED_RECORDED:
            return self.served_rate(SERVED_RECORDED[measure])
        if measure == "gpu_hours":
            return self._grain(ctx.pod_gpus(), keys=keys)
        if measure == "gpu_cost":
            return self._grain(ctx.pod_gpu_cost(), keys=keys)
        if measure == "cpu_ram_cost":
            return self._grain(ctx.pod_cpu_ram_cost(), keys=keys)
        if measure == "busy_gpu_hours":
            return self._grain(ctx.busy_entries(busy), node_labels=True, keys=keys)
        if measure == "observed_gpu_hours":
            if ctx.shares is None:
                return self._grain(
                    ctx.busy_per_gpu(busy), aggregate="count", node_labels=True, keys=keys
                )
            return self._grain(ctx.observed_entries(busy), node_labels=True, keys=keys)
        if measure == "wasted_cost":
            return self._grain(ctx.wasted_entries(busy), node_labels=True, keys=keys)
        if measure == "energy_kwh":
            energy = ctx.energy_entries(RECORDED_ENERGY_METRICS)
            return self._grain(energy, node_labels=True, extra=("region",))
        if measure == "allocated_energy_kwh":
            return ctx.allocated_energy_rate(RECORDED_ENERGY_METRICS)
        if measure == "capacity_energy_kwh":
            return ctx.capacity_energy_rate(RECORDED_ENERGY_METRICS)
        if measure == "allocated_gpu_hours":
            return ctx.gpus_allocated([], {})
        if measure == "allocated_gpu_cost":
            return ctx.gpu_cost_rate([], {})
        if measure == "allocated_wasted_cost":
            return ctx.wasted_cost_rate([], {}, busy)
        if measure == "capacity_gpu_hours":
            return ctx.capacity_gpus()
        if measure == "capacity_gpu_cost":
            return ctx.capacity_cost_rate()
        raise ValueError(f"no recorded measure {measure!r}")

    def served_rate(self, measure: str) -> str:
        """``measure`` of unlabelled serving pods per served model (what ``inference`` moves)."""
        ctx = self.ctx
        iq = InferenceQueries(ctx, ctx.attribute_lookback_s)
        busy = RECORDED_BUSY_METRICS
        if measure == "gpu_hours":
            return iq.served(ctx.pod_gpus(), keys=SERVED_KEYS)
        if measure == "gpu_cost":
            return iq.served(ctx.pod_gpu_cost(), keys=SERVED_KEYS)
        if measure == "busy_gpu_hours":
            return iq.served(ctx.busy_entries(busy), keys=SERVED_KEYS)
        if measure == "observed_gpu_hours":
            if ctx.shares is None:
                return iq.served(ctx.busy_per_gpu(busy), "count", keys=SERVED_KEYS)
            return iq.served(ctx.observed_entries(busy), keys=SERVED_KEYS)
        if measure == "wasted_cost":
            return iq.served(ctx.wasted_entries(busy), keys=SERVED_KEYS)
        if measure == "energy_kwh":
            energy = ctx.energy_entries(RECORDED_ENERGY_METRICS)
            return iq.served(energy, extra="region", keys=SERVED_KEYS)
        raise ValueError(f"no served measure {measure!r}")

    @property
    def interval_s(self) -> int:
        """How often the rule group runs (live: ``rule_interval``)."""
        return self.group_interval_s or rule_interval(self.ctx.sample_interval_s)

    def _gate(self, period_s: int) -> str:
        """Kept only at the one evaluation in ``[p, p + interval)`` of each period ``p``."""
        if self.interval_s == RULE_INTERVAL_S:
            return "minute() == 0" if period_s == ROLLUP_S else "hour() == 0 and minute() == 0"
        return f"vector(time()) % {period_s} < {self.interval_s}"

    def hourly(self, expr: str) -> str:
        """``expr`` kept only at the evaluation in the first interval of each hour (every
        evaluation of an hourly group: a replay evaluates on the hour, ``deploy.backfill``)."""
        if self.interval_s >= ROLLUP_S:
            return expr
        return f"{expr} and on () ({self._gate(ROLLUP_S)})"

    def hourly_from_raw(self, measure: str, *, team: bool = False) -> str:
        """The hour's integral of ``measure`` from the raw series (what a backfill records)."""
        rate = self.rate(measure, team=team)
        integral = over_buckets(rate, ROLLUP_S, self.ctx.sample_interval_s)
        return self.hourly(f"({integral})")

    def hourly_from_rate(self, measure: str, *, team: bool = False) -> str:
        """The hour's integral from the rates the group recorded every interval (live rules)."""
        hours = self.interval_s / 3600
        name = team_rate_name(measure) if team else rate_name(measure)
        summed = f"sum_over_time({name}[{duration(ROLLUP_S - 0.001)}])"
        return self.hourly(f"{summed} * {hours!r}")

    def team_hourly_from_hourly(self, measure: str) -> str:
        """The hour's team rollup from the grain's rollup of the same hour, recorded before it
        (a replay's second run): the grain summed by cluster and team, as
        ``team_rate_from_grain`` sums the rates. The window holds the hour's own rollup alone
        (an instant selector would take the hour before's where a group stopped, on engines
        whose lookback follows the samples' spacing)."""
        window = duration(self.interval_s - 0.001)
        by = self.ctx.grouping([self.ctx.prom_label("team")])
        return self.hourly(f"sum by ({by}) (sum_over_time({hourly_name(measure)}[{window}]))")

    def team_rate_from_grain(self, measure: str) -> str:
        """The team rate from the grain's, recorded just before (live rules)."""
        return f"sum by ({self.ctx.grouping([self.ctx.prom_label('team')])}) ({rate_name(measure)})"

    def daily(self, expr: str) -> str:
        """``expr`` kept only at the evaluation in the first interval of each UTC day."""
        return f"{expr} and on () ({self._gate(DAY_S)})"

    def daily_from_raw(self, measure: str) -> str:
        """The UTC day's integral of ``measure`` from the raw series (a backfill)."""
        integral = over_buckets(self.rate(measure), DAY_S, self.ctx.sample_interval_s)
        return self.daily(f"({integral})")

    def daily_from_hourly(self, measure: str) -> str:
        """The UTC day's integral: the day's 24 hourly rollups, recorded before it (live, and
        a replay's second run)."""
        return self.from_hours(f"sum_over_time({hourly_name(measure)}[{duration(DAY_S - 0.001)}])")

    def from_hours(self, day_expr: str) -> str:
        """``day_expr`` (a day's figure from its hourly rollups) kept at the first evaluation of
        the UTC day, and only where the rules recorded all 24 hours of the day before: a day
        rolled up from some of its hours would stay short once its other hours were backfilled
        (rules deployed mid-day, then history backfilled up to then), and the CLI reads a day's
        rollup wherever its 24 hours are recorded."""
        recorded = f"count_over_time({rules_info_selector(self.ctx)}[{duration(DAY_S - 0.001)}])"
        hours_per_day = DAY_S // ROLLUP_S
        return self.daily(f"({day_expr} and on () ({recorded} >= {hours_per_day}))")

    def info(self) -> str:
        return self.hourly("vector(1)")

    # ---- the CLI's reads -------------------------------------------------------------------
    def read(
        self,
        measure: str,
        keys: Sequence[str],
        filters: Mapping[str, str],
        length_s: float,
        *,
        days: bool = False,
    ) -> str:
        """``measure`` per group over ``length_s`` (whole hours, or whole UTC days with
        ``days``) ending ``READ_LAG_S`` before the evaluation time, summed from the hourly
        (daily) rollups."""
        ctx = self.ctx
        per_cluster = measure in CLUSTER_MEASURES
        if per_cluster:
            keys, filters = (), {}
        wanted = matchers({ctx.prom_label(k): v for k, v in filters.items()})[1:-1]
        parts = [wanted, ctx.cluster_matcher()]
        if measure in NODE_JOINED and "gpu_model" in (*keys, *filters):
            parts.append('gpu_model!=""')
        selector = ",".join(p for p in parts if p)
        name = daily_name(measure) if days else hourly_name(measure)
        if not days and measure in TEAM_MEASURES and {*keys, *filters} <= {"team", "cluster"}:
            name = team_hourly_name(measure)
        read = f"sum_over_time({name}{{{selector}}}[{duration(length_s)}])"
        if ctx.replica_labels:
            replicas = ", ".join(label_name(r) for r in ctx.replica_labels)
            read = f"max without ({replicas}) ({read})"
        extra = ["region"] if measure in ENERGY_MEASURES else []
        if measure in MODEL_MEASURES:
            extra.append("served_model")
        if per_cluster:
            labels = ctx.grouping(extra)
            by = f" by ({labels})" if labels else ""
        else:
            labels = ctx.grouping([*(ctx.prom_label(k) for k in keys), *extra])
            by = f" by ({labels})" if labels else ""
        return f"sum{by} ({read})"

    def coverage(self, *, days: bool = False) -> str:
        """Per hour (per UTC day with ``days``), read at its end + ``READ_LAG_S``: how many
        clusters have a capacity rollup recorded under a ``finops_rules_info`` with this
        context's settings (and a ``sharing`` in ``sharing_accepted``)."""
        ctx = self.ctx
        cluster = ctx.cluster_matcher()
        window_s = DAY_S if days else ROLLUP_S
        window = duration(window_s)
        series = daily_name("capacity_gpu_hours") if days else COVERAGE_SERIES
        recorded = f"count_over_time({series}{{{cluster}}}[{window}])"
        if ctx.cluster_label:
            recorded = f"count by ({label_name(ctx.cluster_label)}) ({recorded})"
        return f"count ({recorded}) and on () {self.ran(window_s)}"

    def ran(self, window_s: float) -> str:
        """How many ``finops_rules_info`` samples with this context's settings (and a
        ``sharing`` in ``sharing_accepted``, ``prices`` in ``prices_accepted``) lie in the
        ``window_s`` before the evaluation time: whether these rules evaluated then."""
        ctx = self.ctx
        labels = info_labels(ctx)
        matches = [f"{k}={quote(v)}" for k, v in labels.items() if k not in COVERED_FIELDS]
        for field, accepted in (
            ("sharing", self.sharing_accepted),
            ("prices", self.prices_accepted),
        ):
            if field in labels:
                values = (labels[field],) if accepted is None else accepted
                matches.append(f"{field}=~{alternation(sorted(set(values)))}")
        wanted = ",".join(p for p in (",".join(matches), _info_cluster(ctx)) if p)
        return f"count (count_over_time({RULES_INFO}{{{wanted}}}[{duration(window_s)}]))"

    def info_sets(self, window_s: float) -> str:
        """The label sets of ``finops_rules_info`` in the window (one series per set)."""
        cluster = _info_cluster(self.ctx)
        read = f"last_over_time({RULES_INFO}{{{cluster}}}[{duration(window_s)}])"
        return f"group by ({', '.join(INFO_FIELDS)}) ({read})"

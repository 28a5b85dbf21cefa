"""Unit costs' queries: inference traffic per model and the GPUs of the pods serving it.

Apart from the cost measures because they read other series (the inference servers' counters)
and answer per model rather than per group.

Traffic is the sum of the counters' increases between the sample instants of the window (``S``
apart and aligned to ``S``, the instants the ledger integrates): at each instant ``t``, the
counter's last value minus its last value at ``t - S`` (each the last sample within ``2S``: a
missed scrape keeps the value before it; a drop is a reset, a restarted server, and the increase
is then the new value). Summed over the instants, the differences telescope to the counter's
increase over the window, whole requests however the scrapes jitter, and an hour's traffic adds
up with the next hour's to the window's. ``traffic_rate`` is that increase per hour (``x 3600 /
S``), so that it integrates over a bucket exactly as a ledger measure does (``over_buckets``:
``sum_over_time`` of the instants, times ``S / 3600``) and an hour's traffic recorded by a rule
equals the raw hour's (``increase()`` over the window would extrapolate to its edges, so its
hours would not add up to it). Live rules evaluated every ``I`` take the difference over ``I``
instead (``step_s``), which telescopes the same way. Not counted: what a counter counted before
its first sample (Prometheus never saw it at zero: the one scrape interval in which a pod
started), and an increase across a gap of more than two scrape intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

from finops_cli.promql import duration, label_name
from finops_cli.queries.context import QueryContext, over_buckets
from finops_cli.queries.names import POD_ATTRIBUTE_KEYS, POD_LABELS

REQUEST_COUNTERS = (
    "vllm:request_success_total",
    "nv_inference_request_success",
    "tgi_request_success",
)
PROMPT_TOKEN_COUNTERS = ("vllm:prompt_tokens_total", "tgi_request_input_length_sum")
GENERATED_TOKEN_COUNTERS = ("vllm:generation_tokens_total", "tgi_request_generated_tokens_sum")
# vLLM's time per request phase (histogram sums, seconds): what splits a model's GPU cost
# between input and output tokens. Triton and TGI export no such split (their per-request
# durations mix both phases), so their models' cost stays blended.
PREFILL_TIME_COUNTERS = ("vllm:request_prefill_time_seconds_sum",)
DECODE_TIME_COUNTERS = ("vllm:request_decode_time_seconds_sum",)
PREFIX_CACHE_QUERY_COUNTERS = ("vllm:prefix_cache_queries_total",)  # prompt tokens looked up
PREFIX_CACHE_HIT_COUNTERS = ("vllm:prefix_cache_hits_total",)  # ... and found cached
TRAFFIC_COUNTERS = {
    "requests": REQUEST_COUNTERS,
    "prompt_tokens": PROMPT_TOKEN_COUNTERS,
    "generated_tokens": GENERATED_TOKEN_COUNTERS,
    "prefill_seconds": PREFILL_TIME_COUNTERS,
    "decode_seconds": DECODE_TIME_COUNTERS,
    "prefix_cache_queries": PREFIX_CACHE_QUERY_COUNTERS,
    "prefix_cache_hits": PREFIX_CACHE_HIT_COUNTERS,
}
SERVING_METRICS = REQUEST_COUNTERS
"""What marks a serving pod and the models it serves: every server counts requests per model."""


class InferenceQueries:
    """Traffic and serving-pod cost per model, in the same vocabulary as ``QueryContext``.

    A pod's model is its ``ai-finops.io/model`` label when it has one, else the name its
    inference server reports (vLLM ``model_name``, Triton ``model``); TGI reports none, so a TGI
    pod needs the label. Counters are read as per-scrape increases (``irate``, see the module),
    which absorb the resets of restarted pods.
    """

    def __init__(self, ctx: QueryContext, model_lookback_s: float) -> None:
        self.ctx = ctx
        self.lookback = model_lookback_s
        self.model_label = ctx.prom_label("model")

    def _normalise(self, expr: str) -> str:
        """One ``served_model`` label whatever the server calls it; old SD pod label names too."""
        for source in ("model", "model_name"):
            expr = f'label_replace({expr}, "served_model", "$1", "{source}", "(.+)")'
        expr = f'label_replace({expr}, "pod", "$1", "kubernetes_pod_name", "(.+)")'
        return f'label_replace({expr}, "namespace", "$1", "kubernetes_namespace", "(.+)")'

    def _join(self) -> str:
        return self.ctx.grouping(["namespace", "pod"])

    def model_pods(self, lookback_s: float) -> str:
        """Pods carrying the model label, one series each."""
        by = self.ctx.grouping(["namespace", "pod", self.model_label])
        read = self.ctx.read(POD_LABELS, lookback_s, f'{self.model_label}!=""')
        return f"topk by ({self._join()}) (1, group by ({by}) ({read}))"

    def traffic_entries(self, counters: Sequence[str], step_s: int | None = None) -> str:
        """Per pod and served model: the counters' increase since ``step_s`` before (``S`` by
        default: the step of the instants the measure is summed at), per hour."""
        ctx = self.ctx
        step = step_s or ctx.sample_interval_s
        cluster = ctx.cluster_matcher()
        selector = f'{{__name__=~"{"|".join(counters)}"{"," + cluster if cluster else ""}}}'
        # The counter's last value now and a step before, each within two scrape intervals
        # (range reads skip staleness markers, so a missed scrape keeps the value before it);
        # a drop is a reset (a restarted server): the increase is then the new value.
        lookback = f"[{duration(2 * ctx.sample_interval_s)}]"
        now = f"last_over_time({selector}{lookback})"
        before = f"last_over_time({selector}{lookback} offset {duration(step)})"
        last = f"({now} - {before} >= 0) or ({now} < {before}) * 1"
        if ctx.replica_labels:
            replicas = ", ".join(label_name(r) for r in ctx.replica_labels)
            last = f"max without ({replicas}) ({last})"
        by = ctx.grouping(["namespace", "pod", "served_model"])
        return f"sum by ({by}) ({self._normalise(f'({last})')}) * {3600 / step!r}"

    def traffic_rate(
        self,
        counters: Sequence[str],
        keys: Sequence[str],
        filters: dict[str, str],
        step_s: int | None = None,
    ) -> str:
        """Traffic per hour at one instant, by ``keys`` (namespace and pod-attribute keys) and
        ``served_model``. Pods join their attributes at the instant: a left join without
        filters (a pod without labels keeps its traffic, with empty values), an inner one with
        them (only matching pods)."""
        ctx = self.ctx
        entries = self.traffic_entries(counters, step_s)
        attribute_keys = [k for k in keys if k in POD_ATTRIBUTE_KEYS]
        joined = entries
        if attribute_keys or filters:
            carried = ", ".join(sorted({ctx.prom_label(k) for k in attribute_keys}))
            attributes = ctx.pod_attributes(attribute_keys, filters)
            joined = f"({entries}) * on ({ctx.pod_join}) group_left ({carried}) {attributes}"
            if not filters:
                joined = f"{joined} or ignoring ({carried}) ({entries})"
        by = ctx.grouping([*(ctx.prom_label(k) for k in keys), "served_model"])
        return f"sum by ({by}) ({joined})"

    def model_of(self, labels: dict[str, str]) -> str:
        """The model of a ``traffic_rate`` group by ``model``: its label, else the served name."""
        return labels.get(self.model_label, "") or labels.get("served_model", "")

    def traffic_by_model(
        self, counters: Sequence[str], window_s: float, filters: dict[str, str]
    ) -> str:
        """Traffic over the window per model (an instant query at the window's end). Without
        filters only the pods carrying a model label are looked up at each instant (what the
        dashboards' hourly rules evaluate every minute), not every pod's labels."""
        if filters:
            rate = self.traffic_rate(counters, ("model",), filters)
            served = f'label_replace({rate}, "model", "$1", "served_model", "(.+)")'
            labelled = f'label_replace({served}, "model", "$1", "{self.model_label}", "(.+)")'
        else:
            entries = self.traffic_entries(counters)
            pods = self.model_pods(self.ctx.attribute_lookback_s)
            join = self._join()
            labelled = (
                f"label_replace(({entries}) * on ({join}) group_left ({self.model_label}) "
                f'{pods}, "model", "$1", "{self.model_label}", "(.+)")'
            )
            labelled += (
                f" or label_replace(({entries}) unless on ({join}) {pods}, "
                '"model", "$1", "served_model", "(.+)")'
            )
        rate = f"sum by (model) ({labelled})"
        return over_buckets(rate, window_s, self.ctx.sample_interval_s)

    def served_share(self) -> str:
        """Each serving pod without a model label, split evenly over the models it reports."""
        by = self.ctx.grouping(["namespace", "pod", "served_model"])
        reads = self.ctx.read(SERVING_METRICS, self.ctx.attribute_lookback_s)
        models = f"group by ({by}) ({self._normalise(reads)})"
        labelled = self.model_pods(self.ctx.attribute_lookback_s)
        served = f"({models} unless on ({self._join()}) {labelled})"
        # A pod's models are counted over all it serves: the pods ``served`` keeps are whole.
        return (
            f"({served} / on ({self._join()}) group_left () count by ({self._join()}) ({models}))"
        )

    def served(
        self,
        per_pod_expr: str,
        aggregate: str = "sum",
        extra: str = "",
        keys: Sequence[str] = (),
    ) -> str:
        """A per-pod measure moved onto the models unlabelled serving pods report, by cluster
        and ``served_model`` (and ``keys``: ``namespace``); ``extra`` is one more label kept
        from the measure (``region`` for energy)."""
        labels = [extra] if extra else []
        per_pod = f"{aggregate} by ({self.ctx.grouping(['namespace', 'pod', *labels])}) "
        per_pod += f"({per_pod_expr})"
        by = self.ctx.grouping(["served_model", *labels, *keys])
        return (
            f"sum by ({by}) ({self.served_share()} * on "
            f"({self._join()}) group_left ({', '.join(labels)}) {per_pod})"
        )

"""Unit costs' queries: inference traffic per model and the GPUs of the pods serving it.

Apart from the cost measures because they read other series (the inference servers' counters,
through ``increase()``) and answer per model rather than per bucket and group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from finops_cli.promql import duration
from finops_cli.queries.context import QueryContext
from finops_cli.queries.names import POD_LABELS

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
    pod needs the label. Counters always go through ``increase()`` on the server, which
    absorbs the resets of restarted pods.
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

    def traffic_by_model(
        self, counters: Sequence[str], window_s: float, filters: dict[str, str]
    ) -> str:
        """Counter increase over the window per model (an instant query at the window's end)."""
        by = self.ctx.grouping(["namespace", "pod", "served_model"])
        cluster = self.ctx.cluster_matcher()
        selector = f'{{__name__=~"{"|".join(counters)}"{"," + cluster if cluster else ""}}}'
        increase = f"increase({selector}[{duration(window_s)}])"
        per_pod = f"sum by ({by}) ({self._normalise(increase)})"
        if filters:
            wide = replace(self.ctx, attribute_lookback_s=int(window_s))
            per_pod = (
                f"({per_pod}) * on ({self._join()}) group_left () "
                f"{wide.pod_attributes([], filters)}"
            )
        pods = self.model_pods(window_s)
        labelled = (
            f"label_replace(({per_pod}) * on ({self._join()}) group_left ({self.model_label}) "
            f'{pods}, "model", "$1", "{self.model_label}", "(.+)")'
        )
        unlabelled = (
            f"label_replace(({per_pod}) unless on ({self._join()}) {pods}, "
            '"model", "$1", "served_model", "(.+)")'
        )
        return f"sum by (model) ({labelled} or {unlabelled})"

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

    def served(self, per_pod_expr: str, aggregate: str = "sum", extra: str = "") -> str:
        """A per-pod measure moved onto the models unlabelled serving pods report; ``extra``
        is one more label kept (``region`` for energy)."""
        labels = [extra] if extra else []
        per_pod = f"{aggregate} by ({self.ctx.grouping(['namespace', 'pod', *labels])}) "
        per_pod += f"({per_pod_expr})"
        return (
            f"sum by ({', '.join(['served_model', *labels])}) ({self.served_share()} * on "
            f"({self._join()}) group_left ({', '.join(labels)}) {per_pod})"
        )

"""The query library: the one place that says in PromQL what "GPU cost of a team" means.

Every measure is an instant-vector expression evaluated at sample instants ``S`` apart; a window's
figure is ``sum_over_time(measure[window:S]) * S/3600`` (GPU-hours, dollars). The series that mark
existence (allocations, capacity) are read with ``last_over_time(m[S - 1ms])`` so that each scrape
counts exactly once whatever the engine's lookback or the lack of staleness markers in backfilled
data; series that only carry attributes (prices, pod labels) are read with a generous lookback.
The Prometheus rules that ``finops deploy`` ships are generated from these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from finops_cli.labels import kube_label_to_prometheus
from finops_cli.promql import duration, label_name, matchers, quote, regex_literal

POD_LABEL_KEYS = ("team", "project", "model", "environment")
# Group keys read from pod annotations (``kube_pod_annotations``), not labels.
POD_ANNOTATION_KEYS = ("cost_center",)
POD_ATTRIBUTE_KEYS = (*POD_LABEL_KEYS, *POD_ANNOTATION_KEYS)
GROUP_KEYS = (*POD_ATTRIBUTE_KEYS, "namespace", "node", "gpu_model", "cluster")
DEFAULT_COST_CENTER_KEY = "ai-finops.io/cost-center"  # settings: labels.cost_center

GPU_ALLOCATION = "container_gpu_allocation"
GPU_PRICE = "node_gpu_hourly_cost"
GPU_CAPACITY = "node_gpu_count"
GPU_REQUESTS = "kube_pod_container_resource_requests"
GPU_ALLOCATABLE = "kube_node_status_allocatable"
INSTANCE_TYPE_LABEL = "label_node_kubernetes_io_instance_type"
REGION_LABEL = "label_topology_kubernetes_io_region"
CAPACITY_LABELS = (
    "label_karpenter_sh_capacity_type",
    "label_eks_amazonaws_com_capacity_type",
    "label_cloud_google_com_gke_spot",  # "true" on GKE spot nodes
    "label_kubernetes_azure_com_scalesetpriority",  # "spot" on AKS spot pools
)
CPU_ALLOCATION = "container_cpu_allocation"
RAM_ALLOCATION = "container_memory_allocation_bytes"
CPU_PRICE = "node_cpu_hourly_cost"
RAM_PRICE = "node_ram_hourly_cost"
POD_LABELS = "kube_pod_labels"
POD_ANNOTATIONS = "kube_pod_annotations"
BUSY_PROFILING = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
BUSY_UTIL = "DCGM_FI_DEV_GPU_UTIL"
GPU_TEMPERATURE = "DCGM_FI_DEV_GPU_TEMP"

SAMPLE_COUNT_RANGE_S = 6 * 3600

# Metric names whose presence in a window decides which queries can run.
PROBED_METRICS = (
    GPU_ALLOCATION,
    GPU_PRICE,
    GPU_CAPACITY,
    CPU_ALLOCATION,
    CPU_PRICE,
    RAM_PRICE,
    POD_LABELS,
    POD_ANNOTATIONS,
    BUSY_PROFILING,
    BUSY_UTIL,
    GPU_TEMPERATURE,
    "DCGM_FI_DEV_FB_USED",
    GPU_REQUESTS,
    GPU_ALLOCATABLE,
    "kube_node_labels",
)


@dataclass(frozen=True)
class QueryContext:
    """What the queries need to know about the cluster's labelling and sampling.

    ``pod_labels`` maps a group key (team, project...) to the Kubernetes label key it comes from,
    and ``cost_center`` to the pod annotation key (default ``ai-finops.io/cost-center``);
    ``sample_interval_s`` is the scrape interval of the allocation series (``S``).
    """

    pod_labels: dict[str, str]
    sample_interval_s: int
    cluster_label: str | None = "cluster"
    exported_pod_labels: bool = False  # dcgm-exporter scraped with honorLabels: false
    attribute_lookback_s: int = 600
    cluster_filter: str | None = None  # only this cluster, on every series read
    replica_labels: tuple[str, ...] = ()  # HA pairs without Thanos: collapse replicas at leaves
    # Without OpenCost: GPUs from kube-state-metrics, priced from the catalog per
    # (instance type, region, capacity type) -> $/GPU-hour. None = OpenCost's own metrics.
    catalog_prices: tuple[tuple[str, str, str, float], ...] | None = None

    @property
    def dcgm_pod_label(self) -> str:
        """The label naming the pod on a dcgm-exporter series."""
        return "exported_pod" if self.exported_pod_labels else "pod"

    @property
    def dcgm_namespace_label(self) -> str:
        """The label naming the pod's namespace on a dcgm-exporter series."""
        return "exported_namespace" if self.exported_pod_labels else "namespace"

    def prom_label(self, key: str) -> str:
        """The Prometheus label a group key lives in after the queries below have run."""
        if key in POD_LABEL_KEYS:
            return kube_label_to_prometheus(self.pod_labels[key])
        if key in POD_ANNOTATION_KEYS:
            return kube_label_to_prometheus(self.annotation_key(key), prefix="annotation_")
        if key == "cluster":
            if not self.cluster_label:
                raise ValueError("grouping by cluster needs a cluster label")
            return self.cluster_label
        return key

    def annotation_key(self, key: str) -> str:
        """The Kubernetes annotation key a group key (cost_center) comes from."""
        return self.pod_labels.get(key) or DEFAULT_COST_CENTER_KEY

    @property
    def _pod_join(self) -> str:
        return ", ".join(self._with_cluster(["namespace", "pod"]))

    @property
    def _node_join(self) -> str:
        return ", ".join(self._with_cluster(["node"]))

    def _with_cluster(self, labels: Sequence[str]) -> list[str]:
        if not self.cluster_label or self.cluster_label in labels:
            return list(labels)
        return [label_name(self.cluster_label), *labels]

    def _read(
        self, metric: str | tuple[str, ...], lookback_s: float, matchers_text: str = ""
    ) -> str:
        """A leaf read; every series the queries touch goes through here.

        It adds the cluster filter and, for HA Prometheus pairs queried without Thanos, collapses
        replicas (``max without (replica)``) before anything is summed, so a pair never counts
        twice.
        """
        parts = [m for m in (matchers_text, self._cluster_matcher()) if m]
        if isinstance(metric, tuple):  # several metric names: one regex selector
            parts.insert(0, f'__name__=~"{"|".join(metric)}"')
            metric = ""
        selector = "{" + ",".join(parts) + "}" if parts else ""
        read = f"last_over_time({metric}{selector}[{duration(lookback_s)}])"
        if self.replica_labels:
            replicas = ", ".join(label_name(r) for r in self.replica_labels)
            read = f"max without ({replicas}) ({read})"
        return read

    def _cluster_matcher(self) -> str:
        if self.cluster_filter is None or not self.cluster_label:
            return ""
        return matchers({self.cluster_label: self.cluster_filter})[1:-1]

    def _exact(self, metric: str, matchers_text: str = "") -> str:
        return self._read(metric, self.sample_interval_s - 0.001, matchers_text)

    def _attribute(self, metric: str, matchers_text: str = "") -> str:
        return self._read(metric, self.attribute_lookback_s, matchers_text)

    # ---- building blocks ---------------------------------------------------------------------
    def pod_gpus(self) -> str:
        """GPUs held by each pod, per node, summed over containers: OpenCost's allocation, or
        without OpenCost the GPUs kube-state-metrics says running pods request."""
        by = ", ".join(self._with_cluster(["namespace", "pod", "node"]))
        if self.catalog_prices is None:
            return f"sum by ({by}) ({self._exact(GPU_ALLOCATION)})"
        requests = self._exact(GPU_REQUESTS, 'resource="nvidia_com_gpu"')
        finished = self._attribute("kube_pod_status_phase", 'phase=~"Succeeded|Failed"')
        return f"sum by ({by}) ({requests}) unless on ({self._pod_join}) ({finished} == 1)"

    def node_capacity(self) -> str:
        """GPUs each node has: OpenCost's count, or the node's allocatable GPUs."""
        if self.catalog_prices is None:
            return f"max by ({self._node_join}) ({self._exact(GPU_CAPACITY)})"
        allocatable = self._exact(GPU_ALLOCATABLE, 'resource="nvidia_com_gpu"')
        return f"max by ({self._node_join}) ({allocatable})"

    def node_price(self, metric: str = GPU_PRICE) -> str:
        if self.catalog_prices is not None and metric == GPU_PRICE:
            return self._catalog_node_price()
        return f"max by ({self._node_join}) ({self._attribute(metric)})"

    def _catalog_node_price(self) -> str:
        """Per-GPU $/h of each node from the catalog, matched on its node labels.

        The catalog answer is written into the query as a small constant table (one entry per
        instance type, region and capacity type in use), joined to ``kube_node_labels``.
        """
        nodes = self._attribute("kube_node_labels")
        for source in reversed(CAPACITY_LABELS):  # applied last wins: the list's first label
            nodes = f'label_replace({nodes}, "capacity", "$1", "{source}", "(.+)")'
        keys = [INSTANCE_TYPE_LABEL, REGION_LABEL, "capacity"]
        table = []
        for instance_type, region, capacity, price in self.catalog_prices or ():
            entry = f"vector({float(price)!r})"
            for label, value in zip(keys, (instance_type, region, capacity), strict=True):
                entry = f'label_replace({entry}, "{label}", {quote(value)}, "", "")'
            table.append(entry)
        if not table:
            return "vector(0) * 0 < 0"  # nothing priced: an empty vector
        by = ", ".join(self._with_cluster(["node", *keys]))
        joined = (
            f"group by ({by}) ({nodes}) * on ({', '.join(keys)}) group_left () "
            f"({' or '.join(table)})"
        )
        return f"max by ({self._node_join}) ({joined})"

    def pod_gpu_cost(self) -> str:
        """$/h of the GPUs each pod holds: allocation x its node's per-GPU price."""
        return f"({self.pod_gpus()}) * on ({self._node_join}) group_left () {self.node_price()}"

    def pod_cpu_ram_cost(self) -> str:
        """$/h of the CPU and memory OpenCost allocates to each pod."""
        by = ", ".join(self._with_cluster(["namespace", "pod", "node"]))
        cpu = f"sum by ({by}) ({self._exact(CPU_ALLOCATION)})"
        ram = f"sum by ({by}) ({self._exact(RAM_ALLOCATION)}) / 1073741824"
        on = f"on ({self._node_join}) group_left ()"
        return (
            f"(({cpu}) * {on} {self.node_price(CPU_PRICE)})"
            f" + (({ram}) * {on} {self.node_price(RAM_PRICE)})"
        )

    def pod_attributes(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        """One series per pod (value 1) carrying the pod-label and annotation keys asked for.

        Filters (pod-label keys, annotation keys and namespace) become exact matchers here, so a
        filtered query only keeps pods that match; ``topk`` keeps one series per pod when a pod
        was recreated under the same name with other labels inside the lookback.

        Annotation keys (cost_center) come from ``kube_pod_annotations``, read only when one is
        asked for. Asked for alone, the annotations are the only attribute read: a pod without
        an annotation series then joins nothing, and its cost reaches ``__unallocated__`` as
        allocation no row explains. With pod-label keys or filters too, the annotations are
        left-joined onto the labels (``or on (namespace, pod)``), so a pod that kube-state-metrics
        reports without annotations keeps its labels and an empty cost center.
        """
        annotation_keys = [k for k in keys if k in POD_ANNOTATION_KEYS]
        annotation_filters = {k: v for k, v in filters.items() if k in POD_ANNOTATION_KEYS}
        label_filters = {k: v for k, v in filters.items() if k not in POD_ANNOTATION_KEYS}
        annotations = (
            self._pod_annotations([*annotation_keys, *annotation_filters], annotation_filters)
            if annotation_keys or annotation_filters
            else None
        )
        if (
            annotations is not None
            and not label_filters
            and not any(k in POD_LABEL_KEYS for k in keys)
        ):
            return annotations
        labels = self._pod_labels(keys, label_filters)
        if annotations is None:
            return labels
        carried = ", ".join(sorted({self.prom_label(k) for k in annotation_keys}))
        joined = f"{labels} * on ({self._pod_join}) group_left ({carried}) {annotations}"
        if annotation_filters:  # a cost-center filter keeps only the pods that carry it
            return f"({joined})"
        return f"(({joined}) or on ({self._pod_join}) {labels})"

    def _pod_labels(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        wanted = sorted({self.prom_label(k) for k in keys if k in POD_LABEL_KEYS})
        selector = matchers(
            {self.prom_label(k): v for k, v in filters.items() if k in POD_LABEL_KEYS}
            | {k: v for k, v in filters.items() if k == "namespace"}
        )[1:-1]
        by = ", ".join(self._with_cluster(["namespace", "pod", *wanted]))
        inner = f"group by ({by}) ({self._attribute(POD_LABELS, selector)})"
        return f"topk by ({self._pod_join}) (1, {inner})"

    def _pod_annotations(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        """One series per pod from ``kube_pod_annotations`` with the annotation keys asked for
        (empty when the pod lacks the annotation)."""
        wanted = sorted({self.prom_label(k) for k in keys if k in POD_ANNOTATION_KEYS})
        selector = matchers({self.prom_label(k): v for k, v in filters.items()})[1:-1]
        by = ", ".join(self._with_cluster(["namespace", "pod", *wanted]))
        inner = f"group by ({by}) ({self._attribute(POD_ANNOTATIONS, selector)})"
        return f"topk by ({self._pod_join}) (1, {inner})"

    def node_gpu_model(self) -> str:
        """The GPU product on each node: dcgm-exporter's modelName, joined through its host
        label; nodes whose exporter runs with ``--no-hostname`` fall back to the node label
        that GPU feature discovery sets (``nvidia.com/gpu.product``)."""
        series = self._attribute(GPU_TEMPERATURE)
        for host in ("Hostname", "hostname"):
            series = f'label_replace({series}, "node", "$1", "{host}", "(.+)")'
        series = f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
        by = ", ".join(self._with_cluster(["node", "gpu_model"]))
        dcgm = f"group by ({by}) ({series})"
        product = (
            f'label_replace({self._attribute("kube_node_labels")}, "gpu_model", "$1", '
            '"label_nvidia_com_gpu_product", "(.+)")'
        )
        labelled = f"group by ({by}) ({product})"
        both = f"({dcgm} or ({labelled} unless on ({self._node_join}) {dcgm}))"
        return f"topk by ({self._node_join}) (1, {both})"

    def busy_per_gpu(self, metrics_present: frozenset[str], shard: str = "") -> str:
        """Engine-active share of each GPU bound to a pod, pod labels normalised.

        Prefers GR_ENGINE_ACTIVE and falls back, GPU by GPU, to GPU_UTIL/100 (``or`` keeps the
        first where both exist). MIG instances report no GPU_UTIL, only the profiling metric.
        ``shard`` is one more matcher (see ``Shard``).
        """
        selector = ",".join(m for m in (f'{self.dcgm_pod_label}!=""', shard) if m)
        parts = []
        if BUSY_PROFILING in metrics_present:
            parts.append(self._exact(BUSY_PROFILING, selector))
        if BUSY_UTIL in metrics_present:
            parts.append(f"{self._exact(BUSY_UTIL, selector)} / 100")
        if not parts:
            raise ValueError("no dcgm-exporter busy metric present")
        series = " or ".join(f"({p})" for p in parts)
        if self.exported_pod_labels:
            series = f'label_replace({series}, "pod", "$1", "exported_pod", "(.+)")'
            series = f'label_replace({series}, "namespace", "$1", "exported_namespace", "(.+)")'
        for host in ("Hostname", "hostname"):
            series = f'label_replace({series}, "node", "$1", "{host}", "(.+)")'
        return f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'

    # ---- grouped measures --------------------------------------------------------------------
    def _grouped(
        self,
        per_pod: str,
        keys: Sequence[str],
        filters: dict[str, str],
        *,
        aggregate: str = "sum",
        carries_node_labels: bool = False,
    ) -> str:
        by_labels = self._with_cluster([self.prom_label(k) for k in keys])
        expr = f"({per_pod})"
        if filters or any(k in POD_ATTRIBUTE_KEYS for k in keys):
            carried = sorted({self.prom_label(k) for k in keys if k in POD_ATTRIBUTE_KEYS})
            expr = (
                f"{expr} * on ({self._pod_join}) group_left ({', '.join(carried)}) "
                f"{self.pod_attributes(keys, filters)}"
            )
        if "gpu_model" in keys and not carries_node_labels:
            expr = f"{expr} * on ({self._node_join}) group_left (gpu_model) {self.node_gpu_model()}"
        group = f" by ({', '.join(by_labels)})" if by_labels else ""
        return f"{aggregate}{group} ({expr})"

    def gpus_allocated(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        return self._grouped(self.pod_gpus(), keys, filters)

    def gpu_cost_rate(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        """$/h of allocated GPUs per group: what the pods hold, at their nodes' prices."""
        return self._grouped(self.pod_gpu_cost(), keys, filters)

    def cpu_ram_cost_rate(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        return self._grouped(self.pod_cpu_ram_cost(), keys, filters)

    def busy_sum(
        self, keys: Sequence[str], filters: dict[str, str], present: frozenset[str]
    ) -> str:
        return self._grouped(self.busy_per_gpu(present), keys, filters, carries_node_labels=True)

    def busy_count(
        self, keys: Sequence[str], filters: dict[str, str], present: frozenset[str]
    ) -> str:
        return self._grouped(
            self.busy_per_gpu(present), keys, filters, aggregate="count", carries_node_labels=True
        )

    def capacity_gpus(self) -> str:
        by = f" by ({self.cluster_label})" if self.cluster_label else ""
        return f"sum{by} ({self.node_capacity()})"

    def capacity_cost_rate(self) -> str:
        """$/h of every GPU the cluster has, allocated or not: the whole GPU spend."""
        by = f" by ({self.cluster_label})" if self.cluster_label else ""
        nodes = self.node_capacity()
        return f"sum{by} ({nodes} * on ({self._node_join}) group_left () {self.node_price()})"

    def sample_count(self, metric: str) -> str:
        """Samples in six hours of the densest series: how the scrape interval is detected.

        Six hours, not one: a closed range (Prometheus 2.x) counts one sample more than an open
        one (3.x), and over an hour that one sample moves a 15-minute scrape to 12 minutes.
        """
        return f"max(count_over_time({metric}[{SAMPLE_COUNT_RANGE_S}s]))"


def over_buckets(measure: str, bucket_s: float, sample_interval_s: int) -> str:
    """Integrate a per-instant measure over one bucket, in hours of it.

    The range is one millisecond short of the bucket so consecutive buckets never share an inner
    sample, whether the engine treats range starts as open (Prometheus 3) or closed (2.x).
    """
    hours_per_sample = sample_interval_s / 3600
    return (
        f"sum_over_time(({measure})[{duration(bucket_s - 0.001)}:{duration(sample_interval_s)}])"
        f" * {hours_per_sample!r}"
    )


# ---- inference traffic -----------------------------------------------------------------------
REQUEST_COUNTERS = (
    "vllm:request_success_total",
    "nv_inference_request_success",
    "tgi_request_success",
)
PROMPT_TOKEN_COUNTERS = ("vllm:prompt_tokens_total", "tgi_request_input_length_sum")
GENERATED_TOKEN_COUNTERS = ("vllm:generation_tokens_total", "tgi_request_generated_tokens_sum")
TRAFFIC_COUNTERS = {
    "requests": REQUEST_COUNTERS,
    "prompt_tokens": PROMPT_TOKEN_COUNTERS,
    "generated_tokens": GENERATED_TOKEN_COUNTERS,
}
SERVING_METRICS = REQUEST_COUNTERS + PROMPT_TOKEN_COUNTERS + GENERATED_TOKEN_COUNTERS


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
        return ", ".join(self.ctx._with_cluster(["namespace", "pod"]))

    def model_pods(self, lookback_s: float) -> str:
        """Pods carrying the model label, one series each."""
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", self.model_label]))
        read = self.ctx._read(POD_LABELS, lookback_s, f'{self.model_label}!=""')
        return f"topk by ({self._join()}) (1, group by ({by}) ({read}))"

    def traffic_by_model(
        self, counters: Sequence[str], window_s: float, filters: dict[str, str]
    ) -> str:
        """Counter increase over the window per model (an instant query at the window's end)."""
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", "served_model"]))
        cluster = self.ctx._cluster_matcher()
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
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", "served_model"]))
        reads = self.ctx._read(SERVING_METRICS, self.ctx.attribute_lookback_s)
        served = (
            f"(group by ({by}) ({self._normalise(reads)}) unless on ({self._join()}) "
            f"{self.model_pods(self.ctx.attribute_lookback_s)})"
        )
        return (
            f"({served} / on ({self._join()}) group_left () count by ({self._join()}) ({served}))"
        )

    def served(self, per_pod_expr: str, aggregate: str = "sum") -> str:
        """A per-pod measure moved onto the models unlabelled serving pods report."""
        per_pod = f"{aggregate} by ({self._join()}) ({per_pod_expr})"
        return (
            f"sum by (served_model) ({self.served_share()} * on ({self._join()}) "
            f"group_left () {per_pod})"
        )


# ---- per-GPU statistics ---------------------------------------------------------------------
GPU_PRESENCE = "DCGM_FI_DEV_FB_USED"  # reported for whole GPUs and MIG instances alike
GPU_KEY = ("node", "gpu", "GPU_I_ID")  # what tells one GPU (or MIG instance) from another
GPU_IDENTITY = (*GPU_KEY, "UUID", "GPU_I_PROFILE", "modelName")  # and what describes it
WORKLOAD_LABELS = ("workload_kind", "workload")


@dataclass(frozen=True)
class Shard:
    """One part of the fleet's dcgm-exporter series, for a server that refuses the whole.

    ``by="gpu"`` cuts on the first hex digit (two past 16 parts) of the GPU's UUID, so every
    series of a GPU (and of its MIG instances) lands in one part. ``by="namespace"`` (rightsize)
    takes one of ``groups``, the namespaces of GPU pods dealt round-robin: a workload never spans
    namespaces, so each workload is whole in one part and comes back once. ``by="pod"`` (rightsize
    when one namespace alone is too big) cuts on the last character (two past 36 parts) of the
    pod's name (random in Deployment and Job pods), so every series of a pod lands in one part but
    a workload's pods may not. The last part takes whatever the others do not match (namespaces
    that appeared after they were listed, odd names).
    """

    by: str  # "gpu", "namespace" or "pod"
    index: int
    count: int
    groups: tuple[tuple[str, ...], ...] = ()  # by="namespace": ``count`` groups of names

    def matcher(self, label: str) -> str:
        """The matcher of this part on ``label``, the label naming the pod or namespace as ``by``
        says (``by="gpu"`` reads ``UUID``)."""
        if self.by == "namespace":
            return self._namespace_matcher(label)
        alphabet = SHARD_ALPHABETS[self.by]
        width = 1 if self.count <= len(alphabet) else 2  # more parts: two characters
        pieces = len(alphabet) ** width
        low = pieces * self.index // self.count
        high = pieces * (self.index + 1) // self.count
        label, template = ("UUID", "GPU-({}).*") if self.by == "gpu" else (label, ".*({})")
        if self.index == self.count - 1:  # the rest, odd names included
            if not low:
                return f'{label}=~".*"'
            return f'{label}!~"{template.format(_span(alphabet, width, 0, low))}"'
        return f'{label}=~"{template.format(_span(alphabet, width, low, high))}"'

    def _namespace_matcher(self, label: str) -> str:
        # Only this part's own names, and in the last part a negative match of the others' names
        # (so that namespaces created after the list was read are not lost): never the whole list
        # in every part, which would multiply the query's length by the shard count for nothing
        # (servers cap it: VictoriaMetrics at 16 KB).
        if self.index < self.count - 1:
            return f"{label}=~{quote(_alternation(self.groups[self.index]))}"
        others = [name for group in self.groups[: self.count - 1] for name in group]
        if not others:
            return f'{label}=~".*"'
        return f"{label}!~{quote(_alternation(others))}"


def _alternation(names: Sequence[str]) -> str:
    """A regex matching exactly the given names (PromQL anchors it: a full match)."""
    return "|".join(regex_literal(name) for name in names)


def _span(alphabet: str, width: int, low: int, high: int) -> str:
    """A short regex for pieces ``low..high-1`` of the ``width``-character strings over
    ``alphabet`` in order: character classes, so a server's query-length cap is never near."""
    if width == 1:
        return f"[{alphabet[low:high]}]"
    size = len(alphabet)
    parts = []
    first, last = low // size, (high - 1) // size
    for lead in range(first, last + 1):
        begin = low - lead * size if lead == first else 0
        end = high - lead * size if lead == last else size
        parts.append((alphabet[lead], alphabet[begin:end]))
    whole = "".join(lead for lead, tail in parts if len(tail) == size)
    out = [f"[{whole}][{alphabet}]"] if whole else []
    out += [f"{lead}[{tail}]" for lead, tail in parts if len(tail) != size]
    return "|".join(out)


SHARD_ALPHABETS = {"gpu": "0123456789abcdef", "pod": "0123456789abcdefghijklmnopqrstuvwxyz"}
MAX_SHARDS = 128


def shards(by: str, count: int) -> list[Shard]:
    return [Shard(by, i, count) for i in range(count)]


def workload_shards(namespaces: Sequence[str], count: int) -> list[Shard]:
    """Rightsize's cut into ``count`` parts: the namespaces, sorted and dealt round-robin into
    ``count`` groups, so that no workload is in two parts; by pod name once ``count`` is more
    than there are namespaces (one namespace alone is too big)."""
    names = sorted({name for name in namespaces if name})
    if count > len(names):
        return shards("pod", count)
    groups = tuple(tuple(names[i::count]) for i in range(count))
    return [Shard("namespace", i, count, groups) for i in range(count)]


class GpuQueries:
    """One row per GPU (or MIG instance) over a window, every statistic computed on the server.

    Each dcgm-exporter series is split by the pod that held the GPU, so a GPU's statistics first
    merge its series at each instant (``max by`` its key) and then run over the window as a
    subquery: what comes back is a handful of numbers per GPU, never its samples. Only
    ``inventory`` carries the descriptive labels (UUID, model, MIG profile); every other statistic
    comes back keyed by node, index and MIG instance alone, which keeps a fleet's answers near a
    kilobyte per GPU.
    """

    def __init__(self, ctx: QueryContext, window_s: float, shard: Shard | None = None) -> None:
        self.ctx = ctx
        self.shard = shard
        self.window = duration(window_s)
        self.step = duration(ctx.sample_interval_s)
        self.key = ", ".join(ctx._with_cluster(GPU_KEY))
        self.workload_key = ", ".join(ctx._with_cluster(["namespace", *WORKLOAD_LABELS]))
        self.identity = ", ".join(ctx._with_cluster(GPU_IDENTITY))

    def _gpu(self, expr: str, aggregate: str = "max") -> str:
        return f"{aggregate} by ({self.key}) ({expr})"

    def _normalised(self, metric: str, bound_only: bool = False) -> str:
        wanted = [f'{self.ctx.dcgm_pod_label}!=""' if bound_only else "", self._shard_matcher()]
        read = self.ctx._exact(metric, ",".join(m for m in wanted if m))
        if self.ctx.exported_pod_labels:
            read = f'label_replace({read}, "pod", "$1", "exported_pod", "(.+)")'
            read = f'label_replace({read}, "namespace", "$1", "exported_namespace", "(.+)")'
        for host in ("Hostname", "hostname"):
            read = f'label_replace({read}, "node", "$1", "{host}", "(.+)")'
        return read

    def over_window(self, function: str, per_instant: str, first_arg: str = "") -> str:
        """``function`` of the per-instant series over the window at the sample step."""
        prefix = f"{first_arg}, " if first_arg else ""
        return f"{function}({prefix}({per_instant})[{self.window}:{self.step}])"

    def _shard_matcher(self) -> str:
        if self.shard is None:
            return ""
        by_namespace = self.shard.by == "namespace"
        return self.shard.matcher(
            self.ctx.dcgm_namespace_label if by_namespace else self.ctx.dcgm_pod_label
        )

    def _kube_shard(self) -> str:
        """The pod or namespace shard on kube-state-metrics reads too (their labels are always
        ``pod`` and ``namespace``)."""
        if self.shard is None or self.shard.by not in ("pod", "namespace"):
            return ""
        return self.shard.matcher(self.shard.by)

    def bound_series(self) -> str:
        """A match[] selector of the dcgm-exporter series a pod holds: the namespaces of their
        ``ctx.dcgm_namespace_label`` are what rightsize's namespace shards are dealt from."""
        wanted = [f'{self.ctx.dcgm_pod_label}!=""', self.ctx._cluster_matcher()]
        return f"{GPU_PRESENCE}{{{','.join(m for m in wanted if m)}}}"

    def busy(self, present: frozenset[str]) -> str:
        """Busy share of each GPU at an instant while a pod holds it."""
        return self._gpu(self.ctx.busy_per_gpu(present, self._shard_matcher()))

    def busy_any(self, present: frozenset[str]) -> str:
        """Busy share whether or not a pod holds it (work outside Kubernetes shows here)."""
        parts = []
        if BUSY_PROFILING in present:
            parts.append(self._normalised(BUSY_PROFILING))
        if BUSY_UTIL in present:
            parts.append(f"{self._normalised(BUSY_UTIL)} / 100")
        return self._gpu(" or ".join(f"({p})" for p in parts))

    def inventory(self) -> str:
        """Each GPU with its descriptive labels, at each instant it is reported."""
        return f"max by ({self.identity}) ({self._normalised(GPU_PRESENCE)})"

    def present(self) -> str:
        return self._gpu(self._normalised(GPU_PRESENCE))

    def bound(self) -> str:
        return self._gpu(self._normalised(GPU_PRESENCE, bound_only=True))

    def metric(self, name: str) -> str:
        return self._gpu(self._normalised(name))

    def memory_total(self) -> str:
        return self._gpu(
            f"{self._normalised(GPU_PRESENCE)} + {self._normalised('DCGM_FI_DEV_FB_FREE')}"
        )

    def price(self) -> str:
        """The per-GPU price of each GPU's node at each instant it is reported."""
        return (
            f"({self.present()}) * 0 + on ({self.ctx._node_join}) group_left () "
            f"{self.ctx.node_price()}"
        )

    def holders(self, pod_keys: Sequence[str]) -> str:
        """The pod that held each GPU longest (samples held), with its team/project/model labels:
        one series per GPU however many pods came and went."""
        by = ", ".join(self.ctx._with_cluster([*GPU_KEY, "namespace", "pod"]))
        held = f"max by ({by}) ({self._normalised(GPU_PRESENCE, bound_only=True)})"
        # Equal holders (runs of one job) are told apart by who held it last, a fraction of a
        # sample added to the count, so the same data always names the same pod.
        last = self.over_window("max_over_time", f"timestamp({held})")
        per_pod = f"{self.over_window('count_over_time', held)} + {last} / 1e11"
        wide = replace(self.ctx, attribute_lookback_s=int(_seconds(self.window)))
        carried = sorted({self.ctx.prom_label(k) for k in pod_keys})
        return (
            f"topk by ({self.key}) (1, ({per_pod}) * on ({self.ctx._pod_join}) "
            f"group_left ({', '.join(carried)}) {wide.pod_attributes(pod_keys, {})})"
        )

    # ---- per pod (what rightsizing needs) ----------------------------------------------------
    def _pod(self, expr: str, aggregate: str) -> str:
        return f"{aggregate} by ({self.ctx._pod_join}) ({expr})"

    def pod_gpus(self) -> str:
        """GPUs each pod holds at an instant (one bound dcgm series per GPU and pod)."""
        return self._pod(self._normalised(GPU_PRESENCE, bound_only=True), "count")

    def pod_busy(self, present: frozenset[str], aggregate: str) -> str:
        return self._pod(self.ctx.busy_per_gpu(present, self._shard_matcher()), aggregate)

    def pod_memory(self, total: bool) -> str:
        used = self._normalised(GPU_PRESENCE, bound_only=True)
        if total:
            free = self._normalised("DCGM_FI_DEV_FB_FREE", bound_only=True)
            used = f"{used} + {free}"
        return self._pod(used, "max")

    def pod_cost(self) -> str:
        """$/h of the GPUs a pod holds, at its node's per-GPU price."""
        priced = (
            f"({self._normalised(GPU_PRESENCE, bound_only=True)}) * 0 + on "
            f"({self.ctx._node_join}) group_left () {self.ctx.node_price()}"
        )
        return self._pod(priced, "sum")

    def _gpu_pods(self) -> str:
        read = self._normalised(GPU_PRESENCE, bound_only=True).replace(
            f"[{duration(self.ctx.sample_interval_s - 0.001)}]", f"[{self.window}]"
        )
        return f"group by ({self.ctx._pod_join}) ({read})"

    def pod_placement(self) -> str:
        """Node and GPU product each GPU pod ran on (over the window)."""
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", "node", "modelName"]))
        read = self._normalised(GPU_PRESENCE, bound_only=True).replace(
            f"[{duration(self.ctx.sample_interval_s - 0.001)}]", f"[{self.window}]"
        )
        return f"group by ({by}) ({read})"

    def pod_owners(self) -> str:
        """The controller of each GPU pod (ReplicaSet, Job, StatefulSet...)."""
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", "owner_kind", "owner_name"]))
        read = self.ctx._read("kube_pod_owner", _seconds(self.window))
        return f"group by ({by}) ({read}) and on ({self.ctx._pod_join}) {self._gpu_pods()}"

    def pod_labels(self, keys: Sequence[str], extra_labels: Sequence[str] = ()) -> str:
        """Attribution labels (and e.g. the interruptible label) of each GPU pod."""
        labels = sorted({self.ctx.prom_label(k) for k in keys} | set(extra_labels))
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", *labels]))
        read = self.ctx._read(POD_LABELS, _seconds(self.window), self._kube_shard())
        return f"group by ({by}) ({read}) and on ({self.ctx._pod_join}) {self._gpu_pods()}"

    # ---- per workload: rightsizing's answers, grouped on the server -------------------------
    def pod_workloads(self) -> str:
        """Each GPU pod with the workload it belongs to (``workload_kind``, ``workload``), named
        as ``analytics.rightsize.workload_of`` names it: a ReplicaSet's pods belong to its
        Deployment, a Job's to the job family (the name without its run number), other
        controllers to themselves, and a pod without one (kube-state-metrics says ``<none>``)
        to itself alone."""
        join = self.ctx._pod_join
        gpu_pods = self._gpu_pods()
        by = ", ".join(self.ctx._with_cluster(["namespace", "pod", "owner_kind", "owner_name"]))
        matchers_text = ",".join(m for m in ('owner_kind!="<none>"', self._kube_shard()) if m)
        read = self.ctx._read("kube_pod_owner", _seconds(self.window), matchers_text)
        owners = f"(topk by ({join}) (1, group by ({by}) ({read})) and on ({join}) {gpu_pods})"
        named = f'label_join({owners}, "owner", "/", "owner_kind", "owner_name")'
        for target, replacement, source, regex in (
            ("workload_kind", "$1", "owner_kind", "(.*)"),
            ("workload_kind", "Deployment", "owner_kind", "ReplicaSet"),
            ("workload", "$1", "owner_name", "(.*)"),
            ("workload", "$1", "owner", "ReplicaSet/(.+)-[a-z0-9]{5,10}"),
            ("workload", "$1", "owner", "Job/(.+)-[0-9]+"),
        ):
            named = f'label_replace({named}, "{target}", "{replacement}", "{source}", "{regex}")'
        alone = f"({gpu_pods} unless on ({join}) {owners})"
        alone = f'label_replace({alone}, "workload_kind", "Pod", "", "")'
        alone = f'label_replace({alone}, "workload", "$1", "pod", "(.*)")'
        keep = ", ".join(self.ctx._with_cluster(["namespace", "pod", *WORKLOAD_LABELS]))
        return f"group by ({keep}) ({named} or {alone})"

    def per_workload(self, per_pod: str, aggregate: str, keep: Sequence[str] = ()) -> str:
        """A per-pod answer (an instant vector by pod) combined over each workload's pods;
        ``keep`` names pod labels to keep beside the workload."""
        by = ", ".join([self.workload_key, *keep])
        return (
            f"{aggregate} by ({by}) (({per_pod}) * on ({self.ctx._pod_join}) "
            f"group_left ({', '.join(WORKLOAD_LABELS)}) {self.pod_workloads()})"
        )

    def workload_placement(self, gpu_hours_per_pod: str) -> str:
        """Node and GPU product of each workload's pod with the most GPU-hours."""
        placed = (
            f"({gpu_hours_per_pod}) * on ({self.ctx._pod_join}) group_left (node, modelName) "
            f"topk by ({self.ctx._pod_join}) (1, {self.pod_placement()})"
        )
        per_pod = self.per_workload(placed, "max", ["pod", "node", "modelName"])
        return f"topk by ({self.workload_key}) (1, {per_pod})"

    def workload_labels(self, keys: Sequence[str], extra_labels: Sequence[str] = ()) -> str:
        """Each distinct set of attribution labels among a workload's pods."""
        labels = sorted({self.ctx.prom_label(k) for k in keys} | set(extra_labels))
        return self.per_workload(self.pod_labels(keys, extra_labels), "group", labels)

    def node_info(self) -> str:
        labels = [INSTANCE_TYPE_LABEL, REGION_LABEL, *CAPACITY_LABELS]
        by = ", ".join(self.ctx._with_cluster(["node", *labels]))
        read = self.ctx._read("kube_node_labels", _seconds(self.window))
        return f"group by ({by}) ({read})"


# ---- per-node prices, for billing compare ------------------------------------------------------
NODE_TOTAL_PRICE = "node_total_hourly_cost"  # OpenCost: the whole instance, GPUs, CPU and RAM


class NodeQueries:
    """Each node's price integrated over a window, to set beside the cloud bill.

    A node exists at an instant when OpenCost reports its ``node_gpu_count`` (read exactly, as
    capacity is); its GPU cost is that count times ``node_gpu_hourly_cost`` and its instance cost
    ``node_total_hourly_cost``, both summed over the window's samples on the server. Values are
    per sample: multiply by ``S/3600`` for hours and dollars.
    """

    def __init__(self, ctx: QueryContext, window_s: float) -> None:
        self.ctx = ctx
        # 1 ms short, like over_buckets: the sample at the window's start belongs to the bucket
        # before it, whether the engine's range starts are open (Prometheus 3) or closed (2.x).
        self.gpus = GpuQueries(ctx, window_s - 0.001)

    def _exists(self) -> str:
        return f"max by ({self.ctx._node_join}) ({self.ctx._exact(GPU_CAPACITY)})"

    def samples(self) -> str:
        return self.gpus.over_window("count_over_time", self._exists())

    def gpu_count(self) -> str:
        return self.gpus.over_window("max_over_time", self._exists())

    def gpu_cost(self) -> str:
        per_instant = (
            f"{self._exists()} * on ({self.ctx._node_join}) group_left () {self.ctx.node_price()}"
        )
        return self.gpus.over_window("sum_over_time", per_instant)

    def instance_cost(self) -> str:
        per_instant = (
            f"({self._exists()} > bool -1) * on ({self.ctx._node_join}) group_left () "
            f"{self.ctx.node_price(NODE_TOTAL_PRICE)}"
        )
        return self.gpus.over_window("sum_over_time", per_instant)

    def identity(self) -> str:
        """OpenCost's instance type and provider id of each node seen in the window."""
        by = ", ".join(self.ctx._with_cluster(["node", "instance_type", "provider_id"]))
        read = self.ctx._read(NODE_TOTAL_PRICE, _seconds(self.gpus.window))
        return f"group by ({by}) ({read})"


def _seconds(text: str) -> float:
    if text.endswith("ms"):
        return int(text[:-2]) / 1000
    return float(text[:-1])

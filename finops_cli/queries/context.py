"""``QueryContext``: how one backend labels and samples its series, and the cost measures.

Every leaf read of every query goes through ``QueryContext.read``, so the cluster filter, the
collapse of HA replicas and the "one scrape counts once" lookback are applied in one place. The
per-GPU, inference and per-node builders (``gpu``, ``inference``, ``node``) use only the public
helpers here (``grouping``, ``pod_join``, ``node_join``, ``read``, ``exact``, ``attribute``,
``cluster_matcher``, ``dcgm_labels``), never its private methods.

Every measure is an instant-vector expression evaluated at sample instants ``S`` apart; a window's
figure is ``sum_over_time(measure[window:S]) * S/3600`` (GPU-hours, dollars). The series that mark
existence (allocations, capacity) are read with ``last_over_time(m[S - 1ms])`` so that each scrape
counts exactly once whatever the engine's lookback or the lack of staleness markers in backfilled
data; series that only carry attributes (prices, pod labels) are read with a generous lookback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from finops_cli.labels import kube_label_to_prometheus
from finops_cli.promql import duration, label_name, matchers, quote
from finops_cli.queries.discovery import NODE_PRICE_LABELS
from finops_cli.queries.hami_monitor import HamiBusy
from finops_cli.queries.names import (
    BUSY_PROFILING,
    BUSY_UTIL,
    CPU_ALLOCATION,
    CPU_PRICE,
    DEFAULT_COST_CENTER_KEY,
    GPU_ALLOCATABLE,
    GPU_ALLOCATION,
    GPU_CAPACITY,
    GPU_PRESENCE,
    GPU_PRICE,
    GPU_REQUESTS,
    GPU_TEMPERATURE,
    POD_ANNOTATION_KEYS,
    POD_ANNOTATIONS,
    POD_ATTRIBUTE_KEYS,
    POD_LABEL_KEYS,
    POD_LABELS,
    RAM_ALLOCATION,
    RAM_PRICE,
)
from finops_cli.queries.shares import ShareQueries
from finops_cli.queries.sharing import HAMI_RESOURCES, Sharing, alternation

INSTANCE_IP = r"\\[?(.+?)\\]?:[0-9]+"
"""The IP in a scrape's ``instance`` (``10.0.3.7:9400``, ``[fd00::7]:9400``), as a PromQL
string's regex: the address Prometheus scraped, the pod's IP under a ServiceMonitor or
PodMonitor (the node's with ``hostNetwork``)."""

CatalogPrices = tuple[tuple[str | float, ...], ...]
"""A price table from the catalog: each entry the values of ``NODE_PRICE_LABELS``, then the
$/GPU-hour of nodes carrying them."""


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
    # Without OpenCost: GPUs from kube-state-metrics, priced from the catalog per node label set:
    # (the values of ``NODE_PRICE_LABELS``..., $/GPU-hour), see ``pricing.node_key``.
    # None = OpenCost's own metrics.
    catalog_prices: CatalogPrices | None = None
    # The node price label sets the catalog could not price (their GPUs cost 0): a recorded
    # ledger must not price them either (``recorded_prices.covers``).
    catalog_unpriced: tuple[tuple[str, ...], ...] = ()
    # Shared or fractional GPUs found in the window (None: every GPU is held whole).
    sharing: Sharing | None = None
    # Some dcgm-exporter runs with ``--no-hostname`` (no host label, no ``node``): each of its
    # series is placed on the node of the pod whose IP its ``instance`` carries (``dcgm_node``).
    dcgm_node_by_ip: bool = False

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

    # ---- the public helpers the other builders use ---------------------------------------------
    def grouping(self, labels: Sequence[str]) -> str:
        """The label list of a ``by (...)`` or ``on (...)`` clause: ``labels``, the cluster label
        first when there is one, so that nothing is ever summed or joined across clusters."""
        if not self.cluster_label or self.cluster_label in labels:
            return ", ".join(labels)
        return ", ".join([label_name(self.cluster_label), *labels])

    @property
    def pod_join(self) -> str:
        """What identifies a pod in a join: ``namespace, pod`` (and the cluster)."""
        return self.grouping(["namespace", "pod"])

    @property
    def node_join(self) -> str:
        """What identifies a node in a join: ``node`` (and the cluster)."""
        return self.grouping(["node"])

    def read(
        self, metric: str | tuple[str, ...], lookback_s: float, matchers_text: str = ""
    ) -> str:
        """A leaf read; every series the queries touch goes through here.

        It adds the cluster filter and, for HA Prometheus pairs queried without Thanos, collapses
        replicas (``max without (replica)``) before anything is summed, so a pair never counts
        twice.
        """
        parts = [m for m in (matchers_text, self.cluster_matcher()) if m]
        if isinstance(metric, tuple):  # several metric names: one regex selector
            parts.insert(0, f'__name__=~"{"|".join(metric)}"')
            metric = ""
        selector = "{" + ",".join(parts) + "}" if parts else ""
        read = f"last_over_time({metric}{selector}[{duration(lookback_s)}])"
        if self.replica_labels:
            replicas = ", ".join(label_name(r) for r in self.replica_labels)
            read = f"max without ({replicas}) ({read})"
        return read

    def cluster_matcher(self) -> str:
        """The matcher of the cluster filter (``cluster="x"``), or ``""`` without one."""
        if self.cluster_filter is None or not self.cluster_label:
            return ""
        return matchers({self.cluster_label: self.cluster_filter})[1:-1]

    def exact(self, metric: str, matchers_text: str = "") -> str:
        """An existence read: each scrape counts exactly once (``last_over_time(m[S - 1ms])``)."""
        return self.read(metric, self.sample_interval_s - 0.001, matchers_text)

    def attribute(self, metric: str, matchers_text: str = "") -> str:
        """An attribute read (prices, labels), with the generous lookback."""
        return self.read(metric, self.attribute_lookback_s, matchers_text)

    def dcgm_labels(self, series: str) -> str:
        """A dcgm-exporter expression with its pod labels as ``pod`` and ``namespace`` (they
        arrive as ``exported_*`` with ``honorLabels: false``) and its host as ``node``."""
        if self.exported_pod_labels:
            series = f'label_replace({series}, "pod", "$1", "exported_pod", "(.+)")'
            series = f'label_replace({series}, "namespace", "$1", "exported_namespace", "(.+)")'
        return self.dcgm_node(series)

    def dcgm_node(self, series: str) -> str:
        """A dcgm-exporter expression with its GPU's node as ``node``: the exporter's host label
        (``Hostname`` released, ``hostname`` at HEAD) where it has one. Where some exporter
        runs with ``--no-hostname`` (``dcgm_node_by_ip``), a series without it takes the node
        of the pod whose IP the scrape's ``instance`` (``<pod IP>:<port>``) carries (the
        exporter's own, in ``kube_pod_info``), or keeps a ``node`` the scrape set (a relabeling
        of ``__meta_kubernetes_pod_node_name``). Without a node, the GPUs of different nodes
        that share an index would be one GPU."""
        if self.dcgm_node_by_ip:
            series = self._node_from_instance(series)
        for host in ("Hostname", "hostname"):
            series = f'label_replace({series}, "node", "$1", "{host}", "(.+)")'
        return series

    def _node_from_instance(self, series: str) -> str:
        on = f"on ({self.grouping(['pod_ip'])})"
        addressed = f'label_replace({series}, "pod_ip", "$1", "instance", "{INSTANCE_IP}")'
        pods = self.attribute("kube_pod_info", 'pod_ip!=""')
        # One node per IP: hostNetwork pods share their node's IP, and IPs are reused over time.
        by_ip = f"group by ({self.grouping(['pod_ip', 'node'])}) ({pods})"
        nodes = f"topk by ({self.grouping(['pod_ip'])}) (1, {by_ip})"
        # The exporter pod's node (on a series that had one, the same node); a series whose
        # IP names no pod is kept as it was.
        placed = f"({addressed} * {on} group_left (node) {nodes} or ignoring (node) {addressed})"
        return f'label_replace({placed}, "pod_ip", "", "", "")'

    # ---- building blocks ---------------------------------------------------------------------
    @property
    def shares(self) -> ShareQueries | None:
        """The shared-GPU builders, when discovery found sharing."""
        if self.sharing is None or not self.sharing.any:
            return None
        return ShareQueries(self, self.sharing)

    def pod_gpus(self, capped: bool = True) -> str:
        """Physical GPUs held by each pod, per node, summed over containers: OpenCost's
        allocation, or without OpenCost the GPUs kube-state-metrics says running pods request;
        on shared GPUs each pod's share of them (``shares``), the device-plugin requests scaled
        down on a node where they hold more than its physical GPUs (``ShareQueries.node_scale``)
        unless ``capped`` is False."""
        by = self.grouping(["namespace", "pod", "node"])
        shares = self.shares
        finished = self.attribute("kube_pod_status_phase", 'phase=~"Succeeded|Failed"')
        if shares is not None:
            done = f"({finished} == 1)"
            held = shares.pod_gpus(
                opencost_allocation=self.catalog_prices is None, finished=done if capped else None
            )
            return f"({held}) unless on ({self.pod_join}) {done}"
        if self.catalog_prices is None:
            return f"sum by ({by}) ({self.exact(GPU_ALLOCATION)})"
        requests = self.exact(GPU_REQUESTS, 'resource="nvidia_com_gpu"')
        return f"sum by ({by}) ({requests}) unless on ({self.pod_join}) ({finished} == 1)"

    def node_capacity(self) -> str:
        """Physical GPUs each node has: OpenCost's count, or the node's allocatable GPUs; on
        shared GPUs the GPUs dcgm-exporter reports, else allocatable units at their share."""
        shares = self.shares
        if self.catalog_prices is None:
            base = f"max by ({self.node_join}) ({self.exact(GPU_CAPACITY)})"
        elif shares is not None:
            base = shares.allocatable_gpus()
        else:
            allocatable = self.exact(GPU_ALLOCATABLE, 'resource="nvidia_com_gpu"')
            base = f"max by ({self.node_join}) ({allocatable})"
        return base if shares is None else shares.physical_gpus(base)

    def oversubscribed_nodes(self) -> str:
        """Nodes that advertise or hold more GPUs than dcgm-exporter reports there, as the
        ratio (> 1 only): the GPUs a node advertises at the discovered shares (a node whose
        replicas label kube-state-metrics does not export counts each replica whole), and on
        shared GPUs also the shares its pods hold."""
        reported = self.dcgm_labels(self.exact(GPU_PRESENCE))
        gpus = f"group by ({self.grouping(['node', 'gpu'])}) ({reported})"
        physical = f"count by ({self.node_join}) ({gpus})"
        shares = self.shares
        if shares is None:
            advertised = self.exact(GPU_ALLOCATABLE, 'resource="nvidia_com_gpu"')
            ratio = f"max by ({self.node_join}) ({advertised}) / on ({self.node_join}) {physical}"
            return f"{ratio} > 1.001"
        advertised = shares.allocatable_gpus()
        if shares.sharing.hami:  # HAMi advertises split-count devices per GPU, by design
            hami = self.exact(GPU_REQUESTS, f"resource=~{alternation(HAMI_RESOURCES)}")
            advertised = f"({advertised} unless on ({self.node_join}) {hami})"
        held = f"sum by ({self.node_join}) ({self.pod_gpus(capped=False)})"
        # The larger of the two per node (tagged apart so that ``or`` keeps both), over physical.
        both = f'label_replace({advertised}, "of", "a", "", "") or {held}'
        ratio = f"max by ({self.node_join}) ({both}) / on ({self.node_join}) {physical}"
        return f"{ratio} > 1.001"

    def node_price(self, metric: str = GPU_PRICE) -> str:
        if self.catalog_prices is not None and metric == GPU_PRICE:
            return self._catalog_node_price()
        return f"max by ({self.node_join}) ({self.attribute(metric)})"

    def _catalog_node_price(self) -> str:
        """Per-GPU $/h of each node from the catalog, matched on its node labels.

        The catalog answer is written into the query as a small constant table, one entry per
        set of price labels in use (``NODE_PRICE_LABELS``: instance type, its beta label, GKE
        accelerator, region, capacity labels), each a ``vector(price)`` carrying those values
        joined into one label ``k`` (about 120 bytes an entry as sent), joined to
        ``kube_node_labels`` with the same values joined the same way: one ``label_join``, so
        the query grows by an entry per instance type in use, never per node.
        """
        nodes = self.attribute("kube_node_labels")
        # "~" joins the values: it needs no URL encoding, and no label value here holds it.
        keyed = f'label_join({nodes},"k","~",{",".join(quote(p) for p in NODE_PRICE_LABELS)})'
        table = [
            f'label_replace(vector({float(price)!r}),"k",{quote("~".join(map(str, v)))},"","")'
            for *v, price in self.catalog_prices or ()
        ]
        if not table:
            return "vector(0) * 0 < 0"  # nothing priced: an empty vector
        by = self.grouping(["node", "k"])
        joined = f"group by ({by}) ({keyed}) * on (k) group_left () ({' or '.join(table)})"
        return f"max by ({self.node_join}) ({joined})"

    def pod_gpu_cost(self) -> str:
        """$/h of the GPUs each pod holds: allocation x its node's per-GPU price."""
        return f"({self.pod_gpus()}) * on ({self.node_join}) group_left () {self.node_price()}"

    def pod_cpu_ram_cost(self) -> str:
        """$/h of the CPU and memory OpenCost allocates to each pod."""
        by = self.grouping(["namespace", "pod", "node"])
        cpu = f"sum by ({by}) ({self.exact(CPU_ALLOCATION)})"
        ram = f"sum by ({by}) ({self.exact(RAM_ALLOCATION)}) / 1073741824"
        on = f"on ({self.node_join}) group_left ()"
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
        joined = f"{labels} * on ({self.pod_join}) group_left ({carried}) {annotations}"
        if annotation_filters:  # a cost-center filter keeps only the pods that carry it
            return f"({joined})"
        return f"(({joined}) or on ({self.pod_join}) {labels})"

    def _pod_labels(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        wanted = sorted({self.prom_label(k) for k in keys if k in POD_LABEL_KEYS})
        selector = matchers(
            {self.prom_label(k): v for k, v in filters.items() if k in POD_LABEL_KEYS}
            | {k: v for k, v in filters.items() if k == "namespace"}
        )[1:-1]
        by = self.grouping(["namespace", "pod", *wanted])
        inner = f"group by ({by}) ({self.attribute(POD_LABELS, selector)})"
        return f"topk by ({self.pod_join}) (1, {inner})"

    def _pod_annotations(self, keys: Sequence[str], filters: dict[str, str]) -> str:
        """One series per pod from ``kube_pod_annotations`` with the annotation keys asked for
        (empty when the pod lacks the annotation)."""
        wanted = sorted({self.prom_label(k) for k in keys if k in POD_ANNOTATION_KEYS})
        selector = matchers({self.prom_label(k): v for k, v in filters.items()})[1:-1]
        by = self.grouping(["namespace", "pod", *wanted])
        inner = f"group by ({by}) ({self.attribute(POD_ANNOTATIONS, selector)})"
        return f"topk by ({self.pod_join}) (1, {inner})"

    def node_gpu_model(self) -> str:
        """The GPU product on each node: dcgm-exporter's modelName on the node its series are
        placed on (``dcgm_node``); nodes whose exporter cannot be placed fall back to the node
        label that GPU feature discovery sets (``nvidia.com/gpu.product``)."""
        series = self.dcgm_node(self.attribute(GPU_TEMPERATURE))
        series = f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
        by = self.grouping(["node", "gpu_model"])
        dcgm = f"group by ({by}) ({series})"
        product = (
            f'label_replace({self.attribute("kube_node_labels")}, "gpu_model", "$1", '
            '"label_nvidia_com_gpu_product", "(.+)")'
        )
        labelled = f"group by ({by}) ({product})"
        both = f"({dcgm} or ({labelled} unless on ({self.node_join}) {dcgm}))"
        return f"topk by ({self.node_join}) (1, {both})"

    def busy_per_gpu(self, metrics_present: frozenset[str], shard: str = "") -> str:
        """Engine-active share of each GPU bound to a pod, pod labels normalised.

        Prefers GR_ENGINE_ACTIVE and falls back, GPU by GPU, to GPU_UTIL/100 (``or`` keeps the
        first where both exist). MIG instances report no GPU_UTIL, only the profiling metric.
        ``shard`` is one more matcher (see ``Shard``).
        """
        selector = ",".join(m for m in (f'{self.dcgm_pod_label}!=""', shard) if m)
        parts = []
        if BUSY_PROFILING in metrics_present:
            parts.append(self.exact(BUSY_PROFILING, selector))
        if BUSY_UTIL in metrics_present:
            parts.append(f"{self.exact(BUSY_UTIL, selector)} / 100")
        if not parts:
            raise ValueError("no dcgm-exporter busy metric present")
        series = self.dcgm_labels(" or ".join(f"({p})" for p in parts))
        series = f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
        shares = self.shares
        return series if shares is None else shares.busy(series)

    def weighted(self, per_entry: str) -> str:
        """``per_entry`` (keyed like ``busy_per_gpu``) times each holder entry's share of its
        physical GPU: 1 for whole GPUs (unchanged), the fraction on shared ones."""
        shares = self.shares
        if shares is None:
            return per_entry
        return f"({per_entry}) * on ({shares.share_key}) {shares.holder_weights()}"

    def ledger_weighted(self, per_entry: str) -> str:
        """``weighted``, and on shared GPUs with each physical GPU's holder weights scaled down
        to 1 where they add up to more (replicas counted whole where the replicas label is
        missing): the ledger's busy, waste and energy never count a GPU more than once."""
        shares = self.shares
        if shares is None:
            return self.weighted(per_entry)
        weights = shares.gpu_capped(shares.holder_weights())
        return f"({per_entry}) * on ({shares.share_key}) {weights}"

    def ledger_busy(self, present: frozenset[str]) -> str:
        """``busy_per_gpu`` for the ledger: on GPUs shared in time where dcgm-exporter writes
        per-process series, each holder entry's busy is its pod's own
        (``ShareQueries.own_busy``), not the whole GPU's."""
        busy = self.busy_per_gpu(present)
        shares = self.shares
        own = shares.own_busy() if shares is not None and BUSY_UTIL in present else None
        if own is None:
            return busy
        key = self.grouping(["node", "gpu", "namespace", "pod"])
        return f"(({busy}) * 0 + on ({key}) group_left () {own} or ({busy}))"

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
        by_labels = self.grouping([self.prom_label(k) for k in keys])
        expr = f"({per_pod})"
        if filters or any(k in POD_ATTRIBUTE_KEYS for k in keys):
            carried = sorted({self.prom_label(k) for k in keys if k in POD_ATTRIBUTE_KEYS})
            expr = (
                f"{expr} * on ({self.pod_join}) group_left ({', '.join(carried)}) "
                f"{self.pod_attributes(keys, filters)}"
            )
        if "gpu_model" in keys and not carries_node_labels:
            expr = f"{expr} * on ({self.node_join}) group_left (gpu_model) {self.node_gpu_model()}"
        group = f" by ({by_labels})" if by_labels else ""
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
        return self._grouped(self.busy_entries(present), keys, filters, carries_node_labels=True)

    def busy_count(
        self, keys: Sequence[str], filters: dict[str, str], present: frozenset[str]
    ) -> str:
        if self.shares is None:
            return self._grouped(
                self.busy_per_gpu(present),
                keys,
                filters,
                aggregate="count",
                carries_node_labels=True,
            )
        return self._grouped(
            self.observed_entries(present), keys, filters, carries_node_labels=True
        )

    # ---- the ledger's per-entry measures (one series per GPU entry bound to a pod) ----------
    @property
    def hami_busy(self) -> HamiBusy | None:
        """HAMi holders' own busy from HAMi's vGPUmonitor, where it is scraped
        (``queries.hami_monitor``): entries dcgm-exporter cannot give them."""
        shares = self.shares
        if shares is None or not shares.sharing.hami or not shares.sharing.hami_monitor:
            return None
        return HamiBusy(self, shares.sharing.hami_monitor, shares.hami_device_share())

    def busy_entries(self, present: frozenset[str]) -> str:
        """Busy share of each GPU entry, weighted by the holder's share of its physical GPU;
        HAMi holders' own where HAMi's vGPUmonitor is scraped."""
        entries = self.ledger_weighted(self.ledger_busy(present))
        hami = self.hami_busy
        return entries if hami is None else f"({entries} or {hami.busy()})"

    def observed_entries(self, present: frozenset[str]) -> str:
        """The share each GPU entry with a busy reading counts for (1 on a whole GPU)."""
        entries = self.ledger_weighted(f"({self.busy_per_gpu(present)}) * 0 + 1")
        hami = self.hami_busy
        return entries if hami is None else f"({entries} or {hami.observed()})"

    def wasted_entries(self, present: frozenset[str]) -> str:
        """$/h each GPU entry pays for idle engine time: price x share x (1 - busy)."""
        idle_share = self.ledger_weighted(f"(1 - ({self.ledger_busy(present)}))")
        hami = self.hami_busy
        if hami is not None:
            idle_share = f"({idle_share} or {hami.idle()})"
        if self.shares is not None:
            # A holder entry is a dcgm-exporter series bound to a pod that holds a share (the
            # device plugin or a DRA claim allocated it): its node's price is the price.
            return f"{idle_share} * on ({self.node_join}) group_left () {self.node_price()}"
        return f"{idle_share} * on ({self.pod_join}) group_left () {self.pod_gpu_price()}"

    def energy_entries(self, present: frozenset[str]) -> str:
        """kW each GPU entry bound to a pod draws, with its node's ``region``: the physical
        GPU's power (``queries.energy``) x the holder's share, exactly as busy is weighted; on
        whole GPUs only entries of pods that hold GPUs in the allocation series count, as in
        ``wasted_entries``. Integrated, it is the ledger's energy (kWh)."""
        from finops_cli.queries import energy

        series = energy.bound_kw(self, present)
        shares = self.shares
        if shares is not None:
            series = shares.busy(series)
        entries = self.ledger_weighted(series)
        if shares is None:
            holders = f"group by ({self.pod_join}) (({self.pod_gpus()}) > 0)"
            entries = f"({entries}) * on ({self.pod_join}) group_left () {holders}"
        by_region = self.grouping(["node", "region"])
        regions = f"group by ({by_region}) ({energy.gpu_kw_by_region(self, present)})"
        return f"({entries}) * on ({self.node_join}) group_left (region) {regions}"

    def energy_rate(
        self, keys: Sequence[str], filters: dict[str, str], present: frozenset[str]
    ) -> str:
        """kW of the GPU entries each group holds, per group and region (the carbon factor is a
        region's): the ledger's energy, adding up across any grouping like waste."""
        return self._grouped(
            self.energy_entries(present), [*keys, "region"], filters, carries_node_labels=True
        )

    def allocated_energy_rate(self, present: frozenset[str]) -> str:
        """kW of every GPU entry held by a pod, per region, filters ignored."""
        by = self.grouping(["region"])
        return f"sum by ({by}) ({self.energy_entries(present)})"

    def capacity_energy_rate(self, present: frozenset[str]) -> str:
        """kW of every physical GPU, held or not, per region: what ``__idle__`` is taken from."""
        from finops_cli.queries import energy

        by = self.grouping(["region"])
        return f"sum by ({by}) ({energy.gpu_kw_by_region(self, present)})"

    def pod_gpu_price(self) -> str:
        """Per-GPU $/h of the node of each pod that holds GPUs (one series per pod)."""
        held = f"(({self.pod_gpus()}) > 0)"
        priced = f"{held} * 0 + on ({self.node_join}) group_left () {self.node_price()}"
        return f"max by ({self.pod_join}) ({priced})"

    def wasted_cost_rate(
        self, keys: Sequence[str], filters: dict[str, str], present: frozenset[str]
    ) -> str:
        """$/h of held GPUs paid for idle engine time, per group: the ledger's waste.

        For every GPU dcgm-exporter sees bound to a pod that holds GPUs, ``price x (1 - busy)``
        at that instant (price: the per-GPU price of the pod's node), then summed per group.
        Because it is summed entry by entry, it adds up across any grouping; GPUs without a
        busy reading contribute nothing (their waste is unknown), as in ``busy_count``.
        """
        return self._grouped(self.wasted_entries(present), keys, filters, carries_node_labels=True)

    def capacity_gpus(self) -> str:
        by = f" by ({self.cluster_label})" if self.cluster_label else ""
        return f"sum{by} ({self.node_capacity()})"

    def capacity_cost_rate(self) -> str:
        """$/h of every GPU the cluster has, allocated or not: the whole GPU spend."""
        by = f" by ({self.cluster_label})" if self.cluster_label else ""
        nodes = self.node_capacity()
        return f"sum{by} ({nodes} * on ({self.node_join}) group_left () {self.node_price()})"


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

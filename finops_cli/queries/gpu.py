"""Per-GPU and per-workload statistics over a window (``finops gpus`` and ``rightsize``).

Each is one instant query at the window's end that runs a window function over a subquery, so
what comes back is a number per GPU or per workload, never samples. Apart from the cost
measures because they answer once per window rather than per bucket, and may be sharded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from finops_cli.promql import duration
from finops_cli.queries.context import QueryContext
from finops_cli.queries.discovery import NODE_PRICE_LABELS
from finops_cli.queries.names import (
    BUSY_PROFILING,
    BUSY_UTIL,
    GPU_IDENTITY,
    GPU_KEY,
    GPU_PRESENCE,
    POD_LABELS,
    WORKLOAD_LABELS,
)
from finops_cli.queries.shards import Shard


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
        self.key = ctx.grouping(GPU_KEY)
        self.workload_key = ctx.grouping(["namespace", *WORKLOAD_LABELS])
        self.identity = ctx.grouping(GPU_IDENTITY)

    @property
    def window_s(self) -> float:
        """The window in seconds as its duration text says it (whole milliseconds)."""
        if self.window.endswith("ms"):
            return int(self.window[:-2]) / 1000
        return float(self.window[:-1])

    def _gpu(self, expr: str, aggregate: str = "max") -> str:
        return f"{aggregate} by ({self.key}) ({expr})"

    def _normalised(self, metric: str, bound_only: bool = False) -> str:
        wanted = [f'{self.ctx.dcgm_pod_label}!=""' if bound_only else "", self._shard_matcher()]
        return self.ctx.dcgm_labels(self.ctx.exact(metric, ",".join(m for m in wanted if m)))

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
        wanted = [f'{self.ctx.dcgm_pod_label}!=""', self.ctx.cluster_matcher()]
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
            f"({self.present()}) * 0 + on ({self.ctx.node_join}) group_left () "
            f"{self.ctx.node_price()}"
        )

    def used_price(self, present: frozenset[str]) -> str:
        """Busy x the per-GPU price of its node, at each instant a pod holds the GPU: what the
        ledger counts as paid for work (``cost`` minus its integral is the GPU's waste). On a
        shared GPU, busy x the shares its holders were allocated, in physical-GPU money."""
        busy = self.busy(present)
        if self.ctx.shares is not None:
            weighted = self.ctx.weighted(self.ctx.busy_per_gpu(present, self._shard_matcher()))
            busy = self._gpu(weighted, "sum")
        return f"({busy}) * on ({self.ctx.node_join}) group_left () {self.ctx.node_price()}"

    def holder_shares(self) -> str:
        """Per GPU unit and pod, the share of the physical GPU the pod held at each instant
        (only on shared GPUs: ``ctx.shares``)."""
        shares = self.ctx.shares
        if shares is None:
            raise ValueError("holder shares are only asked for on shared GPUs")
        by = self.ctx.grouping([*GPU_KEY, "namespace", "pod"])
        weights = shares.holder_weights(self._shard_matcher())
        kai = shares.kai_holders(self._shard_matcher())
        if kai is not None:  # tagged apart: ``or`` would drop a KAI pod next to a plain one
            weights = f'{weights} or label_replace({kai}, "holder", "kai", "", "")'
        return f"sum by ({by}) ({weights})"

    def holders(self, pod_keys: Sequence[str]) -> str:
        """The pod that held each GPU longest (samples held), with its team/project/model labels:
        one series per GPU however many pods came and went."""
        by = self.ctx.grouping([*GPU_KEY, "namespace", "pod"])
        held = f"max by ({by}) ({self._normalised(GPU_PRESENCE, bound_only=True)})"
        # Equal holders (runs of one job) are told apart by who held it last, a fraction of a
        # sample added to the count, so the same data always names the same pod.
        last = self.over_window("max_over_time", f"timestamp({held})")
        per_pod = f"{self.over_window('count_over_time', held)} + {last} / 1e11"
        wide = replace(self.ctx, attribute_lookback_s=int(self.window_s))
        carried = sorted({self.ctx.prom_label(k) for k in pod_keys})
        return (
            f"topk by ({self.key}) (1, ({per_pod}) * on ({self.ctx.pod_join}) "
            f"group_left ({', '.join(carried)}) {wide.pod_attributes(pod_keys, {})})"
        )

    # ---- per pod (what rightsizing needs) ----------------------------------------------------
    def _pod(self, expr: str, aggregate: str) -> str:
        return f"{aggregate} by ({self.ctx.pod_join}) ({expr})"

    def pod_gpus(self) -> str:
        """GPUs each pod holds at an instant (one bound dcgm series per GPU and pod; on shared
        GPUs the pod's shares of physical GPUs)."""
        shares = self.ctx.shares
        if shares is not None:
            return self._pod(shares.holder_weights(self._shard_matcher()), "sum")
        return self._pod(self._normalised(GPU_PRESENCE, bound_only=True), "count")

    def pod_gpu_units(self) -> str:
        """Distinct physical GPUs bound to each pod at an instant: its replicas of one GPU, its
        MIG instances of one GPU and the per-pod copies of a series count once."""
        by = self.ctx.grouping(["namespace", "pod", "node", "gpu"])
        units = f"group by ({by}) ({self._normalised(GPU_PRESENCE, bound_only=True)})"
        return self._pod(units, "count")

    def pod_mig_share(self) -> str | None:
        """The largest MIG instance each pod holds, as its fraction of the physical GPU (None
        where no MIG instance is bound to a pod)."""
        shares = self.ctx.shares
        weights = shares.mig_weights(self._shard_matcher()) if shares is not None else None
        return None if weights is None else self._pod(weights, "max")

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
        shares = self.ctx.shares
        if shares is not None:
            weights = shares.holder_weights(self._shard_matcher())
            priced = f"{weights} * on ({self.ctx.node_join}) group_left () {self.ctx.node_price()}"
            return self._pod(priced, "sum")
        priced = (
            f"({self._normalised(GPU_PRESENCE, bound_only=True)}) * 0 + on "
            f"({self.ctx.node_join}) group_left () {self.ctx.node_price()}"
        )
        return self._pod(priced, "sum")

    def _bound_in_window(self) -> str:
        """The bound dcgm-exporter series, read over the whole window rather than one scrape."""
        return self._normalised(GPU_PRESENCE, bound_only=True).replace(
            f"[{duration(self.ctx.sample_interval_s - 0.001)}]", f"[{self.window}]"
        )

    def _gpu_pods(self) -> str:
        return f"group by ({self.ctx.pod_join}) ({self._bound_in_window()})"

    def pod_placement(self) -> str:
        """Node and GPU product each GPU pod ran on (over the window)."""
        by = self.ctx.grouping(["namespace", "pod", "node", "modelName"])
        return f"group by ({by}) ({self._bound_in_window()})"

    def pod_labels(self, keys: Sequence[str], extra_labels: Sequence[str] = ()) -> str:
        """Attribution labels (and e.g. the interruptible label) of each GPU pod."""
        labels = sorted({self.ctx.prom_label(k) for k in keys} | set(extra_labels))
        by = self.ctx.grouping(["namespace", "pod", *labels])
        read = self.ctx.read(POD_LABELS, self.window_s, self._kube_shard())
        return f"group by ({by}) ({read}) and on ({self.ctx.pod_join}) {self._gpu_pods()}"

    # ---- per workload: rightsizing's answers, grouped on the server -------------------------
    def pod_workloads(self) -> str:
        """Each GPU pod with the workload it belongs to (``workload_kind``, ``workload``), named
        as ``analytics.rightsize_workloads.workload_of`` names it: a ReplicaSet's pods belong to its
        Deployment, a Job's to the job family (the name without its run number), other
        controllers to themselves, and a pod without one (kube-state-metrics says ``<none>``)
        to itself alone."""
        join = self.ctx.pod_join
        gpu_pods = self._gpu_pods()
        by = self.ctx.grouping(["namespace", "pod", "owner_kind", "owner_name"])
        matchers_text = ",".join(m for m in ('owner_kind!="<none>"', self._kube_shard()) if m)
        read = self.ctx.read("kube_pod_owner", self.window_s, matchers_text)
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
        keep = self.ctx.grouping(["namespace", "pod", *WORKLOAD_LABELS])
        return f"group by ({keep}) ({named} or {alone})"

    def per_workload(self, per_pod: str, aggregate: str, keep: Sequence[str] = ()) -> str:
        """A per-pod answer (an instant vector by pod) combined over each workload's pods;
        ``keep`` names pod labels to keep beside the workload."""
        by = ", ".join([self.workload_key, *keep])
        return (
            f"{aggregate} by ({by}) (({per_pod}) * on ({self.ctx.pod_join}) "
            f"group_left ({', '.join(WORKLOAD_LABELS)}) {self.pod_workloads()})"
        )

    def workload_placement(self, gpu_hours_per_pod: str) -> str:
        """Node and GPU product of each workload's pod with the most GPU-hours."""
        placed = (
            f"({gpu_hours_per_pod}) * on ({self.ctx.pod_join}) group_left (node, modelName) "
            f"topk by ({self.ctx.pod_join}) (1, {self.pod_placement()})"
        )
        per_pod = self.per_workload(placed, "max", ["pod", "node", "modelName"])
        return f"topk by ({self.workload_key}) (1, {per_pod})"

    def workload_labels(self, keys: Sequence[str], extra_labels: Sequence[str] = ()) -> str:
        """Each distinct set of attribution labels among a workload's pods."""
        labels = sorted({self.ctx.prom_label(k) for k in keys} | set(extra_labels))
        return self.per_workload(self.pod_labels(keys, extra_labels), "group", labels)

    def node_info(self) -> str:
        by = self.ctx.grouping(["node", *NODE_PRICE_LABELS])
        read = self.ctx.read("kube_node_labels", self.window_s)
        return f"group by ({by}) ({read})"

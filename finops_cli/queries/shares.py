"""The PromQL of shared GPUs: each pod's share of physical GPUs, each node's physical GPUs, and
the weight of each dcgm-exporter series in the ledger's busy and waste.

Used by ``QueryContext`` only when discovery found sharing (``QueryContext.sharing``); a cluster
of whole GPUs keeps the plain queries. The rules are in ``sharing``'s docstring and
docs/cost-model.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from finops_cli.labels import kube_label_to_prometheus
from finops_cli.promql import duration, quote
from finops_cli.queries.names import (
    BUSY_UTIL,
    GPU_ALLOCATABLE,
    GPU_ALLOCATION,
    GPU_PRESENCE,
    GPU_REQUESTS,
    POD_ANNOTATIONS,
    POD_LABELS,
)
from finops_cli.queries.sharing import (
    DEVICES_ANNOTATION,
    DRA_CLAIM_LABEL,
    DRA_DEVICE_LABEL,
    DRA_PROFILE_LABEL,
    FRACTION_ANNOTATION,
    HAMI_CORES,
    HAMI_MEMORY,
    HAMI_MEMORY_PERCENT,
    KAI_GPU_GROUP,
    MEMORY_ANNOTATION,
    NODE_SHARING_LABELS,
    POD_UID_LABEL,
    RESERVATION_NAMESPACE,
    VGPU_LABEL,
    WHOLE_RESOURCES,
    Sharing,
    alternation,
    by_fraction,
    mig_fraction,
    parse_devices,
    parse_fraction,
    parse_memory,
)

if TYPE_CHECKING:
    from finops_cli.queries.context import QueryContext

SHARE_KEY = (
    "node",
    "gpu",
    "GPU_I_ID",
    "gpu_model",
    "namespace",
    "pod",
    VGPU_LABEL,
    DRA_DEVICE_LABEL,
)
"""What one holder entry of dcgm-exporter is keyed by: its GPU unit and pod (per-container and
per-replica copies of a series collapse onto it, except a pod's distinct replicas)."""

NODE_SET = 'node!=""'


class ShareQueries:
    """Builders for a context whose ``sharing`` is set."""

    def __init__(self, ctx: QueryContext, sharing: Sharing) -> None:
        self.ctx = ctx
        self.sharing = sharing
        self.container_key = ctx.grouping(["namespace", "pod", "container", "node"])
        self.pod_node_key = ctx.grouping(["namespace", "pod", "node"])
        self.share_key = ctx.grouping(SHARE_KEY)

    # ---- per node --------------------------------------------------------------------------
    def node_factor(self) -> str | None:
        """Physical GPUs per unit of ``nvidia.com/gpu`` on each node whose factor is not 1.

        One selector per discovered label set (a ``=""`` matcher also matches an absent label),
        multiplied by its factor: shorter than a table of ``label_replace``d constants joined
        on the labels, and the query size is what bounds it (docs/performance.md)."""
        if not self.sharing.node_factors:
            return None
        ctx = self.ctx
        entries = []
        for values, factor in self.sharing.node_factors:
            wanted = ",".join(
                f"{label}={quote(value)}"
                for label, value in zip(NODE_SHARING_LABELS, values, strict=True)
            )
            nodes = ctx.attribute("kube_node_labels", wanted)
            entries.append(f"group by ({ctx.node_join}) ({nodes}) * {factor!r}")
        return f"max by ({ctx.node_join}) ({' or '.join(entries)})"

    def per_node(self, expr: str) -> str:
        """``expr`` (series carrying ``node``) scaled by its node's factor (1 where none)."""
        factor = self.node_factor()
        if factor is None:
            return expr
        ctx = self.ctx
        every_node = f"group by ({ctx.node_join}) ({ctx.attribute('kube_node_labels')})"
        return f"(({expr}) * on ({ctx.node_join}) group_left () ({factor} or {every_node}))"

    def device_memory_mib(self) -> str:
        ctx = self.ctx
        total = (
            f"{ctx.dcgm_labels(ctx.attribute(GPU_PRESENCE))} + "
            f"{ctx.dcgm_labels(ctx.attribute('DCGM_FI_DEV_FB_FREE'))}"
        )
        return f"max by ({ctx.node_join}) ({total})"

    def physical_gpus(self, base: str) -> str:
        """Physical GPUs of each node: the GPUs dcgm-exporter reports on it (MIG instances and
        per-pod copies counted once), else ``base`` from kube-state-metrics or OpenCost."""
        ctx = self.ctx
        reported = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE))
        gpus = f"group by ({ctx.grouping(['node', 'gpu'])}) ({reported})"
        return f"(count by ({ctx.node_join}) ({gpus}) or {base})"

    def node_scale(self, held: str) -> str:
        """Per node, ``min(1, physical GPUs / shares held)`` at each instant (``capped``): what
        each holder's share is scaled by so that a node whose pods hold more than its GPUs
        (replicas counted whole where the replicas label is missing) is never charged more
        than its GPUs. The physical GPUs are those dcgm-exporter reports (``physical_gpus``);
        a node it does not report is not scaled. ``held``: each pod's shares per node
        (``pod_join`` and node)."""
        ctx = self.ctx
        reported = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE))
        gpus = f"group by ({ctx.grouping(['node', 'gpu'])}) ({reported})"
        unreported = f"group by ({ctx.node_join}) ({ctx.attribute('kube_node_labels')}) * 1e9"
        physical = f"(count by ({ctx.node_join}) ({gpus}) or {unreported})"
        return capped(held, ctx.node_join, physical)

    def gpu_capped(self, entries: str) -> str:
        """``entries`` (shares keyed by at least node and gpu) scaled per physical GPU by
        ``capped``: a GPU's entries weigh 1 at most in all at each instant (over-subscription:
        stale or mislabelled series, a device counted whole)."""
        gpu = self.ctx.grouping(["node", "gpu"])
        return f"{entries} * on ({gpu}) group_left () {capped(entries, gpu)}"

    def allocatable_gpus(self) -> str:
        """Physical GPUs kube-state-metrics' allocatable stands for: replicas and single-strategy
        MIG instances through the node factor, mixed-strategy MIG instances at their profile."""
        ctx = self.ctx
        whole = ctx.exact(GPU_ALLOCATABLE, f"resource=~{alternation(WHOLE_RESOURCES)}")
        parts = [f"sum by ({ctx.node_join}) ({self.per_node(whole)})"]
        for fraction, names in by_fraction(self.sharing.mig_resources).items():
            read = ctx.exact(GPU_ALLOCATABLE, f"resource=~{alternation(names)}")
            parts.append(f"sum by ({ctx.node_join}) ({read}) * {fraction!r}")
        return _summed(parts, ctx.node_join)

    # ---- per pod ---------------------------------------------------------------------------
    def pod_gpus(self, opencost_allocation: bool, finished: str | None = None) -> str:
        """Physical GPU-equivalents each pod holds per node, every mode added up. With
        ``finished`` (the pods to leave out), the device-plugin requests (whole GPUs, replicas,
        HAMi, MIG instances) are scaled by ``node_scale`` of the live ones: where the replicas
        label is missing they count each replica whole, more than the node has, and a MIG
        profile finops cannot read counts whole. KAI fractions are capped per GPU group
        (``_fractions``) and DRA claims per GPU (``_dra_claims``): over-subscription is
        scaled wherever it comes from, never charged twice."""
        ctx = self.ctx
        plugin = []
        if opencost_allocation and not self.sharing.requests_shared:
            plugin.append(f"sum by ({self.pod_node_key}) ({ctx.exact(GPU_ALLOCATION)})")
        else:
            plugin.append(self._whole_requests())
        if self.sharing.mig_resources:
            plugin.append(self._mig_requests())
        parts = [_summed(plugin, self.pod_node_key)]
        if finished is not None:
            live = f"({parts[0]} unless on ({ctx.pod_join}) {finished})"
            parts[0] = f"{parts[0]} * on ({ctx.node_join}) group_left () {self.node_scale(live)}"
        if self.sharing.kai:
            parts.append(self._fractions(capped_groups=finished is not None))
        if self.sharing.dra:
            parts.append(self._dra_claims(capped=finished is not None))
        return _summed(parts, self.pod_node_key)

    def _whole_requests(self) -> str:
        ctx = self.ctx
        selector = (
            f"resource=~{alternation(WHOLE_RESOURCES)},namespace!={quote(RESERVATION_NAMESPACE)}"
        )
        requests = f"sum by ({self.container_key}) ({ctx.exact(GPU_REQUESTS, selector)})"
        if self.sharing.hami:  # a HAMi container's fraction of each device, else whole ones
            on = f"on ({self.container_key})"
            requests = f"({requests} * {on} group_left () {self._hami_fraction()} or {requests})"
        return f"sum by ({self.pod_node_key}) ({self.per_node(requests)})"

    def _hami_fraction(self) -> str:
        """Share of each device a HAMi container holds: cores percent, else memory percent,
        else memory MiB over the device's memory."""
        ctx = self.ctx

        def requested(resource: str) -> str:
            read = ctx.exact(GPU_REQUESTS, f"resource={quote(resource)}")
            return f"sum by ({self.container_key}) ({read})"

        cores = f"({requested(HAMI_CORES)} / 100 > 0)"
        percent = f"({requested(HAMI_MEMORY_PERCENT)} / 100 > 0)"
        memory = (
            f"({requested(HAMI_MEMORY)} / on ({ctx.node_join}) group_left () "
            f"{self.device_memory_mib()} > 0)"
        )
        return f"clamp_max({cores} or {percent} or {memory}, 1)"

    def hami_device_share(self) -> str:
        """Each HAMi container's share of each device it uses (``container_key``): what the
        ledger charges it, and what its own busy is measured against (``queries.hami_monitor``)."""
        return self._hami_fraction()

    def _mig_requests(self) -> str:
        ctx = self.ctx
        terms = [
            f"({ctx.exact(GPU_REQUESTS, f'resource=~{alternation(names)}')}) * {fraction!r}"
            for fraction, names in by_fraction(self.sharing.mig_resources).items()
        ]
        return f"sum by ({self.pod_node_key}) ({' or '.join(terms)})"

    def _fraction_terms(self, per_device: bool = False) -> str | None:
        """Each KAI / Run:ai fractional pod (``pod_join``) valued at its ``gpu-fraction`` times
        its ``gpu-fraction-num-devices`` (``per_device``: the fraction of each device alone):
        one term per (fraction, device count) in use, the count's absence matching 1."""
        ctx = self.ctx
        groups = by_fraction(self.sharing.fractions, parse_fraction)
        counts = by_fraction(("", *self.sharing.fraction_devices), parse_devices)
        if per_device:
            counts = {1.0: []}
        terms = []
        for fraction, values in groups.items():
            for count, devices in counts.items():
                wanted = f"{FRACTION_ANNOTATION}=~{alternation(values)}"
                if not per_device:
                    wanted += f",{DEVICES_ANNOTATION}=~{alternation(devices)}"
                read = ctx.exact(POD_ANNOTATIONS, wanted)
                terms.append(f"group by ({ctx.pod_join}) ({read}) * {fraction * count!r}")
        return f"({' or '.join(terms)})" if terms else None

    def _memory_terms(self, per_device: bool = False) -> str | None:
        """Each KAI / Run:ai pod that gives only ``gpu-memory`` (MiB), on its node
        (``pod_node_key``), valued at that memory over the node's GPU memory (a memory share;
        times ``gpu-fraction-num-devices`` unless ``per_device``)."""
        ctx = self.ctx
        groups = by_fraction(self.sharing.memories, parse_memory)
        counts = by_fraction(("", *self.sharing.fraction_devices), parse_devices)
        if per_device:
            counts = {1.0: []}
        terms = []
        for mib, values in groups.items():
            for count, devices in counts.items():
                wanted = f'{MEMORY_ANNOTATION}=~{alternation(values)},{FRACTION_ANNOTATION}=""'
                if not per_device:
                    wanted += f",{DEVICES_ANNOTATION}=~{alternation(devices)}"
                read = ctx.exact(POD_ANNOTATIONS, wanted)
                terms.append(f"group by ({ctx.pod_join}) ({read}) * {mib * count!r}")
        if not terms:
            return None
        return (
            f"({' or '.join(terms)}) * on ({ctx.pod_join}) group_left (node) {self._placed()}"
            f" / on ({ctx.node_join}) group_left () {self.device_memory_mib()}"
        )

    def _kai_terms(self, per_device: bool = False) -> str | None:
        parts = [t for t in (self._fraction_terms(per_device), self._memory_terms(per_device)) if t]
        return f"({' or '.join(parts)})" if parts else None

    def _placed(self) -> str:
        """The node each pod runs on (``pod_join`` and node), from ``kube_pod_info``."""
        ctx = self.ctx
        return (
            f"topk by ({ctx.pod_join}) (1, group by ({self.pod_node_key}) "
            f"({ctx.attribute('kube_pod_info', NODE_SET)}))"
        )

    def _fractions(self, capped_groups: bool = True) -> str:
        """KAI / Run:ai fractional pods: their share of each GPU times their
        ``gpu-fraction-num-devices``, on the node they run on. Where discovery found a GPU group
        (``runai-gpu-group``: one reservation pod, one GPU) whose pods held more than 1 GPU
        (``Sharing.kai_capped``), each group's pods are scaled by ``capped`` per group unless
        ``capped_groups`` is False. A pod without that label (a fraction of several GPUs) is
        not scaled: its groups cannot be named (``kai_pool_gpus``)."""
        ctx = self.ctx
        terms = self._kai_terms(per_device=True)
        if terms is None:
            return "vector(0) * 0 < 0"
        placed = self._placed()
        factors = []
        if capped_groups and self.sharing.kai_capped:
            factors.append(self._group_scale(terms))
        devices = self._devices()
        if devices is not None:
            factors.append(devices)
        if factors:
            factors.append(placed)  # 1 for every other pod
            either = f" or on ({ctx.pod_join}) ".join(factors)
            terms = f"{terms} * on ({ctx.pod_join}) group_left () ({either})"
        return (
            f"sum by ({self.pod_node_key}) ({terms} * on ({ctx.pod_join}) "
            f"group_left (node) {placed})"
        )

    def _devices(self) -> str | None:
        """Each KAI pod's ``gpu-fraction-num-devices`` where it is more than 1 (``pod_join``);
        None where no pod gives one."""
        terms = []
        for count, values in by_fraction(self.sharing.fraction_devices, parse_devices).items():
            if count != 1:
                read = self.ctx.exact(
                    POD_ANNOTATIONS, f"{DEVICES_ANNOTATION}=~{alternation(values)}"
                )
                terms.append(f"group by ({self.ctx.pod_join}) ({read}) * {count!r}")
        return f"({' or '.join(terms)})" if terms else None

    def _group_held(self, terms: str) -> str:
        """``terms`` (per pod) of the pods a KAI GPU group serves, with the group's label."""
        ctx = self.ctx
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        labelled = ctx.attribute(
            POD_LABELS, f'{group}!="",namespace!={quote(RESERVATION_NAMESPACE)}'
        )
        return f"{terms} * on ({ctx.pod_join}) group_left ({group}) {labelled}"

    def _group_scale(self, terms: str) -> str:
        """Per pod a KAI GPU group serves (``pod_join``), ``capped`` of its group: its GPU's
        shares scaled to 1 where the group's pods hold more."""
        ctx = self.ctx
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        labelled = ctx.attribute(POD_LABELS, f'{group}!=""')
        scale = capped(self._group_held(terms), ctx.grouping([group]))
        by_pod = f"group by ({ctx.grouping(['namespace', 'pod', group])}) ({labelled})"
        return f"{by_pod} * on ({ctx.grouping([group])}) group_left () {scale}"

    def kai_oversubscribed(self, window_s: float) -> str | None:
        """The KAI GPU groups whose pods held more than 1 GPU at some instant of the window
        (``window_s``, at the sample step), valued at the largest ratio; None without KAI
        fractions. What discovery reads to set ``Sharing.kai_capped``."""
        terms = self._kai_terms(per_device=True)
        if terms is None:
            return None
        group = self.ctx.grouping([kube_label_to_prometheus(KAI_GPU_GROUP)])
        return self._over_window(f"sum by ({group}) ({self._group_held(terms)})", window_s)

    def dra_oversubscribed(self, window_s: float) -> str | None:
        """The GPUs whose DRA devices' shares added up to more than 1 at some instant of the
        window (a profile finops cannot read, counted whole; stale or mislabelled series),
        valued at the largest ratio; None without DRA claims. Reported: ``_dra_claims`` caps
        them always."""
        if not self.sharing.dra:
            return None
        gpu = self.ctx.grouping(["node", "gpu"])
        return self._over_window(f"sum by ({gpu}) ({self._dra_terms()})", window_s)

    def _over_window(self, held: str, window_s: float) -> str:
        """The largest of ``held`` over the window at the sample step, where past 1."""
        step = duration(self.ctx.sample_interval_s)
        return f"max_over_time(({held})[{duration(window_s)}:{step}]) > 1.001"

    def kai_holders(self, shard: str = "") -> str | None:
        """KAI fractional pods on the GPU their group's reservation pod holds: dcgm-exporter
        names only the reservation pod, so the pods are found by the group label they share
        (``runai-gpu-group``, in kube-state-metrics' pod labels). Keyed by ``SHARE_KEY``, at
        each pod's fraction; None without fractions. A pod without that label (one holding a
        fraction of several GPUs) is a holder of its node's pooled GPUs instead
        (``kai_pooled``)."""
        terms = self._kai_terms(per_device=True)
        if terms is None:
            return None
        ctx = self.ctx
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        labelled = ctx.attribute(POD_LABELS, f'{group}!=""')
        held = f"{terms} * on ({ctx.pod_join}) group_left ({group}) {labelled}"
        unit = "node, gpu, GPU_I_ID, gpu_model"
        reserved = self._kai_reserved(shard)
        return f"{held} * on ({ctx.grouping([group])}) group_left ({unit}) {reserved}"

    def _kai_reserved(self, shard: str = "") -> str:
        """Each GPU unit a KAI reservation pod holds, with its ``runai-gpu-group``."""
        ctx = self.ctx
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        wanted = [
            f'{ctx.dcgm_pod_label}!=""',
            f"{ctx.dcgm_namespace_label}={quote(RESERVATION_NAMESPACE)}",
            shard,
        ]
        series = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE, ",".join(w for w in wanted if w)))
        series = f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
        labelled = ctx.attribute(POD_LABELS, f'{group}!=""')
        unit = "node, gpu, GPU_I_ID, gpu_model"
        return (
            f"group by ({ctx.grouping([unit, group])}) ({series} * on ({ctx.pod_join}) "
            f"group_left ({group}) {labelled})"
        )

    def kai_pool_gpus(self, named_lookback_s: int | None = None) -> str | None:
        """The GPU units of each node reserved for KAI groups that no pod's ``runai-gpu-group``
        label names: the groups of pods holding a fraction of several GPUs
        (``gpu-fraction-num-devices`` > 1), which KAI names in one label per group
        (``runai-gpu-group/<group>``) that a kube-state-metrics allowlist cannot list. A group
        some pod's label named within ``named_lookback_s`` (``gpus``: the window) is not
        pooled, so a single-GPU group whose pods are between runs is never taken for one.
        Keyed by node, gpu, GPU_I_ID, gpu_model and the group; None without KAI fractions."""
        if not self.sharing.kai:
            return None
        ctx = self.ctx
        wide = (
            ctx if named_lookback_s is None else replace(ctx, attribute_lookback_s=named_lookback_s)
        )
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        served = wide.attribute(
            POD_LABELS, f'{group}!="",namespace!={quote(RESERVATION_NAMESPACE)}'
        )
        named = f"group by ({ctx.grouping([group])}) ({served})"
        return f"({self._kai_reserved()} unless on ({ctx.grouping([group])}) {named})"

    def kai_pooled(self, named_lookback_s: int | None = None) -> str | None:
        """Each KAI pod without a ``runai-gpu-group`` label on its node (``pod_node_key``), at
        its whole share (fraction x devices), at the instants its node has pooled GPUs
        (``kai_pool_gpus``): ``gpus`` spreads it over them. None without KAI fractions."""
        terms = self._kai_terms()
        pool = self.kai_pool_gpus(named_lookback_s)
        if terms is None or pool is None:
            return None
        ctx = self.ctx
        group = kube_label_to_prometheus(KAI_GPU_GROUP)
        labelled = ctx.attribute(POD_LABELS, f'{group}!=""')
        alone = f"({terms} unless on ({ctx.pod_join}) {labelled})"
        placed = f"{alone} * on ({ctx.pod_join}) group_left (node) {self._placed()}"
        return (
            f"sum by ({self.pod_node_key}) ({placed}) and on ({ctx.node_join}) "
            f"count by ({ctx.node_join}) ({pool})"
        )

    def _dra_series(self, extra: str, shard: str = "", model: bool = True) -> str:
        ctx = self.ctx
        wanted = [
            f'{ctx.dcgm_pod_label}!=""',
            f'{DRA_CLAIM_LABEL}!=""',
            'GPU_I_PROFILE=""',
            extra,
            shard,
        ]
        series = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE, ",".join(w for w in wanted if w)))
        if not model:
            return series
        return f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'

    def _dra_terms(self, shard: str = "") -> str:
        """Each pod's share of each DRA device (whole GPU or MIG profile), before the split among
        the pods that claim it: one read, weighted by the profile table (a whole GPU, no
        profile, counts 1)."""
        key = self.share_key
        device = self.ctx.grouping(["node", "gpu", DRA_DEVICE_LABEL])
        pods = f"{device}, namespace, pod"
        claimants = f"group by ({pods}) ({self._dra_series('', shard, model=False)})"
        by_profile = f"group by ({key}, {DRA_PROFILE_LABEL}) ({self._dra_series('', shard)})"
        table = _profile_table(DRA_PROFILE_LABEL, ("", *self.sharing.dra_profiles))
        # Keyed by SHARE_KEY and the profile: every join on the holder entries is ``on`` the key.
        shares = f"{by_profile} * on ({DRA_PROFILE_LABEL}) group_left () ({table})"
        return f"{shares} / on ({device}) group_left () count by ({device}) ({claimants})"

    def _dra_claims(self, capped: bool = True) -> str:
        """Pods holding GPUs through DRA claims, which request nothing kube-state-metrics sees;
        a pod that also requests through the extended-resource bridge is counted there. The
        devices' shares are capped per GPU (``gpu_capped``) unless ``capped`` is False: the
        driver allocates a GPU once, but a profile finops cannot read counts whole."""
        ctx = self.ctx
        requested = ctx.exact(GPU_REQUESTS, 'resource=~"nvidia_com_.+"')
        terms = self._dra_terms()
        return (
            f"sum by ({self.pod_node_key}) ({self.gpu_capped(terms) if capped else terms}) "
            f"unless on ({ctx.pod_join}) group by ({ctx.pod_join}) ({requested})"
        )

    # ---- per dcgm-exporter series: the holder entries behind busy and waste ---------------
    def _bound(self, extra: str, shard: str, also: str = "") -> str:
        """The dcgm-exporter series bound to a pod, one per holder entry (and per ``also``)."""
        ctx = self.ctx
        wanted = [
            f'{ctx.dcgm_pod_label}!=""',
            f"{ctx.dcgm_namespace_label}!={quote(RESERVATION_NAMESPACE)}",
            extra,
            shard,
        ]
        series = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE, ",".join(w for w in wanted if w)))
        series = f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
        by = f"{self.share_key}, {also}" if also else self.share_key
        return f"group by ({by}) ({series})"

    def mig_weights(self, shard: str = "") -> str | None:
        """Each MIG instance a pod holds through the device plugin, at its profile's fraction
        of the physical GPU, keyed by ``SHARE_KEY``; None when none is bound. (A DRA MIG pod's
        series are its parent GPU's, so its busy and memory are not its instance's.)"""
        parts = self._mig_instance_terms(shard)
        return f"({' or '.join(parts)})" if parts else None

    def _mig_instance_terms(self, shard: str) -> list[str]:
        """The MIG instances bound to pods at their profiles' fractions: one read, weighted by
        the profile table (``GPU_I_PROFILE`` value -> fraction)."""
        profiles = self.sharing.gpu_profiles
        if not profiles:
            return []
        bound = self._bound(f"GPU_I_PROFILE=~{alternation(profiles)}", shard, "GPU_I_PROFILE")
        table = _profile_table("GPU_I_PROFILE", profiles)
        return [f"sum by ({self.share_key}) ({bound} * on (GPU_I_PROFILE) group_left () ({table}))"]

    def holder_weights(self, shard: str = "") -> str:
        """Each holder entry's share of its physical GPU, keyed by ``SHARE_KEY``: a MIG
        instance's profile fraction, a DRA device's fraction split among its pods, otherwise
        the node's factor (1, or 1/replicas for each replica a pod holds)."""
        parts = self._mig_instance_terms(shard)
        plain = 'GPU_I_PROFILE=""'
        if self.sharing.dra:
            plain += f',{DRA_CLAIM_LABEL}=""'
            parts.append(self._dra_terms(shard))
        entries = self._bound(plain, shard)
        if self.sharing.per_process:  # a pod's process series is no holder entry of its own
            on = self.ctx.grouping(["node", "gpu", VGPU_LABEL])
            entries = f"({entries} unless on ({on}) {self._time_sliced_gpus()})"
        parts.append(self.per_node(entries))
        return f"({' or '.join(parts)})"

    def _time_sliced_gpus(self) -> str:
        """The GPUs whose series dcgm-exporter copies per replica (``vgpu``): shared in time."""
        ctx = self.ctx
        copies = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE, f'{VGPU_LABEL}!=""'))
        return f"group by ({ctx.grouping(['node', 'gpu'])}) ({copies})"

    def own_busy(self) -> str | None:
        """Each pod's own busy on each GPU shared in time where dcgm-exporter writes per-process
        series (virtual-GPU mode: ``DCGM_FI_DEV_GPU_UTIL`` with ``pod_uid`` and no ``vgpu``, the
        SM utilisation of the pod's processes in percent of the whole GPU), as a fraction of
        the share the pod holds there: ``min(1, util / 100 / share)``, the share being its
        replicas on that GPU (``vgpu`` copies) at the node's factor; keyed by node, gpu,
        namespace and pod. Only GPUs with replica copies get one (on a whole GPU a copy may
        carry ``pod_uid`` too), and only GPUs where some pod's processes read above 0 (all 0:
        the exporter maps no process); None where no such series were found."""
        factor = self.node_factor()
        if not self.sharing.per_process or factor is None:
            return None
        ctx = self.ctx
        pod = ctx.dcgm_pod_label
        key = ctx.grouping(["node", "gpu", "namespace", "pod"])
        wanted = f'{pod}!="",{POD_UID_LABEL}!="",{VGPU_LABEL}=""'
        read = ctx.dcgm_labels(ctx.exact(BUSY_UTIL, wanted))
        # All zero on a GPU: the exporter maps no process to a pod (no host PID namespace), so
        # the GPU keeps its estimate rather than every holder reading idle.
        mapped = f"sum by ({ctx.grouping(['node', 'gpu'])}) ({read}) > 0"
        util = f"(max by ({key}) ({read}) and on ({ctx.grouping(['node', 'gpu'])}) {mapped}) / 100"
        copies = ctx.dcgm_labels(ctx.exact(GPU_PRESENCE, f'{pod}!="",{VGPU_LABEL}!=""'))
        replicas = f"count by ({key}) (group by ({key}, {VGPU_LABEL}) ({copies}))"
        held = f"{replicas} * on ({ctx.node_join}) group_left () {factor}"
        return f"clamp_max({util} / on ({key}) ({held}), 1)"

    def busy(self, per_series: str) -> str:
        """A per-series busy share collapsed onto the holder entries (copies repeat the whole
        GPU's value: the max is that value, never a sum)."""
        return f"max by ({self.share_key}) ({per_series})"


def capped(held: str, by: str, capacity: str | None = None) -> str:
    """``min(1, capacity / the shares held)`` per ``by`` at each instant (capacity: an
    expression keyed by ``by``, or 1): the one formula by which over-subscribed shares are
    scaled, per node (``ShareQueries.node_scale``), per physical GPU (``gpu_capped``, the
    ledger's weights) and per KAI GPU group."""
    total = f"sum by ({by}) ({held})"
    if capacity is None:
        return f"clamp_max(1 / {total}, 1)"
    return f"clamp_max({capacity} / on ({by}) {total}, 1)"


def _summed(parts: list[str], by: str) -> str:
    if len(parts) == 1:
        return parts[0]
    tagged = [f'label_replace({part}, "share_part", "{i}", "", "")' for i, part in enumerate(parts)]
    return f"sum by ({by}) ({' or '.join(tagged)})"


def _profile_table(label: str, profiles: tuple[str, ...]) -> str:
    """One constant series per MIG profile, ``label`` naming it, valued at its fraction of the
    GPU (``""``, no profile: a whole GPU, 1)."""
    entries = []
    for profile in profiles:
        fraction = mig_fraction(profile) if profile else 1.0
        entries.append(
            f'label_replace(vector({fraction!r}), {quote(label)}, {quote(profile)}, "", "")'
        )
    return " or ".join(entries)

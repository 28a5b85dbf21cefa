"""The deterministic sample cluster: state at any instant, and the metric series it would export.

A sample taken at ``t`` reports the state in effect just before ``t`` (during ``(t - step, t]``):
with every change on a 15-minute boundary, a step that divides 15 minutes makes "sum of samples in
``(start, end]`` x step" equal the exact integral over ``[start, end)``, so queries can be checked
against the ground truth to the cent.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from finops_cli.sample.energy import (
    decode_seconds_per_request,
    energy_counter_mj,
    last_restart,
    power_watts,
    prefill_seconds_per_request,
    prefix_hit_share,
)
from finops_cli.sample.scenario import (
    DAY_S,
    HOUR_S,
    MODEL_KEY,
    NODES,
    QUANTUM_S,
    NodeSpec,
    WorkloadSpec,
    mig_share,
    workloads,
)
from finops_cli.sample.sharing import (
    DRA_DRIVER,
    allocated_share,
    check_wire,
    dra_device_name,
    hami_monitor_series,
    hami_scheduler_series,
    ksm_resource,
    maps_to_device,
    node_allocatable,
    node_labels,
    sharing_mode,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
UnitKey = tuple[str, int, int | None]  # node, GPU index, MIG instance (None: the whole GPU)

GPU_PRICE_SHARE = 0.90  # OpenCost's split of an instance price: GPUs, then CPU and RAM
CPU_PRICE_SHARE = 0.07
RAM_PRICE_SHARE = 0.03
SPOT_PRICE_SWING = 0.12
WEEKEND_LOAD = 0.6  # Saturday and Sunday traffic, relative to the same hour on a weekday
DRIVER_VERSION = "580.105.08"
GIB = 1024**3
VLLM_LATENCY_BUCKETS = (
    "0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0", "20.0", "30.0",
    "40.0", "50.0", "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0", "7680.0", "+Inf",
)  # fmt: skip
"""The ``le`` of vLLM's request prefill and decode time histograms."""


def _key(seed: int, *parts: object) -> int:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _uniform(key: int, counter: IntArray) -> FloatArray:
    """Counter-based noise in [0, 1): the same (key, counter) always gives the same number."""
    x = counter.astype(np.uint64) ^ np.uint64(key)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class PodRun:
    """One pod's life inside a grid: which workload, which run, and the grid slice it covers."""

    workload: WorkloadSpec
    run: int
    pod: str
    uid: str
    first: int  # index into the grid of the first sample reporting the pod
    last: int  # inclusive


@dataclass(frozen=True)
class GpuUnit:
    """A whole GPU (``instance`` None) or one MIG instance: its memory and share of the GPU."""

    gpu: int
    instance: int | None
    profile: str
    memory_mib: int
    share: float


@dataclass(frozen=True)
class UnitState:
    """What dcgm-exporter reads on one GPU unit at each sample of a grid."""

    busy: FloatArray  # engine-active share of the unit (0 when nobody holds it)
    held: BoolArray  # some pod is bound to the unit
    memory_share: FloatArray  # share of the unit's memory in use while held


@dataclass(frozen=True)
class SampleSeries:
    """One exported time series: metric name, labels, timestamps (s) and values."""

    name: str
    labels: dict[str, str]
    timestamps: IntArray
    values: FloatArray


class SampleCluster:
    """A seeded simulation of a GPU cluster; pure: no clock, no I/O."""

    def __init__(
        self,
        seed: int = 42,
        *,
        nodes: tuple[NodeSpec, ...] = NODES,
        cast: tuple[WorkloadSpec, ...] | None = None,
        with_opencost: bool = True,
        dcgm_host_label: str | None = "Hostname",
        dcgm_honor_labels: bool = True,
        dcgm_energy_counter: bool = True,
        name: str = "sample",
        hami_metrics: str | None = "hami",
        hami_monitor: str | None = "hami",
    ) -> None:
        """``dcgm_host_label`` and ``dcgm_honor_labels`` reproduce real deployment variants:
        ``hostname`` (unreleased dcgm-exporter), None (``--no-hostname``), and a ServiceMonitor
        with ``honorLabels: false`` that moves the workload's labels to ``exported_*``.
        ``dcgm_energy_counter`` False leaves out ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (a
        counters file without it: finops then integrates ``DCGM_FI_DEV_POWER_USAGE``).
        ``hami_metrics``: the HAMi scheduler's metric names on HAMi nodes (``sharing.HAMI_SCHEMES``:
        ``hami``, ``legacy``), or None when its scheduler is not scraped; ``hami_monitor`` the
        same for HAMi's vGPUmonitor (per-container utilisation: each HAMi pod's own busy).
        """
        self.hami_metrics = hami_metrics
        self.hami_monitor = hami_monitor
        self.seed = seed
        self.name = name
        self.dcgm_host_label = dcgm_host_label
        self.dcgm_honor_labels = dcgm_honor_labels
        self.dcgm_energy_counter = dcgm_energy_counter
        self.nodes = nodes
        self.with_opencost = with_opencost
        self._node_by_name = {n.name: n for n in nodes}
        self._node_index = {n.name: i for i, n in enumerate(nodes)}
        base = cast if cast is not None else workloads()
        # The seed shifts every schedule by whole quanta, keeping changes on 15-minute boundaries.
        self.workloads = tuple(
            self._resolve(_shift(w, QUANTUM_S * (_key(seed, "phase", w.name) % 8))) for w in base
        )
        self._check_no_gpu_oversubscribed()

    def _resolve(self, w: WorkloadSpec) -> WorkloadSpec:
        """Fill a MIG slice's profile from its node's layout, and check the wire agrees."""
        node = self.node(w.node)
        if w.mig_instance is not None:
            instances = node.mig_instances(w.gpu_indices[0]) if len(w.gpu_indices) == 1 else ()
            if w.mig_instance >= len(instances):
                raise ValueError(f"sample workload {w.name}: no MIG instance {w.mig_instance}")
            profile = instances[w.mig_instance][1]
            if w.mig_profile not in ("", profile):
                raise ValueError(f"sample workload {w.name}: instance is {profile}")
            w = replace(w, mig_profile=profile)
        check_wire(node, w)
        return w

    # ---- schedules -------------------------------------------------------------------------
    def node(self, name: str) -> NodeSpec:
        return self._node_by_name[name]

    def runs_at(self, workload: WorkloadSpec, instants: IntArray) -> IntArray:
        """Run number active at each instant, or -1 when the workload has no pod then."""
        s = workload.schedule
        rel = instants - s.phase_s
        if s.period_s is None:
            if s.restart_every_s is None:
                return np.zeros_like(instants)
            return np.floor_divide(rel, s.restart_every_s)
        run = np.floor_divide(rel, s.period_s)
        active = (rel - run * s.period_s) < s.duration_s
        if s.days_modulo is not None:
            start_day = np.floor_divide(s.phase_s + run * s.period_s, DAY_S) % s.days_modulo
            active &= np.isin(start_day, list(s.only_days))
        return np.where(active, run, -1)

    def pod_name(self, workload: WorkloadSpec, run: int) -> str:
        h = f"{_key(self.seed, 'pod', workload.name, run):016x}"
        tail = _suffix(h)
        if workload.kind == "reservation":  # a bare pod, named by KAI's binder (§7)
            return f"{workload.name}-{tail}"
        if workload.schedule.period_s is None:
            return f"{workload.name}-{h[:9]}-{tail}"
        return f"{workload.name}-{run}-{tail}"

    def gpu_uuid(self, node: str, gpu: int) -> str:
        return gpu_uuid(self.seed, node, gpu)

    def mig_uuid(self, node: str, gpu: int, instance: int) -> str:
        return "MIG-" + gpu_uuid(self.seed, f"{node}/mig{instance}", gpu)[len("GPU-") :]

    def resource_claim(self, workload: WorkloadSpec, pod: str) -> str:
        """The ResourceClaim a DRA pod's claim resolves to: the shared claim it names, or the one
        generated from its template (``<pod>-<claim>-<5 random characters>``)."""
        if workload.resource_claim:
            return workload.resource_claim
        h = f"{_key(self.seed, 'claim', pod):016x}"
        return f"{pod}-{workload.claim_name}-{_suffix(h)}"

    def pod_uid(self, workload: WorkloadSpec, run: int) -> str:
        return _uid(_key(self.seed, "uid", workload.name, run), _key(self.seed, "u2", run))

    def pod_runs(self, grid: IntArray) -> list[PodRun]:
        """Every pod that appears on the grid, with the slice of samples that report it."""
        out: list[PodRun] = []
        for w in self.workloads:
            runs = self.runs_at(w, grid - 1)
            if not len(runs):
                continue
            edges = np.flatnonzero(np.diff(runs)) + 1
            starts = np.concatenate(([0], edges))
            ends = np.concatenate((edges, [len(runs)])) - 1
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                run = int(runs[a])
                if run < 0:
                    continue
                out.append(PodRun(w, run, self.pod_name(w, run), self.pod_uid(w, run), a, b))
        return out

    # ---- prices ----------------------------------------------------------------------------
    def instance_price(self, node: NodeSpec, instants: IntArray) -> FloatArray:
        """Instance $/h in effect at each instant; spot moves every hour, on-demand never."""
        if not node.is_spot:
            return np.full(len(instants), node.hourly_price)
        hour = np.floor_divide(instants, HOUR_S)
        swing = 2.0 * _uniform(_key(self.seed, "spot", node.name), hour) - 1.0
        return np.round(node.hourly_price * (1.0 + SPOT_PRICE_SWING * swing), 4)

    def gpu_price(self, node: NodeSpec, instants: IntArray) -> FloatArray:
        """Per-GPU $/h as OpenCost exports it in ``node_gpu_hourly_cost``."""
        return self.instance_price(node, instants) * GPU_PRICE_SHARE / node.gpu_count

    def cpu_price(self, node: NodeSpec, instants: IntArray) -> FloatArray:
        return self.instance_price(node, instants) * CPU_PRICE_SHARE / node.vcpu

    def ram_price(self, node: NodeSpec, instants: IntArray) -> FloatArray:
        """$ per GiB-hour."""
        return self.instance_price(node, instants) * RAM_PRICE_SHARE / node.ram_gib

    # ---- utilisation -----------------------------------------------------------------------
    def load(self, workload: WorkloadSpec, instants: IntArray) -> FloatArray:
        """Traffic shape of an inference service: peaks mid-afternoon UTC, quiet at night, and
        quieter at weekends (a weekly pattern that anomaly detection must not mistake for one)."""
        hour = (instants % DAY_S) / HOUR_S
        daily = np.clip(0.55 + 0.45 * np.sin(2 * math.pi * (hour - 9.0) / 24.0), 0.05, 1.0)
        weekday = (np.floor_divide(instants, DAY_S) + 3) % 7  # 1970-01-01 was a Thursday: 0=Monday
        return np.where(weekday >= 5, daily * WEEKEND_LOAD, daily)

    def busy(self, workload: WorkloadSpec, gpu: int, instants: IntArray) -> FloatArray:
        """Engine-active share (0-1) of one GPU while the workload holds it."""
        noise = _uniform(_key(self.seed, "busy", workload.name, gpu), instants // 60) - 0.5
        level = workload.busy_base + workload.busy_swing * (2 * self.load(workload, instants) - 1)
        return np.asarray(np.round(np.clip(level + 0.08 * noise, 0.0, 1.0), 6), dtype=np.float64)

    # ---- export ----------------------------------------------------------------------------
    def series(self, start: int, end: int, step: int) -> Iterator[SampleSeries]:
        """All series the cluster exports for samples in ``(start, end]``, every ``step`` s."""
        grid = grid_between(start, end, step)
        if not len(grid):
            return
        runs = self.pod_runs(grid)
        yield from self._node_series(grid)
        yield from self._exporter_pods(grid)
        yield from self._pod_series(grid, runs)
        yield from self._dcgm_series(grid, runs, step)
        yield from self._inference_series(grid, runs, step)
        if self.hami_metrics is not None:
            yield from hami_scheduler_series(self, grid, runs, self.hami_metrics)
        if self.hami_monitor is not None:
            yield from hami_monitor_series(self, grid, runs, self.hami_monitor)

    def _node_series(self, grid: IntArray) -> Iterator[SampleSeries]:
        for node in self.nodes:
            labels = {
                "instance": node.name,
                "node": node.name,
                "instance_type": node.instance_type,
                "region": node.region,
                "provider_id": (
                    f"gce://finops-sample/{node.zone}/{node.name}"
                    if node.accelerator
                    else f"aws:///{node.zone}/i-{_key(self.seed, node.name) % 16**17:017x}"
                ),
                "arch": "amd64",
            }
            at = grid - 1
            ones = np.ones(len(grid))
            if self.with_opencost:
                yield SampleSeries("node_gpu_hourly_cost", labels, grid, self.gpu_price(node, at))
                yield SampleSeries("node_gpu_count", labels, grid, ones * node.gpu_count)
                yield SampleSeries("node_cpu_hourly_cost", labels, grid, self.cpu_price(node, at))
                yield SampleSeries("node_ram_hourly_cost", labels, grid, self.ram_price(node, at))
                yield SampleSeries(
                    "node_total_hourly_cost", labels, grid, self.instance_price(node, at)
                )
                yield SampleSeries("kubecost_node_is_spot", labels, grid, ones * node.is_spot)
            yield SampleSeries("kube_node_labels", _kube_node_labels(node), grid, ones)
            for resource, count in node_allocatable(node).items():
                yield SampleSeries(
                    "kube_node_status_allocatable",
                    {"node": node.name, "resource": resource, "unit": "integer"},
                    grid,
                    ones * count,
                )

    def _pod_series(self, grid: IntArray, runs: list[PodRun]) -> Iterator[SampleSeries]:
        from finops_cli.labels import kube_label_to_prometheus

        for r in runs:
            w = r.workload
            ts = grid[r.first : r.last + 1]
            ones = np.ones(len(ts))
            pod = {"namespace": w.namespace, "pod": r.pod}
            container = pod | {"container": w.container, "instance": w.node, "node": w.node}
            labels = {kube_label_to_prometheus(k): v for k, v in w.labels.items()}
            yield SampleSeries("kube_pod_labels", pod | {"uid": r.uid} | labels, ts, ones)
            annotations = {
                kube_label_to_prometheus(k, prefix="annotation_"): v
                for k, v in w.annotations.items()
            }
            yield SampleSeries("kube_pod_annotations", pod | {"uid": r.uid} | annotations, ts, ones)
            owner_kind, owner_name = owner_of(w, r.pod)
            yield SampleSeries(
                "kube_pod_owner",
                pod
                | {
                    "uid": r.uid,
                    "owner_kind": owner_kind or "<none>",
                    "owner_name": owner_name or "<none>",
                    "owner_is_controller": "true" if owner_kind else "<none>",
                },
                ts,
                ones,
            )
            yield SampleSeries(
                "kube_pod_info",
                pod
                | {
                    "uid": r.uid,
                    "node": w.node,
                    "created_by_kind": owner_kind,
                    "created_by_name": owner_name,
                    "host_ip": _host_ip(w.node),
                    "pod_ip": self.pod_ip(w.node, r.pod),
                    "priority_class": "",
                    "host_network": "false",
                },
                ts,
                ones,
            )
            # kube-state-metrics reports only the resources a container requests: whole GPUs,
            # MIG profiles, replicas, HAMi's cores and memory (sanitised names, §0).
            for resource, count in w.resource_requests.items():
                yield SampleSeries(
                    "kube_pod_container_resource_requests",
                    pod
                    | {
                        "container": w.container,
                        "node": w.node,
                        "resource": ksm_resource(resource),
                        "unit": "integer",
                        "uid": r.uid,
                    },
                    ts,
                    ones * count,
                )
            if w.claim_name:  # a DRA claim shows only here in kube-state-metrics (§4)
                yield SampleSeries(
                    "kube_pod_resourceclaim_info",
                    pod
                    | {
                        "uid": r.uid,
                        "claim_name": w.claim_name,
                        "resourceclaim_name": self.resource_claim(w, r.pod),
                        "resourceclaim_template_name": w.claim_template,
                    },
                    ts,
                    ones,
                )
            if self.with_opencost:
                yield SampleSeries("container_gpu_allocation", container, ts, ones * w.gpus)
                yield SampleSeries("container_cpu_allocation", container, ts, ones * w.cpu_cores)
                yield SampleSeries(
                    "container_memory_allocation_bytes", container, ts, ones * w.memory_gib * GIB
                )

    def gpu_units(self, node: NodeSpec) -> Iterator[GpuUnit]:
        """What dcgm-exporter reports on a node: whole GPUs, or the MIG instances of a split one."""
        for gpu in range(node.gpu_count):
            instances = node.mig_instances(gpu)
            if not instances:
                yield GpuUnit(gpu, None, "", node.gpu_memory_mib, 1.0)
            for instance, profile, memory, _ in instances:
                yield GpuUnit(gpu, instance, profile, memory, mig_share(profile))

    def holders(self, runs: list[PodRun]) -> dict[UnitKey, list[PodRun]]:
        """The pod runs bound to each GPU unit (node, GPU index, MIG instance or None), whatever
        their share (KAI's reservation pod is bound to its GPU and holds none of it)."""
        held: dict[UnitKey, list[PodRun]] = {}
        for r in runs:
            for gpu in r.workload.gpu_indices:
                held.setdefault((r.workload.node, gpu, r.workload.mig_instance), []).append(r)
        return held

    def unit_state(self, gpu: int, bound: list[PodRun], grid: IntArray) -> UnitState:
        """What dcgm-exporter reads on one GPU unit, from the pods bound to it.

        A whole GPU held by one pod, or a MIG instance, is busy as its pod is. A shared GPU
        (time-slicing, MPS, HAMi, KAI, a shared DRA claim) is ``min(1, sum of each holder's busy x
        its share)``: every holder keeps its share as busy as it is. Its memory in use is likewise
        the holders' memory shares (a pinned ``memory_fraction``, else one following the load)
        weighted by their shares.
        """
        busy = np.zeros(len(grid))
        memory = np.zeros(len(grid))
        held = np.zeros(len(grid), dtype=bool)
        for r in bound:
            sl = slice(r.first, r.last + 1)
            held[sl] = True
            weight = 1.0 if r.workload.mig_instance is not None else r.workload.gpu_share
            if weight <= 0:
                continue
            own = self.busy(r.workload, gpu, grid[sl] - 1)
            pinned = r.workload.memory_fraction
            used = np.full(len(own), pinned) if pinned is not None else 0.35 + 0.5 * own
            busy[sl] += own if weight == 1.0 else weight * own
            memory[sl] += used if weight == 1.0 else weight * used
        return UnitState(_rounded_busy(busy), held, np.minimum(memory, 1.0))

    def unit_busy(self, grid: IntArray, runs: list[PodRun]) -> dict[UnitKey, FloatArray]:
        """Each held GPU unit's busy on ``grid`` (``unit_state``): what a pod's waste and
        efficiency read for every unit it holds."""
        return {
            key: self.unit_state(key[1], bound, grid).busy
            for key, bound in self.holders(runs).items()
        }

    def pod_ip(self, node: str, pod: str) -> str:
        host = _host_ip(node).split(".")
        third = (int(host[2]) + 64) % 256 if len(host) == 4 else 64
        return f"10.0.{third}.{_key(self.seed, 'ip', pod) % 250 + 4}"

    def _dcgm_base(self, node: NodeSpec, gpu: int, unit: GpuUnit | None) -> dict[str, str]:
        base = {
            "gpu": str(gpu),
            "UUID": gpu_uuid(self.seed, node.name, gpu),
            "pci_bus_id": f"00000000:{0x18 + 0x10 * gpu:02X}:00.0",
            "device": f"nvidia{gpu}",
            "modelName": node.gpu_product,
            "DCGM_FI_DRIVER_VERSION": DRIVER_VERSION,
        }
        if unit is not None and unit.instance is not None:
            base |= {"GPU_I_PROFILE": unit.profile, "GPU_I_ID": str(unit.instance)}
        if self.dcgm_host_label:
            base[self.dcgm_host_label] = node.name
        # The scrape's target labels: the address scraped (the exporter pod's IP) always, and
        # with ``honorLabels: false`` the exporter's own pod.
        base["instance"] = f"{self.exporter_ip(node)}:{EXPORTER_PORT}"
        if not self.dcgm_honor_labels:
            base |= {
                "namespace": EXPORTER_NAMESPACE,
                "pod": exporter_pod(node),
                "container": "nvidia-dcgm-exporter",
            }
        return base

    def exporter_ip(self, node: NodeSpec) -> str:
        """The dcgm-exporter pod's IP: one per node, from a range no workload pod's IP is in
        (``pod_ip`` draws those at random, and may repeat one across nodes)."""
        index = self._node_index[node.name]
        return f"10.128.{index // 256 % 256}.{index % 256}"

    def _exporter_pods(self, grid: IntArray) -> Iterator[SampleSeries]:
        """kube-state-metrics' ``kube_pod_info`` of each GPU node's dcgm-exporter pod: where a
        ``--no-hostname`` exporter's node is found (its IP in ``instance``)."""
        for node in self.nodes:
            if not node.gpu_count:
                continue
            pod = exporter_pod(node)
            labels = {
                "namespace": EXPORTER_NAMESPACE,
                "pod": pod,
                "uid": _uid(_key(self.seed, "uid", pod), _key(self.seed, "u2", pod)),
                "node": node.name,
                "created_by_kind": "DaemonSet",
                "created_by_name": "nvidia-dcgm-exporter",
                "host_ip": _host_ip(node.name),
                "pod_ip": self.exporter_ip(node),
                "priority_class": "system-node-critical",
                "host_network": "false",
            }
            yield SampleSeries("kube_pod_info", labels, grid, np.ones(len(grid)))

    def _pod_labels(self, r: PodRun) -> dict[str, str]:
        prefix = "" if self.dcgm_honor_labels else "exported_"
        return {
            f"{prefix}container": r.workload.container,
            f"{prefix}namespace": r.workload.namespace,
            f"{prefix}pod": r.pod,
            "pod_uid": "",
        }

    def _dra_labels(self, node: NodeSpec, r: PodRun) -> dict[str, str]:
        """dcgm-exporter's ``KUBERNETES_ENABLE_DRA`` labels of a claimed device (§4)."""
        w = r.workload
        gpu = w.gpu_indices[0]
        labels = {
            "dra_claim_name": self.resource_claim(w, r.pod),
            "dra_claim_namespace": w.namespace,
            "dra_driver_name": DRA_DRIVER,
            "dra_pool_name": node.name,
            "dra_device_name": dra_device_name(node, gpu, w.mig_instance),
        }
        if w.mig_instance is not None:
            labels["dra_mig_profile"] = w.mig_profile
            labels["dra_mig_device_uuid"] = self.mig_uuid(node.name, gpu, w.mig_instance)
        return labels

    def _bindings(
        self, node: NodeSpec, unit: GpuUnit, active: list[PodRun]
    ) -> list[dict[str, str]]:
        """The pod labels of each copy dcgm-exporter writes of a unit's series while ``active``
        pods are bound to it; ``[{}]``: one copy without pod labels."""
        if node.sharing == "hami":  # §5: HAMi's device IDs map to no GPU
            return [{}]
        if node.sharing == "dra":  # §4: one copy per pod of a claimed device; a claimed MIG
            if unit.instance is not None:  # device labels its parent GPU's series instead
                return [{}]
            return [self._pod_labels(r) | self._dra_labels(node, r) for r in active] or [{}]
        mapped = sorted((r for r in active if maps_to_device(r.workload)), key=lambda r: r.pod)
        if not mapped:  # KAI fractions hold no device (§7)
            return [{}]
        if node.virtual_gpus:  # §2: one copy per pod and replica it holds, ``vgpu`` its index
            return [
                self._pod_labels(r) | ({"vgpu": str(v)} if v is not None else {})
                for r in mapped
                for v in (r.workload.vgpu or (None,))
            ]
        return [self._pod_labels(mapped[-1])]  # §2, §3: one pod per GPU, the last listed

    def gpu_power(self, grid: IntArray, runs: list[PodRun]) -> dict[tuple[str, int], FloatArray]:
        """Each physical GPU's power (W) at each sample: ``energy.power_watts`` of its busy, a
        MIG-partitioned GPU's being its instances' busy weighted by their slices (dcgm-exporter
        repeats the parent GPU's power on every instance's series)."""
        holder = self.holders(runs)
        out: dict[tuple[str, int], FloatArray] = {}
        for node in self.nodes:
            busy: dict[int, FloatArray] = {}
            for unit in self.gpu_units(node):
                bound = holder.get((node.name, unit.gpu, unit.instance), [])
                state = self.unit_state(unit.gpu, bound, grid)
                weight = 1.0 if unit.instance is None else unit.share
                busy[unit.gpu] = busy.get(unit.gpu, np.zeros(len(grid))) + weight * state.busy
            for gpu, total in busy.items():
                out[(node.name, gpu)] = power_watts(_rounded_busy(total))
        return out

    def energy_counters(self, grid: IntArray, step: int) -> dict[tuple[str, int], FloatArray]:
        """Each physical GPU's ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (mJ) on ``grid``: the
        power integrated sample by sample since its node's driver last loaded, so the history
        back to the earliest such load is simulated too."""
        if not len(grid):
            return {}
        first = int(grid[0])
        since = min(
            int(last_restart(self.seed, n.name, np.array([first - 1]))[0]) for n in self.nodes
        )
        history = grid_between(since, int(grid[-1]), step)
        power = self.gpu_power(history, self.pod_runs(history))
        tail = len(history) - len(grid)
        return {
            (node, gpu): energy_counter_mj(self.seed, node, history, watts, step)[tail:]
            for (node, gpu), watts in power.items()
        }

    def _dcgm_series(self, grid: IntArray, runs: list[PodRun], step: int) -> Iterator[SampleSeries]:
        holder = self.holders(runs)
        power = self.gpu_power(grid, runs)
        energy = self.energy_counters(grid, step) if self.dcgm_energy_counter else {}
        for node in self.nodes:
            states: dict[tuple[int, int | None], tuple[GpuUnit, UnitState]] = {}
            for unit in self.gpu_units(node):
                bound = holder.get((node.name, unit.gpu, unit.instance), [])
                state = self.unit_state(unit.gpu, bound, grid)
                states[(unit.gpu, unit.instance)] = (unit, state)
                kinds = {"util": unit.instance is None, "profiling": node.profiling}
                base = self._dcgm_base(node, unit.gpu, unit)
                watts = power[(node.name, unit.gpu)]
                counter = energy.get((node.name, unit.gpu))
                for a, b, active in _segments(bound, len(grid)):
                    copies = self._bindings(node, unit, active) if active else [{}]
                    for extra in copies:
                        yield from _gpu_metrics(
                            base | extra,
                            grid[a : b + 1],
                            state.busy[a : b + 1],
                            unit.memory_mib,
                            state.held[a : b + 1],
                            state.memory_share[a : b + 1],
                            **kinds,
                            power=watts[a : b + 1],
                            energy=None if counter is None else counter[a : b + 1],
                        )
                if node.virtual_gpus and node.process_metrics and unit.instance is None:
                    yield from self._process_series(node, unit, bound, grid)
            if node.sharing == "dra":
                yield from self._dra_parent_series(node, grid, holder, states, power, energy)

    def process_values(self, r: PodRun, gpu: int, grid: IntArray) -> tuple[FloatArray, FloatArray]:
        """dcgm-exporter's per-process figures of one pod on a GPU shared in time, at the pod's
        samples: the SM utilisation of its processes in whole percent of the GPU (its share x
        its own busy, as NVML reports it per process and dcgm-exporter sums per pod) and their
        memory in MiB (its share x its memory in use)."""
        w = r.workload
        own = self.busy(w, gpu, grid[r.first : r.last + 1] - 1)
        pinned = w.memory_fraction
        used = np.full(len(own), pinned) if pinned is not None else 0.35 + 0.5 * own
        memory_mib = self.node(w.node).gpu_memory_mib
        util = np.floor(100.0 * w.gpu_share * own + 0.5)
        return util, np.floor(memory_mib * w.gpu_share * used + 0.5)

    def hami_utilisation(
        self, r: PodRun, gpu: int, grid: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """What HAMi's vGPUmonitor reads for a HAMi container on one device, at the pod's
        samples: its processes' SM utilisation in whole percent of the GPU (its share x its own
        busy; HAMi's limiter does not cap what the figure says) and their memory in MiB (as
        ``process_values``)."""
        return self.process_values(r, gpu, grid)

    def own_busy(self, r: PodRun, gpu: int, grid: IntArray) -> FloatArray | None:
        """A pod's own busy share of its share of a GPU, where its exporter writes per-process
        series (``process_values``) or, for a HAMi pod, where HAMi's vGPUmonitor is scraped
        (``hami_utilisation``): ``min(1, util / 100 / share)``; None elsewhere."""
        node = self.node(r.workload.node)
        w = r.workload
        if self.hami_monitor is not None and sharing_mode(node, w) == "hami" and w.gpu_share > 0:
            util, _ = self.hami_utilisation(r, gpu, grid)
            return np.minimum(1.0, util / 100.0 / w.gpu_share)
        if not (node.virtual_gpus and node.process_metrics) or w.mig_instance is not None:
            return None
        if not maps_to_device(w) or w.gpu_share <= 0:
            return None
        util, _ = self.process_values(r, gpu, grid)
        return np.minimum(1.0, util / 100.0 / w.gpu_share)

    def holder_busy(
        self, r: PodRun, gpu: int, grid: IntArray, unit_busy: dict[UnitKey, FloatArray]
    ) -> FloatArray:
        """The busy a holder's share is charged at, at its samples: its own where its exporter
        writes per-process series (``own_busy``), else its GPU unit's (``unit_busy``)."""
        own = self.own_busy(r, gpu, grid)
        if own is not None:
            return own
        w = r.workload
        return unit_busy[(w.node, gpu, w.mig_instance)][r.first : r.last + 1]

    def _process_series(
        self, node: NodeSpec, unit: GpuUnit, bound: list[PodRun], grid: IntArray
    ) -> Iterator[SampleSeries]:
        """Virtual-GPU mode's per-pod process series (§2, dcgm-exporter #594): one
        ``DCGM_FI_DEV_GPU_UTIL`` and one ``DCGM_FI_DEV_FB_USED`` per pod on the GPU, always with
        ``pod_uid`` and without ``vgpu``, valued at the pod's own processes, next to the
        per-replica copies that repeat the whole GPU's value."""
        base = self._dcgm_base(node, unit.gpu, unit)
        for r in bound:
            if not maps_to_device(r.workload):
                continue
            labels = base | self._pod_labels(r) | {"pod_uid": r.uid}
            ts = grid[r.first : r.last + 1]
            util, memory = self.process_values(r, unit.gpu, grid)
            yield SampleSeries("DCGM_FI_DEV_GPU_UTIL", labels, ts, util)
            yield SampleSeries("DCGM_FI_DEV_FB_USED", labels, ts, memory)

    def _dra_parent_series(
        self,
        node: NodeSpec,
        grid: IntArray,
        holder: dict[UnitKey, list[PodRun]],
        states: dict[tuple[int, int | None], tuple[GpuUnit, UnitState]],
        power: dict[tuple[str, int], FloatArray],
        energy: dict[tuple[str, int], FloatArray],
    ) -> Iterator[SampleSeries]:
        """A MIG-partitioned GPU's own series (no ``GPU_I_PROFILE``): dcgm-exporter keys a DRA MIG
        device by its parent's UUID, so these carry the claiming pods (§4). Busy is the
        instances' busy weighted by their shares; no GPU_UTIL on a MIG-enabled GPU."""
        for gpu in range(node.gpu_count):
            instances = [states[(gpu, i)] for i, *_ in node.mig_instances(gpu)]
            if not instances:
                continue
            busy = np.zeros(len(grid))
            used_mib = np.zeros(len(grid))
            held = np.zeros(len(grid), dtype=bool)
            bound: list[PodRun] = []
            for unit, state in instances:
                busy += state.busy * unit.share
                used_mib += np.where(state.held, unit.memory_mib * state.memory_share, 0.0)
                held |= state.held
                bound += holder.get((node.name, gpu, unit.instance), [])
            busy = _rounded_busy(busy)
            memory_share = used_mib / node.gpu_memory_mib
            base = self._dcgm_base(node, gpu, None)
            for a, b, active in _segments(bound, len(grid)):
                copies = [self._pod_labels(r) | self._dra_labels(node, r) for r in active] or [{}]
                for extra in copies:
                    yield from _gpu_metrics(
                        base | extra,
                        grid[a : b + 1],
                        busy[a : b + 1],
                        node.gpu_memory_mib,
                        held[a : b + 1],
                        memory_share[a : b + 1],
                        util=False,
                        profiling=node.profiling,
                        power=power[(node.name, gpu)][a : b + 1],
                        energy=(
                            None
                            if (node.name, gpu) not in energy
                            else energy[(node.name, gpu)][a : b + 1]
                        ),
                    )

    def served_model(self, workload: WorkloadSpec) -> str:
        """The model name an inference server reports for itself."""
        return workload.served_model or workload.labels.get(MODEL_KEY, workload.name)

    def _inference_series(
        self, grid: IntArray, runs: list[PodRun], step: int
    ) -> Iterator[SampleSeries]:
        """Counters as vLLM, Triton and TGI export them; each new pod starts from zero."""
        for r in runs:
            w = r.workload
            if w.serving is None:
                continue
            ts = grid[r.first : r.last + 1]
            requests = np.cumsum(self.requests_in_step(w, ts, step))
            prompt = requests * w.prompt_tokens_per_request
            generated = requests * w.generation_tokens_per_request
            pod = {"namespace": w.namespace, "pod": r.pod}
            model = self.served_model(w)
            if w.serving == "vllm":
                labels = pod | {"model_name": model, "engine": "0"}
                ok = labels | {"finished_reason": "stop"}
                yield SampleSeries("vllm:request_success_total", ok, ts, requests)
                yield SampleSeries("vllm:prompt_tokens_total", labels, ts, prompt)
                yield SampleSeries("vllm:generation_tokens_total", labels, ts, generated)
                yield from self._vllm_phases(w, labels, ts, requests)
            elif w.serving == "triton":
                labels = pod | {"model": model, "version": "1"}
                yield SampleSeries("nv_inference_request_success", labels, ts, requests)
                yield SampleSeries("nv_inference_count", labels, ts, requests)
            elif w.serving == "tgi":
                yield SampleSeries("tgi_request_success", pod, ts, requests)
                yield SampleSeries("tgi_request_count", pod, ts, requests)
                yield SampleSeries("tgi_request_input_length_sum", pod, ts, prompt)
                yield SampleSeries("tgi_request_input_length_count", pod, ts, requests)
                yield SampleSeries("tgi_request_generated_tokens_sum", pod, ts, generated)
                yield SampleSeries("tgi_request_generated_tokens_count", pod, ts, requests)

    def phase_seconds(self, w: WorkloadSpec) -> tuple[float, float]:
        """Prefill and decode seconds of one request of ``w`` (``energy``'s model)."""
        return (
            prefill_seconds_per_request(self.seed, w.name, w.prompt_tokens_per_request),
            decode_seconds_per_request(self.seed, w.name, w.generation_tokens_per_request),
        )

    def _vllm_phases(
        self, w: WorkloadSpec, labels: dict[str, str], ts: IntArray, requests: FloatArray
    ) -> Iterator[SampleSeries]:
        """vLLM's prefill and decode time histograms (``_sum``, ``_count``, ``_bucket`` at its
        request-latency buckets) and its prefix-cache counters (tokens queried and hit)."""
        for name, seconds in zip(
            ("vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds"),
            self.phase_seconds(w),
            strict=True,
        ):
            yield SampleSeries(f"{name}_sum", labels, ts, requests * seconds)
            yield SampleSeries(f"{name}_count", labels, ts, requests)
            for le in VLLM_LATENCY_BUCKETS:
                inside = requests if le == "+Inf" or seconds <= float(le) else requests * 0.0
                yield SampleSeries(f"{name}_bucket", labels | {"le": le}, ts, inside)
        queried = requests * w.prompt_tokens_per_request
        hits = np.floor(queried * prefix_hit_share(self.seed, w.name))
        yield SampleSeries("vllm:prefix_cache_queries_total", labels, ts, queried)
        yield SampleSeries("vllm:prefix_cache_hits_total", labels, ts, hits)

    def requests_in_step(self, w: WorkloadSpec, ts: IntArray, step: int) -> FloatArray:
        """Requests served during ``(t - step, t]``: whole numbers, as a counter counts them."""
        return np.floor(w.requests_per_s_peak * self.load(w, ts - 1) * step)

    def counted_requests(self, run: PodRun, grid: IntArray, step: int) -> FloatArray:
        """Requests of each step of ``run`` on ``grid`` that its counters show as an increase:
        every step but the pod's first scrape (a counter's first sample has no sample before
        it, so what it counted before it was first scraped is no increase)."""
        ts = grid[run.first : run.last + 1]
        steps = self.requests_in_step(run.workload, ts, step)
        scraped_before = self.runs_at(run.workload, ts - step - 1) == run.run
        return np.where(scraped_before, steps, 0.0)

    def _check_no_gpu_oversubscribed(self) -> None:
        """Pods may share a GPU, by the shares they were allocated (``sharing.allocated_share``),
        but never beyond it: at no instant may the shares of one physical GPU exceed 1, one MIG
        instance have two pods, or one time-slicing/MPS replica two pods. An over-subscribed cast
        would make the truth ambiguous."""
        probe = np.arange(0, 23 * DAY_S, QUANTUM_S, dtype=np.int64)
        shares: dict[tuple[str, int], FloatArray] = {}
        holders: dict[tuple[str, int, str], IntArray] = {}
        for w in self.workloads:
            if not w.gpu_indices:
                continue
            expected = allocated_share(self.node(w.node), w, self.workloads)
            if not math.isclose(w.share, expected, abs_tol=1e-12):
                raise ValueError(
                    f"sample workload {w.name} holds {w.share} of a GPU; its wire says {expected}"
                )
            active = (self.runs_at(w, probe) >= 0).astype(np.int64)
            slots = [f"replica {v}" for v in w.vgpu]
            if w.mig_instance is not None:
                slots = [f"MIG instance {w.mig_instance}"]
            for gpu in w.gpu_indices:
                total = shares.setdefault((w.node, gpu), np.zeros(len(probe)))
                total += active * w.share
                for slot in slots:
                    count = holders.setdefault((w.node, gpu, slot), np.zeros(len(probe), np.int64))
                    count += active
        for (node_name, gpu), total in shares.items():
            if float(np.max(total)) > 1.0 + 1e-9:
                raise ValueError(f"sample cast over-subscribes GPU {gpu} of {node_name}")
        for (node_name, gpu, slot), count in holders.items():
            if int(np.max(count)) > 1:
                raise ValueError(f"sample cast shares {slot} of GPU {gpu} of {node_name}")


def grid_between(start: int, end: int, step: int) -> IntArray:
    """Sample instants that are multiples of ``step`` in ``(start, end]``."""
    first = (start // step + 1) * step
    return np.arange(first, end + 1, step, dtype=np.int64)


def _shift(w: WorkloadSpec, by: int) -> WorkloadSpec:
    from dataclasses import replace

    return replace(w, schedule=replace(w.schedule, phase_s=w.schedule.phase_s + by))


def gpu_uuid(seed: int, node: str, gpu: int) -> str:
    h = f"{_key(seed, 'gpu', node, gpu):016x}{_key(seed, 'gpu2', node, gpu):016x}"
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _rounded_busy(busy: FloatArray) -> FloatArray:
    return np.asarray(np.round(np.minimum(busy, 1.0), 6), dtype=np.float64)


def _suffix(h: str) -> str:
    """Five characters from Kubernetes' random-name alphabet, from the hex digest ``h``."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(h[i : i + 2], 16) % len(alphabet)] for i in range(0, 10, 2))


def owner_of(w: WorkloadSpec, pod: str) -> tuple[str, str]:
    """The pod's controller (kind, name): its ReplicaSet or Job; ("", "") for a bare pod."""
    if w.kind == "reservation":
        return "", ""
    return ("ReplicaSet" if w.schedule.period_s is None else "Job"), pod.rsplit("-", 1)[0]


EXPORTER_NAMESPACE = "gpu-operator"
EXPORTER_PORT = 9400


def exporter_pod(node: NodeSpec) -> str:
    """The name of the node's dcgm-exporter pod (a DaemonSet's)."""
    return f"nvidia-dcgm-exporter-{node.name[3:12]}"


def _uid(high: int, low: int) -> str:
    """A Kubernetes object UID (a UUID) from two 64-bit keys."""
    h = f"{high:016x}{low:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _host_ip(node: str) -> str:
    """An EC2 node's private IP, from its name (``ip-10-0-1-10.ec2.internal``)."""
    parts = node.split(".", 1)[0].split("-")
    return ".".join(parts[1:5]) if len(parts) == 5 and parts[0] == "ip" else ""


def _segments(bound: list[PodRun], n: int) -> Iterator[tuple[int, int, list[PodRun]]]:
    """Split grid indices ``[0, n)`` where the set of bound pod runs changes: ``(first, last,
    the runs active throughout)``."""
    cuts = sorted({0, n, *(r.first for r in bound), *(r.last + 1 for r in bound)})
    for a, b in itertools.pairwise(cuts):
        if a < b:
            yield a, b - 1, [r for r in bound if r.first <= a and r.last >= b - 1]


def gpu_metric_values(
    busy: FloatArray,
    memory_mib: int,
    held: npt.NDArray[np.bool_] | bool,
    memory_fraction: float | FloatArray | None = None,
) -> dict[str, FloatArray]:
    """What dcgm-exporter reports for a GPU whose engine is ``busy`` (0-1) at each sample.

    A held GPU's memory follows its load unless the workload pins it (``memory_fraction``: a
    model that fills the card whatever the traffic).
    """
    share = np.broadcast_to(
        memory_fraction if memory_fraction is not None else 0.35 + 0.5 * busy, busy.shape
    )
    used = np.floor(np.where(held, memory_mib * share, 0.0) + 0.5)
    return {
        "util": np.where(busy > 0, np.minimum(100.0, np.floor(busy * 125.0 + 5.5)), 0.0),
        "used": used,
        "free": memory_mib - used,
        "power": power_watts(busy),
        "temperature": np.floor(34.0 + 40.0 * busy),
    }


def _gpu_metrics(
    labels: dict[str, str],
    ts: IntArray,
    busy: FloatArray,
    memory_mib: int,
    held: BoolArray | bool,
    memory_fraction: float | FloatArray | None = None,
    *,
    util: bool = True,
    profiling: bool = True,
    power: FloatArray | None = None,
    energy: FloatArray | None = None,
) -> Iterator[SampleSeries]:
    """MIG instances report no GPU_UTIL; pre-Volta GPUs no profiling metrics. ``power`` is the
    physical GPU's (MIG instances repeat their parent's) and ``energy`` its counter, absent when
    the exporter's counters file leaves it out."""
    values = gpu_metric_values(busy, memory_mib, held, memory_fraction)
    if power is not None:
        values["power"] = power
    if profiling:
        yield SampleSeries("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, ts, busy)
    if util:
        yield SampleSeries("DCGM_FI_DEV_GPU_UTIL", labels, ts, values["util"])
    yield SampleSeries("DCGM_FI_DEV_FB_USED", labels, ts, values["used"])
    yield SampleSeries("DCGM_FI_DEV_FB_FREE", labels, ts, values["free"])
    yield SampleSeries("DCGM_FI_DEV_POWER_USAGE", labels, ts, values["power"])
    if energy is not None:
        yield SampleSeries("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, ts, energy)
    yield SampleSeries("DCGM_FI_DEV_GPU_TEMP", labels, ts, values["temperature"])


def _kube_node_labels(node: NodeSpec) -> dict[str, str]:
    """``kube_node_labels`` of a node as kube-state-metrics writes it (with
    ``--metric-labels-allowlist=nodes=[...]``): Karpenter's labels on the EKS nodes; on a GKE
    node (``accelerator`` set) GKE's own, the beta instance-type label GKE still sets, and the
    accelerator of its attached GPUs."""
    labels = {
        "node": node.name,
        "label_node_kubernetes_io_instance_type": node.instance_type,
        "label_topology_kubernetes_io_region": node.region,
        "label_topology_kubernetes_io_zone": node.zone,
    }
    if node.accelerator:
        labels |= {
            "label_beta_kubernetes_io_instance_type": node.instance_type,
            "label_cloud_google_com_gke_accelerator": node.accelerator,
            "label_cloud_google_com_gke_nodepool": f"gpu-{node.accelerator}",
        }
        if node.is_spot:
            labels["label_cloud_google_com_gke_spot"] = "true"
    else:
        labels |= {
            "label_karpenter_sh_capacity_type": node.capacity_type,
            "label_karpenter_sh_nodepool": node.pool,
        }
    return labels | node_labels(node)

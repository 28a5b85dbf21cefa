"""What every cost source answers, in tidy frames with documented columns.

A source turns a ``CostRequest`` into ``CostData``; analytics never know whether the frames
came from a Prometheus-compatible engine or the built-in sample cluster.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.timewindow import Window

ALLOCATION_MEASURES = (
    "gpu_hours",
    "gpu_cost",
    "cpu_ram_cost",
    "busy_gpu_hours",
    "observed_gpu_hours",
    "wasted_cost",
)
"""``wasted_cost`` is the ledger's waste (docs/cost-model.md#the-ledger): for every GPU bound to a
pod that holds GPUs and every sample, ``price x (1 - busy)``, summed. It adds up across groupings,
unlike ``gpu_cost x (1 - busy/observed)``."""
SERIES_MEASURES = ("gpu_cost", "busy_gpu_hours", "observed_gpu_hours")
"""The allocation measures forecasts and anomalies read (``analytics.series``)."""
CLUSTER_MEASURES = (
    "allocated_gpu_hours",
    "allocated_gpu_cost",
    "capacity_gpu_hours",
    "capacity_gpu_cost",
    "allocated_wasted_cost",
)


@dataclass(frozen=True)
class CostRequest:
    """A window, the keys to group by (``queries.GROUP_KEYS``) and exact-match filters.

    ``measures`` are the allocation measures the caller reads: a source may leave the others at
    0 (the Prometheus source then does not query them, which takes two fifths of the bytes off
    the history that forecasts and anomalies pull).
    """

    window: Window
    group_by: tuple[str, ...]
    filters: dict[str, str] = field(default_factory=dict)
    bucket_s: int = 3600
    measures: tuple[str, ...] = ALLOCATION_MEASURES
    energy: bool = False
    """Also the ledger's GPU energy per group and region (``CostData.energy``)."""
    daily_totals: bool = False
    """The caller sums rows per UTC day only (``costs``, ``report``): a source may then answer
    a whole UTC day of hourly buckets as one row at the day's end (the recorded ledger's daily
    rollups)."""


@dataclass
class CostData:
    """Frames a source returns.

    ``allocations``: one row per (bucket_end, group key values) with ``ALLOCATION_MEASURES``;
    a group value is ``""`` where pods lack the label. ``busy_gpu_hours / observed_gpu_hours`` is
    the allocation-weighted busy share of the GPUs dcgm-exporter saw bound to those pods.
    ``cluster``: one row per bucket_end with ``CLUSTER_MEASURES`` for the whole cluster, filters
    ignored: every GPU it has (capacity) and every GPU a pod holds (allocated), labelled or not.
    When ``group_by`` holds ``cluster`` it has one row per bucket_end and ``cluster`` (a source
    that cannot tell clusters apart may leave the column out: idle is then one row).
    ``bucket_end`` is a tz-aware UTC timestamp; buckets tile ``(start, end]``.
    """

    source: str
    allocations: pd.DataFrame
    cluster: pd.DataFrame
    busy_metric: str | None
    has_cpu_ram: bool
    sample_interval_s: int
    notes: list[str] = field(default_factory=list)
    energy: EnergyData | None = None


ENERGY_METHODS = {
    "counter": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (energy counter)",
    "power": "DCGM_FI_DEV_POWER_USAGE integrated (no energy counter)",
}
"""What ``EnergyData.method`` names, in words."""


@dataclass
class EnergyData:
    """The ledger's GPU energy over the window (docs/cost-model.md#energy), in kWh at the GPU.

    ``rows``: the request's group keys + ``region`` + ``energy_kwh``: each GPU entry bound to a
    pod of the group, its physical GPU's energy x the holder's share, summed (a region is the
    node's cloud region, "" where unknown). ``cluster``: ``region``, ``allocated_energy_kwh``
    (every entry held by a pod, filters ignored) and ``capacity_energy_kwh`` (every GPU, held or
    not), so ``__idle__``'s energy is the difference. ``method``: ``ENERGY_METHODS`` key, or
    None when dcgm-exporter reports neither power nor energy (the frames are then empty).
    """

    rows: pd.DataFrame
    cluster: pd.DataFrame
    method: str | None
    notes: list[str] = field(default_factory=list)


TRAFFIC_MEASURES = (
    "requests",
    "prompt_tokens",
    "generated_tokens",
    "prefill_seconds",
    "decode_seconds",
    "prefix_cache_queries",
    "prefix_cache_hits",
)
"""Counter increases per model. ``prefill_seconds``/``decode_seconds``: vLLM's
``request_prefill_time_seconds``/``request_decode_time_seconds`` histograms' ``_sum``; 0 where
the server exports no phase times (Triton, TGI). ``prefix_cache_*``: vLLM's prefix-cache tokens
queried and hit (0 where not exported)."""
SERVED_MEASURES = (
    "gpu_hours",
    "gpu_cost",
    "busy_gpu_hours",
    "observed_gpu_hours",
    "wasted_cost",
)


@dataclass
class InferenceData:
    """What inference servers did in the window, per model.

    ``traffic``: columns ``model`` + ``TRAFFIC_MEASURES`` (counter increases, resets absorbed).
    ``served``: columns ``model`` + ``SERVED_MEASURES``: the GPU figures of serving pods that
    lack the model label, attributed to the model their server reports (in a ``--by model``
    cost report those figures sit in ``__unallocated__``).
    """

    traffic: pd.DataFrame
    served: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    energy: pd.DataFrame | None = None
    """``model``, ``region``, ``energy_kwh``: the energy of serving pods without a model label
    (like ``served``), when energy was asked for."""


GPU_COLUMNS = (
    "node", "gpu", "uuid", "mig_profile", "mig_instance", "model_name", "present_hours",
    "held_hours",
    "busy_avg", "busy_p95", "busy_any_avg", "memory_used_avg_mib", "memory_used_max_mib",
    "memory_total_mib", "power_avg_w", "temperature_avg_c", "temperature_max_c", "cost",
    "hourly_price", "namespace", "pod", "team", "project", "model", "used_cost", "holders",
    "cluster",
)  # fmt: skip
NODE_COLUMNS = ("node", "instance_type", "region", "capacity_type", "accelerator", "cluster")


@dataclass
class GpuData:
    """One row per GPU or MIG instance over the window, every statistic from the server.

    ``gpus`` has ``GPU_COLUMNS``: hours reported (``present_hours``) and held by a pod
    (``held_hours``); busy average and p95 while held, and average over all time; memory in MiB;
    ``cost`` = the node's per-GPU price integrated over the hours the GPU was reported (a MIG
    instance gets its slice's share); ``used_cost`` = price x busy integrated over the samples it
    was held (NaN without busy), so that ``cost - used_cost`` is its ledger waste; the pod that
    held it longest and that pod's labels; ``holders``: every pod that held a share of it
    (namespace, pod, team, project, model, ``share_hours`` and ``share``, the average share of
    the physical GPU over the hours the row was reported: a GPU's shares add up to at most 1).
    ``nodes`` has ``NODE_COLUMNS`` from the node labels (``capacity_type`` spot/on-demand or "";
    ``accelerator`` GKE's ``cloud.google.com/gke-accelerator``, "" elsewhere; ``cluster``).
    """

    gpus: pd.DataFrame
    nodes: pd.DataFrame
    busy_metric: str | None
    sample_interval_s: int
    notes: list[str] = field(default_factory=list)
    price_source: str = "OpenCost node_gpu_hourly_cost"


NODE_COST_COLUMNS = (
    "node",
    "instance_type",
    "capacity_type",
    "region",
    "provider_id",
    "gpu_count",
    "hours",
    "gpu_cost",
    "instance_cost",
)
"""``CostSource.node_costs``: one row per node over a window, for ``finops billing compare``.

``hours`` the node was reported; ``gpu_cost`` its GPUs' price integrated (what ``finops costs``
splits over pods and idle); ``instance_cost`` the whole instance's price integrated (OpenCost's
``node_total_hourly_cost``; NaN where unknown); ``provider_id`` the Kubernetes provider id
(``aws:///us-east-1a/i-0abc...``, "" if unknown); ``capacity_type`` spot, on-demand or ""."""


POD_COLUMNS = (
    "namespace", "pod", "owner_kind", "owner_name", "team", "project", "model", "interruptible",
    "node", "gpu_model", "gpus", "gpu_hours", "busy_avg", "busy_p95", "memory_peak_mib",
    "memory_total_mib", "cost", "mig_share", "cluster",
)  # fmt: skip
# ``mig_share``: the largest share of a physical GPU one MIG instance of the pod holds (3/7 for a
# 3g.40gb), 0 when it holds none; memory and busy are then its instance's.
# A source may group pods into workloads itself (the Prometheus source does, on the server):
# then each row is a workload, ``workload_kind``/``workload`` name it and ``pod_names`` lists its
# pods; ``pod`` is the one with the most GPU-hours.
WORKLOAD_POD_COLUMNS = (*POD_COLUMNS, "workload_kind", "workload", "pod_names", "gpu_units")
# ``gpu_units``: the most physical GPUs dcgm-exporter bound to one of its pods at once, replicas
# of one GPU counted once (only where GPUs are shared; NaN elsewhere).
INTERRUPTIBLE_LABEL = "ai-finops.io/interruptible"
CAPACITY_COLUMNS = (
    "node", "gpu", "mig_instance", "model_name", "present_hours", "held_hours", "cost", "pool",
    "cluster",
)  # fmt: skip
"""``PodGpuData.capacity``: one row per GPU (or MIG instance) over the window, as in ``GpuData``
(``cost`` paid whether or not a pod held it), with the node pool or instance group its node's
labels name (``""`` when none does): what ``rightsize`` reads to find GPUs nobody holds."""
REPLICA_GPU_COLUMNS = (
    "cluster", "node", "gpu", "pool", "model_name", "replicas", "sharing_strategy",
    "present_hours", "cost", "busy_p95", "memory_used_max_mib", "memory_total_mib",
    "node_held_peak",
)  # fmt: skip
"""``PodGpuData.replica_gpus``: one row per GPU of a node whose GPUs are shared as replicas
(GFD's ``nvidia.com/gpu.replicas`` > 1: time-slicing or MPS, ``sharing_strategy`` as GFD names it,
``""`` when it does not), with its pool, cost and reported hours as in ``capacity``, its busy p95
over the window whether or not a pod held it, its peak memory used and its memory, and
``node_held_peak``: the most physical GPUs the pods on its node held at once (replicas / R)."""


@dataclass
class PodGpuData:
    """One row per pod that held GPUs in the window (``POD_COLUMNS``), for rightsizing.

    ``gpus`` is the most it held at once; busy is averaged over its GPUs and time, ``busy_p95``
    is the p95 over time of its busiest GPU; memory is per GPU (peak used, and the card's size);
    ``cost`` is its GPUs at their nodes' prices. ``nodes`` as in ``GpuData``. ``capacity``
    (``CAPACITY_COLUMNS``, ``None`` where the source cannot tell) is every GPU's held and paid
    hours, for capacity nobody holds. ``node_allocations`` (``node``, ``gpu_hours``) is what the
    ledger says pods held on each node, in physical GPU-hours: HAMi and KAI pods hold shares
    that dcgm-exporter does not label with the pod, so a GPU it shows unheld may still be held.
    ``replica_gpus`` (``REPLICA_GPU_COLUMNS``, ``None`` where the source cannot tell or no node
    shares GPUs as replicas): what consolidating time-sliced and MPS replicas reads.
    """

    pods: pd.DataFrame
    nodes: pd.DataFrame
    sample_interval_s: int
    notes: list[str] = field(default_factory=list)
    capacity: pd.DataFrame | None = None
    node_allocations: pd.DataFrame | None = None
    replica_gpus: pd.DataFrame | None = None


class CostSource(ABC):
    """A backend that can answer cost questions."""

    name: str
    concurrent_questions = False
    """Whether a command may ask its independent questions at once (a report's sections): a
    backend that waits on a server answers them side by side; one that computes them on this
    machine (the sample) would only share the same CPU."""

    @abstractmethod
    def costs(self, request: CostRequest) -> CostData:
        """Allocation and capacity figures for the request's window."""

    def gpus(self, window: Window, cluster: str | None = None) -> GpuData:
        """Per-GPU statistics (of ``cluster`` only, when given; every row carries its cluster);
        sources without per-GPU data say so."""
        from finops_cli.errors import UsageError

        raise UsageError(f"the {self.name} source has no per-GPU data (finops gpus)")

    def node_costs(self, window: Window) -> pd.DataFrame:
        """``NODE_COST_COLUMNS`` per node over the window; sources without node prices say so."""
        from finops_cli.errors import UsageError

        raise UsageError(
            f"the {self.name} source cannot price nodes (finops billing compare): use Prometheus "
            "with OpenCost's metrics, or the sample"
        )

    def pods(self, window: Window, cluster: str | None = None) -> PodGpuData:
        """Per-pod GPU usage (of ``cluster`` only, when given); sources without per-GPU data
        say so."""
        from finops_cli.errors import UsageError

        raise UsageError(f"the {self.name} source has no per-pod GPU data (finops rightsize)")

    def inference(self, request: CostRequest) -> InferenceData:
        """Requests and tokens per model; sources that cannot see counters say so."""
        from finops_cli.errors import UsageError

        raise UsageError(f"the {self.name} source cannot read inference counters (--unit-costs)")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; sources without any keep the default."""

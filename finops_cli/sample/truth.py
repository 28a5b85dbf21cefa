"""Ground truth: what each pod, team and node of the sample cluster really cost over a window.

Computed from the schedules and prices directly, piece by piece between 15-minute boundaries
(where the state is constant), never from the exported samples: the CLI's figures, through the
sample source or a real Prometheus, are checked against this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from finops_cli.sample.scenario import (
    COST_CENTER_KEY,
    ENVIRONMENT_KEY,
    INTERRUPTIBLE_KEY,
    MODEL_KEY,
    PROJECT_KEY,
    QUANTUM_S,
    TEAM_KEY,
    NodeSpec,
    WorkloadSpec,
    mig_share,
)
from finops_cli.sample.simulate import FloatArray, SampleCluster, grid_between, owner_of
from finops_cli.sample.simulate import PodRun as WorkloadRun

POD_KEYS = {
    "team": TEAM_KEY,
    "project": PROJECT_KEY,
    "model": MODEL_KEY,
    "environment": ENVIRONMENT_KEY,
}
POD_ANNOTATION_KEYS = {"cost_center": COST_CENTER_KEY}


@dataclass(frozen=True)
class GroundTruth:
    """Per pod-run and per node figures for ``[start, end)``.

    ``pods`` columns: team, project, model, environment (empty when the pod lacks the label),
    cost_center (the annotation; empty when the pod lacks it), namespace, node, gpu_model, pod,
    served_model, gpus (physical GPU-equivalents held: ``WorkloadSpec.held_gpus``), gpu_hours,
    gpu_cost, cpu_ram_cost.
    ``nodes`` columns: node, gpu_model, capacity_gpu_hours, capacity_gpu_cost (physical GPUs).

    A pod holding a share of a GPU (a MIG slice, time-slicing or MPS replicas, a HAMi or KAI
    fraction, a shared DRA claim) costs its share of the GPU's price, whatever it used: its
    ``gpu_hours`` are share-hours; KAI's reservation pod holds none (0).
    """

    start: int
    end: int
    pods: pd.DataFrame
    nodes: pd.DataFrame

    @property
    def cluster_gpu_cost(self) -> float:
        return float(self.nodes["capacity_gpu_cost"].sum())

    @property
    def allocated_gpu_cost(self) -> float:
        return float(self.pods["gpu_cost"].sum())

    @property
    def idle_gpu_cost(self) -> float:
        return self.cluster_gpu_cost - self.allocated_gpu_cost

    @property
    def idle_gpu_hours(self) -> float:
        return float(self.nodes["capacity_gpu_hours"].sum() - self.pods["gpu_hours"].sum())

    def by(self, key: str) -> pd.DataFrame:
        """GPU-hours, GPU cost and CPU/RAM cost per value of ``key`` (empty = unlabelled)."""
        cols = ["gpu_hours", "gpu_cost", "cpu_ram_cost"]
        return self.pods.groupby(key, sort=True)[cols].sum()


def ground_truth(
    cluster: SampleCluster,
    start: int,
    end: int,
    gpu_price: Callable[[NodeSpec, npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None = None,
    share_of: Callable[[WorkloadSpec], float] | None = None,
    per_gpu: Callable[[WorkloadSpec], bool] | None = None,
) -> GroundTruth:
    """Exact integrals over ``[start, end)`` (unix seconds).

    ``gpu_price`` replaces OpenCost's per-GPU price (e.g. catalog prices, for a cluster
    without OpenCost). ``share_of`` replaces each workload's share of each of its GPUs (what a
    misread wire says, e.g. time-slicing replicas counted whole where the replicas label is
    missing, a MIG or DRA profile that cannot be read counted whole, a KAI fraction past what
    its group has); wherever the shares held on a node then exceed its GPUs, each holder's
    share is scaled by GPUs / shares held at that instant (docs/cost-model.md,
    over-subscription). The workloads ``per_gpu`` names (KAI fractions, DRA claims: their GPU
    is known) are scaled per physical GPU instead, by 1 / the shares they hold of it.
    """
    price_of = gpu_price or cluster.gpu_price
    at, hours = _pieces(start, end)

    def held_of(w: WorkloadSpec) -> float:
        return w.held_gpus if share_of is None else len(w.gpu_indices) * share_of(w)

    def by_gpu(w: WorkloadSpec) -> bool:
        return per_gpu is not None and per_gpu(w)

    on_node: dict[str, FloatArray] = {}
    on_gpu: dict[tuple[str, int], FloatArray] = {}
    for w in cluster.workloads:
        on_node.setdefault(w.node, np.zeros(len(at)))
        running = cluster.runs_at(w, at) >= 0
        if not by_gpu(w):
            on_node[w.node] += running * held_of(w)
            continue
        for gpu in w.gpu_indices:
            on_gpu.setdefault((w.node, gpu), np.zeros(len(at)))
            on_gpu[(w.node, gpu)] += running * held_of(w) / len(w.gpu_indices)
    node_scale = {
        name: np.minimum(1.0, cluster.node(name).gpu_count / np.maximum(total, 1e-12))
        for name, total in on_node.items()
    }
    gpu_scale = {
        key: np.minimum(1.0, 1.0 / np.maximum(total, 1e-12)) for key, total in on_gpu.items()
    }

    def scale_of(w: WorkloadSpec) -> FloatArray:
        if not by_gpu(w):
            return node_scale[w.node]
        scales = [gpu_scale[(w.node, g)] for g in w.gpu_indices]
        return np.asarray(sum(scales) / len(scales), dtype=np.float64)

    rows = []
    for w in cluster.workloads:
        node = cluster.node(w.node)
        runs = cluster.runs_at(w, at)
        scale = scale_of(w)
        gpu_price_at = price_of(node, at) * scale
        cpu_ram = cluster.cpu_price(node, at) * w.cpu_cores + cluster.ram_price(node, at) * (
            w.memory_gib
        )
        held_gpus = held_of(w)
        hours_held = hours * scale
        for run in np.unique(runs[runs >= 0]).tolist():
            held = runs == run
            rows.append(
                {
                    **{k: w.labels.get(label, "") for k, label in POD_KEYS.items()},
                    **{k: w.annotations.get(a, "") for k, a in POD_ANNOTATION_KEYS.items()},
                    "namespace": w.namespace,
                    "node": w.node,
                    "gpu_model": node.gpu_product,
                    "pod": cluster.pod_name(w, run),
                    "served_model": cluster.served_model(w) if w.serving else "",
                    "gpus": held_gpus,
                    "gpu_hours": float(np.sum(hours_held[held])) * held_gpus,
                    "gpu_cost": float(np.sum(hours[held] * gpu_price_at[held])) * held_gpus,
                    "cpu_ram_cost": float(np.sum(hours[held] * cpu_ram[held])),
                }
            )
    columns = [
        *POD_KEYS,
        *POD_ANNOTATION_KEYS,
        "namespace",
        "node",
        "gpu_model",
        "pod",
        "served_model",
        "gpus",
        "gpu_hours",
        "gpu_cost",
        "cpu_ram_cost",
    ]
    pods = pd.DataFrame(rows, columns=columns)
    nodes = pd.DataFrame(
        [
            {
                "node": n.name,
                "gpu_model": n.gpu_product,
                "capacity_gpu_hours": float(hours.sum()) * n.gpu_count,
                "capacity_gpu_cost": float(np.sum(hours * price_of(n, at))) * n.gpu_count,
            }
            for n in cluster.nodes
        ]
    )
    return GroundTruth(start, end, pods, nodes)


def _pieces(start: int, end: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``[start, end)`` cut on 15-minute boundaries: each piece's start and its hours."""
    inner = np.arange((start // QUANTUM_S + 1) * QUANTUM_S, end, QUANTUM_S, dtype=np.int64)
    edges = np.concatenate(([start], inner, [end])).astype(np.int64)
    return edges[:-1], np.diff(edges) / 3600.0


HOLDER_COLUMNS = (
    "node", "gpu", "mig_instance", "namespace", "pod", "team", "project", "model", "share",
    "held_hours", "cost",
)  # fmt: skip


def holder_truth(
    cluster: SampleCluster,
    start: int,
    end: int,
    gpu_price: Callable[[NodeSpec, npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None = None,
) -> pd.DataFrame:
    """Who held which GPU, exactly, over ``[start, end)``: one row per (node, GPU index, MIG
    instance or "", namespace, pod) with the pod's team, project and model, ``share`` (the
    physical fraction of the GPU it was allocated while it held it), ``held_hours`` and ``cost``
    (share x the node's per-GPU price, integrated). Pods that hold no share (KAI's reservation
    pod) have no row; at any instant the shares of one physical GPU sum to at most 1, and the
    rows' cost plus idle is the cluster's GPU spend.
    """
    price_of = gpu_price or cluster.gpu_price
    at, hours = _pieces(start, end)
    rows = []
    for w in cluster.workloads:
        if w.share <= 0 or not w.gpu_indices:
            continue
        runs = cluster.runs_at(w, at)
        price = price_of(cluster.node(w.node), at)
        for run in np.unique(runs[runs >= 0]).tolist():
            held = runs == run
            for gpu in w.gpu_indices:
                rows.append(
                    {
                        "node": w.node,
                        "gpu": gpu,
                        "mig_instance": "" if w.mig_instance is None else str(w.mig_instance),
                        "namespace": w.namespace,
                        "pod": cluster.pod_name(w, run),
                        "team": w.labels.get(TEAM_KEY, ""),
                        "project": w.labels.get(PROJECT_KEY, ""),
                        "model": w.labels.get(MODEL_KEY, ""),
                        "share": w.share,
                        "held_hours": float(np.sum(hours[held])),
                        "cost": float(np.sum(hours[held] * price[held])) * w.share,
                    }
                )
    return pd.DataFrame(rows, columns=list(HOLDER_COLUMNS))


def efficiency_truth(
    cluster: SampleCluster, start: int, end: int, step: int, key: str
) -> pd.Series:
    """Allocation-weighted engine-active share per ``key`` value, from the samples at ``step``.

    Busy is a sampled signal (not piecewise constant), so its truth is defined on the sample grid.
    Each GPU unit a pod holds counts with the pod's share, at the unit's busy (``waste_truth``).
    """
    grid = grid_between(start, end, step)
    runs = cluster.pod_runs(grid)
    unit_busy = cluster.unit_busy(grid, runs)
    busy: dict[str, float] = {}
    count: dict[str, float] = {}
    for r in runs:
        w = r.workload
        if w.share <= 0:
            continue
        value = _key_value(cluster, w, key)
        for gpu in w.gpu_indices:
            seen = cluster.holder_busy(r, gpu, grid, unit_busy)
            busy[value] = busy.get(value, 0.0) + w.share * float(seen.sum())
            count[value] = count.get(value, 0.0) + w.share * len(seen)
    return pd.Series({k: busy[k] / count[k] for k in sorted(busy)}, name="efficiency")


def waste_truth(cluster: SampleCluster, start: int, end: int, step: int, key: str) -> pd.Series:
    """The ledger's waste per ``key`` value: for every GPU unit a pod holds and every sample in
    ``(start, end]``, share x the GPU's price x (1 - the unit's busy) over the sample's interval,
    summed.

    The unit's busy is what dcgm-exporter reports for it (``SampleCluster.unit_state``): a whole
    GPU's or a MIG instance's own busy; on a GPU several pods share (time-slicing, MPS, HAMi,
    KAI, a shared DRA claim) the physical GPU's, so every holder is charged the GPU's idle
    share by its share, except where the exporter writes per-process series (virtual-GPU
    mode, ``NodeSpec.process_metrics``): there each holder's own busy of its share. Exact on
    the sample grid (busy is a sampled signal); idle capacity is not included.
    """
    grid = grid_between(start, end, step)
    hours = step / 3600
    runs = cluster.pod_runs(grid)
    unit_busy = cluster.unit_busy(grid, runs)
    wasted: dict[str, float] = {}
    for r in runs:
        w = r.workload
        value = _key_value(cluster, w, key)
        wasted.setdefault(value, 0.0)
        if w.held_gpus <= 0:
            continue
        at = grid[r.first : r.last + 1] - 1
        price = cluster.gpu_price(cluster.node(w.node), at)
        for gpu in w.gpu_indices:
            idle = 1.0 - cluster.holder_busy(r, gpu, grid, unit_busy)
            wasted[value] += w.share * float(np.sum(price * idle)) * hours
    return pd.Series({k: wasted[k] for k in sorted(wasted)}, name="waste", dtype="float64")


def _key_value(cluster: SampleCluster, w: object, key: str) -> str:
    from finops_cli.sample.scenario import WorkloadSpec

    assert isinstance(w, WorkloadSpec)
    if key in POD_KEYS:
        return w.labels.get(POD_KEYS[key], "")
    if key in POD_ANNOTATION_KEYS:
        return w.annotations.get(POD_ANNOTATION_KEYS[key], "")
    if key == "gpu_model":
        return cluster.node(w.node).gpu_product
    return str(getattr(w, key))


def inference_truth(cluster: SampleCluster, start: int, end: int, step: int) -> pd.DataFrame:
    """Per model: requests and tokens served in ``(start, end]`` and the GPU cost of its pods.

    A pod belongs to the model of its ``ai-finops.io/model`` label, else to the model its
    inference server reports. Traffic is counted on the sample grid, as the counters count it:
    the increases between a pod's scrapes (``counted_requests``; docs/cost-model.md, "Unit
    costs"), whole requests.
    """
    grid = grid_between(start, end, step)
    traffic: dict[str, list[float]] = {}
    for r in cluster.pod_runs(grid):
        w = r.workload
        if w.serving is None:
            continue
        model = w.labels.get(MODEL_KEY) or cluster.served_model(w)
        requests = float(cluster.counted_requests(r, grid, step).sum())
        row = traffic.setdefault(model, [0.0, 0.0, 0.0])
        row[0] += requests
        row[1] += requests * w.prompt_tokens_per_request
        row[2] += requests * w.generation_tokens_per_request
    pods = ground_truth(cluster, start, end).pods
    attributed = pods["model"].where(pods["model"] != "", pods["served_model"])
    cost = pods.groupby(attributed)["gpu_cost"].sum()
    models = sorted((set(traffic) | set(cost.index)) - {""})
    return pd.DataFrame(
        {
            "requests": [traffic.get(m, [0.0] * 3)[0] for m in models],
            "prompt_tokens": [traffic.get(m, [0.0] * 3)[1] for m in models],
            "generated_tokens": [traffic.get(m, [0.0] * 3)[2] for m in models],
            "gpu_cost": [float(cost.get(m, 0.0)) for m in models],
        },
        index=pd.Index(models, name="model"),
    )


def _observed_busy(cluster: SampleCluster, node: NodeSpec, busy: FloatArray) -> FloatArray:
    """Busy as finops reads it: the profiling metric, or GPU_UTIL/100 on pre-Volta GPUs."""
    from finops_cli.sample.simulate import gpu_metric_values

    if node.profiling:
        return busy
    return gpu_metric_values(busy, node.gpu_memory_mib, busy > 0)["util"] / 100


def gpu_truth(cluster: SampleCluster, start: int, end: int, step: int) -> pd.DataFrame:
    """One row per GPU or MIG instance with the columns of ``sources.interface.GPU_COLUMNS``,
    from the samples at ``step`` in ``(start, end]``: what the per-GPU statistics must be."""
    from finops_cli.sample.simulate import gpu_metric_values

    grid = grid_between(start, end, step)
    hours = step / 3600
    runs = cluster.pod_runs(grid)
    holders = cluster.holders(runs)
    power = cluster.gpu_power(grid, runs)  # the physical GPU's, repeated on MIG instances
    rows = []
    for node in cluster.nodes:
        price = cluster.gpu_price(node, grid - 1)
        for unit in cluster.gpu_units(node):
            gpu = unit.gpu
            bound = holders.get((node.name, gpu, unit.instance), [])
            state = cluster.unit_state(gpu, bound, grid)
            busy, held = state.busy, state.held
            longest: tuple[int, WorkloadRun | None] = (0, None)
            for run in bound:  # the pod that held a share of it longest
                if run.workload.share > 0 and run.last - run.first + 1 > longest[0]:
                    longest = (run.last - run.first + 1, run)
            metrics = gpu_metric_values(busy, unit.memory_mib, held, state.memory_share)
            seen = _observed_busy(cluster, node, busy)
            holder = longest[1]
            labels = holder.workload.labels if holder else {}
            rows.append(
                {
                    "node": node.name,
                    "gpu": str(gpu),
                    "uuid": cluster.gpu_uuid(node.name, gpu),
                    "mig_profile": unit.profile,
                    "mig_instance": "" if unit.instance is None else str(unit.instance),
                    "model_name": node.gpu_product,
                    "present_hours": len(grid) * hours,
                    "held_hours": float(held.sum()) * hours,
                    "busy_avg": float(seen[held].mean()) if held.any() else None,
                    "busy_p95": float(np.quantile(seen[held], 0.95)) if held.any() else None,
                    "busy_any_avg": float(seen.mean()) if len(seen) else None,
                    "memory_used_avg_mib": float(metrics["used"].mean()),
                    "memory_used_max_mib": float(metrics["used"].max()),
                    "memory_total_mib": float(unit.memory_mib),
                    "power_avg_w": float(power[(node.name, gpu)].mean()),
                    "temperature_avg_c": float(metrics["temperature"].mean()),
                    "temperature_max_c": float(metrics["temperature"].max()),
                    "cost": float(price.sum()) * hours * unit.share,
                    "used_cost": float(np.sum(price * seen * held)) * hours * unit.share,
                    "hourly_price": float(price.mean()) * unit.share,
                    "namespace": holder.workload.namespace if holder else "",
                    "pod": holder.pod if holder else "",
                    "team": labels.get(TEAM_KEY, ""),
                    "project": labels.get(PROJECT_KEY, ""),
                    "model": labels.get(MODEL_KEY, ""),
                }
            )
    return pd.DataFrame(rows)


def pod_truth(cluster: SampleCluster, start: int, end: int, step: int) -> pd.DataFrame:
    """One row per GPU pod with the columns of ``sources.interface.POD_COLUMNS``: ``gpus``,
    ``gpu_hours`` and ``cost`` its share of the GPUs it runs on (``WorkloadSpec.held_gpus``: a
    whole GPU counts 1), busy and memory what dcgm-exporter reports for the GPU units it holds,
    ``mig_share`` its MIG instance's fraction. KAI's reservation pod, which holds no share, has
    no row."""
    from finops_cli.sample.simulate import gpu_metric_values

    grid = grid_between(start, end, step)
    hours = step / 3600
    runs = cluster.pod_runs(grid)
    states = {
        key: cluster.unit_state(key[1], bound, grid) for key, bound in cluster.holders(runs).items()
    }
    rows = []
    for r in runs:
        w = r.workload
        if not w.gpu_indices or w.held_gpus <= 0:
            continue
        node = cluster.node(w.node)
        ts = grid[r.first : r.last + 1]
        sl = slice(r.first, r.last + 1)
        units = [states[(w.node, g, w.mig_instance)] for g in w.gpu_indices]
        instance = (
            node.mig_instances(w.gpu_indices[0])[w.mig_instance]
            if w.mig_instance is not None
            else None
        )
        memory = instance[2] if instance else node.gpu_memory_mib
        busy = np.array([_observed_busy(cluster, node, u.busy[sl]) for u in units])
        peak = max(
            float(gpu_metric_values(u.busy[sl], memory, True, u.memory_share[sl])["used"].max())
            for u in units
        )
        rows.append(
            {
                "namespace": w.namespace,
                "pod": r.pod,
                "owner_kind": owner_of(w, r.pod)[0],
                "owner_name": owner_of(w, r.pod)[1],
                "team": w.labels.get(TEAM_KEY, ""),
                "project": w.labels.get(PROJECT_KEY, ""),
                "model": w.labels.get(MODEL_KEY, ""),
                "interruptible": w.labels.get(INTERRUPTIBLE_KEY, ""),
                "node": w.node,
                "gpu_model": node.gpu_product,
                "gpus": w.held_gpus,
                "gpu_hours": w.held_gpus * len(ts) * hours,
                "busy_avg": float(busy.mean()),
                "busy_p95": float(np.quantile(busy.max(axis=0), 0.95)),
                "memory_peak_mib": peak,
                "memory_total_mib": float(memory),
                "cost": float(cluster.gpu_price(node, ts - 1).sum()) * w.held_gpus * hours,
                "mig_share": mig_share(instance[1]) if instance else 0.0,
            }
        )
    return pd.DataFrame(rows)


KWH_PER_WATT_SECOND = 1 / 3.6e6


def energy_truth(cluster: SampleCluster, start: int, end: int, step: int, key: str) -> pd.Series:
    """The ledger's GPU energy (kWh) per ``key`` value, and ``__idle__``.

    For every GPU a pod holds a share of and every sample in ``(start, end]``: share x the
    physical GPU's power (``SampleCluster.gpu_power``) x the sample's interval; ``__idle__`` is
    every GPU's energy that no share covers. Computed from the simulated power, never from the
    exported series (neither the energy counter nor the power gauge). Exact on the sample grid.
    """
    grid = grid_between(start, end, step)
    runs = cluster.pod_runs(grid)
    power = cluster.gpu_power(grid, runs)
    scale = step * KWH_PER_WATT_SECOND
    out: dict[str, float] = {}
    held = 0.0
    for r in runs:
        w = r.workload
        value = _key_value(cluster, w, key)
        out.setdefault(value, 0.0)
        for gpu in w.gpu_indices if w.share > 0 else ():
            kwh = w.share * float(power[(w.node, gpu)][r.first : r.last + 1].sum()) * scale
            out[value] += kwh
            held += kwh
    total = sum(float(watts.sum()) for watts in power.values()) * scale
    out["__idle__"] = total - held
    return pd.Series(out, name="energy_kwh", dtype="float64").sort_index()


def token_split_truth(cluster: SampleCluster, start: int, end: int, step: int) -> pd.DataFrame:
    """Per model: the GPU cost split between input (prefill) and output (decode) tokens.

    The model's GPU cost (``inference_truth``) is split by the prefill and decode seconds its
    vLLM servers spent (requests on the sample grid x each request's simulated phase times);
    a model whose servers export no phase times (Triton, TGI) is split by token count
    (``split`` blended). Also the prefix-cache hit share of its prompt tokens (vLLM only).
    """
    from finops_cli.sample.energy import prefix_hit_share

    base = inference_truth(cluster, start, end, step)
    grid = grid_between(start, end, step)
    phases: dict[str, list[float]] = {}
    for r in cluster.pod_runs(grid):
        w = r.workload
        if w.serving != "vllm":
            continue
        model = w.labels.get(MODEL_KEY) or cluster.served_model(w)
        requests = float(cluster.counted_requests(r, grid, step).sum())
        prefill, decode = cluster.phase_seconds(w)
        slot = phases.setdefault(model, [0.0, 0.0, 0.0, 0.0])
        slot[0] += requests * prefill
        slot[1] += requests * decode
        slot[2] += requests * w.prompt_tokens_per_request
        slot[3] += np.floor(
            requests * w.prompt_tokens_per_request * prefix_hit_share(cluster.seed, w.name)
        )
    rows = []
    for name, row in base.iterrows():
        prefill, decode, queried, hits = phases.get(str(name), [0.0] * 4)
        measured = prefill + decode > 0
        tokens = row["prompt_tokens"] + row["generated_tokens"]
        share = (
            prefill / (prefill + decode)
            if measured
            else (row["prompt_tokens"] / tokens if tokens > 0 else 0.0)
        )
        input_cost = row["gpu_cost"] * share
        rows.append(
            {
                "model": str(name),
                "split": "measured" if measured else "blended",
                "input_cost": input_cost,
                "output_cost": row["gpu_cost"] - input_cost,
                "cost_per_1m_input_tokens": input_cost / row["prompt_tokens"] * 1e6
                if row["prompt_tokens"] > 0
                else None,
                "cost_per_1m_output_tokens": (row["gpu_cost"] - input_cost)
                / row["generated_tokens"]
                * 1e6
                if row["generated_tokens"] > 0
                else None,
                "prefix_cache_hit_share": hits / queried if queried > 0 else None,
            }
        )
    return base.join(pd.DataFrame(rows).set_index("model"))

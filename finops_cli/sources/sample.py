"""The built-in sample cluster as a cost source.

It aggregates the very samples the simulator exports (same instants, same values, same "a sample
reports the interval before it" rule) the way the query library aggregates them in PromQL, so the
sample source exercises the same arithmetic a real backend does and can be checked against the
simulator's independent ground truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from finops_cli import buckets
from finops_cli.frames import records
from finops_cli.queries import (
    BUSY_PROFILING,
    DEFAULT_COST_CENTER_KEY,
    GROUP_KEYS,
    POD_ANNOTATION_KEYS,
    POD_LABEL_KEYS,
)
from finops_cli.sample.energy import prefix_hit_share
from finops_cli.sample.scenario import WorkloadSpec
from finops_cli.sample.simulate import PodRun, SampleCluster, grid_between
from finops_cli.sources.interface import (
    ALLOCATION_MEASURES,
    CAPACITY_COLUMNS,
    CLUSTER_MEASURES,
    GPU_COLUMNS,
    NODE_COLUMNS,
    POD_COLUMNS,
    SERVED_MEASURES,
    TRAFFIC_MEASURES,
    CostData,
    CostRequest,
    CostSource,
    EnergyData,
    GpuData,
    InferenceData,
    PodGpuData,
)
from finops_cli.timewindow import Window

SAMPLE_INTERVAL_S = 60
LONG_WINDOW_INTERVAL_S = 300


class SampleCostSource(CostSource):
    """Answers from an in-process ``SampleCluster``; no I/O."""

    name = "sample"

    def __init__(
        self,
        pod_labels: dict[str, str],
        *,
        seed: int = 42,
        sample_interval_s: int = SAMPLE_INTERVAL_S,
        cluster: SampleCluster | None = None,
    ) -> None:
        self.pod_labels = pod_labels
        self.sample_interval_s = sample_interval_s
        self.cluster = cluster or SampleCluster(seed)

    def costs(self, request: CostRequest) -> CostData:
        start = int(request.window.start.timestamp())
        end = int(request.window.end.timestamp())
        step = self._step(request.window)
        grid = grid_between(start, end, step)
        ends = buckets.bucket_end(start, end, request.bucket_s, grid)
        hours = step / 3600
        frames = []
        allocated_hours = np.zeros(len(grid))
        allocated_cost = np.zeros(len(grid))
        allocated_wasted = np.zeros(len(grid))
        runs = self.cluster.pod_runs(grid)
        unit_busy = self.cluster.unit_busy(grid, runs)
        for run in runs:
            w = run.workload
            node = self.cluster.node(w.node)
            sl = slice(run.first, run.last + 1)
            at = grid[sl] - 1
            price = self.cluster.gpu_price(node, at)
            # A pod pays its share of each GPU it holds (a MIG slice's N/7, its replicas, its
            # HAMi or KAI fraction, its part of a DRA claim), whatever it used.
            held = w.held_gpus
            gpu_cost = price * held * hours
            # The ledger's waste: each GPU unit the pod holds, share x price x (1 - the unit's
            # busy), sample by sample; a shared GPU's busy is the physical GPU's, or the pod's own
            # where per-process series are written (``SampleCluster.holder_busy``, waste_truth).
            busy_by_gpu = (
                [self.cluster.holder_busy(run, gpu, grid, unit_busy) for gpu in w.gpu_indices]
                if held > 0
                else []
            )
            wasted = (
                sum(price * (1.0 - b) for b in busy_by_gpu) * w.share * hours
                if busy_by_gpu
                else np.zeros(len(at))
            )
            allocated_hours[sl] += held * hours
            allocated_cost[sl] += gpu_cost
            allocated_wasted[sl] += wasted
            values = {k: self._value(w, k) for k in GROUP_KEYS}
            if any(values[k] != v for k, v in request.filters.items()):
                continue
            busy = sum(busy_by_gpu) * w.share * hours
            cpu_ram = (
                self.cluster.cpu_price(node, at) * w.cpu_cores
                + self.cluster.ram_price(node, at) * w.memory_gib
            ) * hours
            frame = pd.DataFrame(
                {
                    "bucket_end": ends[sl],
                    "gpu_hours": held * hours,
                    "gpu_cost": gpu_cost,
                    "cpu_ram_cost": cpu_ram,
                    "busy_gpu_hours": busy,
                    "observed_gpu_hours": held * hours,
                    "wasted_cost": wasted,
                }
            )
            for key in request.group_by:
                frame[key] = values[key]
            frames.append(frame)

        keys = list(request.group_by)
        if frames:
            allocations = (
                pd.concat(frames, ignore_index=True)
                .groupby(["bucket_end", *keys], as_index=False, sort=True)[
                    list(ALLOCATION_MEASURES)
                ]
                .sum()
            )
        else:
            allocations = pd.DataFrame(columns=["bucket_end", *keys, *ALLOCATION_MEASURES])
        allocations["bucket_end"] = _utc(allocations["bucket_end"])

        other_cluster = request.filters.get("cluster", self.cluster.name) != self.cluster.name
        capacity_hours = (
            0.0 if other_cluster else sum(n.gpu_count for n in self.cluster.nodes) * hours
        )
        capacity_cost = sum(
            self.cluster.gpu_price(n, grid - 1) * n.gpu_count * hours for n in self.cluster.nodes
        ) * (0.0 if other_cluster else 1.0)
        if other_cluster:
            allocated_hours[:] = 0.0
            allocated_cost[:] = 0.0
            allocated_wasted[:] = 0.0
        cluster = (
            pd.DataFrame(
                {
                    "bucket_end": ends,
                    "allocated_gpu_hours": allocated_hours,
                    "allocated_gpu_cost": allocated_cost,
                    "capacity_gpu_hours": np.full(len(grid), capacity_hours),
                    "capacity_gpu_cost": capacity_cost,
                    "allocated_wasted_cost": allocated_wasted,
                }
            )
            .groupby("bucket_end", as_index=False, sort=True)[list(CLUSTER_MEASURES)]
            .sum()
        )
        cluster["bucket_end"] = _utc(cluster["bucket_end"])
        if "cluster" in request.group_by:  # one cluster: its idle is the whole idle
            cluster.insert(1, "cluster", self.cluster.name)
        return CostData(
            self.name,
            allocations,
            cluster,
            BUSY_PROFILING,
            has_cpu_ram=True,
            sample_interval_s=step,
            energy=self._energy(request, grid, runs, step) if request.energy else None,
        )

    def _energy(
        self, request: CostRequest, grid: npt.NDArray[np.int64], runs: list[PodRun], step: int
    ) -> EnergyData:
        """The ledger's energy, as ``QueryContext.energy_entries`` sums it: each GPU a pod holds
        a share of, its physical GPU's power x the share, sample by sample."""
        power = self.cluster.gpu_power(grid, runs)
        scale = step / 3.6e6
        other_cluster = request.filters.get("cluster", self.cluster.name) != self.cluster.name
        region = {n.name: n.region for n in self.cluster.nodes}
        rows: dict[tuple[str, ...], float] = {}
        held: dict[str, float] = {}
        for run in runs if not other_cluster else ():
            w = run.workload
            if w.share <= 0:
                continue
            sl = slice(run.first, run.last + 1)
            kwh = sum(float(power[(w.node, g)][sl].sum()) for g in w.gpu_indices) * w.share * scale
            held[region[w.node]] = held.get(region[w.node], 0.0) + kwh
            values = {k: self._value(w, k) for k in GROUP_KEYS}
            if any(values[k] != v for k, v in request.filters.items()):
                continue
            key = (*(values[k] for k in request.group_by), region[w.node])
            rows[key] = rows.get(key, 0.0) + kwh
        whole: dict[str, float] = {}
        for (node, _gpu), watts in power.items() if not other_cluster else ():
            whole[region[node]] = whole.get(region[node], 0.0) + float(watts.sum()) * scale
        columns = [*request.group_by, "region"]
        return EnergyData(
            pd.DataFrame(
                [[*k, v] for k, v in sorted(rows.items())], columns=[*columns, "energy_kwh"]
            ),
            pd.DataFrame(
                [[r, held.get(r, 0.0), whole[r]] for r in sorted(whole)],
                columns=["region", "allocated_energy_kwh", "capacity_energy_kwh"],
            ),
            "counter" if self.cluster.dcgm_energy_counter else "power",
        )

    def inference(self, request: CostRequest) -> InferenceData:
        """Requests as the counters count them, and the GPUs of serving pods without a model
        label, attributed to the model their server reports."""
        start = int(request.window.start.timestamp())
        end = int(request.window.end.timestamp())
        step = self._step(request.window)
        grid = grid_between(start, end, step)
        hours = step / 3600
        traffic: dict[str, list[float]] = {}
        served: dict[str, list[float]] = {}
        model_key = self.pod_labels["model"]
        runs = self.cluster.pod_runs(grid)
        unit_busy = self.cluster.unit_busy(grid, runs)
        power = self.cluster.gpu_power(grid, runs) if request.energy else None
        energy: dict[tuple[str, str], float] = {}
        for run in runs:
            w = run.workload
            if w.serving is None or any(self._value(w, k) != v for k, v in request.filters.items()):
                continue
            ts = grid[run.first : run.last + 1]
            requests = float(self.cluster.counted_requests(run, grid, step).sum())
            labelled = w.labels.get(model_key, "")
            model = labelled or self.cluster.served_model(w)
            row = traffic.setdefault(model, [0.0] * len(TRAFFIC_MEASURES))
            row[0] += requests
            row[1] += requests * w.prompt_tokens_per_request
            row[2] += requests * w.generation_tokens_per_request
            if w.serving == "vllm":  # only vLLM exports phase times and its prefix cache
                prefill, decode = self.cluster.phase_seconds(w)
                row[3] += requests * prefill
                row[4] += requests * decode
                row[5] += requests * w.prompt_tokens_per_request
                row[6] += np.floor(
                    requests
                    * w.prompt_tokens_per_request
                    * prefix_hit_share(self.cluster.seed, w.name)
                )
            if not labelled and power is not None and w.share > 0:
                sl = slice(run.first, run.last + 1)
                kwh = sum(float(power[(w.node, g)][sl].sum()) for g in w.gpu_indices)
                key = (model, self.cluster.node(w.node).region)
                energy[key] = energy.get(key, 0.0) + kwh * w.share * step / 3.6e6
            if not labelled:
                node = self.cluster.node(w.node)
                held = w.held_gpus
                price = self.cluster.gpu_price(node, ts - 1)
                sl = slice(run.first, run.last + 1)
                busy_by_gpu = (
                    [self.cluster.holder_busy(run, gpu, grid, unit_busy) for gpu in w.gpu_indices]
                    if held > 0
                    else []
                )
                slot = served.setdefault(model, [0.0] * len(SERVED_MEASURES))
                slot[0] += held * len(ts) * hours
                slot[1] += float(price.sum()) * held * hours
                slot[2] += sum(float(b.sum()) for b in busy_by_gpu) * w.share * hours
                slot[3] += held * len(ts) * hours
                slot[4] += sum(float((price * (1.0 - b)).sum()) for b in busy_by_gpu) * (
                    w.share * hours
                )
        return InferenceData(
            pd.DataFrame(
                [[m, *v] for m, v in traffic.items()], columns=["model", *TRAFFIC_MEASURES]
            ),
            pd.DataFrame([[m, *v] for m, v in served.items()], columns=["model", *SERVED_MEASURES]),
            energy=pd.DataFrame(
                [[m, r, v] for (m, r), v in sorted(energy.items())],
                columns=["model", "region", "energy_kwh"],
            )
            if request.energy
            else None,
        )

    def gpus(self, window: Window, cluster: str | None = None) -> GpuData:
        """Per-GPU statistics of the simulated fleet, as the server-side queries compute them."""
        from finops_cli.sample.truth import gpu_truth, holder_truth

        start, end = int(window.start.timestamp()), int(window.end.timestamp())
        gpus = gpu_truth(self.cluster, start, end, self.sample_interval_s)
        gpus["cluster"] = self.cluster.name
        if cluster is not None and cluster != self.cluster.name:
            gpus = gpus.iloc[0:0]
        if "holders" not in gpus:
            gpus["holders"] = _holders(gpus, holder_truth(self.cluster, start, end))
        nodes = pd.DataFrame(
            [
                {
                    "node": n.name,
                    "instance_type": n.instance_type,
                    "region": n.region,
                    "capacity_type": n.capacity_type,
                    "accelerator": n.accelerator,
                    "cluster": self.cluster.name,
                }
                for n in self.cluster.nodes
            ],
            columns=list(NODE_COLUMNS),
        )
        return GpuData(
            gpus[list(GPU_COLUMNS)],
            nodes,
            BUSY_PROFILING,
            self.sample_interval_s,
            price_source="sample cluster (OpenCost-style node_gpu_hourly_cost)",
        )

    def node_costs(self, window: Window) -> pd.DataFrame:
        """Each node's GPU and instance price integrated over the samples of the window."""
        from finops_cli.sample.bill import instance_id
        from finops_cli.sources.interface import NODE_COST_COLUMNS

        start, end = int(window.start.timestamp()), int(window.end.timestamp())
        step = self.sample_interval_s
        at = grid_between(start, end, step) - 1
        hours = step / 3600
        rows = [
            {
                "node": n.name,
                "instance_type": n.instance_type,
                "capacity_type": n.capacity_type,
                "region": n.region,
                "provider_id": f"aws:///{n.zone}/{instance_id(self.cluster, n)}",
                "gpu_count": n.gpu_count,
                "hours": len(at) * hours,
                "gpu_cost": float(self.cluster.gpu_price(n, at).sum()) * n.gpu_count * hours,
                "instance_cost": float(self.cluster.instance_price(n, at).sum()) * hours,
            }
            for n in self.cluster.nodes
        ]
        return pd.DataFrame(rows, columns=list(NODE_COST_COLUMNS))

    def pods(self, window: Window, cluster: str | None = None) -> PodGpuData:
        from finops_cli.sample.truth import pod_truth

        start, end = int(window.start.timestamp()), int(window.end.timestamp())
        pods = pod_truth(self.cluster, start, end, self.sample_interval_s)
        pods = pods.assign(cluster=self.cluster.name)
        if cluster is not None and cluster != self.cluster.name:
            pods = pods.iloc[0:0]
        gpus = self.gpus(window, cluster)
        pools = {n.name: n.pool for n in self.cluster.nodes}
        capacity = gpus.gpus.assign(pool=gpus.gpus["node"].map(pools).fillna(""))
        held = pods.groupby(["cluster", "node"], as_index=False).agg(gpu_hours=("gpu_hours", "sum"))
        return PodGpuData(
            pods[list(POD_COLUMNS)],
            gpus.nodes,
            self.sample_interval_s,
            capacity=capacity[list(CAPACITY_COLUMNS)],
            node_allocations=held,
        )

    def _step(self, window: Window) -> int:
        """The scrape interval simulated: 5 minutes past a week keeps long windows quick, and
        changes no cost (every state change is on a 15-minute boundary)."""
        return (
            self.sample_interval_s
            if window.seconds <= 8 * 86400
            else max(self.sample_interval_s, LONG_WINDOW_INTERVAL_S)
        )

    def _value(self, w: WorkloadSpec, key: str) -> str:
        if key in POD_LABEL_KEYS:
            return w.labels.get(self.pod_labels[key], "")
        if key in POD_ANNOTATION_KEYS:
            return w.annotations.get(self.pod_labels.get(key) or DEFAULT_COST_CENTER_KEY, "")
        if key == "cluster":
            return self.cluster.name
        if key == "gpu_model":
            return self.cluster.node(w.node).gpu_product
        return str(getattr(w, key))


def _utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.astype("int64"), unit="s", utc=True)


def _holders(gpus: pd.DataFrame, holders: pd.DataFrame) -> pd.Series:
    """Every pod that held a share of each GPU row (a MIG slice, replicas, a fraction), as
    ``GpuData.holders`` lists them: share-hours and the share of the row's hours."""
    keyed: dict[tuple[str, int, str], list[tuple[float, dict[str, Any]]]] = {}
    for h in records(holders):
        key = (str(h["node"]), int(h["gpu"]), str(h["mig_instance"]))
        who = {k: h[k] for k in ("namespace", "pod", "team", "project", "model")}
        keyed.setdefault(key, []).append((float(h["share"]) * float(h["held_hours"]), who))
    out = []
    for row in records(gpus):
        present = float(row["present_hours"] or 0.0)
        mine = keyed.get((str(row["node"]), int(row["gpu"]), str(row["mig_instance"] or "")), [])
        mine.sort(key=lambda held: (-held[0], str(held[1]["pod"])))
        out.append(
            [
                {**who, "share_hours": hours, "share": hours / present if present > 0 else 0.0}
                for hours, who in mine
            ]
        )
    return pd.Series(out, index=gpus.index)

"""A sample fleet of any size, for the scale benchmark: the sample simulator with a generated cast.

The ten-node sample cluster exercises every case; this one exercises volume. ``scale_fleet(n)``
gives ``n / 8`` eight-GPU nodes (H100, A100, A10G and L4 instances, one in eight on spot) carrying
training jobs, always-on vLLM replicas with rollouts, Triton services and idle GPUs, owned by a
fixed number of teams (100 by default) whatever the size. Keeping the teams fixed while the GPUs
grow is the point: the cost queries' answers depend on teams x steps, so bytes received and client
time must stay flat from 200 to 20,000 GPUs. Every schedule changes on 15-minute boundaries, so
``truth.ground_truth`` stays exact for these clusters too.
"""

from __future__ import annotations

from functools import partial

from finops_cli.sample.scenario import (
    COST_CENTER_KEY,
    DAY_S,
    ENVIRONMENT_KEY,
    HOUR_S,
    MODEL_KEY,
    PROJECT_KEY,
    QUANTUM_S,
    TEAM_KEY,
    NodeSpec,
    Schedule,
    WorkloadSpec,
)
from finops_cli.sample.simulate import SampleCluster

GPUS_PER_NODE = 8
# (instance type, dcgm modelName, MiB per GPU, vCPU, GiB RAM, on-demand $/h): pricing/aws.csv.
INSTANCE_MIX = (
    ("p5.48xlarge", "NVIDIA H100 80GB HBM3", 81559, 192, 2048, 55.04),
    ("p5.48xlarge", "NVIDIA H100 80GB HBM3", 81559, 192, 2048, 55.04),
    ("p4d.24xlarge", "NVIDIA A100-SXM4-40GB", 40960, 96, 1152, 21.957642),
    ("p4d.24xlarge", "NVIDIA A100-SXM4-40GB", 40960, 96, 1152, 21.957642),
    ("g5.48xlarge", "NVIDIA A10G", 23028, 192, 768, 16.288),
    ("g6.48xlarge", "NVIDIA L4", 23034, 192, 768, 13.3504),
)
SPOT_DISCOUNT = 0.35  # spot price as a share of on-demand (before the hourly swing)
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
MODELS = tuple(
    f"{family}-{size}"
    for family in ("llama-3", "mistral", "qwen2", "gemma-2", "phi-3")
    for size in ("1b", "7b", "8b", "13b", "34b", "70b", "instruct", "chat")
)  # 40 model names
# How a node's eight GPUs are used, by node index: (layout name, GPUs per workload).
LAYOUTS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("pretrain", (8,)),
    ("serving", (1, 1, 1, 1, 1, 1, 1, 1)),
    ("split", (4, 4)),
    ("serving-2", (2, 2, 2, 2)),
    ("batch", (2, 2, 2)),  # two GPUs stay unallocated
    ("mixed", (4, 2, 1)),  # one GPU stays unallocated
)


def scale_fleet(
    gpus: int, teams: int = 100
) -> tuple[tuple[NodeSpec, ...], tuple[WorkloadSpec, ...]]:
    """Nodes and workloads for a fleet of ``gpus`` GPUs (rounded up to whole nodes)."""
    if gpus < GPUS_PER_NODE or teams < 1:
        raise ValueError("a scale fleet needs at least one node and one team")
    nodes: list[NodeSpec] = []
    cast: list[WorkloadSpec] = []
    for index in range(-(-gpus // GPUS_PER_NODE)):
        node = _node(index)
        nodes.append(node)
        cast.extend(_workloads(node, index, teams, first_ordinal=len(cast)))
    return tuple(nodes), tuple(cast)


def scale_cluster(gpus: int, teams: int = 100, seed: int = 42) -> SampleCluster:
    nodes, cast = scale_fleet(gpus, teams)
    return SampleCluster(seed, nodes=nodes, cast=cast, name=f"scale-{gpus}")


def _node(index: int) -> NodeSpec:
    itype, product, memory, vcpu, ram, price = INSTANCE_MIX[index % len(INSTANCE_MIX)]
    spot = index % 8 == 7
    return NodeSpec(
        f"ip-10-{index // 62500}-{index // 250 % 250}-{index % 250}.ec2.internal",
        itype,
        product,
        GPUS_PER_NODE,
        memory,
        vcpu,
        ram,
        round(price * SPOT_DISCOUNT, 4) if spot else price,
        capacity_type="spot" if spot else "on-demand",
        zone=ZONES[index % len(ZONES)],
    )


def _labels(team: int, project: int, model: str | None, env: str) -> dict[str, str]:
    labels = {
        TEAM_KEY: f"team-{team:03d}",
        PROJECT_KEY: f"team-{team:03d}-project-{project}",
        ENVIRONMENT_KEY: env,
    }
    if model:
        labels[MODEL_KEY] = model
    return labels


def _workloads(node: NodeSpec, index: int, teams: int, first_ordinal: int) -> list[WorkloadSpec]:
    """``first_ordinal`` numbers workloads across the fleet: workload k belongs to team k mod
    ``teams``, so every team has work once the fleet has as many workloads as teams."""
    layout, sizes = LAYOUTS[index % len(LAYOUTS)]
    out: list[WorkloadSpec] = []
    first_gpu = 0
    for slot, size in enumerate(sizes):
        serial = index * GPUS_PER_NODE + slot
        team = (first_ordinal + slot) % teams
        gpus = tuple(range(first_gpu, first_gpu + size))
        first_gpu += size
        phase = QUANTUM_S * ((serial * 37) % 96)  # anywhere in the day, on a quarter hour
        spec = partial(
            WorkloadSpec,
            namespace=f"team-{team:03d}",
            node=node.name,
            gpu_indices=gpus,
            annotations={COST_CENTER_KEY: f"CC-{team % 20:02d}"},
            cpu_cores=8.0 * size,
            memory_gib=64.0 * size,
        )
        name = f"w{index}-{slot}"
        serving = layout in ("serving", "serving-2") or (layout == "mixed" and slot == 1)
        if serving:
            model = MODELS[(team * 3 + slot % 3) % len(MODELS)]
            out.append(
                spec(
                    name=f"{name}-{model}",
                    labels=_labels(team, slot % 3, model, "production"),
                    schedule=Schedule(
                        restart_every_s=(2 + serial % 4) * DAY_S, phase_s=phase % DAY_S
                    ),
                    kind="inference",
                    busy_base=0.2 + 0.5 * ((serial * 13) % 10) / 10,
                    busy_swing=0.2,
                    serving="triton" if serial % 5 == 0 else "vllm",
                    requests_per_s_peak=2.0 + serial % 20,
                    prompt_tokens_per_request=200 + 50 * (serial % 12),
                    generation_tokens_per_request=50 + 20 * (serial % 10),
                )
            )
            continue
        period = 2 * DAY_S if size >= 4 else DAY_S
        out.append(
            spec(
                name=f"{name}-train",
                labels=_labels(team, slot % 3, None, "staging" if size < 4 else "production"),
                schedule=Schedule(
                    period_s=period, duration_s=period - 4 * HOUR_S, phase_s=phase % period
                ),
                kind="training",
                busy_base=0.55 + 0.4 * ((serial * 29) % 10) / 10,
            )
        )
    return out

"""A sample cluster that shares GPUs, each way written as the real exporters write it.

``SampleCluster(seed, nodes=SHARING_NODES, cast=sharing_workloads())`` has one node per mode:
MIG under the mixed and the single strategy, time-slicing, MPS, HAMi, KAI Scheduler fractions and
DRA claims (whole GPU, one claim shared by two pods, a MIG device). The wire-format facts cited as
"§N" are those of ``reference/gpu-sharing.md`` (the shared reference of this project), which
cites the exporters' sources.

The cost rule (``docs/cost-model.md``): a physical GPU's cost in each interval is split among the
pods holding a share of it by the share they were **allocated**, whatever they used; what nobody
was allocated is idle. ``allocated_share`` reads that share from what the wire says:

* MIG (device plugin or DRA): profile ``Ng.*`` holds N/7 of its GPU (A30 profiles: N/4);
* time-slicing and MPS: replicas held / replicas per GPU;
* HAMi: ``nvidia.com/gpucores`` / 100 when given (cores win), else
  ``nvidia.com/gpumem-percentage`` / 100, else ``nvidia.com/gpumem`` / the GPU's memory, else 1;
* KAI: the ``gpu-fraction`` annotation, of each of its ``gpu-fraction-num-devices`` GPUs; where
  only ``gpu-memory`` (MiB) is given, that memory over the GPU's; KAI's reservation pod holds 0
  (it is not a holder, the unclaimed rest of the GPU is idle);
* DRA: a whole-GPU claim 1, split evenly among the pods that share one ResourceClaim;
* anything else: whole GPUs, 1 each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from finops_cli.sample.scenario import (
    DAY_S,
    ENVIRONMENT_KEY,
    HOUR_S,
    MODEL_KEY,
    PROJECT_KEY,
    TEAM_KEY,
    NodeSpec,
    Schedule,
    WorkloadSpec,
    mig_share,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from finops_cli.sample.simulate import FloatArray, IntArray, PodRun, SampleCluster, SampleSeries

GPU = "nvidia.com/gpu"
GPU_SHARED = "nvidia.com/gpu.shared"  # the replicas' name under renameByDefault (§2, §3)
MIG_PREFIX = "nvidia.com/mig-"
HAMI_CORES = "nvidia.com/gpucores"  # §5: HAMi's chart defaults
HAMI_MEMORY = "nvidia.com/gpumem"  # MiB
HAMI_MEMORY_PERCENTAGE = "nvidia.com/gpumem-percentage"
KAI_NAMESPACE = "kai-resource-reservation"  # §7
KAI_FRACTION = "gpu-fraction"
KAI_DEVICES = "gpu-fraction-num-devices"  # the fraction is of each of this many GPUs
KAI_MEMORY = "gpu-memory"  # MiB of one GPU, where no fraction is given
KAI_GPU_GROUP = "runai-gpu-group"
DRA_DRIVER = "gpu.nvidia.com"  # §4
# nvidia-smi's GPU-instance profile IDs (``nvidia-smi mig -lgip``), part of a DRA MIG device name.
MIG_PROFILE_IDS = {
    "1g.5gb": 19, "1g.10gb": 19, "1g.10gb+me": 20, "1g.20gb": 15, "2g.10gb": 14, "2g.20gb": 14,
    "3g.20gb": 9, "3g.40gb": 9, "4g.20gb": 5, "4g.40gb": 5, "7g.40gb": 0, "7g.80gb": 0,
}  # fmt: skip


def ksm_resource(name: str) -> str:
    """A resource name as kube-state-metrics writes it: ``nvidia.com/mig-1g.10gb`` is
    ``nvidia_com_mig_1g_10gb`` (§0)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def sharing_mode(node: NodeSpec, w: WorkloadSpec) -> str:
    """How ``w`` holds its GPUs: "whole", "mig", "time-slicing", "mps", "hami", "kai",
    "kai-reservation", "dra", "dra-mig", or "none" (no GPU)."""
    if not w.gpu_indices:
        return "none"
    if w.claim_name:
        return "dra-mig" if w.mig_instance is not None else "dra"
    if w.mig_instance is not None:
        return "mig"
    if KAI_FRACTION in w.annotations or KAI_MEMORY in w.annotations:
        return "kai"
    if w.namespace == KAI_NAMESPACE:
        return "kai-reservation"
    if node.sharing in ("time-slicing", "mps", "hami"):
        return node.sharing
    return "whole"


def hami_share(requests: dict[str, int], memory_mib: int) -> float:
    """HAMi's share of one GPU: cores win; memory where only memory is given (§5)."""
    if HAMI_CORES in requests:
        return requests[HAMI_CORES] / 100
    if HAMI_MEMORY_PERCENTAGE in requests:
        return requests[HAMI_MEMORY_PERCENTAGE] / 100
    if HAMI_MEMORY in requests:
        return min(1.0, requests[HAMI_MEMORY] / memory_mib)
    return 1.0


def allocated_share(node: NodeSpec, w: WorkloadSpec, cast: Iterable[WorkloadSpec]) -> float:
    """The share of each of its GPUs (of its MIG instance's GPU) ``w`` was allocated, read from
    its requests, annotations and claims and from its node's sharing set-up."""
    mode = sharing_mode(node, w)
    if mode in ("mig", "dra-mig"):
        return mig_share(w.mig_profile)
    if mode in ("time-slicing", "mps"):
        return len(w.vgpu) / node.replicas
    if mode == "hami":
        return hami_share(w.resource_requests, node.gpu_memory_mib)
    if mode == "kai" and KAI_FRACTION in w.annotations:
        return float(w.annotations[KAI_FRACTION])
    if mode == "kai":
        return min(1.0, int(w.annotations[KAI_MEMORY]) / node.gpu_memory_mib)
    if mode == "kai-reservation":
        return 0.0
    if mode == "dra" and w.resource_claim:
        sharing = [
            o for o in cast if (o.namespace, o.resource_claim) == (w.namespace, w.resource_claim)
        ]
        return 1.0 / len(sharing)
    return 1.0


def check_wire(node: NodeSpec, w: WorkloadSpec) -> None:
    """Reject a workload whose requests contradict its node's set-up (a cast error)."""
    mode = sharing_mode(node, w)
    requests = w.resource_requests
    problem = ""
    if mode in ("time-slicing", "mps"):
        name = GPU_SHARED if node.rename_by_default else GPU
        if len(w.gpu_indices) != 1 or requests.get(name) != len(w.vgpu) or not w.vgpu:
            problem = f"requests {len(w.vgpu)} {name} replicas of one GPU"
        elif max(w.vgpu) >= node.replicas:
            problem = f"replica index beyond {node.replicas}"
    elif mode == "mig" and node.mig_strategy == "single" and requests != {GPU: 1}:
        problem = f"a MIG instance under the single strategy is one {GPU}"
    elif (
        mode == "mig"
        and node.mig_strategy == "mixed"
        and requests != {f"{MIG_PREFIX}{w.mig_profile}": 1}
    ):
        problem = f"a MIG instance under the mixed strategy is one {MIG_PREFIX}{w.mig_profile}"
    elif mode in ("dra", "dra-mig", "kai") and requests:
        problem = "a DRA claim or a KAI fraction requests no extended resource"
    if problem:
        raise ValueError(f"sample workload {w.name} on {node.name}: {problem}")


def with_allocated_shares(
    cast: tuple[WorkloadSpec, ...], nodes: Iterable[NodeSpec]
) -> tuple[WorkloadSpec, ...]:
    """``cast`` with each non-MIG workload's ``gpu_share`` set by ``allocated_share``."""
    by_name = {n.name: n for n in nodes}
    return tuple(
        w
        if w.mig_instance is not None or not w.gpu_indices
        else replace(w, gpu_share=allocated_share(by_name[w.node], w, cast))
        for w in cast
    )


def node_labels(node: NodeSpec) -> dict[str, str]:
    """GPU feature discovery's labels on ``node`` as ``kube_node_labels`` writes them (§1-§3):
    the product alone for a node that shares nothing."""
    product = node.gpu_product.replace(" ", "-")
    labels = {"label_nvidia_com_gpu_product": product}
    instances = [i for g in range(node.gpu_count) for i in node.mig_instances(g)]
    if node.mig_strategy == "single":  # §1: every MIG instance is one nvidia.com/gpu
        profile = instances[0][1]
        labels |= {
            "label_nvidia_com_mig_strategy": "single",
            "label_nvidia_com_gpu_product": f"{product}-MIG-{profile}",
            "label_nvidia_com_gpu_count": str(len(instances)),
            "label_nvidia_com_gpu_slices_gi": profile.split("g.", 1)[0],
        }
    elif node.mig_strategy == "mixed":  # §1: one resource per profile, labels keyed by it
        whole = sum(1 for g in range(node.gpu_count) if not node.mig_instances(g))
        labels |= {
            "label_nvidia_com_mig_strategy": "mixed",
            "label_nvidia_com_gpu_count": str(whole),
        }
        for profile in sorted({p for _, p, _, _ in instances}):
            key = ksm_resource(f"{MIG_PREFIX}{profile}")
            labels[f"label_{key}_count"] = str(sum(1 for i in instances if i[1] == profile))
            labels[f"label_{key}_product"] = f"{product}-MIG-{profile}"
    elif node.sharing in ("time-slicing", "mps"):  # §2, §3: labels keyed by nvidia.com/gpu
        labels |= {
            "label_nvidia_com_gpu_replicas": str(node.replicas),
            "label_nvidia_com_gpu_count": str(node.gpu_count),
            "label_nvidia_com_gpu_sharing_strategy": node.sharing,
        }
        if not node.rename_by_default:
            labels["label_nvidia_com_gpu_product"] = f"{product}-SHARED"
        if node.sharing == "mps":
            labels["label_nvidia_com_mps_capable"] = "true"
    elif node.sharing == "hami":  # §5: HAMi's node selector; GFD still counts the GPUs
        labels |= {"label_gpu": "on", "label_nvidia_com_gpu_count": str(node.gpu_count)}
    elif node.sharing == "dra":  # §4: GFD still labels the node; the DRA driver publishes slices
        labels["label_nvidia_com_gpu_count"] = str(node.gpu_count)
    return labels


def node_allocatable(node: NodeSpec) -> dict[str, int]:
    """``kube_node_status_allocatable`` of the node's GPU resources (KSM names, §0-§5)."""
    if node.sharing == "dra":  # §4: the DRA driver publishes ResourceSlices, no device plugin
        return {}
    instances = [i for g in range(node.gpu_count) for i in node.mig_instances(g)]
    if node.mig_strategy == "single":
        return {ksm_resource(GPU): len(instances)}
    if node.mig_strategy == "mixed":
        whole = sum(1 for g in range(node.gpu_count) if not node.mig_instances(g))
        out = {ksm_resource(GPU): whole}
        for _, profile, _, _ in instances:
            key = ksm_resource(f"{MIG_PREFIX}{profile}")
            out[key] = out.get(key, 0) + 1
        return out
    if node.sharing in ("time-slicing", "mps"):
        name = GPU_SHARED if node.rename_by_default else GPU
        return {ksm_resource(name): node.gpu_count * node.replicas}
    if node.sharing == "hami":  # §5: --device-split-count fake devices per GPU
        return {ksm_resource(GPU): node.gpu_count * node.replicas}
    return {ksm_resource(GPU): node.gpu_count}


def maps_to_device(w: WorkloadSpec) -> bool:
    """Whether dcgm-exporter's PodResources mapping sees the pod's GPU (§0): ``nvidia.com/gpu``,
    ``nvidia.com/mig-*``, or ``nvidia.com/gpu.shared`` (which the sample's exporter lists in
    ``NVIDIA_RESOURCE_NAMES``); HAMi's devices it cannot map (§5), KAI fractions hold none (§7)."""
    return any(r in (GPU, GPU_SHARED) or r.startswith(MIG_PREFIX) for r in w.resource_requests)


def dra_device_name(node: NodeSpec, gpu: int, instance: int | None) -> str:
    """The NVIDIA DRA driver's device name: ``gpu-<minor>``, or for a MIG device
    ``gpu-<minor>-mig-<profile without dots>-<profile id>-<placement start>`` (§4)."""
    if instance is None:
        return f"gpu-{gpu}"
    _, profile, _, start = node.mig_instances(gpu)[instance]
    return f"gpu-{gpu}-mig-{profile.replace('.', '')}-{MIG_PROFILE_IDS[profile]}-{start}"


# ---- the sharing fleet --------------------------------------------------------------------------
_A100 = "NVIDIA A100-SXM4-80GB"
_H100 = "NVIDIA H100 80GB HBM3"
SHARING_NODES: tuple[NodeSpec, ...] = (
    # §1 MIG, mixed strategy: GPU 0 split 3g.40gb + 2g.20gb + 1g.10gb x2, the other seven whole.
    NodeSpec(
        "ip-10-0-6-60.ec2.internal", "p4de.24xlarge", _A100, 8, 81920, 96, 1152, 27.44705,
        mig=((0, "3g.40gb", 1, 40192), (0, "2g.20gb", 1, 19968), (0, "1g.10gb", 2, 9856)),
        mig_strategy="mixed",
    ),
    # §1 MIG, single strategy: the one H100 is seven 1g.10gb instances, each an nvidia.com/gpu.
    NodeSpec(
        "ip-10-0-6-61.ec2.internal", "p5.4xlarge", _H100, 1, 81559, 16, 256, 6.88,
        zone="us-east-1b", mig=((0, "1g.10gb", 7, 10240),), mig_strategy="single",
    ),
    # §2 time-slicing, replicas 4, renameByDefault false; dcgm-exporter in virtual-GPU mode,
    # with its per-pod process series (each pod's own SM utilisation and memory).
    NodeSpec(
        "ip-10-0-6-62.ec2.internal", "g5.12xlarge", "NVIDIA A10G", 4, 23028, 48, 192, 5.672,
        sharing="time-slicing", replicas=4, virtual_gpus=True, process_metrics=True,
    ),
    # §3 MPS, replicas 2, renameByDefault true (nvidia.com/gpu.shared); dcgm-exporter default mode.
    NodeSpec(
        "ip-10-0-6-63.ec2.internal", "g6.xlarge", "NVIDIA L4", 1, 23034, 4, 16, 0.8048,
        sharing="mps", replicas=2, rename_by_default=True,
    ),
    # §5 HAMi, device-split-count 10.
    NodeSpec(
        "ip-10-0-6-64.ec2.internal", "g6.12xlarge", "NVIDIA L4", 4, 23034, 48, 192, 4.6016,
        zone="us-east-1b", sharing="hami", replicas=10,
    ),
    # §7 KAI Scheduler fractions on a plain device-plugin node: GPU 0 in fractions, GPU 1 a
    # gpu-memory pod, GPUs 2 and 3 one pod's fraction of each (gpu-fraction-num-devices 2).
    NodeSpec(
        "ip-10-0-6-65.ec2.internal", "g6e.12xlarge", "NVIDIA L40S", 4, 46068, 48, 384, 10.49264,
    ),
    # §4 DRA: whole-GPU claims, one of them shared by two pods.
    NodeSpec(
        "ip-10-0-6-66.ec2.internal", "g6e.12xlarge", "NVIDIA L40S", 4, 46068, 48, 384, 10.49264,
        zone="us-east-1c", sharing="dra",
    ),
    # §4 DRA MIG devices: the H100 is partitioned all-1g.10gb, its devices claimed through DRA.
    NodeSpec(
        "ip-10-0-6-67.ec2.internal", "p5.4xlarge", _H100, 1, 81559, 16, 256, 6.88,
        zone="us-east-1c", mig=((0, "1g.10gb", 7, 10240),), sharing="dra",
    ),
)  # fmt: skip
_MIXED, _SINGLE, _SLICED, _MPS, _HAMI, _KAI, _DRA, _DRA_MIG = (n.name for n in SHARING_NODES)


_KAI_GROUPS = {  # the GPU groups of the KAI node's GPUs 1 to 3, one reservation pod each
    1: "9d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f",
    2: "0c7b6a59-4837-4261-9504-f3e2d1c0b9a8",
    3: "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716",
}


def _labels(team: str, project: str, model: str | None, env: str = "production") -> dict[str, str]:
    labels = {TEAM_KEY: team, PROJECT_KEY: project, ENVIRONMENT_KEY: env}
    if model:
        labels[MODEL_KEY] = model
    return labels


def _always(restart_days: float, phase_h: int = 0) -> Schedule:
    return Schedule(restart_every_s=int(restart_days * DAY_S), phase_s=phase_h * HOUR_S)


def _every(period_h: int, duration_h: int, phase_h: int) -> Schedule:
    return Schedule(
        period_s=period_h * HOUR_S, duration_s=duration_h * HOUR_S, phase_s=phase_h * HOUR_S
    )


def sharing_workloads() -> tuple[WorkloadSpec, ...]:
    """The sharing fleet's cast; every pod's ``gpu_share`` is ``allocated_share``'s."""
    speech = _labels("speech", "asr-platform", None)
    kai_group = "4b9a6c1e-7d2f-4f0a-9b3e-2c8d1e5f6a70"
    cast = (
        # ---- §1 MIG mixed: pods request nvidia.com/mig-<profile>; instance 3 (1g.10gb) unused.
        WorkloadSpec(
            "asr-finetune", "speech", _MIXED, (0,), speech | {MODEL_KEY: "whisper-large-v3"},
            _every(24, 10, 1), "training", busy_base=0.82, cpu_cores=24, memory_gib=192,
            mig_instance=0, mig_profile="3g.40gb",
        ),
        WorkloadSpec(
            "asr-stream", "speech", _MIXED, (0,), speech | {MODEL_KEY: "whisper-medium"},
            _always(2), "inference", busy_base=0.2, busy_swing=0.1, cpu_cores=8,
            memory_gib=32, mig_instance=1, mig_profile="2g.20gb", serving="vllm",
            requests_per_s_peak=5.0, prompt_tokens_per_request=300,
            generation_tokens_per_request=80,
        ),
        WorkloadSpec(
            "vad-batch", "speech", _MIXED, (0,), speech | {MODEL_KEY: "silero-vad"},
            _every(12, 4, 3), "training", busy_base=0.3, cpu_cores=4, memory_gib=16,
            mig_instance=2, mig_profile="1g.10gb",
        ),
        #      ... and whole A100s on the same node, requested as nvidia.com/gpu.
        WorkloadSpec(
            "ranker-train", "search", _MIXED, (1, 2, 3, 4),
            _labels("search", "ranking", "ranker-xl", "staging"), _every(24, 16, 6), "training",
            busy_base=0.75, cpu_cores=48, memory_gib=512,
        ),
        WorkloadSpec(
            "index-build", "search", _MIXED, (5,), _labels("search", "indexing", None),
            _every(48, 30, 12), "training", busy_base=0.5, cpu_cores=12, memory_gib=96,
        ),
        # ---- §1 MIG single: one nvidia.com/gpu is one 1g.10gb instance (1/7 of the H100).
        *(
            WorkloadSpec(
                f"tool-embed-{i}", "agents", _SINGLE, (0,),
                _labels("agents", "tool-use", "bge-small-en"), schedule, "inference",
                busy_base=busy, busy_swing=0.1, cpu_cores=2, memory_gib=8, mig_instance=i,
                mig_profile="1g.10gb", requests={GPU: 1},
            )
            for i, schedule, busy in (
                (0, _always(3), 0.6),
                (1, _always(3, 12), 0.3),
                (2, _every(24, 12, 8), 0.5),
                (3, _every(6, 2, 1), 0.15),
            )
        ),
        # ---- §2 time-slicing: nvidia.com/gpu = replicas; GPU 0 full when the thumbnailer runs.
        #      The OCR servers carry no model label: their model is the one Triton reports.
        WorkloadSpec(
            "ocr-api-0", "vision-shared", _SLICED, (0,),
            _labels("vision", "doc-ocr", None), _always(2), "inference",
            busy_base=0.35, busy_swing=0.2, cpu_cores=4, memory_gib=16, requests={GPU: 1},
            vgpu=(0,), serving="triton", served_model="trocr-base-onnx", requests_per_s_peak=20.0,
        ),
        WorkloadSpec(
            "ocr-api-1", "vision-shared", _SLICED, (0,),
            _labels("vision", "doc-ocr", None), _always(2, 12), "inference",
            busy_base=0.35, busy_swing=0.2, cpu_cores=4, memory_gib=16, requests={GPU: 1},
            vgpu=(1,), serving="triton", served_model="trocr-base-onnx", requests_per_s_peak=20.0,
        ),
        WorkloadSpec(
            "thumbnailer", "vision-shared", _SLICED, (0,), _labels("vision", "media", None),
            _every(24, 8, 20), "training", busy_base=0.6, cpu_cores=8, memory_gib=32,
            requests={GPU: 2}, vgpu=(2, 3),
        ),
        WorkloadSpec(
            "clip-embed", "vision-shared", _SLICED, (1,),
            _labels("vision", "media", "clip-vit-l14"), _every(12, 6, 2), "training",
            busy_base=0.7, cpu_cores=8, memory_gib=32, requests={GPU: 2}, vgpu=(0, 1),
        ),
        WorkloadSpec(
            "captioner", "vision-shared", _SLICED, (1,), _labels("vision", "media", "blip2"),
            _every(24, 10, 8), "inference", busy_base=0.4, busy_swing=0.2, cpu_cores=4,
            memory_gib=16, requests={GPU: 1}, vgpu=(2,),
        ),
        # ---- §3 MPS: nvidia.com/gpu.shared, one replica each (half the L4).
        WorkloadSpec(
            "query-embed", "search-serving", _MPS, (0,),
            _labels("search", "query-understanding", "e5-base"), _always(3), "inference",
            busy_base=0.4, busy_swing=0.3, cpu_cores=1, memory_gib=4, requests={GPU_SHARED: 1},
            vgpu=(0,), serving="vllm", requests_per_s_peak=30.0, prompt_tokens_per_request=40,
            generation_tokens_per_request=1,
        ),
        WorkloadSpec(
            "spell-fix", "search-serving", _MPS, (0,),
            _labels("search", "query-understanding", "t5-small"), _every(24, 14, 7),
            "inference", busy_base=0.25, cpu_cores=1, memory_gib=4, requests={GPU_SHARED: 1},
            vgpu=(1,),
        ),
        # ---- §5 HAMi: cores win (0.25); memory percentage where only memory is given (0.5).
        WorkloadSpec(
            "planner-llm", "agents", _HAMI, (0,), _labels("agents", "assistant", "qwen2.5-7b"),
            _always(4), "inference", busy_base=0.5, busy_swing=0.3, cpu_cores=6,
            memory_gib=24, requests={GPU: 1, HAMI_CORES: 25, HAMI_MEMORY: 6000},
            serving="vllm", requests_per_s_peak=3.0, prompt_tokens_per_request=1200,
            generation_tokens_per_request=200,
        ),
        WorkloadSpec(
            "tool-router", "agents", _HAMI, (0,), _labels("agents", "assistant", None),
            _every(12, 8, 0), "inference", busy_base=0.3, cpu_cores=2, memory_gib=8,
            requests={GPU: 1, HAMI_MEMORY_PERCENTAGE: 50},
        ),
        WorkloadSpec(
            "retriever", "agents", _HAMI, (1,), _labels("agents", "assistant", "bge-m3"),
            _every(24, 18, 4), "inference", busy_base=0.45, cpu_cores=4, memory_gib=16,
            requests={GPU: 1, HAMI_CORES: 50, HAMI_MEMORY: 12000},
        ),
        # ---- §7 KAI: the reservation pod holds the device; fractions hold 0.5 and 0.25 of it.
        WorkloadSpec(
            f"gpu-reservation-{_KAI}", KAI_NAMESPACE, _KAI, (0,),
            {"app": "kai-resource-reservation", KAI_GPU_GROUP: kai_group}, Schedule(),
            "reservation", annotations={"karpenter.sh/do-not-disrupt": "true"}, busy_base=0.0,
            cpu_cores=0.001, memory_gib=10 / 1024, container="resource-reservation",
            requests={GPU: 1},
        ),
        WorkloadSpec(
            "agent-notebook", "agents-research", _KAI, (0,),
            _labels("agents", "agent-research", None, "staging") | {KAI_GPU_GROUP: kai_group},
            _always(5), "notebook", annotations={KAI_FRACTION: "0.5"}, busy_base=0.05,
            cpu_cores=2, memory_gib=8, requests={},
        ),
        WorkloadSpec(
            "eval-harness", "agents-research", _KAI, (0,),
            _labels("agents", "agent-research", "llama-3.1-8b", "staging")
            | {KAI_GPU_GROUP: kai_group},
            _every(24, 6, 10), "training", annotations={KAI_FRACTION: "0.25"}, busy_base=0.7,
            cpu_cores=2, memory_gib=8, requests={},
        ),
        #      Each other GPU held for KAI has its own reservation pod and GPU group.
        *(
            WorkloadSpec(
                f"gpu-reservation-{_KAI}-{gpu}", KAI_NAMESPACE, _KAI, (gpu,),
                {"app": "kai-resource-reservation", KAI_GPU_GROUP: group}, Schedule(),
                "reservation", annotations={"karpenter.sh/do-not-disrupt": "true"},
                busy_base=0.0, cpu_cores=0.001, memory_gib=10 / 1024,
                container="resource-reservation", requests={GPU: 1},
            )
            for gpu, group in _KAI_GROUPS.items()
        ),
        #      gpu-memory alone: 11517 MiB of the L40S's 46068 is a quarter of it (a memory share).
        WorkloadSpec(
            "query-rewriter", "search-serving", _KAI, (1,),
            _labels("search", "query-understanding", "qwen2.5-1.5b")
            | {KAI_GPU_GROUP: _KAI_GROUPS[1]},
            _every(12, 9, 1), "inference", annotations={KAI_MEMORY: "11517"}, busy_base=0.3,
            cpu_cores=2, memory_gib=8, requests={},
        ),
        #      gpu-fraction 0.5 of each of 2 GPUs (gpu-fraction-num-devices): 1.0 GPU in all.
        #      KAI labels such a pod once per GPU group, ``runai-gpu-group/<group>: <group>``
        #      (its binder's multi-fraction label), never with ``runai-gpu-group`` itself.
        WorkloadSpec(
            "moe-eval", "agents-research", _KAI, (2, 3),
            _labels("agents", "agent-research", "mixtral-8x7b", "staging")
            | {f"{KAI_GPU_GROUP}/{g}": g for g in (_KAI_GROUPS[2], _KAI_GROUPS[3])},
            _every(24, 12, 3),
            "training", annotations={KAI_FRACTION: "0.5", KAI_DEVICES: "2"}, busy_base=0.6,
            cpu_cores=8, memory_gib=64, requests={},
        ),
        # ---- §4 DRA: (a) a whole-GPU claim from a template; (b) one claim shared by two pods.
        WorkloadSpec(
            "reranker-large", "search-serving", _DRA, (0,),
            _labels("search", "ranking", "bge-reranker-large"), _always(3), "inference",
            busy_base=0.55, busy_swing=0.25, cpu_cores=8, memory_gib=48, requests={},
            claim_name="gpu", claim_template="single-l40s", serving="vllm",
            requests_per_s_peak=12.0, prompt_tokens_per_request=500,
            generation_tokens_per_request=1,
        ),
        *(
            WorkloadSpec(
                f"sandbox-{x}", "agents-sandbox", _DRA, (1,),
                _labels("agents", "agent-sandbox", None, "staging"), _always(days, phase),
                "notebook", busy_base=busy, cpu_cores=4, memory_gib=16, requests={},
                claim_name="gpu", resource_claim="shared-l40s",
            )
            for x, days, phase, busy in (("a", 2, 0, 0.2), ("b", 3, 5, 0.35))
        ),
        #      (c) 1g.10gb MIG devices claimed through DRA.
        WorkloadSpec(
            "kws-infer", "speech", _DRA_MIG, (0,), _labels("speech", "wake-word", "kws-conformer"),
            _always(2), "inference", busy_base=0.3, busy_swing=0.1, cpu_cores=2, memory_gib=8,
            mig_instance=0, mig_profile="1g.10gb", requests={}, claim_name="mig",
            claim_template="mig-1g10gb",
        ),
        WorkloadSpec(
            "diarize-batch", "speech", _DRA_MIG, (0,), speech | {MODEL_KEY: "pyannote-3"},
            _every(8, 3, 1), "training", busy_base=0.65, cpu_cores=4, memory_gib=16,
            mig_instance=3, mig_profile="1g.10gb", requests={}, claim_name="mig",
            claim_template="mig-1g10gb",
        ),
    )  # fmt: skip
    return with_allocated_shares(cast, SHARING_NODES)


FLEETS = ("default", "sharing", "all")
"""``default``: the sample cluster; ``sharing``: the nodes above alone; ``all``: both (what the
kind overlay serves, so its dashboards and ``finops`` show shared GPUs next to whole ones)."""


def fleet_cluster(fleet: str, seed: int = 42, *, with_opencost: bool = True) -> SampleCluster:
    """The simulated cluster of one of ``FLEETS``."""
    from finops_cli.sample.scenario import NODES, workloads
    from finops_cli.sample.simulate import SampleCluster

    if fleet not in FLEETS:
        raise ValueError(f"unknown fleet {fleet!r}: one of {', '.join(FLEETS)}")
    if fleet == "default":
        return SampleCluster(seed, with_opencost=with_opencost)
    nodes, cast = SHARING_NODES + REPLICA_NODES, sharing_workloads() + replica_workloads()
    if fleet == "all":
        nodes, cast = NODES + nodes, workloads() + cast
    return SampleCluster(seed, nodes=nodes, cast=cast, with_opencost=with_opencost)


# ---- HAMi's scheduler metrics (§5) --------------------------------------------------------------
HAMI_SCHEMES = ("hami", "legacy")
"""``hami``: the names of HAMi v2.9.0 and later; ``legacy``: those of ``--legacy-metrics``."""
_HAMI_NAMES = {  # new name: (legacy name, whether it is a container metric)
    "hami_vgpu_core_allocated_ratio": ("vGPUCoreAllocated", True),
    "hami_vgpu_memory_allocated_bytes": ("vGPUMemoryAllocated", True),
    "hami_gpu_core_limit_ratio": ("GPUDeviceCoreLimit", False),
    "hami_gpu_memory_limit_bytes": ("GPUDeviceMemoryLimit", False),
}
_HAMI_LEGACY_LABELS = {
    True: {"namespace": "podnamespace", "node": "nodename", "pod": "podname",
           "container_index": "containeridx", "device_uuid": "deviceuuid"},
    False: {"node": "nodeid", "device_uuid": "deviceuuid", "device_index": "deviceidx",
            "device_type": "devicetype"},
}  # fmt: skip
MIB = 1024 * 1024


def _hami_writer(
    scheme: str,
    names: dict[str, tuple[str, bool]],
    legacy_labels: dict[bool, dict[str, str]],
) -> Callable[[str, dict[str, str], IntArray, FloatArray], SampleSeries]:
    """A series writer for one of HAMi's naming schemes: a metric's new name and labels as
    they are, or (``legacy``) its legacy name and labels from the tables."""
    from finops_cli.sample.simulate import SampleSeries

    if scheme not in HAMI_SCHEMES:
        raise ValueError(f"unknown HAMi metrics scheme {scheme!r}: one of {HAMI_SCHEMES}")

    def series(name: str, labels: dict[str, str], ts: IntArray, values: FloatArray) -> SampleSeries:
        legacy, container = names[name]
        if scheme == "legacy":
            rename = legacy_labels[container]
            name, labels = legacy, {rename.get(k, k): v for k, v in labels.items()}
        return SampleSeries(name, labels, ts, values)

    return series


def hami_allocation(requests: dict[str, int], memory_mib: int) -> tuple[int, int]:
    """What HAMi's scheduler allocates a container on each device it holds: cores in percent
    (0 where none is asked: HAMi's default), memory in MiB (the percentage of the device's
    memory, or the whole device where neither is asked)."""
    cores = requests.get(HAMI_CORES, 0)
    if HAMI_MEMORY in requests:
        return cores, min(requests[HAMI_MEMORY], memory_mib)
    if HAMI_MEMORY_PERCENTAGE in requests:
        return cores, memory_mib * requests[HAMI_MEMORY_PERCENTAGE] // 100
    return cores, memory_mib


def hami_scheduler_series(
    cluster: SampleCluster, grid: IntArray, runs: list[PodRun], scheme: str = "hami"
) -> Iterator[SampleSeries]:
    """HAMi's scheduler metrics of the HAMi nodes (§5): per device its core and memory limits
    (100 percent, its memory in bytes) for the whole grid; per HAMi container and device the
    cores (percent) and memory (bytes) it was allocated while it runs. ``scheme`` ``legacy``
    writes the ``--legacy-metrics`` names and labels."""
    import numpy as np

    series = _hami_writer(scheme, _HAMI_NAMES, _HAMI_LEGACY_LABELS)

    for node in cluster.nodes:
        if node.sharing != "hami":
            continue
        for gpu in range(node.gpu_count):
            device = {
                "node": node.name,
                "device_uuid": cluster.gpu_uuid(node.name, gpu),
                "device_index": str(gpu),
                "device_type": f"NVIDIA-{node.gpu_product}",
            }
            ones = np.ones(len(grid))
            yield series("hami_gpu_core_limit_ratio", device, grid, ones * 100)
            yield series(
                "hami_gpu_memory_limit_bytes", device, grid, ones * node.gpu_memory_mib * MIB
            )
    for r in runs:
        w = r.workload
        node = cluster.node(w.node)
        if sharing_mode(node, w) != "hami":
            continue
        ts = grid[r.first : r.last + 1]
        ones = np.ones(len(ts))
        cores, memory = hami_allocation(w.resource_requests, node.gpu_memory_mib)
        for gpu in w.gpu_indices:
            labels = {
                "namespace": w.namespace,
                "node": w.node,
                "pod": r.pod,
                "container_index": "0",
                "device_uuid": cluster.gpu_uuid(w.node, gpu),
            }
            yield series("hami_vgpu_core_allocated_ratio", labels, ts, ones * cores)
            yield series("hami_vgpu_memory_allocated_bytes", labels, ts, ones * memory * MIB)


# ---- HAMi's vGPUmonitor (§5: the device plugin's node metrics, :9394) --------------------------
_MONITOR_NAMES = {  # new name: (legacy name, whether it is a container metric)
    "hami_container_device_utilization_ratio": ("Device_utilization_desc_of_container", True),
    "hami_vgpu_memory_used_bytes": ("vGPU_device_memory_usage_in_bytes", True),
    "hami_host_gpu_utilization_ratio": ("HostCoreUtilization", False),
}
_MONITOR_LEGACY_LABELS = {
    True: {"namespace": "podnamespace", "pod": "podname", "container": "ctrname",
           "vdevice_index": "vdeviceid", "device_uuid": "deviceuuid"},
    False: {"node": "nodeid", "device_index": "deviceidx", "device_uuid": "deviceuuid",
            "device_type": "devicetype"},
}  # fmt: skip


def hami_monitor_series(
    cluster: SampleCluster, grid: IntArray, runs: list[PodRun], scheme: str = "hami"
) -> Iterator[SampleSeries]:
    """HAMi's vGPUmonitor metrics of the HAMi nodes (§5), as the device plugin's DaemonSet
    writes them: per HAMi container and device it uses, its utilisation of the device in
    percent of the whole GPU (``hami_container_device_utilization_ratio``: percent despite the
    name, the container's processes' SM utilisation as HAMi's shared region sums it, so its
    share x its own busy, ``SampleCluster.hami_utilisation``) and its memory in use in bytes;
    per device the host's utilisation in percent (``hami_host_gpu_utilization_ratio``).
    ``scheme`` ``legacy`` writes the names and labels of HAMi before v2.9.0."""
    import numpy as np

    series = _hami_writer(scheme, _MONITOR_NAMES, _MONITOR_LEGACY_LABELS)

    holders = cluster.holders(runs)
    for node in cluster.nodes:
        if node.sharing != "hami":
            continue
        for gpu in range(node.gpu_count):
            state = cluster.unit_state(gpu, holders.get((node.name, gpu, None), []), grid)
            device = {
                "node": node.name,
                "device_index": str(gpu),
                "device_uuid": cluster.gpu_uuid(node.name, gpu),
                "device_type": f"NVIDIA-{node.gpu_product}",
            }
            util = np.floor(100.0 * state.busy + 0.5)
            yield series("hami_host_gpu_utilization_ratio", device, grid, util)
    for r in runs:
        w = r.workload
        node = cluster.node(w.node)
        if sharing_mode(node, w) != "hami":
            continue
        ts = grid[r.first : r.last + 1]
        for index, gpu in enumerate(w.gpu_indices):
            labels = {
                "namespace": w.namespace,
                "pod": r.pod,
                "container": w.container,
                "vdevice_index": str(index),
                "device_uuid": cluster.gpu_uuid(w.node, gpu),
            }
            util, memory_mib = cluster.hami_utilisation(r, gpu, grid)
            yield series("hami_container_device_utilization_ratio", labels, ts, util)
            yield series("hami_vgpu_memory_used_bytes", labels, ts, memory_mib * MIB)


# ---- time-sliced replicas that rightsize frees ---------------------------------------------------
REPLICA_NODES: tuple[NodeSpec, ...] = (
    # §2 time-slicing, replicas 4: one L40S whose three replicas embed-batch holds, 15% busy with
    # a fifth of the card's memory: one replica holds it (``rightsize``: fewer replicas).
    NodeSpec(
        "ip-10-0-6-68.ec2.internal", "g6e.xlarge", "NVIDIA L40S", 1, 46068, 4, 32, 1.861,
        sharing="time-slicing", replicas=4, virtual_gpus=True,
    ),
    # §2 two time-sliced T4 nodes of one pool (gpu-g4dn-on-demand), three of their eight replicas
    # held, a third of one card busy: one GPU holds them (``rightsize``: consolidate, freeing the
    # less-held node's GPU).
    *(
        NodeSpec(
            f"ip-10-0-6-{n}.ec2.internal", "g4dn.xlarge", "Tesla T4", 1, 15360, 4, 16, 0.526,
            sharing="time-slicing", replicas=4, virtual_gpus=True,
        )
        for n in (69, 70)
    ),
)  # fmt: skip


def replica_workloads() -> tuple[WorkloadSpec, ...]:
    """The cast of ``REPLICA_NODES``; every pod's ``gpu_share`` is ``allocated_share``'s."""
    fewer, packed, spread = (n.name for n in REPLICA_NODES)
    notebooks = _labels("research", "notebooks", None, "staging")
    cast = (
        WorkloadSpec(
            "embed-batch", "search-batch", fewer, (0,),
            _labels("search", "embeddings", "e5-large-v2"), _always(4), "inference",
            busy_base=0.15, cpu_cores=2, memory_gib=8, requests={GPU: 3}, vgpu=(0, 1, 2),
            memory_fraction=0.2,
        ),
        *(
            WorkloadSpec(
                f"notebook-{x}", "research", node, (0,), notebooks, _always(days, phase),
                "notebook", busy_base=0.4, cpu_cores=1, memory_gib=4, requests={GPU: 1},
                vgpu=(replica,),
            )
            for x, node, replica, days, phase in (
                ("a", packed, 0, 3, 0), ("b", packed, 1, 5, 7), ("c", spread, 0, 4, 3),
            )
        ),
    )  # fmt: skip
    return with_allocated_shares(cast, REPLICA_NODES)

"""The sample cluster's fixed cast: nodes, teams and workloads, and when each runs.

Everything here is defined in absolute time (seconds since the epoch) so that any window, queried
today or next year, sees the same cluster; the seed only moves phases and noise. Every change of
state (a pod starting or stopping, a spot price moving) happens on a 15-minute boundary, which is
what lets the ground truth be an exact sum and a sampled query match it to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUANTUM_S = 900  # every state change happens on a multiple of this
HOUR_S = 3600
DAY_S = 86400

TEAM_KEY = "ai-finops.io/team"
PROJECT_KEY = "ai-finops.io/project"
MODEL_KEY = "ai-finops.io/model"
ENVIRONMENT_KEY = "ai-finops.io/environment"
COST_CENTER_KEY = "ai-finops.io/cost-center"
INTERRUPTIBLE_KEY = "ai-finops.io/interruptible"


@dataclass(frozen=True)
class NodeSpec:
    """One GPU node; ``hourly_price`` is the whole instance, split by OpenCost into GPU/CPU/RAM."""

    name: str
    instance_type: str
    gpu_product: str  # what dcgm-exporter writes as modelName
    gpu_count: int
    gpu_memory_mib: int
    vcpu: int
    ram_gib: int
    hourly_price: float
    capacity_type: str = "on-demand"  # or "spot"
    region: str = "us-east-1"
    zone: str = "us-east-1a"
    profiling: bool = True  # False: a pre-Volta GPU, no DCGM_FI_PROF_* metrics
    # (GPU index, MIG profile, instances, MiB per instance): the GPU is split into slices. A GPU
    # listed more than once holds mixed profiles; its instances are numbered in listing order.
    mig: tuple[tuple[int, str, int, int], ...] = ()
    # GPU sharing (see ``sample/sharing.py``): GFD's ``nvidia.com/mig.strategy`` ("mixed",
    # "single"; "" = unlabelled), and how whole GPUs are shared: "time-slicing" or "mps" (device
    # plugin replicas), "hami", "dra" (the NVIDIA DRA driver), "" (whole GPUs, KAI fractions).
    mig_strategy: str = ""
    sharing: str = ""
    replicas: int = 1  # time-slicing/MPS replicas per GPU; HAMi's device-split-count
    rename_by_default: bool = False  # the replicas are advertised as nvidia.com/gpu.shared
    virtual_gpus: bool = False  # dcgm-exporter runs with --kubernetes-virtual-gpus here
    # ... and writes per-pod process series (GPU_UTIL, FB_USED with pod_uid; dcgm-exporter #594)
    process_metrics: bool = False
    # A GKE node: GCP's machine type as instance type, the attached GPU's accelerator name
    # (``cloud.google.com/gke-accelerator``, e.g. nvidia-tesla-t4) and GKE's node labels.
    accelerator: str = ""

    @property
    def is_spot(self) -> bool:
        return self.capacity_type == "spot"

    @property
    def pool(self) -> str:
        """The Karpenter NodePool the node belongs to (``label_karpenter_sh_nodepool``)."""
        return f"gpu-{self.instance_type.split('.')[0]}-{self.capacity_type}"

    def mig_layout(self, gpu: int) -> tuple[str, int, int] | None:
        for index, profile, count, memory in self.mig:
            if index == gpu:
                return profile, count, memory
        return None

    def mig_instances(self, gpu: int) -> tuple[tuple[int, str, int, int], ...]:
        """(GPU instance id, profile, MiB, first memory slice) of each MIG instance of ``gpu``."""
        out: list[tuple[int, str, int, int]] = []
        start = 0
        for index, profile, count, memory in self.mig:
            if index != gpu:
                continue
            for _ in range(count):
                out.append((len(out), profile, memory, start))
                start += max(1, round(memory * 8 / self.gpu_memory_mib))
        return tuple(out)


A30_MIG_PROFILES = frozenset({"1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"})


def mig_share(profile: str) -> float:
    """A MIG profile's share of its GPU: ``Ng.*`` holds N of 7 compute slices (4 on an A30)."""
    return int(profile.split("g.", 1)[0]) / (4 if profile in A30_MIG_PROFILES else 7)


@dataclass(frozen=True)
class Schedule:
    """When a workload's pods exist.

    ``period_s`` None means always on. Otherwise a run starts at every
    ``phase_s + k * period_s`` and lasts ``duration_s``. ``only_days`` restricts runs to days
    whose index (days since the epoch) modulo ``days_modulo`` is in the set:
    how the injected anomaly recurs rarely but predictably.
    ``restart_every_s`` rotates the pod name (a rollout) for always-on workloads, which also resets
    the pod's counters.
    """

    period_s: int | None = None
    duration_s: int = 0
    phase_s: int = 0
    restart_every_s: int | None = None
    days_modulo: int | None = None
    only_days: frozenset[int] = frozenset()


@dataclass(frozen=True)
class WorkloadSpec:
    """A deployment or job whose pods hold GPUs on one node."""

    name: str
    namespace: str
    node: str
    gpu_indices: tuple[int, ...]
    labels: dict[str, str]
    schedule: Schedule
    kind: str  # "inference" | "training" | "notebook"
    annotations: dict[str, str] = field(default_factory=dict)
    busy_base: float = 0.5  # mean engine-active share while running
    busy_swing: float = 0.0  # diurnal amplitude (inference follows the day)
    cpu_cores: float = 4.0
    memory_gib: float = 32.0
    container: str = "main"
    serving: str | None = None  # "vllm", "triton" or "tgi": which inference counters it exports
    served_model: str | None = None  # the name the server reports (default: the model label)
    memory_fraction: float | None = None  # GPU memory the model pins (else it follows the load)
    requests_per_s_peak: float = 0.0
    prompt_tokens_per_request: float = 0.0
    generation_tokens_per_request: float = 0.0
    mig_instance: int | None = None  # holds this MIG slice of its one GPU, not the whole GPU
    # ---- GPU sharing (see sample/sharing.py) ----
    mig_profile: str = ""  # the profile of ``mig_instance`` ("": the node's layout says)
    gpu_share: float = 1.0  # share of each GPU in ``gpu_indices`` allocated (not MIG)
    # Extended resources the container requests, Kubernetes names as the API server holds them
    # (None: ``nvidia.com/gpu`` x GPUs, or one ``nvidia.com/mig-<profile>`` for a MIG slice).
    requests: dict[str, int] | None = None
    vgpu: tuple[int, ...] = ()  # time-slicing/MPS replicas held: device IDs ``<UUID>::<i>``
    claim_name: str = ""  # DRA: ``spec.resourceClaims[].name``; "" = no claim
    claim_template: str = ""  # DRA: the claim is generated per pod from this template, or
    resource_claim: str = ""  # DRA: ... is this existing ResourceClaim (pods may share it)

    @property
    def resource_requests(self) -> dict[str, int]:
        """Extended resources requested, as ``kube_pod_container_resource_requests`` lists them."""
        if self.requests is not None:
            return dict(self.requests)
        if self.mig_instance is not None:
            return {f"nvidia.com/mig-{self.mig_profile}": 1}
        return {"nvidia.com/gpu": len(self.gpu_indices)} if self.gpu_indices else {}

    @property
    def gpus(self) -> int:
        """``nvidia.com/gpu`` requested, as kube-state-metrics (and OpenCost) report it: whole GPUs,
        time-slicing replicas, HAMi vGPUs, MIG instances under the single strategy; 0 for a MIG
        slice under the mixed strategy, ``gpu.shared``, DRA claims and KAI fractions."""
        return self.resource_requests.get("nvidia.com/gpu", 0)

    @property
    def share(self) -> float:
        """Share of each GPU unit it holds that the pod was allocated, as a fraction of the
        physical GPU: a MIG slice's N/7, else ``gpu_share`` (0 for KAI's reservation pod)."""
        return mig_share(self.mig_profile) if self.mig_instance is not None else self.gpu_share

    @property
    def held_gpus(self) -> float:
        """Physical GPU-equivalents allocated to the pod: what it pays for, per hour, at its
        node's per-GPU price."""
        return len(self.gpu_indices) * self.share


def _ns(team: str, project: str, model: str | None, env: str) -> dict[str, str]:
    labels = {TEAM_KEY: team, PROJECT_KEY: project, ENVIRONMENT_KEY: env}
    if model:
        labels[MODEL_KEY] = model
    return labels


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "ip-10-0-1-10.ec2.internal",
        "p5.48xlarge",
        "NVIDIA H100 80GB HBM3",
        8,
        81559,
        192,
        2048,
        55.04,
    ),
    NodeSpec(
        "ip-10-0-1-11.ec2.internal",
        "p5.48xlarge",
        "NVIDIA H100 80GB HBM3",
        8,
        81559,
        192,
        2048,
        55.04,
        zone="us-east-1b",
    ),
    NodeSpec("ip-10-0-2-20.ec2.internal", "g5.12xlarge", "NVIDIA A10G", 4, 23028, 48, 192, 5.672),
    NodeSpec("ip-10-0-2-21.ec2.internal", "g5.12xlarge", "NVIDIA A10G", 4, 23028, 48, 192, 5.672),
    NodeSpec(
        "ip-10-0-2-22.ec2.internal",
        "g5.12xlarge",
        "NVIDIA A10G",
        4,
        23028,
        48,
        192,
        2.30,
        capacity_type="spot",
        zone="us-east-1c",
    ),
    NodeSpec("ip-10-0-3-30.ec2.internal", "g6.xlarge", "NVIDIA L4", 1, 23034, 4, 16, 0.8048),
    NodeSpec("ip-10-0-3-31.ec2.internal", "g6.xlarge", "NVIDIA L4", 1, 23034, 4, 16, 0.8048),
    NodeSpec(
        "ip-10-0-3-32.ec2.internal",
        "g6.xlarge",
        "NVIDIA L4",
        1,
        23034,
        4,
        16,
        0.41,
        capacity_type="spot",
        zone="us-east-1c",
    ),
)

# Two single-GPU g5 nodes whose workloads are the planted right-sizing cases.
NODES = (
    *NODES,
    NodeSpec("ip-10-0-4-40.ec2.internal", "g5.xlarge", "NVIDIA A10G", 1, 23028, 4, 16, 1.006),
    NodeSpec("ip-10-0-4-41.ec2.internal", "g5.xlarge", "NVIDIA A10G", 1, 23028, 4, 16, 1.006),
)

_P5A, _P5B, _G5A, _G5B, _G5S, _G6A, _G6B, _G6S, _G5X1, _G5X2 = (n.name for n in NODES)


def workloads() -> tuple[WorkloadSpec, ...]:
    """The cast. Seeds shift phases (see ``simulate``); the cast itself is fixed."""
    return (
        # research: a long pre-training job on a whole p5, 20 h on, 4 h off (checkpoint + requeue).
        WorkloadSpec(
            "llm-pretrain",
            "research",
            _P5A,
            tuple(range(8)),
            _ns("research", "foundation-llm", None, "production")
            | {"app.kubernetes.io/name": "llm-pretrain"},
            Schedule(period_s=DAY_S, duration_s=20 * HOUR_S, phase_s=2 * HOUR_S),
            "training",
            annotations={COST_CENTER_KEY: "RND-100"},
            busy_base=0.86,
            cpu_cores=96,
            memory_gib=1024,
        ),
        # research: evaluation runs, half a p5, twice a day. Labelled with its team but without
        # the cost-center annotation: by cost center it is unallocated.
        WorkloadSpec(
            "llm-eval",
            "research",
            _P5B,
            (0, 1, 2, 3),
            _ns("research", "foundation-llm", None, "staging"),
            Schedule(period_s=12 * HOUR_S, duration_s=3 * HOUR_S, phase_s=5 * HOUR_S),
            "training",
            busy_base=0.62,
            cpu_cores=48,
            memory_gib=512,
        ),
        # nlp: chat model served by vLLM, one GPU per replica, diurnal load, weekly rollout.
        WorkloadSpec(
            "chat-llama-0",
            "nlp-serving",
            _G5A,
            (0,),
            _ns("nlp", "chat-assistant", "llama-3-8b-instruct", "production"),
            Schedule(restart_every_s=3 * DAY_S + 6 * HOUR_S),
            "inference",
            annotations={COST_CENTER_KEY: "NLP-210"},
            busy_base=0.45,
            busy_swing=0.35,
            cpu_cores=8,
            memory_gib=48,
            serving="vllm",
            requests_per_s_peak=9.0,
            prompt_tokens_per_request=620,
            generation_tokens_per_request=240,
        ),
        WorkloadSpec(
            "chat-llama-1",
            "nlp-serving",
            _G5A,
            (1,),
            _ns("nlp", "chat-assistant", "llama-3-8b-instruct", "production"),
            Schedule(restart_every_s=3 * DAY_S + 6 * HOUR_S, phase_s=HOUR_S),
            "inference",
            annotations={COST_CENTER_KEY: "NLP-210"},
            busy_base=0.45,
            busy_swing=0.35,
            cpu_cores=8,
            memory_gib=48,
            serving="vllm",
            requests_per_s_peak=9.0,
            prompt_tokens_per_request=620,
            generation_tokens_per_request=240,
        ),
        # nlp: fine-tuning on the spot g5, nights only; charged to nlp's training cost center,
        # not its serving one (NLP-210), so one team spans two cost centers.
        WorkloadSpec(
            "chat-finetune",
            "nlp-training",
            _G5S,
            (0, 1, 2, 3),
            _ns("nlp", "chat-assistant", None, "staging"),
            Schedule(period_s=DAY_S, duration_s=8 * HOUR_S, phase_s=22 * HOUR_S),
            "training",
            annotations={COST_CENTER_KEY: "NLP-220"},
            busy_base=0.78,
            cpu_cores=40,
            memory_gib=160,
        ),
        # ml-platform: embeddings service on L4s (one over-provisioned, mostly idle).
        WorkloadSpec(
            "embeddings-0",
            "ml-serving",
            _G6A,
            (0,),
            _ns("ml-platform", "recommendation-engine", "product-embeddings", "production"),
            Schedule(restart_every_s=2 * DAY_S),
            "inference",
            annotations={COST_CENTER_KEY: "ML-001"},
            busy_base=0.30,
            busy_swing=0.25,
            cpu_cores=3,
            memory_gib=12,
            serving="vllm",
            requests_per_s_peak=40.0,
            prompt_tokens_per_request=180,
            generation_tokens_per_request=1,
        ),
        WorkloadSpec(
            "embeddings-1",
            "ml-serving",
            _G6S,
            (0,),
            _ns("ml-platform", "recommendation-engine", "product-embeddings", "production"),
            Schedule(restart_every_s=2 * DAY_S, phase_s=7 * HOUR_S),
            "inference",
            annotations={COST_CENTER_KEY: "ML-001"},
            busy_base=0.04,
            busy_swing=0.02,
            cpu_cores=3,
            memory_gib=12,
            serving="vllm",
            requests_per_s_peak=1.5,
            prompt_tokens_per_request=180,
            generation_tokens_per_request=1,
        ),
        # ml-platform: feature pipeline batch on the second g5, business hours.
        WorkloadSpec(
            "feature-batch",
            "ml-batch",
            _G5B,
            (0, 1),
            _ns("ml-platform", "feature-store", None, "production"),
            Schedule(period_s=DAY_S, duration_s=10 * HOUR_S, phase_s=8 * HOUR_S),
            "training",
            annotations={COST_CENTER_KEY: "ML-001"},
            busy_base=0.55,
            cpu_cores=16,
            memory_gib=64,
        ),
        # vision: a Triton server on a free A10G, labelled with team but not model: its GPU cost
        # reaches the model only through Triton's own ``model`` label.
        WorkloadSpec(
            "triton-resnet",
            "vision-serving",
            _G5A,
            (2,),
            {TEAM_KEY: "vision", PROJECT_KEY: "defect-detection", ENVIRONMENT_KEY: "production"},
            Schedule(restart_every_s=4 * DAY_S, phase_s=3 * HOUR_S),
            "inference",
            annotations={COST_CENTER_KEY: "VIS-300"},
            busy_base=0.35,
            busy_swing=0.2,
            cpu_cores=6,
            memory_gib=24,
            serving="triton",
            served_model="resnet50-onnx",
            requests_per_s_peak=60.0,
        ),
        # nlp: Hugging Face TGI (no model label on its metrics), restarted every 36 h.
        WorkloadSpec(
            "tgi-mistral",
            "nlp-serving",
            _G5A,
            (3,),
            _ns("nlp", "chat-assistant", "mistral-7b-instruct", "production"),
            Schedule(restart_every_s=36 * HOUR_S, phase_s=2 * HOUR_S),
            "inference",
            annotations={COST_CENTER_KEY: "NLP-210"},
            busy_base=0.5,
            busy_swing=0.3,
            cpu_cores=8,
            memory_gib=48,
            serving="tgi",
            requests_per_s_peak=4.0,
            prompt_tokens_per_request=900,
            generation_tokens_per_request=310,
        ),
        # ml-platform: a small model served from CPU only: traffic without GPU cost ("unpriced").
        WorkloadSpec(
            "qwen-cpu",
            "ml-serving",
            _G6A,
            (),
            _ns("ml-platform", "recommendation-engine", "qwen2-0.5b", "staging"),
            Schedule(),
            "inference",
            annotations={COST_CENTER_KEY: "ML-001"},
            cpu_cores=4,
            memory_gib=8,
            serving="vllm",
            requests_per_s_peak=2.0,
            prompt_tokens_per_request=120,
            generation_tokens_per_request=60,
        ),
        # vision: defect detection training, every 6 h for 2 h on the second g5.
        WorkloadSpec(
            "defect-train",
            "vision",
            _G5B,
            (2, 3),
            _ns("vision", "defect-detection", "defect-yolo", "staging"),
            Schedule(period_s=6 * HOUR_S, duration_s=2 * HOUR_S, phase_s=HOUR_S),
            "training",
            annotations={COST_CENTER_KEY: "VIS-300"},
            busy_base=0.7,
            cpu_cores=16,
            memory_gib=64,
        ),
        # vision: the injected cost anomaly, a runaway hyper-parameter sweep that takes the free
        # half of the second p5 for 14 h on one day in eleven.
        WorkloadSpec(
            "defect-sweep",
            "vision",
            _P5B,
            (4, 5, 6, 7),
            _ns("vision", "defect-detection", "defect-yolo", "staging"),
            Schedule(
                period_s=DAY_S,
                duration_s=14 * HOUR_S,
                phase_s=6 * HOUR_S,
                days_modulo=11,
                only_days=frozenset({5}),
            ),
            "training",
            annotations={COST_CENTER_KEY: "VIS-300"},
            busy_base=0.93,
            cpu_cores=96,
            memory_gib=1024,
        ),
        # ml-platform: a small summariser on a whole A10G, light load and 40% of its memory:
        # the planted "downsize" case (a 16 GB T4 holds it with room to spare).
        WorkloadSpec(
            "summarizer",
            "ml-serving",
            _G5X1,
            (0,),
            _ns("ml-platform", "doc-intel", "summarizer-small", "production"),
            Schedule(restart_every_s=5 * DAY_S),
            "inference",
            annotations={COST_CENTER_KEY: "ML-001"},
            busy_base=0.12,
            busy_swing=0.05,
            cpu_cores=3,
            memory_gib=12,
            serving="vllm",
            memory_fraction=0.40,
            requests_per_s_peak=3.0,
            prompt_tokens_per_request=1500,
            generation_tokens_per_request=120,
        ),
        # nlp: a 13B model squeezed onto an A10G, memory at 97%: the planted "upsize" case.
        WorkloadSpec(
            "llama-13b",
            "nlp-serving",
            _G5X2,
            (0,),
            _ns("nlp", "chat-assistant", "llama-2-13b-chat", "production"),
            Schedule(restart_every_s=6 * DAY_S),
            "inference",
            annotations={COST_CENTER_KEY: "NLP-210"},
            busy_base=0.55,
            busy_swing=0.2,
            cpu_cores=3,
            memory_gib=14,
            serving="vllm",
            memory_fraction=0.97,
            requests_per_s_peak=2.0,
            prompt_tokens_per_request=700,
            generation_tokens_per_request=260,
        ),
        # no team label: a notebook someone left running, holding a GPU and doing nothing.
        WorkloadSpec(
            "jupyter-alice",
            "sandbox",
            _G6B,
            (0,),
            {"app": "jupyter"},
            Schedule(),
            "notebook",
            busy_base=0.005,
            cpu_cores=2,
            memory_gib=8,
        ),
    )


# ---- fleet variants: MIG slices and a pre-Volta GPU (for the per-GPU views' tests) ------------
VARIANT_NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "ip-10-0-5-50.ec2.internal", "p4d.24xlarge", "NVIDIA A100-SXM4-40GB", 8, 40960, 96, 1152,
        21.957642, mig=((0, "1g.5gb", 7, 4864),),
    ),
    NodeSpec(
        "ip-10-0-5-51.ec2.internal", "g3.4xlarge", "Tesla M60", 1, 8129, 16, 122, 1.14,
        profiling=False,
    ),
)  # fmt: skip


def variant_workloads() -> tuple[WorkloadSpec, ...]:
    """Two inference pods on MIG slices of one A100, and a job on a pre-Volta M60."""
    a100, m60 = (n.name for n in VARIANT_NODES)
    slices = tuple(
        WorkloadSpec(
            f"ocr-slice-{i}", "vision-serving", a100, (0,),
            _ns("vision", "doc-ocr", "trocr-small", "production"),
            Schedule(restart_every_s=3 * DAY_S, phase_s=i * HOUR_S), "inference",
            busy_base=0.5 - 0.3 * i, busy_swing=0.1, cpu_cores=2, memory_gib=8, mig_instance=i,
            mig_profile="1g.5gb",
        )
        for i in (0, 1)
    )  # fmt: skip
    legacy = WorkloadSpec(
        "legacy-render", "vision", m60, (0,),
        _ns("vision", "render-farm", None, "production"),
        Schedule(period_s=DAY_S, duration_s=16 * HOUR_S, phase_s=4 * HOUR_S), "training",
        busy_base=0.6, cpu_cores=8, memory_gib=32,
    )  # fmt: skip
    return (*slices, legacy)

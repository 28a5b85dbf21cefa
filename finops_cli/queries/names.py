"""The metric and label names finops reads, and the group keys it offers.

They live apart from the query builders because the sources, the sample cluster, the deploy
generators and the tests name them too, and none of those needs a query built to do so.
"""

from __future__ import annotations

POD_LABEL_KEYS = ("team", "project", "model", "environment")
# Group keys read from pod annotations (``kube_pod_annotations``), not labels.
POD_ANNOTATION_KEYS = ("cost_center",)
POD_ATTRIBUTE_KEYS = (*POD_LABEL_KEYS, *POD_ANNOTATION_KEYS)
GROUP_KEYS = (*POD_ATTRIBUTE_KEYS, "namespace", "node", "gpu_model", "cluster")
DEFAULT_COST_CENTER_KEY = "ai-finops.io/cost-center"  # settings: labels.cost_center

GPU_ALLOCATION = "container_gpu_allocation"
GPU_PRICE = "node_gpu_hourly_cost"
GPU_CAPACITY = "node_gpu_count"
GPU_REQUESTS = "kube_pod_container_resource_requests"
GPU_ALLOCATABLE = "kube_node_status_allocatable"
INSTANCE_TYPE_LABEL = "label_node_kubernetes_io_instance_type"
BETA_INSTANCE_TYPE_LABEL = "label_beta_kubernetes_io_instance_type"  # clusters before 1.17
ACCELERATOR_LABEL = "label_cloud_google_com_gke_accelerator"  # GKE: the attached GPU type
REGION_LABEL = "label_topology_kubernetes_io_region"
CAPACITY_LABELS = (
    "label_karpenter_sh_capacity_type",
    "label_eks_amazonaws_com_capacity_type",
    "label_cloud_google_com_gke_spot",  # "true" on GKE spot nodes
    "label_kubernetes_azure_com_scalesetpriority",  # "spot" on AKS spot pools
)
POOL_LABELS = (
    "label_karpenter_sh_nodepool",
    "label_eks_amazonaws_com_nodegroup",
    "label_cloud_google_com_gke_nodepool",
    "label_kubernetes_azure_com_agentpool",
)
"""The node pool or instance group a node belongs to (Karpenter, EKS, GKE, AKS), first found."""
CPU_ALLOCATION = "container_cpu_allocation"
RAM_ALLOCATION = "container_memory_allocation_bytes"
CPU_PRICE = "node_cpu_hourly_cost"
RAM_PRICE = "node_ram_hourly_cost"
POD_LABELS = "kube_pod_labels"
POD_ANNOTATIONS = "kube_pod_annotations"
BUSY_PROFILING = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
BUSY_UTIL = "DCGM_FI_DEV_GPU_UTIL"
GPU_TEMPERATURE = "DCGM_FI_DEV_GPU_TEMP"
POWER_USAGE = "DCGM_FI_DEV_POWER_USAGE"  # W, a gauge
ENERGY_COUNTER = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ since the driver loaded, a counter
ENERGY_METRICS = (ENERGY_COUNTER, POWER_USAGE)  # preferred first, GPU by GPU

SAMPLE_COUNT_RANGE_S = 6 * 3600
RULES_INFO = "finops_rules_info"  # the recorded ledger's version marker (queries.recorded)

# Metric names whose presence in a window decides which queries can run.
PROBED_METRICS = (
    GPU_ALLOCATION,
    GPU_PRICE,
    GPU_CAPACITY,
    CPU_ALLOCATION,
    CPU_PRICE,
    RAM_PRICE,
    POD_LABELS,
    POD_ANNOTATIONS,
    BUSY_PROFILING,
    BUSY_UTIL,
    GPU_TEMPERATURE,
    POWER_USAGE,
    ENERGY_COUNTER,
    "DCGM_FI_DEV_FB_USED",
    GPU_REQUESTS,
    GPU_ALLOCATABLE,
    "kube_node_labels",
    RULES_INFO,
    "hami_container_device_utilization_ratio",  # HAMi's vGPUmonitor (queries.hami_monitor)
    "Device_utilization_desc_of_container",  # the same before HAMi v2.9.0
)

# ---- per-GPU statistics ---------------------------------------------------------------------
GPU_PRESENCE = "DCGM_FI_DEV_FB_USED"  # reported for whole GPUs and MIG instances alike
GPU_KEY = ("node", "gpu", "GPU_I_ID")  # what tells one GPU (or MIG instance) from another
GPU_IDENTITY = (*GPU_KEY, "UUID", "GPU_I_PROFILE", "modelName")  # and what describes it
WORKLOAD_LABELS = ("workload_kind", "workload")
NODE_TOTAL_PRICE = "node_total_hourly_cost"  # OpenCost: the whole instance, GPUs, CPU and RAM

# ---- the size every query stays under ------------------------------------------------------
MAX_QUERY_BYTES = 8192
"""Every query finops sends is at most this long, URL-encoded as sent (``query=...``), whatever
the number of namespaces, pods or GPUs: half VictoriaMetrics' 16 KB limit, and under the 8 KB
request-line limit common to proxies. Nothing lists names to get there: shards are ranges or
character classes (``shards``), tables are per instance type (docs/performance.md)."""


def query_bytes(query: str) -> int:
    """The size of ``query`` as sent: the ``query=`` form field, URL-encoded."""
    from urllib.parse import urlencode

    return len(urlencode([("query", query)]))

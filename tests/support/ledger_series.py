"""The series the cost queries, ``gpus`` and ``rightsize`` read, for fixtures that backfill only
those (the rest only slows promtool's rule backfill): shared by the recorded-ledger tests and
their benchmark."""

from __future__ import annotations

LEDGER_METRICS = frozenset(
    {
        "container_gpu_allocation",
        "container_cpu_allocation",
        "container_memory_allocation_bytes",
        "node_gpu_hourly_cost",
        "node_gpu_count",
        "node_cpu_hourly_cost",
        "node_ram_hourly_cost",
        "kube_pod_labels",
        "kube_pod_annotations",
        "kube_node_labels",
        "kube_pod_status_phase",
        "kube_pod_info",  # the node of a --no-hostname dcgm-exporter (its pod's IP)
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        # gpus and rightsize (their recorded statistics)
        "kube_pod_owner",
        "DCGM_FI_DEV_FB_FREE",
    }
)

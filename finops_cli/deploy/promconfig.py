"""The Prometheus configuration and kube-state-metrics allowlists the stack deploys.

Generated (``finops deploy generate``) so that the labels the queries read and the labels the
exporters are told to export can never drift apart: kube-state-metrics' allowlist is built from
the same pod-label keys as the rules, and every job that carries a workload's ``namespace``/``pod``
(dcgm-exporter, OpenCost, kube-state-metrics, HAMi's scheduler) is scraped with
``honor_labels: true`` so those labels are not renamed to ``exported_*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finops_cli.deploy.rules import (
    COST_CENTER_ANNOTATION,
    DEFAULT_POD_LABELS,
    SCRAPE_INTERVAL_S,
)

MONITORING_NAMESPACE = "finops-monitoring"
GPU_NAMESPACE = "finops-gpu"
GPU_EXPORTER_SERVICE = f"dcgm-exporter.{GPU_NAMESPACE}.svc"  # headless: one A record per pod
GPU_EXPORTER_PORT = 9400
# HAMi's scheduler (reference/gpu-sharing.md §5): its pods carry the chart's component label; its
# metrics (``--metrics-bind-address``, default :9395) name each HAMi pod's share of each GPU,
# which dcgm-exporter cannot.
HAMI_SCHEDULER_COMPONENT = "hami-scheduler"
HAMI_SCHEDULER_PORT = 9395
# HAMi's vGPUmonitor (§5) runs in the device plugin's DaemonSet pods, one per HAMi node, on
# :9394: each HAMi container's utilisation of each device (its own busy, queries.hami_monitor).
HAMI_MONITOR_COMPONENT = "hami-device-plugin"
HAMI_MONITOR_PORT = 9394
RULES_DIR = "/etc/prometheus/rules"
PROMETHEUS_CONFIG = "prometheus.yml"
REPLICA_LABEL = "prometheus_replica"

# Node labels the cost model reads through kube_node_labels (instance type, region, capacity).
NODE_LABELS = (
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "karpenter.sh/capacity-type",
    "eks.amazonaws.com/capacityType",  # EKS's own key (kube-state-metrics: capacity_type)
    "cloud.google.com/gke-spot",
    "kubernetes.azure.com/scalesetpriority",
    "nvidia.com/gpu.product",
    "nvidia.com/gpu.count",
    "karpenter.sh/nodepool",  # node pools: rightsize names the pool of idle capacity
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    # Shared GPUs (GPU feature discovery / the device plugin): how many replicas each physical GPU
    # is split into (time-slicing, MPS) and by which strategy, and MIG's layout, so that a replica
    # or a MIG instance is priced as its share of the physical GPU (gpu.count above).
    "nvidia.com/gpu.replicas",
    "nvidia.com/gpu.sharing-strategy",
    "nvidia.com/mig.strategy",
    "nvidia.com/gpu.slices.gi",
    "nvidia.com/mps.capable",
)

# Pod annotations finops reads through kube_pod_annotations: the cost center, and the fractional
# GPU requests of KAI Scheduler / Run:ai (`gpu-fraction` of one GPU's memory, on
# `gpu-fraction-num-devices` GPUs, or `gpu-memory` MiB), whose pods request no nvidia.com/gpu.
KAI_FRACTION_ANNOTATIONS = ("gpu-fraction", "gpu-fraction-num-devices", "gpu-memory")
POD_ANNOTATIONS = (COST_CENTER_ANNOTATION, *KAI_FRACTION_ANNOTATIONS)


def ksm_label_allowlist(pod_labels: Mapping[str, str] | None = None) -> str:
    """``--metric-labels-allowlist``: the pod labels attribution needs, the node labels pricing
    needs."""
    # runai-gpu-group ties KAI's fractional pods to the reservation pod that holds their GPU.
    keys = {
        *(pod_labels or DEFAULT_POD_LABELS).values(),
        "ai-finops.io/interruptible",
        "runai-gpu-group",
    }
    pods = ",".join(sorted(keys))
    return f"pods=[{pods}],nodes=[{','.join(NODE_LABELS)}]"


def ksm_annotation_allowlist() -> str:
    """``--metric-annotations-allowlist``: the cost center and the KAI/Run:ai GPU fractions."""
    return f"pods=[{','.join(POD_ANNOTATIONS)}]"


def _static(job: str, target: str, *, honor_labels: bool, path: str = "/metrics") -> dict[str, Any]:
    out: dict[str, Any] = {"job_name": job}
    if honor_labels:
        out["honor_labels"] = True
    if path != "/metrics":
        out["metrics_path"] = path
    out["static_configs"] = [{"targets": [target]}]
    return out


def prometheus_config(scrape_interval_s: int = SCRAPE_INTERVAL_S) -> dict[str, Any]:
    interval = f"{scrape_interval_s}s"
    gpu_exporters = {
        "job_name": "dcgm-exporter",
        # dcgm-exporter's namespace/pod/container name the workload holding the GPU: keep them.
        "honor_labels": True,
        # Every pod behind the headless Service (one per GPU node; the mock exporter on kind).
        "dns_sd_configs": [
            {"names": [GPU_EXPORTER_SERVICE], "type": "A", "port": GPU_EXPORTER_PORT}
        ],
    }
    inference = {
        "job_name": "inference-pods",
        # Needs Kubernetes service discovery (Debian's own Prometheus build lacks it; the image
        # deployed has it).
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                "regex": "true",
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "Pending|Succeeded|Failed",
                "action": "drop",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
            },
            {
                "source_labels": [
                    "__address__",
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                ],
                "regex": r"([^:]+)(?::\d+)?;(\d+)",
                "replacement": "$1:$2",
                "target_label": "__address__",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
        ],
    }
    # Their series name the HAMi pod (namespace, pod, container) holding each share: keep them.
    # Nothing is scraped where HAMi is not installed (no pod carries the label).
    hami_scheduler = _hami_job("hami-scheduler", HAMI_SCHEDULER_COMPONENT, HAMI_SCHEDULER_PORT)
    hami_monitor = _hami_job("hami-vgpu-monitor", HAMI_MONITOR_COMPONENT, HAMI_MONITOR_PORT)
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": "30s",
            "evaluation_interval": interval,
            # Expanded from the pod's environment (Prometheus 3; 2.x with
            # --enable-feature=expand-external-labels). Thanos and remote write carry them.
            "external_labels": {"cluster": "${CLUSTER_NAME}", REPLICA_LABEL: "${POD_NAME}"},
        },
        "rule_files": [f"{RULES_DIR}/*.yaml"],
        "alerting": {
            # HA replicas must send identical alerts for Alertmanager to deduplicate them.
            "alert_relabel_configs": [{"action": "labeldrop", "regex": REPLICA_LABEL}],
            "alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}],
        },
        "scrape_configs": [
            _static("prometheus", "localhost:9090", honor_labels=False),
            _static("alertmanager", "alertmanager:9093", honor_labels=False),
            _static("kube-state-metrics", "kube-state-metrics:8080", honor_labels=True),
            _static("opencost", "opencost:9003", honor_labels=True),
            gpu_exporters,
            inference,
            hami_scheduler,
            hami_monitor,
        ],
    }


def _hami_job(name: str, component: str, port: int) -> dict[str, Any]:
    """A scrape job of one HAMi component: its running pods (the chart's component label) on
    ``port``, with ``honor_labels`` so that the HAMi pod's ``namespace`` and ``pod`` its series
    name are not moved to ``exported_*`` by the target's own."""
    return {
        "job_name": name,
        "honor_labels": True,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
                "regex": component,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "Running",
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_ip"],
                "regex": "(.+)",
                "replacement": f"$1:{port}",
                "target_label": "__address__",
            },
        ],
    }

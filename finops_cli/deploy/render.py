"""Render a target's manifests: the overlay plus this deployment's settings, through kustomize.

A throw-away kustomization (settings only, never a secret) takes the chosen overlay as its base,
adds the multi-cluster, DRA and virtual-GPU components when asked, merges ``--set`` values into
generated ConfigMaps, and, for kind, generates the ConfigMap holding the mock GPU exporter's code
from the installed package. ``kubectl kustomize`` renders it, so ConfigMap hashes roll the
workloads they feed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from finops_cli.deploy.generate import dump_yaml
from finops_cli.deploy.paths import (
    DRA_COMPONENT,
    MULTI_CLUSTER_COMPONENT,
    VIRTUAL_GPUS_COMPONENT,
)
from finops_cli.deploy.promconfig import GPU_NAMESPACE, MONITORING_NAMESPACE
from finops_cli.deploy.rules import BUDGETS_FILE, budgets_document
from finops_cli.deploy.tools import Tool
from finops_cli.deploy.values import DeployValues
from finops_cli.errors import FinopsError

EKS_MULTI_CLUSTER_COMPONENT = "components/eks-multi-cluster"
PART_OF = "app.kubernetes.io/part-of=finops"

# ConfigMap key -> module of the installed package (the kind overlay mounts them by these keys).
MOCK_CODE_CONFIGMAP = "mock-gpu-exporter-code"
MOCK_CODE_FILES = {
    "init.py": ("__init__.py",),
    "labels.py": ("labels.py",),
    "sample-init.py": ("sample", "__init__.py"),
    "sample-energy.py": ("sample", "energy.py"),
    "sample-scenario.py": ("sample", "scenario.py"),
    "sample-sharing.py": ("sample", "sharing.py"),
    "sample-simulate.py": ("sample", "simulate.py"),
    "sample-serve.py": ("sample", "serve.py"),
}
_PRICING_KEYS = {
    "opencost.cpuHourlyCost": ("CPU", "spotCPU"),
    "opencost.ramGiBHourlyCost": ("RAM", "spotRAM"),
    "opencost.gpuHourlyCost": ("GPU", "spotGPU"),
}


@dataclass(frozen=True)
class RenderRequest:
    manifests: Path
    values: DeployValues
    multi_cluster: bool = False

    @property
    def target(self) -> str:
        return self.values.target


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def _patch(kind: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"target": {"kind": kind, "name": name}, "patch": json.dumps(ops)}


def _annotate_sa(name: str, role_arn: str) -> dict[str, Any]:
    op = {
        "op": "add",
        "path": "/metadata/annotations",
        "value": {"eks.amazonaws.com/role-arn": role_arn},
    }
    return _patch("ServiceAccount", name, [op])


def kustomization(req: RenderRequest, workdir: Path) -> dict[str, Any]:
    """Write the settings kustomization's generated files into ``workdir``; return its content."""
    root = req.manifests
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [_rel(root / "overlays" / req.target, workdir)],
        "labels": [{"pairs": {"app.kubernetes.io/part-of": "finops"}, "includeSelectors": False}],
    }
    components = []
    if req.multi_cluster:
        components.append(_rel(root / MULTI_CLUSTER_COMPONENT, workdir))
        if req.target == "eks":
            components.append(_rel(root / EKS_MULTI_CLUSTER_COMPONENT, workdir))
    if req.values.get("gpu.dra") == "true":
        components.append(_rel(root / DRA_COMPONENT, workdir))
    if req.values.get("gpu.virtual_gpus") == "true":  # never with gpu.dra (parse_values)
        components.append(_rel(root / VIRTUAL_GPUS_COMPONENT, workdir))
    if components:
        doc["components"] = components
    doc["configMapGenerator"] = _generators(req, workdir)
    patches = _patches(req)
    if patches:
        doc["patches"] = patches
    return doc


def _generators(req: RenderRequest, workdir: Path) -> list[dict[str, Any]]:
    v = req.values
    root = req.manifests
    settings = [f"CLUSTER_NAME={v.get('cluster.name', req.target)}"]
    if v.get("prometheus.retention"):
        settings.append(f"PROMETHEUS_RETENTION={v.get('prometheus.retention')}")
    generators: list[dict[str, Any]] = [
        {
            "name": "finops-settings",
            "namespace": MONITORING_NAMESPACE,
            "behavior": "merge",
            "literals": settings,
        }
    ]
    if v.budgets:
        (workdir / BUDGETS_FILE).write_text(dump_yaml(budgets_document(v.budgets)), "utf-8")
        generators.append(_replace("prometheus-budgets", [BUDGETS_FILE]))
    if v.get("alertmanager.webhookUrl"):
        config = yaml.safe_load(
            (root / "base" / "alertmanager" / "alertmanager.yml").read_text("utf-8")
        )
        for receiver in config["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = v.get("alertmanager.webhookUrl")
        (workdir / "alertmanager.yml").write_text(dump_yaml(config), "utf-8")
        generators.append(_replace("alertmanager-config", ["alertmanager.yml"]))
    if any(key in v.values for key in _PRICING_KEYS):
        pricing = json.loads((root / "base" / "opencost" / "pricing.json").read_text("utf-8"))
        for key, fields in _PRICING_KEYS.items():
            if key in v.values:
                for f in fields:
                    pricing[f] = str(v.values[key])
        (workdir / "pricing.json").write_text(json.dumps(pricing, indent=2) + "\n", "utf-8")
        generators.append(_replace("opencost-pricing", ["default.json=pricing.json"]))
    if req.target == "kind":
        package = resources.files("finops_cli")
        files = []
        for key, parts in MOCK_CODE_FILES.items():
            (workdir / key).write_text(package.joinpath(*parts).read_text("utf-8"), "utf-8")
            files.append(key)
        generators.append({"name": MOCK_CODE_CONFIGMAP, "namespace": GPU_NAMESPACE, "files": files})
    return generators


def _patches(req: RenderRequest) -> list[dict[str, Any]]:
    v = req.values
    patches = []
    if v.get("prometheus.storage"):
        op = {
            "op": "replace",
            "path": "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
            "value": v.get("prometheus.storage"),
        }
        patches.append(_patch("StatefulSet", "prometheus", [op]))
    if req.target == "eks":
        region = v.get("eks.region")
        if region:
            op = {"op": "replace", "path": "/spec/provider/aws/region", "value": region}
            patches.append(_patch("SecretStore", "aws-secrets-manager", [op]))
        for key, account in (
            ("eks.secretsRoleArn", "finops-secrets"),
            ("eks.opencostRoleArn", "opencost"),
        ):
            if v.get(key):
                patches.append(_annotate_sa(account, str(v.get(key))))
        if req.multi_cluster and v.get("eks.thanosRoleArn"):
            for account in ("thanos", "prometheus"):
                patches.append(_annotate_sa(account, str(v.get("eks.thanosRoleArn"))))
    if req.multi_cluster and v.get("thanos.compactor") == "false":
        replicas: dict[str, Any] = {"op": "replace", "path": "/spec/replicas", "value": 0}
        patches.append(_patch("StatefulSet", "thanos-compactor", [replicas]))
    return patches


def _replace(name: str, files: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": MONITORING_NAMESPACE,
        "behavior": "replace",
        "files": files,
    }


def render(req: RenderRequest, kubectl: Tool) -> str:
    """The rendered YAML stream (``kubectl kustomize``) of the target with these settings."""
    overlay = req.manifests / "overlays" / req.target
    if not (overlay / "kustomization.yaml").is_file():
        raise FinopsError(f"no overlay for target {req.target!r} in {req.manifests}")
    with tempfile.TemporaryDirectory(prefix="finops-deploy-") as tmp:
        workdir = Path(tmp)
        doc = kustomization(req, workdir)
        (workdir / "kustomization.yaml").write_text(dump_yaml(doc), "utf-8")
        result = kubectl.run(["kustomize", str(workdir)], what="kubectl kustomize", timeout=120)
    return result.stdout


def parse_stream(stream: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]


def dump_stream(objects: list[dict[str, Any]]) -> str:
    return "---\n".join(dump_yaml(o) for o in objects)

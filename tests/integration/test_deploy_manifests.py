"""The manifests: every overlay renders with kubectl kustomize, validates against the Kubernetes
schemas (External Secrets' CRDs included) and obeys the security policy; the generated files
match the query library; ``finops deploy --dry-run`` prints the whole stream."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from finops_cli.deploy import rules
from finops_cli.deploy.generate import generated_files, stale_files
from finops_cli.deploy.paths import (
    DRA_COMPONENT,
    VIRTUAL_GPUS_COMPONENT,
    checkout_manifests_dir,
)
from finops_cli.deploy.promconfig import ksm_annotation_allowlist, ksm_label_allowlist
from finops_cli.deploy.render import MOCK_CODE_FILES, RenderRequest, parse_stream, render
from finops_cli.deploy.tools import Tool
from finops_cli.deploy.values import parse_values
from finops_cli.errors import UsageError
from tests.deploy.crd_schemas import SCHEMAS
from tests.support.cli import run_finops
from tests.support.tools import require_tool

MANIFESTS = checkout_manifests_dir()
TARGETS = ("kind", "eks", "generic")
K8S_VERSION = "1.30"  # the oldest Kubernetes the stack supports (EKS standard support)
NAMESPACES = {"finops-monitoring", "finops-gpu"}
# Pods that talk to the Kubernetes API and so mount a service account token.
API_CLIENTS = {"prometheus", "kube-state-metrics", "opencost"}
# dcgm-exporter's documented exception (see manifests/base/dcgm-exporter/daemonset.yaml).
PRIVILEGED = {("finops-gpu", "dcgm-exporter")}
EKS_SETS = ["eks.secretsRoleArn=arn:aws:iam::123456789012:role/finops-secrets"]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass"}


def _kubectl() -> Tool:
    return Tool("kubectl", require_tool("kubectl"))


@pytest.fixture(scope="module")
def kubectl() -> Tool:
    return _kubectl()


_RENDERED: dict[tuple[str, bool, str], list[dict[str, Any]]] = {}
# The GPU opt-ins of a rendering: "" (neither), "dra", "virtual".
GPU_SETS = {"": [], "dra": ["gpu.dra=true"], "virtual": ["gpu.virtual_gpus=true"]}


def rendered(target: str, multi_cluster: bool, gpu: str = "") -> list[dict[str, Any]]:
    """What `finops deploy` applies for a target (settings merged, kind's code ConfigMap in);
    ``gpu``: "dra" with ``--set gpu.dra=true`` (components/gpu-dra), "virtual" with ``--set
    gpu.virtual_gpus=true`` (components/gpu-virtual)."""
    key = (target, multi_cluster, gpu)
    if key not in _RENDERED:
        sets = [*(EKS_SETS if target == "eks" else []), *GPU_SETS[gpu]]
        values = parse_values(target, sets)
        stream = render(RenderRequest(MANIFESTS, values, multi_cluster), _kubectl())
        _RENDERED[key] = parse_stream(stream)
    return _RENDERED[key]


# (target, multi_cluster, gpu): every target alone and with Thanos, DRA (never on kind, which has
# no dcgm-exporter) on one single-cluster and one multi-cluster rendering, and virtual GPUs (nor
# on kind) on one rendering.
CASES = [(t, mc, "") for t in TARGETS for mc in (False, True)] + [
    ("generic", False, "dra"),
    ("eks", True, "dra"),
    ("eks", False, "virtual"),
]
IDS = [f"{t}{'-multi-cluster' if mc else ''}{f'-{gpu}' if gpu else ''}" for t, mc, gpu in CASES]


@pytest.mark.parametrize("target", TARGETS)
def test_every_overlay_renders_with_kubectl_kustomize(kubectl, target):
    result = kubectl.run(["kustomize", str(MANIFESTS / "overlays" / target)])
    objects = parse_stream(result.stdout)
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "StatefulSet"} <= kinds
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("StatefulSet", "prometheus") in names
    assert ("Deployment", "kube-state-metrics") in names
    assert ("Deployment", "opencost") in names
    assert ("Deployment", "grafana") in names
    assert ("StatefulSet", "alertmanager") in names
    gpu = (
        ("Deployment", "mock-gpu-exporter") if target == "kind" else ("DaemonSet", "dcgm-exporter")
    )
    assert gpu in names
    if target == "eks":
        assert ("ExternalSecret", "grafana-admin") in names
        assert ("StorageClass", "finops-gp3") in names


_VALIDATED: set[str] = set()


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_rendered_objects_validate_against_schemas(target, multi_cluster, gpu):
    for obj in rendered(target, multi_cluster, gpu):
        fingerprint = json.dumps(obj, sort_keys=True)
        if fingerprint in _VALIDATED:  # the same object in another target: validated once
            continue
        _VALIDATED.add(fingerprint)
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        schema = SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is not None:
            jsonschema.validate(obj, schema)
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {err.message} at {list(err.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{name}: no schema for {obj['apiVersion']} {obj['kind']}")


def test_crd_schemas_refuse_typos():
    good = next(o for o in rendered("eks", False) if o["kind"] == "ExternalSecret")
    bad = json.loads(json.dumps(good))
    bad["spec"]["secretStoreRef"]["kindd"] = "SecretStore"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMAS[("external-secrets.io/v1", "ExternalSecret")])


def _pod_specs(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield obj, obj["spec"]["template"]["spec"]


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_security_policy(target, multi_cluster, gpu):
    objects = rendered(target, multi_cluster, gpu)
    problems: list[str] = []
    for obj, spec in _pod_specs(objects):
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        who = f"{obj['kind']}/{key[1]}"
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{who}: no RuntimeDefault seccomp profile")
        api = key[1] in API_CLIENTS or (gpu == "dra" and key[1] == "dcgm-exporter")
        if spec.get("automountServiceAccountToken") is not api:
            problems.append(f"{who}: automountServiceAccountToken should be {api}")
        for c in spec.get("initContainers", []) + spec["containers"]:
            cwho = f"{who}/{c['name']}"
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        problems.append(f"{cwho}: no {kind}.{r}")
            image = c["image"]
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            if not re.search(r"\d", tag) or "latest" in tag:
                problems.append(f"{cwho}: image {image} is not pinned to a version")
            sc = c.get("securityContext", {})
            if key in PRIVILEGED:
                assert sc.get("capabilities", {}).get("add") == ["SYS_ADMIN"], cwho
                assert not sc.get("privileged"), cwho
                continue
            if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                problems.append(f"{cwho}: not runAsNonRoot")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cwho}: root filesystem not read-only")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwho}: allowPrivilegeEscalation not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{cwho}: capabilities not dropped")
            if sc.get("capabilities", {}).get("add"):
                problems.append(f"{cwho}: adds capabilities")
    for obj in objects:
        if obj["kind"] == "ServiceAccount" and obj.get("automountServiceAccountToken") is not False:
            problems.append(f"ServiceAccount/{obj['metadata']['name']}: automounts its token")
        if obj["kind"] == "Service" and obj["spec"].get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"Service/{obj['metadata']['name']}: exposed outside the cluster")
        if obj["kind"] not in CLUSTER_SCOPED and obj["metadata"].get("namespace") not in NAMESPACES:
            problems.append(
                f"{obj['kind']}/{obj['metadata']['name']}: outside the stack's namespaces"
            )
        if obj["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "finops":
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: no part-of label")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_network_policies_quotas_and_limits(target, multi_cluster, gpu):
    objects = rendered(target, multi_cluster, gpu)
    for ns in NAMESPACES:
        in_ns = [o for o in objects if o["metadata"].get("namespace") == ns]
        kinds = {o["kind"] for o in in_ns}
        assert {"ResourceQuota", "LimitRange"} <= kinds, ns
        policies = [o for o in in_ns if o["kind"] == "NetworkPolicy"]
        deny = [
            p
            for p in policies
            if p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, f"{ns}: no default-deny NetworkPolicy"
        allows = [p for p in policies if p["spec"]["podSelector"].get("matchLabels")]
        for obj, _spec in _pod_specs(in_ns):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            selected = [
                p
                for p in allows
                if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            ]
            assert selected, f"{obj['kind']}/{obj['metadata']['name']}: no explicit allow policy"


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_no_plain_text_secrets(target, multi_cluster, gpu):
    objects = rendered(target, multi_cluster, gpu)
    assert not [o for o in objects if o["kind"] == "Secret"], "Secrets are never rendered"
    secretish = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY|ACCESS_KEY|CREDENTIAL", re.I)
    for _obj, spec in _pod_specs(objects):
        for c in spec.get("initContainers", []) + spec["containers"]:
            for env in c.get("env", []):
                if secretish.search(env["name"]) and "value" in env:
                    assert env["name"].endswith("__FILE"), f"{c['name']}: {env['name']} inline"
    text = yaml.safe_dump_all(objects)
    assert "stringData" not in text
    assert not re.search(r"(?i)password['\"]?\s*[:=]\s*['\"]?admin\b", text)
    grafana = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana"
    )
    env = {e["name"]: e for e in grafana["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"]["value"].startswith("/etc/grafana-admin/")
    config = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("alertmanager-config")
    )
    am = yaml.safe_load(config["data"]["alertmanager.yml"])
    for receiver in am["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack and slack["api_url_file"].startswith(
                "/etc/alertmanager/secrets/"
            )
        for pd in receiver.get("pagerduty_configs", []):
            assert "routing_key" not in pd and pd["routing_key_file"].startswith(
                "/etc/alertmanager/secrets/"
            )


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_images_are_pinned_everywhere(target, multi_cluster, gpu):
    images = {
        c["image"]
        for _obj, spec in _pod_specs(rendered(target, multi_cluster, gpu))
        for c in spec.get("initContainers", []) + spec["containers"]
    }
    assert images
    for image in images:
        assert re.search(r":v?\d+\.\d+(\.\d+)?", image), image
        assert not image.endswith(":latest"), image


def test_generated_files_match_the_query_library():
    assert stale_files(MANIFESTS) == [], "run `finops deploy generate` and commit the result"
    assert generated_files()  # non-empty
    rules_text = (MANIFESTS / "base/prometheus/rules/finops.rules.yaml").read_text()
    assert rules.rules_document() == yaml.safe_load(rules_text)


def test_kube_state_metrics_exports_the_labels_the_queries_read():
    objects = rendered("generic", False)
    ksm = next(
        o
        for o in objects
        if o["metadata"]["name"] == "kube-state-metrics" and o["kind"] == "Deployment"
    )
    args = ksm["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--metric-labels-allowlist={ksm_label_allowlist()}" in args
    assert f"--metric-annotations-allowlist={ksm_annotation_allowlist()}" in args
    # Every label the rules group by is one kube-state-metrics is told to export.
    for key in rules.DEFAULT_POD_LABELS.values():
        assert key in ksm_label_allowlist()


def _container(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    obj = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    containers = obj["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def _allowlist(args: list[str], flag: str) -> dict[str, set[str]]:
    """``--flag=pods=[a,b],nodes=[c]`` -> {"pods": {"a", "b"}, "nodes": {"c"}}."""
    value = next(a.split("=", 1)[1] for a in args if a.startswith(f"{flag}="))
    return {kind: set(keys.split(",")) for kind, keys in re.findall(r"(\w+)=\[([^\]]*)\]", value)}


# What the CLI reads to cost shared GPUs (docs/metric-contract.md).
SHARED_GPU_NODE_LABELS = {
    "nvidia.com/gpu.replicas",
    "nvidia.com/gpu.count",
    "nvidia.com/gpu.product",
    "nvidia.com/gpu.sharing-strategy",
    "nvidia.com/mig.strategy",
    "nvidia.com/gpu.slices.gi",
    "nvidia.com/mps.capable",
}
PRICING_NODE_LABELS = {
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "karpenter.sh/capacity-type",
    "karpenter.sh/nodepool",
}
FRACTION_ANNOTATIONS = {"gpu-fraction", "gpu-fraction-num-devices", "gpu-memory"}


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), CASES, ids=IDS)
def test_kube_state_metrics_exports_what_shared_gpu_costing_reads(target, multi_cluster, gpu):
    """Every target ships kube-state-metrics: its rendered allowlists carry the shared-GPU node
    labels and the KAI/Run:ai fraction annotations, and nothing filters out kube_pod_info or
    kube_pod_resourceclaim_info (KSM v2.20.0 or later)."""
    objects = rendered(target, multi_cluster, gpu)
    ksm = _container(objects, "Deployment", "kube-state-metrics")
    args = ksm["args"]
    labels = _allowlist(args, "--metric-labels-allowlist")
    assert labels["nodes"] >= SHARED_GPU_NODE_LABELS | PRICING_NODE_LABELS
    assert set(rules.DEFAULT_POD_LABELS.values()) <= labels["pods"]
    annotations = _allowlist(args, "--metric-annotations-allowlist")
    assert annotations["pods"] == {rules.COST_CENTER_ANNOTATION, *FRACTION_ANNOTATIONS}
    resources = next(a for a in args if a.startswith("--resources=")).split("=", 1)[1]
    assert "pods" in resources.split(",")
    assert not [a for a in args if a.startswith(("--metric-allowlist", "--metric-denylist"))]
    version = re.fullmatch(r".*:v(\d+)\.(\d+)\.(\d+)", ksm["image"])
    assert version, ksm["image"]
    assert tuple(map(int, version.groups())) >= (2, 20, 0), "kube_pod_resourceclaim_info"
    # Nor does Prometheus drop them: no metric relabelling on the kube-state-metrics job.
    config = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("prometheus-config")
    )
    scrape = yaml.safe_load(config["data"]["prometheus.yml"])["scrape_configs"]
    ksm_job = next(j for j in scrape if j["job_name"] == "kube-state-metrics")
    assert ksm_job.get("honor_labels") is True
    assert "metric_relabel_configs" not in ksm_job


# Every rendering that ships the real dcgm-exporter (kind runs the mock exporter instead).
DCGM_CASES = [case for case in CASES if case[0] != "kind"]
DCGM_IDS = [i for case, i in zip(CASES, IDS, strict=True) if case[0] != "kind"]
FINOPS_CLI = Path(__file__).resolve().parents[2] / "finops_cli"


def _dcgm_fields_read() -> set[str]:
    """Every DCGM field the code reads (queries, rules, sources; not the sample simulator)."""
    fields: set[str] = set()
    for path in FINOPS_CLI.rglob("*.py"):
        if "sample" not in path.relative_to(FINOPS_CLI).parts:
            fields.update(re.findall(r"DCGM_FI_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")))
    return fields


def _env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _counters_csv(objects: list[dict[str, Any]], dcgm_pod: dict[str, Any]) -> tuple[str, str]:
    """(the DCGM_EXPORTER_COLLECTORS path, the text of the file mounted there)."""
    container = next(c for c in dcgm_pod["containers"] if c["name"] == "dcgm-exporter")
    path = str(_env(container)["DCGM_EXPORTER_COLLECTORS"])
    directory, _, filename = path.rpartition("/")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in dcgm_pod["volumes"] if v["name"] == mount["name"])
    configmap = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == volume["configMap"]["name"]
    )
    return path, configmap["data"][filename]


def _dra_access(objects: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(ClusterRole rules naming resourceslices, ServiceAccounts bound to them as ns/name)."""
    roles = {
        o["metadata"]["name"]: [r for r in o["rules"] if "resourceslices" in r["resources"]]
        for o in objects
        if o["kind"] == "ClusterRole"
    }
    rules_ = [r for found in roles.values() for r in found]
    subjects = [
        f"{s['namespace']}/{s['name']}"
        for o in objects
        if o["kind"] == "ClusterRoleBinding" and roles.get(o["roleRef"]["name"])
        for s in o["subjects"]
        if s["kind"] == "ServiceAccount"
    ]
    return rules_, subjects


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), DCGM_CASES, ids=DCGM_IDS)
def test_dcgm_exporter_maps_shared_gpus_to_pods(target, multi_cluster, gpu):
    """Time-sliced/MPS replicas (nvidia.com/gpu.shared) and MIG instances are mapped to their
    pods through the kubelet's pod-resources socket. Virtual-GPU mode is off by default: it adds
    per-process series with pod_uid on whole GPUs too, which would count a pod's GPU twice.
    With components/gpu-virtual (``--set gpu.virtual_gpus=true``) it is on (one copy per sharing
    pod, vgpu label) and nothing else changes. With components/gpu-dra (``--set gpu.dra=true``),
    DRA claims are mapped too: the exporter gets a token, read access to resource.k8s.io
    resourceslices and egress to the API server, and virtual GPUs stay off (dcgm-exporter skips
    the DRA step when they are on). Without it, none of that."""
    objects = rendered(target, multi_cluster, gpu)
    ds = next(
        o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "dcgm-exporter"
    )
    pod = ds["spec"]["template"]["spec"]
    env = _env(_container(objects, "DaemonSet", "dcgm-exporter"))
    assert env["DCGM_EXPORTER_KUBERNETES"] == "true"
    names = str(env["NVIDIA_RESOURCE_NAMES"]).split(",")
    assert "nvidia.com/gpu.shared" in names
    # MIG resources are matched by the nvidia.com/mig- prefix; listing them would be a no-op.
    assert not [n for n in names if n.startswith("nvidia.com/mig-")]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/var/lib/kubelet/pod-resources"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["pod-resources"]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    rules_, subjects = _dra_access(objects)
    egress = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["namespace"] == "finops-gpu"
        and o["spec"]["podSelector"].get("matchLabels", {}).items()
        <= ds["spec"]["template"]["metadata"]["labels"].items()
        and "Egress" in o["spec"]["policyTypes"]
        and o["spec"].get("egress")
    ]
    if gpu != "dra":
        assert env["KUBERNETES_VIRTUAL_GPUS"] == ("true" if gpu == "virtual" else "false")
        assert env.get("KUBERNETES_ENABLE_DRA", "false") == "false"
        assert pod["automountServiceAccountToken"] is False
        assert not rules_ and not subjects and not egress
        if gpu == "virtual":  # the component sets the one variable, nothing else
            default = rendered(target, multi_cluster)
            assert _without_virtual_gpus(objects) == _without_virtual_gpus(default)
        return
    assert env["KUBERNETES_ENABLE_DRA"] == "true"
    assert env["KUBERNETES_VIRTUAL_GPUS"] == "false"
    assert pod["automountServiceAccountToken"] is True
    assert rules_ == [
        {
            "apiGroups": ["resource.k8s.io"],
            "resources": ["resourceslices"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    assert subjects == [f"finops-gpu/{pod['serviceAccountName']}"]
    ports = {
        (p["protocol"], p["port"])
        for o in egress
        for rule in o["spec"]["egress"]
        for p in rule["ports"]
    }
    assert {("TCP", 443), ("TCP", 6443)} <= ports


def _without_virtual_gpus(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects, dcgm-exporter's KUBERNETES_VIRTUAL_GPUS left out (copies)."""
    copies = json.loads(json.dumps(objects))
    for obj, spec in _pod_specs(copies):
        if obj["metadata"]["name"] == "dcgm-exporter":
            for c in spec["containers"]:
                c["env"] = [e for e in c.get("env", []) if e["name"] != "KUBERNETES_VIRTUAL_GPUS"]
    return copies


def test_dra_component_renders_over_a_plain_overlay(tmp_path, kubectl):
    """Without `finops deploy`: a kustomization listing components/gpu-dra over an overlay."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(MANIFESTS / "overlays" / "generic", tmp_path)],
        "components": [os.path.relpath(MANIFESTS / DRA_COMPONENT, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), "utf-8")
    objects = parse_stream(kubectl.run(["kustomize", str(tmp_path)]).stdout)
    env = _env(_container(objects, "DaemonSet", "dcgm-exporter"))
    assert env["KUBERNETES_ENABLE_DRA"] == "true"
    rules_, subjects = _dra_access(objects)
    assert rules_ and subjects == ["finops-gpu/dcgm-exporter"]
    with pytest.raises(UsageError, match="does not apply to --target kind"):
        parse_values("kind", ["gpu.dra=true"])


def test_virtual_gpus_component_renders_over_a_plain_overlay(tmp_path, kubectl):
    """Without `finops deploy`: a kustomization listing components/gpu-virtual over an overlay
    turns virtual-GPU mode on and gives the exporter no token (unlike DRA)."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(MANIFESTS / "overlays" / "generic", tmp_path)],
        "components": [os.path.relpath(MANIFESTS / VIRTUAL_GPUS_COMPONENT, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), "utf-8")
    objects = parse_stream(kubectl.run(["kustomize", str(tmp_path)]).stdout)
    dcgm = _container(objects, "DaemonSet", "dcgm-exporter")
    env = _env(dcgm)
    assert env["KUBERNETES_VIRTUAL_GPUS"] == "true"
    assert env.get("KUBERNETES_ENABLE_DRA", "false") == "false"
    # The patch merged into the base's entry (by name), not a second one.
    assert [e["name"] for e in dcgm["env"]].count("KUBERNETES_VIRTUAL_GPUS") == 1
    assert _dra_access(objects) == ([], [])
    with pytest.raises(UsageError, match="does not apply to --target kind"):
        parse_values("kind", ["gpu.virtual_gpus=true"])


@pytest.mark.parametrize(("target", "multi_cluster", "gpu"), DCGM_CASES, ids=DCGM_IDS)
def test_dcgm_exporter_collects_every_field_finops_reads(target, multi_cluster, gpu):
    """The counters CSV dcgm-exporter is pointed at is the one the manifests ship, and it lists
    DCGM_FI_PROF_GR_ENGINE_ACTIVE (MIG instances report no GPU_UTIL) and every other field the
    queries, rules and sources read."""
    objects = rendered(target, multi_cluster, gpu)
    ds = next(
        o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "dcgm-exporter"
    )
    path, text = _counters_csv(objects, ds["spec"]["template"]["spec"])
    assert not path.startswith("/etc/dcgm-exporter/default-counters"), path
    collected = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            field, kind, help_ = (part.strip() for part in line.split(",", 2))
            assert kind in {"gauge", "counter", "label"}, line
            assert help_, line
            collected[field] = kind
    assert collected["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] == "gauge"
    fields = _dcgm_fields_read()
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in fields
    assert fields <= set(collected), f"not collected: {sorted(fields - set(collected))}"


def test_kind_mock_exporter_mounts_the_code_deploy_generates():
    objects = rendered("kind", False)
    mock = next(
        o
        for o in objects
        if o["metadata"]["name"] == "mock-gpu-exporter" and o["kind"] == "Deployment"
    )
    volume = next(v for v in mock["spec"]["template"]["spec"]["volumes"] if v["name"] == "code")
    items = {i["key"]: i["path"] for i in volume["configMap"]["items"]}
    assert items == {k: "/".join(v) for k, v in MOCK_CODE_FILES.items()}
    code = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == volume["configMap"]["name"]
    )
    assert set(code["data"]) == set(items)
    assert not [o for o in objects if o["kind"] == "DaemonSet"], (
        "kind has no GPUs: no dcgm-exporter"
    )


def test_settings_reach_the_rendered_objects():
    sets = [
        "cluster.name=prod-eu",
        "prometheus.retention=30d",
        "prometheus.storage=200Gi",
        "budget.research=50000",
        "alertmanager.webhookUrl=https://hooks.example.com/finops",
        "opencost.gpuHourlyCost=3.25",
        "thanos.compactor=false",
    ]
    stream = render(RenderRequest(MANIFESTS, parse_values("generic", sets), True), _kubectl())
    objects = parse_stream(stream)
    by_name = {
        (o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]): o
        for o in objects
        if o["kind"] == "ConfigMap"
    }
    settings = by_name[("ConfigMap", "finops-settings")]["data"]
    assert settings == {"CLUSTER_NAME": "prod-eu", "PROMETHEUS_RETENTION": "30d"}
    budgets = yaml.safe_load(
        by_name[("ConfigMap", "prometheus-budgets")]["data"]["budgets.rules.yaml"]
    )
    assert budgets == rules.budgets_document({"research": 50000})
    am = yaml.safe_load(by_name[("ConfigMap", "alertmanager-config")]["data"]["alertmanager.yml"])
    assert am["receivers"][2]["webhook_configs"][0]["url"] == "https://hooks.example.com/finops"
    pricing = json.loads(by_name[("ConfigMap", "opencost-pricing")]["data"]["default.json"])
    assert pricing["GPU"] == "3.25"
    prom = next(
        o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "prometheus"
    )
    assert (
        prom["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
        == "200Gi"
    )
    # The renamed ConfigMaps are the ones the workloads mount (hash suffixes roll them).
    volumes = {v["name"]: v for v in prom["spec"]["template"]["spec"]["volumes"]}
    sources = [s["configMap"]["name"] for s in volumes["rules"]["projected"]["sources"]]
    assert any(n.startswith("prometheus-budgets-") for n in sources)
    containers = {c["name"]: c for c in prom["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"prometheus", "thanos-sidecar"}
    assert "--storage.tsdb.min-block-duration=2h" in containers["prometheus"]["args"]
    assert "--storage.tsdb.max-block-duration=2h" in containers["prometheus"]["args"]
    compactor = next(
        o
        for o in objects
        if o["metadata"]["name"] == "thanos-compactor" and o["kind"] == "StatefulSet"
    )
    assert compactor["spec"]["replicas"] == 0
    args = next(
        c
        for c in compactor["spec"]["template"]["spec"]["containers"]
        if c["name"] == "thanos-compactor"
    )["args"]
    assert {
        "--retention.resolution-raw=30d",
        "--retention.resolution-5m=90d",
        "--retention.resolution-1h=365d",
    } <= set(args)


def test_eks_settings_annotate_service_accounts():
    sets = [
        *EKS_SETS,
        "eks.region=eu-west-1",
        "eks.thanosRoleArn=arn:aws:iam::123456789012:role/finops-thanos",
    ]
    objects = parse_stream(
        render(RenderRequest(MANIFESTS, parse_values("eks", sets), True), _kubectl())
    )
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    role = "eks.amazonaws.com/role-arn"
    assert accounts["finops-secrets"]["metadata"]["annotations"][role].endswith(
        "role/finops-secrets"
    )
    assert accounts["thanos"]["metadata"]["annotations"][role].endswith("role/finops-thanos")
    assert accounts["prometheus"]["metadata"]["annotations"][role].endswith("role/finops-thanos")
    store = next(o for o in objects if o["kind"] == "SecretStore")
    assert store["spec"]["provider"]["aws"]["region"] == "eu-west-1"
    assert any(
        o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "thanos-objstore"
        for o in objects
    )


def test_dry_run_prints_every_object_as_one_yaml_stream():
    kubectl = require_tool("kubectl")
    env = {"PATH": os.path.dirname(kubectl) + os.pathsep + os.environ.get("PATH", "")}
    result = run_finops("deploy", "--target", "kind", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert len(objects) == len(rendered("kind", False))
    configmaps = {
        o["metadata"]["name"].rsplit("-", 1)[0]: o["data"]
        for o in objects
        if o["kind"] == "ConfigMap"
    }
    files = generated_files()
    assert (
        configmaps["prometheus-config"]["prometheus.yml"] == files["base/prometheus/prometheus.yml"]
    )
    assert (
        configmaps["prometheus-rules"]["finops.rules.yaml"]
        == files["base/prometheus/rules/finops.rules.yaml"]
    )
    for name in ("gpu-overview.json", "team-costs.json", "efficiency.json", "unit-costs.json"):
        assert json.loads(configmaps["grafana-dashboards"][name])["panels"]
    assert "sample-simulate.py" in configmaps["mock-gpu-exporter-code"]
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert "grafana-admin" in result.stderr and "values not shown" in result.stderr


def test_raw_overlays_and_deploy_render_agree(kubectl):
    """`kubectl apply -k manifests/overlays/generic` gives what finops deploy gives by default."""
    raw = parse_stream(kubectl.run(["kustomize", str(MANIFESTS / "overlays" / "generic")]).stdout)
    ours = rendered("generic", False)

    def key(o: dict[str, Any]) -> tuple[str, str]:
        return (o["kind"], re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"]))

    assert sorted(map(key, raw)) == sorted(map(key, ours))


def test_checkout_tree_is_what_the_wheel_ships():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"manifests" = "finops_cli/_data/manifests"' in pyproject


def test_kubectl_is_not_given_secrets_on_the_command_line(monkeypatch):
    """Secrets reach kubectl on stdin only (a command line shows in `ps`)."""
    calls: list[list[str]] = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    from finops_cli.deploy.orchestrate import _apply, _secret

    _apply(
        Tool("kubectl", "/bin/kubectl"),
        [_secret("grafana-admin", {"admin-password": "s3cret-value-123"})],
        "x",
    )
    assert calls and all("s3cret-value-123" not in " ".join(c) for c in calls)

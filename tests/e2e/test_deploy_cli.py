"""``finops deploy`` orchestration through recording kubectl/kind stand-ins: the real binaries'
arguments are asserted, failures become one-line errors with their cause, secrets never leave
stdin."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from tests.support.cli import run_finops
from tests.support.standins import StandIns, make_standins
from tests.support.tools import require_tool

CONTEXT = ["--context", "kind-finops"]
SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


@pytest.fixture
def standins(tmp_path) -> StandIns:
    return make_standins(tmp_path, require_tool("kubectl"))


def _deploy(standins: StandIns, *args: str, env: dict[str, str] | None = None):
    return run_finops("deploy", *args, env=standins.env() | (env or {}), timeout=180)


def _applies(standins: StandIns) -> list[dict]:
    return [c for c in standins.calls("kubectl") if c["argv"][2:3] == ["apply"]]


def _objects(call: dict) -> list[dict]:
    return [o for o in yaml.safe_load_all(call["stdin"]) if o]


def test_kind_deploy_creates_the_cluster_applies_and_waits(standins):
    standins.on("kind", "get", "clusters", stdout="other\n")
    result = _deploy(
        standins,
        "--target",
        "kind",
        "--create-cluster",
        env={"FINOPS_DEPLOY_ALERTMANAGER_SLACK_WEBHOOK_URL": SLACK},
    )
    assert result.returncode == 0, result.stderr
    kind = [c["argv"] for c in standins.calls("kind")]
    assert kind == [
        ["get", "clusters"],
        [
            "create",
            "cluster",
            "--name",
            "finops",
            "--image",
            "kindest/node:v1.31.2",
            "--wait",
            "120s",
        ],
    ]
    kubectl = [c["argv"] for c in standins.calls("kubectl")]
    assert kubectl[0] == [*CONTEXT, "get", "--raw", "/version", "--request-timeout=15s"]
    assert kubectl[1][0] == "kustomize"  # rendering is local
    for argv in kubectl[2:]:
        assert argv[:2] == CONTEXT, argv  # every cluster call names the context
    apply = [
        *CONTEXT,
        "apply",
        "--server-side",
        "--field-manager=finops",
        "--force-conflicts",
        "-f",
        "-",
    ]
    applies = _applies(standins)
    assert [c["argv"] for c in applies] == [apply, apply, apply]
    namespaces, secrets, manifests = (_objects(c) for c in applies)
    assert {o["kind"] for o in namespaces} == {"Namespace"}
    assert {o["metadata"]["name"] for o in secrets} == {"grafana-admin", "alertmanager-receivers"}
    by_name = {o["metadata"]["name"]: o for o in secrets}
    password = base64.b64decode(by_name["grafana-admin"]["data"]["admin-password"]).decode()
    assert len(password) >= 24 and password != "admin"
    receivers = by_name["alertmanager-receivers"]["data"]
    assert base64.b64decode(receivers["slack-webhook-url"]).decode() == SLACK
    assert "Secret" not in {o["kind"] for o in manifests}
    rollouts = [a for a in kubectl if "rollout" in a]
    workloads = [o for o in manifests if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]
    assert len(rollouts) == len(workloads) > 0
    expected = [*CONTEXT, "-n", "finops-gpu", "rollout", "status", "deployment/mock-gpu-exporter"]
    assert expected in [r[:7] for r in rollouts]
    assert all(r[7].startswith("--timeout=") for r in rollouts)
    # Secrets only ever on stdin: not in argv, stdout or stderr.
    for call in standins.calls():
        assert SLACK not in " ".join(call["argv"]) and password not in " ".join(call["argv"])
    assert (
        SLACK not in result.stdout + result.stderr and password not in result.stdout + result.stderr
    )
    assert "finops deploy port-forward --context kind-finops" in result.stdout
    assert "svc/grafana 3000:3000" in result.stdout
    assert "pagerdutyRoutingKey" in result.stderr  # says which receivers are not configured


def test_kind_cluster_missing_without_create_cluster(standins):
    standins.on("kind", "get", "clusters", stdout="")
    result = _deploy(standins, "--target", "kind")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "finops: error: kind cluster 'finops' does not exist: rerun with --create-cluster to "
        "create it"
    )
    assert not _applies(standins)


def test_kind_create_failure_is_one_line(standins):
    standins.on("kind", "get", "clusters", stdout="")
    standins.on(
        "kind",
        "create",
        rc=1,
        stderr="Creating cluster ...\nERROR: failed to create cluster: docker: Cannot connect "
        "to the Docker daemon\n",
    )
    result = _deploy(standins, "--target", "kind", "--create-cluster")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "finops: error: kind create cluster failed: failed to create cluster"
    )
    assert "Docker daemon" in lines[-1]


def test_missing_kind_binary_with_create_cluster(tmp_path):
    standins = make_standins(tmp_path, require_tool("kubectl"), tools=("kubectl",))
    result = _deploy(standins, "--target", "kind", "--create-cluster")
    assert result.returncode == 1
    assert "finops: error: kind not found on PATH" in result.stderr


def test_missing_kubectl(tmp_path):
    standins = make_standins(tmp_path, require_tool("kubectl"), tools=("kind",))
    result = _deploy(standins, "--target", "generic", "--dry-run")
    assert result.returncode == 1
    assert result.stderr.startswith("finops: error: kubectl not found on PATH")


def test_unreachable_context(standins):
    standins.on(
        "kubectl",
        "--raw",
        rc=1,
        stderr="E1126 12:00:00 memcache.go:265] couldn't get current server API group list\n"
        "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host "
        "or port?\n",
    )
    result = _deploy(standins, "--target", "generic", "--context", "prod")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "finops: error: kube context 'prod' is not reachable: The connection to the server "
        "127.0.0.1:6443 was refused - did you specify the right host or port?"
    )
    assert not _applies(standins)


def test_no_current_context(standins):
    standins.on("kubectl", "current-context", rc=1, stderr="error: current-context is not set\n")
    result = _deploy(standins, "--target", "generic")
    assert result.returncode == 2
    assert "no current kube context: pass --context NAME" in result.stderr


def test_apply_failure_names_the_cause(standins):
    standins.on(
        "kubectl",
        "apply",
        rc=1,
        stderr='Error from server (Forbidden): namespaces is forbidden: User "dev" cannot create '
        'resource "namespaces"\n',
    )
    result = _deploy(standins, "--target", "generic", "--context", "dev")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "finops: error: kubectl apply (namespaces) failed: Error from server (Forbidden): "
        'namespaces is forbidden: User "dev" cannot create resource "namespaces"'
    )


def test_rollout_timeout_names_the_workload(standins):
    standins.on(
        "kubectl",
        "rollout",
        "deployment/grafana",
        rc=1,
        stderr="error: timed out waiting for the condition\n",
    )
    result = _deploy(standins, "--target", "generic", "--context", "dev", "--timeout", "30")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "finops: error: deployment/grafana in finops-monitoring did not become ready: timed out "
        "waiting for the condition (see: kubectl -n finops-monitoring describe deployment grafana)"
    )


def test_existing_grafana_password_is_kept(standins):
    existing = {"data": {"admin-password": base64.b64encode(b"kept-password-123").decode()}}
    standins.on("kubectl", "secret", "grafana-admin", stdout=json.dumps(existing))
    result = _deploy(
        standins, "--target", "generic", "--context", "dev", "--set", "cluster.name=dev-1"
    )
    assert result.returncode == 0, result.stderr
    secrets = _objects(_applies(standins)[1])
    assert {o["metadata"]["name"] for o in secrets} == {"alertmanager-receivers"}
    manifests = _objects(_applies(standins)[2])
    settings = next(o for o in manifests if o["metadata"]["name"].startswith("finops-settings"))
    assert settings["data"]["CLUSTER_NAME"] == "dev-1"


def test_eks_needs_external_secrets_and_writes_no_secrets(standins):
    role = "eks.secretsRoleArn=arn:aws:iam::123456789012:role/finops-secrets"
    standins.on("kubectl", "current-context", stdout="arn:aws:eks:us-east-1:1:cluster/prod\n")
    result = _deploy(standins, "--target", "eks", "--set", role)
    assert result.returncode == 1
    assert "External Secrets Operator is not installed" in result.stderr
    assert not _applies(standins)

    standins.log.unlink()
    standins.on(
        "kubectl",
        "get",
        "crd",
        stdout="customresourcedefinition/externalsecrets.external-secrets.io\n",
    )
    result = _deploy(standins, "--target", "eks", "--set", role)
    assert result.returncode == 0, result.stderr
    applies = _applies(standins)
    assert len(applies) == 2  # namespaces, manifests: secrets come from AWS Secrets Manager
    context = ["--context", "arn:aws:eks:us-east-1:1:cluster/prod"]
    calls = [c["argv"] for c in standins.calls("kubectl")]
    assert calls[0] == ["config", "current-context"]
    assert all(a[:2] == context for a in calls[1:] if a[0] != "kustomize")
    kinds = {o["kind"] for o in _objects(applies[1])}
    assert {"ExternalSecret", "SecretStore", "StorageClass"} <= kinds


def test_eks_without_role_is_a_usage_error(standins):
    result = _deploy(standins, "--target", "eks")
    assert result.returncode == 2
    assert "eks.secretsRoleArn" in result.stderr
    assert not standins.calls()


def test_multi_cluster_needs_object_storage(standins):
    result = _deploy(standins, "--target", "generic", "--context", "dev", "--multi-cluster")
    assert result.returncode == 2
    assert "--multi-cluster needs object storage" in result.stderr

    standins.log.unlink()
    result = _deploy(
        standins,
        "--target",
        "generic",
        "--context",
        "dev",
        "--multi-cluster",
        "--set",
        "thanos.bucket=metrics",
        "--set",
        "thanos.endpoint=minio.storage:9000",
        env={"FINOPS_DEPLOY_THANOS_SECRET_KEY": "minio-secret-key-42"},
    )
    assert result.returncode == 0, result.stderr
    secrets = {o["metadata"]["name"]: o for o in _objects(_applies(standins)[1])}
    objstore = yaml.safe_load(base64.b64decode(secrets["thanos-objstore"]["data"]["objstore.yml"]))
    assert objstore == {
        "type": "S3",
        "config": {
            "bucket": "metrics",
            "endpoint": "minio.storage:9000",
            "secret_key": "minio-secret-key-42",
        },
    }
    assert "minio-secret-key-42" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope=1"], "unknown --set key 'nope'"),
        (["--set", "novalue"], "invalid --set: expected KEY=VALUE"),
        (
            ["--set", "grafana.adminPassword=tooshort"],
            "invalid --set grafana.adminPassword: must be at least 12",
        ),
        (["--set", "prometheus.retention=forever"], "invalid --set prometheus.retention"),
        (["--set", "budget.research=-5"], "invalid --set budget.research"),
        (["--set", "eks.region=us-east-1"], "--set eks.region does not apply to --target generic"),
        (["--create-cluster", "--context", "x"], "--create-cluster only works with --target kind"),
        (
            ["--set", "gpu.dra=true", "--set", "gpu.virtual_gpus=true"],
            "--set gpu.dra=true and gpu.virtual_gpus=true cannot be combined: dcgm-exporter "
            "skips DRA claim mapping when virtual GPUs are on",
        ),
    ],
)
def test_usage_errors(standins, args, message):
    result = _deploy(standins, "--target", "generic", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "tooshort" not in result.stderr  # a secret's value is never echoed
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_target_is_a_usage_error(standins):
    result = _deploy(standins, "--context", "x")
    assert result.returncode == 2
    assert "choose a target" in result.stderr


def _workloads(ready: bool) -> str:
    items = [
        {
            "kind": "Deployment",
            "metadata": {"namespace": "finops-monitoring", "name": "grafana"},
            "spec": {"replicas": 1},
            "status": {"readyReplicas": 1 if ready else 0},
        },
        {
            "kind": "StatefulSet",
            "metadata": {"namespace": "finops-monitoring", "name": "prometheus"},
            "spec": {"replicas": 1},
            "status": {"readyReplicas": 1},
        },
    ]
    return json.dumps({"items": items})


def test_status_reports_workloads(standins):
    standins.on("kubectl", "get", "namespace", stdout="namespace/finops-monitoring\n")
    standins.on("kubectl", "-n", "finops-monitoring", "get", stdout=_workloads(True))
    standins.on("kubectl", "-n", "finops-gpu", "get", stdout=json.dumps({"items": []}))
    result = run_finops("deploy", "status", "--context", "dev", "-o", "json", env=standins.env())
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ready"] is True and doc["context"] == "dev"
    assert [w["name"] for w in doc["workloads"]] == ["grafana", "prometheus"]
    argv = [c["argv"] for c in standins.calls("kubectl")]
    assert argv[0] == [
        "--context",
        "dev",
        "get",
        "namespace",
        "finops-monitoring",
        "-o",
        "name",
        "--ignore-not-found",
    ]
    assert argv[1] == [
        "--context",
        "dev",
        "-n",
        "finops-monitoring",
        "get",
        "deployments,statefulsets,daemonsets",
        "-o",
        "json",
    ]


def test_status_fails_when_not_ready_or_not_deployed(standins):
    standins.on("kubectl", "get", "namespace", stdout="namespace/finops-monitoring\n")
    standins.on("kubectl", "-n", "finops-monitoring", "get", stdout=_workloads(False))
    result = run_finops("deploy", "status", "--context", "dev", "-o", "json", env=standins.env())
    assert result.returncode == 1
    assert json.loads(result.stdout)["ready"] is False
    assert result.stderr.strip() == "finops: error: 1 workload(s) not ready: deployment/grafana"

    empty = make_standins(standins.log.parent / "empty", standins.real_kubectl)
    result = run_finops("deploy", "status", "--context", "dev", env=empty.env())
    assert result.returncode == 1
    assert "the finops stack is not deployed in context 'dev'" in result.stderr


def test_destroy_asks_unless_yes(standins):
    result = run_finops("deploy", "destroy", "--context", "dev", env=standins.env(), input="")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert not standins.calls()
    result = run_finops("deploy", "destroy", "--context", "dev", "--yes", env=standins.env())
    assert result.returncode == 0, result.stderr
    assert [c["argv"] for c in standins.calls("kubectl")] == [
        [
            "--context",
            "dev",
            "delete",
            "namespace",
            "finops-monitoring",
            "finops-gpu",
            "--ignore-not-found",
            "--wait=true",
            "--timeout=300s",
        ],
        [
            "--context",
            "dev",
            "delete",
            "clusterrole,clusterrolebinding,storageclass",
            "-l",
            "app.kubernetes.io/part-of=finops",
            "--ignore-not-found",
        ],
    ]


def test_destroy_failure(standins):
    standins.on(
        "kubectl",
        "delete",
        rc=1,
        stderr="error: You must be logged in to the server (Unauthorized)\n",
    )
    result = run_finops("deploy", "destroy", "--context", "dev", "--yes", env=standins.env())
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "finops: error: kubectl delete namespace failed: You must be logged in to the server "
        "(Unauthorized)"
    )


def test_port_forward_runs_kubectl_per_service(standins):
    result = run_finops(
        "deploy",
        "port-forward",
        "--context",
        "dev",
        "-s",
        "grafana",
        "-s",
        "prometheus",
        env=standins.env(),
    )
    assert result.returncode == 0, result.stderr
    argv = sorted(c["argv"] for c in standins.calls("kubectl"))
    assert argv == [
        [
            "--context",
            "dev",
            "-n",
            "finops-monitoring",
            "port-forward",
            "--address=127.0.0.1",
            "svc/grafana",
            "3000:3000",
        ],
        [
            "--context",
            "dev",
            "-n",
            "finops-monitoring",
            "port-forward",
            "--address=127.0.0.1",
            "svc/prometheus",
            "9090:9090",
        ],
    ]
    assert "grafana: http://127.0.0.1:3000" in result.stdout


def test_port_forward_failure(standins):
    standins.on(
        "kubectl",
        "port-forward",
        rc=1,
        stderr='error: services "grafana" not found\n',
    )
    result = run_finops(
        "deploy", "port-forward", "--context", "dev", "-s", "grafana", env=standins.env()
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'finops: error: kubectl port-forward svc/grafana failed: services "grafana" not found'
    )


def test_generate_check_passes_on_the_committed_tree():
    result = run_finops("deploy", "generate", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "generated files are up to date\n"

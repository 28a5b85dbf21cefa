"""What ``finops deploy`` does against a cluster: prerequisites, Secrets, apply, wait, report.

Every step goes through ``kubectl``/``kind`` (``finops_cli.deploy.tools``), always with an
explicit ``--context``, so the cluster touched is the one named on the first line of output.
"""

from __future__ import annotations

import base64
import json
import secrets as token
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from finops_cli.deploy import tools
from finops_cli.deploy.generate import dump_yaml
from finops_cli.deploy.promconfig import GPU_NAMESPACE, MONITORING_NAMESPACE
from finops_cli.deploy.render import PART_OF, RenderRequest, dump_stream, parse_stream, render
from finops_cli.errors import FinopsError, SourceError, UsageError

KIND_NODE_IMAGE = "kindest/node:v1.31.2"
DEFAULT_KIND_CLUSTER = "finops"
FIELD_MANAGER = "finops"
NAMESPACES = (MONITORING_NAMESPACE, GPU_NAMESPACE)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
ESO_CRD = "externalsecrets.external-secrets.io"
GRAFANA_SECRET = "grafana-admin"
RECEIVERS_SECRET = "alertmanager-receivers"
THANOS_SECRET = "thanos-objstore"
RECEIVER_KEYS = {
    "alertmanager.slackWebhookUrl": "slack-webhook-url",
    "alertmanager.pagerdutyRoutingKey": "pagerduty-routing-key",
    "alertmanager.webhookToken": "webhook-token",
}
PORT_FORWARDS = {  # service -> (local port, service port, what it is)
    "grafana": (3000, 3000, "Grafana (user admin)"),
    "prometheus": (9090, 9090, "Prometheus: finops --prometheus-url http://localhost:9090"),
    "opencost": (9003, 9003, "OpenCost API: finops --opencost-url http://localhost:9003"),
    "alertmanager": (9093, 9093, "Alertmanager"),
}
PASSWORD_COMMAND = (
    f"kubectl --context {{context}} -n {MONITORING_NAMESPACE} get secret {GRAFANA_SECRET} "
    "-o jsonpath='{{.data.admin-password}}' | base64 -d"
)


@dataclass
class Ui:
    """Progress and notices on stderr; silent when ``quiet`` or when stderr is not a terminal."""

    quiet: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def note(self, message: str) -> None:
        self.notices.append(message)
        if not self.quiet:
            sys.stderr.write(f"finops: {message}\n")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        if not self.live:
            yield
            return
        from rich.console import Console

        with Console(stderr=True).status(f"{what}…"):
            yield


@dataclass(frozen=True)
class DeployOptions:
    request: RenderRequest
    context: str | None = None
    dry_run: bool = False
    create_cluster: bool = False
    wait_timeout_s: int = 600


@dataclass(frozen=True)
class Workload:
    namespace: str
    kind: str
    name: str
    ready: int
    desired: int

    @property
    def is_ready(self) -> bool:
        return self.ready >= self.desired


def _secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": MONITORING_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "finops"},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def _apply(kubectl: tools.Tool, objects: Sequence[dict[str, Any]], what: str) -> None:
    """Server-side apply, manifests on stdin (Secrets never touch the disk or the command line)."""
    kubectl.run(
        [
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "--force-conflicts",
            "-f",
            "-",
        ],
        stdin=dump_stream(list(objects)),
        what=f"kubectl apply ({what})",
        timeout=300,
    )


def resolve_context(opts: DeployOptions, ui: Ui) -> str:
    """The kube context to use: --context, kind's own for --target kind, else the current one."""
    target = opts.request.target
    if target == "kind":
        name = opts.request.values.get("kind.clusterName") or DEFAULT_KIND_CLUSTER
        ensure_kind_cluster(name, opts.create_cluster, ui)
        return opts.context or f"kind-{name}"
    if opts.create_cluster:
        raise UsageError("--create-cluster only works with --target kind")
    if opts.context:
        return opts.context
    result = tools.kubectl().run(["config", "current-context"], what="kubectl config", check=False)
    current = result.stdout.strip()
    if result.returncode != 0 or not current:
        raise UsageError("no current kube context: pass --context NAME")
    return current


def ensure_kind_cluster(name: str, create: bool, ui: Ui) -> None:
    try:
        kind = tools.kind()
    except FinopsError:
        if create:
            raise
        return  # no kind binary: the context check below tells whether the cluster is there
    clusters = kind.run(["get", "clusters"], what="kind get clusters").stdout.split()
    if name in clusters:
        return
    if not create:
        raise FinopsError(
            f"kind cluster {name!r} does not exist: rerun with --create-cluster to create it"
        )
    with ui.step(f"Creating kind cluster {name}"):
        kind.run(
            ["create", "cluster", "--name", name, "--image", KIND_NODE_IMAGE, "--wait", "120s"],
            what="kind create cluster",
            timeout=600,
        )
    ui.note(f"created kind cluster {name}")


def check_reachable(kubectl: tools.Tool, context: str) -> None:
    result = kubectl.run(
        ["get", "--raw", "/version", "--request-timeout=15s"], check=False, timeout=30
    )
    if result.returncode != 0:
        cause = tools.cause(result)
        raise SourceError(f"kube context {context!r} is not reachable: {cause}")


def _existing_secret(kubectl: tools.Tool, name: str) -> dict[str, str] | None:
    result = kubectl.run(
        ["-n", MONITORING_NAMESPACE, "get", "secret", name, "-o", "json", "--ignore-not-found"],
        what=f"kubectl get secret {name}",
    )
    if not result.stdout.strip():
        return None
    data = json.loads(result.stdout).get("data") or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def secrets_to_create(
    opts: DeployOptions, kubectl: tools.Tool | None, ui: Ui
) -> list[dict[str, Any]]:
    """The Secrets this deployment needs from us (none on eks: External Secrets syncs them).

    Existing values are kept: the Grafana password is generated once, and receivers only change
    when a new value is given.
    """
    v = opts.request.values
    if opts.request.target == "eks":
        return []
    out = []
    password = v.secrets.get("grafana.adminPassword")
    existing = _existing_secret(kubectl, GRAFANA_SECRET) if kubectl else None
    if password is not None or existing is None:
        out.append(_secret(GRAFANA_SECRET, {"admin-password": password or token.token_urlsafe(24)}))
    given = {k: v.secrets[s] for s, k in RECEIVER_KEYS.items() if s in v.secrets}
    receivers = _existing_secret(kubectl, RECEIVERS_SECRET) if kubectl else None
    if given or receivers is None:
        data = {k: "" for k in RECEIVER_KEYS.values()} | (receivers or {}) | given
        out.append(_secret(RECEIVERS_SECRET, data))
        missing = [s for s, k in RECEIVER_KEYS.items() if not data.get(k)]
        if missing:
            ui.note(
                "not configured (their notifications will fail until set with --set or "
                f"FINOPS_DEPLOY_*): {', '.join(missing)}"
            )
    if opts.request.multi_cluster:
        thanos = _existing_secret(kubectl, THANOS_SECRET) if kubectl else None
        if thanos is None or "thanos.bucket" in v.values:
            out.append(_secret(THANOS_SECRET, {"objstore.yml": objstore_config(opts)}))
    return out


def secret_names(opts: DeployOptions) -> list[str]:
    """The Secrets ``finops deploy`` writes for this target (their values are never shown)."""
    if opts.request.target == "eks":
        return []
    names = [GRAFANA_SECRET, RECEIVERS_SECRET]
    return [*names, THANOS_SECRET] if opts.request.multi_cluster else names


def objstore_config(opts: DeployOptions) -> str:
    v = opts.request.values
    bucket, endpoint = v.get("thanos.bucket"), v.get("thanos.endpoint")
    if not bucket or not endpoint:
        raise UsageError(
            "--multi-cluster needs object storage: --set thanos.bucket=NAME "
            "--set thanos.endpoint=HOST[:PORT] (and thanos.accessKey/thanos.secretKey)"
        )
    config: dict[str, Any] = {"bucket": bucket, "endpoint": endpoint}
    if v.get("thanos.region"):
        config["region"] = v.get("thanos.region")
    if v.get("thanos.insecure") == "true":
        config["insecure"] = True
    if "thanos.accessKey" in v.secrets:
        config["access_key"] = v.secrets["thanos.accessKey"]
    if "thanos.secretKey" in v.secrets:
        config["secret_key"] = v.secrets["thanos.secretKey"]
    return dump_yaml({"type": "S3", "config": config})


def _check_required(opts: DeployOptions) -> None:
    v = opts.request.values
    if opts.request.target == "eks" and not v.get("eks.secretsRoleArn"):
        raise UsageError(
            "--target eks needs --set eks.secretsRoleArn=arn:aws:iam::ACCOUNT:role/NAME "
            "(the role External Secrets assumes to read finops/* from Secrets Manager)"
        )


def workloads(objects: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (o["metadata"].get("namespace", ""), o["kind"], o["metadata"]["name"])
        for o in objects
        if o.get("kind") in WORKLOAD_KINDS
    ]


def wait_for_rollouts(
    kubectl: tools.Tool, objects: Sequence[dict[str, Any]], timeout_s: int, ui: Ui
) -> None:
    items = workloads(objects)
    deadline = time.monotonic() + timeout_s
    progress = None
    task = None
    if ui.live:
        from rich.progress import BarColumn, Progress, TextColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            transient=True,
        )
        progress.start()
        task = progress.add_task("Waiting for rollouts", total=len(items))
    try:
        for namespace, kind, name in items:
            if progress is not None and task is not None:
                progress.update(task, description=f"Waiting for {kind.lower()}/{name}")
            left = max(1, int(deadline - time.monotonic()))
            result = kubectl.run(
                [
                    "-n",
                    namespace,
                    "rollout",
                    "status",
                    f"{kind.lower()}/{name}",
                    f"--timeout={left}s",
                ],
                check=False,
                timeout=left + 30,
            )
            if result.returncode != 0:
                raise SourceError(
                    f"{kind.lower()}/{name} in {namespace} did not become ready: "
                    f"{tools.cause(result)} (see: kubectl -n {namespace} describe "
                    f"{kind.lower()} {name})"
                )
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()


def access_text(context: str, services: Sequence[str] = tuple(PORT_FORWARDS)) -> str:
    lines = [
        f"finops monitoring stack deployed to context {context} (namespace {MONITORING_NAMESPACE})",
        "",
        f"Reach it with:  finops deploy port-forward --context {context}",
        "or one service at a time:",
    ]
    for svc in services:
        local, port, what = PORT_FORWARDS[svc]
        lines.append(
            f"  kubectl --context {context} -n {MONITORING_NAMESPACE} port-forward "
            f"svc/{svc} {local}:{port}   # http://localhost:{local}  {what}"
        )
    lines += [
        "",
        "Grafana admin password:",
        "  " + PASSWORD_COMMAND.format(context=context),
        "",
    ]
    return "\n".join(lines)


def deploy(opts: DeployOptions, ui: Ui, out: Callable[[str], None]) -> None:
    """Render, then (unless dry-run) check, create Secrets, apply, wait and say how to reach it."""
    base = tools.kubectl()
    if opts.dry_run:
        with ui.step("Rendering manifests"):
            stream = render(opts.request, base)
        out(stream)
        names = secret_names(opts)
        if names:
            ui.note(f"dry run: would also create the Secrets {', '.join(names)} (values not shown)")
        if opts.request.target == "eks" and not opts.request.values.get("eks.secretsRoleArn"):
            ui.note("dry run: --target eks will need --set eks.secretsRoleArn=...")
        return
    _check_required(opts)
    context = resolve_context(opts, ui)
    kubectl = tools.kubectl(context)
    with ui.step(f"Checking context {context}"):
        check_reachable(kubectl, context)
        if opts.request.target == "eks":
            found = kubectl.run(
                ["get", "crd", ESO_CRD, "-o", "name", "--ignore-not-found"], what="kubectl get crd"
            )
            if not found.stdout.strip():
                raise FinopsError(
                    f"External Secrets Operator is not installed in context {context!r} (no CRD "
                    f"{ESO_CRD}): install it first (see docs/deployment.md)"
                )
    with ui.step("Rendering manifests"):
        objects = parse_stream(render(opts.request, base))
    created = secrets_to_create(opts, kubectl, ui)  # before any change: may refuse the settings
    namespaces = [o for o in objects if o.get("kind") == "Namespace"]
    with ui.step("Creating namespaces"):
        _apply(kubectl, namespaces, "namespaces")
    if created:
        with ui.step("Writing Secrets"):
            _apply(kubectl, created, "secrets")
    with ui.step(f"Applying {len(objects)} objects"):
        _apply(kubectl, objects, "manifests")
    wait_for_rollouts(kubectl, objects, opts.wait_timeout_s, ui)
    out(access_text(context))


def status(context: str | None) -> tuple[str, list[Workload]]:
    ctx = context or _current_context()
    kubectl = tools.kubectl(ctx)
    found = kubectl.run(
        ["get", "namespace", MONITORING_NAMESPACE, "-o", "name", "--ignore-not-found"],
        what="kubectl get namespace",
    )
    if not found.stdout.strip():
        raise FinopsError(
            f"the finops stack is not deployed in context {ctx!r} (no namespace "
            f"{MONITORING_NAMESPACE}): run finops deploy --target kind|eks|generic"
        )
    rows: list[Workload] = []
    for namespace in NAMESPACES:
        result = kubectl.run(
            ["-n", namespace, "get", "deployments,statefulsets,daemonsets", "-o", "json"],
            what="kubectl get workloads",
        )
        for item in json.loads(result.stdout or "{}").get("items", []):
            rows.append(_workload(item))
    return ctx, rows


def _workload(item: dict[str, Any]) -> Workload:
    kind = item.get("kind", "")
    st = item.get("status") or {}
    if kind == "DaemonSet":
        desired, ready = st.get("desiredNumberScheduled", 0), st.get("numberReady", 0)
    else:
        desired = (item.get("spec") or {}).get("replicas", 1)
        ready = st.get("readyReplicas", 0)
    meta = item.get("metadata") or {}
    return Workload(meta.get("namespace", ""), kind, meta.get("name", ""), ready, desired)


def _current_context() -> str:
    result = tools.kubectl().run(["config", "current-context"], check=False)
    current = result.stdout.strip()
    if result.returncode != 0 or not current:
        raise UsageError("no current kube context: pass --context NAME")
    return current


def destroy(context: str | None, ui: Ui) -> str:
    ctx = context or _current_context()
    kubectl = tools.kubectl(ctx)
    with ui.step("Deleting namespaces"):
        kubectl.run(
            [
                "delete",
                "namespace",
                *NAMESPACES,
                "--ignore-not-found",
                "--wait=true",
                "--timeout=300s",
            ],
            what="kubectl delete namespace",
            timeout=360,
        )
    with ui.step("Deleting cluster-wide objects"):
        kubectl.run(
            [
                "delete",
                "clusterrole,clusterrolebinding,storageclass",
                "-l",
                PART_OF,
                "--ignore-not-found",
            ],
            what="kubectl delete",
        )
    return ctx


def port_forward(
    context: str | None, services: Sequence[str], address: str, out: Callable[[str], None]
) -> None:
    """Forward every service until interrupted, one forward fails, or all have ended."""
    ctx = context or _current_context()
    kubectl = tools.kubectl(ctx)
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        for svc in services:
            local, port, what = PORT_FORWARDS[svc]
            cmd = [
                kubectl.path,
                *kubectl.base_args,
                "-n",
                MONITORING_NAMESPACE,
                "port-forward",
                f"--address={address}",
                f"svc/{svc}",
                f"{local}:{port}",
            ]
            procs.append(
                (
                    svc,
                    subprocess.Popen(
                        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                    ),
                )
            )
            out(f"{svc}: http://{address}:{local}  {what}\n")
        out(f"forwarding from context {ctx}; Ctrl-C to stop\n")
        while True:
            running = 0
            for svc, proc in procs:
                code = proc.poll()
                if code is None:
                    running += 1
                elif code != 0:
                    err = proc.stderr.read() if proc.stderr else ""
                    result = subprocess.CompletedProcess(proc.args, code, "", err)
                    raise SourceError(
                        f"kubectl port-forward svc/{svc} failed: {tools.cause(result)}"
                    )
            if not running:  # every forward ended cleanly (kubectl exits 0 when its pod goes)
                return
            time.sleep(0.2)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()

"""Deploy-time settings: ``--set key=value`` and ``FINOPS_DEPLOY_*`` environment variables.

Every key is declared here with its validation and whether it is a secret. Secrets only ever go
into Kubernetes Secrets (piped to ``kubectl`` on stdin): never into the rendered manifests, a file
on disk or any output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from finops_cli.errors import UsageError

ENV_PREFIX = "FINOPS_DEPLOY_"
BUDGET_PREFIX = "budget."

_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?$")
_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d|w|y)$")
_QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_TEAM = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _name(value: str) -> str | None:
    return None if _NAME.match(value) else "must be 1-63 letters, digits, '-', '_' or '.'"


def _duration(value: str) -> str | None:
    return None if _DURATION.match(value) else "must be a duration such as 15d or 720h"


def _quantity(value: str) -> str | None:
    return None if _QUANTITY.match(value) else "must be a size such as 50Gi"


def _price(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "must be a number (USD per hour)"
    return None if 0 <= number < float("inf") else "must be >= 0"


def _https(value: str) -> str | None:
    return None if value.startswith("https://") and len(value) > 8 else "must be an https:// URL"


def _url(value: str) -> str | None:
    ok = value.startswith(("http://", "https://")) and " " not in value
    return None if ok else "must be an http(s):// URL"


def _arn(value: str) -> str | None:
    return None if _ROLE_ARN.match(value) else "must be an IAM role ARN (arn:aws:iam::ID:role/NAME)"


def _region(value: str) -> str | None:
    return None if _REGION.match(value) else "must be an AWS region such as us-east-1"


def _bool(value: str) -> str | None:
    return None if value in ("true", "false") else "must be true or false"


def _password(value: str) -> str | None:
    if value.lower() in {"admin", "password", "changeme"}:
        return "is a well-known default: choose another"
    return None if len(value) >= 12 else "must be at least 12 characters"


def _nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


@dataclass(frozen=True)
class Spec:
    help: str
    check: Callable[[str], str | None] = _nonempty
    secret: bool = False
    targets: frozenset[str] | None = None  # None: every target


_NOT_EKS = frozenset({"kind", "generic"})
_EKS = frozenset({"eks"})
_GPU_NODES = frozenset({"eks", "generic"})  # kind runs the mock exporter, not dcgm-exporter

SPECS: dict[str, Spec] = {
    "cluster.name": Spec(
        "Cluster name (Prometheus external label `cluster`, OpenCost's ID).", _name
    ),
    "prometheus.retention": Spec("How long Prometheus keeps raw samples (default 15d).", _duration),
    "prometheus.storage": Spec("Prometheus volume size (default 50Gi; 5Gi on kind).", _quantity),
    "grafana.adminPassword": Spec(
        "Grafana admin password (default: generated once, kept in the Secret).",
        _password,
        secret=True,
        targets=_NOT_EKS,
    ),
    "alertmanager.slackWebhookUrl": Spec(
        "Slack incoming-webhook URL.", _https, secret=True, targets=_NOT_EKS
    ),
    "alertmanager.pagerdutyRoutingKey": Spec(
        "PagerDuty Events v2 routing key.", secret=True, targets=_NOT_EKS
    ),
    "alertmanager.webhookToken": Spec(
        "Bearer token sent to the webhook receiver.", secret=True, targets=_NOT_EKS
    ),
    "alertmanager.webhookUrl": Spec("Webhook receiver URL (not secret).", _url),
    "opencost.cpuHourlyCost": Spec(
        "Custom price: USD per CPU core-hour.", _price, targets=_NOT_EKS
    ),
    "opencost.ramGiBHourlyCost": Spec("Custom price: USD per GiB-hour.", _price, targets=_NOT_EKS),
    "opencost.gpuHourlyCost": Spec("Custom price: USD per GPU-hour.", _price, targets=_NOT_EKS),
    "thanos.bucket": Spec("Object-storage bucket (multi-cluster).", targets=_NOT_EKS),
    "thanos.endpoint": Spec("S3-compatible endpoint host[:port].", targets=_NOT_EKS),
    "thanos.region": Spec("Bucket region.", targets=_NOT_EKS),
    "thanos.insecure": Spec("Plain HTTP to the endpoint (MinIO on kind).", _bool, targets=_NOT_EKS),
    "thanos.accessKey": Spec("S3 access key.", secret=True, targets=_NOT_EKS),
    "thanos.secretKey": Spec("S3 secret key.", secret=True, targets=_NOT_EKS),
    "thanos.compactor": Spec("Run the compactor here (one cluster per bucket).", _bool),
    "eks.region": Spec("AWS region of Secrets Manager (default us-east-1).", _region, targets=_EKS),
    "eks.secretsRoleArn": Spec(
        "IAM role External Secrets assumes to read finops/* (required on eks).", _arn, targets=_EKS
    ),
    "eks.opencostRoleArn": Spec("IAM role for OpenCost (spot feed, CUR).", _arn, targets=_EKS),
    "eks.thanosRoleArn": Spec(
        "IAM role for Thanos' S3 access (multi-cluster).", _arn, targets=_EKS
    ),
    "gpu.dra": Spec(
        "Label GPU metrics with DRA ResourceClaims (gives dcgm-exporter an API token and read "
        "access to ResourceSlices; default false).",
        _bool,
        targets=_GPU_NODES,
    ),
    "gpu.virtual_gpus": Spec(
        "One copy of each GPU series per pod sharing a time-sliced/MPS GPU (dcgm-exporter "
        "KUBERNETES_VIRTUAL_GPUS; adds per-process series with pod_uid; not with gpu.dra; "
        "default false).",
        _bool,
        targets=_GPU_NODES,
    ),
    "kind.clusterName": Spec(
        "kind cluster name (default finops).", _name, targets=frozenset({"kind"})
    ),
}


def env_name(key: str) -> str:
    """``grafana.adminPassword`` -> ``FINOPS_DEPLOY_GRAFANA_ADMIN_PASSWORD``."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).replace(".", "_")
    return ENV_PREFIX + snake.upper()


@dataclass(frozen=True)
class DeployValues:
    """Validated settings: plain ``values``, ``secrets`` (never shown) and team ``budgets``."""

    target: str
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    budgets: dict[str, float] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def __repr__(self) -> str:
        return (
            f"DeployValues(target={self.target!r}, values={self.values!r}, "
            f"secrets={sorted(self.secrets)!r}, budgets={self.budgets!r})"
        )


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UsageError("invalid --set: expected KEY=VALUE")
    return key.strip(), value


def parse_values(
    target: str, sets: Iterable[str], env: Mapping[str, str] | None = None
) -> DeployValues:
    """Flags over environment; unknown keys, bad values and wrong targets are usage errors.

    Messages name the key, never a secret's value.
    """
    raw: dict[str, str] = {}
    for key in SPECS:
        if env and env.get(env_name(key)):
            raw[key] = env[env_name(key)]
    budgets: dict[str, float] = {}
    for item in sets:
        key, value = _split(item)
        if key.startswith(BUDGET_PREFIX):
            team = key[len(BUDGET_PREFIX) :]
            if not _TEAM.match(team):
                raise UsageError(f"invalid --set {key}: the team must be a Kubernetes label value")
            if _price(value) is not None:
                raise UsageError(f"invalid --set {key}: must be a monthly amount in USD (>= 0)")
            budgets[team] = float(value)
            continue
        if key not in SPECS:
            known = ", ".join([*SPECS, "budget.TEAM"])
            raise UsageError(f"unknown --set key {key!r}; known keys: {known}")
        raw[key] = value
    values: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in raw.items():
        spec = SPECS[key]
        if spec.targets is not None and target not in spec.targets:
            if spec.secret and target == "eks":
                raise UsageError(
                    f"--set {key} is not accepted with --target eks: secrets come from AWS "
                    "Secrets Manager through External Secrets (see docs/deployment.md)"
                )
            raise UsageError(f"--set {key} does not apply to --target {target}")
        problem = spec.check(value)
        if problem is not None:
            raise UsageError(f"invalid --set {key}: {problem}")
        (secrets if spec.secret else values)[key] = value
    if values.get("gpu.dra") == "true" and values.get("gpu.virtual_gpus") == "true":
        raise UsageError(
            "--set gpu.dra=true and gpu.virtual_gpus=true cannot be combined: dcgm-exporter "
            "skips DRA claim mapping when virtual GPUs are on"
        )
    return DeployValues(target, values, secrets, budgets)

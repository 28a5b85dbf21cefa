"""``--set`` / FINOPS_DEPLOY_* parsing: validation, targets, secrets kept apart and unprinted."""

from __future__ import annotations

import pytest

from finops_cli.deploy.values import SPECS, env_name, parse_values
from finops_cli.errors import UsageError


def test_flags_override_environment_and_secrets_are_kept_apart():
    env = {
        "FINOPS_DEPLOY_CLUSTER_NAME": "from-env",
        "FINOPS_DEPLOY_GRAFANA_ADMIN_PASSWORD": "correct-horse-battery",
    }
    v = parse_values("kind", ["cluster.name=from-flag", "budget.research=1200.5"], env)
    assert v.values == {"cluster.name": "from-flag"}
    assert v.secrets == {"grafana.adminPassword": "correct-horse-battery"}
    assert v.budgets == {"research": 1200.5}
    assert "correct-horse-battery" not in repr(v)


def test_env_names():
    assert env_name("grafana.adminPassword") == "FINOPS_DEPLOY_GRAFANA_ADMIN_PASSWORD"
    assert env_name("eks.secretsRoleArn") == "FINOPS_DEPLOY_EKS_SECRETS_ROLE_ARN"
    assert len({env_name(k) for k in SPECS}) == len(SPECS)


@pytest.mark.parametrize(
    ("target", "item", "message"),
    [
        ("kind", "grafana.adminPassword=PASSWORD", "well-known default"),
        ("kind", "grafana.adminPassword=short-pw", "at least 12"),
        ("kind", "alertmanager.slackWebhookUrl=http://insecure", "https://"),
        ("eks", "eks.secretsRoleArn=role/x", "IAM role ARN"),
        ("eks", "alertmanager.slackWebhookUrl=https://hooks", "not accepted with --target eks"),
        ("generic", "kind.clusterName=x", "does not apply"),
        ("generic", "opencost.gpuHourlyCost=nan", ">= 0"),
        ("generic", "prometheus.storage=50GB", "size such as 50Gi"),
        ("generic", "budget.bad team=1", "Kubernetes label value"),
        ("generic", "thanos.insecure=yes", "true or false"),
        ("kind", "gpu.virtual_gpus=true", "does not apply to --target kind"),
        ("generic", "gpu.virtual_gpus=on", "true or false"),
    ],
)
def test_invalid_values(target, item, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_values(target, [item])
    secret = item.partition("=")[2]
    if SPECS.get(item.partition("=")[0]) and SPECS[item.partition("=")[0]].secret:
        assert secret not in str(err.value)


@pytest.mark.parametrize("target", ["eks", "generic"])
def test_virtual_gpus_and_dra_are_refused_together(target):
    """dcgm-exporter skips DRA claim mapping in virtual-GPU mode: one line says so."""
    with pytest.raises(UsageError, match="cannot be combined") as err:
        parse_values(target, ["gpu.dra=true", "gpu.virtual_gpus=true"])
    assert "\n" not in str(err.value)
    assert "gpu.dra" in str(err.value) and "gpu.virtual_gpus" in str(err.value)
    env = {"FINOPS_DEPLOY_GPU_VIRTUAL_GPUS": "true"}
    with pytest.raises(UsageError, match="cannot be combined"):
        parse_values(target, ["gpu.dra=true"], env)  # the same through the environment
    # Either alone, or both with one false, is fine.
    assert parse_values(target, ["gpu.virtual_gpus=true"]).get("gpu.virtual_gpus") == "true"
    parse_values(target, ["gpu.dra=true", "gpu.virtual_gpus=false"])
    parse_values(target, ["gpu.dra=false", "gpu.virtual_gpus=true"])


def test_virtual_gpus_env_name():
    assert env_name("gpu.virtual_gpus") == "FINOPS_DEPLOY_GPU_VIRTUAL_GPUS"
    v = parse_values("generic", [], {"FINOPS_DEPLOY_GPU_VIRTUAL_GPUS": "true"})
    assert v.values == {"gpu.virtual_gpus": "true"}

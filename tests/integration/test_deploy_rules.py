"""The generated Prometheus rules and configuration, and the Alertmanager configuration, checked
by the real tools: ``promtool check config|rules``, ``promtool test rules`` (every recording and
alerting rule unit-tested with real-shaped series) and ``amtool check-config`` / route tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from finops_cli.deploy import rules
from finops_cli.deploy.generate import dump_yaml
from finops_cli.deploy.paths import checkout_manifests_dir
from finops_cli.deploy.promconfig import prometheus_config
from finops_cli.queries import recorded_sharing
from finops_cli.queries.sharing import Sharing
from tests.deploy import rule_cases
from tests.support.tools import require_tool

MANIFESTS = checkout_manifests_dir()
RULES = MANIFESTS / "base/prometheus/rules" / rules.RULES_FILE
BUDGETS = MANIFESTS / "base/prometheus/rules" / rules.BUDGETS_FILE
PROMETHEUS_YML = MANIFESTS / "base/prometheus/prometheus.yml"
ALERTMANAGER_YML = MANIFESTS / "base/alertmanager/alertmanager.yml"


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    # A guard against a hung tool, not a speed test: promtool evaluates the ledger's unit tests
    # (25 hours of one-minute samples, every rule each minute) in about 2 CPU-minutes here.
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)


def test_promtool_check_rules(tmp_path):
    promtool = require_tool("promtool")
    budgets = tmp_path / "budgets.rules.yaml"
    budgets.write_text(dump_yaml(rules.budgets_document({"research": 50000, "nlp-team": 1.5})))
    result = _run([promtool, "check", "rules", str(RULES), str(BUDGETS), str(budgets)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


EVERY_SHARING = Sharing(
    node_factors=(  # sorted, as discovery finds them
        (("", "single", "3", "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb"), 3 / 7),
        (("4", "", "", "NVIDIA-A10G"), 0.25),
    ),
    mig_resources=("nvidia_com_mig_1g_10gb", "nvidia_com_mig_3g_40gb"),
    gpu_profiles=("1g.10gb", "3g.40gb"),
    dra_profiles=("2g.20gb",),
    fractions=("0.5", "25%"),
    hami=True,
    dra=True,
    vgpu=True,
    fraction_devices=("2",),
    memories=("20000",),
    per_process=True,
    hami_monitor="hami",
    kai_capped=True,
)
"""Every mode and table ``Sharing`` has: rules made with it hold every share-aware term."""


def test_promtool_check_rules_made_with_a_sharing(tmp_path):
    """The live and backfill ledgers made with shared GPUs (``finops deploy generate
    --sharing-from``, ``finops deploy backfill`` on such a cluster) are valid rule files."""
    promtool = require_tool("promtool")
    live = tmp_path / "live.rules.yaml"
    live.write_text(
        dump_yaml(rules.rules_document(ledger=rules.ledger_context(sharing=EVERY_SHARING)))
    )
    backfill = tmp_path / "backfill.rules.yaml"
    ctx = rules.ledger_context(sample_interval_s=300, sharing=EVERY_SHARING)
    backfill.write_text(dump_yaml(rules.ledger_backfill_document(ctx)))
    result = _run([promtool, "check", "rules", str(live), str(backfill)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2, result.stdout
    info = [r for g in yaml.safe_load(live.read_text())["groups"] for r in g["rules"]]
    (labels,) = [r["labels"] for r in info if r.get("record") == "finops_rules_info"]
    assert recorded_sharing.parse(labels["sharing"]) == EVERY_SHARING


@pytest.mark.parametrize("name", ["main.test.yaml", "anomaly.test.yaml", "ledger.test.yaml"])
def test_promtool_test_rules(tmp_path, name):
    promtool = require_tool("promtool")
    doc = rule_cases.test_files(str(RULES))[name]
    path = tmp_path / name
    path.write_text(dump_yaml(doc))
    result = _run([promtool, "test", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_tested():
    doc = yaml.safe_load(RULES.read_text())
    names = {r.get("record") or r["alert"] for g in doc["groups"] for r in g["rules"]}
    untested = names - rule_cases.tested_names()
    assert not untested, f"rules without a promtool test: {sorted(untested)}"


def test_alerts_cover_what_the_issue_asks_for():
    alerts = {r.name: r for g in rules.alert_groups() for r in g.rules}
    assert alerts["FinopsIdleAllocatedGPU"].for_ == "30m"
    for needed in (
        "FinopsBudgetBurnHigh",
        "FinopsBudgetBurnCritical",
        "FinopsCostAnomaly",
        "FinopsGPUTemperatureHigh",
        "FinopsGPUTemperatureCritical",
        "FinopsGPUXidError",
    ):
        assert needed in alerts
    for alert in alerts.values():
        assert alert.labels["severity"] in {"warning", "critical"}
        assert alert.labels["category"]


def test_rules_read_real_metric_names_and_labels():
    """The seed's bug was rules matching nothing: every metric a rule reads is one an exporter
    really exports (or one these rules record)."""
    import re

    text = RULES.read_text()
    exported = {
        "container_gpu_allocation",
        "node_gpu_hourly_cost",
        "node_gpu_count",
        "kube_pod_labels",
        "kube_node_labels",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "up",
        # the recorded ledger's cost-center grain and CPU+RAM cost (OpenCost, kube-state-metrics)
        "kube_pod_annotations",
        "container_cpu_allocation",
        "container_memory_allocation_bytes",
        "node_cpu_hourly_cost",
        "node_ram_hourly_cost",
        # gpus' and rightsize's recorded statistics (dcgm-exporter, kube-state-metrics)
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "kube_pod_owner",
    }
    recorded = {r.get("record") for g in yaml.safe_load(text)["groups"] for r in g["rules"]}
    read = set(re.findall(r"(?<![\w:\"])([A-Za-z_][\w]*(?::[\w]+)*)(?=\{|\[)", text))
    read -= {"by", "on", "without", "group_left", "vector", "and", "or", "unless"}
    assert read <= exported | recorded, sorted(read - exported - recorded)
    assert "label_ai_finops_io_team" in text  # kube-state-metrics' sanitised pod label
    assert "Hostname" in text and "hostname" in text  # both dcgm-exporter spellings
    assert "vector(time())" not in text


def test_promtool_check_config(tmp_path):
    """promtool validates the whole configuration; Debian's Prometheus is built without
    Kubernetes service discovery, so the inference-pods, hami-scheduler and hami-vgpu-monitor jobs'
    kubernetes_sd_configs are checked here by shape and swapped for file_sd_configs (their
    relabelling is still validated)."""
    promtool = require_tool("promtool")
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert config == prometheus_config()
    swapped = 0
    for job in config["scrape_configs"]:
        for sd in job.pop("kubernetes_sd_configs", []):
            assert sd["role"] in {"pod", "endpoints", "service", "node", "endpointslice"}
            job.setdefault("file_sd_configs", []).append({"files": [str(tmp_path / "pods.json")]})
            swapped += 1
    assert swapped == 3  # inference-pods, hami-scheduler, hami-vgpu-monitor
    (tmp_path / "pods.json").write_text("[]")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "finops.rules.yaml").write_text(RULES.read_text())
    (rules_dir / "budgets.rules.yaml").write_text(BUDGETS.read_text())
    config["rule_files"] = [str(rules_dir / "*.yaml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(dump_yaml(config))
    result = _run([promtool, "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    jobs = {j["job_name"]: j for j in prometheus_config()["scrape_configs"]}
    # dcgm-exporter, OpenCost, kube-state-metrics, HAMi's scheduler and its vGPUmonitor carry
    # the workload's namespace/pod.
    jobs_with_pods = ("dcgm-exporter", "opencost", "kube-state-metrics", "hami-scheduler")
    for job in (*jobs_with_pods, "hami-vgpu-monitor"):
        assert jobs[job].get("honor_labels") is True, job
    assert not jobs["inference-pods"].get("honor_labels")


def test_amtool_check_config():
    amtool = require_tool("amtool")
    result = _run([amtool, "check-config", str(ALERTMANAGER_YML)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "category=gpu-xid"], "pagerduty,slack,webhook"),
        (["severity=warning", "category=budget", "team=nlp"], "slack,webhook"),
        (["severity=info", "category=pipeline"], "webhook"),
    ],
)
def test_alertmanager_routes_reach_every_receiver_they_should(labels, receivers):
    amtool = require_tool("amtool")
    result = _run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_YML}",
            "alertname=FinopsTest",
            *labels,
        ]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def test_alertmanager_inhibits_warnings_by_criticals():
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    (rule,) = config["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    assert {"category", "team", "node", "gpu"} <= set(rule["equal"])
    # Alerts of one category share their identifying labels, so an inhibition can match.
    by_category: dict[str, set[str]] = {}
    for group in rules.alert_groups():
        for alert in group.rules:
            by_category.setdefault(alert.labels["category"], set()).add(alert.labels["severity"])
    assert by_category["gpu-temperature"] == {"warning", "critical"}
    assert by_category["budget"] == {"warning", "critical"}
    secrets_dir = Path("/etc/alertmanager/secrets")
    for receiver in config["receivers"]:
        for kind in receiver:
            for cfg in receiver[kind] if isinstance(receiver[kind], list) else []:
                files = [v for k, v in cfg.items() if k.endswith("_file")]
                files += [
                    v
                    for k, v in cfg.get("http_config", {}).get("authorization", {}).items()
                    if k.endswith("_file")
                ]
                assert files and all(Path(f).parent == secrets_dir for f in files), receiver["name"]

"""kube-state-metrics must export every label the cost model reads: the manifest's allowlists
are the ones ``finops_cli.deploy.promconfig`` builds from the same label lists."""

from __future__ import annotations

from pathlib import Path

from finops_cli.deploy.promconfig import ksm_annotation_allowlist, ksm_label_allowlist
from finops_cli.queries import CAPACITY_LABELS, INSTANCE_TYPE_LABEL, REGION_LABEL

DEPLOYMENT = (
    Path(__file__).resolve().parents[2] / "manifests/base/kube-state-metrics/deployment.yaml"
)


def test_manifest_allowlists_match_the_library():
    text = DEPLOYMENT.read_text()
    assert f"--metric-labels-allowlist={ksm_label_allowlist()}" in text
    assert f"--metric-annotations-allowlist={ksm_annotation_allowlist()}" in text


def test_every_node_label_the_queries_read_is_allowlisted():
    from finops_cli.labels import kube_label_to_prometheus

    nodes = ksm_label_allowlist().split("nodes=[", 1)[1].rstrip("]").split(",")
    exported = {kube_label_to_prometheus(key) for key in nodes}
    assert {INSTANCE_TYPE_LABEL, REGION_LABEL, *CAPACITY_LABELS} <= exported
    assert "ai-finops.io/interruptible" in ksm_label_allowlist()

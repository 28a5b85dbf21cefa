"""Over-subscribed MIG, KAI and DRA GPUs (issue 19) are scaled, never charged twice.

The sharing fleet (``sample.sharing``) with three misread wires written into its series, each
as the exporters would write it: the single-strategy H100's seven instances requested under a
MIG resource whose profile finops cannot read (``nvidia.com/mig-1c.1g.10gb``, a compute-instance
profile: each counts as a whole GPU, seven on one GPU), a KAI fraction raised past what its GPU
group has (``eval-harness`` at 0.75 next to ``agent-notebook``'s 0.5 on one reservation GPU),
and the DRA MIG devices' profile unreadable (each device a whole GPU, two on one GPU). The
truth is the misread shares scaled the way docs/cost-model.md says: per node for requests
(``node_scale``), per physical GPU for KAI groups and DRA devices, at each instant.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import WorkloadSpec
from finops_cli.sample.sharing import SHARING_NODES, sharing_mode
from finops_cli.sample.truth import GroundTruth, ground_truth
from tests.integration.test_costs_sharing import (
    DRA_MIG,
    END,
    KAI,
    SINGLE,
    START,
    WINDOW,
    _cluster,
    _series,
)
from tests.support.cli import run_finops

NODES = {n.name: n for n in SHARING_NODES}


def _misread(text: str) -> str:
    single = f'node="{SINGLE}",'
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("kube_pod_container_resource_requests{") and single in line:
            lines.append(line.replace('"nvidia_com_gpu"', '"nvidia_com_mig_1c_1g_10gb"'))
        else:
            lines.append(line)
    text = "".join(lines)
    text = text.replace('annotation_gpu_fraction="0.25"', 'annotation_gpu_fraction="0.75"')
    return text.replace('dra_mig_profile="1g.10gb"', 'dra_mig_profile="1c.1g.10gb"')


@pytest.fixture(scope="module")
def oversubscribed(prometheus_from_openmetrics, tmp_path_factory):
    cluster = _cluster(with_opencost=False)
    path = Path(tmp_path_factory.mktemp("sharing-oversubscribed")) / "cluster.om"
    write_openmetrics_file(_series(cluster), path)
    text = path.read_text()
    misread = _misread(text)
    for wire in ("nvidia_com_mig_1c_1g_10gb", 'fraction="0.75"', '"1c.1g.10gb"'):
        assert wire in misread and wire not in text, wire
    path.write_text(misread)
    return prometheus_from_openmetrics(path, "sharing-oversubscribed"), cluster


def _share_of(w: WorkloadSpec) -> float:
    if w.node in (SINGLE, DRA_MIG) and w.gpu_indices:
        return 1.0  # an unreadable MIG profile counts whole
    if w.name == "eval-harness":
        return 0.75
    return w.share


def _per_gpu(w: WorkloadSpec) -> bool:
    return sharing_mode(NODES[w.node], w) in ("kai", "dra", "dra-mig")


def _truth(cluster) -> GroundTruth:
    catalog = load_catalog()

    def catalog_price(node, instants):
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)
        return np.full(len(instants), price.per_gpu_hourly)

    return ground_truth(
        cluster,
        int(START.timestamp()),
        int(END.timestamp()),
        catalog_price,
        share_of=_share_of,
        per_gpu=_per_gpu,
    )


def _costs(url: str, *args: str) -> dict:
    result = run_finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.prometheus
def test_oversubscribed_mig_kai_and_dra_are_scaled_to_the_truth(oversubscribed):
    url, cluster = oversubscribed
    truth = _truth(cluster)
    # The misread shares would charge more than the GPUs: the truth scales them back.
    single = truth.pods[truth.pods["node"] == SINGLE]
    assert (single["gpus"] == 1.0).all() and len(single) > 7
    assert single["gpu_hours"].sum() <= 96 + 1e-6
    for key in ("team", "namespace", "model"):
        doc = _costs(url, "--by", key)
        notes = " ".join(doc["notes"])
        assert "over-subscribed GPUs" in notes and SINGLE in notes, doc["notes"]
        assert "over-subscribed KAI GPU groups: 1" in notes, doc["notes"]
        assert f"over-subscribed DRA GPUs: 1 ({DRA_MIG}/0" in notes, doc["notes"]
        rows = {r[key]: r for r in doc["rows"]}
        for value, want in truth.by(key).iterrows():
            if want["gpu_cost"] == 0 and value not in rows:
                continue
            got = rows[value or "__unallocated__"]
            assert got["gpu_cost"] == pytest.approx(want["gpu_cost"], rel=0.005), (key, value)
        spent = sum(r["gpu_cost"] for r in doc["rows"])
        assert spent == pytest.approx(doc["totals"]["cluster_gpu_cost"], abs=0.01)
        assert doc["totals"]["cluster_gpu_cost"] == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
        assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
        for row in doc["rows"]:
            if row.get("waste") is not None:
                assert row["waste"] <= row["gpu_cost"] + 1e-6, row
    # No node, and so no GPU of a one-GPU node, is charged more than once.
    by_node = {r["node"]: r for r in _costs(url, "--by", "node")["rows"]}
    for node in (SINGLE, DRA_MIG, KAI):
        capacity = truth.nodes.loc[truth.nodes["node"] == node, "capacity_gpu_cost"].sum()
        charged = truth.pods.loc[truth.pods["node"] == node, "gpu_cost"].sum()
        assert by_node[node]["gpu_cost"] == pytest.approx(charged, rel=0.005), node
        assert by_node[node]["gpu_cost"] <= capacity * 1.0001, node


@pytest.mark.prometheus
def test_gpus_shares_of_an_oversubscribed_gpu_add_up_to_one(oversubscribed):
    """``gpus``: the KAI group's GPU and the DRA MIG GPU list their holders with shares that add
    up to at most 1, and say they were scaled."""
    url, _ = oversubscribed
    result = run_finops("gpus", *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    physical: dict[tuple[str, str], float] = {}
    for row in doc["rows"]:
        key = (row["node"], row["gpu"])
        physical[key] = physical.get(key, 0.0) + sum(h["share"] for h in row["holders"])
    assert max(physical.values()) <= 1 + 1e-6, physical
    assert physical[(KAI, "0")] > 0.5
    assert any("scaled to add up to 1" in n for n in doc["notes"]), doc["notes"]

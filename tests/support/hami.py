"""The check that ``gpus`` lists each HAMi GPU's holders and shares as the simulator's truth."""

from __future__ import annotations

from datetime import datetime

import pytest

from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import holder_truth


def check_hami_holders(doc: dict, cluster: SampleCluster, start: datetime, end: datetime) -> None:
    """Every GPU of every HAMi node lists exactly the pods that held a share of it, with the
    share-hours and share (over the hours the GPU was reported) the truth says, summing to at
    most 1; its held hours are the hours some HAMi pod held it."""
    hami = {n.name for n in cluster.nodes if n.sharing == "hami"}
    assert hami, "the cluster has no HAMi node"
    exact = holder_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    exact = exact[exact["node"].isin(hami)]
    window_h = (end - start).total_seconds() / 3600
    rows = {(r["node"], str(r["gpu"])): r for r in doc["rows"] if r["node"] in hami}
    assert len(rows) == sum(n.gpu_count for n in cluster.nodes if n.name in hami)
    for (node, gpu), row in rows.items():
        want = exact[(exact["node"] == node) & (exact["gpu"].astype(str) == gpu)]
        want_hours = (want["share"] * want["held_hours"]).groupby(want["pod"]).sum()
        got = {h["pod"]: h for h in row["holders"]}
        assert set(got) == set(want_hours.index), (node, gpu)
        for pod, hours in want_hours.items():
            assert got[pod]["share_hours"] == pytest.approx(hours, rel=1e-6), pod
            assert got[pod]["share"] == pytest.approx(hours / window_h, abs=1e-4), pod  # 4 decimals
            namespace = want.loc[want["pod"] == pod, "namespace"].iloc[0]
            assert got[pod]["namespace"] == namespace
        assert sum(h["share"] for h in row["holders"]) <= 1 + 1e-3

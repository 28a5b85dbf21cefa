"""``rightsize`` against 3,000 namespaces: no query over 8 KB, and the planted cases still found.

Each of the fleet's 3,000 GPUs is held by a Deployment in its own namespace (``tenant-0000`` ...
``tenant-2999``), as on a multi-tenant platform. A proxy in front of the real Prometheus refuses,
with Prometheus' own 422, every dcgm-exporter window query that is not cut into at least four
namespace shards, so rightsize shards by namespace ranges (before issue 21 the last shard listed
every other namespace: 358 KB). Every request is recorded as it reaches the proxy and measured
URL-encoded as sent; the idle notebooks planted every 500 namespaces must still be terminated.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import pytest

from finops_cli.queries import MAX_QUERY_BYTES
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scale import _node
from finops_cli.sample.scenario import TEAM_KEY, Schedule, WorkloadSpec
from finops_cli.sample.simulate import SampleCluster
from tests.support.cli import run_finops
from tests.support.faultproxy import FaultProxy, Seen, status

pytestmark = pytest.mark.prometheus

NAMESPACES = 3000
START = datetime(2026, 10, 1, 0, tzinfo=UTC)
END = datetime(2026, 10, 1, 2, tzinfo=UTC)
STEP = 900
IDLE_EVERY = 500  # tenant-0000, tenant-0500, ...: an idle notebook, to be terminated
TOO_MANY = {
    "status": "error",
    "errorType": "execution",
    "error": "query processing would load too many samples into memory in query execution",
}
NAMESPACE_SHARD = re.compile(r'\bnamespace=~("(?:[^"\\]|\\.)*")')


def _cluster() -> SampleCluster:
    nodes = tuple(_node(i) for i in range(NAMESPACES // 8))
    cast = []
    for i in range(NAMESPACES):
        idle = i % IDLE_EVERY == 0
        spec = partial(
            WorkloadSpec,
            namespace=f"tenant-{i:04d}",
            node=nodes[i // 8].name,
            gpu_indices=(i % 8,),
            labels={TEAM_KEY: f"team-{i % 40:02d}"},
            schedule=Schedule(),
        )
        if idle:
            cast.append(spec(name=f"notebook-{i}", kind="notebook", busy_base=0.0))
        else:
            cast.append(spec(name=f"svc-{i}", kind="inference", busy_base=0.85))
    return SampleCluster(42, nodes=nodes, cast=tuple(cast), name="tenants")


@pytest.fixture(scope="module")
def prom(prometheus_from_openmetrics, tmp_path_factory):
    cluster = _cluster()
    start, end = int(START.timestamp()) - 1800, int(END.timestamp()) + 1800
    path = Path(tmp_path_factory.mktemp("tenants")) / "tenants.om"
    write_openmetrics_file(cluster.series(start, end, STEP), path)
    return prometheus_from_openmetrics(path, "tenants-3000")


@pytest.fixture
def proxy(prom):
    front = FaultProxy(prom)
    try:
        yield front
    finally:
        front.close()


def _in_four_parts_or_fewer(seen: Seen) -> bool:
    """True for a per-workload window query that is not a namespace shard of at most a
    quarter of the namespaces (the per-GPU capacity queries are left alone)."""
    query = seen.param("query")
    window = re.search(r"\[[0-9a-z.]+:[0-9a-z.]+\]", query) is not None
    if "DCGM_FI" not in query or "workload" not in query or not window:
        return False
    found = NAMESPACE_SHARD.search(query)
    if found is None:
        return True
    regex = ast.literal_eval(found.group(1))
    names = [f"tenant-{i:04d}" for i in range(NAMESPACES)]
    return sum(re.fullmatch(regex, n) is not None for n in names) > NAMESPACES // 4 + 1


def test_rightsize_over_three_thousand_namespaces_sends_no_query_over_8_kb(proxy):
    proxy.add(status(422, TOO_MANY), times=None, match=_in_four_parts_or_fewer)
    result = run_finops(
        "rightsize",
        "--start",
        "2026-10-01T00:00:00Z",
        "--end",
        "2026-10-01T02:00:00Z",
        "--prometheus-url",
        proxy.url,
        "-o",
        "json",
        "--debug",
    )
    assert result.returncode == 0, result.stderr
    assert "shards by namespace" in result.stderr  # the refusals did cut the queries
    sizes = [
        len(urlencode([(k, v) for k, v in seen.params if k in ("query", "match[]")]))
        for seen in proxy.log
    ]
    assert len(sizes) > 20
    assert max(sizes) <= MAX_QUERY_BYTES, max(sizes)
    rows = json.loads(result.stdout)["rows"]
    terminated = {r["namespace"] for r in rows if r["action"] == "terminate"}
    planted = {f"tenant-{i:04d}" for i in range(0, NAMESPACES, IDLE_EVERY)}
    assert planted <= terminated
    assert all(r["cluster"] == "" for r in rows)  # one Prometheus, no cluster label
    print(f"largest request: {max(sizes)} bytes of {len(sizes)} requests")

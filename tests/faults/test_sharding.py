"""Per-GPU and per-workload window queries a server refuses whole are run in shards.

``gpus`` and ``rightsize`` send instant queries over the whole window, which a time split cannot
shrink. A large fleet makes them too big for VictoriaMetrics' memory guard or Prometheus'
``--query.max-samples``; the source then cuts the dcgm-exporter series into 2, 4, ... 128 shards
and combines the answers: by GPU UUID for ``gpus``; for ``rightsize`` by ranges of namespaces
(workloads never span namespaces, so each workload comes back from one shard only), and by pod
name only once there are more shards than namespaces (one namespace alone too big). Here the
proxy in front of the real test Prometheus refuses, with Prometheus' own 422, every dcgm query
that reads more than a given share of the fleet (of its GPUs, pod names or namespaces); the
figures must equal those of the unrefused run exactly, and the number of shards must be the
smallest that fits.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from finops_cli.queries import GPU_PRESENCE
from tests.faults.common import DATA_FROM, DATA_TO, STEP, T0, T1, WINDOW, cluster, finops
from tests.support.faultproxy import FaultProxy, Seen, path_is, status

pytestmark = pytest.mark.prometheus

TOO_MANY = {
    "status": "error",
    "errorType": "execution",
    "error": "query processing would load too many samples into memory in query execution",
}
SHARDED = re.compile(r'(UUID|pod|namespace)(=~|!~)"')
# A namespace shard's matcher: the operator and the regex, a PromQL string literal.
NAMESPACE_SHARD = re.compile(r'\bnamespace(=~|!~)("(?:[^"\\]|\\.)*")')


def _namespaces() -> list[str]:
    """The namespaces of the GPU pods in the window, from the data backfilled into the server."""
    return sorted(
        {
            s.labels["namespace"]
            for s in cluster().series(DATA_FROM, DATA_TO, STEP)
            if s.name == GPU_PRESENCE
            and s.labels.get("pod")
            and ((s.timestamps > T0) & (s.timestamps <= T1)).any()
        }
    )


NAMESPACES = _namespaces()


def _window_query(query: str) -> bool:
    """A dcgm-exporter read run over the window as a subquery (not the probes before it)."""
    return "DCGM_FI" in query and re.search(r"\[[0-9a-z.]+:[0-9a-z.]+\]", query) is not None


def _namespaces_read(query: str) -> int | None:
    """How many of the data's namespaces a namespace-sharded query reads (None: not one)."""
    found = NAMESPACE_SHARD.search(query)
    if found is None:
        return None
    regex = ast.literal_eval(found.group(2))  # the PromQL string's escapes are Python's
    hits = sum(re.fullmatch(regex, name) is not None for name in NAMESPACES)
    # the last shard is "every namespace not in the others"
    return hits if found.group(1) == "=~" else len(NAMESPACES) - hits


def _refused_unless_sharded(min_shards: int, one_namespace_too_big: bool = False) -> Any:
    """Refuse dcgm queries that are not cut into at least ``min_shards`` shards: a namespace
    shard may hold no more namespaces than a cut into ``min_shards`` leaves in each (1/min_shards
    of them, rounded up), or none at all when ``one_namespace_too_big``."""
    per_shard = 0 if one_namespace_too_big else -(-len(NAMESPACES) // min_shards)

    def match(seen: Seen) -> bool:
        query = seen.param("query")
        if not _window_query(query):
            return False
        read = _namespaces_read(query)
        if read is not None:
            return read > per_shard
        shard = re.search(r'(?:UUID|pod)(=~|!~)"(?:GPU-)?(?:\.\*)?\(\[([0-9a-z]+)\]\)', query)
        if shard is None:
            return True  # the whole fleet
        chars = len(shard.group(2))
        alphabet = 16 if "UUID" in shard.group(0) else 36
        # the last shard is "everything not in the others": its size is what the others leave
        taken = alphabet - chars if shard.group(1) == "!~" else chars
        return taken > alphabet / min_shards

    return match


def _rows(result: Any) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["rows"])


@pytest.mark.parametrize(("command", "by"), [("gpus", "gpu"), ("rightsize", "namespace")])
def test_refused_window_queries_are_sharded_and_figures_do_not_move(
    proxy: FaultProxy, prom: str, command: str, by: str
) -> None:
    assert len(NAMESPACES) >= 4  # else rightsize's 4 shards would be by pod name
    expected = _rows(finops(command, *WINDOW, "--prometheus-url", prom, "-o", "json"))
    assert expected
    proxy.add(status(422, TOO_MANY), times=None, match=_refused_unless_sharded(4))
    result = finops(command, *WINDOW, "--prometheus-url", proxy.url, "-o", "json", "--debug")
    assert _rows(result) == expected
    assert f"4 shards by {by}" in result.stderr and "8 shards by" not in result.stderr
    assert f"shards by {'pod' if by == 'namespace' else 'namespace'}" not in result.stderr
    sent = [s.param("query") for s in proxy.log if path_is("/api/v1/query")(s)]
    assert any(SHARDED.search(q) for q in sent)
    listed = [s for s in proxy.log if s.path.startswith("/api/v1/label/namespace/")]
    assert len(listed) == (1 if command == "rightsize" else 0)  # once, however many refusals


def test_rightsize_cuts_by_pod_name_when_one_namespace_is_too_big(
    proxy: FaultProxy, prom: str
) -> None:
    """Namespace shards refused even one namespace each: past their number, pod-name shards,
    whose partial workloads combine to exactly the unrefused rows."""
    expected = _rows(finops("rightsize", *WINDOW, "--prometheus-url", prom, "-o", "json"))
    assert expected
    refuse = _refused_unless_sharded(2, one_namespace_too_big=True)
    proxy.add(status(422, TOO_MANY), times=None, match=refuse)
    result = finops("rightsize", *WINDOW, "--prometheus-url", proxy.url, "-o", "json", "--debug")
    assert _rows(result) == expected
    past = 2
    while past <= len(NAMESPACES):
        assert f" {past} shards by namespace" in result.stderr
        past *= 2
    assert f" {past} shards by pod" in result.stderr
    assert f" {past * 2} shards by" not in result.stderr
    assert "shards by pod" not in result.stderr.split(f" {past} shards by pod")[0]


def test_a_query_refused_even_in_128_shards_is_one_line(proxy: FaultProxy) -> None:
    proxy.add(status(422, TOO_MANY), times=None, match=lambda s: _window_query(s.param("query")))
    result = finops("gpus", *WINDOW, "--prometheus-url", proxy.url, "-o", "json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "over a server limit" in lines[0], result.stderr
    assert "Traceback" not in result.stderr

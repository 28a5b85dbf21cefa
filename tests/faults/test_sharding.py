"""Per-GPU and per-workload window queries a server refuses whole are run in shards.

``gpus`` and ``rightsize`` send instant queries over the whole window, which a time split cannot
shrink. A large fleet makes them too big for VictoriaMetrics' memory guard or Prometheus'
``--query.max-samples``; the source then cuts the dcgm-exporter series into 2, 4, ... 128 shards
(by GPU UUID for ``gpus``, by pod name for ``rightsize``) and combines the answers. Here the
proxy in front of the real test Prometheus refuses, with Prometheus' own 422, every dcgm query
that reads more than a given share of the fleet; the figures must equal those of the unrefused
run exactly, and the number of shards must be the smallest that fits.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.faults.common import WINDOW, finops
from tests.support.faultproxy import FaultProxy, Seen, path_is, status

pytestmark = pytest.mark.prometheus

TOO_MANY = {
    "status": "error",
    "errorType": "execution",
    "error": "query processing would load too many samples into memory in query execution",
}
SHARDED = re.compile(r'(UUID|pod)(=~|!~)"')


def _window_query(query: str) -> bool:
    """A dcgm-exporter read run over the window as a subquery (not the probes before it)."""
    return "DCGM_FI" in query and re.search(r"\[[0-9a-z.]+:[0-9a-z.]+\]", query) is not None


def _refused_unless_sharded(min_shards: int) -> Any:
    """Refuse dcgm queries that are not cut into at least ``min_shards`` shards."""

    def match(seen: Seen) -> bool:
        query = seen.param("query")
        if not _window_query(query):
            return False
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


@pytest.mark.parametrize("command", ["gpus", "rightsize"])
def test_refused_window_queries_are_sharded_and_figures_do_not_move(
    proxy: FaultProxy, prom: str, command: str
) -> None:
    expected = _rows(finops(command, *WINDOW, "--prometheus-url", prom, "-o", "json"))
    assert expected
    proxy.add(status(422, TOO_MANY), times=None, match=_refused_unless_sharded(4))
    result = finops(command, *WINDOW, "--prometheus-url", proxy.url, "-o", "json", "--debug")
    assert _rows(result) == expected
    assert "4 shards by" in result.stderr and "8 shards by" not in result.stderr
    sent = [s.param("query") for s in proxy.log if path_is("/api/v1/query")(s)]
    assert any(SHARDED.search(q) for q in sent)


def test_a_query_refused_even_in_128_shards_is_one_line(proxy: FaultProxy) -> None:
    proxy.add(status(422, TOO_MANY), times=None, match=lambda s: _window_query(s.param("query")))
    result = finops("gpus", *WINDOW, "--prometheus-url", proxy.url, "-o", "json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "over a server limit" in lines[0], result.stderr
    assert "Traceback" not in result.stderr

"""The Prometheus source's query pool and shard runner, without a server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from finops_cli.errors import SourceError
from finops_cli.queries import QueryContext, shards
from finops_cli.sources.prometheus_client import InstantSample, ServerLimitError
from finops_cli.sources.prometheus_sharding import (
    AbandonedError,
    combine_shards,
    gather,
    query_pool,
    run_sharded,
)

END = datetime(2026, 10, 2, tzinfo=UTC)


def test_a_failed_query_stops_the_queued_ones_and_is_the_error_reported():
    started = threading.Event()
    release = threading.Event()

    def fail():
        started.set()
        release.wait(5)
        raise SourceError("server down")

    ran = []
    with pytest.raises(SourceError, match="server down"), query_pool(1) as pool:
        futures = {"first": pool.submit(fail), "second": pool.submit(ran.append, 1)}
        started.wait(5)
        release.set()
        gather(futures)
    assert ran == []
    assert isinstance(futures["second"].exception(), AbandonedError)


def test_shards_answers_combine_as_each_measure_says():
    a = InstantSample({"gpu": "0"}, 1.0)
    b = InstantSample({"gpu": "0"}, 2.0)
    assert [s.value for s in combine_shards([[a], [b]], "sum")] == [3.0]
    assert [s.value for s in combine_shards([[a], [b]], "max")] == [2.0]
    top = combine_shards(
        [[InstantSample({"namespace": "n", "workload": "w", "pod": "p1"}, 1.0)],
         [InstantSample({"namespace": "n", "workload": "w", "pod": "p2"}, 5.0)]],
        "top",
    )  # fmt: skip
    assert [s.labels["pod"] for s in top] == ["p2"]


class _Refusing:
    """Refuses the whole query and the first of two halves (UUIDs 0-7): four shards fit."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def instant(self, query: str, at: datetime) -> list[InstantSample]:
        self.sent.append(query)
        if "UUID" not in query or 'GPU-([01234567]).*"' in query:
            raise ServerLimitError("query", "too many samples")
        return [InstantSample({"gpu": str(len(self.sent))}, 1.0)]


def test_a_refused_query_is_sharded_until_it_fits_and_the_parts_add_up():
    client = _Refusing()
    ctx = QueryContext({"team": "t"}, 60)
    results = run_sharded(
        client,  # type: ignore[arg-type]
        2,
        lambda gq: {"present": gq.present()},
        ctx,
        86400,
        END,
        lambda count: shards("gpu", count),
        {"present": "sum"},
    )
    # whole: refused; 2 shards: the first refused; 4 shards: each answers once.
    assert len(client.sent) == 1 + 1 + 4
    assert sum(s.value for s in results["present"]) == 4.0


def test_a_query_refused_in_every_cut_raises_the_servers_refusal():
    class Never:
        def instant(self, query: str, at: datetime) -> list[InstantSample]:
            raise ServerLimitError("query", "too many samples")

    with pytest.raises(ServerLimitError):
        run_sharded(
            Never(),  # type: ignore[arg-type]
            1,
            lambda gq: {"present": gq.present()},
            QueryContext({}, 60),
            3600,
            END,
            lambda count: shards("gpu", count),
            {"present": "sum"},
        )

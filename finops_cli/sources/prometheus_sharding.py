"""A command's queries on a thread pool, and per-GPU and per-workload queries cut into shards.

Apart from the sources' questions because its concern is how queries run, not what they ask:
bounded concurrency that stops after the first failure, and, for a window query a server refuses
as over a per-query limit, the same query over 2, 4, ... up to ``MAX_SHARDS`` parts of the fleet,
one part after the other, their answers combined.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from finops_cli import queries
from finops_cli.errors import SourceError
from finops_cli.queries import GpuQueries, QueryContext, Shard
from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient, ServerLimitError
from finops_cli.sources.prometheus_rows import workload_key

_debug_log = logging.getLogger("finops.prometheus")
_K = TypeVar("_K")
_V = TypeVar("_V")


class AbandonedError(SourceError):
    """A query not sent because an earlier one of the same command failed."""


class QueryPool:
    """A command's queries on a thread pool that starts no new query once one has failed, so a
    dead or slow server fails the command after one round of retries, not one per queued query.

    Queries start in submission order, so the failure that stopped the rest always belongs to a
    future submitted before any abandoned one: ``gather`` reports it, not an ``AbandonedError``.
    Open one with ``query_pool``.
    """

    def __init__(self, workers: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers)
        self.failed = threading.Event()

    def submit(self, fn: Callable[..., _V], *args: Any) -> Future[_V]:
        def run() -> _V:
            if self.failed.is_set():
                raise AbandonedError("query abandoned after an earlier query failed")
            try:
                return fn(*args)
            except BaseException:
                self.failed.set()
                raise

        return self.executor.submit(run)


@contextlib.contextmanager
def query_pool(workers: int) -> Iterator[QueryPool]:
    """A ``QueryPool`` whose threads are joined on the way out; queued queries are cancelled when
    the block fails."""
    pool = QueryPool(workers)
    try:
        yield pool
    except BaseException:
        pool.failed.set()
        pool.executor.shutdown(wait=True, cancel_futures=True)
        raise
    pool.executor.shutdown(wait=True, cancel_futures=False)


def gather(futures: Mapping[_K, Future[_V]]) -> dict[_K, _V]:
    return {key: future.result() for key, future in futures.items()}


def combine_shards(parts: list[list[InstantSample]], how: str) -> list[InstantSample]:
    """Shards' answers as one: by identical labels, ``sum`` adds and ``max`` keeps the larger;
    ``top`` keeps, per workload, the sample with the largest value (its labels name a pod).
    Namespace shards' answers never share a key, so for them this is a concatenation."""
    merged: dict[tuple[object, ...], InstantSample] = {}
    for sample in (s for part in parts for s in part):
        key = workload_key(sample.labels) if how == "top" else tuple(sorted(sample.labels.items()))
        seen = merged.get(key)
        if seen is None:
            merged[key] = sample
        elif how == "sum":
            merged[key] = InstantSample(seen.labels, seen.value + sample.value)
        elif sample.value > seen.value:
            merged[key] = sample
    return list(merged.values())


def workload_cut(
    client: PrometheusClient, gq: GpuQueries, start: datetime, end: datetime
) -> Callable[[int], list[Shard]]:
    """Rightsize's cut into a number of shards: ranges of the GPU pods' namespace names (by
    pod name past their number), the namespaces read at the first refusal, once for all."""
    names: list[str] | None = None
    listing = threading.Lock()  # measures are refused, and cut, from several threads

    def cut(count: int) -> list[Shard]:
        nonlocal names
        with listing:
            if names is None:
                try:  # the index alone answers this: cheap whatever the fleet
                    names = client.label_values(
                        gq.ctx.dcgm_namespace_label, [gq.bound_series()], start, end
                    )
                except ServerLimitError:
                    _debug_log.debug("namespaces over a server limit: shards by pod")
                    names = []
        return queries.workload_shards(names, count)

    return cut


def run_sharded(
    client: PrometheusClient,
    max_concurrency: int,
    build: Callable[[GpuQueries], dict[str, str]],
    ctx: QueryContext,
    window_s: float,
    end: datetime,
    cut_into: Callable[[int], list[Shard]],
    combine: dict[str, str],
) -> dict[str, list[InstantSample]]:
    """Each of ``build``'s window queries, run concurrently; one the server refuses as over
    a per-query limit (a large fleet over a long window: VictoriaMetrics' memory guard,
    Prometheus' --query.max-samples) is run again over 2, 4, ... up to 128 shards of the
    dcgm-exporter series, one shard after the other, and their answers combined.
    ``cut_into`` gives the shards of a cut into a number of them."""
    whole = build(GpuQueries(ctx, window_s))
    # Sharded work runs one measure at a time (the shards of several would compete for the
    # server's memory for concurrent queries), starting from the cut that last worked.
    one_at_a_time = threading.Lock()
    fits = [2]

    def run(name: str) -> list[InstantSample]:
        try:
            return client.instant(whole[name], end)
        except ServerLimitError as refused:
            error = refused
        with one_at_a_time:
            count = fits[0]
            while count <= queries.MAX_SHARDS:
                cut = cut_into(count)
                by = cut[0].by
                _debug_log.debug("%s: over a server limit; %d shards by %s", name, count, by)
                try:
                    parts = [
                        client.instant(build(GpuQueries(ctx, window_s, shard))[name], end)
                        for shard in cut
                    ]
                except ServerLimitError as refused:
                    error = refused
                    count *= 2
                    continue
                fits[0] = count
                return combine_shards(parts, combine[name])
        raise error

    with query_pool(max_concurrency) as pool:
        return gather({name: pool.submit(run, name) for name in whole})

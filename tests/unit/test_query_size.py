"""Every query the CLI builds stays under ``MAX_QUERY_BYTES`` (8 KB, URL-encoded as sent).

The guard of issue 21: with 3,000 namespaces, rightsize's namespace shards once listed every
other namespace in the last part (358 KB). Here every query of ``costs`` (every grouping and
filter), ``gpus``, ``rightsize`` (whole and in every cut from 2 to 128 parts: by namespace range,
by GPU UUID, by pod name), the capacity advice, the unit costs, the node prices and the
discovery probes is built for a fleet of 3,000 namespaces, in the contexts that make queries
longest (dcgm-exporter's ``exported_*`` labels, an HA pair's replica label, a cluster filter,
the catalog's price table without OpenCost), and measured as the client sends it.

Shared GPUs (``queries.shares``) are measured by their own tests: their queries are not in this
guard yet (see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from finops_cli import queries
from finops_cli.queries import (
    MAX_QUERY_BYTES,
    GpuQueries,
    InferenceQueries,
    NodeQueries,
    QueryContext,
    hami,
    over_buckets,
    query_bytes,
    shards,
    workload_shards,
)
from finops_cli.queries.replicas import node_held_peak, replica_gpu_measures, replica_nodes
from finops_cli.queries.sharing import Sharing
from finops_cli.sources import prometheus_kai
from finops_cli.sources.prometheus_gpus import (
    capacity_measures,
    gpu_measures,
    workload_measures,
)

LABELS = {k: f"ai-finops.io/{k}" for k in ("team", "project", "model", "environment")}
LABELS["cost_center"] = "ai-finops.io/cost-center"
BUSY = frozenset({queries.BUSY_PROFILING, queries.BUSY_UTIL})
NAMESPACES = [f"tenant-{i:04d}-{'prod' if i % 3 else 'dev'}" for i in range(3000)]
WEEK = 7 * 86400
# Nine (instance type, region, capacity) sets priced without OpenCost, GKE N1 + T4 among them:
# the catalog table adds about 110 bytes per set (docs/performance.md: the bound holds up to
# nine sets with every lengthening option at once).
# Values in ``NODE_PRICE_LABELS`` order: instance type, beta, accelerator, region, capacities.
_EKS = tuple(
    (f"{family}.{size}xlarge", "", "", region, capacity, "", "", "", 1.25 + size)
    for family in ("p5", "p4d", "g6e")
    for size in (12, 48)
    for region, capacity in (("us-east-1", "on-demand"), ("us-west-2", "spot"))
)
_GKE = ("n1-standard-4", "n1-standard-4", "nvidia-tesla-t4", "us-central1", "", "", "", "", 0.54)
CATALOG = (*_EKS[:8], _GKE)


def _contexts() -> Iterator[tuple[str, QueryContext]]:
    base = QueryContext(LABELS, 60)
    yield "plain", base
    yield "exported", replace(base, exported_pod_labels=True)
    worst = replace(
        base,
        exported_pod_labels=True,
        replica_labels=("prometheus_replica",),
        cluster_filter="eu-west-1-prod",
    )
    yield "exported+replica+cluster", worst
    yield "catalog", replace(worst, catalog_prices=CATALOG)


def _cuts() -> Iterator[queries.Shard | None]:
    yield None
    count = 2
    while count <= queries.MAX_SHARDS:
        yield from workload_shards(NAMESPACES, count)
        yield from shards("gpu", count)
        yield from shards("pod", count)
        count *= 2


def _cost_queries(ctx: QueryContext) -> Iterator[str]:
    groupings: list[list[str]] = [[], *([k] for k in queries.GROUP_KEYS)]
    groupings += [["cluster", "team"], ["team", "project"], ["team", "gpu_model"]]
    filters = {"team": "nlp", "namespace": NAMESPACES[-1], "cost_center": "NLP-210"}
    for keys in groupings:
        for given in ({}, filters):
            for measure in (
                ctx.gpus_allocated(keys, given),
                ctx.gpu_cost_rate(keys, given),
                ctx.cpu_ram_cost_rate(keys, given),
                ctx.busy_sum(keys, given, BUSY),
                ctx.busy_count(keys, given, BUSY),
                ctx.wasted_cost_rate(keys, given, BUSY),
            ):
                yield over_buckets(measure, 3600, 60)
    yield over_buckets(ctx.capacity_gpus(), 3600, 60)
    yield over_buckets(ctx.capacity_cost_rate(), 3600, 60)
    iq = InferenceQueries(ctx, WEEK)
    for counters in queries.TRAFFIC_COUNTERS.values():
        yield iq.traffic_by_model(counters, WEEK, filters)
    yield iq.served(ctx.pod_gpu_cost())
    yield iq.served(ctx.busy_per_gpu(BUSY), "count")
    nq = NodeQueries(ctx, WEEK)
    yield from (nq.samples(), nq.gpu_cost(), nq.instance_cost(), nq.gpu_count(), nq.identity())
    yield queries.node_pools(ctx, WEEK)


def _window_queries(ctx: QueryContext) -> Iterator[tuple[str, str]]:
    for shard in _cuts():
        gq = GpuQueries(ctx, WEEK, shard)
        where = "whole" if shard is None else f"{shard.by} {shard.index + 1}/{shard.count}"
        measures = gpu_measures(gq, BUSY) | capacity_measures(gq)
        measures |= workload_measures(gq, BUSY, "label_ai_finops_io_interruptible")
        for name, query in measures.items():
            yield f"{name} ({where})", query
        yield f"node_info ({where})", gq.node_info()
        yield f"pod_attributes ({where})", ctx.pod_attributes(["team", "project", "model"], {})


def _probes() -> Iterator[str]:
    yield queries.node_sharing_label_sets(WEEK)
    yield queries.exported_pod_series()
    yield queries.hostless_gpu_series()
    yield queries.sample_count(queries.GPU_ALLOCATION)


@pytest.mark.parametrize(("name", "ctx"), list(_contexts()), ids=[n for n, _ in _contexts()])
def test_every_query_for_three_thousand_namespaces_fits_8_kb(name: str, ctx: QueryContext):
    largest = ("", 0)
    for label, query in [
        *(("costs", q) for q in _cost_queries(ctx)),
        *_window_queries(ctx),
        *(("probe", q) for q in _probes()),
    ]:
        size = query_bytes(query)
        if size > largest[1]:
            largest = (label, size)
    assert largest[1] <= MAX_QUERY_BYTES, f"{name}: {largest[0]} is {largest[1]} bytes"


def test_query_bytes_counts_the_form_field_as_sent():
    assert query_bytes('up{job="a b"}') == len("query=up%7Bjob%3D%22a+b%22%7D")


# ---- shared GPUs --------------------------------------------------------------------------
_MODES = {
    "mig-mixed": Sharing(
        mig_resources=(
            "nvidia_com_mig_1g_10gb",
            "nvidia_com_mig_2g_20gb",
            "nvidia_com_mig_3g_40gb",
        ),
        gpu_profiles=("1g.10gb", "2g.20gb", "3g.40gb"),
    ),
    "mig-single": Sharing(
        node_factors=((("", "single", "1", "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"), 1 / 7),),
        gpu_profiles=("1g.10gb",),
    ),
    "time-slicing": Sharing(
        node_factors=(
            (("4", "", "", "NVIDIA-A10G-SHARED"), 0.25),
            (("2", "", "", "NVIDIA-L4"), 0.5),
        ),
        vgpu=True,
    ),
    "hami": Sharing(hami=True),
    "hami+vgpumonitor": Sharing(hami=True, hami_monitor="legacy"),  # HAMi pods' own busy
    "kai": Sharing(fractions=("0.25", "0.5"), fraction_devices=("2",), memories=("11517", "20000")),
    "dra": Sharing(dra=True, dra_profiles=("1g.10gb",)),
}
_ALL = Sharing(
    node_factors=_MODES["mig-single"].node_factors + _MODES["time-slicing"].node_factors,
    mig_resources=_MODES["mig-mixed"].mig_resources,
    gpu_profiles=_MODES["mig-mixed"].gpu_profiles,
    dra_profiles=("1g.10gb",),
    fractions=("0.25", "0.5"),
    hami=True,
    dra=True,
    vgpu=True,
)


def _shared_queries(ctx: QueryContext) -> Iterator[str]:
    yield from _cost_queries(ctx)
    iq = InferenceQueries(ctx, WEEK)
    yield iq.served(ctx.wasted_entries(BUSY))
    yield iq.served(ctx.observed_entries(BUSY))
    yield ctx.oversubscribed_nodes()
    for shard in (None, *workload_shards(NAMESPACES, 4), *shards("gpu", 4)):
        gq = GpuQueries(ctx, WEEK, shard)
        measures = gpu_measures(gq, BUSY) | capacity_measures(gq)
        measures |= workload_measures(gq, BUSY, "label_ai_finops_io_interruptible")
        measures |= replica_gpu_measures(gq, BUSY)
        yield from measures.values()
    gq = GpuQueries(ctx, WEEK)
    yield replica_nodes(gq)
    yield node_held_peak(gq)
    yield from prometheus_kai.pooled_queries(ctx, WEEK) or ()  # KAI pods on pooled GPUs
    for scheme in (hami.NEW, hami.LEGACY):  # HAMi's scheduler metrics, whichever names
        hq = hami.HamiQueries(ctx, scheme, WEEK)
        yield from (hq.share_samples(), hq.oversubscribed())


def _largest(ctx: QueryContext) -> int:
    return max(query_bytes(q) for q in _shared_queries(ctx))


@pytest.mark.parametrize("mode", sorted(_MODES))
@pytest.mark.parametrize("prices", ["opencost", "catalog"])
def test_a_cluster_sharing_gpus_one_way_stays_under_8_kb(mode: str, prices: str):
    ctx = QueryContext(LABELS, 60, sharing=_MODES[mode])
    if prices == "catalog":
        ctx = replace(ctx, catalog_prices=CATALOG[:4])
    assert _largest(ctx) <= MAX_QUERY_BYTES


def test_every_sharing_mode_at_once_stays_under_engines_limits():
    """MIG (both strategies), replicas, HAMi, KAI and DRA in one cluster, priced from the
    catalog: over 8 KB (docs/performance.md says so), under VictoriaMetrics' 16 KB."""
    ctx = QueryContext(LABELS, 60, sharing=_ALL, catalog_prices=CATALOG[:4])
    assert _largest(ctx) <= 2 * MAX_QUERY_BYTES


def test_time_slicing_with_per_process_series_stays_under_engines_limits():
    """Virtual-GPU mode's per-process series read as each holder's own busy: the ledger's waste
    (and its unit-cost split) carry the copies' busy, the pods' own and the per-GPU cap, over
    8 KB with the catalog table (docs/performance.md), under VictoriaMetrics' 16 KB."""
    sharing = replace(_MODES["time-slicing"], per_process=True)
    ctx = QueryContext(LABELS, 60, sharing=sharing)
    assert _largest(ctx) <= 1.1 * MAX_QUERY_BYTES
    assert _largest(replace(ctx, catalog_prices=CATALOG[:4])) <= 2 * MAX_QUERY_BYTES


def test_an_oversubscribed_kai_group_stays_under_engines_limits():
    """Where discovery found a KAI GPU group over-subscribed (``Sharing.kai_capped``), the
    cost queries repeat the fractions to cap each group: over 8 KB with the catalog table
    (docs/performance.md), under VictoriaMetrics' 16 KB, with every mode at once but KAI's
    memory shares too."""
    capped = replace(_MODES["kai"], kai_capped=True)
    assert _largest(QueryContext(LABELS, 60, sharing=capped)) <= MAX_QUERY_BYTES
    assert _largest(QueryContext(LABELS, 60, sharing=capped, catalog_prices=CATALOG[:4])) <= (
        1.1 * MAX_QUERY_BYTES
    )
    everything = replace(_ALL, kai_capped=True, fraction_devices=("2",))
    ctx = QueryContext(LABELS, 60, sharing=everything, catalog_prices=CATALOG[:4])
    assert _largest(ctx) <= 2 * MAX_QUERY_BYTES
    both = replace(_MODES["kai"], dra=True, dra_profiles=("1g.10gb",))
    shares = QueryContext(LABELS, 60, sharing=both, exported_pod_labels=True).shares
    assert shares is not None
    for probe in (shares.kai_oversubscribed(WEEK), shares.dra_oversubscribed(WEEK)):
        assert probe is not None and query_bytes(probe) <= MAX_QUERY_BYTES


def test_every_sharing_option_at_once_stays_under_engines_limits():
    everything = replace(
        _ALL, per_process=True, fraction_devices=("2",), memories=("11517", "20000")
    )
    ctx = QueryContext(LABELS, 60, sharing=everything, catalog_prices=CATALOG[:4])
    assert _largest(ctx) <= 2 * MAX_QUERY_BYTES


def test_recorded_coverage_on_shared_gpus_stays_under_8_kb():
    """The coverage read matches ``finops_rules_info``'s ``sharing`` against every accepted
    rule set's description (``queries.recorded_sharing``): two sets of every option at once."""
    from finops_cli.queries import recorded_sharing
    from finops_cli.queries.recorded import RecordedQueries

    everything = replace(
        _ALL, per_process=True, fraction_devices=("2",), memories=("11517", "20000")
    )
    wider = replace(everything, fractions=("0.125", "0.25", "0.5", "0.75"))
    accepted = tuple(recorded_sharing.canonical(s) for s in (everything, wider))
    rq = RecordedQueries(QueryContext(LABELS, 60, sharing=everything), sharing_accepted=accepted)
    assert max(query_bytes(rq.coverage(days=d)) for d in (False, True)) <= MAX_QUERY_BYTES


def test_no_hostname_stays_under_engines_limits():
    """dcgm-exporter with ``--no-hostname``: every dcgm-exporter read joins ``kube_pod_info`` on
    the scrape's IP (``QueryContext.dcgm_node``), five times in ``gpus``' and ``rightsize``'s
    largest queries: over 8 KB (docs/performance.md says so), under VictoriaMetrics' 16 KB,
    with any one sharing mode too; its cost queries stay under 8 KB."""
    for name, ctx in _contexts():
        placed = replace(ctx, dcgm_node_by_ip=True)
        assert max(query_bytes(q) for q in _cost_queries(placed)) <= MAX_QUERY_BYTES, name
        window = max(query_bytes(q) for _, q in _window_queries(placed))
        assert window <= 2 * MAX_QUERY_BYTES, name
    for mode, sharing in _MODES.items():
        ctx = QueryContext(LABELS, 60, sharing=sharing, dcgm_node_by_ip=True)
        assert _largest(ctx) <= 2 * MAX_QUERY_BYTES, mode

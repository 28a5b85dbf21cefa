"""What a Prometheus-compatible backend has, and the ``QueryContext`` that fits it.

Before any measure is built the source asks: which contract metrics exist in the window, how
often the allocation (or dcgm-exporter) series is scraped, whether dcgm-exporter's pod labels
arrive as ``exported_*``, and, without OpenCost, what the catalog says each node's GPUs cost.
The probes' PromQL is in ``queries.discovery``; this module sends them and reads the answers.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from finops_cli import queries
from finops_cli.errors import SourceError
from finops_cli.labels import kube_label_to_prometheus
from finops_cli.pricing import PriceCatalog
from finops_cli.pricing.node_key import node_key
from finops_cli.queries import QueryContext, hami_monitor, sharing
from finops_cli.queries.context import CatalogPrices
from finops_cli.sources.prometheus_client import (
    InstantSample,
    PrometheusClient,
    ServerLimitError,
)
from finops_cli.sources.prometheus_rows import capacity_of, node_type_labels

if TYPE_CHECKING:
    from finops_cli.sources.prometheus import PrometheusCostSource

_NICE_INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
DEFAULT_SAMPLE_INTERVAL_S = 60
BUSY_METRICS = frozenset({queries.BUSY_PROFILING, queries.BUSY_UTIL})
_T = TypeVar("_T")


def whole_seconds(moment: datetime) -> datetime:
    return datetime.fromtimestamp(math.floor(moment.timestamp()), tz=UTC)


class _Slot:
    """One remembered answer; its lock makes a second asker wait for the first's answer
    instead of sending the same probes (a report asks its sections at once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None


_ANSWERS: weakref.WeakKeyDictionary[PrometheusClient, dict[tuple[object, ...], _Slot]] = (
    weakref.WeakKeyDictionary()
)
_ANSWERS_LOCK = threading.Lock()


def _remembered(client: PrometheusClient, key: tuple[object, ...], compute: Callable[[], _T]) -> _T:
    """``compute()``, asked once per client (one command) and key: a report asks about one
    window for several of its sections, and each section discovered it again (a tenth to half
    a second of index lookups and probes each time). What discovery reads (metric names, label
    variants, the scrape interval) does not change within a command. A failed ``compute`` is
    not remembered: the next asker tries again."""
    with _ANSWERS_LOCK:
        slot = _ANSWERS.setdefault(client, {}).setdefault(key, _Slot())
    with slot.lock:
        if not slot.done:
            slot.value = compute()
            slot.done = True
    answer: _T = slot.value
    return answer


def instant_once(client: PrometheusClient, query: str, at: datetime) -> list[InstantSample]:
    """An instant query asked once per command: the over-subscription check every cost read
    sends at the window's end, which a report's sections repeated (a fifth of a second to most
    of a second each at 20,000 GPUs)."""
    return _remembered(client, ("instant", query, at), lambda: client.instant(query, at))


def present_metrics(client: PrometheusClient, start: datetime, end: datetime) -> frozenset[str]:
    """Which contract metrics exist in the window: one cheap index lookup, no samples read."""
    return _remembered(client, ("present", start, end), lambda: _present(client, start, end))


def _present(client: PrometheusClient, start: datetime, end: datetime) -> frozenset[str]:
    try:
        names = client.label_values(
            "__name__", [queries.any_metric(queries.PROBED_METRICS)], start, end
        )
    except ServerLimitError:  # too many series for one query: every name in the window
        names = [
            n
            for n in client.label_values("__name__", [], start, end)
            if n in queries.PROBED_METRICS
        ]
    return frozenset(names)


def detect_sample_interval(
    client: PrometheusClient, metric: str, start: datetime, end: datetime
) -> int:
    """The scrape interval of ``metric``, from how many samples its densest series has in
    six hours, rounded to a usual scrape interval so jitter cannot make windows miss one."""
    probe = queries.sample_count(metric)
    counts = [s.value for s in client.instant(probe, end) if math.isfinite(s.value)]
    if not counts:
        span = timedelta(seconds=queries.SAMPLE_COUNT_RANGE_S)
        step = max((end - start) / 24, timedelta(hours=1))
        series = client.range(probe, min(start + span, end), end, step)
        counts = [v for s in series for v in s.values if math.isfinite(v)]
    if not counts or max(counts) <= 0:
        return DEFAULT_SAMPLE_INTERVAL_S
    raw = queries.SAMPLE_COUNT_RANGE_S / max(counts)
    return min(_NICE_INTERVALS, key=lambda nice: abs(nice - raw))


CONFIRM_SAMPLES = 10


def confirms(client: PrometheusClient, metric: str, interval: int | None, end: datetime) -> bool:
    """Whether the densest series of ``metric`` has exactly ten samples in the ten intervals
    before ``end`` (1 ms short, so open and closed ranges agree): a cheap check of an interval
    known from elsewhere (the recorded ledger's), a tenth of the detection's samples or less."""
    if not interval:
        return False
    probe = queries.sample_count(metric, CONFIRM_SAMPLES * interval - 0.001)
    counts = [s.value for s in client.instant(probe, end) if math.isfinite(s.value)]
    return bool(counts) and max(counts) == CONFIRM_SAMPLES


def uses_exported_pod_labels(client: PrometheusClient, start: datetime, end: datetime) -> bool:
    """Scraped with ``honorLabels: false``, dcgm-exporter's pod labels become ``exported_*``."""
    try:
        probes = list(queries.EXPORTED_POD_SELECTORS)
        return bool(client.label_values("exported_pod", probes, start, end))
    except ServerLimitError:  # too many series for one query: do any carry exported_pod?
        return bool(client.instant(queries.exported_pod_series(), end))


def places_gpus_by_ip(
    client: PrometheusClient, start: datetime, end: datetime, present: frozenset[str]
) -> bool:
    """Some dcgm-exporter runs with ``--no-hostname`` and no scrape relabeling gives its series
    a ``node``: their node then comes from the exporter pod's IP (``QueryContext.dcgm_node``)."""
    if queries.GPU_PRESENCE not in present:
        return False
    try:
        return bool(client.label_values("__name__", [queries.HOSTLESS_GPU_SERIES], start, end))
    except ServerLimitError:
        return bool(client.instant(queries.hostless_gpu_series(), end))


def query_context(
    source: PrometheusCostSource,
    start: datetime,
    end: datetime,
    present: frozenset[str],
    *,
    cluster_filter: str | None = None,
    interval_of: str | None = None,
    known_interval: int | None = None,
) -> tuple[QueryContext, list[str]]:
    """How to query this backend: OpenCost's metrics when scraped, else kube-state-metrics
    priced from the catalog; the scrape interval (``known_interval``: the one the recorded
    ledger was made with, which spares the detection query); dcgm-exporter's pod-label
    variant."""
    key = ("context", start, end, present, cluster_filter, interval_of, known_interval)
    ctx, notes = _remembered(
        source.client,
        key,
        lambda: _query_context(
            source, start, end, present, cluster_filter, interval_of, known_interval
        ),
    )
    return ctx, list(notes)  # callers add their own notes


def _query_context(
    source: PrometheusCostSource,
    start: datetime,
    end: datetime,
    present: frozenset[str],
    cluster_filter: str | None,
    interval_of: str | None,
    known_interval: int | None,
) -> tuple[QueryContext, list[str]]:
    notes: list[str] = []
    catalog_prices = None
    unpriced: tuple[tuple[str, ...], ...] = ()
    if not opencost_priced(present):
        catalog_prices, unpriced, notes = node_catalog_prices(
            source.client, source.catalog, start, end, present
        )
    allocation = queries.GPU_ALLOCATION if catalog_prices is None else queries.GPU_REQUESTS
    metric = interval_of or allocation
    interval = int(
        source.sample_interval_s
        or (known_interval if confirms(source.client, metric, known_interval, end) else None)
        or detect_sample_interval(source.client, metric, start, end)
    )
    busy = present & BUSY_METRICS
    shared = _remembered(
        source.client,
        ("sharing", start, end, present),
        lambda: discover_sharing(source.client, start, end, present),
    )
    if shared is not None:
        notes.append(
            f"shared GPUs found ({', '.join(shared.describe()) or 'per-pod GPU copies'}): "
            "each pod is charged its share of the physical GPU (docs/cost-model.md)"
        )
        if shared.busy_estimated:
            measured = (
                "; where dcgm-exporter writes per-process series (virtual-GPU mode, pod_uid), "
                "a time-sliced or MPS holder's busy is its own processes' utilisation over its "
                "share instead"
                if shared.per_process
                else " (dcgm-exporter's per-process figures are not written here)"
            )
            if shared.hami:
                measured += (
                    "; a HAMi holder's busy is its own utilisation over its share, from HAMi's "
                    "vGPUmonitor"
                    if shared.hami_monitor
                    else "; HAMi's vGPUmonitor (hami_container_device_utilization_ratio) is not "
                    "scraped: HAMi holders' busy is unknown and their waste counts 0"
                )
            notes.append(
                "busy and waste on GPUs shared in time (replicas, HAMi, KAI, DRA claims) are "
                f"estimated: the GPU's busy split by allocation{measured}"
            )
    ctx = QueryContext(
        source.pod_labels,
        interval,
        cluster_label=source.cluster_label,
        exported_pod_labels=bool(busy)
        and _remembered(
            source.client,
            ("exported", start, end),
            lambda: uses_exported_pod_labels(source.client, start, end),
        ),
        cluster_filter=cluster_filter,
        replica_labels=source.replica_labels,
        catalog_prices=catalog_prices,
        catalog_unpriced=unpriced,
        sharing=shared,
        dcgm_node_by_ip=_remembered(
            source.client,
            ("hostless", start, end),
            lambda: places_gpus_by_ip(source.client, start, end, present),
        ),
    )
    if shared is not None:
        ctx, found = capped_sharing(source.client, ctx, start, end)
        notes += found
    return ctx, notes


def capped_sharing(
    client: PrometheusClient, ctx: QueryContext, start: datetime, end: datetime
) -> tuple[QueryContext, list[str]]:
    """Over-subscription that no node check sees, over the window: a KAI GPU group whose pods
    held more than 1 GPU (then ``Sharing.kai_capped``, so that the cost queries cap each group;
    only then, as the cap repeats the fractions in the query), a GPU whose DRA devices' shares
    added up to more than 1 (always capped per GPU). One query each, only where the mode is
    found; a note naming what was scaled."""
    shares = ctx.shares
    if shares is None or ctx.sharing is None:
        return ctx, []
    window_s = (end - start).total_seconds()
    notes = []
    kai = shares.kai_oversubscribed(window_s)
    groups = client.instant(kai, end) if kai is not None else []
    if groups:
        ctx = replace(ctx, sharing=replace(ctx.sharing, kai_capped=True))
        label = kube_label_to_prometheus(sharing.KAI_GPU_GROUP)
        named = ", ".join(
            f"{s.labels.get(label, '')} ({s.value:.2f}x)" for s in sorted(groups, key=str)[:3]
        )
        notes.append(
            f"over-subscribed KAI GPU groups: {len(groups)} ({named}) held more than their one "
            "GPU at some instant: their pods' shares were scaled by 1 / the group's shares at "
            "each instant, so no GPU is charged more than once"
        )
    dra = shares.dra_oversubscribed(window_s)
    gpus = client.instant(dra, end) if dra is not None else []
    if gpus:
        named = ", ".join(
            f"{s.labels.get('node', '')}/{s.labels.get('gpu', '')} ({s.value:.2f}x)"
            for s in sorted(gpus, key=str)[:3]
        )
        notes.append(
            f"over-subscribed DRA GPUs: {len(gpus)} ({named}) whose devices' shares added up to "
            "more than 1 at some instant (a device profile finops cannot read counts whole; "
            "stale or mislabelled series): their shares were scaled to add up to 1 at each "
            "instant"
        )
    return ctx, notes


def discover_sharing(
    client: PrometheusClient, start: datetime, end: datetime, present: frozenset[str]
) -> sharing.Sharing | None:
    """What is shared in the window: MIG, replicas, HAMi, KAI fractions, DRA claims, per-pod
    copies of a GPU's series. One label-name lookup for a cluster of whole GPUs (each sharing
    label asked of its carrier's series that hold it: ``queries.label_probes``); the values
    that carry numbers (replica counts, profiles, fractions) only where their labels exist."""
    carriers: list[str] = []
    if "kube_node_labels" in present:
        node_labels = [sharing.REPLICAS_LABEL, sharing.MIG_STRATEGY_LABEL]
        carriers += queries.label_probes(["kube_node_labels"], node_labels)
    if queries.POD_ANNOTATIONS in present:
        annotations = [
            sharing.FRACTION_ANNOTATION,
            sharing.DEVICES_ANNOTATION,
            sharing.MEMORY_ANNOTATION,
        ]
        carriers += queries.label_probes([queries.POD_ANNOTATIONS], annotations)
    if queries.GPU_PRESENCE in present:
        held = [f'{queries.GPU_PRESENCE}{{pod!=""}}', f'{queries.GPU_PRESENCE}{{exported_pod!=""}}']
        dcgm = [*sharing.DCGM_SHARING_LABELS, sharing.DRA_PROFILE_LABEL, sharing.POD_UID_LABEL]
        carriers += queries.label_probes(held, dcgm)
    try:
        names = set(client.label_names(carriers, start, end)) if carriers else set()
        resources = (
            client.label_values(
                "resource", [f'{queries.GPU_REQUESTS}{{resource=~"nvidia_com_.+"}}'], start, end
            )
            if queries.GPU_REQUESTS in present
            else []
        )
    except ServerLimitError:  # too many series to list: treat the GPUs as whole
        return None

    def values(label: str, metric: str) -> tuple[str, ...]:
        if label not in names:
            return ()
        try:
            probe = queries.label_probes([metric], [label])
            return tuple(sorted(client.label_values(label, probe, start, end)))
        except ServerLimitError:
            return ()

    node_factors: list[tuple[tuple[str, ...], float]] = []
    if {sharing.REPLICAS_LABEL, sharing.MIG_STRATEGY_LABEL} & names:
        query = queries.node_sharing_label_sets((end - start).total_seconds())
        for sample in client.instant(query, end):
            labels = {k: sample.labels.get(k, "") for k in sharing.NODE_SHARING_LABELS}
            factor = sharing.node_factor(labels)
            if factor != 1.0:
                node_factors.append((tuple(labels[k] for k in sharing.NODE_SHARING_LABELS), factor))
    found = sharing.Sharing(
        node_factors=tuple(sorted(node_factors)),
        mig_resources=tuple(r for r in resources if r.startswith("nvidia_com_mig_")),
        gpu_profiles=values("GPU_I_PROFILE", queries.GPU_PRESENCE),
        dra_profiles=values(sharing.DRA_PROFILE_LABEL, queries.GPU_PRESENCE),
        fractions=values(sharing.FRACTION_ANNOTATION, queries.POD_ANNOTATIONS),
        hami=any(r in sharing.HAMI_RESOURCES for r in resources),
        dra=sharing.DRA_CLAIM_LABEL in names,
        vgpu=sharing.VGPU_LABEL in names,
        fraction_devices=values(sharing.DEVICES_ANNOTATION, queries.POD_ANNOTATIONS),
        memories=values(sharing.MEMORY_ANNOTATION, queries.POD_ANNOTATIONS),
        per_process=sharing.VGPU_LABEL in names and sharing.POD_UID_LABEL in names,
        hami_monitor=hami_monitor.present(present),
    )
    return found if found.any else None


def opencost_context(source: PrometheusCostSource, start: datetime, end: datetime) -> QueryContext:
    """The context of OpenCost's node series alone (per-node prices): their scrape interval."""
    interval = int(
        source.sample_interval_s
        or detect_sample_interval(source.client, queries.GPU_CAPACITY, start, end)
    )
    return QueryContext(
        source.pod_labels,
        interval,
        cluster_label=source.cluster_label,
        replica_labels=source.replica_labels,
    )


def opencost_priced(present: frozenset[str]) -> bool:
    """Whether OpenCost's allocation, prices and GPU counts are scraped (else the catalog
    prices kube-state-metrics' requests)."""
    return {queries.GPU_ALLOCATION, queries.GPU_PRICE, queries.GPU_CAPACITY} <= present


def node_catalog_prices(
    client: PrometheusClient,
    catalog: PriceCatalog | None,
    start: datetime,
    end: datetime,
    present: frozenset[str],
) -> tuple[CatalogPrices, tuple[tuple[str, ...], ...], list[str]]:
    """Price every (instance type, accelerator, region, capacity) the cluster's nodes use, each
    by its catalog key (``pricing.node_key``: an N1 machine with attached GPUs is keyed
    ``<machine>+<accelerator>``): the price table, and the label sets it could not price."""
    needed = {queries.GPU_REQUESTS, queries.GPU_ALLOCATABLE, "kube_node_labels"}
    if not needed <= present or catalog is None:
        raise SourceError(
            f"no OpenCost GPU metrics in {client.display_url} between "
            f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC, and no kube-state-metrics "
            "node labels and GPU requests to price from the catalog: is either scraped?"
        )
    # The label sets from the index, not the samples: reading kube_node_labels over the window
    # was most of what a recorded run read (5,770 of 6,243 samples for two days of 14 nodes).
    found = client.series(["kube_node_labels"], start, end)
    label_sets = {tuple(s.get(k, "") for k in queries.NODE_PRICE_LABELS) for s in found}
    table: dict[tuple[str, ...], float] = {}
    unpriced: set[str] = set()
    unpriced_sets: set[tuple[str, ...]] = set()
    spot_as_on_demand: set[str] = set()
    for values in sorted(label_sets):
        labels = dict(zip(queries.NODE_PRICE_LABELS, values, strict=True))
        instance_type, accelerator = node_type_labels(labels)
        region = labels.get(queries.REGION_LABEL, "")
        label = next((c for c in queries.CAPACITY_LABELS if labels.get(c)), "")
        raw = labels.get(label, "")
        capacity = capacity_of(label, raw)
        key = node_key(instance_type, accelerator).key  # n1-standard-4+nvidia-tesla-t4 on GKE N1
        price = catalog.lookup(key, region or None, capacity)
        if price is None and capacity == "spot":  # no spot figure: say so, use on-demand
            price = catalog.lookup(key, region or None, "on-demand")
            spot_as_on_demand.add(key)
        if price is None or price.per_gpu_hourly is None:
            unpriced.add(key or "(no instance-type label)")
            unpriced_sets.add(values)
            continue
        table[values] = float(price.per_gpu_hourly)
    notes = [
        "no OpenCost metrics: GPU prices come from the pricing catalog by instance type, "
        "region and capacity type (finops pricing list)"
    ]
    if unpriced:
        notes.append(
            f"no catalog price for {', '.join(sorted(unpriced))}: those GPUs cost 0; add "
            "[pricing] overrides"
        )
    if spot_as_on_demand:
        notes.append(
            f"no catalog spot price for {', '.join(sorted(spot_as_on_demand))}: its spot "
            "nodes are priced on-demand (an upper bound); add pricing.instance_overrides"
        )
    prices: CatalogPrices = tuple((*key, price) for key, price in sorted(table.items()))
    return prices, tuple(sorted(unpriced_sets)), notes

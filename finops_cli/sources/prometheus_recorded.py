"""Recorded hours where they exist, raw series where they do not, stitched on hour boundaries.

``costs`` asks ``plan`` whether the recorded ledger (``queries.recorded``) can answer the request:
only when ``finops_rules_info`` is in the window (the discovery probe lists it with the contract
metrics, so a backend without it costs no extra query), was made with this run's settings, the
grouping and filters are in the grain, and the cluster is priced by OpenCost; on shared GPUs
only rules made with a sharing that covers the window's (``queries.recorded_sharing``). It then
asks which hours hold a capacity rollup under a matching ``finops_rules_info`` (one range query,
one point per hour), and ``answer`` splits the window's buckets on those hours: runs of buckets
wholly recorded are one range query over the rollups, runs wholly raw one range query over the raw
series (``over_buckets`` as before), and a bucket cut by a coverage edge (or a partial edge
bucket) is answered piece by piece with instant queries whose answers add up under the bucket's
end. Every piece covers the same sample instants the raw bucket would, so the figures are the raw
ones. Unit costs (``prometheus_inference.inference``) plan and answer the same way for the
traffic and served-share measures, by model, summing every bucket (a recorded UTC day is one
read).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli import buckets, queries
from finops_cli.buckets import DAY_S, HOUR_S
from finops_cli.queries import QueryContext, over_buckets, recorded_prices, recorded_sharing
from finops_cli.queries.names import RULES_INFO
from finops_cli.queries.recorded import (
    COVERAGE_SERIES,
    COVERED_FIELDS,
    GRAIN_KEYS,
    INFO_FIELDS,
    READ_LAG_S,
    RecordedQueries,
    info_labels,
)
from finops_cli.queries.sharing import alternation
from finops_cli.sources import prometheus_rows

if TYPE_CHECKING:
    from finops_cli.sources.prometheus import PrometheusCostSource
    from finops_cli.sources.prometheus_client import PrometheusClient

RECORDABLE_KEYS = frozenset({*GRAIN_KEYS, "cluster"})
DEFAULT_INTERVAL_S = 60  # any: the info probe reads no existence series


@dataclass(frozen=True)
class Coverage:
    """The whole hours, and the whole UTC days, by their end (unix seconds), that the recorded
    ledger answers (a day only when its 24 hours are recorded too)."""

    hours: frozenset[int]
    queries: RecordedQueries
    days: frozenset[int] = frozenset()
    empty_until: int | None = None
    """Before this instant (unix seconds, on an hour) the window holds no series of the metrics
    the ledger reads (``_empty_lead``): nothing is read there, raw or recorded."""


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def rule_sets(
    source: PrometheusCostSource,
    keys: tuple[str, ...],
    filters: dict[str, str],
    present: frozenset[str],
    start: datetime,
    end: datetime,
    cluster_filter: str | None,
) -> list[dict[str, str]] | None:
    """The label sets of ``finops_rules_info`` in the window (one instant query), or None when
    the recorded ledger cannot serve this request anyway (``--raw``, none recorded, a key the
    grain does not keep)."""
    if not source.recorded or queries.RULES_INFO not in present:
        return None
    if {*keys, *filters} - RECORDABLE_KEYS:
        return None
    probe = QueryContext(
        source.pod_labels,
        DEFAULT_INTERVAL_S,
        cluster_label=source.cluster_label,
        cluster_filter=cluster_filter,
    )
    query = RecordedQueries(probe).info_sets((end - start).total_seconds() + HOUR_S)
    return [
        {f: s.labels.get(f, "") for f in INFO_FIELDS}
        for s in source.client.instant(query, end + timedelta(seconds=READ_LAG_S))
    ]


def known_interval(sets: list[dict[str, str]] | None) -> int | None:
    """The scrape interval every recorded rule set was made with, when they agree: the
    detection query (six hours of the allocation series) is then not needed."""
    found = {labels["sample_interval"] for labels in sets or ()}
    if len(found) != 1:
        return None
    (value,) = found
    return int(value) if value.isdigit() and int(value) > 0 else None


def plan(
    source: PrometheusCostSource,
    ctx: QueryContext,
    keys: tuple[str, ...],
    filters: dict[str, str],
    present: frozenset[str],
    sets: list[dict[str, str]] | None,
    start: datetime,
    end: datetime,
    notes: list[str],
) -> Coverage | None:
    """The recorded hours to read, or None for raw throughout (with a note saying why, when
    recorded series exist but cannot be used)."""
    if not source.recorded or queries.RULES_INFO not in present:
        return None
    why = _unusable(ctx, keys, filters)
    accepted: dict[str, tuple[str, ...]] = {}
    if why is None:
        why, accepted = _settings_differ(ctx, sets or [])
    if why is not None:
        notes.append(
            f"recorded series ({RULES_INFO}) not used: {why}; every figure is from raw series"
        )
        return None
    first = -(-int(start.timestamp()) // HOUR_S) * HOUR_S + HOUR_S
    last = int(end.timestamp()) // HOUR_S * HOUR_S
    if first > last:
        return None
    rq = RecordedQueries(
        ctx, sharing_accepted=accepted.get("sharing"), prices_accepted=accepted.get("prices")
    )
    expected = 1
    if ctx.cluster_label and ctx.cluster_filter is None:
        missing, expected = _clusters_without_rules(source.client, ctx, start, end)
        if missing:
            notes.append(
                f"recorded series ({RULES_INFO}) not used: cluster(s) {', '.join(missing)} have "
                "no recorded ledger; every figure is from raw series"
            )
            return None
    lag = timedelta(seconds=READ_LAG_S)
    answer = source.client.range(
        rq.coverage(), _utc(first) + lag, _utc(last) + lag, timedelta(seconds=HOUR_S)
    )
    hours = frozenset(
        int(stamp) - READ_LAG_S
        for series in answer
        for stamp, value in zip(series.timestamps, series.values, strict=True)
        if math.isfinite(value) and value >= expected
    )
    total = (last - first) // HOUR_S + 1
    if not hours:
        notes.append(
            f"recorded series ({RULES_INFO}) hold no hour of the window: every figure is from "
            "raw series (finops deploy backfill records past hours)"
        )
        return None
    empty_until = _empty_lead(source.client, present, start, min(hours) - HOUR_S)
    if empty_until is not None and expected == 1:
        hours |= _edge_hour(source.client, rq, present, empty_until)
    empty = 0 if empty_until is None else max(0, (empty_until - first) // HOUR_S + 1)
    notes.append(_coverage_note(hours, total, empty_until, empty))
    days = _days(source.client, rq, hours, first, last, expected)
    return Coverage(hours, rq, days, empty_until)


EMPTY_PROBE_MIN_S = 6 * HOUR_S
"""A raw stretch before the first recorded hour shorter than this is read without a probe."""


def _empty_lead(
    client: PrometheusClient, present: frozenset[str], start: datetime, first_recorded: int
) -> int | None:
    """Where the raw stretch before the first recorded hour holds no series at all (a report's
    or forecast's history reaching back before the cluster, or its monitoring, existed), the
    instant up to which nothing need be read: one label-names lookup (the index only, no
    samples) instead of raw queries that scan the stretch for nothing. The stretch's last hour
    is left to ``_edge_hour`` (a first sample on the recorded hour's start belongs to it), and
    the lookup starts an hour early to cover the raw reads' lookback. Indexes answer per block
    (Prometheus: two hours) or per UTC day (VictoriaMetrics), so a stretch that ends inside the
    day (block) of the first sample is read raw: slower, never wrong."""
    until = first_recorded - HOUR_S
    if until - start.timestamp() < EMPTY_PROBE_MIN_S:
        return None
    names = _lead_names(present)
    if not names:
        return None
    # The metric names, not the label names: VictoriaMetrics answers ``__name__`` to a label
    # names lookup that matches no series, so that one never reads as empty there.
    lookback = start - timedelta(seconds=HOUR_S)
    found = client.label_values("__name__", names, lookback, _utc(until))
    return None if found else until


def _lead_names(present: frozenset[str]) -> list[str]:
    """The ``match[]`` of the metrics the ledger reads raw (none when none exist)."""
    names = sorted(n for n in present if n != RULES_INFO and not n.startswith("ledger"))
    return [f"{{__name__=~{alternation(names)}}}"] if names else []


def _edge_hour(
    client: PrometheusClient, rq: RecordedQueries, present: frozenset[str], edge_start: int
) -> frozenset[int]:
    """The hour before the first recorded one (``(edge_start, edge_start + 1 h]``, after an
    empty lead), by its end, where its rollups are its answer: the index holds no series before
    its end (the lookup ends a millisecond short: no day or block of the first sample), so only
    samples on its very end can count in it, and these rules evaluated it (a
    ``finops_rules_info`` sample at its end, up to ``READ_LAG_S`` after: a backfill from the
    first sample's hour records it, with no capacity when no sample falls on that instant).
    Otherwise (empty): it is read raw, as before, scanning the index of the first sample's day
    or block for one instant (at 20,000 GPUs about 1.4 s of a report's 6 s of server CPU)."""
    end = edge_start + HOUR_S
    lag = timedelta(seconds=READ_LAG_S)
    if not any(s.value > 0 for s in client.instant(rq.ran(READ_LAG_S + 1), _utc(end) + lag)):
        return frozenset()
    names = _lead_names(present)
    found = client.label_values("__name__", names, _utc(edge_start), _utc(end - 0.001))
    return frozenset() if found else frozenset({end})


def _days(
    client: PrometheusClient,
    rq: RecordedQueries,
    hours: frozenset[int],
    first: int,
    last: int,
    expected: int,
) -> frozenset[int]:
    """The whole UTC days of the window whose 24 hours are recorded and whose daily rollups
    exist (one more range query, one point per day, only when such days can exist)."""
    candidates = [
        day
        for day in range(-(-(first - HOUR_S) // DAY_S) * DAY_S + DAY_S, last + 1, DAY_S)
        if all(day - k * HOUR_S in hours for k in range(24))
    ]
    if not candidates:
        return frozenset()
    lag = timedelta(seconds=READ_LAG_S)
    answer = client.range(
        rq.coverage(days=True),
        _utc(candidates[0]) + lag,
        _utc(candidates[-1]) + lag,
        timedelta(seconds=DAY_S),
    )
    found = {
        int(stamp) - READ_LAG_S
        for series in answer
        for stamp, value in zip(series.timestamps, series.values, strict=True)
        if math.isfinite(value) and value >= expected
    }
    return frozenset(found & set(candidates))


def _coverage_note(
    hours: frozenset[int], total: int, empty_until: int | None = None, empty: int = 0
) -> str:
    """Which hours were recorded; ``empty``: how many hours of the window end at or before
    ``empty_until`` (nothing read there)."""
    ordered = sorted(hours)
    runs: list[tuple[int, int]] = []
    for hour in ordered:
        if runs and hour == runs[-1][1] + HOUR_S:
            runs[-1] = (runs[-1][0], hour)
        else:
            runs.append((hour, hour))
    shown = ", ".join(
        f"{_utc(a - HOUR_S):%Y-%m-%d %H:%M} to {_utc(b):%Y-%m-%d %H:%M}" for a, b in runs[:3]
    )
    more = f" and {len(runs) - 3} more stretch(es)" if len(runs) > 3 else ""
    raw = len(hours) + empty < total
    rest = "; raw series the rest" if raw else ""
    if empty_until is not None:
        nothing = f"none exist before {_utc(empty_until):%Y-%m-%d %H:%M} UTC: nothing read there"
        rest += f" ({nothing})" if raw else f"; {nothing}"
    return (
        f"recorded series answered {len(hours)} of the window's {total} whole hours "
        f"({shown}{more} UTC){rest}"
    )


def _unusable(ctx: QueryContext, keys: tuple[str, ...], filters: dict[str, str]) -> str | None:
    outside = sorted({*keys, *filters} - RECORDABLE_KEYS)
    if outside:
        return f"they are not kept by {', '.join(k.replace('_', '-') for k in outside)}"
    return None


def _settings_differ(
    ctx: QueryContext, sets: list[dict[str, str]]
) -> tuple[str | None, dict[str, tuple[str, ...]]]:
    """Why no ``finops_rules_info`` in the window fits this run, or None and the ``sharing``
    and ``prices`` values of the rule sets that do: every other setting equal, a sharing that
    covers the one discovered for the window (``recorded_sharing.covers``) and catalog prices
    that price its nodes alike (``recorded_prices.covers``)."""
    wanted = info_labels(ctx)
    if not sets:
        return None, {}
    settings = [f for f in INFO_FIELDS if f not in COVERED_FIELDS]
    same = [labels for labels in sets if all(labels[f] == wanted[f] for f in settings)]
    accepted: dict[str, set[str]] = {field: set() for field in COVERED_FIELDS}
    uncovered: set[str] = set()
    for labels in same:
        why = _uncovered(ctx, labels)
        if why is None:
            for field in COVERED_FIELDS:
                accepted[field].add(labels.get(field, ""))
        else:
            uncovered.add(why)
    if accepted["sharing"]:
        return None, {field: tuple(sorted(values)) for field, values in accepted.items()}
    if uncovered:
        return (
            f"they were {'; '.join(sorted(uncovered))}: regenerate and backfill them with the "
            "window's shared GPUs and prices (finops deploy backfill discovers both)"
        ), {}
    differences = sorted(
        {
            f"{field}={labels[field] or '(none)'!r} (this run: {wanted[field] or '(none)'!r})"
            for labels in sets
            for field in settings
            if labels[field] != wanted[field]
        }
    )
    return (
        f"they were made with {', '.join(differences)}; regenerate and backfill the rules with "
        "these settings (finops deploy backfill) or run with the settings they were made with"
    ), {}


def _uncovered(ctx: QueryContext, labels: dict[str, str]) -> str | None:
    """What a rule set of this run's settings lacks for the window's sharing or prices."""
    try:
        return recorded_sharing.covers(
            recorded_sharing.parse(labels["sharing"]), ctx.sharing
        ) or recorded_prices.covers(recorded_prices.parse(labels.get("prices", "")), ctx)
    except ValueError as exc:
        return str(exc)


def _clusters_without_rules(
    client: PrometheusClient, ctx: QueryContext, start: datetime, end: datetime
) -> tuple[list[str], int]:
    """Clusters with GPU capacity in the window but no recorded ledger, and how many have it."""
    label = ctx.cluster_label or ""
    capacity = queries.GPU_CAPACITY if ctx.catalog_prices is None else queries.GPU_ALLOCATABLE
    raw = set(client.label_values(label, [capacity], start, end))
    recorded = set(client.label_values(label, [COVERAGE_SERIES], start, end))
    return sorted(raw - recorded), max(1, len(raw))


# ---- answering one measure ---------------------------------------------------------------
RAW, HOURS, DAYS, EMPTY = "raw", "hours", "days", "empty"
Piece = tuple[int, int, str]  # (start, end, how), unix seconds


def _pieces(b0: int, b1: int, coverage: Coverage | None) -> list[Piece]:
    """``(b0, b1]`` cut into maximal stretches read one way: recorded UTC days, recorded hours,
    raw series, or nothing (``EMPTY``: before any series exist)."""
    hours = coverage.hours if coverage is not None else frozenset()
    days = coverage.days if coverage is not None else frozenset()
    empty_until = coverage.empty_until if coverage is not None else None
    out: list[Piece] = []
    at = b0
    while at < b1:
        if empty_until is not None and at < empty_until:
            how, stop = EMPTY, min(empty_until, b1)
        elif at % DAY_S == 0 and at + DAY_S <= b1 and at + DAY_S in days:
            how, stop = DAYS, at + DAY_S
        else:
            hour_end = (at // HOUR_S + 1) * HOUR_S
            recorded = at % HOUR_S == 0 and hour_end <= b1 and hour_end in hours
            how, stop = (HOURS if recorded else RAW), min(hour_end, b1)
        if out and out[-1][2] == how and out[-1][1] == at:
            out[-1] = (out[-1][0], stop, how)
        else:
            out.append((at, stop, how))
        at = stop
    return out


def _buckets(cut: buckets.BucketPlan, coverage: Coverage | None, daily: bool) -> list[Piece]:
    """The buckets to answer, ``(start, end, "")`` in order; with ``daily`` the hourly buckets
    of a recorded UTC day become one day-long bucket."""
    full: list[Piece] = []
    if cut.first_full_end is not None and cut.last_full_end is not None:
        size = cut.bucket_s
        full = [(b - size, b, "") for b in range(cut.first_full_end, cut.last_full_end + 1, size)]
    if daily and coverage is not None and coverage.days and cut.bucket_s == HOUR_S and full:
        lo, hi = full[0][0], full[-1][1]
        merged: list[Piece] = []
        for b0, b1, how in full:
            day = -(-b1 // DAY_S) * DAY_S
            if day in coverage.days and day - DAY_S >= lo and day <= hi:
                if b1 == day:
                    merged.append((day - DAY_S, day, how))
                continue
            merged.append((b0, b1, how))
        full = merged
    partials = [(at - length, at, "") for at, length in cut.partials]
    return sorted([*full, *partials])


def answer(
    client: PrometheusClient,
    raw: str,
    recorded: Callable[[float, bool], str] | None,
    coverage: Coverage | None,
    start: datetime,
    end: datetime,
    bucket_s: int,
    interval: int,
    daily: bool = False,
) -> list[prometheus_rows.Series]:
    """``(labels, bucket_ends, values)`` of a measure for every bucket of the window, from the
    rollups where ``coverage`` has the hours (days) and ``recorded(length, days)`` builds the
    read, else raw. With ``daily`` (the caller sums per UTC day), a recorded day is one row."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    cut = buckets.plan(lo, hi, bucket_s)
    usable = coverage if recorded is not None else None
    out: list[prometheus_rows.Series] = []
    split: list[tuple[int, list[Piece]]] = []
    runs: list[tuple[int, int, int, str]] = []  # (first end, last end, length, how)
    for b0, b1, _ in _buckets(cut, usable, daily):
        pieces = _pieces(b0, b1, usable)
        if len(pieces) > 1 or b1 - b0 not in (bucket_s, DAY_S):
            split.append((b1, pieces))
            continue
        how, length = pieces[0][2], b1 - b0
        last = runs[-1] if runs else None
        if last is not None and last[3] == how and last[2] == length and last[1] == b0:
            runs[-1] = (last[0], b1, length, how)
        else:
            runs.append((b1, b1, length, how))

    def query(how: str, length: int) -> str:
        if how == RAW or recorded is None:
            return over_buckets(raw, length, interval)
        return recorded(length, how == DAYS)

    for first, last_end, length, how in runs:
        if how == EMPTY:
            continue
        lag = 0 if how == RAW else READ_LAG_S
        step = timedelta(seconds=length)
        for series in client.range(
            query(how, length), _utc(first + lag), _utc(last_end + lag), step
        ):
            out.append((series.labels, [t - lag for t in series.timestamps], series.values))
    for bucket_end, pieces in split:
        for p0, p1, how in pieces:
            if how == EMPTY:
                continue
            lag = 0 if how == RAW else READ_LAG_S
            samples = client.instant(query(how, p1 - p0), _utc(p1 + lag))
            out.extend((s.labels, [float(bucket_end)], [s.value]) for s in samples)
    return out

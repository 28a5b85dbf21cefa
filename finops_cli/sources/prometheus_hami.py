"""HAMi pods as holders of the GPUs ``gpus`` lists, from HAMi's scheduler metrics.

dcgm-exporter names no HAMi pod (it cannot map HAMi's device IDs), so without these metrics a
HAMi GPU has no holder in ``gpus``. With them (``queries.hami``), each HAMi device's pods are
added to the row of the dcgm-exporter GPU with the same UUID, with their share-hours; the row's
``held_hours`` become the hours some HAMi pod held a share of it. Where HAMi's vGPUmonitor is
scraped (``queries.hami_monitor``), each HAMi holder gets its own busy and the row the busy and
``used_cost`` of its held shares (``hami_busy``), so its waste is the ledger's. Kept apart from
``prometheus_gpus`` so that a cluster without HAMi costs one ``__name__`` lookup and nothing else.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from finops_cli.promql import duration
from finops_cli.queries import any_metric
from finops_cli.queries.hami import HAMI_METRICS, HamiNames, HamiQueries, present
from finops_cli.sources import prometheus_rows

if TYPE_CHECKING:
    from finops_cli.queries import QueryContext
    from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient

NO_HAMI_METRICS = (
    "HAMi pods hold shares of GPUs but HAMi's scheduler metrics "
    "(hami_vgpu_core_allocated_ratio, or vGPUCoreAllocated with --legacy-metrics) are not "
    "scraped: those GPUs list no holders (dcgm-exporter cannot map HAMi's devices to pods)"
)


def hami_scheme(client: PrometheusClient, start: datetime, end: datetime) -> HamiNames | None:
    """The HAMi naming scheme the server has in the window, or None (one index lookup)."""
    names = client.label_values("__name__", [any_metric(HAMI_METRICS)], start, end)
    return present(names)


def _held_samples(hq: HamiQueries) -> str:
    """Samples at which some HAMi pod held a share of each device."""
    held = f"sum by ({hq.device}) ({hq.shares()}) > 0"
    return f"count_over_time(({held})[{hq.window}:{hq.step}])"


def hami_held(
    client: PrometheusClient, ctx: QueryContext, names: HamiNames, window_s: float, end: datetime
) -> dict[tuple[str, str], float]:
    """(cluster, device UUID) -> samples some HAMi pod held a share of it (x sample hours: the
    device's held hours)."""
    samples = client.instant(_held_samples(HamiQueries(ctx, names, window_s)), end)
    prometheus_rows.name_cluster(samples, ctx.cluster_label)
    return {
        (s.labels.get("cluster", ""), s.labels.get("device_uuid", "")): s.value
        for s in samples
        if math.isfinite(s.value)
    }


def hami_holders(
    client: PrometheusClient,
    ctx: QueryContext,
    names: HamiNames,
    window_s: float,
    end: datetime,
) -> tuple[list[InstantSample], list[InstantSample], list[InstantSample]]:
    """Share-samples per (device, pod), samples held per device, and over-subscribed devices."""
    hq = HamiQueries(ctx, names, window_s)
    queries = (hq.share_samples(), _held_samples(hq), hq.oversubscribed())
    answers = [client.instant(q, end) for q in queries]
    for samples in answers:
        prometheus_rows.name_cluster(samples, ctx.cluster_label)
    return answers[0], answers[1], answers[2]


def attach_hami_holders(
    rows: dict[tuple[str, ...], dict[str, object]],
    shares: list[InstantSample],
    held: list[InstantSample],
    attributes: list[InstantSample],
    pod_keys: dict[str, str],
    hours: float,
) -> set[str]:
    """Add each HAMi device's pods to the whole-GPU row with its UUID (after
    ``attach_holders``): ``share_hours`` and ``share`` as there; the row's ``held_hours`` and,
    where it names none, its main holder, from HAMi. Returns the UUIDs matched to no row."""
    by_uuid = {
        (str(row.get("cluster") or ""), str(row.get("uuid") or "")): row
        for row in rows.values()
        if row.get("uuid") and not row.get("mig_profile")
    }
    labels_of = prometheus_rows.attributes_by_pod(attributes)
    unmatched: set[str] = set()
    touched: set[int] = set()
    for s in shares:
        uuid = s.labels.get("device_uuid", "")
        row = by_uuid.get((s.labels.get("cluster", ""), uuid))
        if row is None:
            unmatched.add(uuid)
            continue
        if not math.isfinite(s.value) or s.value <= 0:
            continue
        pod = (s.labels.get("namespace", ""), s.labels.get("pod", ""))
        holders: list[dict[str, object]] = row.setdefault("holders", [])  # type: ignore[assignment]
        if any((h["namespace"], h["pod"]) == pod for h in holders):
            continue  # dcgm-exporter named it already
        present_hours = float(row.get("present_hours") or 0.0)  # type: ignore[arg-type]
        holders.append(
            prometheus_rows.holder_entry(
                s.labels, labels_of, pod_keys, s.value * hours, present_hours
            )
        )
        touched.add(id(row))
    for s in held:
        row = by_uuid.get((s.labels.get("cluster", ""), s.labels.get("device_uuid", "")))
        if row is not None and math.isfinite(s.value):
            row["held_hours"] = max(float(row.get("held_hours") or 0.0), s.value * hours)  # type: ignore[arg-type]
    for row in by_uuid.values():
        if id(row) not in touched:
            continue
        listed: list[dict[str, object]] = row["holders"]  # type: ignore[assignment]
        listed.sort(key=lambda h: (-float(h["share_hours"]), str(h["pod"])))  # type: ignore[arg-type]
        if not row.get("pod"):
            top = listed[0]
            row.update({k: top[k] for k in ("namespace", "pod", *pod_keys)})
    return unmatched


def hami_busy(
    client: PrometheusClient, ctx: QueryContext, window_s: float, end: datetime
) -> dict[str, list[InstantSample]]:
    """HAMi holders' own busy over the window, from HAMi's vGPUmonitor (``queries.hami_monitor``;
    empty where it is not scraped): per (GPU, pod) the share-samples it was busy (``busy``) and
    held (``share``); per GPU the price x busy share-samples (``used``, the ledger's paid-for
    work) and the p95 of its held shares' busy (``p95``)."""
    hb = ctx.hami_busy
    if hb is None:
        return {}
    window, step = duration(window_s), duration(ctx.sample_interval_s)
    gpu = ctx.grouping(["node", "gpu"])
    busy, share = hb.busy(), hb.share()
    used = f"sum by ({gpu}) ({busy}) * on ({ctx.node_join}) group_left () {ctx.node_price()}"
    held = f"sum by ({gpu}) ({busy}) / sum by ({gpu}) ({share})"
    queries = {
        "busy": f"sum_over_time(({busy})[{window}:{step}])",
        "share": f"sum_over_time(({share})[{window}:{step}])",
        "used": f"sum_over_time(({used})[{window}:{step}])",
        "p95": f"quantile_over_time(0.95, ({held})[{window}:{step}])",
    }
    answers = {name: client.instant(q, end) for name, q in queries.items()}
    for samples in answers.values():
        prometheus_rows.name_cluster(samples, ctx.cluster_label)
    return answers


def attach_hami_busy(
    rows: dict[tuple[str, ...], dict[str, object]],
    answers: dict[str, list[InstantSample]],
    hours: float,
) -> None:
    """Each HAMi GPU row (no busy from dcgm-exporter, which names no HAMi pod) gets its held
    shares' busy (average, share-weighted, and p95) and ``used_cost``, so that ``cost -
    used_cost`` is the ledger's waste of it; each HAMi holder its own ``busy_avg``."""
    if not answers:
        return

    def gpu_of(s: InstantSample) -> tuple[str, str, str]:
        return (s.labels.get("cluster", ""), s.labels.get("node", ""), s.labels.get("gpu", ""))

    by_gpu = {
        (str(r.get("cluster") or ""), str(r["node"]), str(r["gpu"])): r
        for r in rows.values()
        if not r.get("mig_profile") and r.get("busy_avg") is None
    }
    held: dict[tuple[str, str, str, str, str], list[float]] = {}
    for name in ("busy", "share"):
        for s in answers[name]:
            if math.isfinite(s.value):
                who = (s.labels.get("namespace", ""), s.labels.get("pod", ""))
                held.setdefault((*gpu_of(s), *who), [0.0, 0.0])[name == "share"] += s.value
    totals: dict[tuple[str, str, str], list[float]] = {}
    for (*gpu, namespace, pod), (busy, share) in held.items():
        row = by_gpu.get((gpu[0], gpu[1], gpu[2]))
        if row is None or share <= 0:
            continue
        total = totals.setdefault((gpu[0], gpu[1], gpu[2]), [0.0, 0.0])
        total[0] += busy
        total[1] += share
        for holder in row.get("holders") or []:  # type: ignore[attr-defined]
            if (holder["namespace"], holder["pod"]) == (namespace, pod):
                holder["busy_avg"] = busy / share
    for key, (busy, share) in totals.items():
        by_gpu[key]["busy_avg"] = busy / share
    for name, column in (("used", "used_cost"), ("p95", "busy_p95")):
        for s in answers[name]:
            row = by_gpu.get(gpu_of(s))
            if row is not None and gpu_of(s) in totals and math.isfinite(s.value):
                row[column] = s.value * hours if name == "used" else s.value

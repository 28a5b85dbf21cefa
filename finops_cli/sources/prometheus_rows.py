"""Turning the server's answers into rows: the bucketed merge, per-GPU and per-workload rows.

Apart from the queries because this is the client-side work whose cost docs/performance.md
measures: each function makes one pass over the answers (numpy for the bucketed merge), with no
per-row pandas work. Values the server returned as NaN or Inf are left out and named in
``skipped``, for ``partial_notes`` to flag.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from finops_cli.pricing import normalize_capacity_type
from finops_cli.queries import (
    ACCELERATOR_LABEL,
    BETA_INSTANCE_TYPE_LABEL,
    BUSY_PROFILING,
    BUSY_UTIL,
    CAPACITY_LABELS,
    GPU_KEY,
    INSTANCE_TYPE_LABEL,
    REGION_LABEL,
    WORKLOAD_LABELS,
)
from finops_cli.queries.sharing import mig_fraction
from finops_cli.sources.interface import GPU_COLUMNS
from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient

if TYPE_CHECKING:
    import pandas as pd

# One answered series of a bucketed measure: labels, bucket ends (unix s), values.
Series = tuple[dict[str, str], list[float], list[float]]


def partial_notes(client: PrometheusClient, warned: int, skipped: list[str]) -> list[str]:
    """PARTIAL DATA notes: NaN/Inf values left out, and server warnings since ``warned``."""
    notes = [nan_note(skipped)] if skipped else []
    warnings = client.warnings[warned:]
    if warnings:
        more = f" (and {len(warnings) - 1} other warning(s))" if len(warnings) > 1 else ""
        notes.append(
            "PARTIAL DATA: Prometheus warned that its answer may be incomplete, figures may "
            f"be too low: {warnings[0]}{more}"
        )
    return notes


def nan_note(skipped: list[str]) -> str:
    return (
        f"PARTIAL DATA: the server returned {len(skipped)} NaN/Inf value(s) that were left out "
        f"(first: {skipped[0]})"
    )


def merge_buckets(
    results: dict[str, list[Series]],
    measures: tuple[str, ...],
    prom_keys: list[str],
    keys: list[str],
    skipped: list[str],
) -> pd.DataFrame:
    """One tidy frame keyed by bucket and group, sorted by both; a measure absent for a group
    counts as 0.

    Series that differ only in labels outside the group (one per cluster behind Thanos) add up.
    Non-finite values cannot be costs: they are counted in ``skipped`` for the caller to flag.
    Every (bucket, group) cell is summed in one numpy pass: a grouped pandas sum over a fleet's
    answers took a tenth of a second per call.
    """
    import numpy as np
    import pandas as pd

    # Every answer's points go into flat lists first, numpy arrays once: a numpy call per series
    # (thousands of them, most one-point edge buckets) cost more than the sums themselves.
    group_ids: dict[tuple[str, ...], int] = {}
    all_stamps: list[float] = []
    all_values: list[float] = []
    series: list[tuple[str, dict[str, str]]] = []
    series_group: list[int] = []
    series_column: list[int] = []
    series_length: list[int] = []
    for column, measure in enumerate(measures):
        for labels, series_stamps, series_values in results.get(measure, []):
            group = tuple(labels.get(p, "") for p in prom_keys)
            series.append((measure, labels))
            series_group.append(group_ids.setdefault(group, len(group_ids)))
            series_column.append(column)
            series_length.append(len(series_values))
            all_stamps.extend(series_stamps)
            all_values.extend(series_values)
    lengths = np.array(series_length, dtype="int64")
    stamp = np.array(all_stamps, dtype="float64")
    value = np.array(all_values, dtype="float64")
    group_of = np.repeat(np.array(series_group, dtype="int64"), lengths)
    measure_of = np.repeat(np.array(series_column, dtype="int64"), lengths)
    finite = np.isfinite(value)
    if not finite.all():
        series_of = np.repeat(np.arange(len(series)), lengths)
        skipped.extend(f"{series[i][0]} {series[i][1]}" for i in series_of[~finite])
        stamp, value, group_of, measure_of = (
            a[finite] for a in (stamp, value, group_of, measure_of)
        )
    # Cells in (bucket, group) order: groups ranked by their key values, as a sort would.
    ordered = sorted(group_ids)
    rank = np.empty(len(ordered), dtype="int64")
    rank[[group_ids[g] for g in ordered]] = np.arange(len(ordered))
    # pd.factorize(sort=True) is np.unique(return_inverse=True) by hashing: a sort of the
    # distinct values only, not of every point.
    bucket, bucket_ends = pd.factorize(stamp, sort=True)
    group_rank = rank[group_of]
    width = max(len(ordered), 1)
    cell, cells = pd.factorize((bucket * width + group_rank).astype("int64"), sort=True)
    frame = pd.DataFrame(
        {"bucket_end": bucket_ends[cells // width]}
        | {
            key: np.array([g[i] for g in ordered], dtype=object)[cells % width]
            for i, key in enumerate(keys)
        }
        | {
            measure: np.bincount(cell[measure_of == i], value[measure_of == i], len(cells)).astype(
                float
            )
            for i, measure in enumerate(measures)
        }
    )
    frame["bucket_end"] = pd.to_datetime(frame["bucket_end"], unit="s", utc=True)
    return frame


def scale_to_physical(rows: dict[tuple[str, ...], dict[str, object]], *, shared: bool) -> None:
    """Money per row in physical-GPU terms: a MIG instance costs its profile's fraction of its
    GPU's price; where a GPU is reported both whole and by instances (DRA MIG devices), the
    whole row keeps only the slices no instance covers, so the GPU is paid once. On shared
    GPUs ``used_cost`` is already weighted by the holders' shares."""
    covered: dict[tuple[str, ...], float] = {}
    for key, row in rows.items():
        if row.get("mig_profile"):
            covered[key[:-1]] = covered.get(key[:-1], 0.0) + mig_fraction(str(row["mig_profile"]))
    for key, row in rows.items():
        if row.get("mig_profile"):
            share = mig_fraction(str(row["mig_profile"]))
        else:
            share = max(0.0, 1.0 - covered.get(key[:-1], 0.0))
        for money in ("cost", "hourly_price", "used_cost"):
            if money == "used_cost" and shared:
                continue
            if row.get(money) is not None:
                row[money] = float(row[money]) * share  # type: ignore[arg-type]


PodAttributes = dict[tuple[str, str, str], dict[str, str]]


def attributes_by_pod(attributes: list[InstantSample]) -> PodAttributes:
    """The pod-attribute samples by (cluster, namespace, pod): what a holder is labelled with."""
    return {
        (s.labels.get("cluster", ""), s.labels.get("namespace", ""), s.labels.get("pod", "")): (
            s.labels
        )
        for s in attributes
    }


def holder_entry(
    labels: dict[str, str],
    attributes: PodAttributes,
    pod_keys: dict[str, str],
    share_hours: float,
    present_hours: float | None = None,
) -> dict[str, object]:
    """One entry of a row's ``holders``: the pod ``labels`` name, its attributes, its
    share-hours and, given the hours the row was reported, its average share."""
    pod = (labels.get("namespace", ""), labels.get("pod", ""))
    attrs = attributes.get((labels.get("cluster", ""), *pod), {})
    entry: dict[str, object] = {
        "namespace": pod[0],
        "pod": pod[1],
        **{k: attrs.get(p, "") for k, p in pod_keys.items()},
        "share_hours": share_hours,
    }
    if present_hours is not None:
        entry["share"] = share_hours / present_hours if present_hours > 0 else 0.0
    return entry


def attach_holders(
    rows: dict[tuple[str, ...], dict[str, object]],
    shares: list[InstantSample],
    attributes: list[InstantSample],
    pod_keys: dict[str, str],
    hours: float,
) -> None:
    """Each row's ``holders``: the pods that held a share of it, with the share of the physical
    GPU they held on average over the hours the row was reported (so a GPU's shares add up to
    at most 1) and the share-hours behind it. Without sharing, the one pod that held it."""
    labels_of = attributes_by_pod(attributes)
    found: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for s in shares:
        key = gpu_key(s.labels)
        if key not in rows or not math.isfinite(s.value) or s.value <= 0:
            continue
        found.setdefault(key, []).append(
            holder_entry(s.labels, labels_of, pod_keys, s.value * hours)
        )
    for key, row in rows.items():
        present = float(row.get("present_hours") or 0.0)  # type: ignore[arg-type]
        holders = found.get(key)
        if holders is None and not shares and row.get("pod"):
            held = float(row.get("held_hours") or 0.0)  # type: ignore[arg-type]
            share = mig_fraction(str(row["mig_profile"])) if row.get("mig_profile") else 1.0
            holders = [
                {
                    "namespace": row.get("namespace", ""),
                    "pod": row["pod"],
                    **{k: row.get(k, "") for k in pod_keys},
                    "share_hours": held * share,
                }
            ]
        for holder in holders or []:
            hours_held = float(holder["share_hours"])  # type: ignore[arg-type]
            holder["share"] = hours_held / present if present > 0 else 0.0
        row["holders"] = sorted(
            holders or [],
            key=lambda h: (-float(h["share_hours"]), str(h["pod"])),  # type: ignore[arg-type]
        )


def cap_holder_shares(rows: dict[tuple[str, ...], dict[str, object]]) -> list[str]:
    """Scale each physical GPU's holders (its whole row and the MIG instances beneath it) down
    to shares adding up to 1 where they add up to more (over-subscription: stale or
    mislabelled series, a KAI group's fractions past 1), as the ledger caps each GPU's weights
    (``QueryContext.ledger_weighted``). Returns the GPUs scaled, as ``node/gpu``."""
    physical: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for key, row in rows.items():
        physical.setdefault(key[:-1], []).append(row)
    scaled = []
    for gpu, units in sorted(physical.items()):
        present = max(float(r.get("present_hours") or 0.0) for r in units)  # type: ignore[arg-type]
        holders = [h for r in units for h in r.get("holders") or []]  # type: ignore[attr-defined]
        held = sum(float(h["share_hours"]) for h in holders)
        if present <= 0 or held <= present * 1.001:
            continue
        for h in holders:
            h["share_hours"] = float(h["share_hours"]) * present / held
            h["share"] = float(h["share"]) * present / held
        scaled.append("/".join(gpu[1:3]))
    return scaled


def busy_metric_name(present: frozenset[str]) -> str | None:
    if len(present) == 2:
        return f"{BUSY_PROFILING} (else {BUSY_UTIL}/100)"
    return next(iter(present)) if present else None


_WORKLOAD_KEY = ("cluster", "namespace", *WORKLOAD_LABELS)
_GPU_KEY = ("cluster", *GPU_KEY)
_BLANKS = ("",) * max(len(_WORKLOAD_KEY), len(_GPU_KEY))  # map stops at the shorter


def workload_key(labels: dict[str, str]) -> tuple[str, ...]:
    # map over the pair of tuples: called for every pod of every workload (70,000 at 20,000
    # GPUs), where a generator took a quarter of a second
    return tuple(map(labels.get, _WORKLOAD_KEY, _BLANKS))


def workload_busy(
    rows: dict[tuple[str, ...], dict[str, object]],
    results: dict[str, list[InstantSample]],
    skipped: list[str],
) -> None:
    """busy_avg: busy share summed over all the workload's GPU-samples, over their count."""
    samples = {workload_key(s.labels): s.value for s in results.get("busy_samples", [])}
    for s in results.get("busy_sum", []):
        if (row := rows.get(workload_key(s.labels))) is None:
            continue
        count = samples.get(workload_key(s.labels), 0.0)
        if not (math.isfinite(s.value) and math.isfinite(count)):
            skipped.append(f"busy_avg {s.labels}")
        elif count > 0:
            row["busy_avg"] = s.value / count


def describe_workloads(
    rows: dict[tuple[str, ...], dict[str, object]],
    results: dict[str, list[InstantSample]],
    label_names: dict[str, str],
    interruptible: str,
) -> None:
    """Main pod, node and GPU product; attribution labels (the first non-empty among the
    pods', interruptible if any pod is); and every pod's name."""
    for s in results["placement"]:
        if (row := rows.get(workload_key(s.labels))) is not None:
            row.update(
                pod=s.labels.get("pod", ""),
                node=s.labels.get("node", ""),
                gpu_model=s.labels.get("modelName", ""),
            )
    for s in sorted(results["labels"], key=lambda s: sorted(s.labels.items())):
        if (row := rows.get(workload_key(s.labels))) is None:
            continue
        for field_name, label in label_names.items():
            row[field_name] = row[field_name] or s.labels.get(label, "")
        if s.labels.get(interruptible, "").lower() == "true":
            row["interruptible"] = "true"
    names: dict[tuple[str, ...], list[str]] = {k: [] for k in rows}
    for s in results["pods"]:
        if (found := names.get(workload_key(s.labels))) is not None:
            found.append(s.labels.get("pod", ""))
    for k, row in rows.items():
        row["pod_names"] = tuple(sorted(names[k]))
        row["pod"] = row["pod"] or (sorted(names[k]) or [""])[-1]


def gpu_key(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(map(labels.get, _GPU_KEY, _BLANKS))


_INTEGRATED = ("present_hours", "held_hours", "cost", "used_cost")  # sums of samples: x S/3600


def gpu_rows(
    results: dict[str, list[InstantSample]], hours: float, skipped: list[str]
) -> dict[tuple[str, ...], dict[str, object]]:
    """Rows come from the inventory (the only answer with UUID, model and MIG profile); a GPU
    replaced in its slot during the window shows twice there and counts once."""
    rows: dict[tuple[str, ...], dict[str, object]] = {}
    for measure, samples in results.items():
        for s in samples:
            value = s.value if math.isfinite(s.value) else None
            if value is None:
                skipped.append(f"{measure} {s.labels}")
            if measure in _INTEGRATED and value is not None:
                value *= hours
            if measure == "present_hours":
                row = rows.setdefault(gpu_key(s.labels), _gpu_row(s.labels))
                before = row.get(measure)
                if isinstance(before, float) and value is not None:
                    value += before
            elif gpu_key(s.labels) in rows:
                row = rows[gpu_key(s.labels)]
            else:
                continue
            row[measure] = value
    return rows


def name_cluster(samples: list[InstantSample], cluster_label: str | None) -> None:
    """Call each sample's cluster ``cluster`` whatever the label configured (``labels.cluster``,
    e.g. a Thanos external label ``k8s_cluster``), in place: rows and their keys read
    ``cluster``, so the same node or workload name in two clusters stays two rows."""
    if not cluster_label or cluster_label == "cluster":
        return
    for sample in samples:
        sample.labels["cluster"] = sample.labels.pop(cluster_label, "")


def _gpu_row(labels: dict[str, str]) -> dict[str, object]:
    return dict.fromkeys(GPU_COLUMNS) | {
        "cluster": labels.get("cluster", ""),
        "node": labels.get("node", ""),
        "gpu": labels.get("gpu", ""),
        "uuid": labels.get("UUID", ""),
        "mig_profile": labels.get("GPU_I_PROFILE", ""),
        "mig_instance": labels.get("GPU_I_ID", ""),
        "model_name": labels.get("modelName", ""),
        "namespace": "",
        "pod": "",
        "team": "",
        "project": "",
        "model": "",
    }


def node_row(labels: dict[str, str]) -> dict[str, str]:
    """``NODE_COLUMNS`` from a node's ``kube_node_labels`` series."""
    label = next((c for c in CAPACITY_LABELS if labels.get(c)), "")
    instance_type, accelerator = node_type_labels(labels)
    return {
        "node": labels.get("node", ""),
        "instance_type": instance_type,
        "region": labels.get(REGION_LABEL, ""),
        "capacity_type": capacity_of(label, labels[label]) if label else "",
        "accelerator": accelerator,
        "cluster": labels.get("cluster", ""),
    }


def node_type_labels(labels: dict[str, str]) -> tuple[str, str]:
    """A node's instance type (the stable label, else the beta one) and GKE accelerator."""
    instance_type = labels.get(INSTANCE_TYPE_LABEL) or labels.get(BETA_INSTANCE_TYPE_LABEL, "")
    return instance_type, labels.get(ACCELERATOR_LABEL, "")


def capacity_of(label: str, value: str) -> str:
    """Spot or on-demand from whichever capacity label a node carries (GKE says ``true``)."""
    if label == "label_cloud_google_com_gke_spot":
        return "spot" if value.lower() == "true" else "on-demand"
    return normalize_capacity_type(value) or "on-demand"

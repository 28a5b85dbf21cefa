"""Cost figures from OpenCost's allocation API (``GET /allocation/compute``).

One request per ``costs()`` call: the window as an RFC 3339 pair, ``accumulate=true`` (one figure
for the whole window) and ``includeIdle=true`` (the ``__idle__`` entry that makes capacity add
up). The request's group keys become OpenCost's ``aggregate`` (``label:<pod label key>`` for
team/project/model/environment, ``annotation:<pod annotation key>`` for cost_center,
``namespace``, ``node``, ``cluster``); ``gpu_model`` has no OpenCost equivalent and is refused.
OpenCost reads pod annotations from the ``kube_pod_annotations`` series it scrapes (or emits,
with ``EMIT_POD_ANNOTATIONS_METRIC``), so they need the same kube-state-metrics allowlist.

What OpenCost answers, and how it is read:

* Filters are applied here, on the aggregated names, not with ``filter=`` (that parameter exists
  only in 2025+ builds and its syntax changed between them). A filter key that is not a group key
  is added to ``aggregate`` and summed away after filtering. A ``cluster`` filter also narrows the
  cluster frame (capacity and idle of that cluster only); other filters leave it whole.
* The whole window is one bucket: ``bucket_end`` is the window end and ``sample_interval_s`` is 0,
  since OpenCost integrates at its own resolution and reports no scrape interval.
* Every number is optional (NaN/Inf reach the wire as ``null``; fields come and go between
  versions). Empty money figures count as 0 and are named in ``notes``; a missing ``gpuHours`` is
  derived from ``gpuCount x minutes / 60``. GPU and CPU/RAM costs include OpenCost's
  ``*CostAdjustment`` fields (0 unless reconciled), as OpenCost's own totals and idle do.
* Efficiency comes from ``gpuEfficiency`` (else ``gpuUsageAverage / gpuRequestAverage``, top-level
  or under ``gpuAllocation``). OpenCost writes 0 when it has no DCGM usage at all, so a window
  where every GPU allocation reads exactly 0 is reported as unknown efficiency, with a note.
* ``__unallocated__`` (pods without the label) becomes the group value ``""``; ``__idle__`` is not
  a row but the capacity nobody held; ``__unmounted__`` (PVs, load balancers) carries no GPU and is
  skipped. Multi-key names are OpenCost's values joined with ``/``; older builds wrote a label as
  ``<sanitised key>=<value>``, and that prefix is removed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Unpack

import pandas as pd

from finops_cli.errors import UsageError
from finops_cli.sources.interface import (
    ALLOCATION_MEASURES,
    CLUSTER_MEASURES,
    CostData,
    CostRequest,
    CostSource,
)
from finops_cli.sources.opencost_api import ApiOptions, OpenCostApi
from finops_cli.timewindow import TIMESTAMP

__all__ = ["BUSY_METRIC", "OpenCostCostSource", "aggregate_keys", "aggregate_param"]

log = logging.getLogger("finops.opencost")

BUSY_METRIC = "OpenCost gpuEfficiency"
IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
UNMOUNTED = "__unmounted__"
_LABEL_KEYS = ("team", "project", "model", "environment")
_ANNOTATION_KEYS = ("cost_center",)
_ATTRIBUTE_KEYS = (*_LABEL_KEYS, *_ANNOTATION_KEYS)
DEFAULT_COST_CENTER_KEY = "ai-finops.io/cost-center"
_NATIVE_KEYS = ("cluster", "node", "namespace")  # OpenCost's own key order in older builds
_INVALID_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")  # OpenCost's (Prometheus') label sanitiser


def aggregate_keys(keys: tuple[str, ...] | list[str]) -> list[str]:
    """Group/filter keys without repeats, in the order OpenCost joins multi-key names.

    Older builds join names in a fixed order (cluster, node, namespace, then labels) whatever
    order was asked; newer ones follow the request. Asking in that fixed order makes both agree.
    Raises ``UsageError`` for keys OpenCost cannot aggregate by.
    """
    unknown = sorted({k for k in keys if k not in _ATTRIBUTE_KEYS and k not in _NATIVE_KEYS})
    if "gpu_model" in unknown:
        raise UsageError(
            "OpenCost cannot group or filter by gpu_model (its allocation API has no GPU model "
            "property); use --source prometheus for that"
        )
    if unknown:
        raise UsageError(f"OpenCost cannot group or filter by {', '.join(unknown)}")
    ordered = [k for k in _NATIVE_KEYS if k in keys]
    for key in keys:
        if key in _ATTRIBUTE_KEYS and key not in ordered:
            ordered.append(key)
    return ordered


def aggregate_param(keys: list[str], pod_labels: Mapping[str, str]) -> str:
    """OpenCost's ``aggregate`` value for keys already ordered by ``aggregate_keys``."""
    terms = []
    for key in keys:
        if key in _LABEL_KEYS:
            label = pod_labels.get(key)
            if not label:
                raise UsageError(f"no Kubernetes label key configured for {key}")
            terms.append(f"label:{label}")
        elif key in _ANNOTATION_KEYS:
            terms.append(f"annotation:{_annotation_key(pod_labels, key)}")
        else:
            terms.append(key)
    return ",".join(terms)


@dataclass
class _Totals:
    """Summed measures of one group (or of idle) across steps."""

    gpu_hours: float = 0.0
    gpu_cost: float = 0.0
    cpu_ram_cost: float = 0.0
    busy_gpu_hours: float = 0.0
    observed_gpu_hours: float = 0.0
    wasted_cost: float = 0.0  # gpu_cost x (1 - efficiency), entry by entry


@dataclass
class _Parsed:
    rows: dict[tuple[str, ...], _Totals] = field(default_factory=dict)
    idle: dict[str, _Totals] = field(default_factory=dict)  # by cluster ("" when unknown)
    efficiencies: list[float] = field(default_factory=list)  # of entries holding GPUs
    usage_seen: bool = False  # any gpuUsageAverage > 0
    empty_figures: list[str] = field(default_factory=list)
    derived_hours: list[str] = field(default_factory=list)
    unsplit: list[str] = field(default_factory=list)
    entries: int = 0
    windows: set[tuple[datetime, datetime]] = field(default_factory=set)  # allocations' window


class OpenCostCostSource(CostSource):
    """Reads OpenCost's allocation API; see the module docstring for how figures map."""

    name = "opencost"

    def __init__(
        self,
        base_url: str | None,  # None or blank: a UsageError saying how to set it
        pod_labels: dict[str, str],
        **options: Unpack[ApiOptions],  # headers, timeout_seconds, retries, verify, ...
    ) -> None:
        self.pod_labels = pod_labels
        self._api = OpenCostApi(base_url, **options)
        self.display_url = self._api.display_url

    def close(self) -> None:
        self._api.close()

    # ---- costs -----------------------------------------------------------------------------
    def costs(self, request: CostRequest) -> CostData:
        group_by = tuple(request.group_by)
        filters = dict(request.filters)
        # Raises UsageError on keys OpenCost lacks; a whole-cluster answer still needs one key.
        keys = aggregate_keys([*group_by, *filters]) or ["cluster"]
        params = [
            ("window", f"{_rfc3339(request.window.start)},{_rfc3339(request.window.end)}"),
            ("aggregate", aggregate_param(keys, self.pod_labels)),
            ("accumulate", "true"),
            ("includeIdle", "true"),
        ]
        if "cluster" in keys:
            params.append(("splitIdle", "true"))  # one __idle__ per cluster: needed to filter it
        warned = len(self._api.warnings)
        steps = self._api.allocation(params)

        labels = {k: _sanitise(self.pod_labels[k]) for k in keys if k in _LABEL_KEYS}
        labels |= {
            k: _sanitise(_annotation_key(self.pod_labels, k)) for k in keys if k in _ANNOTATION_KEYS
        }
        parsed = _parse(steps, keys, labels)
        end = pd.Timestamp(request.window.end).tz_convert("UTC")
        allocations = _allocations(parsed, keys, group_by, filters, end)
        cluster, idle_price = _cluster(
            parsed, keys, filters.get("cluster"), end, split="cluster" in group_by
        )

        notes = self._notes(parsed, filters)
        notes += window_notes(parsed.windows, request.window.start, request.window.end)
        notes += self._annotation_notes(parsed, keys, group_by)
        notes += [
            f"PARTIAL DATA: OpenCost answered with a warning, figures may be incomplete: {message}"
            for message in self._api.warnings[warned:]
        ]
        if idle_price is not None:
            notes.append(
                "OpenCost's __idle__ entry has GPU cost but no GPU-hours (OpenCost does not "
                "report them): idle GPU-hours are ESTIMATED at the average allocated GPU price, "
                f"${idle_price:,.4g}/GPU-hour"
            )
        known = bool(parsed.efficiencies) and (
            parsed.usage_seen or any(e > 0 for e in parsed.efficiencies)
        )
        if not known:
            allocations["busy_gpu_hours"] = 0.0
            allocations["observed_gpu_hours"] = 0.0
            allocations["wasted_cost"] = 0.0
            cluster["allocated_wasted_cost"] = 0.0
        return CostData(
            source=self.name,
            allocations=allocations,
            cluster=cluster,
            busy_metric=BUSY_METRIC if known else None,
            has_cpu_ram=True,
            sample_interval_s=0,
            notes=notes,
        )

    def _annotation_notes(
        self, parsed: _Parsed, keys: list[str], group_by: tuple[str, ...]
    ) -> list[str]:
        """Grouped by an annotation no allocation carries: say why and how to fix it."""
        notes = []
        for key in (k for k in group_by if k in _ANNOTATION_KEYS):
            index = keys.index(key)
            holds = any(t.gpu_hours > 0 for t in parsed.rows.values())
            if holds and not any(values[index] for values in parsed.rows):
                annotation = _annotation_key(self.pod_labels, key)
                notes.append(
                    f"no allocation carries the {annotation} annotation: every pod's cost center "
                    "is __unallocated__; OpenCost reads pod annotations from kube_pod_annotations: "
                    "run kube-state-metrics with "
                    f"--metric-annotations-allowlist=pods=[{annotation}]"
                )
        return notes

    def _notes(self, parsed: _Parsed, filters: dict[str, str]) -> list[str]:
        notes: list[str] = []
        if parsed.entries == 0:
            notes.append(
                "OpenCost returned no allocations for this window: is it older than OpenCost's "
                "retention, or newer than its last run?"
            )
        holds_gpus = any(t.gpu_hours > 0 for t in parsed.rows.values())
        if not parsed.efficiencies:
            if holds_gpus:
                notes.append(
                    "OpenCost reported no GPU efficiency (older version): efficiency and waste "
                    "are unknown"
                )
        elif not parsed.usage_seen and not any(e > 0 for e in parsed.efficiencies):
            notes.append(
                "OpenCost reported 0 GPU efficiency for every GPU allocation, which it does when "
                "it has no DCGM usage metrics: efficiency and waste are treated as unknown"
            )
        if parsed.empty_figures:
            first = self._api.clean(parsed.empty_figures[0], 80)
            notes.append(
                f"PARTIAL DATA: OpenCost left {len(parsed.empty_figures)} figure(s) empty "
                f"(null, NaN or Inf), counted as 0 (first: {first})"
            )
        if parsed.derived_hours:
            first = self._api.clean(parsed.derived_hours[0], 80)
            notes.append(
                f"OpenCost gave no gpuHours for {len(parsed.derived_hours)} allocation(s); "
                f"derived from gpuCount x minutes (first: {first})"
            )
        if parsed.unsplit:
            notes.append(
                f"{len(parsed.unsplit)} OpenCost name(s) could not be split into group values and "
                f"count as unallocated (first: {self._api.clean(parsed.unsplit[0], 80)!r})"
            )
        if "cluster" in filters and "" in parsed.idle:
            notes.append(
                "OpenCost's idle entry names no cluster, so it is left out of the cluster filter"
            )
        return notes


# ---- payload parsing -----------------------------------------------------------------------


def _parse(steps: list[Any], keys: list[str], labels: dict[str, str]) -> _Parsed:
    parsed = _Parsed()
    for step in steps:
        for map_key, entry in (step or {}).items():
            if not isinstance(entry, dict):
                continue
            name = str(entry.get("name") or map_key)
            parsed.entries += 1
            answered = _window(entry.get("window"))
            if answered is not None:
                parsed.windows.add(answered)
            segments = name.split("/")
            if IDLE in segments:
                _add_idle(parsed, name, segments, entry)
            elif UNMOUNTED not in segments:
                _add_allocation(parsed, name, segments, entry, keys, labels)
    return parsed


WINDOW_SLACK_S = 60
"""How far the window OpenCost answered for may sit from the one asked before it is flagged."""


def _window(value: Any) -> tuple[datetime, datetime] | None:
    """An allocation's ``window`` (``{"start", "end"}``, RFC 3339) as UTC times; None if unreadable
    (older builds leave it out; an open end is ``null``)."""
    if not isinstance(value, dict):
        return None
    try:
        start, end = (
            datetime.fromisoformat(str(value[k]).replace("Z", "+00:00")) for k in ("start", "end")
        )
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None:
        return None
    return start.astimezone(UTC), end.astimezone(UTC)


def window_notes(
    windows: set[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[str]:
    """A note when OpenCost's allocations cover another window than the one asked (more than
    ``WINDOW_SLACK_S`` off at either end): its figures are for that window, not the request."""
    if not windows:
        return []
    got_start = min(w[0] for w in windows)
    got_end = max(w[1] for w in windows)
    off = max(abs((got_start - start).total_seconds()), abs((got_end - end).total_seconds()))
    if off <= WINDOW_SLACK_S:
        return []
    return [
        "WINDOW MISMATCH: OpenCost answered for "
        f"{_rfc3339(got_start)} to {_rfc3339(got_end)}, not the window asked, "
        f"{_rfc3339(start)} to {_rfc3339(end)}: its figures cover the window it answered for "
        "(data past its retention, or a build that rounds windows?)"
    ]


def _add_idle(parsed: _Parsed, name: str, segments: list[str], entry: dict[str, Any]) -> None:
    props = entry.get("properties") if isinstance(entry.get("properties"), dict) else {}
    cluster = str((props or {}).get("cluster") or "")
    if not cluster and len(segments) == 2 and segments[1] == IDLE:
        cluster = segments[0]
    slot = parsed.idle.setdefault(cluster, _Totals())
    cost = _cost(entry, "gpu", name, parsed.empty_figures)
    hours = _number(entry.get("gpuHours"))
    if hours is None:
        hours = _derived_hours(entry) or 0.0
    slot.gpu_hours += hours
    slot.gpu_cost += cost


def _add_allocation(
    parsed: _Parsed,
    name: str,
    segments: list[str],
    entry: dict[str, Any],
    keys: list[str],
    labels: dict[str, str],
) -> None:
    values = _values(name, segments, entry, keys, labels)
    if values is None:
        parsed.unsplit.append(name)
        values = tuple("" for _ in keys)
    hours = _number(entry.get("gpuHours"))
    if hours is None:
        hours = _derived_hours(entry)
        if hours is not None:
            parsed.derived_hours.append(name)
        elif _has_gpu(entry):
            parsed.empty_figures.append(f"{name} gpuHours")
    hours = hours or 0.0
    gpu_cost = _cost(entry, "gpu", name, parsed.empty_figures)
    cpu_ram = _cost(entry, "cpu", name, parsed.empty_figures) + _cost(
        entry, "ram", name, parsed.empty_figures
    )
    efficiency, usage_seen = _efficiency(entry)
    parsed.usage_seen = parsed.usage_seen or usage_seen
    slot = parsed.rows.setdefault(values, _Totals())
    slot.gpu_hours += hours
    slot.gpu_cost += gpu_cost
    slot.cpu_ram_cost += cpu_ram
    if efficiency is not None and hours > 0:
        parsed.efficiencies.append(efficiency)
        slot.busy_gpu_hours += efficiency * hours
        slot.observed_gpu_hours += hours
        slot.wasted_cost += gpu_cost * (1.0 - min(max(efficiency, 0.0), 1.0))


def _values(
    name: str,
    segments: list[str],
    entry: dict[str, Any],
    keys: list[str],
    labels: dict[str, str],
) -> tuple[str, ...] | None:
    """Group values for an OpenCost name; ``None`` when they cannot be told apart."""
    if len(keys) == 1:
        segments = [name]  # a single value may itself hold "/"; nothing to split
    elif len(segments) != len(keys):
        props = entry.get("properties")
        if not isinstance(props, dict):
            return None
        found = []
        for key in keys:
            if key in _NATIVE_KEYS:
                value = props.get(key)
            else:
                bag = "annotations" if key in _ANNOTATION_KEYS else "labels"
                value = (props.get(bag) or {}).get(labels[key])
            if not isinstance(value, str):
                return None
            found.append(value)
        segments = found
    out = []
    for key, raw in zip(keys, segments, strict=True):
        value = raw
        if key in labels and value.startswith(labels[key] + "="):
            value = value[len(labels[key]) + 1 :]  # older builds: "<sanitised key>=<value>"
        out.append("" if value in (UNALLOCATED, "") else value)
    return tuple(out)


def _efficiency(entry: dict[str, Any]) -> tuple[float | None, bool]:
    """Busy share of the entry's GPUs in [0, 1], and whether a positive usage average was seen."""
    nested = entry.get("gpuAllocation")
    nested = nested if isinstance(nested, dict) else {}
    usage = _number(entry.get("gpuUsageAverage"))
    if usage is None:
        usage = _number(nested.get("gpuUsageAverage"))
    request = _number(entry.get("gpuRequestAverage"))
    if request is None:
        request = _number(nested.get("gpuRequestAverage"))
    efficiency = _number(entry.get("gpuEfficiency"))
    if efficiency is None and usage is not None and request is not None and request > 0:
        efficiency = usage / request
    if efficiency is not None:
        efficiency = min(max(efficiency, 0.0), 1.0)  # OpenCost's usage is MIG-unaware
    return efficiency, bool(usage and usage > 0)


def _cost(entry: dict[str, Any], resource: str, name: str, empty: list[str]) -> float:
    field_name = f"{resource}Cost"
    cost = _number(entry.get(field_name))
    if cost is None:
        if field_name in entry or resource != "gpu" or _has_gpu(entry):
            empty.append(f"{name} {field_name}")
        cost = 0.0
    return cost + (_number(entry.get(f"{resource}CostAdjustment")) or 0.0)


def _has_gpu(entry: dict[str, Any]) -> bool:
    return any((_number(entry.get(f)) or 0.0) > 0 for f in ("gpuHours", "gpuCount", "gpuCost"))


def _derived_hours(entry: dict[str, Any]) -> float | None:
    count, minutes = _number(entry.get("gpuCount")), _number(entry.get("minutes"))
    if count is None or minutes is None:
        return None
    return count * minutes / 60.0


def _number(value: Any) -> float | None:
    """A finite float, or None for null, missing, NaN, Inf and anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ---- frames --------------------------------------------------------------------------------


def _allocations(
    parsed: _Parsed,
    keys: list[str],
    group_by: tuple[str, ...],
    filters: dict[str, str],
    end: pd.Timestamp,
) -> pd.DataFrame:
    records = []
    for values, totals in parsed.rows.items():
        row = dict(zip(keys, values, strict=True))
        if any(row.get(k) != v for k, v in filters.items()):
            continue
        records.append(
            {
                **{k: row[k] for k in group_by},
                **{m: getattr(totals, m) for m in ALLOCATION_MEASURES},
            }
        )
    columns = ["bucket_end", *group_by, *ALLOCATION_MEASURES]
    frame = pd.DataFrame(records, columns=[*group_by, *ALLOCATION_MEASURES])
    frame[list(ALLOCATION_MEASURES)] = frame[list(ALLOCATION_MEASURES)].astype("float64")
    if group_by and not frame.empty:
        frame = frame.groupby(list(group_by), as_index=False, sort=True)[
            list(ALLOCATION_MEASURES)
        ].sum()
    elif not frame.empty:
        frame = frame[list(ALLOCATION_MEASURES)].sum().to_frame().T.astype("float64")
    frame.insert(0, "bucket_end", pd.Series([end] * len(frame), dtype="datetime64[ns, UTC]"))
    return frame[columns].reset_index(drop=True)


def _cluster(
    parsed: _Parsed,
    keys: list[str],
    cluster_filter: str | None,
    end: pd.Timestamp,
    *,
    split: bool = False,
) -> tuple[pd.DataFrame, float | None]:
    """Allocated = every non-idle entry (labelled or not); capacity = allocated + idle.

    OpenCost's idle entries carry cost only (its ``ComputeIdleAllocations`` sets no GPU-hours),
    so idle GPU-hours are estimated from the idle cost at the average price of the allocated
    GPU-hours; the price used is returned for a note, ``None`` when nothing was estimated.
    ``split`` (rows split by cluster): one row per cluster, with a ``cluster`` column, so that
    idle is per cluster (``splitIdle=true`` names each idle entry's cluster).
    """
    position = keys.index("cluster") if "cluster" in keys else -1  # filter keys are in keys
    figures: dict[str, list[float]] = {}  # cluster -> hours, cost, wasted, idle hours, idle cost
    for values, totals in parsed.rows.items():
        if cluster_filter is not None and values[position] != cluster_filter:
            continue
        slot = figures.setdefault(values[position] if split else "", [0.0] * 5)
        slot[0] += totals.gpu_hours
        slot[1] += totals.gpu_cost
        slot[2] += totals.wasted_cost
    for cluster, totals in parsed.idle.items():
        if cluster_filter is not None and cluster != cluster_filter:
            continue
        slot = figures.setdefault(cluster if split else "", [0.0] * 5)
        slot[3] += totals.gpu_hours
        slot[4] += totals.gpu_cost
    hours = sum(f[0] for f in figures.values())
    cost = sum(f[1] for f in figures.values())
    price = None
    if any(f[3] <= 0 < f[4] for f in figures.values()) and hours > 0 and cost > 0:
        price = cost / hours
        for f in figures.values():
            if f[3] <= 0 < f[4]:
                f[3] = f[4] / price
    names = sorted(figures) or [""]
    records = []
    for name in names:
        h, c, w, ih, ic = figures.get(name, [0.0] * 5)
        records.append(dict(zip(CLUSTER_MEASURES, (h, c, h + ih, c + ic, w), strict=True)))
    frame = pd.DataFrame(records, columns=list(CLUSTER_MEASURES)).astype("float64")
    frame.insert(0, "bucket_end", pd.Series([end] * len(frame), dtype="datetime64[ns, UTC]"))
    if split:
        frame.insert(1, "cluster", names)
    return frame, price


# ---- small helpers -------------------------------------------------------------------------


def _annotation_key(pod_labels: Mapping[str, str], key: str) -> str:
    """The Kubernetes annotation key of an annotation group key (cost_center)."""
    return pod_labels.get(key) or DEFAULT_COST_CENTER_KEY


def _sanitise(label_key: str) -> str:
    return _INVALID_LABEL_CHAR.sub("_", label_key)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIMESTAMP)

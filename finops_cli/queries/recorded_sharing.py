"""The sharing a recorded ledger was made with, and whether it answers for the sharing found.

Shared GPUs are costed through constant tables written into every ledger query (``Sharing``:
node factors, MIG profiles, KAI fractions, flags). Recording rules made with a ``Sharing`` hold
the same share-aware expressions the CLI's raw queries use, so a recorded hour equals the raw
hour exactly when the rules' tables give the same numbers as the tables the CLI discovered for
its window. ``finops_rules_info`` carries the rules' ``Sharing`` (``canonical``: compact, sorted,
stable; ``""`` for whole GPUs) and ``covers`` says whether it gives those numbers.

A rules' table may hold more than the window's when the extra entries match no series of the
window. Discovery lists every value the window's series carry (``discover_sharing``), so an
extra value selects nothing; each field is checked against the query it feeds
(``queries.shares``), in ``RULES``:

- ``SUPERSET``: one query term (or one constant row) per value, each selecting only series that
  carry it: extra values select nothing (node label sets, MIG resources and profiles, DRA MIG
  profiles, KAI fraction, device-count and memory values).
- ``FLAG``: true in the rules and absent from the data gives the same numbers: ``hami`` (the
  HAMi fraction of a container without HAMi requests is absent, ``or`` keeps its request),
  ``dra`` (``dra_claim_name=""`` matches every series without a claim, the claim terms select
  nothing), ``vgpu`` (only ``any`` and the notes read it).
- ``per_process``: with ``vgpu`` copies in the data, true in the rules removes a pod's
  label-less series from the GPUs that have copies, so it must be equal; without copies that
  removal and the own-busy term (divided by replica copies) select nothing, so it is a flag.
- ``EQUAL``: ``hami_monitor`` (which vGPUmonitor scheme gives HAMi holders their own busy) and
  ``kai_capped`` (each KAI GPU group's pods scaled per group, which takes the place of the
  device-count factor for grouped pods): not shown to give the same numbers when set in the
  rules alone, so they must be equal (``finops deploy backfill`` finds both as the CLI does).
- Two properties are compared whole: ``requests_shared`` (false: OpenCost's allocation series;
  true: kube-state-metrics' requests, which may differ) and ``node_factors`` being empty (empty:
  requests as they are; not: joined with the node labels, which drops a node without them).
  ``any`` is compared whole too: whole-GPU rules are plain queries, shared ones count GPUs from
  dcgm-exporter.

A field with no entry in ``RULES`` (a new one) must be equal: unknown is never assumed safe.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from finops_cli.queries.sharing import NODE_SHARING_LABELS, Sharing

SUPERSET, FLAG, PER_PROCESS, EQUAL = "superset", "flag", "per-process", "equal"
RULES = {
    "node_factors": SUPERSET,
    "mig_resources": SUPERSET,
    "gpu_profiles": SUPERSET,
    "dra_profiles": SUPERSET,
    "fractions": SUPERSET,
    "fraction_devices": SUPERSET,
    "memories": SUPERSET,
    "hami": FLAG,
    "dra": FLAG,
    "vgpu": FLAG,
    "per_process": PER_PROCESS,
    "hami_monitor": EQUAL,
    "kai_capped": EQUAL,
}
"""How each ``Sharing`` field of the rules may differ from the window's (module docstring)."""

_WHAT = {
    "node_factors": "the node labels",
    "mig_resources": "MIG resource",
    "gpu_profiles": "MIG profile",
    "dra_profiles": "DRA MIG profile",
    "fractions": "gpu-fraction",
    "fraction_devices": "gpu-fraction-num-devices",
    "memories": "gpu-memory",
    "hami": "HAMi",
    "dra": "DRA claims",
    "vgpu": "dcgm-exporter's per-pod GPU copies (vgpu)",
    "per_process": "dcgm-exporter's per-process series (pod_uid)",
    "hami_monitor": "HAMi's vGPUmonitor busy",
    "kai_capped": "KAI GPU groups capped for over-subscription",
}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def canonical(sharing: Sharing | None) -> str:
    """``sharing`` as a compact, stable text (JSON, sorted, defaults left out); ``""`` for whole
    GPUs. The same ``Sharing`` always gives the same text, whatever order discovery found it in."""
    if sharing is None or not sharing.any:
        return ""
    out: dict[str, Any] = {}
    for f in fields(Sharing):
        value = getattr(sharing, f.name)
        if value == f.default:
            continue
        out[f.name] = sorted(_plain(value)) if isinstance(value, tuple) else value
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def parse(text: str) -> Sharing | None:
    """The ``Sharing`` a ``canonical`` text stands for (None: whole GPUs); ValueError when it
    is not one."""
    if not text:
        return None
    try:
        data = json.loads(text)
        known = {f.name: f for f in fields(Sharing)}
        if not isinstance(data, dict) or set(data) - set(known):
            raise ValueError
        values: dict[str, Any] = {}
        for name, value in data.items():
            default = known[name].default
            if isinstance(default, (bool, str)):
                if type(value) is not type(default):
                    raise ValueError
                values[name] = value
            elif name == "node_factors":
                values[name] = tuple(
                    (tuple(str(v) for v in labels), float(factor)) for labels, factor in value
                )
                if any(len(labels) != len(NODE_SHARING_LABELS) for labels, _ in values[name]):
                    raise ValueError
            else:
                values[name] = tuple(str(v) for v in value)
        return Sharing(**values)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not a recorded sharing description: {text[:80]!r}") from None


def _entry(name: str, value: Any) -> str:
    if name == "node_factors":
        labels, factor = value
        shown = ",".join(f"{k}={v}" for k, v in zip(NODE_SHARING_LABELS, labels, strict=True) if v)
        return f"{_WHAT[name]} {shown} ({factor:g} GPU per unit)"
    return f"{_WHAT[name]} {value}"


def covers(rules: Sharing | None, found: Sharing | None) -> str | None:
    """None when rules made with ``rules`` give the figures of queries made with ``found`` on
    the window ``found`` was discovered in; else why not, as a phrase ("made without MIG profile
    3g.40gb")."""
    if rules is not None and not rules.any:
        rules = None
    if found is not None and not found.any:
        found = None
    if rules is None and found is None:
        return None
    if rules is None:
        return "made without shared GPUs, and this window has some"
    if found is None:
        return "made with shared GPUs, and this window has none"
    if rules.requests_shared != found.requests_shared:
        return (
            "made with shared requests (MIG, replicas, HAMi or KAI), and this window has none"
            if rules.requests_shared
            else "made without shared requests (MIG, replicas, HAMi or KAI), and this window "
            "has some"
        )
    if bool(rules.node_factors) != bool(found.node_factors):
        return (
            "made with time-slicing/MIG node labels, and this window has none"
            if rules.node_factors
            else "made without time-slicing/MIG node labels, and this window has some"
        )
    for f in fields(Sharing):
        have, want = getattr(rules, f.name), getattr(found, f.name)
        rule = RULES.get(f.name)
        if rule == PER_PROCESS:
            rule = EQUAL if found.vgpu else FLAG
        if rule == SUPERSET:
            missing = sorted(set(want) - set(have))
            if missing:
                return f"made without {_entry(f.name, missing[0])}"
        elif rule == FLAG:
            if want and not have:
                return f"made without {_WHAT.get(f.name, f.name)}"
        elif have != want:
            state = "without" if want else "with"
            return f"made {state} {_WHAT.get(f.name, f.name)}, unlike this window"
    return None

"""Recorded answers against raw ones: the comparison every recorded-ledger test makes."""

from __future__ import annotations

import math
from typing import Any

IGNORED = frozenset({"notes", "generated_at"})


def assert_same_figures(recorded: Any, raw: Any, where: str = "") -> None:
    """Every number within 0.1% (money to the cent), every other value equal; notes and the
    time of generation aside (issue 22's bar for figures read from recorded series)."""
    if isinstance(raw, dict):
        assert isinstance(recorded, dict), where
        keys = set(raw) - IGNORED
        assert set(recorded) - IGNORED == keys, where
        for key in keys:
            assert_same_figures(recorded[key], raw[key], f"{where}.{key}")
    elif isinstance(raw, list):
        assert isinstance(recorded, list) and len(recorded) == len(raw), where
        for i, (a, b) in enumerate(zip(recorded, raw, strict=True)):
            assert_same_figures(a, b, f"{where}[{i}]")
    elif isinstance(raw, float) and not isinstance(raw, bool):
        assert isinstance(recorded, (int, float)), where
        assert math.isclose(recorded, raw, rel_tol=1e-3, abs_tol=0.005), (where, recorded, raw)
    else:
        assert recorded == raw, (where, recorded, raw)


P95_FIELDS = {"busy_p95", "evidence"}  # evidence quotes busy_p95


def split_p95(doc: Any, found: list[tuple[float, float]], other: Any = None) -> Any:
    """``doc`` without ``busy_p95`` (and the evidence text that quotes it), each recorded
    busy_p95 paired with raw's in ``found``."""
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            twin = other.get(key) if isinstance(other, dict) else None
            if key in P95_FIELDS:
                if key == "busy_p95" and value is not None and twin is not None:
                    found.append((value, twin))
                continue
            out[key] = split_p95(value, found, twin)
        return out
    if isinstance(doc, list):
        twins = other if isinstance(other, list) and len(other) == len(doc) else [None] * len(doc)
        return [split_p95(v, found, t) for v, t in zip(doc, twins, strict=True)]
    return doc


def assert_same_figures_but_p95(recorded: Any, raw: Any) -> None:
    """``gpus``' and ``rightsize``'s documents: every figure as ``assert_same_figures`` but
    ``busy_p95``, which over recorded hours is the percentile of hourly maxima: never below
    raw's, and within 10 points of it here."""
    pairs: list[tuple[float, float]] = []
    assert_same_figures(split_p95(recorded, pairs, raw), split_p95(raw, []))
    assert pairs
    for rec, exact in pairs:
        assert exact - 1e-9 <= rec <= exact + 0.1, (rec, exact)

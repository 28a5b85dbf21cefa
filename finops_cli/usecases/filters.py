"""Filter and budget names that match no GPU spend: the warning that says so, with the nearest
known names (``difflib``), so that a typo never reads as "this team spent nothing".

Stdlib only; the known names come from the caller (a grouped query it already made, or one more).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

NEAREST = 5
"""How many known names a warning lists, nearest first."""

PLURAL = {
    "team": "teams",
    "project": "projects",
    "model": "models",
    "namespace": "namespaces",
    "cluster": "clusters",
    "environment": "environments",
    "cost_center": "cost centers",
}


def shown(name: str) -> str:
    """A name as a warning writes it: bare when printable and without spaces, else quoted with
    escapes (a label value must not reach the terminal as control characters)."""
    return name if name and name.isprintable() and " " not in name else repr(name)


def known_names(values: Iterable[object]) -> list[str]:
    """Distinct non-empty names, sorted; the ``__unallocated__``/``__idle__`` markers left out."""
    return sorted({str(v) for v in values if str(v) and not str(v).startswith("__")})


def nearest(value: str, known: Iterable[str], n: int = NEAREST) -> list[str]:
    """Up to ``n`` known names, most similar to ``value`` first (ties in name order)."""
    names = sorted(set(known))
    ratio = {k: difflib.SequenceMatcher(None, value.lower(), k.lower()).ratio() for k in names}
    return sorted(names, key=lambda k: (-ratio[k], k))[:n]


def known_clause(key: str, value: str, known: Iterable[str]) -> str:
    """``known teams: a, b, c`` (nearest first, ``and N more``), or ``no team values at all``."""
    names = sorted(set(known))
    plural = PLURAL.get(key, f"{key} values")
    if not names:
        return f"no {plural} in the window"
    nearest_names = nearest(value, names)
    left = len(names) - len(nearest_names)
    more = f" and {left} more" if left > 0 else ""
    return f"known {plural}: {', '.join(map(shown, nearest_names))}{more}"


def unmatched_filter(flag: str, key: str, value: str, known: Iterable[str]) -> str:
    """The note for a filter value that matched no GPU spend in the window."""
    clause = known_clause(key, value, known)
    return f"{flag} {shown(value)} matched no GPU spend in the window; {clause}"


def unmatched_budget(scope: str, name: str, origin: str, known: Iterable[str]) -> str:
    """The note for a budget whose team (or project) has no GPU spend in the history read."""
    where = "--budget" if origin == "--budget" else "[budgets] in finops.toml"
    return (
        f"budget for {scope} {shown(name)} ({where}) matched no GPU spend in the history; status "
        f"no_spend; {known_clause(scope, name, known)}"
    )

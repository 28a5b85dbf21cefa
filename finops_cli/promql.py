"""PromQL text helpers: the only place user-supplied strings become query text.

A label value from ``--team`` goes through ``quote`` and nothing else, so no value (quotes, braces,
backslashes, newlines, Unicode) can change the shape of a query.
"""

from __future__ import annotations

import re

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal whose content is exactly ``value``."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def regex_literal(value: str) -> str:
    """A regex (RE2, as Prometheus reads it; Python's ``re`` reads it the same) that matches
    exactly ``value``: the characters Go's ``regexp.QuoteMeta`` escapes, and no others (a
    namespace's ``-`` stays as it is, keeping long alternations short). Pass it through
    ``quote`` to put it in a query."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in value)


def label_name(name: str) -> str:
    """Refuse anything that is not a valid label name before it is spliced into a query."""
    if not _LABEL_NAME.match(name):
        raise ValueError(f"not a valid Prometheus label name: {name!r}")
    return name


def matchers(equal: dict[str, str]) -> str:
    """``{a="x",b="y"}`` for exact-match selectors (empty string when there is nothing to match)."""
    if not equal:
        return ""
    return "{" + ",".join(f"{label_name(k)}={quote(v)}" for k, v in sorted(equal.items())) + "}"


def duration(seconds: float) -> str:
    """A PromQL duration in whole milliseconds, which every compatible engine accepts."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError("durations must be positive")
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"

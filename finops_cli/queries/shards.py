"""How the per-GPU and per-workload queries are cut when a server refuses them whole.

A matcher per part on the dcgm-exporter (and kube-state-metrics) series: by GPU UUID, by groups
of namespaces, or by pod name. Kept apart from the queries so that the sharding code of the source
and the tests can reason about parts without building a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from finops_cli.promql import quote, regex_literal


@dataclass(frozen=True)
class Shard:
    """One part of the fleet's dcgm-exporter series, for a server that refuses the whole.

    ``by="gpu"`` cuts on the first hex digit (two past 16 parts) of the GPU's UUID, so every
    series of a GPU (and of its MIG instances) lands in one part. ``by="namespace"`` (rightsize)
    takes one range of namespace names in sort order, ``bounds[index] <= name <
    bounds[index + 1]`` (the first part open below, the last open above), written as two short
    regex matchers on the range's bounds, never as a list of names: a workload never spans
    namespaces, so each workload is whole in one part and comes back once, every namespace
    (one created after the names were read, or odd names) lands in exactly one part, and the
    query's length does not grow with the number of namespaces (docs/performance.md: every
    query stays under 8 KB). ``by="pod"`` (rightsize when one namespace alone is too big) cuts
    on the last character (two past 36 parts) of the pod's name (random in Deployment and Job
    pods), so every series of a pod lands in one part but a workload's pods may not. The last
    part takes whatever the others do not match.
    """

    by: str  # "gpu", "namespace" or "pod"
    index: int
    count: int
    # by="namespace": the ``count - 1`` inner bounds; part i is bounds[i-1] <= name < bounds[i]
    bounds: tuple[str, ...] = ()

    def matcher(self, label: str) -> str:
        """The matcher of this part on ``label``, the label naming the pod or namespace as ``by``
        says (``by="gpu"`` reads ``UUID``)."""
        if self.by == "namespace":
            return self._namespace_matcher(label)
        alphabet = SHARD_ALPHABETS[self.by]
        width = 1 if self.count <= len(alphabet) else 2  # more parts: two characters
        pieces = len(alphabet) ** width
        low = pieces * self.index // self.count
        high = pieces * (self.index + 1) // self.count
        label, template = ("UUID", "GPU-({}).*") if self.by == "gpu" else (label, ".*({})")
        if self.index == self.count - 1:  # the rest, odd names included
            if not low:
                return f'{label}=~".*"'
            return f'{label}!~"{template.format(_span(alphabet, width, 0, low))}"'
        return f'{label}=~"{template.format(_span(alphabet, width, low, high))}"'

    def _namespace_matcher(self, label: str) -> str:
        # One regex for the range, whose length grows with its bounds' (a few characters: see
        # ``_short_bound``), never with the number of namespaces.
        low = self.bounds[self.index - 1] if self.index > 0 else ""
        high = self.bounds[self.index] if self.index < self.count - 1 else None
        if not low and high is None:
            return f'{label}=~".*"'
        return f"{label}=~{quote('(?s)' + name_range(low, high))}"


def name_range(low: str, high: str | None) -> str:
    """A regex (RE2 and Python ``re`` alike, anchored as PromQL anchors it; with ``(?s)`` in
    front) matching exactly the strings ``s`` with ``low <= s < high`` in code-point order
    (``high`` None: no upper bound). Its length is about ten characters per character of the
    bounds past their common prefix."""
    if high is None:
        return _at_least(low)
    common = 0
    while common < min(len(low), len(high)) and low[common] == high[common]:
        common += 1
    prefix = regex_literal(high[:common])
    if common == len(low):  # low is a prefix of high: low itself, then what sorts below high
        return prefix + _below(high[common:])
    a, b = low[common], high[common]
    alternatives = [regex_literal(a) + _at_least(low[common + 1 :])]
    if ord(b) - ord(a) > 1:
        alternatives.append(f"[{_member(chr(ord(a) + 1))}-{_member(chr(ord(b) - 1))}].*")
    if len(high) > common + 1:
        alternatives.append(regex_literal(b) + _below(high[common + 1 :]))
    return f"{prefix}({'|'.join(alternatives)})"


# The lowest character of the ranges: TAB, not NUL. VictoriaMetrics (1.79) rewrites a class
# that starts at ``\x00`` into an invalid regex and refuses the query. Characters below TAB
# (never in a Kubernetes name) sort as if above every other: each name still matches exactly
# one range, since ``_below`` and ``_at_least`` use the same floor.
_FLOOR = "\\t"


def _below(bound: str) -> str:
    """Strings sorting before ``bound``: its proper prefixes, and any that first differ from it
    by a smaller character."""
    if not bound:
        return "[^\\s\\S]"  # nothing sorts before ""
    head, rest = bound[0], bound[1:]
    alternatives = [""]
    if ord(head) > 0:
        alternatives.append(f"[{_FLOOR}-{_member(chr(ord(head) - 1))}].*")
    if rest:
        alternatives.append(regex_literal(head) + _below(rest))
    return f"({'|'.join(alternatives)})"


def _at_least(bound: str) -> str:
    """Strings sorting at or after ``bound``: those it is a prefix of, and any that first differ
    from it by a larger character."""
    if not bound:
        return ".*"
    head, rest = bound[0], bound[1:]
    return f"({regex_literal(head)}{_at_least(rest)}|[^{_FLOOR}-{_member(head)}].*)"


def _member(ch: str) -> str:
    """``ch`` as the end of a character-class range."""
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\x{ord(ch):02x}"
    return "\\" + ch if ch in "\\]^-[" else ch


def _span(alphabet: str, width: int, low: int, high: int) -> str:
    """A short regex for pieces ``low..high-1`` of the ``width``-character strings over
    ``alphabet`` in order: character classes, so a server's query-length cap is never near."""
    if width == 1:
        return f"[{alphabet[low:high]}]"
    size = len(alphabet)
    parts = []
    first, last = low // size, (high - 1) // size
    for lead in range(first, last + 1):
        begin = low - lead * size if lead == first else 0
        end = high - lead * size if lead == last else size
        parts.append((alphabet[lead], alphabet[begin:end]))
    whole = "".join(lead for lead, tail in parts if len(tail) == size)
    out = [f"[{whole}][{alphabet}]"] if whole else []
    out += [f"{lead}[{tail}]" for lead, tail in parts if len(tail) != size]
    return "|".join(out)


SHARD_ALPHABETS = {"gpu": "0123456789abcdef", "pod": "0123456789abcdefghijklmnopqrstuvwxyz"}
MAX_SHARDS = 128


def shards(by: str, count: int) -> list[Shard]:
    return [Shard(by, i, count) for i in range(count)]


def workload_shards(namespaces: Sequence[str], count: int) -> list[Shard]:
    """Rightsize's cut into ``count`` parts: ranges of the sorted namespace names of about equal
    size, so that no workload is in two parts; by pod name once ``count`` is more than there are
    namespaces (one namespace alone is too big)."""
    names = sorted({name for name in namespaces if name})
    if count > len(names):
        return shards("pod", count)
    bounds = tuple(
        _short_bound(names, len(names) * i // count, len(names) // (4 * count))
        for i in range(1, count)
    )
    return [Shard("namespace", i, count, bounds=bounds) for i in range(count)]


def _short_bound(names: list[str], ideal: int, slack: int) -> str:
    """A short string ``b`` with ``names[k - 1] < b <= names[k]`` for a ``k`` within ``slack``
    of ``ideal``: the shortest prefix of ``names[k]`` that sorts after ``names[k - 1]``, at the
    ``k`` where that prefix is shortest (names like ``team-0001`` ... ``team-3000`` give bounds
    such as ``team-1``), so every part's matchers stay a few dozen bytes."""
    best = ""
    for k in range(max(1, ideal - slack), min(len(names) - 1, ideal + slack) + 1):
        before, name = names[k - 1], names[k]
        length = next((n for n in range(1, len(name) + 1) if name[:n] > before), len(name))
        if not best or length < len(best) or (length == len(best) and k == ideal):
            best = name[:length]
    return best

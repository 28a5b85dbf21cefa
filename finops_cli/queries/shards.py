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
    takes one of ``groups``, the namespaces of GPU pods dealt round-robin: a workload never spans
    namespaces, so each workload is whole in one part and comes back once. ``by="pod"`` (rightsize
    when one namespace alone is too big) cuts on the last character (two past 36 parts) of the
    pod's name (random in Deployment and Job pods), so every series of a pod lands in one part but
    a workload's pods may not. The last part takes whatever the others do not match (namespaces
    that appeared after they were listed, odd names).
    """

    by: str  # "gpu", "namespace" or "pod"
    index: int
    count: int
    groups: tuple[tuple[str, ...], ...] = ()  # by="namespace": ``count`` groups of names

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
        # Only this part's own names, and in the last part a negative match of the others' names
        # (so that namespaces created after the list was read are not lost): never the whole list
        # in every part, which would multiply the query's length by the shard count for nothing
        # (servers cap it: VictoriaMetrics at 16 KB).
        if self.index < self.count - 1:
            return f"{label}=~{quote(_alternation(self.groups[self.index]))}"
        others = [name for group in self.groups[: self.count - 1] for name in group]
        if not others:
            return f'{label}=~".*"'
        return f"{label}!~{quote(_alternation(others))}"


def _alternation(names: Sequence[str]) -> str:
    """A regex matching exactly the given names (PromQL anchors it: a full match)."""
    return "|".join(regex_literal(name) for name in names)


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
    """Rightsize's cut into ``count`` parts: the namespaces, sorted and dealt round-robin into
    ``count`` groups, so that no workload is in two parts; by pod name once ``count`` is more
    than there are namespaces (one namespace alone is too big)."""
    names = sorted({name for name in namespaces if name})
    if count > len(names):
        return shards("pod", count)
    groups = tuple(tuple(names[i::count]) for i in range(count))
    return [Shard("namespace", i, count, groups) for i in range(count)]

"""MIG profiles per card, for rightsizing a workload onto a smaller (or larger) MIG instance.

Pure. A pod's MIG instance is known by its share of the physical GPU (``mig_share``: compute
slices out of 7, A30 out of 4) and the instance's memory as dcgm-exporter reports it (used +
free, a little under the profile's nominal size: ``7g.80gb`` reads about 79 GB). The card is the
family whose profile of that share is nearest in memory; a card not listed gets no MIG advice.

Profiles as NVIDIA's MIG user guide and NVML's profile tables name them
(../shared/reference/gpu-sharing.md, "MIG profile fractions").
"""

from __future__ import annotations

from dataclasses import dataclass

# (profile, memory MiB as NVML reports the instance). Where NVML's size is not on record the
# nominal size is used (``Ngb`` in decimal gigabytes).
_FAMILIES: dict[str, tuple[tuple[str, float], ...]] = {
    "A100 40GB": (
        ("1g.5gb", 4864), ("1g.10gb", 9856), ("2g.10gb", 9856), ("3g.20gb", 19968),
        ("4g.20gb", 19968), ("7g.40gb", 40192),
    ),
    "A100 80GB": (
        ("1g.10gb", 9856), ("1g.20gb", 19968), ("2g.20gb", 19968), ("3g.40gb", 40192),
        ("4g.40gb", 40192), ("7g.80gb", 80384),
    ),
    "H100 80GB": (
        ("1g.10gb", 10240), ("1g.20gb", 20480), ("2g.20gb", 20480), ("3g.40gb", 40960),
        ("4g.40gb", 40960), ("7g.80gb", 81920),
    ),
    "H200 141GB": (
        ("1g.18gb", 18432), ("1g.35gb", 35840), ("2g.35gb", 35840), ("3g.71gb", 72704),
        ("4g.71gb", 72704), ("7g.141gb", 144384),
    ),
    "H100 NVL 94GB": tuple(
        (name, int(name.split(".")[1][:-2]) * 1e9 / 2**20)
        for name in ("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb")
    ),
    "A30 24GB": tuple(
        (name, int(name.split(".")[1][:-2]) * 1e9 / 2**20)
        for name in ("1g.6gb", "2g.12gb", "4g.24gb")
    ),
}  # fmt: skip
_SLICES = {"A30 24GB": 4}
_SAME_CARD = 0.2  # the instance's memory within 20% of the profile's size


@dataclass(frozen=True)
class MigProfile:
    name: str
    card: str
    slices: int
    total_slices: int
    memory_mib: float

    @property
    def share(self) -> float:
        """Its share of the physical GPU: compute slices over the card's."""
        return self.slices / self.total_slices


def _profiles(card: str) -> list[MigProfile]:
    total = _SLICES.get(card, 7)
    return [
        MigProfile(name, card, int(name.split("g.", 1)[0]), total, float(memory))
        for name, memory in _FAMILIES[card]
    ]


def identify(share: float, memory_mib: float) -> MigProfile | None:
    """The profile of an instance holding ``share`` of its GPU with ``memory_mib`` of memory."""
    best: tuple[float, MigProfile] | None = None
    for card in _FAMILIES:
        for profile in _profiles(card):
            if abs(profile.share - share) > 1e-6:
                continue
            distance = abs(memory_mib - profile.memory_mib) / profile.memory_mib
            if distance <= _SAME_CARD and (best is None or distance < best[0]):
                best = (distance, profile)
    return best[1] if best else None


def smallest_fitting(
    current: MigProfile, slices_needed: float, memory_needed_mib: float
) -> MigProfile | None:
    """The smallest profile of the same card with at least ``slices_needed`` compute slices and
    ``memory_needed_mib`` of memory (fewest slices, then least memory); None if none fits."""
    fitting = [
        p
        for p in _profiles(current.card)
        if p.slices >= slices_needed and p.memory_mib >= memory_needed_mib
    ]
    return min(fitting, key=lambda p: (p.slices, p.memory_mib)) if fitting else None

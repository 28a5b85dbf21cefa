"""Shared and fractional GPUs: what share of a physical GPU each pod holds.

The ledger's unit is the physical GPU-hour at its node's price. Whole-GPU clusters need nothing
from here: a pod's ``nvidia_com_gpu`` request is its count of physical GPUs. Where GPUs are shared
(docs/cost-model.md, "Shared GPUs"), a request names replicas, MIG instances, cores or claims, and
this module turns each into a fraction of a physical GPU:

- MIG, mixed strategy: an ``nvidia_com_mig_<N>g_<M>gb`` request is N/7 of a GPU (A30: N/4);
  single strategy: an ``nvidia_com_gpu`` request counts instances, ``slices.gi``/7 each.
- time-slicing and MPS: one ``nvidia_com_gpu`` (or ``nvidia_com_gpu_shared``) replica is
  1/``nvidia.com/gpu.replicas`` of a GPU.
- HAMi: ``nvidia_com_gpucores`` percent of each device (else the memory percentage, else
  ``nvidia_com_gpumem`` MiB over the device's memory).
- KAI / Run:ai: the ``gpu-fraction`` annotation, of each of ``gpu-fraction-num-devices`` GPUs
  (default 1); where only ``gpu-memory`` (MiB) is given, that memory over the GPU's (a memory
  share); the reservation pod that holds the whole GPU on their behalf is not a holder.
- DRA: nothing is requested; dcgm-exporter's ``dra_*`` labels say which pod holds which device
  (a MIG device at its profile's fraction), a device claimed by several pods split equally.

PromQL cannot turn a label value into a number, so every number that lives in a label (replica
counts, MIG profiles, fractions) is found by discovery first (``Sharing``) and written into the
query as a small constant table, as the catalog prices are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from finops_cli.promql import quote, regex_literal

REPLICAS_LABEL = "label_nvidia_com_gpu_replicas"
MIG_STRATEGY_LABEL = "label_nvidia_com_mig_strategy"
SLICES_LABEL = "label_nvidia_com_gpu_slices_gi"
PRODUCT_LABEL = "label_nvidia_com_gpu_product"
NODE_SHARING_LABELS = (REPLICAS_LABEL, MIG_STRATEGY_LABEL, SLICES_LABEL, PRODUCT_LABEL)
"""The node labels (GPU feature discovery, through kube-state-metrics) a GPU's split depends on."""
FRACTION_ANNOTATION = "annotation_gpu_fraction"  # KAI / Run:ai ``gpu-fraction``
DEVICES_ANNOTATION = "annotation_gpu_fraction_num_devices"  # ``gpu-fraction-num-devices``
MEMORY_ANNOTATION = "annotation_gpu_memory"  # ``gpu-memory``, MiB of one GPU
RESERVATION_NAMESPACE = "kai-resource-reservation"  # KAI's whole-GPU reservation pods
KAI_GPU_GROUP = "runai-gpu-group"  # pod label shared by a reservation pod and the pods it serves
WHOLE_RESOURCES = ("nvidia_com_gpu", "nvidia_com_gpu_shared")
HAMI_CORES = "nvidia_com_gpucores"
HAMI_MEMORY_PERCENT = "nvidia_com_gpumem_percentage"
HAMI_MEMORY = "nvidia_com_gpumem"
HAMI_RESOURCES = (HAMI_CORES, HAMI_MEMORY_PERCENT, HAMI_MEMORY)
MIG_RESOURCE_PREFIX = "nvidia_com_mig_"
DRA_CLAIM_LABEL = "dra_claim_name"
DRA_DEVICE_LABEL = "dra_device_name"
DRA_PROFILE_LABEL = "dra_mig_profile"
VGPU_LABEL = "vgpu"
POD_UID_LABEL = "pod_uid"  # always on dcgm-exporter's per-pod process series (virtual-GPU mode)
DCGM_SHARING_LABELS = ("GPU_I_PROFILE", DRA_CLAIM_LABEL, VGPU_LABEL)
"""dcgm-exporter labels whose presence means a series covers less than one pod's whole GPU."""

# A30 is split in quarters; every other MIG-capable GPU (A100, H100, H200, B200) in sevenths.
_A30_PROFILES = frozenset({(1, 6), (2, 12), (4, 24)})
_PROFILE = re.compile(r"^(?:nvidia[._]com[/_]mig[-_])?(\d+)g[._](\d+)gb", re.IGNORECASE)


def mig_fraction(profile: str) -> float:
    """Share of a physical GPU a MIG profile holds, by compute slices: ``3g.40gb`` is 3/7,
    A30's ``2g.12gb`` 2/4. Accepts dcgm-exporter's ``GPU_I_PROFILE`` (``7g.79gb``), the device
    plugin's name (``nvidia.com/mig-1g.10gb+me``) and kube-state-metrics'
    ``nvidia_com_mig_1g_10gb``. Anything else counts as a whole GPU."""
    found = _PROFILE.match(profile.strip())
    if not found:
        return 1.0
    slices, memory = int(found.group(1)), int(found.group(2))
    if (slices, memory) in _A30_PROFILES:
        return min(slices, 4) / 4
    return min(slices, 7) / 7


def node_factor(labels: dict[str, str]) -> float:
    """Physical GPUs per unit of ``nvidia.com/gpu`` on a node with these GFD labels: 1/replicas
    when time-sliced or MPS, a MIG instance's slices/7 under the single strategy."""
    try:
        replicas = max(int(labels.get(REPLICAS_LABEL) or 1), 1)
    except ValueError:
        replicas = 1
    factor = 1.0 / replicas
    product = labels.get(PRODUCT_LABEL, "")
    if labels.get(MIG_STRATEGY_LABEL) == "single" and "-MIG-" in product:
        profile = product.split("-MIG-", 1)[1]
        slices = labels.get(SLICES_LABEL, "")
        if slices.isdigit() and int(slices) > 0:
            factor *= int(slices) / (4 if _is_a30(profile) else 7)
        else:
            factor *= mig_fraction(profile)
    return factor


def _is_a30(profile: str) -> bool:
    found = _PROFILE.match(profile)
    return found is not None and (int(found.group(1)), int(found.group(2))) in _A30_PROFILES


@dataclass(frozen=True)
class Sharing:
    """What discovery found shared in the window; empty tuples and False where nothing is.

    ``node_factors``: (node label values in ``NODE_SHARING_LABELS`` order, physical GPUs per
    ``nvidia.com/gpu``) for each label combination whose factor is not 1. ``mig_resources``: the
    ``nvidia_com_mig_*`` resources requested; ``gpu_profiles`` and ``dra_profiles``: the MIG
    profiles dcgm-exporter names in ``GPU_I_PROFILE`` and ``dra_mig_profile``; ``fractions``: the
    ``gpu-fraction`` annotation values; ``hami``, ``dra``, ``vgpu``: whether HAMi resources are
    requested, dcgm-exporter maps DRA claims, or copies series per virtual GPU;
    ``fraction_devices`` and ``memories``: the ``gpu-fraction-num-devices`` and ``gpu-memory``
    annotation values; ``per_process``: whether dcgm-exporter's virtual-GPU mode may write
    per-pod process series (copies carry ``vgpu`` and some series ``pod_uid``);
    ``hami_monitor``: the naming scheme of HAMi's vGPUmonitor utilisation series where they
    are scraped next to HAMi requests (each HAMi pod's own busy, ``queries.hami_monitor``);
    ``kai_capped``: whether some KAI GPU group's pods held more than 1 GPU at an instant of the
    window (``ShareQueries.kai_oversubscribed``), so that their shares are capped per group.
    """

    node_factors: tuple[tuple[tuple[str, ...], float], ...] = ()
    mig_resources: tuple[str, ...] = ()
    gpu_profiles: tuple[str, ...] = ()
    dra_profiles: tuple[str, ...] = ()
    fractions: tuple[str, ...] = ()
    hami: bool = False
    dra: bool = False
    vgpu: bool = False
    fraction_devices: tuple[str, ...] = ()
    memories: tuple[str, ...] = ()
    per_process: bool = False  # virtual-GPU mode's per-pod process series (``pod_uid``) seen
    hami_monitor: str = ""  # HAMi's vGPUmonitor utilisation found: its scheme (hami, legacy)
    kai_capped: bool = False  # some KAI GPU group's pods held more than 1 GPU in the window

    @property
    def kai(self) -> bool:
        """Whether KAI / Run:ai fractional pods (a fraction or a memory) were found."""
        return bool(self.fractions or self.memories)

    @property
    def any(self) -> bool:
        return bool(
            self.node_factors
            or self.mig_resources
            or self.gpu_profiles
            or self.kai
            or self.hami
            or self.dra
            or self.vgpu
        )

    @property
    def requests_shared(self) -> bool:
        """Whether a pod's requests alone no longer say its physical GPUs."""
        return bool(self.node_factors or self.mig_resources or self.kai or self.hami)

    def describe(self) -> list[str]:
        """One phrase per mode found, for the source's note."""
        out = []
        if (
            self.mig_resources
            or self.gpu_profiles
            or any("-MIG-" in values[3] for values, _ in self.node_factors)
        ):
            out.append("MIG")
        if any(values[0] not in ("", "0", "1") for values, _ in self.node_factors):
            out.append("time-slicing/MPS replicas")
        if self.hami:
            out.append("HAMi")
        if self.fractions:
            out.append("KAI gpu-fraction")
        if self.memories:
            out.append("KAI gpu-memory (a memory share)")
        if self.dra:
            out.append("DRA claims")
        return out

    @property
    def busy_estimated(self) -> bool:
        """Whether some GPU is shared in time (replicas, HAMi, KAI, DRA claims): its pods' busy
        is then the whole GPU's, split by allocation, except a MIG instance's own and, where
        dcgm-exporter writes per-process series (``per_process``), a time-sliced holder's, and
        where HAMi's vGPUmonitor is scraped (``hami_monitor``), a HAMi holder's."""
        replicas = any(values[0] not in ("", "0", "1") for values, _ in self.node_factors)
        return replicas or self.hami or self.kai or self.dra or self.vgpu


def by_fraction(
    values: Iterable[str], fraction_of: Callable[[str], float | None] = mig_fraction
) -> dict[float, list[str]]:
    """Values grouped by the fraction they stand for (one query term per fraction); values that
    stand for none are left out."""
    groups: dict[float, list[str]] = {}
    for value in sorted(set(values)):
        fraction = fraction_of(value)
        if fraction is not None:
            groups.setdefault(float(fraction), []).append(value)
    return groups


def alternation(values: Sequence[str]) -> str:
    """A quoted RE2 alternation matching exactly ``values``."""
    return quote("|".join(regex_literal(v) for v in values))


def parse_fraction(value: str) -> float | None:
    """A ``gpu-fraction`` annotation as a share of one GPU (``0.5``, ``50%``); None if not one."""
    text = value.strip()
    try:
        fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None
    if not 0 < fraction <= 1:
        return None
    return fraction


def parse_devices(value: str) -> float | None:
    """A ``gpu-fraction-num-devices`` annotation as a count of GPUs (absent or empty: 1)."""
    text = value.strip()
    if not text:
        return 1.0
    return float(text) if text.isdigit() and int(text) > 0 else None


def parse_memory(value: str) -> float | None:
    """A ``gpu-memory`` annotation in MiB (``20000``, ``20000Mi``, ``20Gi``); None if not one."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(Mi|Gi|M|G)?\s*", value)
    if not found:
        return None
    mib = float(found.group(1)) * (1024 if found.group(2) in ("Gi", "G") else 1)
    return mib if mib > 0 else None

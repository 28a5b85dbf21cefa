"""HAMi's scheduler metrics: which pods hold which physical GPU, and what share of it.

dcgm-exporter cannot map HAMi's device IDs (``<UUID>-<i>``) to a GPU, so its series never name a
HAMi pod. HAMi's scheduler does (``reference/gpu-sharing.md`` §5): per container and device the
cores and memory it allocated, per device the cores and memory it has. A container's share of a
device is ``cores allocated / device core limit`` (both in percent units for NVIDIA), or, where it
was given no cores, ``memory allocated / device memory limit``. The shares of a device are scaled
down together at any instant they would add up to more than 1 (over-subscription is reported,
never charged twice).

Both naming schemes are read: ``hami_*`` (HAMi v2.9.0 and later) and the legacy names emitted
with ``--legacy-metrics``; ``present`` picks whichever the server has (the new names when both).
The devices are matched to dcgm-exporter's by UUID (``device_uuid`` / ``deviceuuid`` against
dcgm-exporter's ``UUID``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from finops_cli.promql import duration
from finops_cli.queries.context import QueryContext


@dataclass(frozen=True)
class HamiNames:
    """One naming scheme of HAMi's scheduler metrics, and the label names it uses."""

    scheme: str
    container_cores: str
    container_memory: str
    device_cores: str
    device_memory: str
    namespace: str
    pod: str
    node: str
    container: str
    uuid: str
    device_node: str  # the node label of the device metrics

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.container_cores, self.container_memory, self.device_cores, self.device_memory)


NEW = HamiNames(
    "hami",
    "hami_vgpu_core_allocated_ratio",
    "hami_vgpu_memory_allocated_bytes",
    "hami_gpu_core_limit_ratio",
    "hami_gpu_memory_limit_bytes",
    "namespace",
    "pod",
    "node",
    "container_index",
    "device_uuid",
    "node",
)
LEGACY = HamiNames(
    "legacy",
    "vGPUCoreAllocated",
    "vGPUMemoryAllocated",
    "GPUDeviceCoreLimit",
    "GPUDeviceMemoryLimit",
    "podnamespace",
    "podname",
    "nodename",
    "containeridx",
    "deviceuuid",
    "nodeid",
)
SCHEMES = (NEW, LEGACY)
HAMI_METRICS = tuple(m for names in SCHEMES for m in names.metrics)
"""Every name probed for (one ``__name__`` lookup)."""


def present(names: Iterable[str]) -> HamiNames | None:
    """The scheme whose container and device metrics the server has (the new one first)."""
    found = set(names)
    for scheme in SCHEMES:
        if scheme.container_cores in found and scheme.device_cores in found:
            return scheme
    return None


class HamiQueries:
    """Per-instant shares of each HAMi device, keyed ``device_uuid``, ``namespace``, ``pod``
    (and the cluster label), read at dcgm-exporter's sample step."""

    def __init__(self, ctx: QueryContext, names: HamiNames, window_s: float) -> None:
        self.ctx = ctx
        self.names = names
        self.window = duration(window_s)
        self.step = duration(ctx.sample_interval_s)
        self.device = ctx.grouping(["device_uuid"])
        self.container = ctx.grouping(["device_uuid", "namespace", "pod", "container"])
        self.holder = ctx.grouping(["device_uuid", "namespace", "pod"])

    def _normalised(self, metric: str, *, container: bool) -> str:
        """``metric`` with its labels under the new names (``exported_*`` where a scrape
        without ``honor_labels`` moved them), one per container or per device (a
        scheduler scraped twice counts once)."""
        n = self.names
        series = self.ctx.exact(metric)
        renames = [("device_uuid", n.uuid)]
        if container:
            renames += [
                ("namespace", n.namespace),
                ("pod", n.pod),
                ("container", n.container),
                ("namespace", f"exported_{n.namespace}"),
                ("pod", f"exported_{n.pod}"),
            ]
        for target, source in renames:
            if target != source:
                series = f'label_replace({series}, "{target}", "$1", "{source}", "(.+)")'
        return f"max by ({self.container if container else self.device}) ({series})"

    def container_shares(self) -> str:
        """Each container's share of each device at an instant: cores over the device's cores
        where it was given cores, else memory over the device's memory."""
        n = self.names
        on = f"on ({self.device}) group_left ()"
        cores = (
            f"{self._normalised(n.container_cores, container=True)} / {on} "
            f"{self._normalised(n.device_cores, container=False)}"
        )
        memory = (
            f"{self._normalised(n.container_memory, container=True)} / {on} "
            f"{self._normalised(n.device_memory, container=False)}"
        )
        return f"(({cores}) > 0 or ({memory}) > 0)"

    def shares(self) -> str:
        """Each pod's share of each device at an instant, the shares of a device scaled down
        together where they add up to more than 1."""
        per_pod = f"sum by ({self.holder}) ({self.container_shares()})"
        total = f"clamp_min(sum by ({self.device}) ({per_pod}), 1)"
        return f"{per_pod} / on ({self.device}) group_left () {total}"

    def share_samples(self) -> str:
        """Share-samples of each pod on each device over the window (x sample hours: the
        share-hours ``gpus`` lists)."""
        return f"sum_over_time(({self.shares()})[{self.window}:{self.step}])"

    def oversubscribed(self) -> str:
        """The devices whose allocated shares ever added up to more than 1, with the peak."""
        per_pod = f"sum by ({self.holder}) ({self.container_shares()})"
        total = f"sum by ({self.device}) ({per_pod})"
        return f"max_over_time(({total})[{self.window}:{self.step}]) > 1.000001"

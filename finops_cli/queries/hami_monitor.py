"""HAMi pods' own busy, from HAMi's vGPUmonitor: the ledger entries of HAMi holders.

dcgm-exporter cannot map HAMi's devices to pods (``reference/gpu-sharing.md`` §5), so without
this a HAMi pod has no busy reading: its waste is unknown and counts 0. HAMi's vGPUmonitor (the
device plugin's DaemonSet, ``:9394``) writes, per container and device it uses,
``hami_container_device_utilization_ratio`` (legacy ``Device_utilization_desc_of_container``):
percent of the whole GPU despite the name, the container's processes' SM utilisation. As with
dcgm-exporter's per-process series (``ShareQueries.own_busy``), a pod's busy on a device is its
own utilisation over the share it holds there::

    busy = min(1, util / 100 / share)

the share being what the ledger charges it (``ShareQueries.hami_device_share``, from its
requests), so a pod's waste never exceeds its cost. Copies of one container's figure (a monitor
scraped twice) are collapsed by ``max``, never summed; a pod's containers on one device are
added up (each is its own processes). The devices are placed on dcgm-exporter's GPUs by UUID
(``device_uuid`` / ``deviceuuid`` against ``UUID``), on GPUs no dcgm-exporter series names a pod
for, so a pod dcgm-exporter does name keeps its entry there. Where the series are absent the
HAMi pods keep no entry (today's: unknown busy, waste 0), and the note says busy is estimated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops_cli.queries.names import GPU_PRESENCE

if TYPE_CHECKING:
    from finops_cli.queries.context import QueryContext


@dataclass(frozen=True)
class MonitorNames:
    """One naming scheme of the vGPUmonitor's container metrics and their label names."""

    scheme: str
    utilisation: str
    memory: str
    namespace: str
    pod: str
    container: str
    uuid: str


NEW = MonitorNames(
    "hami",
    "hami_container_device_utilization_ratio",
    "hami_vgpu_memory_used_bytes",
    "namespace",
    "pod",
    "container",
    "device_uuid",
)
LEGACY = MonitorNames(
    "legacy",
    "Device_utilization_desc_of_container",
    "vGPU_device_memory_usage_in_bytes",
    "podnamespace",
    "podname",
    "ctrname",
    "deviceuuid",
)
SCHEMES = {names.scheme: names for names in (NEW, LEGACY)}
MONITOR_METRICS = (NEW.utilisation, LEGACY.utilisation)
"""The names discovery probes for (with the contract's, in one ``__name__`` lookup)."""


def present(names: Iterable[str]) -> str:
    """The scheme whose utilisation the server has (the new one first), or ``""``."""
    found = set(names)
    return next((s.scheme for s in SCHEMES.values() if s.utilisation in found), "")


class HamiBusy:
    """Each HAMi pod's share and own busy on each GPU, keyed like the ledger's holder entries
    (node, gpu, gpu_model, namespace, pod and the cluster label)."""

    def __init__(self, ctx: QueryContext, scheme: str, device_share: str) -> None:
        """``device_share``: each HAMi container's share of each device it uses, keyed
        namespace, pod, container and node (``ShareQueries.hami_device_share``)."""
        self.ctx = ctx
        self.names = SCHEMES[scheme]
        self.device_share = device_share
        self.key = ctx.grouping(["node", "gpu", "gpu_model", "namespace", "pod"])
        self.gpu = ctx.grouping(["node", "gpu"])

    def _containers(self) -> str:
        """Each container's utilisation (percent of the GPU) on each dcgm-exporter GPU: labels
        under the new names (``exported_*`` where a scrape without ``honor_labels`` moved
        them), one per container and device."""
        n, ctx = self.names, self.ctx
        series = ctx.exact(n.utilisation)
        renames = [
            ("device_uuid", n.uuid),
            ("namespace", n.namespace),
            ("pod", n.pod),
            ("container", n.container),
        ]
        if n is NEW:
            renames += [(label, f"exported_{label}") for label in ("namespace", "pod", "container")]
        for target, source in renames:
            if target != source:
                series = f'label_replace({series},"{target}","$1","{source}","(.+)")'
        by = ctx.grouping(["device_uuid", "namespace", "pod", "container"])
        unbound = ctx.exact(GPU_PRESENCE, f'{ctx.dcgm_pod_label}=""')
        gpus = ctx.dcgm_labels(unbound)
        for target, source in (("device_uuid", "UUID"), ("gpu_model", "modelName")):
            gpus = f'label_replace({gpus},"{target}","$1","{source}","(.+)")'
        placed = ctx.grouping(["device_uuid", "node", "gpu", "gpu_model"])
        return (
            f"max by ({by}) ({series}) * on ({ctx.grouping(['device_uuid'])}) "
            f"group_left (node, gpu, gpu_model) group by ({placed}) ({gpus})"
        )

    def share(self) -> str:
        """Each HAMi pod's share of each GPU (its containers' on that device, added up)."""
        on = self.ctx.grouping(["namespace", "pod", "container", "node"])
        shares = f"{self._containers()} * 0 + on ({on}) group_left () {self.device_share}"
        return f"sum by ({self.key}) ({shares})"

    def used(self) -> str:
        """Each HAMi pod's busy share of the GPU, ``util / 100`` (its containers' added up)."""
        return f"sum by ({self.key}) ({self._containers()}) / 100"

    def observed(self) -> str:
        """The share each HAMi holder with a utilisation reading counts for in busy's average."""
        return self.share()

    def busy(self) -> str:
        """Share x busy of each holder: ``share x min(1, util / 100 / share)``, written
        ``used - max(0, used - share)`` so that each read appears once or twice."""
        used = self.used()
        return f"({used} - clamp_min({used} - {self.share()}, 0))"

    def idle(self) -> str:
        """Share x (1 - busy) of each holder: ``max(0, share - used)``."""
        return f"clamp_min({self.share()} - {self.used()}, 0)"

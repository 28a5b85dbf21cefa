"""Which catalog row prices a node: the key built from its labels, and how it was built.

Pure (no I/O): the Prometheus source, the sample and ``finops pricing explain`` all build the key
here, so what a node is charged and what ``explain`` says about it cannot disagree.

Most nodes are keyed by their instance type (``node.kubernetes.io/instance-type``, or the
``beta.kubernetes.io/instance-type`` label older clusters carry). GCP bills an N1 machine and
its attached GPUs separately and the instance-type label names only the VM (``n1-standard-4``),
so an N1 node that carries ``cloud.google.com/gke-accelerator`` is keyed
``<machine>+<accelerator>`` (``n1-standard-4+nvidia-tesla-t4``), the catalog's key for that
machine with its GPUs. A2, A3, G2 (and other accelerator-optimized machines) come with their
GPUs built in: their machine type alone is the key, as for every other cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

from finops_cli.pricing.rows import attached_gpu_instance_type

ATTACHED_GPU_FAMILIES = ("n1-",)
"""GCP machine families whose GPUs are attached (priced apart from the VM), not built in."""


@dataclass(frozen=True)
class NodeKey:
    """The catalog ``instance_type`` to look a node up by, and how it was built (for explain)."""

    key: str
    built_from: str
    attached: bool = False


def node_key(instance_type: str, accelerator: str = "") -> NodeKey:
    """The catalog key of a node with instance type ``instance_type`` (already the stable or
    beta label's value) and GKE accelerator label ``accelerator`` ("" when it has none)."""
    machine, accelerator = instance_type.strip(), accelerator.strip()
    if accelerator and machine.lower().startswith(ATTACHED_GPU_FAMILIES):
        return NodeKey(
            attached_gpu_instance_type(machine, accelerator),
            f"{machine} (node.kubernetes.io/instance-type) + {accelerator} "
            "(cloud.google.com/gke-accelerator): a GCP N1 machine with attached GPUs",
            attached=True,
        )
    return NodeKey(machine, "node.kubernetes.io/instance-type")


def gpu_count_note(key: NodeKey, catalog_gpus: int, node_gpus: int) -> str | None:
    """Why an attached-GPU node's price is approximate: its catalog row is for a machine with
    ``catalog_gpus`` GPUs, and the VM's share per GPU differs with ``node_gpus`` of them."""
    if not key.attached or node_gpus <= 0 or node_gpus == catalog_gpus:
        return None
    return (
        f"{key.key}: the catalog row prices the machine with {catalog_gpus} GPU(s) and the node "
        f"has {node_gpus}; each GPU is charged the row's per-GPU price (machine / "
        f"{catalog_gpus}); add a pricing.instance_overrides entry for the exact price"
    )

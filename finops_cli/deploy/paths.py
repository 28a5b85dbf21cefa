"""Where the kustomize tree lives: the repository's ``manifests/`` or the wheel's copy."""

from __future__ import annotations

from pathlib import Path

from finops_cli.errors import FinopsError

_PACKAGE_DATA = Path(__file__).resolve().parents[1] / "_data" / "manifests"
_CHECKOUT = Path(__file__).resolve().parents[2] / "manifests"

TARGETS = ("kind", "eks", "generic")
MULTI_CLUSTER_COMPONENT = "components/multi-cluster"
DRA_COMPONENT = "components/gpu-dra"  # dcgm-exporter maps DRA ResourceClaims to pods
# dcgm-exporter copies each series per pod sharing a time-sliced/MPS GPU (KUBERNETES_VIRTUAL_GPUS)
VIRTUAL_GPUS_COMPONENT = "components/gpu-virtual"


def manifests_dir(override: Path | None = None) -> Path:
    """The manifests tree: ``override``, else the installed wheel's, else the checkout's."""
    for candidate in (override, _PACKAGE_DATA, _CHECKOUT):
        if candidate is not None and (candidate / "base" / "kustomization.yaml").is_file():
            return candidate
    looked = override or f"{_PACKAGE_DATA} and {_CHECKOUT}"
    raise FinopsError(f"the deployment manifests are missing (looked in {looked}): reinstall")


def checkout_manifests_dir() -> Path:
    """The repository's ``manifests/``, which ``finops deploy generate`` writes into."""
    return _CHECKOUT

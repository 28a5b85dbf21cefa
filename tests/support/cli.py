"""Run the *installed* `finops` console script in a subprocess with a clean environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Inherited from the caller when set; everything else (FINOPS_* in particular) is dropped.
_KEPT_VARS = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")
# Deterministic text I/O regardless of the caller's locale.
_DEFAULTS = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}


def finops_executable() -> Path:
    """The `finops` script of the running interpreter's environment (venv), else the PATH one."""
    candidate = Path(sys.executable).parent / "finops"
    if candidate.is_file():
        return candidate
    found = shutil.which("finops")
    if found is None:
        raise FileNotFoundError(
            f"`finops` console script not found next to {sys.executable} nor on PATH; "
            "install the project first (pip install -e .)"
        )
    return Path(found)


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: PATH/HOME (and TMPDIR) from the caller, UTF-8 locale, plus ``env``.

    No FINOPS_* variable of the caller leaks through; pass them explicitly via ``env``.
    """
    result = {name: os.environ[name] for name in _KEPT_VARS if name in os.environ}
    result.update(_DEFAULTS)
    if env:
        result.update(env)
    return result


def run_finops(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``finops *args``; returns the completed process with text stdout/stderr."""
    return subprocess.run(
        [str(finops_executable()), *(os.fspath(arg) for arg in args)],
        env=clean_env(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def run_python(
    code: str, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` with the test interpreter and the same clean environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )

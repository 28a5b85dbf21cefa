"""Running ``kubectl`` and ``kind``: every failure becomes one line naming the tool and its cause.

Nothing secret is ever passed on a command line (it would show in ``ps``): manifests and Secrets
go to ``kubectl apply -f -`` on stdin.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from finops_cli.errors import FinopsError, SourceError

KUBECTL_HINT = "install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH"
KIND_HINT = "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"


def find_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FinopsError(f"{name} not found on PATH: {hint}")
    return path


def cause(result: subprocess.CompletedProcess[str]) -> str:
    """The most telling line of a failed tool's output (its last ``error`` line, else the last)."""
    lines = [ln.strip() for ln in (result.stderr or result.stdout or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.lower().startswith(("error", "fatal")):
            return line.removeprefix("error: ").removeprefix("ERROR: ")
    return lines[-1] if lines else f"exit status {result.returncode}"


@dataclass
class Tool:
    """One external binary, run with a timeout and captured output."""

    name: str
    path: str
    base_args: tuple[str, ...] = ()

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float = 120.0,
        what: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.path, *self.base_args, *args]
        label = what or f"{self.name} {args[0] if args else ''}".strip()
        try:
            result = subprocess.run(
                cmd,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise SourceError(f"{label} timed out after {timeout:.0f}s") from err
        except OSError as err:
            raise SourceError(f"{label} could not run: {err.strerror or err}") from err
        if check and result.returncode != 0:
            raise SourceError(f"{label} failed: {cause(result)}")
        return result


def kubectl(context: str | None = None) -> Tool:
    path = find_tool("kubectl", KUBECTL_HINT)
    return Tool("kubectl", path, ("--context", context) if context else ())


def kind() -> Tool:
    return Tool("kind", find_tool("kind", KIND_HINT))

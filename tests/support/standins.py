"""Recording stand-ins for ``kubectl`` and ``kind``: what ``finops deploy`` runs, checked exactly;
and ``PrometheusSettings``, the settings ``PrometheusClient`` reads, for the client's tests.

Each stand-in appends ``{"tool", "argv", "stdin"}`` to a JSON-lines log and answers from a list of
rules (the first whose words all appear in argv wins: exit code, stdout, stderr). ``kubectl
kustomize`` is passed to the real kubectl so rendering is real.
"""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finops_cli.config_checks import SecretStr

_SCRIPT = """#!{python}
import json, os, subprocess, sys
tool = {tool!r}
argv = sys.argv[1:]
stdin = sys.stdin.read() if "-" in argv and "-f" in argv else None
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"tool": tool, "argv": argv, "stdin": stdin}}) + "\\n")
if tool == "kubectl" and "kustomize" in argv:
    os.execv(os.environ["REAL_KUBECTL"], [os.environ["REAL_KUBECTL"], *argv])
for rule in json.loads(os.environ.get("STANDIN_RULES", "[]")):
    if rule["tool"] == tool and all(word in argv for word in rule["when"]):
        sys.stdout.write(rule.get("stdout", ""))
        sys.stderr.write(rule.get("stderr", ""))
        sys.exit(rule.get("rc", 0))
sys.exit(0)
"""


@dataclass
class StandIns:
    bin_dir: Path
    log: Path
    real_kubectl: str
    rules: list[dict[str, Any]] = field(default_factory=list)

    def on(self, tool: str, *when: str, rc: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.rules.append(
            {"tool": tool, "when": list(when), "rc": rc, "stdout": stdout, "stderr": stderr}
        )

    def env(self) -> dict[str, str]:
        return {
            "PATH": str(self.bin_dir),
            "STANDIN_LOG": str(self.log),
            "STANDIN_RULES": json.dumps(self.rules),
            "REAL_KUBECTL": self.real_kubectl,
        }

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [c for c in out if tool is None or c["tool"] == tool]


def make_standins(
    tmp: Path, real_kubectl: str, tools: tuple[str, ...] = ("kubectl", "kind")
) -> StandIns:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        path = bin_dir / tool
        path.write_text(_SCRIPT.format(python=sys.executable, tool=tool))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return StandIns(bin_dir, tmp / "calls.jsonl", real_kubectl)


@dataclass(frozen=True)
class PrometheusSettings:
    """A stand-in for the ``[prometheus]`` settings: only the fields ``PrometheusClient`` reads,
    any of them given directly (no loading, no validation)."""

    url: str | None
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, SecretStr] = field(default_factory=dict)
    ca_bundle: Path | None = None
    insecure_skip_tls_verify: bool = False
    timeout_seconds: float = 5.0
    retries: int = 0
    max_concurrency: int = 1
    thanos_dedup: bool | None = None
    thanos_partial_response: bool | None = None

"""A real single-node VictoriaMetrics (Debian package ``victoria-metrics``) for integration tests.

Data goes in through ``/api/v1/import/prometheus`` (text format, millisecond timestamps) and is
made searchable at once with ``/internal/force_flush``. Queries are served under the
``/prometheus`` prefix too, which is how the tests exercise a path prefix.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

BINARY = "victoria-metrics"
INSTALL_HINT = "victoria-metrics not installed: apt-get install victoria-metrics"


def require_victoria_metrics() -> None:
    if shutil.which(BINARY):
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(INSTALL_HINT)
    pytest.skip(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VictoriaMetrics:
    def __init__(self, workdir: Path, extra_args: Sequence[str] = ()) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = (workdir / "victoria-metrics.log").open("wb")
        self.process = subprocess.Popen(
            [
                BINARY,
                f"-storageDataPath={workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        tail = (workdir / "victoria-metrics.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"victoria-metrics did not start:\n{tail}")

    def import_prometheus_text(self, path: Path) -> None:
        with path.open("rb") as fh:
            response = httpx.post(f"{self.url}/api/v1/import/prometheus", content=fh, timeout=600)
        response.raise_for_status()
        httpx.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

"""A real Prometheus server, backfilled from OpenMetrics text, for integration tests.

Flow: ``promtool tsdb create-blocks-from openmetrics`` writes TSDB blocks into a fresh data
directory, then ``prometheus`` is started on that directory with a configuration that has no
scrape targets, a 100-year retention (so blocks timestamped in the past are never deleted) and a
free loopback port. Backfilled blocks are served as soon as ``/-/ready`` answers 200.

Notes for test authors (verified against the Debian package, Prometheus 2.42):

* OpenMetrics input must end with ``# EOF``; sample timestamps are in *seconds* (floats allowed).
* Range selectors are closed on both ends in Prometheus 2.x (``x[1h]`` at an aligned time holds
  61 one-minute samples) and left-open in 3.x (60). Use the subquery form
  ``f((x)[59m59s999ms:1m])`` or an unaligned evaluation time to be version independent.
* The ``lookback_delta`` query parameter of ``/api/v1/query`` is silently ignored by 2.42; pass
  ``--query.lookback-delta=...`` through ``extra_args`` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import pytest

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
INSTALL_HINT = "prometheus not installed: apt-get install prometheus"

# promtool's hidden flag; the default (2h) gives one block per 2 h of data, which is slow for
# multi-day fixtures. 24h is rounded down by promtool to 18h blocks (2h * 3^2).
BACKFILL_MAX_BLOCK_DURATION = "24h"

_MINIMAL_CONFIG = """\
# Written by tests/support/promserver.py: no scrape targets, only backfilled blocks.
global:
  scrape_interval: 1m
  evaluation_interval: 1m
scrape_configs: []
"""


class PrometheusStartError(RuntimeError):
    """promtool or prometheus failed; the message carries the tail of its output."""


def prometheus_available() -> bool:
    """True when both `prometheus` and `promtool` are on PATH."""
    return shutil.which(PROMETHEUS) is not None and shutil.which(PROMTOOL) is not None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_prometheus() -> None:
    """Skip the calling test when Prometheus is missing; fail it instead when running in CI."""
    if prometheus_available():
        return
    if _in_ci():
        pytest.fail(
            f"CI=true but `{PROMETHEUS}`/`{PROMTOOL}` are not on PATH; {INSTALL_HINT}",
            pytrace=False,
        )
    pytest.skip(INSTALL_HINT)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def backfill(openmetrics_path: Path, datadir: Path, log_path: Path | None = None) -> None:
    """Write TSDB blocks for ``openmetrics_path`` into ``datadir`` with promtool."""
    promtool = shutil.which(PROMTOOL)
    if promtool is None:
        raise PrometheusStartError(INSTALL_HINT)
    datadir.mkdir(parents=True, exist_ok=True)
    cmd = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={BACKFILL_MAX_BLOCK_DURATION}",
        str(openmetrics_path),
        str(datadir),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if log_path is not None:
        log_path.write_text(" ".join(cmd) + "\n" + output, encoding="utf-8")
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise PrometheusStartError(
            f"promtool backfill of {openmetrics_path} failed (exit {result.returncode}):\n{tail}"
        )


class PromServer:
    """A running Prometheus process. Use as a context manager or call :meth:`stop`."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        workdir: Path,
        log_path: Path,
        log_file: IO[bytes],
    ) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.log_path = log_path
        self._log_file = log_file

    def __repr__(self) -> str:
        return f"PromServer(url={self.url!r}, pid={self.process.pid}, workdir={self.workdir!s})"

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return _tail(self.log_path, lines)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll ``/-/ready`` until it answers 200; raise with the log tail otherwise."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise PrometheusStartError(
                        f"prometheus exited with code {self.process.returncode} before becoming "
                        f"ready ({self.url}); log {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.url}/-/ready")
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = repr(exc)
                if time.monotonic() >= deadline:
                    self.stop()
                    raise PrometheusStartError(
                        f"prometheus at {self.url} not ready after {timeout:.0f}s "
                        f"(last: {last_error}); log {self.log_path}:\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``). Idempotent."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout)
        finally:
            self._log_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    workdir: Path,
    *,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
    attempts: int = 3,
) -> PromServer:
    """Start prometheus on ``workdir/data`` (already backfilled) and wait until it is ready."""
    prometheus = shutil.which(PROMETHEUS)
    if prometheus is None:
        raise PrometheusStartError(INSTALL_HINT)
    config = workdir / "prometheus.yml"
    config.write_text(_MINIMAL_CONFIG, encoding="utf-8")
    log_path = workdir / "prometheus.log"
    last: PrometheusStartError | None = None
    for _ in range(attempts):
        port = _free_port()
        cmd = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-admin-api",
            *extra_args,
        ]
        log_file = log_path.open("ab")
        log_file.write(("\n$ " + " ".join(cmd) + "\n").encode())
        log_file.flush()
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        server = PromServer(process, port, workdir, log_path, log_file)
        try:
            server.wait_ready(ready_timeout)
        except PrometheusStartError as exc:
            server.stop()
            # Another process grabbed the port between _free_port() and bind: try a new one.
            if "address already in use" in str(exc):
                last = exc
                continue
            raise
        return server
    assert last is not None
    raise last


def backfill_and_start(
    openmetrics_path: Path,
    workdir: Path,
    *,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
) -> PromServer:
    """Backfill ``openmetrics_path`` into ``workdir/data`` and serve it; returns a ready server.

    ``workdir`` receives ``data/``, ``prometheus.yml``, ``promtool.log`` and ``prometheus.log``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    backfill(openmetrics_path, workdir / "data", workdir / "promtool.log")
    return start_server(workdir, extra_args=extra_args, ready_timeout=ready_timeout)


def with_blocks(server: PromServer, blocks: Path, ready_timeout: float = 30.0) -> PromServer:
    """Stop ``server``, move the TSDB blocks under ``blocks`` (``promtool tsdb
    create-blocks-from rules`` output, e.g. from ``finops deploy backfill``) into its data
    directory and start it again on the same directory: Prometheus reads new blocks at start.
    Returns the new server (another port)."""
    server.stop()
    for block in sorted(blocks.iterdir()):
        if block.is_dir() and (block / "meta.json").is_file():
            shutil.move(str(block), server.datadir / block.name)
    return start_server(server.workdir, ready_timeout=ready_timeout)


def _digest(source: str | Path) -> str:
    """The input's SHA-256, a file read in pieces (the largest fixtures are hundreds of MB)."""
    if isinstance(source, str):
        return hashlib.sha256(source.encode("utf-8")).hexdigest()
    with source.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class PromServerPool:
    """Session-wide cache: one backfilled server per name (the `prometheus_from_openmetrics`
    fixture). Call it with OpenMetrics *text* (``str``) or a file (``Path``) and a name; it
    returns the server's base URL. Reusing a name with different input is an error.

    A file given under the session's temporary directory is consumed: once its blocks are
    written it is deleted, as is the copy of a text. The OpenMetrics text is 5 to 10 times the
    size of its blocks and the servers live to the session's end: kept, the inputs took 2 GB
    of disk by a fifth of the suite (docs/testing.md, "Disk").
    """

    def __init__(self, basedir: Path) -> None:
        self._basedir = basedir
        self._servers: dict[str, tuple[str, PromServer]] = {}

    def __call__(self, source: str | Path, name: str) -> str:
        digest = _digest(source)
        cached = self._servers.get(name)
        if cached is not None:
            if cached[0] != digest:
                raise ValueError(f"prometheus fixture {name!r} already started with other data")
            self._consume(source)
            return cached[1].url
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "server"
        workdir = self._basedir / f"{slug}-{len(self._servers)}"
        workdir.mkdir(parents=True)
        if isinstance(source, Path):
            path = source
        else:
            path = workdir / "input.om.txt"
            path.write_text(source, encoding="utf-8")
        server = backfill_and_start(path, workdir)  # a failed one's input stays, to look at
        self._consume(path)
        self._servers[name] = (digest, server)
        return server.url

    def _consume(self, source: str | Path) -> None:
        session_tmp = self._basedir.parent.resolve()
        if isinstance(source, Path) and source.resolve().is_relative_to(session_tmp):
            source.unlink(missing_ok=True)

    def close(self) -> None:
        servers = [server for _, server in self._servers.values()]
        self._servers.clear()
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()

"""The mock GPU exporter (``python -m finops_cli.sample.serve``): live values, growing counters,
the Prometheus text format over HTTP, and no import outside what the kind ConfigMap ships."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy

from finops_cli.deploy.render import MOCK_CODE_FILES
from finops_cli.sample.serve import LiveExporter
from finops_cli.sample.simulate import SampleCluster

T0 = 1_790_000_000  # 2026-09-21
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\} (\S+)$')


def _parse(text: str) -> dict[tuple[str, str], float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# TYPE \S+ (gauge|counter|untyped)$", line), line
            continue
        m = _LINE.match(line)
        assert m, line
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def test_renders_the_cluster_now_with_growing_counters():
    exporter = LiveExporter(SampleCluster(42), step=15, now=T0)
    first = _parse(exporter.render(T0 + 60))
    second = _parse(exporter.render(T0 + 600))
    names = {name for name, _ in first}
    assert {
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM_FI_DEV_GPU_TEMP",
        "node_gpu_hourly_cost",
        "container_gpu_allocation",
        "kube_pod_labels",
        "vllm:request_success_total",
        "nv_inference_request_success",
    } <= names
    counters = [k for k in first if k[0] == "vllm:request_success_total"]
    assert counters
    for key in counters:
        if key in second:
            assert second[key] > first[key] > 0
    # GPUs held by a pod carry its namespace/pod, as dcgm-exporter with pod mapping writes them.
    held = [
        labels for name, labels in first if name == "DCGM_FI_DEV_GPU_UTIL" and 'pod="' in labels
    ]
    assert held and all('Hostname="' in labels for labels in held)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serves_http_from_only_the_files_the_kind_configmap_ships(tmp_path):
    """Runs with ``python -S`` and a PYTHONPATH of the ConfigMap's files plus numpy, as the kind
    overlay's pod does: an import of anything else would fail here."""
    package = Path(__file__).resolve().parents[2] / "finops_cli"
    code = tmp_path / "code" / "finops_cli"
    for parts in MOCK_CODE_FILES.values():
        target = code.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package.joinpath(*parts), target)
    numpy_dir = str(Path(numpy.__file__).resolve().parents[1])
    port = _free_port()
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "code"), numpy_dir]),
        "PATH": os.environ["PATH"],
    }
    proc = subprocess.Popen(
        # as the kind overlay runs it
        [
            sys.executable,
            "-S",
            "-m",
            "finops_cli.sample.serve",
            "--port",
            str(port),
            "--fleet",
            "all",
        ],
        env=env,
        cwd=tmp_path,  # not the checkout: ``-m`` puts the working directory first on the path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the mock exporter did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        parsed = _parse(response.text)
        assert any(name == "node_gpu_count" for name, _ in parsed)
        # ... with the shared GPUs next to the whole ones: MIG instances, DRA claims.
        assert any('GPU_I_PROFILE="3g.40gb"' in labels for _, labels in parsed)
        assert any('dra_claim_name="' in labels for _, labels in parsed)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
        assert httpx.get(f"http://127.0.0.1:{port}/nope", timeout=5).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""``python -m finops_cli.sample.serve``: the sample cluster's live metrics over HTTP.

The mock GPU exporter of the kind deployment. ``GET /metrics`` renders, in the Prometheus text
format, what the simulated cluster exports *now*: dcgm-exporter's per-GPU series (with the pods
holding them), OpenCost's prices and allocations, kube-state-metrics' pod and node series and the
vLLM/Triton/TGI counters. Counters accumulate from the exporter's start (a restart is a counter
reset, which ``rate``/``increase`` absorb), so scraping it is like scraping the real exporters.

Only the standard library and numpy: the kind overlay runs it from a plain Python image with the
``finops_cli`` sample modules mounted from a ConfigMap.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from finops_cli.sample.sharing import FLEETS, fleet_cluster
from finops_cli.sample.simulate import SampleCluster

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COUNTER_PREFIXES = ("vllm:", "nv_inference_", "tgi_request_")
MAX_CATCH_UP_S = 86400  # after a long pause, counters resume from a day ago at most


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _is_counter(name: str) -> bool:
    return name.startswith(COUNTER_PREFIXES) and not name.startswith("vllm:num_")


def _format(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class LiveExporter:
    """Renders the cluster's state at the last ``step`` boundary; keeps counters' running totals."""

    def __init__(self, cluster: SampleCluster, step: int = 15, now: float | None = None) -> None:
        self.cluster = cluster
        self.step = step
        self._lock = threading.Lock()
        self._last = self._aligned(time.time() if now is None else now)
        self._totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def _aligned(self, now: float) -> int:
        return int(now) // self.step * self.step

    def _advance(self, t: int) -> None:
        """Add every counter's increase during ``(last, t]`` to its running total."""
        if t <= self._last:
            return
        start = max(self._last, t - MAX_CATCH_UP_S)
        for s in self.cluster.series(start, t, self.step):
            if _is_counter(s.name) and len(s.values):
                key = (s.name, tuple(sorted(s.labels.items())))
                # The simulator's counters count from the window start: the last value is the
                # increase over the window.
                self._totals[key] = self._totals.get(key, 0.0) + float(s.values[-1])
        self._last = t

    def render(self, now: float | None = None) -> str:
        t = self._aligned(time.time() if now is None else now)
        lines: dict[str, list[str]] = {}
        kinds: dict[str, str] = {}
        with self._lock:
            self._advance(t)
            for s in self.cluster.series(t - self.step, t, self.step):
                if not len(s.values):
                    continue
                labels = tuple(sorted(s.labels.items()))
                if _is_counter(s.name):
                    value = self._totals.get((s.name, labels), 0.0)
                    kinds[s.name] = "counter" if s.name.endswith("_total") else "untyped"
                else:
                    value = float(s.values[-1])
                    kinds.setdefault(s.name, "gauge")
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.setdefault(s.name, []).append(f"{s.name}{{{text}}} {_format(value)}\n")
        out = []
        for name in sorted(lines):
            out.append(f"# TYPE {name} {kinds[name]}\n")
            out.extend(lines[name])
        return "".join(out)


def make_handler(exporter: LiveExporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/metrics":
                self._reply(200, CONTENT_TYPE, exporter.render().encode())
            elif self.path in ("/healthz", "/health", "/"):
                self._reply(200, "text/plain; charset=utf-8", b"ok\n")
            else:
                self._reply(404, "text/plain; charset=utf-8", b"not found\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet access log
            pass

    return Handler


def serve(
    host: str,
    port: int,
    exporter: LiveExporter,
    ready: Callable[[int], None] | None = None,
) -> None:
    server = ThreadingHTTPServer((host, port), make_handler(exporter))
    if ready is not None:
        ready(server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finops_cli.sample.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9400, help="port (default 9400; 0: any)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--step", type=int, default=15, help="seconds between state updates")
    parser.add_argument("--no-opencost", action="store_true", help="omit OpenCost's metrics")
    parser.add_argument(
        "--fleet", choices=FLEETS, default="default", help="default, sharing or all (both)"
    )
    args = parser.parse_args(argv)
    if args.step <= 0:
        parser.error("--step must be positive")
    cluster = fleet_cluster(args.fleet, args.seed, with_opencost=not args.no_opencost)
    exporter = LiveExporter(cluster, args.step)

    def announce(port: int) -> None:
        print(f"serving the sample cluster on http://{args.host}:{port}/metrics", file=sys.stderr)
        sys.stderr.flush()

    try:
        serve(args.host, args.port, exporter, announce)
    except KeyboardInterrupt:
        return 0
    except OSError as err:
        print(f"python -m finops_cli.sample.serve: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

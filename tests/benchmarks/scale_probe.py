"""Run one ``finops`` command, in a process of its own, and write what it cost as JSON.

``python -m tests.benchmarks.scale_probe STATS.json -- costs --by team ...`` runs the real entry
point with ``PrometheusClient`` watched: every HTTP exchange is timed (from sending the request
to having the whole body), so the time the client spent waiting on the server is the union of
those intervals (queries overlap up to ``--max-concurrency``), and what remains of the wall time
is the client's own work: imports, query building, parsing, analytics and rendering.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from finops_cli.sources import prometheus_client
from tests.benchmarks.common import peak_rss_mib


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    reach = float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def main(argv: list[str]) -> int:
    stats_path = Path(argv[0])
    args = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    started = time.monotonic()
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()
    clients: list[prometheus_client.PrometheusClient] = []
    original_send = prometheus_client.PrometheusClient._send
    original_init = prometheus_client.PrometheusClient.__init__

    def timed_send(self: prometheus_client.PrometheusClient, *a: Any, **k: Any) -> Any:
        begin = time.monotonic()
        try:
            return original_send(self, *a, **k)
        finally:
            with lock:
                intervals.append((begin, time.monotonic()))

    def remembering_init(self: prometheus_client.PrometheusClient, *a: Any, **k: Any) -> None:
        original_init(self, *a, **k)
        clients.append(self)

    prometheus_client.PrometheusClient._send = timed_send  # type: ignore[method-assign]
    prometheus_client.PrometheusClient.__init__ = remembering_init  # type: ignore[method-assign]

    from finops_cli.cli.app import end_now
    from finops_cli.cli.app import main as finops_main
    from finops_cli.usecases import sources

    sources.ENDS_WITH_THE_COMMAND = True  # as in the console script (``finops_cli.cli.app.run``)

    sys.argv = ["finops", *args]
    try:
        code = finops_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    elapsed = time.monotonic() - started
    stats = {
        "exit_code": code,
        "in_process_s": elapsed,
        "server_s": _union_seconds(intervals),
        # imports and settings, before the first query leaves
        "before_first_query_s": (min(i[0] for i in intervals) - started) if intervals else 0.0,
        "queries": sum(c.queries_issued for c in clients),
        "bytes_received": sum(c.bytes_received for c in clients),
        "peak_rss_mib": peak_rss_mib(),
    }
    stats_path.write_text(json.dumps(stats))
    end_now(int(code or 0))  # as the console script ends (``finops_cli.cli.app.run``)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Start-up time (issue 9): median wall time of ``finops --version`` and ``--help`` beside
``python -c pass`` on the same machine, in the same run, so the difference is finops' own; and,
for each query command, how long after its start its first query leaves (everything a command
does before the server can start working: imports, settings, the first query built).

    nox -s bench -- startup [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.benchmarks.common import compile_finops, cpu_model

QUERY_COMMANDS = (
    ["costs", "--by", "team"],
    ["costs", "--by", "model", "--unit-costs"],
    ["forecast"],
    ["anomalies"],
    ["gpus"],
    ["rightsize"],
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}


def _median_s(run_once: Callable[[], float], runs: int) -> float:
    run_once()  # warm the page cache
    return statistics.median(run_once() for _ in range(runs))


def _wall_s(cmd: list[str]) -> Callable[[], float]:
    def run_once() -> float:
        began = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=_env())
        return time.perf_counter() - began

    return run_once


def _first_query_s(cmd: list[str], listener: socket.socket) -> Callable[[], float]:
    """Seconds from spawning ``cmd`` to its first connection to ``listener``, its Prometheus."""
    url = "http://{}:{}".format(*listener.getsockname())

    def run_once() -> float:
        began = time.perf_counter()
        child = subprocess.Popen(
            [*cmd, "--prometheus-url", url, "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        try:
            connection, _ = listener.accept()
            elapsed = time.perf_counter() - began
            connection.close()
        finally:
            child.kill()
            child.wait()
        return elapsed

    return run_once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    compile_finops()
    finops = shutil.which("finops", path=str(Path(sys.executable).parent)) or "finops"
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "finops --version": [finops, "--version"],
        "finops --help": [finops, "--help"],
    }
    print(
        f"# start-up, median of {args.runs} runs, {os.cpu_count()} vCPU {cpu_model()}, "
        f"{platform.platform()}"
    )
    print("| command | median ms |")
    print("|---|---:|")
    for name, cmd in cases.items():
        print(f"| {name} | {_median_s(_wall_s(cmd), args.runs) * 1000:.0f} |")
    print("\n| command | first query leaves after, median ms |")
    print("|---|---:|")
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        listener.settimeout(30)
        for command in QUERY_COMMANDS:
            first = _median_s(_first_query_s([finops, *command], listener), args.runs)
            print(f"| finops {' '.join(command)} | {first * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

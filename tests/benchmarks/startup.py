"""Start-up time (issue 9): median wall time of ``finops --version`` and ``--help`` beside
``python -c pass`` on the same machine, in the same run, so the difference is finops' own.

    nox -s bench -- startup [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _median_s(cmd: list[str], runs: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    finops = shutil.which("finops", path=str(Path(sys.executable).parent)) or "finops"
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "finops --version": [finops, "--version"],
        "finops --help": [finops, "--help"],
    }
    _median_s(cases["finops --version"], 2)  # warm the page cache and .pyc files
    print(f"# start-up, median of {args.runs} runs, {os.cpu_count()} vCPU, {platform.platform()}")
    print("| command | median ms |")
    print("|---|---:|")
    for name, cmd in cases.items():
        print(f"| {name} | {_median_s(cmd, args.runs) * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

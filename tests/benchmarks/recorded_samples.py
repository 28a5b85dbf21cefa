"""Samples the server reads, recorded ledger vs raw series (issue 22), on a test-sized Prometheus.

The sample cluster (33 GPUs, 13 pods) is backfilled into a real Prometheus with promtool for
four days, once at one-minute and once at five-minute scrapes; ``finops deploy backfill`` then
records the ledger's rollups over the whole window (``promtool tsdb create-blocks-from rules``)
and the server restarts with them. Each command runs twice in a process of its own, ``--raw``
and reading the recorded ledger; every query it sent is asked again with ``stats=all`` and
Prometheus' ``totalQueryableSamples`` summed. The answers are compared (every number within
0.1%).

    nox -s bench -- recorded_samples           # about three minutes here
    python -m tests.benchmarks.recorded_samples --steps 300
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from finops_cli.queries.inference import TRAFFIC_COUNTERS
from finops_cli.sample import SampleCluster
from finops_cli.sample.openmetrics import write_openmetrics_file
from tests.benchmarks.common import cpu_model
from tests.support.ledger_series import LEDGER_METRICS
from tests.support.promserver import backfill, start_server

DATA_FROM = datetime(2026, 9, 30, 20, tzinfo=UTC)
DATA_TO = datetime(2026, 10, 5, 2, tzinfo=UTC)
WINDOW = ["--start", "2026-10-01", "--end", "2026-10-05"]
COMMANDS: dict[str, list[str]] = {
    "costs --by team": ["costs", "--by", "team", *WINDOW],
    "costs --by team --by project": ["costs", "--by", "team", "--by", "project", *WINDOW],
    "costs --team nlp --by project": ["costs", "--team", "nlp", "--by", "project", *WINDOW],
    "costs --energy --by team": ["costs", "--energy", "--by", "team", *WINDOW],
    "costs --unit-costs": ["costs", "--unit-costs", *WINDOW],
    "forecast": ["forecast", "--as-of", "2026-10-05", "--history", "3d"],
    "anomalies": [
        "anomalies",
        "--as-of",
        "2026-10-05",
        "--since",
        "2026-10-04",
        "--baseline",
        "3d",
    ],
    "report chargeback": [
        "report",
        "chargeback",
        *WINDOW,
        "--format",
        "json",
        "--output-file",
        "-",
        "--no-details",
    ],
    "gpus": ["gpus", *WINDOW],
    "rightsize": ["rightsize", *WINDOW],
}
KEEP = LEDGER_METRICS | {
    counter for counters in TRAFFIC_COUNTERS.values() for counter in counters
}  # unit costs' traffic


def probe(argv: list[str]) -> int:
    """In the child: run finops, note every query it sends, write them with the wall time."""
    out = Path(argv[0])
    args = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    from finops_cli.sources import prometheus_client

    sent: list[tuple[str, list[tuple[str, str]]]] = []
    original = prometheus_client.PrometheusClient._call

    def spy(self: Any, path: str, params: list[tuple[str, str]], **kw: Any) -> Any:
        sent.append((path, list(params)))
        return original(self, path, params, **kw)

    prometheus_client.PrometheusClient._call = spy  # type: ignore[method-assign]
    from finops_cli.cli.app import main as finops_main

    sys.argv = ["finops", *args]
    began = time.monotonic()
    try:
        code = finops_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out.write_text(json.dumps({"code": code, "wall_s": time.monotonic() - began, "sent": sent}))
    return 0


def run(url: str, args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.recorded_samples",
                "--probe",
                str(stats),
                "--",
                *args,
                "--prometheus-url",
                url,
            ],
            capture_output=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": tmp, "XDG_CONFIG_HOME": tmp},
            cwd=Path(__file__).resolve().parents[2],
        )
        if not stats.is_file():
            raise SystemExit(f"finops {' '.join(args)} failed: {done.stderr.decode()[-800:]}")
        result: dict[str, Any] = json.loads(stats.read_text())
        result["document"] = json.loads(done.stdout) if done.stdout.strip() else {}
    samples = 0
    with httpx.Client(timeout=300) as client:
        for path, params in result.pop("sent"):
            if path not in ("/api/v1/query", "/api/v1/query_range"):
                continue
            body = client.post(
                f"{url}{path}",
                content=urlencode([*map(tuple, params), ("stats", "all")]),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).json()
            samples += int(body["data"]["stats"]["samples"]["totalQueryableSamples"])
    result["samples"] = samples
    return result


BY_DESIGN = frozenset({"busy_p95", "evidence"})
"""What recorded answers give otherwise by design: ``busy_p95`` over recorded hours is the
percentile of hourly maxima (docs/cost-model.md), and rightsize's evidence quotes it."""


def largest_difference(a: Any, b: Any, ignore: frozenset[str] = BY_DESIGN) -> float:
    """The largest relative difference between the numbers of two documents (notes and the
    ``ignore`` keys aside: ``p95_difference`` reports busy_p95's)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - {"notes", "generated_at"} - ignore
        return max((largest_difference(a.get(k), b.get(k), ignore) for k in keys), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf
        return max(
            (largest_difference(x, y, ignore) for x, y in zip(a, b, strict=True)), default=0.0
        )
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if abs(a - b) <= 0.005:
            return 0.0
        return abs(a - b) / max(abs(a), abs(b))
    return 0.0 if a == b else math.inf


def p95_difference(recorded: Any, raw: Any) -> float:
    """The largest ``busy_p95`` recorded minus raw, in busy share (0 where there is none)."""
    if isinstance(recorded, dict) and isinstance(raw, dict):
        here = recorded.get("busy_p95"), raw.get("busy_p95")
        own = here[0] - here[1] if None not in here and "busy_p95" in raw else 0.0
        return max([own, *(p95_difference(recorded[k], raw[k]) for k in set(recorded) & set(raw))])
    if isinstance(recorded, list) and isinstance(raw, list) and len(recorded) == len(raw):
        return max([0.0, *(p95_difference(x, y) for x, y in zip(recorded, raw, strict=True))])
    return 0.0


def difference(recorded: Any, raw: Any) -> str:
    p95 = p95_difference(recorded, raw)
    more = f" (busy_p95 +{p95:.3f})" if p95 > 0 else ""
    return f"{largest_difference(recorded, raw):.1e}{more}"


def server_for(step: int, work: Path) -> Any:
    om = work / "cluster.om"
    series = (
        s
        for s in SampleCluster(7).series(int(DATA_FROM.timestamp()), int(DATA_TO.timestamp()), step)
        if s.name in KEEP
    )
    write_openmetrics_file(series, om)
    backfill(om, work / "data", work / "promtool.log")
    om.unlink()
    server = start_server(work)
    began = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "finops_cli",
            "deploy",
            "backfill",
            "--prometheus-url",
            server.url,
            "--start",
            DATA_FROM.isoformat(),
            "--end",
            "2026-10-05T00:00:00+00:00",
            "--output-dir",
            str(work / "blocks"),
            "--rules-file",
            str(work / "ledger.rules.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    record_s = time.monotonic() - began
    server.stop()
    if done.returncode:
        raise SystemExit(done.stderr)
    for block in (work / "blocks").iterdir():
        if (block / "meta.json").is_file():
            shutil.move(str(block), work / "data" / block.name)
    return start_server(work), record_s


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        return probe(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="60,300", help="scrape intervals, seconds")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="subset of the commands")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.commands.split(",") if c.strip()]
    version = subprocess.run(
        ["prometheus", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    print(f"# recorded vs raw, samples read, {datetime.now(UTC):%Y-%m-%d}")
    print(f"machine: {cpu_model()}; {version}")
    print("cluster: the sample cluster (33 GPUs, 13 pods), 2026-10-01 to 2026-10-05\n")
    print(
        "| scrape | command | samples raw | samples recorded | fewer | wall raw s "
        "| wall recorded s | largest difference |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for step in (int(s) for s in args.steps.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            server, record_s = server_for(step, Path(tmp))
            try:
                print(f"  {step} s: rules backfilled in {record_s:.0f} s", file=sys.stderr)
                for name in chosen:
                    command = COMMANDS[name]
                    raw = run(server.url, [*command, *_json(command), "--raw"])
                    rec = run(server.url, [*command, *_json(command)])
                    diff = difference(rec["document"], raw["document"])
                    print(
                        f"| {step} s | {name} | {raw['samples']:,} | {rec['samples']:,} "
                        f"| {raw['samples'] / max(rec['samples'], 1):.0f}x "
                        f"| {raw['wall_s']:.2f} | {rec['wall_s']:.2f} | {diff} |",
                        flush=True,
                    )
            finally:
                server.stop()
    return 0


def _json(command: list[str]) -> list[str]:
    return [] if "--format" in command else ["-o", "json"]


if __name__ == "__main__":
    sys.exit(main())

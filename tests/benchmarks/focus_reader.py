"""FOCUS reader benchmark: rows per second and peak memory on a generated FOCUS 1.2 CSV file.

    python -m tests.benchmarks.focus_reader                 # 10 million rows (about 3.3 GB)
    python -m tests.benchmarks.focus_reader --rows 1000000  # a quicker look

The file is generated into a temporary folder (``--tmpdir``) and deleted afterwards. Each reader
runs in its own process so that its peak resident memory (``VmHWM``) is its own:

- ``finops``: ``FocusSource`` (pyarrow streaming CSV, dictionary-encoded columns), grouping the
  whole file by day and team tag as ``finops billing actual --focus`` does;
- ``duckdb``: the same grouping as one DuckDB query (``read_csv`` + ``json_extract_string``), the
  alternative the reader was measured against (``pip install finops-cli[bench]``);
- ``pandas``: a plain ``pandas.read_csv`` of the whole file, the baseline to beat.

The readers take turns for ``--repeat`` rounds (default 2) and each keeps its fastest run, which
evens out a busy machine; CPU seconds (user + system) are shown beside wall time. The finops and
DuckDB answers are checked against each other before any figure is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from tests.benchmarks.common import peak_rss_mib

READERS = ("finops", "duckdb", "pandas")
CHUNK = 500_000
DAYS = 30
RESOURCES = 5_000
FIRST_DAY = date(2026, 9, 1)

TEAMS = [
    '{"team": "research", "project": "foundation-llm"}',
    '{"team": "nlp", "project": "chat-assistant"}',
    '{"team": "ml-platform"}',
    '{"team": "vision", "env": "prod"}',
    '{"env": "dev"}',
    "",
]
TEAM_WEIGHTS = [0.3, 0.25, 0.15, 0.1, 0.1, 0.1]
SERVICES = [
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Simple Storage Service", "Storage"),
    ("AWS Data Transfer", "Networking"),
    ("Amazon Elastic Kubernetes Service", "Containers"),
]
USAGE = [
    "BoxUsage:p5.48xlarge",
    "SpotUsage:g5.12xlarge",
    "BoxUsage:g6.xlarge",
    "BoxUsage:m6i.large",
]


def generate(path: Path, rows: int, seed: int = 7) -> float:
    """Write ``rows`` FOCUS 1.2 rows (every mandatory column, plus Tags and x_UsageType)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    hours = [
        datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day + d, h, tzinfo=UTC)
        for d in range(DAYS)
        for h in range(24)
    ]
    starts = pa.array([f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in hours])
    ends = pa.array([f"{t:%Y-%m-%dT%H}:59:59Z" for t in hours])
    resources = pa.array([f"i-{n:017x}" for n in range(RESOURCES)])
    teams = pa.array(TEAMS)
    services = pa.array([s for s, _ in SERVICES])
    categories = pa.array([c for _, c in SERVICES])
    usage = pa.array(USAGE)
    began = time.perf_counter()
    with path.open("wb") as handle:
        writer = None
        for first in range(0, rows, CHUNK):
            n = min(CHUNK, rows - first)
            hour = pa.array(rng.integers(0, len(hours), n))
            service = pa.array(rng.choice(len(SERVICES), n, p=[0.7, 0.15, 0.1, 0.05]))
            cost = np.round(rng.gamma(2.0, 3.0, n), 10)

            def const(value: str, count: int = n) -> pa.Array:
                return pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(count, np.int32)), pa.array([value])
                )

            table = pa.table(
                {
                    "BilledCost": cost,
                    "EffectiveCost": np.round(cost * 0.93, 10),
                    "ListCost": cost,
                    "ContractedCost": cost,
                    "BillingAccountId": const("123456789012"),
                    "BillingAccountName": const("bench-org"),
                    "BillingCurrency": const("USD"),
                    "BillingPeriodStart": const("2026-09-01T00:00:00Z"),
                    "BillingPeriodEnd": const("2026-10-01T00:00:00Z"),
                    "ChargePeriodStart": starts.take(hour),
                    "ChargePeriodEnd": ends.take(hour),
                    "ChargeCategory": const("Usage"),
                    "ChargeClass": const(""),
                    "ChargeDescription": const("Usage line"),
                    "InvoiceIssuerName": const("Amazon Web Services, Inc."),
                    "ProviderName": const("AWS"),
                    "PublisherName": const("AWS"),
                    "PricingQuantity": np.ones(n),
                    "PricingUnit": const("Hours"),
                    "ServiceCategory": categories.take(service),
                    "ServiceName": services.take(service),
                    "RegionId": const("us-east-1"),
                    "ResourceId": resources.take(pa.array(rng.integers(0, RESOURCES, n))),
                    "SkuId": usage.take(pa.array(rng.integers(0, len(USAGE), n))),
                    "SubAccountId": const("123456789012"),
                    "Tags": teams.take(pa.array(rng.choice(len(TEAMS), n, p=TEAM_WEIGHTS))),
                    "x_UsageType": usage.take(pa.array(rng.integers(0, len(USAGE), n))),
                }
            )
            table = table.cast(
                pa.schema(
                    [
                        pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                        for f in table.schema
                    ]
                )
            )
            if writer is None:
                writer = pcsv.CSVWriter(handle, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
    return time.perf_counter() - began


# ---- the readers, each run in a child process ----------------------------------------------
def read_finops(path: Path) -> dict[str, float]:
    from finops_cli.sources.billing import BillRequest, Dimension
    from finops_cli.sources.focus import FocusSource

    source = FocusSource(path)
    request = BillRequest(
        start=FIRST_DAY,
        end=date(2026, 10, 1),
        granularity="daily",
        metric="BilledCost",
        group_by=(Dimension("team", "team"),),
        services=(),
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    frame = source.actual(request).frame
    return {"rows": source.rows_read, "groups": len(frame), "cost": float(frame["cost"].sum())}


def read_duckdb(path: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    header = path.open(encoding="utf-8").readline().strip().split(",")
    types = {h.strip('"'): "VARCHAR" for h in header}
    types["BilledCost"] = "DOUBLE"
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    grouped = con.execute(
        f"""
        SELECT substr(ChargePeriodStart, 1, 10) AS day,
               coalesce(nullif(json_extract_string(nullif(Tags, ''), '$.team'), ''),
                        '__untagged__') AS team,
               sum(BilledCost) AS cost,
               count(*) AS n
        FROM read_csv('{path}', header = true, auto_detect = false, columns = {columns})
        GROUP BY ALL
        """
    ).fetchall()
    return {
        "rows": sum(r[3] for r in grouped),
        "groups": len(grouped),
        "cost": float(sum(r[2] for r in grouped)),
    }


def read_pandas(path: Path) -> dict[str, float]:
    import pandas as pd

    frame = pd.read_csv(path)
    return {"rows": len(frame), "groups": 0, "cost": float(frame["BilledCost"].sum())}


def child(reader: str, path: Path) -> None:
    began = time.perf_counter()
    result = {"finops": read_finops, "duckdb": read_duckdb, "pandas": read_pandas}[reader](path)
    result["seconds"] = time.perf_counter() - began
    result["peak_rss_mib"] = peak_rss_mib()
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result))


def measure(reader: str, path: Path) -> dict[str, float] | str:
    """Run one reader in a child process, which reports its own time and peak memory."""
    command = [sys.executable, "-m", "tests.benchmarks.focus_reader", "--child", reader, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"failed ({last[0]})"
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.focus_reader")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the file is generated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="rounds; the readers take turns and each keeps its fastest run (default 2)",
    )
    parser.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    readers = [r for r in args.readers.split(",") if r]
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="finops-focus-bench-") as tmp:
        path = Path(tmp) / "focus.csv"
        print(f"generating {args.rows:,} FOCUS rows in {path} ...", file=sys.stderr)
        seconds = generate(path, args.rows)
        size = path.stat().st_size
        print(f"  {size / 1e9:.2f} GB in {seconds:.0f} s", file=sys.stderr)
        results: dict[str, dict[str, float] | str] = {}
        for round_number in range(1, max(1, args.repeat) + 1):
            for reader in readers:
                print(f"round {round_number}: reading with {reader} ...", file=sys.stderr)
                result = measure(reader, path)
                best = results.get(reader)
                if isinstance(result, str) or best is None:
                    results.setdefault(reader, result)
                elif isinstance(best, dict) and result["seconds"] < best["seconds"]:
                    results[reader] = result
    figures = {
        "rows": args.rows,
        "file_bytes": size,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "readers": results,
    }
    ok = _check(results)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0 if ok else 1


def _check(results: dict[str, dict[str, float] | str]) -> bool:
    a, b = results.get("finops"), results.get("duckdb")
    if isinstance(a, dict) and isinstance(b, dict):
        same = a["rows"] == b["rows"] and a["groups"] == b["groups"]
        same = same and abs(a["cost"] - b["cost"]) <= 1e-6 * max(1.0, abs(b["cost"]))
        if not same:
            print(f"MISMATCH: finops {a} vs duckdb {b}", file=sys.stderr)
            return False
    return True


def _print(figures: dict[str, object]) -> None:
    size = int(figures["file_bytes"])  # type: ignore[call-overload]
    print(
        f"FOCUS CSV: {figures['rows']:,} rows, {size / 1e9:.2f} GB; "
        f"{figures['cpus']} CPUs, Python {figures['python']}"
    )
    print(f"{'reader':<8} {'seconds':>8} {'rows/s':>12} {'peak RSS':>10}  {'MB/s':>6} {'CPU s':>7}")
    readers = figures["readers"]
    assert isinstance(readers, dict)
    for name, result in readers.items():
        if isinstance(result, str):
            print(f"{name:<8} {result}")
            continue
        seconds = result["seconds"]
        print(
            f"{name:<8} {seconds:8.1f} {result['rows'] / seconds:12,.0f} "
            f"{result['peak_rss_mib']:7,.0f} MiB  {size / 1e6 / seconds:6.0f} "
            f"{result.get('cpu_seconds', float('nan')):7.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())

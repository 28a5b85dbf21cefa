"""``python -m finops_cli.sample``: write the sample cluster as OpenMetrics for promtool backfill.

python -m finops_cli.sample --start 2026-10-01 --end 2026-10-04 --step 60 -o cluster.om
promtool tsdb create-blocks-from openmetrics cluster.om ./data

``--fleet sharing`` writes the GPU-sharing fleet of ``sample/sharing.py`` instead, ``--fleet all``
both.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from finops_cli.errors import FinopsError
from finops_cli.sample.openmetrics import write_openmetrics, write_openmetrics_file
from finops_cli.sample.sharing import FLEETS, fleet_cluster
from finops_cli.timewindow import parse_duration, parse_time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finops_cli.sample", description=__doc__)
    parser.add_argument("--start", required=True, help="RFC 3339 or YYYY-MM-DD (UTC)")
    parser.add_argument("--end", required=True, help="RFC 3339 or YYYY-MM-DD (UTC)")
    parser.add_argument("--step", default="60s", help="scrape interval, e.g. 30s, 1m (default 60s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-opencost", action="store_true", help="omit OpenCost's metrics")
    parser.add_argument(
        "--fleet",
        choices=FLEETS,
        default="default",
        help="the default cast, the GPU-sharing fleet (MIG, time-slicing, MPS, HAMi, KAI, DRA), "
        "or both",
    )
    parser.add_argument("-o", "--output", type=Path, help="file (default: stdout)")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    try:
        start = int(parse_time(args.start, now=now).timestamp())
        end = int(parse_time(args.end, now=now).timestamp())
        step = int(parse_duration(args.step).total_seconds())
    except FinopsError as err:
        parser.error(str(err))
    if end <= start:
        parser.error("--end must be after --start")
    cluster = fleet_cluster(args.fleet, args.seed, with_opencost=not args.no_opencost)
    series = cluster.series(start, end, step)
    if args.output:
        count = write_openmetrics_file(series, args.output)
    else:
        try:
            count = write_openmetrics(series, sys.stdout)
        except BrokenPipeError:  # `| head` closed the pipe: not an error worth a traceback
            return 0
    print(f"wrote {count} samples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

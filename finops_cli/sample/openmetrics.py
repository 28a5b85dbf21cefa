"""Write the sample cluster as OpenMetrics text with timestamps, for ``promtool`` backfill.

``promtool tsdb create-blocks-from openmetrics`` wants every sample of a metric family together
and a closing ``# EOF``; values are written with ``repr`` so a price survives to the last digit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from finops_cli.sample.simulate import SampleSeries


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(
    series: Iterable[SampleSeries], out: TextIO, *, timestamp_scale: int = 1
) -> int:
    """Write ``series`` grouped by metric family; returns the number of samples written.

    ``timestamp_scale=1000`` writes milliseconds, the Prometheus text format that
    VictoriaMetrics' ``/api/v1/import/prometheus`` reads.
    """
    families: dict[str, list[SampleSeries]] = defaultdict(list)
    for s in series:
        families[s.name].append(s)
    written = 0
    for name in sorted(families):
        out.write(f"# TYPE {name} unknown\n")
        for s in families[name]:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
            prefix = f"{name}{{{labels}}} "
            lines = [
                f"{prefix}{v!r} {t}\n"
                for t, v in zip(
                    (s.timestamps * timestamp_scale).tolist(), s.values.tolist(), strict=True
                )
            ]
            out.writelines(lines)
            written += len(lines)
    if timestamp_scale == 1:
        out.write("# EOF\n")
    return written


def write_openmetrics_file(
    series: Iterable[SampleSeries], path: Path, *, timestamp_scale: int = 1
) -> int:
    """Write atomically: a half-written file would backfill a silently smaller cluster."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        count = write_openmetrics(series, fh, timestamp_scale=timestamp_scale)
    tmp.replace(path)
    return count

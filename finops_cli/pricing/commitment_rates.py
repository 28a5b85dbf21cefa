"""The dated catalog of commitment rates: Capacity Block hourly rates and Savings Plan discounts.

``pricing/commitments/<provider>.csv`` (packaged with the on-demand catalogs) has one row per
instance type, region and kind: ``capacity-block`` rows carry the effective hourly rate of one
instance, ``savings-plan`` rows the discount off on-demand (``*`` matches any instance type or
region). Every row says when it was known (``as_of``) and where it came from (``source``);
``verified=false`` marks a snapshot or an assumption, which the plan's document repeats.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from finops_cli.errors import UsageError

COLUMNS = (
    "provider", "instance_type", "region", "kind", "term", "payment", "hourly", "discount",
    "as_of", "source", "verified",
)  # fmt: skip
KINDS = ("capacity-block", "savings-plan")


@dataclass(frozen=True)
class CommitmentRate:
    provider: str
    instance_type: str
    region: str
    kind: str
    term: str
    payment: str
    hourly: float | None
    discount: float | None
    as_of: date
    source: str
    verified: bool

    def matches(self, instance_type: str, region: str | None) -> bool:
        return self.instance_type in ("*", instance_type.lower()) and (
            region is None or self.region in ("*", region)
        )


def _number(text: str, origin: str, row: int, column: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{origin}: row {row}, column {column}: not a number ({text!r})") from None


def parse_rates(text: str, origin: str) -> list[CommitmentRate]:
    """Rows of one file; a bad row is one line naming the file, row and column (exit 2)."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise UsageError(f"{origin}: row 1 (header): expected the columns {', '.join(COLUMNS)}")
    out = []
    for n, cells in enumerate(reader, start=2):
        kind = cells["kind"].strip()
        if kind not in KINDS:
            raise UsageError(f"{origin}: row {n}, column kind: expected one of {', '.join(KINDS)}")
        try:
            as_of = date.fromisoformat(cells["as_of"].strip())
        except ValueError:
            raise UsageError(f"{origin}: row {n}, column as_of: not a YYYY-MM-DD date") from None
        out.append(
            CommitmentRate(
                provider=cells["provider"].strip(),
                instance_type=cells["instance_type"].strip().lower(),
                region=cells["region"].strip(),
                kind=kind,
                term=cells["term"].strip(),
                payment=cells["payment"].strip(),
                hourly=_number(cells["hourly"], origin, n, "hourly"),
                discount=_number(cells["discount"], origin, n, "discount"),
                as_of=as_of,
                source=cells["source"].strip(),
                verified=cells["verified"].strip().lower() == "true",
            )
        )
    return out


def load_rates(directory: Any = None) -> list[CommitmentRate]:
    """Every packaged commitment rate (or those under ``directory``)."""
    from finops_cli.pricing.parse import packaged_catalog_dir

    base = directory if directory is not None else packaged_catalog_dir().joinpath("commitments")
    if not base.is_dir():
        return []
    out: list[CommitmentRate] = []
    for item in sorted(base.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".csv"):
            out.extend(parse_rates(item.read_text(encoding="utf-8"), str(item)))
    return out


def find_rate(
    rates: list[CommitmentRate], kind: str, instance_type: str, region: str | None = None
) -> CommitmentRate | None:
    """The most specific rate of ``kind`` for the type (an exact type before ``*``), in
    ``region`` when given, else any region (us-east-1 first); among equals a 1-year no-upfront
    rate first (what the plan's baseline assumes), then the order given (a ``--rates`` file's
    rows come before the packaged ones)."""
    found = [r for r in rates if r.kind == kind and r.matches(instance_type, region)]
    if not found and region is not None:
        found = [r for r in rates if r.kind == kind and r.matches(instance_type, None)]
    found.sort(
        key=lambda r: (
            r.instance_type == "*",
            r.region != "us-east-1",
            r.region,
            r.kind == "savings-plan" and (r.term, r.payment) != ("1yr", "no-upfront"),
        )
    )
    return found[0] if found else None


__all__ = ["CommitmentRate", "find_rate", "load_rates", "parse_rates"]

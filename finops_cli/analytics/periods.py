"""Report periods, and the span each one's changes are compared with (like with like).

Pure and light (no pandas, no clock): ``finops report chargeback`` resolves its period before its
queries leave, while pandas still loads in the background.

The comparison basis (``Period.basis``, the ``comparison`` object of the chargeback JSON):

- ``whole_month``: a complete calendar month against the whole previous calendar month, whatever
  their lengths (31 days of October against 30 of September).
- ``same_span``: a month to date against the same elapsed span from the start of the previous
  month, to the second: 1 December 00:00 -> 6 December 17:59 against 1 November 00:00 ->
  6 November 17:59. A month to date longer than the whole previous month (29 to 31 March after
  a 28- or 29-day February, 31 May after April...) is compared with the whole previous month:
  the previous span is clamped to that month's end (``clamped``), and the span before is then
  the shorter one.
- ``preceding_span``: a week or any explicit window (``--window``, ``--start/--end``) against the
  span of the same length that ends where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from finops_cli.timewindow import TIMESTAMP

BASES = ("whole_month", "same_span", "preceding_span")


@dataclass(frozen=True)
class Period:
    """The report's period: [start, end) in UTC, how it was asked for, its file-name label, and
    the span its changes are compared with ([previous_start, previous_end), by ``basis``)."""

    start: datetime
    end: datetime
    label: str  # 2026-10, 2026-11-to-date, 2026-W44, 2026-10-01_2026-10-15
    kind: str  # month, week or custom (a month to date is custom: it is not a whole month)
    previous_start: datetime
    previous_end: datetime
    basis: str = field(default="")  # see BASES; by default from the kind

    def __post_init__(self) -> None:
        if not self.basis:
            default = "whole_month" if self.kind == "month" else "preceding_span"
            object.__setattr__(self, "basis", default)
        if self.basis not in BASES:
            raise ValueError(f"unknown comparison basis {self.basis!r}")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def previous_hours(self) -> float:
        return (self.previous_end - self.previous_start).total_seconds() / 3600

    @property
    def clamped(self) -> bool:
        """A month to date longer than the whole previous month (compared with all of it)."""
        return self.basis == "same_span" and self.previous_end - self.previous_start < (
            self.end - self.start
        )


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def previous_month(start: datetime) -> datetime:
    if start.month == 1:
        return start.replace(year=start.year - 1, month=12)
    return start.replace(month=start.month - 1)


def whole_month(start: datetime) -> Period:
    """The calendar month beginning at ``start`` (a 1st, 00:00 UTC), against the month before."""
    before = previous_month(start)
    return Period(start, next_month(start), f"{start:%Y-%m}", "month", before, start, "whole_month")


def month_to_date(start: datetime, now: datetime) -> Period:
    """The month beginning at ``start`` up to ``now`` (inside it), against the same elapsed span
    of the previous month, clamped to that month's end."""
    before = previous_month(start)
    previous_end = min(before + (now - start), start)
    return Period(start, now, f"{start:%Y-%m}-to-date", "custom", before, previous_end, "same_span")


def preceding_span(start: datetime, end: datetime, label: str, kind: str = "custom") -> Period:
    """[start, end) against the span of the same length just before it."""
    return Period(start, end, label, kind, start - (end - start), start, "preceding_span")


def _moment(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") + " UTC"


def _span(start: datetime, end: datetime) -> str:
    return f"{_moment(start)} → {_moment(end)}"


def _length(delta: timedelta) -> str:
    """``30 days``, ``5 d 17 h 59 min``: whole days alone when the span is whole days."""
    total = int(delta.total_seconds()) // 60
    days, minutes = divmod(total, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if hours == minutes == 0:
        return f"{days} day" + ("" if days == 1 else "s")
    parts = [f"{days} d"] if days else []
    parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def describe(period: Period) -> str:
    """One sentence for people: what the changes compare, and why the spans differ if they do."""
    before = _span(period.previous_start, period.previous_end)
    length = _length(period.end - period.start)
    if period.basis == "whole_month":
        previous_length = _length(period.previous_end - period.previous_start)
        return (
            f"Changes compare the whole month {period.start:%Y-%m} ({length}) with the whole "
            f"previous month {period.previous_start:%Y-%m} ({previous_length})."
        )
    if period.basis == "same_span":
        if period.clamped:
            return (
                f"Month to date ({length}): changes compare it with the whole previous month "
                f"{period.previous_start:%Y-%m} ({before}), which is shorter: the same elapsed "
                "span would run past its end."
            )
        return (
            f"Month to date ({length}): changes compare it with the same span of the previous "
            f"month, {before}, not with the whole of {period.previous_start:%Y-%m}."
        )
    return f"Changes compare with the span of the same length ({length}) just before: {before}."


def iso(moment: datetime) -> str:
    """A moment as the report JSON writes it: ``2026-11-01T00:00:00Z``."""
    return moment.strftime(TIMESTAMP)


def comparison(period: Period) -> dict[str, Any]:
    """The ``comparison`` object of the report JSON."""
    return {
        "basis": period.basis,
        "previous_start": iso(period.previous_start),
        "previous_end": iso(period.previous_end),
        "hours": round(period.hours, 6),
        "previous_hours": round(period.previous_hours, 6),
        "clamped": period.clamped,
        "description": describe(period),
    }

"""The time window every data command reads, from ``--window`` / ``--start`` / ``--end``.

All commands resolve their window here so that "7d", "month" and explicit ranges mean the same
thing everywhere, and so that cost totals from two commands run at the same moment agree. Nothing in
this module reads the clock: ``now`` is always passed in, which keeps every rule testable and lets a
command resolve its window once and hand the same instant to every query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from finops_cli.errors import UsageError

MAX_WINDOW = timedelta(days=400)
"""Long enough for a year-over-year look at a full month; past it Prometheus retention rarely
reaches and a typo like ``7000d`` would otherwise fire thousands of range queries."""

_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?"
    r"(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNIT_MS = (
    365 * 86_400_000,  # y: Prometheus counts a year as 365 days, never a calendar year
    7 * 86_400_000,
    86_400_000,
    3_600_000,
    60_000,
    1_000,
    1,
)
_MAX_DIGITS = 15  # past this any unit overflows timedelta; also dodges int()'s digit limit

_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)

_DURATION_HINT = "expected a duration such as 90s, 15m, 24h, 7d or 1h30m"
_WINDOW_HINT = "expected a duration such as 24h, 7d, 30d, or 'month'"
_TIME_HINT = "expected RFC 3339 (2026-10-01T12:00:00Z), a date (2026-10-01) or 'now'"


class _InvalidError(ValueError):
    """A reason without the flag name, so each caller can say which flag it came from."""


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end) in UTC, plus the words the user used to ask for it."""

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.utcoffset() != timedelta(0):
                raise ValueError(f"Window.{name} must be timezone-aware UTC, got {value!r}")
        if self.end <= self.start:
            raise ValueError(f"Window.end {self.end} must be after Window.start {self.start}")

    @property
    def seconds(self) -> float:
        """Length in seconds: the denominator of every per-hour rate and every cost proration."""
        return (self.end - self.start).total_seconds()


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise _InvalidError(_DURATION_HINT)
    if any(g is not None and len(g) > _MAX_DIGITS for g in match.groups()):
        raise _InvalidError("too large")
    total_ms = sum(int(g) * unit for g, unit in zip(match.groups(), _UNIT_MS, strict=True) if g)
    if total_ms == 0:
        raise _InvalidError("must be longer than zero")
    try:
        return timedelta(milliseconds=total_ms)
    except OverflowError:
        raise _InvalidError("too large") from None


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus-style duration, so flags accept what users already type into PromQL.

    Units run from largest to smallest (``1h30m``, not ``30m1h``), exactly as Prometheus requires;
    ``1y`` is 365 days. Zero and anything unparseable are the user's mistake: ``UsageError``.
    """
    try:
        return _duration(text)
    except _InvalidError as exc:
        raise UsageError(f"invalid duration {text!r}: {exc}") from None


def _utc_now(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return now.astimezone(UTC)


def _time(text: str, now: datetime) -> datetime:
    stripped = text.strip()
    if stripped.lower() == "now":
        return now
    if not _TIME.fullmatch(stripped):
        raise _InvalidError(_TIME_HINT)
    try:
        parsed = datetime.fromisoformat(stripped.upper())
        # Without an offset the user means UTC, never the laptop's zone: reports must not change
        # with the machine that runs them.
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _InvalidError(f"not a real date or time; {_TIME_HINT}") from None


def parse_time(text: str, *, now: datetime) -> datetime:
    """Parse a point in time as UTC; a time without an offset is taken as UTC, not local time."""
    now = _utc_now(now)
    try:
        return _time(text, now)
    except _InvalidError as exc:
        raise UsageError(f"invalid time {text!r}: {exc}") from None


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _previous_month(month_start: datetime) -> datetime:
    if month_start.month > 1:
        return month_start.replace(month=month_start.month - 1)
    if month_start.year == 1:
        raise _InvalidError("the month before would start before year 1")
    return month_start.replace(year=month_start.year - 1, month=12)


def _keyword_window(keyword: str, end: datetime) -> tuple[datetime, datetime] | None:
    if keyword == "month":
        start = _month_start(end)
        # [start, end) is half-open: with end exactly on the 1st, "the month of end" is the one
        # that just finished, so `--window month --end 2026-11-01` means all of October.
        return (_previous_month(start) if start == end else start), end
    if keyword == "last-month":
        this_month = _month_start(end)
        return _previous_month(this_month), this_month
    return None


def resolve_window(
    window: str | None,
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    default: str = "7d",
) -> Window:
    """Turn the window flags into one UTC interval, or a one-line ``UsageError`` naming the flag.

    ``--window`` (a duration, ``month``, ``last-month`` or ``START..END``) may be anchored with
    ``--end``; ``--start`` [``--end``] gives the range explicitly. An end in the future is clamped
    to ``now`` because no data exists there yet, while a start in the future can only be a typo.
    """
    now = _utc_now(now)
    if window is not None and start is not None:
        raise UsageError(
            f"--window {window!r} and --start {start!r} conflict: "
            "use --window or --start/--end, not both"
        )
    if window is not None and ".." in window and end is not None:
        raise UsageError(
            f"--window {window!r} already gives an end; drop --end {end!r} or use --start/--end"
        )

    if window is not None and ".." in window:
        first, _, last = window.partition("..")
        # "2026-10-01.." reads naturally as "from the 1st until now".
        return _explicit_range(first, last or None, now, window_text=window.strip())
    if start is not None:
        return _explicit_range(start, end, now)

    text = window if window is not None else default
    end_at = now if end is None else min(_parse_flag_time("--end", end, now), now)
    try:
        bounds = _keyword_window(text.strip().lower(), end_at)
        if bounds is None:
            length = _duration(text)
            if length > MAX_WINDOW:
                raise _InvalidError(f"longer than the {MAX_WINDOW.days}-day limit")
            if end_at - datetime.min.replace(tzinfo=UTC) < length:
                raise _InvalidError("the window would start before year 1")
            bounds = (end_at - length, end_at)
    except _InvalidError as exc:
        reason = _WINDOW_HINT if str(exc) == _DURATION_HINT else str(exc)
        raise UsageError(f"invalid --window {text!r}: {reason}") from None
    label = text.strip() if end is None else f"{text.strip()} ending {end.strip()}"
    return Window(start=bounds[0], end=bounds[1], label=label)


def _parse_flag_time(flag: str, text: str, now: datetime) -> datetime:
    try:
        return _time(text, now)
    except _InvalidError as exc:
        raise UsageError(f"invalid {flag} {text!r}: {exc}") from None


def _explicit_range(
    start_text: str, end_text: str | None, now: datetime, *, window_text: str | None = None
) -> Window:
    """Build a --start/--end window, or a ``--window START..END`` one when window_text is given."""

    def fail(flag: str, value: str, reason: str) -> UsageError:
        if window_text is not None:
            flag, value = "--window", window_text
        return UsageError(f"invalid {flag} {value!r}: {reason}")

    try:
        start_at = _time(start_text, now)
    except _InvalidError as exc:
        raise fail("--start", start_text, str(exc)) from None
    end_at = now
    if end_text is not None:
        try:
            end_at = min(_time(end_text, now), now)
        except _InvalidError as exc:
            raise fail("--end", end_text, str(exc)) from None
    if start_at >= now:
        raise fail("--start", start_text, "the start must be in the past")
    if end_at <= start_at:
        reason = "the end must be after the start"
        if window_text is None:
            reason = f"must be after --start {start_text!r}"
        raise fail("--end", end_text or "now", reason)
    if end_at - start_at > MAX_WINDOW:
        raise fail(
            "--start", start_text, f"the window is longer than the {MAX_WINDOW.days}-day limit"
        )
    label = window_text or f"{start_text.strip()}..{(end_text or 'now').strip()}"
    return Window(start=start_at, end=end_at, label=label)


TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
"""The one timestamp format of every output: RFC 3339, UTC, second precision, ``Z``."""


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as every output writes it."""
    return moment.astimezone(UTC).strftime(TIMESTAMP)


def month_bounds(as_of: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding ``as_of``; at midnight on the 1st, the month starting."""
    start = as_of.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, nxt

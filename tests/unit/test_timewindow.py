"""Window resolution: every flag combination, month arithmetic in UTC, and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops_cli.errors import EXIT_USAGE, UsageError
from finops_cli.timewindow import MAX_WINDOW, Window, parse_duration, parse_time, resolve_window

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *rest: int) -> datetime:
    second, micro = (*rest, 0, 0)[:2]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def usage_error(excinfo: pytest.ExceptionInfo[UsageError]) -> str:
    message = str(excinfo.value)
    assert excinfo.value.exit_code == EXIT_USAGE
    assert "\n" not in message
    return message


# --- parse_duration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1y", timedelta(days=365)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("500ms", timedelta(milliseconds=500)),
        ("1m30s500ms", timedelta(seconds=90.5)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_parse_duration_accepts_prometheus_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "0s", "0d", "0h0m", "-5m", "5", "1.5h", "5x", "30m1h", "7D", "d", "1d 2h", "P7D"],
)
def test_parse_duration_rejects_junk_zero_and_negative(text: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        parse_duration(text)
    assert repr(text) in usage_error(excinfo)


def test_parse_duration_rejects_overflow_as_usage_error() -> None:
    for text in ("9999999999999999y", "99999999999999d", "9" * 5000 + "s"):
        with pytest.raises(UsageError, match="too large"):
            parse_duration(text)


# --- parse_time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-01", utc(2026, 10, 1)),
        ("2026-10-01T12:30", utc(2026, 10, 1, 12, 30)),
        ("2026-10-01T12:30:15", utc(2026, 10, 1, 12, 30, 15)),
        ("2026-10-01 12:30:15", utc(2026, 10, 1, 12, 30, 15)),
        ("2026-10-01T12:00:00Z", utc(2026, 10, 1, 12)),
        ("2026-10-01t12:00:00z", utc(2026, 10, 1, 12)),
        ("2026-10-01T12:00:00+02:00", utc(2026, 10, 1, 10)),
        ("2026-10-01T00:30:00-05:30", utc(2026, 10, 1, 6)),
        ("2026-10-01T01:00:00+02:00", utc(2026, 9, 30, 23)),
        ("2026-10-01T12:00:00.250Z", utc(2026, 10, 1, 12, 0, 0, 250_000)),
        ("now", NOW),
        (" NOW ", NOW),
    ],
)
def test_parse_time_returns_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text, now=NOW)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-13-01", "2026-02-30", "1700000000", "2026/10/01", "2026-10-01T25:00"],
)
def test_parse_time_rejects_junk(text: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        parse_time(text, now=NOW)
    assert f"invalid time {text!r}" in usage_error(excinfo)


def test_parse_time_overflowing_offset_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_time("0001-01-01T00:00+01:00", now=NOW)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_window("7d", None, None, now=datetime(2026, 11, 26))


# --- resolve_window ------------------------------------------------------------------------------


def test_default_is_seven_days_ending_now() -> None:
    window = resolve_window(None, None, None, now=NOW)
    assert window == Window(start=NOW - timedelta(days=7), end=NOW, label="7d")
    assert window.seconds == 7 * 86_400


def test_custom_default() -> None:
    assert resolve_window(None, None, None, now=NOW, default="24h").start == utc(2026, 11, 25, 20)


def test_duration_window() -> None:
    window = resolve_window("24h", None, None, now=NOW)
    assert (window.start, window.end, window.label) == (utc(2026, 11, 25, 20), NOW, "24h")


def test_duration_window_ending_at_end() -> None:
    window = resolve_window("7d", None, "2026-10-08", now=NOW)
    assert (window.start, window.end) == (utc(2026, 10, 1), utc(2026, 10, 8))
    assert window.label == "7d ending 2026-10-08"


def test_month_is_month_to_date() -> None:
    window = resolve_window("month", None, None, now=NOW)
    assert (window.start, window.end, window.label) == (utc(2026, 11, 1), NOW, "month")


def test_month_is_computed_in_utc_not_in_the_offset_of_now() -> None:
    # 01:00 on Dec 1st at +02:00 is still November in UTC.
    now = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    window = resolve_window("month", None, None, now=now)
    assert (window.start, window.end) == (utc(2026, 11, 1), utc(2026, 11, 30, 23))


def test_month_follows_end() -> None:
    window = resolve_window("month", None, "2026-10-15T06:00Z", now=NOW)
    assert (window.start, window.end) == (utc(2026, 10, 1), utc(2026, 10, 15, 6))


def test_month_ending_on_the_first_means_the_month_just_finished() -> None:
    window = resolve_window("month", None, "2026-11-01", now=NOW)
    assert (window.start, window.end) == (utc(2026, 10, 1), utc(2026, 11, 1))
    at_midnight = resolve_window("month", None, None, now=utc(2026, 1, 1))
    assert (at_midnight.start, at_midnight.end) == (utc(2025, 12, 1), utc(2026, 1, 1))


def test_last_month_is_the_previous_complete_calendar_month() -> None:
    window = resolve_window("last-month", None, None, now=NOW)
    assert (window.start, window.end, window.label) == (
        utc(2026, 10, 1),
        utc(2026, 11, 1),
        "last-month",
    )


def test_last_month_in_january_is_december_of_the_previous_year() -> None:
    window = resolve_window("last-month", None, None, now=utc(2027, 1, 10, 9))
    assert (window.start, window.end) == (utc(2026, 12, 1), utc(2027, 1, 1))


def test_last_month_on_the_first_is_the_month_that_just_ended() -> None:
    window = resolve_window("last-month", None, None, now=utc(2026, 3, 1))
    assert (window.start, window.end) == (utc(2026, 2, 1), utc(2026, 3, 1))


def test_keywords_are_case_insensitive() -> None:
    assert resolve_window("Month", None, None, now=NOW).start == utc(2026, 11, 1)


def test_start_and_end() -> None:
    window = resolve_window(None, "2026-10-01", "2026-10-04", now=NOW)
    assert (window.start, window.end) == (utc(2026, 10, 1), utc(2026, 10, 4))
    assert window.label == "2026-10-01..2026-10-04"
    assert window.seconds == 3 * 86_400


def test_start_alone_ends_now() -> None:
    window = resolve_window(None, "2026-11-20T00:00:00Z", None, now=NOW)
    assert (window.start, window.end, window.label) == (
        utc(2026, 11, 20),
        NOW,
        "2026-11-20T00:00:00Z..now",
    )


def test_end_alone_uses_the_default_window() -> None:
    window = resolve_window(None, None, "2026-11-10", now=NOW)
    assert (window.start, window.end) == (utc(2026, 11, 3), utc(2026, 11, 10))


def test_offsets_are_converted_to_utc() -> None:
    window = resolve_window(None, "2026-11-01T02:00:00+02:00", "2026-11-02T00:00:00-01:00", now=NOW)
    assert (window.start, window.end) == (utc(2026, 11, 1), utc(2026, 11, 2, 1))
    assert window.start.tzinfo == UTC


def test_end_in_the_future_is_clamped_to_now() -> None:
    assert resolve_window(None, "2026-11-20", "2027-01-01", now=NOW).end == NOW
    assert resolve_window("7d", None, "2030-01-01", now=NOW).end == NOW


def test_range_in_window() -> None:
    window = resolve_window("2026-10-01..2026-10-04", None, None, now=NOW)
    assert (window.start, window.end) == (utc(2026, 10, 1), utc(2026, 10, 4))
    assert window.label == "2026-10-01..2026-10-04"
    assert resolve_window("2026-11-20..", None, None, now=NOW).end == NOW


def test_window_of_exactly_the_limit_is_allowed() -> None:
    assert resolve_window(f"{MAX_WINDOW.days}d", None, None, now=NOW).seconds == 400 * 86_400


@pytest.mark.parametrize(
    ("window", "start", "end", "expected"),
    [
        (
            "nonsense",
            None,
            None,
            "invalid --window 'nonsense': expected a duration such as 24h, 7d, 30d, or 'month'",
        ),
        ("0d", None, None, "invalid --window '0d': must be longer than zero"),
        ("-7d", None, None, "invalid --window '-7d'"),
        ("", None, None, "invalid --window ''"),
        ("401d", None, None, "invalid --window '401d': longer than the 400-day limit"),
        ("2y", None, None, "400-day limit"),
        ("9999999999999999y", None, None, "invalid --window '9999999999999999y': too large"),
        ("7d", "2026-10-01", None, "use --window or --start/--end, not both"),
        ("month", "2026-10-01", "2026-10-04", "--window 'month' and --start '2026-10-01'"),
        (None, "2026-10-04", "2026-10-01", "invalid --end '2026-10-01': must be after --start"),
        (None, "2026-10-04", "2026-10-04", "invalid --end '2026-10-04'"),
        (None, "2027-01-01", None, "invalid --start '2027-01-01': the start must be in the past"),
        (None, "2027-01-01", "2027-02-01", "invalid --start '2027-01-01'"),
        (
            None,
            "2024-01-01",
            "2026-01-01",
            "invalid --start '2024-01-01': the window is longer than the 400",
        ),
        (None, "tuesday", None, "invalid --start 'tuesday': expected RFC 3339"),
        (None, "2026-10-01", "later", "invalid --end 'later': expected RFC 3339"),
        (None, None, "2026-02-30", "invalid --end '2026-02-30': not a real date"),
        ("7d", None, "soon", "invalid --end 'soon'"),
        ("2026-10-04..2026-10-01", None, None, "invalid --window '2026-10-04..2026-10-01'"),
        ("x..2026-10-01", None, None, "invalid --window 'x..2026-10-01'"),
        ("2026-10-01..2026-10-04", None, "2026-10-05", "already gives an end"),
        ("7d", None, "0001-01-03", "before year 1"),
        ("last-month", None, "0001-01-20", "before year 1"),
    ],
)
def test_errors_name_the_flag_and_value_in_one_line(
    window: str | None, start: str | None, end: str | None, expected: str
) -> None:
    with pytest.raises(UsageError) as excinfo:
        resolve_window(window, start, end, now=NOW)
    assert expected in usage_error(excinfo)


def test_window_checks_its_invariants() -> None:
    with pytest.raises(ValueError, match="after"):
        Window(start=NOW, end=NOW, label="x")
    with pytest.raises(ValueError, match="UTC"):
        Window(start=datetime(2026, 1, 1), end=NOW, label="x")


_PLAUSIBLE = st.sampled_from(
    [
        "7d",
        "24h",
        "month",
        "last-month",
        "now",
        "2026-10-01",
        "2026-10-01T12:00:00Z",
        "2026-10-01T12:00:00+14:00",
        "0001-01-01",
        "9999-12-31T23:59:59-12:00",
        "2026-10-01..2026-10-04",
        "401d",
        "1y",
        "",
    ]
)
_TEXT = st.one_of(
    st.none(),
    _PLAUSIBLE,
    st.text(),
    st.from_regex(r"[0-9]{1,20}[ywdhms]{1,2}", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?", fullmatch=True
    ),
)


@pytest.mark.slow
@given(
    window=_TEXT,
    start=_TEXT,
    end=_TEXT,
    now=st.datetimes(
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
    ),
)
def test_resolve_window_returns_a_valid_window_or_raises_usage_error(
    window: str | None, start: str | None, end: str | None, now: datetime
) -> None:
    try:
        result = resolve_window(window, start, end, now=now)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert result.start < result.end
    assert result.start.utcoffset() == timedelta(0)
    assert result.end.utcoffset() == timedelta(0)
    assert result.end <= now
    assert result.end - result.start <= MAX_WINDOW

"""The small parsers behind ``finops billing``'s flags, without starting a process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from finops_cli.errors import UsageError
from finops_cli.sources.billing import GPU_FAMILIES, Dimension, is_gpu_instance, parse_dimension
from finops_cli.usecases.billing import BillOptions, bill_filters, dimensions, parse_tags


def test_tags_repeat_and_untagged():
    expected = {"team": ("nlp", ""), "env": ("prod",)}
    assert parse_tags(["team=nlp", "team=", "env = prod"]) == expected
    for bad in ("novalue", "=x"):
        with pytest.raises(UsageError, match="--tag"):
            parse_tags([bad])


def test_services_and_families():
    assert _filters(None, False, None, None) == (None, (), {})  # the compute default
    services, families, _ = _filters(["S3"], False, ["P5", "gpu"], None)
    assert services == ("S3",)
    assert families[0] == "p5" and set(families) == set(GPU_FAMILIES)  # no duplicates
    assert len(families) == len(GPU_FAMILIES)
    assert _filters(None, True, None, None)[0] == ()
    with pytest.raises(UsageError, match="conflict"):
        _filters(["x"], True, None, None)
    with pytest.raises(UsageError, match="--instance-family"):
        _filters(None, False, ["p5;drop"], None)


def testdimensions():
    assert dimensions(None, "owner") == (Dimension("team", "owner"),)
    assert parse_dimension("tag:eks:cluster-name", "team").column == "eks:cluster-name"
    assert parse_dimension("Instance-Type", "team") == Dimension("instance_type")
    with pytest.raises(UsageError, match="at most two"):
        dimensions(["team", "service", "region"], "team")
    with pytest.raises(UsageError, match="twice"):
        dimensions(["team", "team"], "team")
    for bad in ("colour", "tag:", "tag:a$b", "service:x"):
        with pytest.raises(UsageError, match="--by"):
            parse_dimension(bad, "team")


def test_gpu_instances():
    assert is_gpu_instance("p5.48xlarge") and is_gpu_instance("p6-b200.48xlarge")
    assert not is_gpu_instance("m6i.xlarge") and not is_gpu_instance("NoInstanceType")


def test_window_days_round_to_whole_days():
    """One rule for actual and compare: both ends rounded down, so 7d is seven whole days."""
    from finops_cli.timewindow import Window
    from finops_cli.usecases.billing import bill_days

    window = Window(
        datetime(2026, 10, 1, 15, tzinfo=UTC), datetime(2026, 10, 3, 9, tzinfo=UTC), "x"
    )
    start, end = bill_days(window)
    assert (start.isoformat(), end.isoformat()) == ("2026-10-01", "2026-10-03")
    seven = Window(
        datetime(2026, 11, 29, 20, 22, tzinfo=UTC), datetime(2026, 12, 6, 20, 22, tzinfo=UTC), "7d"
    )
    start, end = bill_days(seven)
    assert (end - start).days == 7 and end.isoformat() == "2026-12-06"
    dates = Window(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC), "x")
    assert [d.isoformat() for d in bill_days(dates)] == ["2026-10-05", "2026-10-08"]
    with pytest.raises(UsageError, match="whole UTC day"):
        bill_days(
            Window(datetime(2026, 10, 1, 1, tzinfo=UTC), datetime(2026, 10, 1, 9, tzinfo=UTC), "")
        )


def _filters(
    service: list[str] | None, all_services: bool, families: list[str] | None, tag: list[str] | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    options = BillOptions(
        services=service or [],
        all_services=all_services,
        instance_families=families or [],
        tags=tag or [],
    )
    return bill_filters(options)

"""The small parsers behind ``finops billing``'s flags, without starting a process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from finops_cli.cli.billing import _dimensions, _filters, _tags
from finops_cli.errors import UsageError
from finops_cli.sources.billing import GPU_FAMILIES, Dimension, is_gpu_instance, parse_dimension


def test_tags_repeat_and_untagged():
    assert _tags(["team=nlp", "team=", "env = prod"]) == {"team": ("nlp", ""), "env": ("prod",)}
    for bad in ("novalue", "=x"):
        with pytest.raises(UsageError, match="--tag"):
            _tags([bad])


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


def test_dimensions():
    assert _dimensions(None, "owner") == (Dimension("team", "owner"),)
    assert parse_dimension("tag:eks:cluster-name", "team").column == "eks:cluster-name"
    assert parse_dimension("Instance-Type", "team") == Dimension("instance_type")
    with pytest.raises(UsageError, match="at most two"):
        _dimensions(["team", "service", "region"], "team")
    with pytest.raises(UsageError, match="twice"):
        _dimensions(["team", "team"], "team")
    for bad in ("colour", "tag:", "tag:a$b", "service:x"):
        with pytest.raises(UsageError, match="--by"):
            parse_dimension(bad, "team")


def test_gpu_instances():
    assert is_gpu_instance("p5.48xlarge") and is_gpu_instance("p6-b200.48xlarge")
    assert not is_gpu_instance("m6i.xlarge") and not is_gpu_instance("NoInstanceType")


def test_window_days_round_to_whole_days():
    from finops_cli.cli.billing import _days
    from finops_cli.timewindow import Window

    class Ctx:
        window = Window(
            datetime(2026, 10, 1, 15, tzinfo=UTC), datetime(2026, 10, 3, 9, tzinfo=UTC), "x"
        )

    start, end = _days(Ctx())  # type: ignore[arg-type]
    assert (start.isoformat(), end.isoformat()) == ("2026-10-01", "2026-10-04")
    # billing compare: only the days the window covers whole
    start, end = _days(Ctx(), whole_days_only=True)  # type: ignore[arg-type]
    assert (start.isoformat(), end.isoformat()) == ("2026-10-02", "2026-10-03")

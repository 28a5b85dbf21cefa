"""gpus' and rightsize's recorded statistics without a server: the rules, the reads, and how
pieces of a window combine (the figures are checked through a real Prometheus in
``tests/integration/test_recorded_ledger.py``)."""

from __future__ import annotations

from finops_cli.deploy import rules
from finops_cli.queries import MAX_QUERY_BYTES, query_bytes
from finops_cli.queries import recorded_stats as rs
from finops_cli.queries.recorded import RecordedQueries
from finops_cli.sources import prometheus_recorded_stats as prs
from finops_cli.sources.prometheus_client import InstantSample


def test_every_statistic_is_recorded_hourly_and_daily_where_it_adds_up():
    group = rules.ledger_group()
    backfill = rules.ledger_backfill_group()
    live = {r.name: r.expr for r in group.rules}
    past = {r.name: r.expr for r in backfill.rules}
    for s in rs.RECORDED_STATS:
        for names in (live, past):
            assert names[s.hourly_name()].endswith("and on () (minute() == 0)")
            assert (s.daily_name() in names) == s.daily
        assert "[3599999ms:60s]" in live[s.hourly_name()] or "[3599999ms]" in live[s.hourly_name()]
        if s.daily:
            assert live[s.daily_name()].endswith("and on () (hour() == 0 and minute() == 0)")
            assert s.hourly_name() in live[s.daily_name()]  # live: the day from its hours
            assert s.hourly_name() not in past[s.daily_name()]  # backfill: from raw series
            assert "hour() == 0 and minute() == 0" in past[s.daily_name()]
    # percentiles cannot add up over days: only hourly maxima of busy
    assert not rs.stat("gpu_busy", "max").daily and not rs.stat("workload_busy", "max").daily
    assert len({s.hourly_name() for s in rs.RECORDED_STATS}) == len(rs.RECORDED_STATS)


def test_statistics_share_the_ledgers_gate_at_sub_minute_scrapes():
    """At 15-second scrapes the group runs every 15 s: each hour keeps one evaluation."""
    group = rules.ledger_group(rules.ledger_context(sample_interval_s=15))
    live = {r.name: r.expr for r in group.rules}
    hourly = live[rs.stat("gpu_price", "sum").hourly_name()]
    assert hourly.endswith("and on () (vector(time()) % 3600 < 15)"), hourly
    assert "[3599999ms:15s]" in hourly


def test_reads_stay_small_and_keep_no_pod_where_not_needed():
    ctx = rules.ledger_context()
    for s in rs.RECORDED_STATS:
        for days in (False, True):
            query = rs.read(ctx, s, 14 * 86400, days=days)
            assert query_bytes(query) < 400 < MAX_QUERY_BYTES
    workload = rs.from_raw(RecordedQueries(ctx), rs.stat("workload_gpu_samples", "sum"))
    assert workload.startswith("(sum by (cluster, namespace, workload_kind, workload) (")
    assert "quantile_over_time(0.95, ledger:finops_gpu_busy:max_1h" in rs.read_p95(
        ctx, rs.stat("gpu_busy", "max"), 7200
    )


def _s(value: float, **labels: str) -> InstantSample:
    return InstantSample(dict(labels), value)


def test_pieces_combine_as_the_statistic_does():
    a, b = [_s(2, gpu="0"), _s(5, gpu="1")], [_s(3, gpu="0")]
    assert {s.labels["gpu"]: s.value for s in prs._combine([a, b], "sum")} == {"0": 5, "1": 5}
    assert {s.labels["gpu"]: s.value for s in prs._combine([a, b], "max")} == {"0": 3, "1": 5}
    averages = prs._ratio([_s(6, gpu="0"), _s(1, gpu="1")], [_s(3, gpu="0"), _s(0, gpu="1")])
    assert [(s.labels["gpu"], s.value) for s in averages] == [("0", 2.0)]


def test_a_workload_names_the_pod_with_the_most_gpu_samples():
    pods = [
        _s(10, namespace="ml", workload_kind="Job", workload="train", pod="train-1"),
        _s(30, namespace="ml", workload_kind="Job", workload="train", pod="train-2"),
        _s(5, namespace="ml", workload_kind="Pod", workload="solo", pod="solo"),
    ]
    top = {s.labels["workload"]: s.labels["pod"] for s in prs._top(pods)}
    assert top == {"train": "train-2", "solo": "solo"}

"""The recorded ledger without a server: its reads, the stitching plan, the settings check.

The figures themselves are checked through a real Prometheus in
``tests/integration/test_recorded_ledger.py`` (recorded = raw, samples read); here what decides
*which* hours are read how, and that every read stays small.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli import buckets
from finops_cli.deploy import rules
from finops_cli.queries import MAX_QUERY_BYTES, QueryContext, query_bytes
from finops_cli.queries import recorded as rec
from finops_cli.sources import prometheus_recorded as pr

H = 3600
D = 86400
DAY0 = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
LABELS = {k: f"ai-finops.io/{k}" for k in ("team", "project", "model", "environment")}


def _ctx(**kw) -> QueryContext:
    return QueryContext({**LABELS, "cost_center": "ai-finops.io/cost-center"}, 60, **kw)


@pytest.mark.parametrize(
    "ctx",
    [
        _ctx(),
        _ctx(cluster_filter="us-1", replica_labels=("prometheus_replica",)),
        _ctx(cluster_label=None),
    ],
    ids=["default", "cluster-filter-replicas", "no-cluster-label"],
)
def test_every_read_is_small(ctx):
    rq = rec.RecordedQueries(ctx)
    filters = {k: "x" * 60 for k in ("team", "project", "model", "namespace", "cost_center")}
    reads = [
        rq.read(m, ("team", "project"), filters, 30 * D, days=days)
        for m in (*rec.GRAIN_MEASURES, *rec.CLUSTER_MEASURES)
        for days in (False, True)
    ]
    reads += [rq.coverage(), rq.coverage(days=True), rq.info_sets(90 * D)]
    assert max(query_bytes(q) for q in reads) < MAX_QUERY_BYTES // 4


def test_reads_by_gpu_model_leave_out_what_raw_leaves_out():
    rq = rec.RecordedQueries(_ctx())
    assert 'gpu_model!=""' in rq.read("gpu_cost", ("gpu_model",), {}, H)
    assert 'gpu_model!=""' not in rq.read("wasted_cost", ("gpu_model",), {}, H)
    assert 'gpu_model!=""' not in rq.read("gpu_cost", ("team",), {}, H)
    # cluster-wide measures ignore keys and filters, as the raw ones do
    assert rq.read("capacity_gpu_cost", ("team",), {"team": "a"}, H) == (
        "sum by (cluster) (sum_over_time(ledger:finops_capacity_gpu_cost:sum_1h{}[3600s]))"
    )


def test_committed_backfill_file_is_what_the_command_writes_for_60_s(tmp_path):
    from finops_cli.deploy import backfill as bf
    from finops_cli.deploy.paths import checkout_manifests_dir

    plan = bf.BackfillPlan(
        url="http://x",
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 10, 2, tzinfo=UTC),
        pod_labels={**LABELS, "cost_center": rules.COST_CENTER_ANNOTATION},
        cluster_label="cluster",
        rules_file=tmp_path / "ledger.rules.yaml",
        found=bf.Discovered(60, None, None, False),
    )
    written = bf.write_rules(plan).read_text()
    committed = checkout_manifests_dir() / "base/prometheus/backfill" / rules.LEDGER_BACKFILL_FILE
    body = [line for line in committed.read_text().splitlines() if not line.startswith("#")]
    assert [line for line in written.splitlines() if not line.startswith("#")] == body
    command = bf.promtool_command(plan, tmp_path / "blocks")
    assert command[1:4] == ["tsdb", "create-blocks-from", "rules"]
    assert f"--end={int(plan.end.timestamp()) + rec.RULE_INTERVAL_S}" in command
    chunks = bf.replay_chunks(plan)
    hours_file, sums_file = bf.write_replay_rules(plan)
    replay = bf.vmalert_command(plan, hours_file, "http://vm", chunks[0])
    assert "-replay.timeFrom=2026-10-01T00:00:00Z" in replay
    assert "-datasource.queryStep=3600s" in replay  # vmalert's default step is 5 minutes
    assert "-replay.rulesDelay=0s" in replay
    # a day a run: the range's 25 rollups (its first rolls up the hour before the start)
    assert chunks == [(plan.start, datetime(2026, 10, 1, 23, tzinfo=UTC)), (plan.end, plan.end)]
    last = bf.vmalert_command(plan, hours_file, "http://vm", chunks[-1])
    # vmalert refuses timeTo == timeFrom: a run of one hour ends a second after it
    assert "-replay.timeFrom=2026-10-02T00:00:00Z" in last
    assert "-replay.timeTo=2026-10-02T00:00:01Z" in last
    assert sums_file == tmp_path / "ledger.rules.sums.yaml"


def _replay_plan(start: datetime, end: datetime):
    from finops_cli.deploy import backfill as bf

    return bf.BackfillPlan(
        url="http://x",
        start=start,
        end=end,
        pod_labels={},
        cluster_label="cluster",
        rules_file=Path("x.yaml"),
        found=bf.Discovered(300, None, None, False),
    )


def test_replay_runs_share_no_instant():
    """vmalert asks a chunk's boundary instant twice; each run ends an hour before the next,
    and together they evaluate every hour of the range once, on the hour."""
    from finops_cli.deploy import backfill as bf

    plan = _replay_plan(
        datetime(2026, 10, 1, 0, 20, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)
    )
    assert len(bf.replay_chunks(plan)) == 30  # 720 hours, a day a run by default
    plan = replace(plan, replay_hours=100)
    chunks = bf.replay_chunks(plan)
    assert len(chunks) == 8
    for (_, to), (start, _) in itertools.pairwise(chunks):
        assert (start - to).total_seconds() == H
    assert all((b - a).total_seconds() / H + 1 <= 100 for a, b in chunks)
    command = bf.vmalert_command(plan, Path("hours.yaml"), "http://vm", chunks[0])
    assert "-replay.maxDatapointsPerQuery=100" in command
    hours = [
        int(a.timestamp()) + k * H
        for a, b in chunks
        for k in range(int((b - a).total_seconds()) // H + 1)
    ]
    # the first rollup at or after the start (it rolls up the hour the start falls in)
    assert hours == list(range(DAY0 + H, DAY0 + 30 * D + 1, H))


def test_replay_runs_read_raw_then_their_own_hours():
    """The first run integrates the raw series (nothing it writes is readable to it); the second
    reads only the first's results: team and day rollups are sums of the hours, so they equal
    what integrating the raw series again would give."""
    hours, sums = rules.ledger_replay_groups()
    assert hours.interval == sums.interval == "3600s"
    written = {r.name for r in hours.rules}
    for rule in hours.rules:
        assert "ledger:" not in rule.expr, rule.name
        assert "minute()" not in rule.expr, rule.name  # every evaluation is on the hour
    assert rules.RULES_INFO in written
    for rule in sums.rules:
        read = set(re.findall(r"[a-z_]+:[a-z_]+:[a-z0-9_]+|finops_rules_info", rule.expr))
        assert read and read <= written, rule.name
        assert "kube_pod" not in rule.expr and "DCGM" not in rule.expr, rule.name
    one_run = rules.ledger_backfill_group()
    assert {r.name for r in one_run.rules} == written | {r.name for r in sums.rules}


def test_a_day_is_summed_only_when_its_24_hours_were_recorded():
    """A day rolled up from part of its hours would stay short once the rest were backfilled
    (rules deployed mid-day, history backfilled up to then): live and replayed days wait for
    finops_rules_info's 24 hours, which the live group records before its days."""
    live = rules.ledger_group()
    names = [r.name for r in live.rules]
    days = [r for r in live.rules if r.name.endswith("_1d")]
    assert days and all("finops_rules_info{" in r.expr and ">= 24" in r.expr for r in days)
    assert names.index(rules.RULES_INFO) < min(names.index(r.name) for r in days)
    _, sums = rules.ledger_replay_groups()
    assert all(">= 24" in r.expr for r in sums.rules if r.name.endswith("_1d"))


def test_backfill_rules_never_read_the_rules_they_write():
    """promtool and vmalert evaluate each rule against the server as it is: a backfill rule
    that read a recorded series would record nothing."""
    group = rules.ledger_backfill_group()
    for rule in group.rules:
        assert "ledger:" not in rule.expr, rule.name
    assert group.interval == "60s"  # a rollup lands less than a minute after its hour


def _coverage(hours: set[int], days: set[int] = frozenset()) -> pr.Coverage:
    return pr.Coverage(frozenset(hours), rec.RecordedQueries(_ctx()), frozenset(days))


def test_pieces_cut_on_hours_and_days():
    covered = {DAY0 + k * H for k in range(13, 49)}  # 12:00 on day 0 to 00:00 on day 2
    cov = _coverage(covered, {DAY0 + 2 * D})
    pieces = pr._pieces(DAY0 + 5 * H + 1800, DAY0 + 3 * D, cov)
    assert pieces == [
        (DAY0 + 5 * H + 1800, DAY0 + 12 * H, pr.RAW),
        (DAY0 + 12 * H, DAY0 + D, pr.HOURS),
        (DAY0 + D, DAY0 + 2 * D, pr.DAYS),
        (DAY0 + 2 * D, DAY0 + 3 * D, pr.RAW),
    ]


def test_recorded_days_become_one_bucket_only_when_the_caller_sums_days():
    cov = _coverage({DAY0 + k * H for k in range(1, 49)}, {DAY0 + D, DAY0 + 2 * D})
    cut = buckets.plan(DAY0 - 1800, DAY0 + 2 * D + 1800, H)
    daily = pr._buckets(cut, cov, daily=True)
    assert (DAY0, DAY0 + D, "") in daily and (DAY0 + D, DAY0 + 2 * D, "") in daily
    assert len(daily) == 2 + 2  # two days and the two partial edges
    hourly = pr._buckets(cut, cov, daily=False)
    assert len(hourly) == 48 + 2


class _Client:
    """Records what ``answer`` asks; answers one series per query."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def range(self, query, start, end, step):
        from finops_cli.sources.prometheus_client import RangeSeries

        self.asked.append(("range", query))
        n = int((end - start) / step) + 1
        stamps = [start.timestamp() + i * step.total_seconds() for i in range(n)]
        return [RangeSeries({"team": "a"}, stamps, [1.0] * n)]

    def instant(self, query, at):
        from finops_cli.sources.prometheus_client import InstantSample

        self.asked.append(("instant", query))
        return [InstantSample({"team": "a"}, 1.0)]


def test_answer_labels_every_piece_with_its_bucket_end():
    cov = _coverage({DAY0 + k * H for k in range(13, 25)})
    client = _Client()
    start = datetime.fromtimestamp(DAY0 + 10 * H + 600, tz=UTC)
    end = datetime.fromtimestamp(DAY0 + 30 * H, tz=UTC)
    out = pr.answer(
        client,  # type: ignore[arg-type]
        "raw_measure",
        lambda length, days: f"rec[{length}]{'d' if days else 'h'}",
        cov,
        start,
        end,
        H,
        60,
    )
    ends = sorted(t for _, stamps, _ in out for t in stamps)
    assert ends == [float(DAY0 + k * H) for k in range(11, 31)]  # one value per bucket
    kinds = [(kind, q.startswith("rec")) for kind, q in client.asked]
    assert ("range", True) in kinds and ("range", False) in kinds  # one run each way
    assert ("instant", False) in kinds  # the partial first bucket


class _IndexClient(_Client):
    """``_Client`` whose index holds series only from ``first`` on."""

    def __init__(self, first: int) -> None:
        super().__init__()
        self.first = first
        self.looked_up: list[tuple[float, float]] = []

    def label_values(self, label, match, start, end):
        assert label == "__name__"  # VictoriaMetrics answers label names with __name__ always
        self.looked_up.append((start.timestamp(), end.timestamp()))
        return ["container_gpu_allocation"] if end.timestamp() >= self.first else []


PRESENT = frozenset({"container_gpu_allocation", "node_gpu_count", "finops_rules_info"})


def test_a_history_before_any_series_is_not_read():
    """A report's or forecast's history reaching back before the cluster existed: one index
    lookup instead of raw queries over days of nothing; the stretch's last hour is still read
    (a first sample on the recorded hour's start belongs to it)."""
    first_recorded = DAY0 + 10 * D + H  # rollup of the hour ending then
    start = datetime.fromtimestamp(DAY0, tz=UTC)
    client = _IndexClient(first=DAY0 + 10 * D)
    until = pr._empty_lead(client, PRESENT, start, first_recorded - H)  # type: ignore[arg-type]
    assert until == DAY0 + 10 * D - H
    ((looked_from, looked_to),) = client.looked_up
    assert looked_from == DAY0 - H and looked_to == until  # the lookback hour before the start
    cov = pr.Coverage(
        frozenset(DAY0 + 10 * D + k * H for k in range(1, 25)),
        rec.RecordedQueries(_ctx()),
        empty_until=until,
    )
    assert pr._pieces(DAY0, DAY0 + 11 * D, cov) == [
        (DAY0, until, pr.EMPTY),
        (until, DAY0 + 10 * D, pr.RAW),
        (DAY0 + 10 * D, DAY0 + 11 * D, pr.HOURS),
    ]
    out = pr.answer(
        client,  # type: ignore[arg-type]
        "raw_measure",
        lambda length, days: "rec",
        cov,
        start,
        datetime.fromtimestamp(DAY0 + 11 * D, tz=UTC),
        H,
        60,
    )
    ends = sorted(t for _, stamps, _ in out for t in stamps)
    assert ends == [float(DAY0 + 10 * D + k * H) for k in range(0, 25)]  # nothing before
    assert [q.startswith("rec") for _, q in client.asked] == [False, True]


def test_a_history_with_series_is_read_and_a_short_one_not_looked_up():
    start = datetime.fromtimestamp(DAY0, tz=UTC)
    client = _IndexClient(first=DAY0 + D)
    assert pr._empty_lead(client, PRESENT, start, DAY0 + 10 * D) is None  # series found
    assert pr._empty_lead(client, PRESENT, start, DAY0 + 5 * H) is None  # under six hours
    assert len(client.looked_up) == 1


def test_settings_that_differ_are_named():
    ctx = _ctx()
    wanted = rec.info_labels(ctx)
    assert pr._settings_differ(ctx, [wanted]) == (None, {"sharing": ("",), "prices": ("",)})
    other = wanted | {"team_label": "example.com/squad"}
    why, accepted = pr._settings_differ(ctx, [other])
    assert accepted == {}
    assert why is not None and "team_label='example.com/squad'" in why
    assert "'ai-finops.io/team'" in why
    assert pr.known_interval([wanted]) == 60
    assert pr.known_interval([wanted, wanted | {"sample_interval": "300"}]) is None

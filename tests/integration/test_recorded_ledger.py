"""The recorded ledger through a real Prometheus: figures equal raw ones, far fewer samples read.

The sample cluster is backfilled with promtool at five-minute scrapes; then ``finops deploy
backfill`` records the ledger's hourly rollups (``promtool tsdb create-blocks-from rules``) over
*part* of the window, from 2026-10-02 12:00 on, and the blocks are moved into the server's data
directory before it restarts. Windows inside the recorded part are answered from the rollups
alone ("full coverage"), windows across its start half and half ("mid-window"); both must equal
``--raw`` within 0.1% (costs to the cent), and the samples the server reads (``stats=all``,
``totalQueryableSamples``) must drop at least 20x.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest

from finops_cli.pricing import load_catalog
from finops_cli.queries.inference import TRAFFIC_COUNTERS
from finops_cli.sample import SampleCluster
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.settings import load_settings
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.prometheus import PrometheusCostSource
from finops_cli.timewindow import Window
from finops_cli.usecases.sources import pod_labels
from tests.support.cli import run_finops
from tests.support.ledger_series import LEDGER_METRICS
from tests.support.live_rules import generate_from
from tests.support.promserver import backfill, require_prometheus, start_server, with_blocks
from tests.support.same_figures import assert_same_figures, assert_same_figures_but_p95

pytestmark = pytest.mark.prometheus

STEP = 300
DATA_FROM = datetime(2026, 9, 30, 20, tzinfo=UTC)
DATA_TO = datetime(2026, 10, 5, 2, tzinfo=UTC)
RULES_FROM = "2026-10-02T12:00:00Z"  # coverage starts mid-window
RULES_TO = "2026-10-05T00:00:00Z"
KEEP = LEDGER_METRICS | {c for counters in TRAFFIC_COUNTERS.values() for c in counters}
LAST_DAYS = (datetime(2026, 10, 2, 20, tzinfo=UTC), DATA_TO)
"""The data of the servers whose tests ask about 10-03 to 10-05 only: half the backfill."""
ANOMALY_SAMPLES_RATIO = 8
"""What anomalies gains at five-minute scrapes on this 33-GPU cluster: an hourly row per team and
measure is read either way, so the gain is bounded by the samples per hour a team's raw series
hold (12 at five minutes; see docs/performance.md). 20x holds at one-minute scrapes."""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    yield from recorded_server(Path(tmp_path_factory.mktemp("recorded")), RULES_FROM, {})


@pytest.fixture(scope="module")
def squad_server(tmp_path_factory) -> Iterator[str]:
    """The same cluster, its rules made with another team label (``example.com/squad``)."""
    env = {"FINOPS_LABEL_TEAM": "example.com/squad"}
    work = Path(tmp_path_factory.mktemp("squad"))  # six recorded hours are enough to refuse
    yield from recorded_server(work, "2026-10-04", env, LAST_DAYS, "2026-10-04T06:00:00Z")


@pytest.fixture(scope="module")
def exported_server(tmp_path_factory) -> Iterator[str]:
    """Two clusters in one store (remote write from each, labelled ``cluster``), both as
    dcgm-exporter writes them behind a ServiceMonitor with ``honorLabels: false`` (its pod and
    namespace in ``exported_*``): ``a`` with ``--no-hostname`` (no host label: each GPU's node
    is its exporter pod's, found by the IP in ``instance``), ``b`` with the released
    ``Hostname``. The backfill finds both settings as the CLI does and records both clusters in
    one run; the pod IPs of the two clusters overlap, as they may."""
    clusters = {
        "a": SampleCluster(7, dcgm_honor_labels=False, dcgm_host_label=None),
        "b": SampleCluster(7, dcgm_honor_labels=False),
    }
    series = (
        replace(s, labels=s.labels | {"cluster": name})
        for name, cluster in clusters.items()
        for s in _cluster_series(*LAST_DAYS, cluster)
    )
    work = Path(tmp_path_factory.mktemp("exported"))
    yield from recorded_server(work, "2026-10-04", {}, series=series)


REPLICAS = {"FINOPS_PROMETHEUS_REPLICA_LABELS": "prometheus_replica"}


@pytest.fixture(scope="module")
def replicas_server(tmp_path_factory) -> Iterator[str]:
    """One store holding both replicas of an HA pair scraping cluster ``us-1`` (as remote write
    from both leaves them, labelled ``prometheus_replica``), the ledger backfilled over 10-04
    with ``FINOPS_PROMETHEUS_REPLICA_LABELS``."""
    series = (
        replace(s, labels=s.labels | {"cluster": "us-1", "prometheus_replica": replica})
        for s in _cluster_series(*LAST_DAYS)
        for replica in ("a", "b")
    )
    work = Path(tmp_path_factory.mktemp("replicas"))
    yield from recorded_server(work, "2026-10-04", REPLICAS, series=series)


def _cluster_series(
    data_from: datetime, data_to: datetime, cluster: SampleCluster | None = None
) -> Iterator[Any]:
    cluster = cluster or SampleCluster(7)
    return (
        s
        for s in cluster.series(int(data_from.timestamp()), int(data_to.timestamp()), STEP)
        if s.name in KEEP
    )


def recorded_server(
    work: Path,
    rules_from: str,
    env: dict[str, str],
    data: tuple[datetime, datetime] = (DATA_FROM, DATA_TO),
    rules_to: str = RULES_TO,
    series: Iterator[Any] | None = None,
) -> Iterator[str]:
    """Prometheus holding the cluster over ``data`` (or ``series``), the ledger backfilled
    with promtool over ``rules_from``..``rules_to`` with the settings in ``env``."""
    require_prometheus()
    om = work / "cluster.om"
    write_openmetrics_file(series or _cluster_series(*data), om)
    backfill(om, work / "data", work / "promtool.log")
    om.unlink()
    prometheus = start_server(work)
    blocks = work / "blocks"
    result = run_finops(
        "deploy",
        "backfill",
        "--prometheus-url",
        prometheus.url,
        "--start",
        rules_from,
        "--end",
        rules_to,
        "--output-dir",
        blocks,
        "--rules-file",
        work / "ledger.rules.yaml",
        env=env,
        timeout=900,
    )
    if result.returncode != 0:
        prometheus.stop()
        pytest.fail(result.stderr)
    assert "wrote" in result.stdout
    prometheus = with_blocks(prometheus, blocks)
    try:
        yield prometheus.url
    finally:
        prometheus.stop()


def run_json(url: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """A command's JSON document, read from the server at ``url``."""
    output = () if "--format" in args else ("-o", "json")
    result = run_finops(*args, "--prometheus-url", url, *output, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _recorded_note(doc: dict[str, Any]) -> str:
    found = [n for n in doc["notes"] if n.startswith("recorded series answered")]
    assert found, doc["notes"]
    return found[0]


def _both(url: str, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_json(url, *args), run_json(url, *args, "--raw")


@pytest.mark.parametrize(
    "window",
    [
        ("--start", "2026-10-03", "--end", "2026-10-05"),  # wholly recorded
        ("--start", "2026-10-01", "--end", "2026-10-04"),  # recorded from 10-02 12:00
        ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z"),  # partial edges
    ],
    ids=["full", "mid-window", "unaligned"],
)
def test_costs_by_team_equal_raw(server, window):
    recorded, raw = _both(server, "costs", "--by", "team", *window)
    assert_same_figures(recorded, raw)
    note = _recorded_note(recorded)
    assert not any(n.startswith("recorded series answered") for n in raw["notes"])
    if window[1] == "2026-10-03":
        assert "raw series the rest" not in note
    else:
        assert "raw series the rest" in note
    assert raw["totals"]["gpu_cost"] > 1000


@pytest.mark.parametrize(
    "args",
    [
        ("--by", "team", "--by", "project"),
        ("--by", "project", "--team", "research"),
        ("--by", "namespace"),
        ("--by", "gpu-model"),
        ("--by", "cost-center"),
        ("--by", "model", "--namespace", "inference"),
    ],
)
def test_groupings_and_filters_equal_raw(server, args):
    window = ("--start", "2026-10-01", "--end", "2026-10-04")
    recorded, raw = _both(server, "costs", *args, *window)
    assert_same_figures(recorded, raw)
    _recorded_note(recorded)


def test_forecast_equals_raw(server):
    args = ("forecast", "--as-of", "2026-10-04T15:00:00Z", "--history", "3d")
    recorded, raw = _both(server, *args)
    assert_same_figures(recorded, raw)


def test_anomalies_equal_raw(server):
    args = (
        "anomalies",
        "--as-of",
        "2026-10-05T00:00:00Z",
        "--since",
        "2026-10-04T00:00:00Z",
        "--baseline",
        "3d",
    )
    recorded, raw = _both(server, *args)
    assert_same_figures(recorded, raw)


@pytest.mark.parametrize(
    "window",
    [
        ("--start", "2026-10-03", "--end", "2026-10-05"),  # wholly recorded
        ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z"),  # mid-window
    ],
    ids=["full", "mid-window"],
)
@pytest.mark.parametrize("by", ["team", "gpu-model"])
def test_energy_equals_raw(server, window, by):
    """``--energy``: kWh per group and region, the held and idle energy, from the energy
    rollups where recorded."""
    recorded, raw = _both(server, "costs", "--energy", "--by", by, *window)
    assert_same_figures(recorded, raw)
    _recorded_note(recorded)
    assert raw["energy"]["energy_kwh"] > 10, raw["energy"]


def test_rules_of_another_scrape_interval_are_refused(server):
    """The rules were backfilled for the data's five-minute scrapes (``sample_interval='300'``);
    a run told the data is scraped every minute reads raw series and says why."""
    window = ("--start", "2026-10-03", "--end", "2026-10-04", "--by", "team")
    recorded = run_json(server, "costs", *window, "--sample-interval", "60")
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "sample_interval='300' (this run: '60')" in refused[0], recorded["notes"]
    assert not any(n.startswith("recorded series answered") for n in recorded["notes"])


def test_by_node_reads_raw_and_says_why(server):
    window = ("--start", "2026-10-03", "--end", "2026-10-04")
    recorded, raw = _both(server, "costs", "--by", "node", *window)
    assert_same_figures(recorded, raw)
    assert any("not kept by node" in n for n in recorded["notes"]), recorded["notes"]


def test_rules_made_with_another_team_label_are_refused(server):
    """Rules recorded with ``ai-finops.io/team`` read by a CLI whose team label is another: a
    note names the difference, and every figure is the raw one."""
    env = {"FINOPS_LABEL_TEAM": "example.com/squad"}
    window = ("--start", "2026-10-03", "--end", "2026-10-04")
    recorded = run_json(server, "costs", "--by", "team", *window, env=env)
    raw = run_json(server, "costs", "--by", "team", *window, "--raw", env=env)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "team_label='ai-finops.io/team'" in refused[0], recorded["notes"]
    assert "example.com/squad" in refused[0]


def test_rule_set_made_with_another_team_label_is_refused(squad_server):
    """Rules backfilled with ``FINOPS_LABEL_TEAM=example.com/squad`` and read by a CLI with the
    default team label: refused with a note naming both, every figure raw."""
    window = ("--start", "2026-10-04", "--end", "2026-10-05")
    recorded, raw = _both(squad_server, "costs", "--by", "team", *window)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused, recorded["notes"]
    assert "team_label='example.com/squad' (this run: 'ai-finops.io/team')" in refused[0]
    assert not any(n.startswith("recorded series answered") for n in recorded["notes"])
    # the CLI made with the rules' label reads them
    env = {"FINOPS_LABEL_TEAM": "example.com/squad"}
    squad = run_json(squad_server, "costs", "--by", "team", *window, env=env)
    _recorded_note(squad)


# ---- samples read ------------------------------------------------------------------------
def samples_read(url: str, request: CostRequest, *, recorded: bool) -> tuple[int, Any]:
    """Samples the server reads (``stats=all``) for every query ``costs`` sends, and the data."""
    return samples_of(url, lambda source: source.costs(request), recorded=recorded)


def samples_of(url: str, ask: Any, *, recorded: bool) -> tuple[int, Any]:
    """Samples the server reads for every query ``ask(source)`` sends, and its answer."""
    settings = load_settings({"prometheus.url": url})
    source = PrometheusCostSource(
        settings.prometheus,
        pod_labels(settings),
        cluster_label=settings.labels.cluster,
        catalog=load_catalog(settings.pricing),  # for clusters without OpenCost
        recorded=recorded,
    )
    sent: list[tuple[str, list[tuple[str, str]]]] = []
    call = source.client._call

    def spy(path: str, params: list[tuple[str, str]], **kw: Any) -> Any:
        sent.append((path, list(params)))
        return call(path, params, **kw)

    source.client._call = spy  # type: ignore[method-assign]
    try:
        data = ask(source)
    finally:
        source.close()
    total = 0
    with httpx.Client(timeout=120) as client:
        for path, params in sent:
            if path not in ("/api/v1/query", "/api/v1/query_range"):
                continue
            body = client.post(
                f"{url}{path}",
                content=urlencode([*params, ("stats", "all")]),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).json()
            total += int(body["data"]["stats"]["samples"]["totalQueryableSamples"])
    return total, data


def costs_by_team_samples(url: str) -> tuple[int, int]:
    """Samples read raw and recorded by ``costs --by team`` from 10-03 to 10-05, whose costs
    must agree to the cent."""
    window = Window(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC), "")
    request = CostRequest(window, ("team",), {}, daily_totals=True)  # as `costs --by team`
    raw, raw_data = samples_read(url, request, recorded=False)
    rec, rec_data = samples_read(url, request, recorded=True)
    cost = raw_data.allocations.groupby("team")["gpu_cost"].sum()
    again = rec_data.allocations.groupby("team")["gpu_cost"].sum()
    assert (cost - again).abs().max() < 0.005
    print(f"samples read, costs --by team over 2 days: raw {raw:,}, recorded {rec:,}")
    return raw, rec


def test_recorded_reads_at_least_20x_fewer_samples(server):
    raw, rec = costs_by_team_samples(server)
    assert raw >= 20 * rec, (raw, rec)


def test_recorded_anomalies_read_fewer_samples(server):
    """``anomalies`` reads hourly rows per team over its baseline: from the team rollups (one
    series per team, not the grain's several), identical series. The history (a day of
    baseline before 10-04 12:00, to 10-05) lies wholly in the recorded part."""
    from finops_cli.usecases.history import anomaly_history

    as_of, since = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 4, 12, tzinfo=UTC)

    def ask(source: Any) -> Any:
        return anomaly_history(source, as_of, since, 1)

    raw, raw_history = samples_of(server, ask, recorded=False)
    rec, rec_history = samples_of(server, ask, recorded=True)
    print(f"samples read, anomalies over 36 h at 5-minute scrapes: raw {raw:,}, recorded {rec:,}")
    assert raw >= ANOMALY_SAMPLES_RATIO * rec, (raw, rec)
    assert len(raw_history.series) == len(rec_history.series)
    for a, b in zip(rec_history.series, raw_history.series, strict=True):
        assert (a.team, a.metric) == (b.team, b.metric)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6, atol=1e-6, equal_nan=True)


# ---- unit costs: traffic and served shares ------------------------------------------------
@pytest.mark.parametrize(
    "window",
    [
        ("--start", "2026-10-03", "--end", "2026-10-05"),  # wholly recorded
        ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z"),  # mid-window
    ],
    ids=["full", "mid-window"],
)
def test_unit_costs_equal_raw(server, window):
    """``costs --unit-costs``: requests, tokens, phase seconds and the served shares of the
    unlabelled Triton pod from the unit-cost rollups where recorded, equal to raw; the counts
    are whole requests (sums of per-scrape increases, no extrapolation)."""
    recorded, raw = _both(server, "costs", "--unit-costs", *window)
    assert_same_figures(recorded, raw)
    note = _recorded_note(recorded)
    assert ("raw series the rest" in note) == (window[1] != "2026-10-03")
    assert sum(n.startswith("recorded series answered") for n in recorded["notes"]) == 1
    rows = {r["model"]: r for r in raw["rows"] if r["kind"] == "allocated"}
    assert rows["resnet50-onnx"]["requests"] > 0 and rows["resnet50-onnx"]["gpu_cost"] > 0
    for doc in (recorded, raw):
        for row in doc["rows"]:
            requests = row.get("requests") or 0.0
            assert abs(requests - round(requests)) < 1e-6 * max(1.0, requests), row


def test_unit_costs_filtered_equal_raw(server):
    recorded, raw = _both(
        server, "costs", "--unit-costs", "--namespace", "inference", "--start", "2026-10-01",
        "--end", "2026-10-04",
    )  # fmt: skip
    assert_same_figures(recorded, raw)
    _recorded_note(recorded)


def test_unit_costs_read_at_least_20x_fewer_samples(server):
    """``costs --unit-costs`` over two recorded days: the cost report by model, the traffic and
    the served shares, all from rollups."""
    window = Window(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC), "")
    request = CostRequest(window, ("model",), {}, daily_totals=True)

    def ask(source: Any) -> Any:
        return source.costs(request), source.inference(request)

    raw, (_, raw_data) = samples_of(server, ask, recorded=False)
    rec, (_, rec_data) = samples_of(server, ask, recorded=True)
    print(f"samples read, costs --unit-costs over 2 days: raw {raw:,}, recorded {rec:,}")
    assert raw >= 20 * rec, (raw, rec)
    for frame in ("traffic", "served"):
        a = getattr(rec_data, frame).set_index("model").sort_index()
        b = getattr(raw_data, frame).set_index("model").sort_index()
        assert list(a.index) == list(b.index), frame
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6, atol=1e-6)


# ---- VictoriaMetrics: vmalert -replay ----------------------------------------------------
@pytest.fixture(scope="module")
def vm(tmp_path_factory) -> Iterator[str]:
    work = Path(tmp_path_factory.mktemp("recorded-vm"))
    yield from replayed_vm(work, (DATA_FROM, DATA_TO), (RULES_FROM, RULES_TO))


def replayed_vm(
    work: Path,
    data: tuple[datetime, datetime],
    rules: tuple[str, str],
    series: Iterator[Any] | None = None,
) -> Iterator[str]:
    """VictoriaMetrics holding the cluster over ``data`` (or ``series``), the ledger replayed
    over ``rules``."""
    from tests.support.tools import require_tool
    from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

    require_victoria_metrics()
    require_tool("vmalert")
    path = work / "cluster.prom"
    write_openmetrics_file(series or _cluster_series(*data), path, timestamp_scale=1000)
    server = VictoriaMetrics(work, ["-search.disableCache"])
    try:
        server.import_prometheus_text(path)
        path.unlink()  # imported; the text is ten times the server's data
        result = run_finops(
            *("deploy", "backfill", "--engine", "victoriametrics"),
            *("--prometheus-url", server.url, "--start", rules[0], "--end", rules[1]),
            *("--rules-file", work / "ledger.rules.yaml"),
            timeout=900,
        )
        assert result.returncode == 0, result.stderr
        httpx.get(f"{server.url}/internal/force_flush", timeout=60).raise_for_status()
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    "args",
    [
        ("--by", "team", "--start", "2026-10-03", "--end", "2026-10-05"),
        ("--by", "team", "--by", "project", "--start", "2026-10-01", "--end", "2026-10-04"),
    ],
    ids=["full", "mid-window"],
)
def test_vmalert_replay_equals_raw_on_victoriametrics(vm, args):
    recorded, raw = _both(vm, "costs", *args)
    assert_same_figures(recorded, raw)
    _recorded_note(recorded)


@pytest.mark.parametrize(
    "by, details",
    # By team the report adds an anomaly section; over four days of data its baseline is
    # empty and its scores divide by ~0, so float noise moves them: anomalies are compared
    # on a real baseline above (test_anomalies_equal_raw).
    [("team", "--no-details"), ("cost-center", "--details")],
)
def test_chargeback_report_equals_raw(server, by, details):
    args = (
        "report",
        "chargeback",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-05",
        "--by",
        by,
        "--format",
        "json",
        "--output-file",
        "-",
        details,
    )
    recorded, raw = _both(server, *args)
    assert_same_figures(recorded, raw)


# ---- gpus and rightsize: per-GPU and per-workload statistics ------------------------------
STATS_WINDOWS = [
    ("--start", "2026-10-03", "--end", "2026-10-05"),  # wholly recorded (whole days)
    ("--start", "2026-10-01", "--end", "2026-10-04"),  # recorded from 10-02 12:00
    ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z"),  # partial edges
]
STATS_IDS = ["full", "mid-window", "unaligned"]


@pytest.mark.parametrize("window", STATS_WINDOWS, ids=STATS_IDS)
@pytest.mark.parametrize("command", ["gpus", "rightsize"])
def test_gpus_and_rightsize_equal_raw(server, command, window):
    """Every figure equals raw within 0.1% (cost to the cent); busy_p95 over recorded hours is
    the percentile of hourly maxima: never below raw's, and close to it."""
    recorded, raw = _both(server, command, *window)
    assert_same_figures_but_p95(recorded, raw)
    note = _recorded_note(recorded)
    assert ("raw series the rest" in note) == (window[1] != "2026-10-03"), note
    assert any("95th percentile of each hour" in n for n in recorded["notes"])
    assert not any(n.startswith("recorded series answered") for n in raw["notes"])
    assert len(raw["rows"]) > 5


@pytest.mark.parametrize("command", ["gpus", "pods"])
def test_gpus_and_rightsize_read_at_least_20x_fewer_samples(server, command):
    window = Window(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC), "")

    def ask(source: PrometheusCostSource) -> Any:
        return getattr(source, command)(window)

    raw, _ = samples_of(server, ask, recorded=False)
    rec, _ = samples_of(server, ask, recorded=True)
    print(f"samples read, {command} over 2 days: raw {raw:,}, recorded {rec:,}")
    assert raw >= 20 * rec, (raw, rec)


def test_gpus_raw_flag_and_other_rule_set(squad_server):
    """--raw reads raw series; rules made with another team label are refused for gpus too."""
    window = ("--start", "2026-10-04", "--end", "2026-10-05")
    recorded, raw = _both(squad_server, "gpus", *window)
    assert_same_figures(recorded, raw)
    assert not any(n.startswith("recorded series answered") for n in recorded["notes"])
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "team_label='example.com/squad'" in refused[0], recorded["notes"]


@pytest.mark.parametrize("command", [("costs", "--by", "team"), ("gpus",), ("rightsize",)])
def test_exported_pod_labels_are_recorded_and_equal_raw(exported_server, command):
    """Rules backfilled on clusters whose dcgm-exporter pod label is ``exported_pod`` (one of
    them without a host label) are made with it and with the IP placement (made without, they
    were refused) and answer as raw does."""
    window = ("--start", "2026-10-03", "--end", "2026-10-05")  # recorded from 10-04
    recorded, raw = _both(exported_server, *command, *window)
    (assert_same_figures if command[0] == "costs" else assert_same_figures_but_p95)(recorded, raw)
    assert "raw series the rest" in _recorded_note(recorded)
    assert not any("not used" in n for n in recorded["notes"]), recorded["notes"]
    busy = [row.get("busy_avg", row.get("efficiency")) for row in raw["rows"]]
    assert any(b for b in busy), busy  # dcgm-exporter's series joined, raw and recorded
    if command == ("gpus",):  # each GPU of each cluster on its own node, not folded by index
        gpus = sum(n.gpu_count for n in SampleCluster(7).nodes)
        placed = {(r["cluster"], r["node"], r["gpu"]) for r in recorded["rows"]}
        assert len(placed) == len(recorded["rows"]) == 2 * gpus, recorded["rows"]
        assert all(node for _, node, _ in placed), placed


@pytest.mark.parametrize(
    "args",
    [("costs", "--by", "cluster"), ("costs", "--by", "team", "--cluster", "a"), ("gpus",)],
)
def test_two_clusters_in_one_store_are_recorded_in_one_backfill(exported_server, args):
    """One backfill over a store holding two clusters records each apart: by cluster, and one
    cluster alone, the recorded figures are the raw ones, and each cluster's share is half
    (the same simulation in both)."""
    window = ("--start", "2026-10-04", "--end", "2026-10-05")  # wholly recorded
    recorded, raw = _both(exported_server, *args, *window)
    (assert_same_figures if args[0] == "costs" else assert_same_figures_but_p95)(recorded, raw)
    assert "raw series the rest" not in _recorded_note(recorded)
    if args == ("costs", "--by", "cluster"):
        costs = {r["cluster"]: r["gpu_cost"] for r in recorded["rows"]}
        assert set(costs) == {"a", "b"} and costs["a"] == pytest.approx(costs["b"], abs=0.01)


def test_live_rules_from_an_exported_pod_cluster_join_on_exported_pod(exported_server, tmp_path):
    """``finops deploy generate --sharing-from`` makes the live rules with the label too."""
    output, info, _ = generate_from(exported_server, tmp_path)
    assert info["labels"]["dcgm_pod_label"] == "exported_pod", info
    assert info["labels"]["dcgm_node"] == "pod_ip", info
    assert "dcgm-exporter's pods in exported_pod" in output, output
    assert "GPUs placed by the exporter pod's IP" in output, output


@pytest.mark.parametrize(
    "args",
    [("costs", "--by", "team"), ("costs", "--by", "team", "--cluster", "us-1"), ("rightsize",)],
)
def test_replicas_in_one_store_are_recorded_once(replicas_server, args):
    """The backfill collapses the pair as the CLI's raw reads do (each hour counted once, not
    twice), and a ``--cluster`` filter finds the rules' marker, which a backfill over one store
    writes without a cluster label."""
    window = ("--start", "2026-10-03", "--end", "2026-10-05")  # recorded from 10-04
    recorded = run_json(replicas_server, *args, *window, env=REPLICAS)
    raw = run_json(replicas_server, *args, *window, "--raw", env=REPLICAS)
    (assert_same_figures if args[0] == "costs" else assert_same_figures_but_p95)(recorded, raw)
    assert "raw series the rest" in _recorded_note(recorded)


@pytest.mark.parametrize("command", ["gpus", "rightsize"])
def test_gpus_and_rightsize_equal_raw_on_victoriametrics(vm, command):
    window = ("--start", "2026-10-01", "--end", "2026-10-04")  # recorded from 10-02 12:00
    recorded, raw = _both(vm, command, *window)
    assert_same_figures_but_p95(recorded, raw)
    _recorded_note(recorded)


@pytest.mark.parametrize("engine", ["prometheus", "victoriametrics"])
def test_a_history_before_the_data_is_looked_up_not_read(engine, request):
    """A report's baseline reaching back before the first sample: the index says nothing is
    there on both engines (VictoriaMetrics answers a label *names* lookup with ``__name__``
    even when no series match, which once made every such history read raw)."""
    from finops_cli.settings import PrometheusSettings
    from finops_cli.sources.prometheus_client import PrometheusClient
    from finops_cli.sources.prometheus_recorded import _empty_lead

    url = request.getfixturevalue("server" if engine == "prometheus" else "vm")
    client = PrometheusClient(PrometheusSettings(url=url))
    present = frozenset({"container_gpu_allocation", "node_gpu_count", "finops_rules_info"})
    before = datetime(2026, 9, 1, tzinfo=UTC)
    first_sample = int(DATA_FROM.timestamp())  # 09-30 20:00
    try:
        recorded_from = int(datetime(2026, 10, 2, 12, tzinfo=UTC).timestamp())
        assert _empty_lead(client, present, before, recorded_from) is None
        # The index answers per UTC day on VictoriaMetrics (per two-hour block on Prometheus):
        # a stretch ending the day before the first sample is empty on both.
        day_before = int(datetime(2026, 9, 30, tzinfo=UTC).timestamp())
        assert _empty_lead(client, present, before, day_before) == day_before - 3600
        if engine == "prometheus":
            until = _empty_lead(client, present, before, first_sample - 3600)
            assert until == first_sample - 7200
    finally:
        client.close()


def test_replay_rolls_up_only_whole_recorded_days(vm):
    """The replay's second run sums a UTC day only once its 24 hours are recorded: rules from
    10-02 12:00 leave 10-02 (ending 10-03 00:00) with 12 hours and no day; 10-03 and 10-04 are
    whole, and each equals its hours."""

    def at(query: str, when: datetime) -> float:  # read a minute after, as the CLI does
        answer = httpx.get(
            f"{vm}/api/v1/query",
            params={"query": query, "time": str(int(when.timestamp()) + 60), "nocache": "1"},
            timeout=60,
        ).json()["data"]["result"]
        return float(answer[0]["value"][1]) if answer else 0.0

    day = "ledger:finops_gpu_cost:sum_1d"
    hour = "ledger:finops_gpu_cost:sum_1h"
    assert at(f"count(count_over_time({day}[1h]))", datetime(2026, 10, 3, tzinfo=UTC)) == 0
    for end in (datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC)):
        days = at(f"sum(sum_over_time({day}[1h]))", end)
        hours = at(f"sum(sum_over_time({hour}[1d]))", end)
        assert days > 0 and days == pytest.approx(hours, rel=1e-9)


FRESH_DATA = (datetime(2026, 10, 3, 0, 5, tzinfo=UTC), datetime(2026, 10, 4, 6, tzinfo=UTC))
FRESH_RULES = ("2026-10-03T00:00:00Z", "2026-10-04T00:00:00Z")


@pytest.fixture(scope="module", params=["prometheus", "victoriametrics"])
def fresh(request, tmp_path_factory) -> Iterator[str]:
    """A cluster whose first sample is at 10-03 00:05, its rules backfilled from 00:00 (the
    first evaluation, at 00:00, sees no sample: no capacity is recorded for the hour before)."""
    work = Path(tmp_path_factory.mktemp(f"fresh-{request.param}"))
    if request.param == "prometheus":
        yield from recorded_server(work, FRESH_RULES[0], {}, FRESH_DATA, FRESH_RULES[1])
    else:
        yield from replayed_vm(work, FRESH_DATA, FRESH_RULES)


def test_the_hour_before_a_fresh_clusters_first_rollup_is_not_read_raw(fresh):
    """A window reaching back before a cluster's first sample, recorded from its first hour: the
    lead is looked up, and the hour before the first capacity rollup (which the rules evaluated
    and found empty) is answered by its rollups, not by a raw query scanning the index of the
    first sample's day for one instant; the figures are raw's."""
    window = ("--by", "team", "--start", "2026-10-01", "--end", "2026-10-04")
    recorded = run_finops(
        "costs", *window, "--prometheus-url", fresh, "-o", "json", "--debug", timeout=300
    )
    assert recorded.returncode == 0, recorded.stderr
    raw = run_json(fresh, "costs", *window, "--raw")
    document = json.loads(recorded.stdout)
    assert_same_figures(document, raw)
    assert raw["totals"]["gpu_cost"] > 100
    note = _recorded_note(document)
    assert "answered 25 of the window's 72 whole hours" in note, note
    assert "nothing read there" in note and "raw series the rest" not in note, note
    raw_reads = [
        line for line in recorded.stderr.splitlines() if "ms:300s]" in line and "GET" in line
    ]
    assert not raw_reads, raw_reads[:2]

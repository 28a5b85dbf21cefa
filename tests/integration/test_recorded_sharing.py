"""The recorded ledger on shared GPUs (issues 19 and 22) through a real Prometheus.

The sharing fleet (``sample.sharing``: MIG mixed and single, time-slicing with per-pod copies,
MPS, HAMi, KAI fractions, DRA claims), priced by OpenCost (recorded data is refused on
catalog-priced clusters), is backfilled with promtool; ``finops deploy backfill`` discovers the
sharing over its range and records the share-aware rollups from 2026-10-02 12:00 on. Figures
across the coverage edge must equal ``--raw`` within 0.1% (money to the cent) and the simulator's
truth within 0.5%. The same promtool run that moves the rollups in also writes two other
``finops_rules_info`` sets early on 10-01 (from the generated rule's labels): one made for whole
GPUs, one whose sharing lacks a MIG profile the window has; a window that sees only either is
refused with a note, every figure raw.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from finops_cli.deploy.generate import dump_yaml
from finops_cli.queries import recorded_sharing
from finops_cli.queries.names import RULES_INFO
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.sharing import SHARING_NODES, sharing_workloads
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from finops_cli.settings import load_settings
from finops_cli.sources.interface import SERIES_MEASURES, CostRequest
from finops_cli.sources.prometheus import PrometheusCostSource
from finops_cli.sources.prometheus_client import PrometheusClient
from finops_cli.sources.prometheus_discovery import discover_sharing, present_metrics
from finops_cli.timewindow import Window
from finops_cli.usecases.sources import pod_labels
from tests.support.cli import run_finops
from tests.support.live_rules import generate_from
from tests.support.promserver import backfill, require_prometheus, start_server, with_blocks
from tests.support.same_figures import assert_same_figures
from tests.support.tools import require_tool

STEP = 300
DATA_FROM = datetime(2026, 9, 30, 23, tzinfo=UTC)
DATA_TO = datetime(2026, 10, 4, 1, tzinfo=UTC)
RULES_FROM = "2026-10-02T12:00:00Z"
RULES_TO = "2026-10-04T00:00:00Z"
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-04")  # recorded from 10-02 12:00
WHOLE_GPUS = ("2026-10-01T00:00:00Z", "2026-10-01T05:00:00Z")  # info: sharing=""
LACKING = ("2026-10-01T08:00:00Z", "2026-10-01T12:00:00Z")  # info: a MIG profile left out


def _hour(text: str) -> int:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).hour


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[str, SampleCluster, str]]:
    """``(url, cluster, dropped profile)``: the fleet, its rollups and the two other info sets."""
    yield from recorded_fleet(Path(tmp_path_factory.mktemp("recorded-sharing")))


def recorded_fleet(work: Path) -> Iterator[tuple[str, SampleCluster, str]]:
    """The ``fleet`` fixture's server, built in ``work``."""
    require_prometheus()
    promtool = require_tool("promtool")
    cluster = SampleCluster(42, nodes=SHARING_NODES, cast=sharing_workloads(), with_opencost=True)
    om = work / "cluster.om"
    write_openmetrics_file(
        cluster.series(int(DATA_FROM.timestamp()), int(DATA_TO.timestamp()), STEP), om
    )
    backfill(om, work / "data", work / "promtool.log")
    om.unlink()
    prometheus = start_server(work)
    blocks, rules_file = work / "blocks", work / "ledger.rules.yaml"
    try:
        result = run_finops(
            "deploy", "backfill", "--prometheus-url", prometheus.url, "--start", RULES_FROM,
            "--end", RULES_TO, "--output-dir", blocks, "--rules-file", rules_file, timeout=1800,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "shared GPUs: MIG" in result.stdout, result.stdout
        dropped = _write_other_info_sets(prometheus.url, rules_file, blocks, work, promtool)
    except BaseException:
        prometheus.stop()
        raise
    prometheus = with_blocks(prometheus, blocks)
    try:
        yield prometheus.url, cluster, dropped
    finally:
        prometheus.stop()


def _write_other_info_sets(
    url: str, rules_file: Path, blocks: Path, work: Path, promtool: str
) -> str:
    """Blocks of ``finops_rules_info`` as rules made for whole GPUs (``WHOLE_GPUS``) and made
    with a sharing lacking one MIG profile of the ``LACKING`` window would record it; returns
    that profile."""
    doc = yaml.safe_load(rules_file.read_text())
    (info,) = [r for g in doc["groups"] for r in g["rules"] if r.get("record") == RULES_INFO]
    made_with = recorded_sharing.parse(info["labels"]["sharing"])
    assert made_with is not None and made_with.gpu_profiles, info["labels"]
    client = PrometheusClient(load_settings({"prometheus.url": url}).prometheus)
    try:
        start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in LACKING)
        found = discover_sharing(client, start, end, present_metrics(client, start, end))
    finally:
        client.close()
    assert found is not None and found.gpu_profiles
    dropped = found.gpu_profiles[0]
    lacking = recorded_sharing.parse(info["labels"]["sharing"])
    assert lacking is not None
    lacking = type(lacking)(
        **{
            **lacking.__dict__,
            "gpu_profiles": tuple(p for p in lacking.gpu_profiles if p != dropped),
        }
    )

    def rule(hours: tuple[str, str], sharing: str) -> dict[str, Any]:
        gate = f"hour() >= {_hour(hours[0]) - 1} and hour() <= {_hour(hours[1])}"
        labels = info["labels"] | {"sharing": sharing}
        return {"record": RULES_INFO, "expr": f"vector(1) and on () ({gate})", "labels": labels}

    others = {
        "groups": [
            {
                "name": "other-info-sets",
                "interval": "1h",
                "rules": [
                    rule(WHOLE_GPUS, ""),
                    rule(LACKING, recorded_sharing.canonical(lacking)),
                ],
            }
        ]
    }
    path = work / "other-info.rules.yaml"
    path.write_text(dump_yaml(others))
    command = [
        promtool, "tsdb", "create-blocks-from", "rules", f"--url={url}",
        f"--start={int(datetime(2026, 9, 30, 23, tzinfo=UTC).timestamp())}",
        f"--end={int(datetime(2026, 10, 1, 13, tzinfo=UTC).timestamp())}",
        f"--output-dir={blocks}", str(path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return dropped


def _run(url: str, *args: str) -> dict[str, Any]:
    output = () if "--format" in args else ("-o", "json")
    result = run_finops(*args, "--prometheus-url", url, *output, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _both(url: str, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return _run(url, *args), _run(url, *args, "--raw")


def _recorded_note(doc: dict[str, Any]) -> str:
    found = [n for n in doc["notes"] if n.startswith("recorded series answered")]
    assert found, doc["notes"]
    return found[0]


@pytest.mark.parametrize("by", ["team", "namespace", "model"])
def test_costs_equal_raw_and_the_truth(fleet, by):
    url, cluster, _ = fleet
    recorded, raw = _both(url, "costs", "--by", by, *WINDOW)
    assert_same_figures(recorded, raw)
    note = _recorded_note(recorded)
    # the backfill's first rollup, at 10-02 12:00, is the hour before it
    hours = "37 of the window's 72 whole hours (2026-10-02 11:00 to 2026-10-04 00:00 UTC)"
    assert hours in note and "raw series the rest" in note, note
    assert any("shared GPUs found" in n for n in recorded["notes"])
    assert not any("not used" in n for n in recorded["notes"]), recorded["notes"]
    if by == "team":
        truth = ground_truth(
            cluster, int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()),
            int(datetime(2026, 10, 4, tzinfo=UTC).timestamp()),
        )  # fmt: skip
        rows = {r["team"]: r for r in recorded["rows"]}
        for team, want in truth.by("team").iterrows():
            if not team or want["gpu_cost"] == 0:
                continue
            assert rows[team]["gpu_cost"] == pytest.approx(want["gpu_cost"], rel=0.005), team
        assert recorded["totals"]["cluster_gpu_cost"] == pytest.approx(
            truth.cluster_gpu_cost, rel=0.005
        )


def test_unit_costs_equal_raw(fleet):
    url, _, _ = fleet
    recorded, raw = _both(url, "costs", "--by", "model", "--unit-costs", *WINDOW)
    assert_same_figures(recorded, raw)
    _recorded_note(recorded)


def _day(day: int) -> datetime:
    return datetime(2026, 10, day, tzinfo=UTC)


def _series_notes(url: str, start: datetime, end: datetime, bucket_s: int) -> list[str]:
    """The source's notes for the per-bucket team series ``forecast`` and ``anomalies`` ask
    for (``usecases.history.series``; the commands print no source notes)."""
    settings = load_settings({"prometheus.url": url})
    source = PrometheusCostSource(
        settings.prometheus, pod_labels(settings), cluster_label=settings.labels.cluster
    )
    try:
        request = CostRequest(
            Window(start, end, "history"), ("team",), {}, bucket_s, SERIES_MEASURES
        )
        return source.costs(request).notes
    finally:
        source.close()


def test_forecast_equals_raw(fleet):
    url, _, _ = fleet
    args = ("forecast", "--as-of", "2026-10-03T15:00:00Z", "--history", "2d")
    recorded, raw = _both(url, *args)
    assert_same_figures(recorded, raw)
    days = _series_notes(url, _day(1), _day(3), 86400)  # the two days of history
    assert any(n.startswith("recorded series answered") for n in days), days


def test_anomalies_equal_raw(fleet):
    url, _, _ = fleet
    args = (
        "anomalies", "--as-of", "2026-10-04T00:00:00Z", "--since", "2026-10-03T00:00:00Z",
        "--baseline", "1d",
    )  # fmt: skip
    recorded, raw = _both(url, *args)
    assert_same_figures(recorded, raw)
    hours = _series_notes(url, _day(2), _day(4), 3600)  # the baseline day and the one since
    assert any(n.startswith("recorded series answered") for n in hours), hours


def test_chargeback_report_equals_raw(fleet):
    """By cost center: the team report's anomaly section scores a baseline of noise (see
    test_recorded_ledger's)."""
    url, _, _ = fleet
    report = ("report", "chargeback", *WINDOW, "--by", "cost-center", "--format", "json")
    recorded = _run(url, *report, "--output-file", "-")
    raw = _run(url, *report, "--output-file", "-", "--raw")
    assert_same_figures(recorded, raw)


def test_rules_made_for_whole_gpus_are_refused(fleet):
    url, _, _ = fleet
    window = ("--start", WHOLE_GPUS[0], "--end", WHOLE_GPUS[1], "--by", "team")
    recorded, raw = _both(url, "costs", *window)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "made without shared GPUs" in refused[0], recorded["notes"]
    assert not any(n.startswith("recorded series answered") for n in recorded["notes"])


def test_rules_lacking_a_mig_profile_are_refused(fleet):
    url, _, dropped = fleet
    window = ("--start", LACKING[0], "--end", LACKING[1], "--by", "team")
    recorded, raw = _both(url, "costs", *window)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and f"made without MIG profile {dropped}" in refused[0], recorded["notes"]
    assert "finops deploy backfill" in refused[0]


def test_gpus_read_raw_on_shared_gpus_and_say_why(fleet):
    url, _, _ = fleet
    doc = _run(url, "gpus", "--start", "2026-10-03", "--end", "2026-10-04")
    assert any("not used for gpus and rightsize on shared GPUs" in n for n in doc["notes"])


def test_generate_makes_the_live_rules_with_the_sharing_found(fleet, tmp_path):
    """``finops deploy generate --sharing-from``: the live ledger made with what discovery finds
    over the window (here all the data), covering what the backfill found in its range."""
    url, _, _ = fleet
    output, info, _ = generate_from(url, tmp_path)
    assert "recorded ledger made with shared GPUs: MIG" in output, output
    live = recorded_sharing.parse(info["labels"]["sharing"])
    client = PrometheusClient(load_settings({"prometheus.url": url}).prometheus)
    try:
        start, end = datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)
        found = discover_sharing(client, start, end, present_metrics(client, start, end))
    finally:
        client.close()
    assert live is not None and recorded_sharing.covers(live, found) is None

"""The recorded ledger on a cluster without OpenCost (priced from the catalog), through a real
Prometheus.

The sample cluster without OpenCost's series (GPUs from kube-state-metrics' requests, nodes
priced from the bundled catalog) is backfilled with promtool at five-minute scrapes; ``finops
deploy backfill`` finds no OpenCost, prices the range's nodes from the catalog as the CLI does,
and records the rollups from 2026-10-02 12:00 on with that price table written into the rules
(and into ``finops_rules_info{prices=...}``). Figures across the coverage edge must equal
``--raw`` within 0.1% (money to the cent), the samples read must drop at least 20x, and a run
whose catalog prices differ (a discount) is refused with a note naming the prices, every
figure raw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from finops_cli.queries import recorded_prices
from finops_cli.sample import SampleCluster
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sources.interface import CostRequest
from finops_cli.timewindow import Window
from tests.integration.test_recorded_ledger import replayed_vm, samples_read
from tests.support.cli import run_finops
from tests.support.ledger_series import LEDGER_METRICS
from tests.support.promserver import backfill, require_prometheus, start_server, with_blocks
from tests.support.same_figures import assert_same_figures, split_p95

pytestmark = pytest.mark.prometheus

STEP = 300
DATA_FROM = datetime(2026, 9, 30, 20, tzinfo=UTC)
DATA_TO = datetime(2026, 10, 5, 2, tzinfo=UTC)
KEEP = LEDGER_METRICS | {"kube_pod_container_resource_requests", "kube_node_status_allocatable"}
FULL = ("--start", "2026-10-03", "--end", "2026-10-05")
MID = ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z")


def _series() -> Iterator[Any]:
    cluster = SampleCluster(7, with_opencost=False)
    series = cluster.series(int(DATA_FROM.timestamp()), int(DATA_TO.timestamp()), STEP)
    return (s for s in series if s.name in KEEP)


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The Prometheus URL and ``finops deploy backfill``'s output."""
    require_prometheus()
    work = Path(tmp_path_factory.mktemp("catalog"))
    om = work / "cluster.om"
    write_openmetrics_file(_series(), om)
    backfill(om, work / "data", work / "promtool.log")
    om.unlink()
    prometheus = start_server(work)
    blocks = work / "blocks"
    result = run_finops(
        *("deploy", "backfill", "--prometheus-url", prometheus.url),
        *("--start", "2026-10-02T12:00:00Z", "--end", "2026-10-05T00:00:00Z"),
        *("--output-dir", blocks, "--rules-file", work / "ledger.rules.yaml"),
        timeout=900,
    )
    if result.returncode != 0:
        prometheus.stop()
        pytest.fail(result.stderr)
    prometheus = with_blocks(prometheus, blocks)
    try:
        yield prometheus.url, result.stdout
    finally:
        prometheus.stop()


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    output = () if "--format" in args else ("-o", "json")
    result = run_finops(*args, "--prometheus-url", url, *output, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _both(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[Any, Any]:
    return _run(url, *args, env=env), _run(url, *args, "--raw", env=env)


def _recorded(doc: dict[str, Any]) -> bool:
    return any(n.startswith("recorded series answered") for n in doc["notes"])


def test_backfill_prices_the_rules_from_the_catalog(catalog_server):
    """The backfill says where its prices came from, and its ``finops_rules_info`` carries the
    table (one entry per node label set, each priced)."""
    url, output = catalog_server
    assert "catalog prices for" in output, output
    query = "group by (allocation, prices) (last_over_time(finops_rules_info[1d]))"
    answer = httpx.get(
        f"{url}/api/v1/query", params={"query": query, "time": "2026-10-04T12:00:00Z"}
    ).json()["data"]["result"]
    assert len(answer) == 1, answer
    labels = answer[0]["metric"]
    assert labels["allocation"] == "catalog"
    table = recorded_prices.parse(labels["prices"])
    assert table and all(price > 0 for price in table.values()), table


@pytest.mark.parametrize("window", [FULL, MID], ids=["full", "mid-window"])
@pytest.mark.parametrize(
    "args",
    [("--by", "team"), ("--by", "team", "--by", "project"), ("--by", "gpu-model")],
    ids=["team", "team-project", "gpu-model"],
)
def test_costs_equal_raw(catalog_server, window, args):
    url, _ = catalog_server
    recorded, raw = _both(url, "costs", *args, *window)
    assert_same_figures(recorded, raw)
    assert _recorded(recorded), recorded["notes"]
    assert not _recorded(raw)
    assert any("pricing catalog" in n for n in recorded["notes"]), recorded["notes"]
    assert raw["totals"]["gpu_cost"] > 1000


def test_forecast_and_report_equal_raw(catalog_server):
    url, _ = catalog_server
    recorded, raw = _both(url, "forecast", "--as-of", "2026-10-04T15:00:00Z", "--history", "3d")
    assert_same_figures(recorded, raw)
    report = ("report", "chargeback", "--format", "json", "--output-file", "-", *MID)
    recorded, raw = _both(url, *report)
    assert_same_figures(recorded, raw)
    assert _recorded(recorded), recorded["notes"]


@pytest.mark.parametrize("command", ["gpus", "rightsize"])
def test_gpus_and_rightsize_equal_raw(catalog_server, command):
    """Their per-GPU and per-workload prices are recorded with the same table (busy_p95 aside:
    the documented upper bound)."""
    url, _ = catalog_server
    recorded, raw = _both(url, command, *FULL)
    pairs: list[tuple[float, float]] = []
    assert_same_figures(split_p95(recorded, pairs, raw), split_p95(raw, []))
    assert pairs
    for rec, exact in pairs:
        assert exact - 1e-9 <= rec <= exact + 0.1, (rec, exact)
    assert _recorded(recorded), recorded["notes"]


def test_recorded_reads_at_least_20x_fewer_samples(catalog_server):
    url, _ = catalog_server
    window = Window(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC), "")
    request = CostRequest(window, ("team",), {}, daily_totals=True)
    raw, raw_data = samples_read(url, request, recorded=False)
    rec, rec_data = samples_read(url, request, recorded=True)
    assert raw >= 20 * rec, (raw, rec)
    cost = raw_data.allocations.groupby("team")["gpu_cost"].sum()
    again = rec_data.allocations.groupby("team")["gpu_cost"].sum()
    assert (cost - again).abs().max() < 0.005
    print(f"samples read, catalog-priced costs --by team over 2 days: raw {raw:,}, rec {rec:,}")


def test_rules_made_with_other_catalog_prices_are_refused(catalog_server):
    """A run that prices on-demand nodes 10% lower than the rules were made with: the rules
    would not give its figures, so they are refused with a note naming a price, and every
    figure is raw (with the run's own discount)."""
    url, _ = catalog_server
    env = {"FINOPS_PRICING_DISCOUNT_PERCENT": "10"}
    recorded, raw = _both(url, "costs", "--by", "team", *FULL, env=env)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "other catalog prices" in refused[0], recorded["notes"]
    assert not _recorded(recorded)
    undiscounted = _run(url, "costs", "--by", "team", *FULL)
    assert raw["totals"]["gpu_cost"] < undiscounted["totals"]["gpu_cost"]


def test_generate_makes_the_live_rules_with_the_catalog_prices_found(catalog_server, tmp_path):
    """``finops deploy generate --sharing-from`` on a cluster without OpenCost: the live ledger
    reads kube-state-metrics' requests and prices nodes from the table the CLI finds, which
    covers what a run inside the window needs."""
    import shutil

    import yaml

    from finops_cli.deploy.paths import checkout_manifests_dir
    from finops_cli.deploy.rules import RULES_FILE
    from finops_cli.queries.names import RULES_INFO

    url, _ = catalog_server
    root = tmp_path / "manifests"
    shutil.copytree(checkout_manifests_dir() / "base", root / "base")
    result = run_finops(
        "deploy", "generate", "--manifests-dir", root, "--scrape-interval", "300",
        "--sharing-from", url, "--sharing-window", "120d",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "catalog prices for" in result.stdout, result.stdout
    doc = yaml.safe_load((root / "base/prometheus/rules" / RULES_FILE).read_text())
    (info,) = [r for g in doc["groups"] for r in g["rules"] if r.get("record") == RULES_INFO]
    assert info["labels"]["allocation"] == "catalog"
    live = recorded_prices.parse(info["labels"]["prices"])
    query = "group by (prices) (last_over_time(finops_rules_info[1d]))"
    answer = httpx.get(
        f"{url}/api/v1/query", params={"query": query, "time": "2026-10-04T12:00:00Z"}
    ).json()["data"]["result"]
    assert live == recorded_prices.parse(answer[0]["metric"]["prices"])
    rules = [r for g in doc["groups"] if g["name"] == "finops-ledger" for r in g["rules"]]
    assert any("kube_pod_container_resource_requests" in r["expr"] for r in rules)


@pytest.fixture(scope="module")
def catalog_vm(tmp_path_factory) -> Iterator[str]:
    """The same cluster in VictoriaMetrics, the catalog-priced ledger replayed by vmalert."""
    work = Path(tmp_path_factory.mktemp("catalog-vm"))
    rules = ("2026-10-02T12:00:00Z", "2026-10-05T00:00:00Z")
    yield from replayed_vm(work, (DATA_FROM, DATA_TO), rules, _series())


@pytest.mark.parametrize("window", [FULL, MID], ids=["full", "mid-window"])
def test_vmalert_replay_equals_raw_on_victoriametrics(catalog_vm, window):
    recorded, raw = _both(catalog_vm, "costs", "--by", "team", "--by", "project", *window)
    assert_same_figures(recorded, raw)
    assert _recorded(recorded), recorded["notes"]
    assert raw["totals"]["gpu_cost"] > 1000

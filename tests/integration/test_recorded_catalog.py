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

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from finops_cli.queries import recorded_prices
from finops_cli.sample import SampleCluster
from tests.integration.test_recorded_ledger import (
    costs_by_team_samples,
    recorded_server,
    replayed_vm,
    run_json,
)
from tests.support.ledger_series import LEDGER_METRICS
from tests.support.live_rules import generate_from
from tests.support.same_figures import assert_same_figures, assert_same_figures_but_p95

pytestmark = pytest.mark.prometheus

STEP = 300
DATA_FROM = datetime(2026, 9, 30, 20, tzinfo=UTC)
DATA_TO = datetime(2026, 10, 5, 2, tzinfo=UTC)
KEEP = LEDGER_METRICS | {"kube_pod_container_resource_requests", "kube_node_status_allocatable"}
FULL = ("--start", "2026-10-03", "--end", "2026-10-05")
MID = ("--start", "2026-10-01T05:30:00Z", "--end", "2026-10-04T18:45:00Z")
RULES = ("2026-10-02T12:00:00Z", "2026-10-05T00:00:00Z")


def _series() -> Iterator[Any]:
    cluster = SampleCluster(7, with_opencost=False)
    series = cluster.series(int(DATA_FROM.timestamp()), int(DATA_TO.timestamp()), STEP)
    return (s for s in series if s.name in KEEP)


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory) -> Iterator[str]:
    work = Path(tmp_path_factory.mktemp("catalog"))
    yield from recorded_server(work, RULES[0], {}, rules_to=RULES[1], series=_series())


def _both(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[Any, Any]:
    return run_json(url, *args, env=env), run_json(url, *args, "--raw", env=env)


def _recorded(doc: dict[str, Any]) -> bool:
    return any(n.startswith("recorded series answered") for n in doc["notes"])


def test_backfill_prices_the_rules_from_the_catalog(catalog_server):
    """The backfill's ``finops_rules_info`` says the rules were priced from the catalog and
    carries the table (one entry per node label set, each priced)."""
    url = catalog_server
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
    url = catalog_server
    recorded, raw = _both(url, "costs", *args, *window)
    assert_same_figures(recorded, raw)
    assert _recorded(recorded), recorded["notes"]
    assert not _recorded(raw)
    assert any("pricing catalog" in n for n in recorded["notes"]), recorded["notes"]
    assert raw["totals"]["gpu_cost"] > 1000


def test_forecast_and_report_equal_raw(catalog_server):
    url = catalog_server
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
    url = catalog_server
    recorded, raw = _both(url, command, *FULL)
    assert_same_figures_but_p95(recorded, raw)
    assert _recorded(recorded), recorded["notes"]


def test_recorded_reads_at_least_20x_fewer_samples(catalog_server):
    url = catalog_server
    raw, rec = costs_by_team_samples(url)
    assert raw >= 20 * rec, (raw, rec)


def test_rules_made_with_other_catalog_prices_are_refused(catalog_server):
    """A run that prices on-demand nodes 10% lower than the rules were made with: the rules
    would not give its figures, so they are refused with a note naming a price, and every
    figure is raw (with the run's own discount)."""
    url = catalog_server
    env = {"FINOPS_PRICING_DISCOUNT_PERCENT": "10"}
    recorded, raw = _both(url, "costs", "--by", "team", *FULL, env=env)
    assert_same_figures(recorded, raw)
    refused = [n for n in recorded["notes"] if "not used" in n]
    assert refused and "other catalog prices" in refused[0], recorded["notes"]
    assert not _recorded(recorded)
    undiscounted = run_json(url, "costs", "--by", "team", *FULL)
    assert raw["totals"]["gpu_cost"] < undiscounted["totals"]["gpu_cost"]


def test_generate_makes_the_live_rules_with_the_catalog_prices_found(catalog_server, tmp_path):
    """``finops deploy generate --sharing-from`` on a cluster without OpenCost: the live ledger
    reads kube-state-metrics' requests and prices nodes from the table the CLI finds, which
    covers what a run inside the window needs."""
    url = catalog_server
    output, info, rules = generate_from(url, tmp_path)
    assert "catalog prices for" in output, output
    assert info["labels"]["allocation"] == "catalog"
    live = recorded_prices.parse(info["labels"]["prices"])
    query = "group by (prices) (last_over_time(finops_rules_info[1d]))"
    answer = httpx.get(
        f"{url}/api/v1/query", params={"query": query, "time": "2026-10-04T12:00:00Z"}
    ).json()["data"]["result"]
    assert live == recorded_prices.parse(answer[0]["metric"]["prices"])
    ledger = [r for r in rules if r.get("record", "").startswith("ledger:")]
    assert any("kube_pod_container_resource_requests" in r["expr"] for r in ledger)


@pytest.fixture(scope="module")
def catalog_vm(tmp_path_factory) -> Iterator[str]:
    """The same cluster in VictoriaMetrics, the catalog-priced ledger replayed by vmalert."""
    work = Path(tmp_path_factory.mktemp("catalog-vm"))
    yield from replayed_vm(work, (DATA_FROM, DATA_TO), RULES, _series())


@pytest.mark.parametrize("window", [FULL, MID], ids=["full", "mid-window"])
def test_vmalert_replay_equals_raw_on_victoriametrics(catalog_vm, window):
    recorded, raw = _both(catalog_vm, "costs", "--by", "team", "--by", "project", *window)
    assert_same_figures(recorded, raw)
    assert _recorded(recorded), recorded["notes"]
    assert raw["totals"]["gpu_cost"] > 1000

"""Every Grafana panel's query, run against a real Prometheus holding the sample cluster.

The sample cluster is backfilled at the deployed scrape interval; then the generated recording
rules are backfilled too (``promtool tsdb create-blocks-from rules``), one dependency level at a
time, so the panels read exactly the series a deployed Prometheus records. Each panel query must
answer without error and with data; so must the team and model variables.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from finops_cli.deploy import rules
from finops_cli.deploy.dashboards import dashboards
from finops_cli.deploy.generate import dump_yaml
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster
from tests.support.promserver import PromServer, backfill, require_prometheus, start_server
from tests.support.tools import require_tool

pytestmark = pytest.mark.prometheus

END = int(datetime(2026, 10, 3, 12, tzinfo=UTC).timestamp())
DATA_START = END - 8 * 3600
RULES_START = DATA_START + 3600  # the 1h counter windows are full from here
RANGE = "6h"
VARIABLES = {"cluster": ".*", "team": ".*", "model": ".*", "__range": RANGE}
BUDGETS = {"research": 150000.0, "nlp": 20000.0, "ml-platform": 5000.0, "vision": 30000.0}


def _levels() -> list[dict]:
    """Rule groups in dependency order; budgets join the first level."""
    groups = [g.to_dict() for g in rules.recording_groups()]
    groups[0] = {
        **groups[0],
        "rules": groups[0]["rules"] + rules.budgets_document(BUDGETS)["groups"][0]["rules"],
    }
    return [{"groups": [g]} for g in groups]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    require_prometheus()
    promtool = require_tool("promtool")
    work = tmp_path_factory.mktemp("dashboards")
    data = work / "server"
    data.mkdir()
    om = work / "cluster.om"
    write_openmetrics_file(SampleCluster(42).series(DATA_START, END, rules.SCRAPE_INTERVAL_S), om)
    backfill(om, data / "data")
    om.unlink()  # the blocks hold it; the text is ten times their size
    server: PromServer = start_server(data)
    try:
        for i, level in enumerate(_levels()):
            rule_file = work / f"level-{i}.yaml"
            rule_file.write_text(dump_yaml(level))
            out = work / f"blocks-{i}"
            result = subprocess.run(
                [
                    promtool,
                    "tsdb",
                    "create-blocks-from",
                    "rules",
                    f"--start={RULES_START}",
                    f"--end={END}",
                    f"--url={server.url}",
                    f"--output-dir={out}",
                    str(rule_file),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            server.stop()
            for block in out.iterdir():
                shutil.move(str(block), data / "data" / block.name)
            server = start_server(data)
        yield server.url
    finally:
        server.stop()


def _substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(f"${name}", value).replace(f"${{{name}}}", value)
    left = re.findall(r"\$\{?[A-Za-z_]\w*", expr)
    assert not left, f"unknown dashboard variables {left} in {expr}"
    return expr


def _panels() -> list[tuple[str, str, str, bool]]:
    out = []
    for file, board in sorted(dashboards().items()):
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append(
                    (
                        f"{file}: {panel['title']}",
                        target["refId"],
                        target["expr"],
                        target["instant"],
                    )
                )
    return out


PANELS = _panels()


def _has_data(result: dict) -> bool:
    for series in result["data"]["result"]:
        points = series.get("values") or [series.get("value")]
        if any(p and math.isfinite(float(p[1])) for p in points):
            return True
    return False


@pytest.mark.parametrize(
    ("title", "ref", "expr", "instant"), PANELS, ids=[f"{t} [{r}]" for t, r, _, _ in PANELS]
)
def test_panel_query_returns_data(prometheus, title, ref, expr, instant):
    query = _substitute(expr)
    if instant:
        params = {"query": query, "time": str(END)}
        url = f"{prometheus}/api/v1/query"
    else:
        params = {"query": query, "start": str(END - 6 * 3600), "end": str(END), "step": "300"}
        url = f"{prometheus}/api/v1/query_range"
    response = httpx.post(url, data=params, timeout=60)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    assert _has_data(body), f"{title} [{ref}] returned no data: {query}"


def test_variables_list_values(prometheus):
    for board in dashboards().values():
        for var in board["templating"]["list"]:
            if var["name"] == "cluster":
                continue  # one Prometheus has no cluster label; Thanos adds it
            metric, label = re.match(r"label_values\((.+), (\w+)\)", var["query"]["query"]).groups()
            response = httpx.get(
                f"{prometheus}/api/v1/label/{label}/values",
                params={"match[]": metric, "start": str(END - 3600), "end": str(END)},
                timeout=30,
            )
            values = response.json()["data"]
            assert values, f"{board['uid']}: variable {var['name']} lists nothing"
            if var["name"] == "team":
                assert {"research", "nlp", "ml-platform", "vision", rules.UNALLOCATED} <= set(
                    values
                )


def test_dashboards_are_valid_grafana_models():
    for file, board in dashboards().items():
        assert board["uid"].startswith("finops-") and board["title"]
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), file
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "finops-prometheus"
            assert panel["targets"], panel["title"]
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        json.dumps(board)


def test_recorded_team_cost_matches_what_finops_costs_says(prometheus):
    """The dashboards' team cost and the CLI's agree: both come from the query library."""
    at = END - 1800
    response = httpx.get(
        f"{prometheus}/api/v1/query", params={"query": rules.TEAM_COST, "time": str(at)}, timeout=30
    )
    recorded = {
        r["metric"]["team"]: float(r["value"][1]) for r in response.json()["data"]["result"]
    }
    from finops_cli.queries import QueryContext

    ctx = QueryContext(dict(rules.DEFAULT_POD_LABELS), rules.SCRAPE_INTERVAL_S, cluster_label=None)
    live = httpx.get(
        f"{prometheus}/api/v1/query",
        params={"query": ctx.gpu_cost_rate(["team"], {}), "time": str(at)},
        timeout=30,
    ).json()["data"]["result"]
    direct = {
        r["metric"].get("label_ai_finops_io_team", rules.UNALLOCATED): float(r["value"][1])
        for r in live
    }
    assert recorded.keys() == direct.keys()
    for team, value in direct.items():
        assert recorded[team] == pytest.approx(value), team

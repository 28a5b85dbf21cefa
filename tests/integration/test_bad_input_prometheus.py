"""PromQL injection through a real Prometheus: hostile filter values reach it as literals only.

``finops costs`` runs in-process against the fault suite's sample cluster, behind the fault
proxy used as a recorder (no faults). For every generated value, the queries Prometheus received
are exactly those of a run with a harmless placeholder, with the placeholder's literal replaced
by ``quote(value)``, and the command ends in exit 0 with no row for a team that does not exist.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from finops_cli.promql import quote
from finops_cli.sample.scenario import workloads
from tests.faults.common import WINDOW, backend
from tests.support.faultproxy import FaultProxy
from tests.support.inprocess import run_inprocess
from tests.support.promserver import PromServerPool

pytestmark = pytest.mark.prometheus

PLACEHOLDER = "zz-placeholder-zz"
# Names the sample cluster has: hypothesis also draws strings from the code's own constants, so
# a real namespace (vision-serving) can come up, and it rightly selects rows.
TEAMS = {"research", "nlp", "ml-platform", "vision", ""} | {w.namespace for w in workloads()}
VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                 max_size=30)  # fmt: skip


@pytest.fixture(scope="module")
def recorder(
    prometheus_from_openmetrics: PromServerPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultProxy]:
    url = backend(prometheus_from_openmetrics, tmp_path_factory.mktemp("inject"), "full")
    with FaultProxy(url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="finops-inject-") as tmp:
        yield Path(tmp)


def _run(proxy: FaultProxy, home: Path, flag: str, value: str) -> tuple[int, str, list[str]]:
    proxy.clear()
    run = run_inprocess("costs", "--prometheus-url", proxy.url, *WINDOW, "-o", "json", "-q",
                        "--by", "team", flag, value, home=home)  # fmt: skip
    assert run.crash is None and "Traceback" not in run.stderr, run
    sent = sorted(f"{s.path} {s.param('query')} {s.param('start')}" for s in proxy.log)
    return run.code, run.stdout, sent


_templates: dict[str, list[str]] = {}


@pytest.mark.parametrize("flag", ["--team", "--namespace", "--cluster"])
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=VALUES)
@example(value='x"} or vector(1) or {a="')
@example(value='\\"} or up{a="\\')
@example(value="team\nname")
@example(value="")
@example(value="vision")  # a real team: it matches spend, so no look-up queries
def test_hostile_values_stay_literals_in_prometheus(
    recorder: FaultProxy, home: Path, flag: str, value: str
) -> None:
    if flag not in _templates:
        code, _, sent = _run(recorder, home, flag, PLACEHOLDER)
        assert code == 0 and any(quote(PLACEHOLDER) in q for q in sent)
        _templates[flag] = sent
    code, stdout, sent = _run(recorder, home, flag, value)
    assert code == 0, stdout
    expected = sorted(q.replace(quote(PLACEHOLDER), quote(value)) for q in _templates[flag])
    if value in TEAMS:
        # A real name (or "", the pods without the label) matches spend: no look-up of the known
        # values (the queries a filter that matches nothing adds), every filtered query still sent.
        filtered = [q for q in _templates[flag] if quote(PLACEHOLDER) in q]
        assert set(sent) <= set(expected)
        assert {q.replace(quote(PLACEHOLDER), quote(value)) for q in filtered} <= set(sent)
    else:
        assert sent == expected
    rows = json.loads(stdout)["rows"]
    if value not in TEAMS:  # no team, namespace or cluster has this name
        assert [r for r in rows if r["kind"] == "allocated"] == []

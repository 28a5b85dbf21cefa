"""``finops costs --source opencost`` through the fault proxy in front of the OpenCost stand-in.

The stand-in (the wire-level fake of the OpenCost source's unit tests) answers every request with
a recorded ``/allocation/compute`` response: nlp $1,152, __unallocated__ $576, __idle__ $1,872,
16 GPUs x 72 h x $4 = $4,608 in all. No Prometheus is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.common import document, finops, one_line_error, rows_by
from tests.support.faultproxy import (
    FaultProxy,
    Seen,
    close_early,
    delay,
    free_port,
    html_page,
    reset,
    rewrite,
    status,
    truncate,
)
from tests.unit.test_opencost_source import FakeOpenCost

BUSY = {"code": 500, "status": "error", "message": "allocation query timed out"}


@pytest.fixture
def oc_proxy() -> Iterator[FaultProxy]:
    fake = FakeOpenCost()
    fake.thread.start()
    try:
        with FaultProxy(fake.url) as proxy:
            yield proxy
    finally:
        fake.release.set()
        fake.server.shutdown()
        fake.server.server_close()


def oc_costs(url: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    return finops("costs", "--source", "opencost", "--opencost-url", url, "--window", "3d",
                  "-o", "json", *extra, env=env)  # fmt: skip


def assert_fixture_figures(doc: dict[str, Any]) -> None:
    rows = rows_by(doc)
    assert doc["source"] == "opencost"
    assert rows["nlp"]["gpu_cost"] == pytest.approx(1152)
    assert rows["__unallocated__"]["gpu_cost"] == pytest.approx(576)
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(1872)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(4608)


def test_transient_failures_then_the_right_figures(oc_proxy: FaultProxy) -> None:
    faults = [status(500, BUSY), close_early()]
    oc_proxy.add(faults, times=len(faults))
    result = oc_costs(oc_proxy.url, env={"FINOPS_PROMETHEUS_RETRIES": "2"})
    assert_fixture_figures(document(result))
    assert oc_proxy.faults_applied() == [f.name for f in faults] and len(oc_proxy.log) == 3
    assert "error" not in result.stderr  # retries that succeed are silent


def test_429_retry_after_is_honoured(oc_proxy: FaultProxy) -> None:
    oc_proxy.add(status(429, "slow down", headers={"Retry-After": "1"}))
    assert_fixture_figures(document(oc_costs(oc_proxy.url)))
    first, second = oc_proxy.log
    assert second.at - first.at >= 0.95


@pytest.mark.parametrize(
    ("fault", "needles"),
    [
        (status(500, BUSY), ["OpenCost at", "HTTP 500", "allocation query timed out"]),
        (html_page(502), ["HTTP 502", "not OpenCost JSON"]),
        (reset(), ["OpenCost", "after 2 attempts"]),
    ],
    ids=["500", "502-html", "reset"],
)
def test_opencost_that_keeps_failing(oc_proxy: FaultProxy, fault: Any, needles: list[str]) -> None:
    oc_proxy.add(fault, times=None)
    result = oc_costs(oc_proxy.url)
    one_line_error(result, 1, *needles)
    assert len(oc_proxy.log) == 2


def test_slow_opencost_past_the_timeout(oc_proxy: FaultProxy) -> None:
    oc_proxy.add(delay(2.5), times=None)
    result = oc_costs(oc_proxy.url, "--timeout", "1s", env={"FINOPS_PROMETHEUS_RETRIES": "0"})
    one_line_error(result, 1, "OpenCost", "1 s")


def test_opencost_refusing_connections() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(oc_costs(url, env={"FINOPS_PROMETHEUS_RETRIES": "0"}), 1, "OpenCost", "refused")


@pytest.mark.parametrize("fault", [truncate(0.5), html_page(200)], ids=["truncated", "html-200"])
def test_not_opencost_json(oc_proxy: FaultProxy, fault: Any) -> None:
    oc_proxy.add(fault, times=None)
    one_line_error(oc_costs(oc_proxy.url), 1, "OpenCost at", "HTTP 200", "not OpenCost JSON")


def test_status_error_body_with_http_200(oc_proxy: FaultProxy) -> None:
    oc_proxy.add(status(200, {"code": 500, "status": "error", "message": "prometheus down"}))
    one_line_error(oc_costs(oc_proxy.url), 1, "returned an error", "prometheus down")


def test_null_figures_are_flagged_not_silently_zero(oc_proxy: FaultProxy) -> None:
    def nulls(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
        body["data"][0]["nlp"]["gpuCost"] = None
        body["data"][0]["nlp"]["cpuCost"] = None
        return body

    oc_proxy.add(rewrite("nulls", nulls))
    result = oc_costs(oc_proxy.url)
    doc = document(result)
    # The recorded answer already lacks one figure (recsys cpuCost); two more are now null.
    [note] = [n for n in doc["notes"] if n.startswith("PARTIAL DATA")]
    assert "3 figure(s) empty" in note and "nlp gpuCost" in note
    assert f"finops: warning: {note}" in result.stderr
    assert rows_by(doc)["nlp"]["gpu_cost"] == 0  # counted as 0, and said so


def test_a_warning_from_opencost_is_flagged(oc_proxy: FaultProxy) -> None:
    def warn(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
        return body | {"warning": "some clusters did not answer"}

    oc_proxy.add(rewrite("warning", warn))
    result = oc_costs(oc_proxy.url)
    doc = document(result)
    assert_fixture_figures(doc)
    [note] = [n for n in doc["notes"] if n.startswith("PARTIAL DATA: OpenCost answered")]
    assert "some clusters did not answer" in note
    assert f"finops: warning: {note}" in result.stderr


def test_no_allocations_say_so(oc_proxy: FaultProxy) -> None:
    oc_proxy.add(rewrite("empty", lambda _, body: body | {"data": []}))
    doc = document(oc_costs(oc_proxy.url))
    assert doc["totals"]["cluster_gpu_cost"] == 0
    assert any("OpenCost returned no allocations" in n for n in doc["notes"])

"""``finops costs`` and ``gpus`` through a fault-injecting proxy in front of a real Prometheus.

Every case ends in one of two ways: the correct figures (compared with the simulator's ground
truth, after retries where the fault was transient), or one ``finops: error:`` line with the
documented exit code (1: the backend failed). Partial answers (server warnings, NaN/Inf values)
keep exit 0 but are flagged ``PARTIAL DATA`` in the JSON notes and on stderr.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.faults.common import (
    WINDOW,
    assert_matches_truth,
    costs,
    document,
    finops,
    one_line_error,
    partial_notes,
    rows_by,
    truth,
)
from tests.support.faultproxy import (
    FaultProxy,
    Seen,
    close_early,
    delay,
    free_port,
    html_page,
    path_is,
    reset,
    rewrite,
    status,
    truncate,
)

pytestmark = pytest.mark.prometheus

RANGE = path_is("/api/v1/query_range")
INSTANT = path_is("/api/v1/query")
RANGE_AND_INSTANT = ("/api/v1/query_range", "/api/v1/query")
TWO_RETRIES = {"FINOPS_PROMETHEUS_RETRIES": "2"}
TEAM = "label_ai_finops_io_team"


def by_team_gpu_cost(seen: Seen) -> bool:
    query = seen.param("query")
    return TEAM in query and "node_gpu_hourly_cost" in query and seen.path.endswith("query_range")


def by_team_gpu_hours(seen: Seen) -> bool:
    query = seen.param("query")
    return (
        TEAM in query
        and seen.path.endswith("query_range")
        and "container_gpu_allocation" in query
        and "hourly_cost" not in query
    )


# ---- transient faults: retried, then the correct figures ---------------------------------------


def test_every_query_failing_once_still_gives_the_true_figures(proxy: FaultProxy) -> None:
    """The first attempt of every distinct request meets a different transient fault."""
    transient = [
        status(500, "internal error"),
        html_page(502),
        status(503, {"status": "error", "errorType": "unavailable", "error": "overloaded"}),
        reset(),
        close_early(),
    ]
    proxy.add(transient, once_per_request=True)
    result = costs(proxy.url, "--by", "team")
    doc = document(result)
    assert_matches_truth(doc)
    assert partial_notes(doc) == []
    assert result.stderr == ""  # retries are silent when they succeed
    attempts = Counter(seen.key for seen in proxy.log)
    assert len(attempts) >= 10 and set(attempts.values()) == {2}  # each request: fault, success
    assert set(proxy.faults_applied()) == {f.name for f in transient}


def test_gpus_after_transient_faults_equal_a_clean_run(prom: str, proxy: FaultProxy) -> None:
    clean = document(finops("gpus", *WINDOW, "--prometheus-url", prom, "-o", "json"))
    proxy.add([status(503), reset(), status(500)], once_per_request=True)
    faulty = document(finops("gpus", *WINDOW, "--prometheus-url", proxy.url, "-o", "json"))
    assert faulty["rows"] == clean["rows"] and len(clean["rows"]) > 10
    assert len(proxy.faults_applied()) >= 10


def test_429_retry_after_is_honoured(proxy: FaultProxy) -> None:
    proxy.add(status(429, "slow down", headers={"Retry-After": "1"}), times=2)
    result = costs(proxy.url, env=TWO_RETRIES)
    assert_matches_truth(document(result))
    first, second = proxy.log[0], proxy.log[1]
    assert first.fault.startswith("HTTP 429") and second.key == first.key
    third = next(s for s in proxy.log[2:] if s.key == first.key)
    # Our own first backoffs are 0.25-0.5 s and 0.5-1 s; Retry-After asked for a whole second.
    assert second.at - first.at >= 0.95
    assert third.at - second.at >= 0.95


def test_slow_answers_within_the_timeout_are_waited_for(proxy: FaultProxy) -> None:
    proxy.add(delay(0.3), times=None)
    assert_matches_truth(document(costs(proxy.url, "--timeout", "10s")))


# ---- persistent faults: one line, exit 1 -------------------------------------------------------


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(costs(url), 1, f"cannot reach Prometheus at {url}", "connection refused")


def test_connection_reset_every_time(proxy: FaultProxy) -> None:
    proxy.add(reset(), times=None)
    result = costs(proxy.url, env=TWO_RETRIES)
    one_line_error(result, 1, "cannot reach Prometheus", "after 3 attempts")
    assert len(proxy.log) == 3


@pytest.mark.parametrize("which", ["every request", "range queries only"])
def test_slow_past_the_timeout(proxy: FaultProxy, which: str) -> None:
    proxy.add(delay(2.5), times=None, match=RANGE if which != "every request" else None)
    result = costs(proxy.url, "--timeout", "1s")
    one_line_error(result, 1, "did not answer within 1 s after 2 attempts", "raise --timeout")


@pytest.mark.parametrize(
    ("fault", "needles"),
    [
        (status(500, "upstream connect error"), ["HTTP 500", "after 2 attempt(s)"]),
        (html_page(502), ["HTTP 502", "not Prometheus JSON", "502 Bad Gateway"]),
        (status(503, "no healthy upstream"), ["HTTP 503", "no healthy upstream"]),
        (status(429, "rate limited", headers={"Retry-After": "1"}), ["HTTP 429"]),
        (
            status(503, {"status": "error", "errorType": "unavailable", "error": "store down"}),
            ["HTTP 503", "unavailable: store down"],
        ),
    ],
    ids=["500", "502-html", "503", "429", "503-json"],
)
def test_a_server_that_keeps_failing(proxy: FaultProxy, fault: Any, needles: list[str]) -> None:
    proxy.add(fault, times=None)
    one_line_error(costs(proxy.url), 1, *needles)
    assert len(proxy.log) == 2  # the first request, retried once, and nothing after it


def test_truncated_json(proxy: FaultProxy) -> None:
    proxy.add(truncate(0.5), times=None, match=RANGE)
    one_line_error(costs(proxy.url), 1, "HTTP 200", "cut off or malformed")


def test_connection_closed_mid_body_every_time(proxy: FaultProxy) -> None:
    proxy.add(close_early(0.3), times=None, match=RANGE)
    one_line_error(costs(proxy.url), 1, "Prometheus", "after 2 attempts")


def test_an_html_page_from_an_ingress_with_status_200(proxy: FaultProxy) -> None:
    proxy.add(html_page(200), times=None)
    one_line_error(costs(proxy.url), 1, "HTTP 200", "not Prometheus JSON", "--prometheus-url")


_TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"
_MANY_TO_MANY = "many-to-many matching not allowed: matching labels must be unique on one side"


@pytest.mark.parametrize(
    ("code", "error", "needles"),
    [
        # A sample limit is split down to one step first (tests/faults/test_server_limits.py).
        (422, _TOO_MANY_SAMPLES, ["refused even a single 3600 s step", "--query.max-samples"]),
        (422, _MANY_TO_MANY, ["Prometheus rejected the query", "many-to-many"]),
        (200, _TOO_MANY_SAMPLES, ["returned an error", "execution: query processing would load"]),
    ],
)
def test_status_error_bodies(proxy: FaultProxy, code: int, error: str, needles: list[str]) -> None:
    body = {"status": "error", "errorType": "execution", "error": error}
    proxy.add(status(code, body), times=None, match=RANGE)
    one_line_error(costs(proxy.url), 1, *needles)


@pytest.mark.parametrize(
    ("name", "change", "needle"),
    [
        ("vector for a range query", lambda d: d | {"resultType": "vector"}, "'vector' where"),
        ("result not a list", lambda d: d | {"result": {"oops": 1}}, "malformed matrix"),
        ("value not a number", lambda d: _every_value(d, "twelve"), "malformed matrix"),
        ("value null", lambda d: _every_value(d, None), "malformed matrix"),
    ],
)
def test_malformed_answers(proxy: FaultProxy, name: str, change: Any, needle: str) -> None:
    proxy.add(rewrite(name, lambda _, body: body | {"data": change(body["data"])}), times=None,
              match=RANGE)  # fmt: skip
    one_line_error(costs(proxy.url), 1, "Prometheus at", needle)


def _every_value(data: dict[str, Any], value: object) -> dict[str, Any]:
    for series in data["result"]:
        series["values"] = [[ts, value] for ts, _ in series["values"]]
    return data


# ---- partial answers: exit 0, flagged ----------------------------------------------------------


def test_warnings_are_shown_once_and_flagged(proxy: FaultProxy) -> None:
    message = "partial response: store gateway eu-west-1b unreachable"

    def warn(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
        return body | {"warnings": [message]}

    proxy.add(rewrite("warnings", warn), times=None, match=RANGE)
    result = costs(proxy.url)
    doc = document(result)
    assert_matches_truth(doc)  # the data itself is whole here; only the server doubts it
    [note] = partial_notes(doc)
    assert message in note and "may be incomplete" in note
    assert result.stderr.count(message) == 2  # the server's line once, then the note
    assert f"finops: warning: Prometheus warning: {message}" in result.stderr
    assert f"finops: warning: {note}" in result.stderr


def test_nan_and_inf_are_left_out_and_flagged_not_summed(proxy: FaultProxy) -> None:
    replaced: dict[str, float] = {}

    def poison(team: str, token: str, measure: str) -> Any:
        def change(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
            series = next(s for s in body["data"]["result"] if s["metric"].get(TEAM) == team)
            replaced[measure] = float(series["values"][0][1])
            series["values"][0][1] = token
            return body

        return change

    proxy.add(rewrite("NaN", poison("nlp", "NaN", "gpu_cost")), match=by_team_gpu_cost)
    proxy.add(rewrite("+Inf", poison("research", "+Inf", "gpu_hours")), match=by_team_gpu_hours)
    result = costs(proxy.url, "--by", "team")
    doc = document(result)  # no NaN or Infinity anywhere in the JSON
    assert sorted(proxy.faults_applied()) == ["+Inf", "NaN"]
    [note] = partial_notes(doc)
    assert "2 NaN/Inf value(s)" in note
    assert f"finops: warning: {note}" in result.stderr
    # Left out, not summed and not zeroed silently: exactly the poisoned bucket is missing.
    expected = truth().by("team")
    cost, hours = expected["gpu_cost"].to_dict(), expected["gpu_hours"].to_dict()
    rows = rows_by(doc)
    assert replaced["gpu_cost"] > 0 and replaced["gpu_hours"] > 0
    assert rows["nlp"]["gpu_cost"] == pytest.approx(cost["nlp"] - replaced["gpu_cost"], rel=0.005)
    assert rows["research"]["gpu_hours"] == pytest.approx(
        hours["research"] - replaced["gpu_hours"], rel=0.005
    )
    for team in ("vision", "ml-platform"):
        assert rows[team]["gpu_cost"] == pytest.approx(cost[team], rel=0.005)


def test_nan_in_gpus_is_null_and_flagged(proxy: FaultProxy) -> None:
    poisoned: list[str] = []

    def change(seen: Seen, body: dict[str, Any]) -> dict[str, Any]:
        result = body["data"]["result"]
        if seen.param("query").startswith("sum_over_time(") and result and "gpu" in str(result):
            result[0]["value"][1] = "NaN"
            metric = result[0]["metric"]
            poisoned.append((metric["node"], metric["gpu"]))
        return body

    proxy.add(rewrite("NaN", change), times=None, match=INSTANT)
    result = finops("gpus", *WINDOW, "--prometheus-url", proxy.url, "-o", "json")
    doc = document(result)
    assert poisoned
    assert any(n.startswith("PARTIAL DATA") and "NaN/Inf" in n for n in doc["notes"])
    assert "finops: warning: PARTIAL DATA" in result.stderr
    rows = {(r["node"], r["gpu"]): r for r in doc["rows"] if not r["mig_instance"]}
    assert rows[poisoned[0]]["cost"] is None


def test_nan_in_inference_counters_is_flagged(proxy: FaultProxy) -> None:
    def change(seen: Seen, body: dict[str, Any]) -> dict[str, Any]:
        for sample in body["data"]["result"]:
            if sample["metric"].get("served_model"):
                for point in sample.get("values") or [sample["value"]]:
                    point[1] = "NaN"
        return body

    counters = "vllm:request_success_total"  # traffic: requests per pod and served model
    proxy.add(rewrite("NaN", change), times=None, match=lambda s: counters in s.param("query"))
    result = costs(proxy.url, "--unit-costs")
    doc = document(result)
    assert proxy.faults_applied()
    assert any("NaN/Inf" in n for n in partial_notes(doc)), doc["notes"]
    assert "finops: warning: PARTIAL DATA" in result.stderr


# ---- empty answers ------------------------------------------------------------------------------


def test_a_window_without_data_is_one_line_exit_1(prom: str) -> None:
    result = finops("costs", "--start", "2026-09-01", "--end", "2026-09-02", "--prometheus-url",
                    prom, "-o", "json")  # fmt: skip
    one_line_error(result, 1, "no OpenCost GPU metrics", "2026-09-01 00:00", "is either scraped?")


def test_empty_results_say_so(proxy: FaultProxy) -> None:
    def empty(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["result"] = []
        return body

    proxy.add(rewrite("empty", empty), times=None, match=path_is(*RANGE_AND_INSTANT))
    result = costs(proxy.url)
    doc = document(result)
    assert doc["totals"]["cluster_gpu_cost"] == 0
    assert [r["kind"] for r in doc["rows"]] == ["unallocated", "idle"]
    assert any(n.startswith("no GPU capacity in the window") for n in doc["notes"])
    assert "finops: warning: no GPU capacity" in result.stderr


def test_an_unknown_cluster_is_named_in_the_note(prom: str) -> None:
    result = costs(prom, "--cluster", "no-such-cluster")
    doc = document(result)
    assert [r for r in doc["rows"] if r["kind"] == "allocated"] == []
    assert any("of cluster 'no-such-cluster'" in n for n in doc["notes"]), doc["notes"]


def test_no_requests_after_a_failure_start_late(proxy: FaultProxy) -> None:
    """A rejected query fails the command promptly: queued queries are not sent after it."""
    proxy.add(status(422, {"status": "error", "errorType": "bad_data", "error": "nope"}),
              times=None, match=RANGE)  # fmt: skip
    one_line_error(costs(proxy.url, "--max-concurrency", "1"), 1, "rejected the query: nope")
    assert sum(1 for s in proxy.log if s.path == "/api/v1/query_range") == 1


def test_csv_output_never_holds_nan(proxy: FaultProxy) -> None:
    def change(_: Seen, body: dict[str, Any]) -> dict[str, Any]:
        for series in body["data"]["result"]:
            series["values"][-1][1] = "NaN"
        return body

    proxy.add(rewrite("NaN everywhere", change), times=None, match=RANGE)
    result = costs(proxy.url, "-o", "csv")
    assert result.returncode == 0, result.stderr
    assert "nan" not in result.stdout.lower() and "inf" not in result.stdout.lower()
    assert "finops: warning: PARTIAL DATA" in result.stderr

"""PrometheusClient against a real local HTTP server: the wire format is the point, so no mocks."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from finops_cli.config_checks import SecretStr
from finops_cli.errors import SourceError, UsageError
from finops_cli.sources.prometheus_client import (
    InstantSample,
    PrometheusClient,
    RangeSeries,
)
from tests.support.standins import PrometheusSettings

SECRET = "s3cr3t-token"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


# -- stand-in settings ------------------------------------------------------------------------


# the shared stand-in, with this file's defaults: short timeouts, retries, parallel queries
Settings = partial(PrometheusSettings, timeout_seconds=2.0, retries=3, max_concurrency=4)


# -- programmable server ----------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, list[str]]  # from the query string (GET) or the form body (POST)
    headers: dict[str, str]  # lower-cased names
    content_type: str


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Seen], Reply]


def ok(data: Any, **extra: Any) -> Reply:
    return json_reply(200, {"status": "success", "data": data, **extra})


def json_reply(code: int, body: Any) -> Reply:
    return code, {"Content-Type": "application/json"}, json.dumps(body).encode()


def raw(code: int, body: str, content_type: str = "text/html", **headers: str) -> Reply:
    return code, {"Content-Type": content_type, **headers}, body.encode()


class FakePrometheus:
    """Replies are taken from ``replies`` in order, then ``default`` answers everything else."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.replies: list[Reply | Responder] = []
        self.default: Reply | Responder = ok({"resultType": "vector", "result": []})
        self.release = threading.Event()  # lets slow handlers finish at teardown
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self, parse_qs(urlsplit(self.path).query, keep_blank_values=True))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                fake._serve(self, parse_qs(body, keep_blank_values=True))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client hung up on a slow handler on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def _serve(self, handler: BaseHTTPRequestHandler, params: dict[str, list[str]]) -> None:
        seen = Seen(
            method=handler.command,
            path=urlsplit(handler.path).path,
            params=params,
            headers={k.lower(): v for k, v in handler.headers.items()},
            content_type=handler.headers.get("Content-Type", ""),
        )
        with self._lock:
            self.requests.append(seen)
            reply = self.replies.pop(0) if self.replies else self.default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            code, headers, body = reply(seen) if callable(reply) else reply
        finally:
            with self._lock:
                self.in_flight -= 1
        handler.send_response(code)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def slow(self, seconds: float, then: Reply) -> Responder:
        def respond(_: Seen) -> Reply:
            self.release.wait(seconds)
            return then

        return respond


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


class Harness:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.warnings: list[str] = []
        self.clients: list[PrometheusClient] = []

    def client(self, url: str, **overrides: Any) -> PrometheusClient:
        client = PrometheusClient(
            Settings(url=url, **overrides),
            on_warning=self.warnings.append,
            sleep=self.sleeps.append,
        )
        self.clients.append(client)
        return client


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    for client in harness.clients:
        client.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- successful queries -----------------------------------------------------------------------


def test_instant_vector(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok(
        {
            "resultType": "vector",
            "result": [
                {"metric": {"pod": "a", "gpu": "0"}, "value": [1704067200, "0.75"]},
                {"metric": {"pod": "b"}, "value": [1704067200, "3"]},
            ],
        }
    )
    samples = h.client(prom.url).instant('up{job="x"}', T0)
    assert samples == [
        InstantSample({"pod": "a", "gpu": "0"}, 0.75),
        InstantSample({"pod": "b"}, 3.0),
    ]
    (seen,) = prom.requests
    assert (seen.method, seen.path) == ("GET", "/api/v1/query")
    assert seen.params == {"query": ['up{job="x"}'], "time": ["1704067200"]}


def test_instant_scalar(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok({"resultType": "scalar", "result": [1704067200, "42.5"]})
    assert h.client(prom.url).instant("scalar(1)", T0) == [InstantSample({}, 42.5)]


def test_instant_rejects_matrix(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok({"resultType": "matrix", "result": []})
    with pytest.raises(SourceError, match="'matrix' where vector or scalar was expected"):
        h.client(prom.url).instant("up[5m]", T0)


def test_special_float_values(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok(
        {
            "resultType": "vector",
            "result": [
                {"metric": {"k": v}, "value": [1704067200, v]} for v in ("NaN", "+Inf", "-Inf")
            ],
        }
    )
    values = [s.value for s in h.client(prom.url).instant("x", T0)]
    assert values[0] != values[0]  # NaN
    assert values[1:] == [float("inf"), float("-inf")]


def test_range_matrix(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok(
        {
            "resultType": "matrix",
            "result": [
                {"metric": {"pod": "a"}, "values": [[1704067200, "1"], [1704067260, "NaN"]]}
            ],
        }
    )
    (series,) = h.client(prom.url).range("x", T0, T0 + timedelta(minutes=1), timedelta(minutes=1))
    assert series.labels == {"pod": "a"}
    assert series.timestamps == [1704067200.0, 1704067260.0]
    assert series.values[0] == 1.0 and series.values[1] != series.values[1]
    assert prom.requests[0].path == "/api/v1/query_range"
    assert prom.requests[0].params["step"] == ["60"]


def test_label_values(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok(["ns-a", "ns-b"])
    got = h.client(prom.url).label_values(
        "namespace", ['kube_pod_info{node="n1"}', "up"], T0, T0 + timedelta(hours=1)
    )
    assert got == ["ns-a", "ns-b"]
    (seen,) = prom.requests
    assert seen.path == "/api/v1/label/namespace/values"
    assert seen.params["match[]"] == ['kube_pod_info{node="n1"}', "up"]
    assert seen.params["start"] == ["1704067200"] and seen.params["end"] == ["1704070800"]


@pytest.mark.parametrize(
    "prefix", ["/prometheus", "/prometheus/", "/select/0/prometheus", "/select/0/prometheus/"]
)
def test_path_prefix(prom: FakePrometheus, h: Harness, prefix: str) -> None:
    h.client(prom.url + prefix).instant("up", T0)
    assert prom.requests[0].path == prefix.rstrip("/") + "/api/v1/query"


def test_long_query_goes_by_form_post(prom: FakePrometheus, h: Harness) -> None:
    client = h.client(prom.url)
    client.instant("up", T0)
    long_query = "sum(" + " + ".join(f'x{{pod="pod-{i}"}}' for i in range(120)) + ")"
    client.instant(long_query, T0)
    short, long = prom.requests
    assert short.method == "GET"
    assert long.method == "POST"
    assert long.content_type.startswith("application/x-www-form-urlencoded")
    assert long.params["query"] == [long_query]
    assert long.params["time"] == ["1704067200"]


def test_range_is_split_under_11000_points(prom: FakePrometheus, h: Harness) -> None:
    step = 60

    def respond(seen: Seen) -> Reply:
        start = int(seen.params["start"][0])
        end = int(seen.params["end"][0])
        # Like VictoriaMetrics, answer one step before the chunk start too: overlap to dedupe.
        stamps = range(max(start - step, t0), end + 1, step)
        always = {"metric": {"s": "always"}, "values": [[t, str(t)] for t in stamps]}
        late = {"metric": {"s": "late"}, "values": [[t, "1"] for t in stamps if t >= t_late]}
        return ok(
            {"resultType": "matrix", "result": [always, late] if late["values"] else [always]}
        )

    t0 = int(T0.timestamp())
    total_steps = 25_000
    t_late = t0 + 15_000 * step
    prom.default = respond
    end = T0 + timedelta(seconds=total_steps * step)
    got = h.client(prom.url).range("x", T0, end, timedelta(seconds=step))

    chunks = [(int(r.params["start"][0]), int(r.params["end"][0])) for r in prom.requests]
    assert chunks == [
        (t0, t0 + 10_999 * step),
        (t0 + 11_000 * step, t0 + 21_999 * step),
        (t0 + 22_000 * step, t0 + 25_000 * step),
    ]
    assert all((e - s) / step < 11_000 for s, e in chunks)
    always, late = got
    assert always.labels == {"s": "always"}
    assert always.timestamps == [float(t) for t in range(t0, t0 + (total_steps + 1) * step, step)]
    assert always.values == always.timestamps
    assert late == RangeSeries(
        {"s": "late"},
        [float(t) for t in range(t_late, t0 + (total_steps + 1) * step, step)],
        [1.0] * (total_steps - 15_000 + 1),
    )


def test_range_validates_step(prom: FakePrometheus, h: Harness) -> None:
    with pytest.raises(UsageError):
        h.client(prom.url).range("x", T0, T0, timedelta(0))


# -- server messages and parameters -----------------------------------------------------------


def test_warnings_and_infos_reach_on_warning(prom: FakePrometheus, h: Harness) -> None:
    prom.default = ok(
        {"resultType": "vector", "result": []},
        warnings=["PromQL info: metric might not be a counter"],
        infos=["partial data"],
    )
    h.client(prom.url).instant("rate(x[5m])", T0)
    assert h.warnings == [
        "Prometheus warning: PromQL info: metric might not be a counter",
        "Prometheus info: partial data",
    ]


def test_default_warning_sink_is_finops_logger(
    prom: FakePrometheus, caplog: pytest.LogCaptureFixture
) -> None:
    prom.default = ok({"resultType": "vector", "result": []}, warnings=["careful"])
    with PrometheusClient(Settings(url=prom.url)) as client:
        client.instant("x", T0)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("finops", logging.WARNING, "Prometheus warning: careful")
    ]


def test_thanos_params_only_when_set(prom: FakePrometheus, h: Harness) -> None:
    h.client(prom.url).instant("x", T0)
    h.client(prom.url, thanos_dedup=False, thanos_partial_response=True).instant("x", T0)
    plain, thanos = prom.requests
    assert "dedup" not in plain.params and "partial_response" not in plain.params
    assert thanos.params["dedup"] == ["false"]
    assert thanos.params["partial_response"] == ["true"]


def test_auth_headers(prom: FakePrometheus, h: Harness) -> None:
    h.client(prom.url, bearer_token=SecretStr(SECRET)).instant("x", T0)
    h.client(prom.url, username="alice", password=SecretStr("pw-1234")).instant("x", T0)
    userinfo = prom.url.replace("http://", "http://bob:hunter22@")
    url_client = h.client(userinfo, headers={"X-Scope-OrgID": SecretStr("tenant-1")})
    url_client.instant("x", T0)
    bearer, basic, from_url = prom.requests
    assert bearer.headers["authorization"] == f"Bearer {SECRET}"
    assert basic.headers["authorization"] == "Basic " + b64("alice:pw-1234")
    assert from_url.headers["authorization"] == "Basic " + b64("bob:hunter22")
    assert from_url.headers["x-scope-orgid"] == "tenant-1"
    assert url_client.display_url == prom.url


def test_counters(prom: FakePrometheus, h: Harness) -> None:
    answer = ok({"resultType": "vector", "result": []})
    prom.replies = [raw(503, "busy"), answer]
    client = h.client(prom.url)
    client.instant("x", T0)
    assert client.queries_issued == 2
    assert client.bytes_received == len(b"busy") + len(answer[2])


def test_concurrency_is_capped(prom: FakePrometheus, h: Harness) -> None:
    prom.default = prom.slow(0.03, ok({"resultType": "vector", "result": []}))
    client = h.client(prom.url, max_concurrency=2)
    threads = [threading.Thread(target=client.instant, args=("x", T0)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.queries_issued == 6
    assert prom.max_in_flight <= 2


# -- retries ----------------------------------------------------------------------------------


def test_retry_on_503_then_success(prom: FakePrometheus, h: Harness) -> None:
    prom.replies = [raw(503, "<html>busy</html>")]
    assert h.client(prom.url).instant("x", T0) == []
    assert len(prom.requests) == 2
    (delay,) = h.sleeps
    assert 0.25 <= delay <= 0.5


def test_retry_after_is_honoured_and_capped(prom: FakePrometheus, h: Harness) -> None:
    prom.replies = [
        raw(429, "slow down", "text/plain", **{"Retry-After": "7"}),
        raw(429, "slow down", "text/plain", **{"Retry-After": "120"}),
    ]
    h.client(prom.url).instant("x", T0)
    assert h.sleeps == [7.0, 30.0]
    assert len(prom.requests) == 3


def test_retries_exhausted_on_5xx(prom: FakePrometheus, h: Harness) -> None:
    prom.default = json_reply(
        503, {"status": "error", "errorType": "timeout", "error": "query timed out"}
    )
    with pytest.raises(SourceError) as err:
        h.client(prom.url, retries=2).instant("x", T0)
    assert len(prom.requests) == 3
    assert "after 3 attempt(s): last answer HTTP 503, timeout: query timed out" in str(err.value)
    assert len(h.sleeps) == 2
    assert 0.25 <= h.sleeps[0] <= 0.5 and 0.5 <= h.sleeps[1] <= 1.0


def test_no_retry_on_400(prom: FakePrometheus, h: Harness) -> None:
    prom.default = json_reply(
        400,
        {
            "status": "error",
            "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unexpected "}"',
        },
    )
    with pytest.raises(SourceError) as err:
        h.client(prom.url).instant("sum(}", T0)
    assert len(prom.requests) == 1
    assert h.sleeps == []
    assert str(err.value) == (
        'Prometheus rejected the query: invalid parameter "query": 1:5: parse error: unexpected "}"'
    )


# -- failures ---------------------------------------------------------------------------------


def test_401_names_the_credential_options(prom: FakePrometheus, h: Harness) -> None:
    prom.default = raw(401, "Unauthorized", "text/plain")
    with pytest.raises(SourceError) as err:
        h.client(prom.url, bearer_token=SecretStr(SECRET)).instant("x", T0)
    msg = str(err.value)
    assert "refused the credentials (HTTP 401)" in msg
    assert "--bearer-token" in msg and "--basic-auth" in msg and "--header" in msg
    assert len(prom.requests) == 1


def test_404_points_at_the_path_prefix(prom: FakePrometheus, h: Harness) -> None:
    prom.default = raw(404, "404 page not found", "text/plain")
    with pytest.raises(SourceError, match=r"no API path /api/v1/query \(HTTP 404\).*path prefix"):
        h.client(prom.url).instant("x", T0)


def test_connection_refused(h: Harness) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SourceError) as err:
        h.client(url).instant("x", T0)
    assert str(err.value) == (
        f"cannot reach Prometheus at {url}: connection refused after 4 attempts "
        "(check --prometheus-url)"
    )
    assert len(h.sleeps) == 3


def test_timeout(prom: FakePrometheus, h: Harness) -> None:
    prom.default = prom.slow(2.0, ok({"resultType": "vector", "result": []}))
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        h.client(prom.url, timeout_seconds=0.2, retries=1).instant("x", T0)
    assert time.monotonic() - started < 1.5
    assert str(err.value) == (
        f"Prometheus at {prom.url} did not answer within 0.2 s after 2 attempts; "
        "raise --timeout or query a shorter range"
    )


def test_html_body(prom: FakePrometheus, h: Harness) -> None:
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n" + "x" * 5000 + "</html>"
    prom.default = raw(200, page)
    with pytest.raises(SourceError) as err:
        h.client(prom.url).instant("x", T0)
    msg = str(err.value)
    assert "HTTP 200" in msg and "not Prometheus JSON" in msg
    assert "<html> <head><title>502 Bad Gateway" in msg
    assert "\n" not in msg and len(msg) < 300


def test_html_body_on_5xx_after_retries(prom: FakePrometheus, h: Harness) -> None:
    prom.default = raw(502, "<html><body>Bad Gateway</body></html>")
    with pytest.raises(SourceError) as err:
        h.client(prom.url, retries=1).instant("x", T0)
    msg = str(err.value)
    assert "HTTP 502" in msg and "not Prometheus JSON" in msg and "after 2 attempt(s)" in msg


def test_truncated_json(prom: FakePrometheus, h: Harness) -> None:
    prom.default = raw(200, '{"status":"success","data":{"resultType":"vec', "application/json")
    with pytest.raises(SourceError, match="HTTP 200 but the body was not Prometheus JSON"):
        h.client(prom.url).instant("x", T0)


def test_status_error_body(prom: FakePrometheus, h: Harness) -> None:
    prom.default = json_reply(200, {"status": "error", "errorType": "internal", "error": "boom"})
    with pytest.raises(SourceError) as err:
        h.client(prom.url).instant("x", T0)
    assert str(err.value) == f"Prometheus at {prom.url} returned an error: internal: boom"


def test_bad_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--prometheus-url"):
        PrometheusClient(Settings(url=None))
    for url in (f"ftp://u:{SECRET}@host", "prometheus:9090", "http://[::1"):
        with pytest.raises(UsageError, match="--prometheus-url") as err:
            PrometheusClient(Settings(url=url))
        assert SECRET not in str(err.value)


# -- secrets ----------------------------------------------------------------------------------


def test_secrets_never_leak(
    prom: FakePrometheus, h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    basic = b64(f"alice:{SECRET}")

    def echo_headers(seen: Seen) -> Reply:
        auth, key = seen.headers["authorization"], seen.headers["x-key"]
        return raw(200, f"<html>you sent {auth} and {key}</html>")

    def echo_in_error(seen: Seen) -> Reply:
        echoed = f"bad header {seen.headers.get('authorization')} {seen.headers.get('x-key')}"
        return json_reply(400, {"status": "error", "errorType": "bad_data", "error": echoed})

    prom.replies = [
        echo_headers,
        echo_in_error,
        raw(401, "nope"),
        json_reply(200, {"status": "error", "errorType": "x", "error": SECRET}),
    ]
    messages = []
    settings: list[dict[str, Any]] = [
        {"bearer_token": SecretStr(SECRET), "headers": {"X-Key": SecretStr(SECRET + "-hdr")}},
        {"username": "alice", "password": SecretStr(SECRET)},
        {"bearer_token": SecretStr(SECRET)},
        {"bearer_token": SecretStr(SECRET)},
    ]
    for overrides in settings:
        with pytest.raises(SourceError) as err:
            h.client(prom.url, **overrides).instant("x", T0)
        messages.append(str(err.value))
    dead = f"http://alice:{SECRET}@127.0.0.1:{closed_port()}/prometheus"
    with pytest.raises(SourceError) as err:
        h.client(dead).instant("x", T0)
    messages.append(str(err.value))

    assert "***" in messages[0] and "***" in messages[1]
    assert "cannot reach Prometheus at http://127.0.0.1:" in messages[-1]
    debug_lines = [r.getMessage() for r in caplog.records if r.name == "finops.prometheus"]
    assert any("GET /api/v1/query" in line and "HTTP 200" in line for line in debug_lines)
    assert any("ConnectError" in line for line in debug_lines)
    for text in messages + [r.getMessage() for r in caplog.records] + [caplog.text]:
        assert SECRET not in text
        assert basic not in text


# -- per-query server limits ------------------------------------------------------------------
# Real answers: Prometheus 2.42 and VictoriaMetrics 1.79 as they sent them in
# tests/faults/test_server_limits.py; Thanos from the e2e output in thanos-io/thanos#6325;
# Mimir from grafana/mimir pkg/util/limiter and #6347; Cortex from cortexproject/cortex#5149.


def _error(error_type: str, text: str) -> dict[str, str]:
    return {"status": "error", "errorType": error_type, "error": text}


_VM_QUERY = (
    'error when executing query="sum_over_time(up[1h:5m])" on the time range '
    "(start=1790812800000, end=1790985600000, step=3600000): cannot execute query: cannot "
    'evaluate "sum_over_time(up[1h:5m])": '
)
LIMIT_ERRORS = {  # server -> (answer, what the message must name)
    "prometheus": (
        _error(
            "execution",
            "query processing would load too many samples into memory in query execution",
        ),
        "--query.max-samples",
    ),
    "victoriametrics-samples-per-query": (
        _error(
            "422",
            'error when executing query="max(count_over_time(x[21600s]))" for '
            "(time=1791072000000, step=300000): cannot select more than "
            "-search.maxSamplesPerQuery=100 samples; possible solutions: to increase the "
            "-search.maxSamplesPerQuery; to reduce time range for the query; to use more specific "
            "label filters in order to select lower number of series",
        ),
        "-search.maxSamplesPerQuery=100",
    ),
    "victoriametrics-samples-per-series": (
        _error(
            "422",
            _VM_QUERY + "error during time series unpacking: cannot process more than 100 samples "
            "per series; either increase -search.maxSamplesPerSeries or reduce time range for the "
            "query",
        ),
        "-search.maxSamplesPerSeries",
    ),
    "victoriametrics-points": (
        _error(
            "422",
            _VM_QUERY + "too many points for the given step=300000, start=1780185000001 and "
            "end=1791072300000: 36291; cannot exceed -search.maxPointsPerTimeseries=30000",
        ),
        "-search.maxPointsPerTimeseries=30000",
    ),
    "thanos-store": (
        _error(
            "execution",
            "expanding series: proxy Series(): rpc error: code = Aborted desc = receive series "
            'from Addr: store-gw-1:9091 LabelSets: {ext1="value1"} MinTime: 1683016297853 '
            "MaxTime: 1683023497853: rpc error: code = ResourceExhausted desc = fetch series for "
            "block 01GZDQPDKDF7ENV3KQ8MS7SAPZ: expanded matching posting: get postings: rpc error: "
            "code = ResourceExhausted desc = exceeded bytes limit while fetching postings: limit 1 "
            "violated (got 8)",
        ),
        "exceeded bytes limit while fetching postings: limit 1 violated (got 8)",
    ),
    "mimir": (
        _error(
            "execution",
            "the query exceeded the maximum number of chunks (limit: 30 chunks) "
            "(err-mimir-max-chunks-per-query). Consider reducing the time range and/or number of "
            "series selected by the query. One way to reduce the number of selected series is to "
            "add more label matchers to the query. Otherwise, to adjust the related per-tenant "
            "limit, configure -querier.max-fetched-chunks-per-query, or contact your service "
            "administrator.",
        ),
        "err-mimir-max-chunks-per-query",
    ),
    "cortex-store-gateway": (
        _error(
            "execution",
            "expanding series: error querying tenant_id t1: failed to receive series from "
            "192.18.29.156:9095: rpc error: code = Code(422) desc = fetch series for block "
            "01GS9S165XPR46FQZR26GYCFSA: exceeded chunks limit: rpc error: code = Code(422) desc = "
            "limit 2000000 violated (got 2000033)",
        ),
        "exceeded chunks limit",
    ),
}


def refusing_over(max_steps: int, answer: Reply) -> Responder:
    """A server refusing every range of more than ``max_steps`` steps; one series otherwise."""

    def respond(seen: Seen) -> Reply:
        start, end, step = (int(seen.params[k][0]) for k in ("start", "end", "step"))
        if (end - start) // step + 1 > max_steps:
            return answer
        values = [[t, str(t)] for t in range(start, end + 1, step)]
        return ok({"resultType": "matrix", "result": [{"metric": {"s": "a"}, "values": values}]})

    return respond


@pytest.mark.parametrize("server", sorted(LIMIT_ERRORS))
def test_range_over_a_server_limit_is_split_in_halves(
    prom: FakePrometheus, h: Harness, server: str
) -> None:
    prom.default = refusing_over(10, json_reply(422, LIMIT_ERRORS[server][0]))
    client = h.client(prom.url)
    got = client.range("x", T0, T0 + timedelta(minutes=24), timedelta(minutes=1))

    t0 = int(T0.timestamp())
    asked = [
        ((int(r.params["start"][0]) - t0) // 60, (int(r.params["end"][0]) - t0) // 60)
        for r in prom.requests
    ]
    # 25 steps, then depth first: 12 (0-11) and 13 (12-24) are still over 10, their halves fit.
    assert asked == [(0, 24), (0, 11), (0, 5), (6, 11), (12, 24), (12, 17), (18, 24)]
    assert client.range_splits == 3
    stamps = [float(t0 + 60 * i) for i in range(25)]
    assert got == [RangeSeries({"s": "a"}, stamps, stamps)]
    assert h.sleeps == []  # a limit is not retried as such


@pytest.mark.parametrize(
    "code, body",
    [
        # Prometheus past --query.timeout: 503, errorType timeout (retrying would time out again).
        (503, _error("timeout", "query timed out in expression evaluation")),
        # VictoriaMetrics past -search.maxQueryDuration (the query is echoed in front).
        (
            422,
            _error(
                "422",
                'error when executing query="sum(x)" on the time range (start=1, end=2, step=60): '
                "cannot execute query: timeout exceeded during query execution: 30.000 seconds; "
                "the timeout can be adjusted with `-search.maxQueryDuration` command-line flag",
            ),
        ),
    ],
)
def test_a_server_query_timeout_is_split_not_retried(
    prom: FakePrometheus, h: Harness, code: int, body: dict[str, Any]
) -> None:
    prom.default = refusing_over(3, json_reply(code, body))
    client = h.client(prom.url)
    got = client.range("x", T0, T0 + timedelta(minutes=4), timedelta(minutes=1))
    assert client.range_splits == 1 and len(got[0].values) == 5
    assert len(prom.requests) == 3 and h.sleeps == []


def test_a_frontend_answering_in_plain_text_is_recognised(prom: FakePrometheus, h: Harness) -> None:
    answer = raw(
        422, "the query hit the max number of chunks limit (limit: 10 chunks)", "text/plain"
    )
    prom.default = refusing_over(3, answer)
    client = h.client(prom.url)
    got = client.range("x", T0, T0 + timedelta(minutes=4), timedelta(minutes=1))
    assert client.range_splits == 1 and len(got[0].values) == 5


def test_a_single_step_over_the_limit_is_one_line(prom: FakePrometheus, h: Harness) -> None:
    prom.default = json_reply(422, LIMIT_ERRORS["prometheus"][0])
    client = h.client(prom.url)
    with pytest.raises(SourceError) as err:
        client.range("x", T0, T0 + timedelta(minutes=3), timedelta(minutes=1))
    assert len(prom.requests) == 3  # 4 steps, 2, then the first step alone: the end
    assert client.range_splits == 2
    assert str(err.value) == (
        f"Prometheus at {prom.url} refused even a single 60 s step of the query as over a server "
        "limit: query processing would load too many samples into memory in query execution; a "
        "shorter window will not help: narrow it with --cluster or a filter such as --team or "
        "--namespace, or raise the limit on the server (Prometheus: --query.max-samples; Mimir "
        "and Cortex: -querier.max-samples)"
    )


@pytest.mark.parametrize("server", sorted(LIMIT_ERRORS))
def test_instant_over_a_server_limit_is_one_line_naming_it(
    prom: FakePrometheus, h: Harness, server: str
) -> None:
    answer, named = LIMIT_ERRORS[server]
    prom.default = json_reply(422, answer)
    with pytest.raises(SourceError) as err:
        h.client(prom.url).instant("x", T0)
    message = str(err.value)
    assert len(prom.requests) == 1
    assert message.startswith(f"Prometheus at {prom.url} refused the query as over a server limit")
    assert named in message
    assert "narrow it with --cluster" in message and "shorter --window" in message
    assert "error when executing query" not in message and "expanding series" not in message
    assert "\n" not in message and len(message) < 600


@pytest.mark.parametrize(
    "code, answer",
    [
        (
            422,
            _error(
                "execution",
                'found duplicate series for the match group {node="gpu-1"} on the right '
                'hand-side of the operation: [{node="gpu-1", pod="a"}, {node="gpu-1", pod="b"}];'
                "many-to-many matching not allowed: matching labels must be unique on one side",
            ),
        ),
        (400, _error("bad_data", 'invalid parameter "query": 1:5: parse error: unexpected "}"')),
    ],
)
def test_other_rejections_are_not_split(
    prom: FakePrometheus, h: Harness, code: int, answer: dict[str, str]
) -> None:
    prom.default = json_reply(code, answer)
    client = h.client(prom.url)
    with pytest.raises(SourceError) as err:
        client.range("x", T0, T0 + timedelta(minutes=24), timedelta(minutes=1))
    assert len(prom.requests) == 1
    assert client.range_splits == 0
    assert str(err.value) == f"Prometheus rejected the query: {answer['error']}"

"""The shared HTTP client (``finops_cli.http_client``) against hostile loopback servers.

Through the sources that use it (Prometheus, OpenCost), in-process: memory can be measured here
and the decisions (warnings, masking) are checked directly. The installed ``finops`` meets the
same servers in ``tests/faults/test_hostile_servers.py``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpcore
import pytest

from finops_cli.config_checks import SecretStr
from finops_cli.errors import SourceError
from finops_cli.http_client import BUDGET, Budget, decode_json
from finops_cli.http_deadline import DeadlineStream, time_left
from finops_cli.http_url import BaseUrl, is_loopback, parse_base_url, security_warnings
from finops_cli.redact import mask_text
from finops_cli.sources.opencost import OpenCostCostSource
from finops_cli.sources.prometheus_client import PrometheusClient
from tests.faults.hostile import HostileServer, deep_json, endless, headers
from tests.support.cli import run_python
from tests.support.standins import PrometheusSettings as Settings

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MiB = 2**20


def base(url: str) -> BaseUrl:
    return parse_base_url(url, ValueError("bad"))  # type: ignore[arg-type]


# -- bounded answers ----------------------------------------------------------------------------


def test_a_streamed_answer_over_the_cap_is_refused_with_bounded_memory() -> None:
    """300 MiB without a Content-Length against a 16 MiB cap: refused after about 16 MiB, and
    the client never holds much more than that (the body is streamed, not read whole)."""
    with HostileServer(endless(300)) as server:
        client = PrometheusClient(Settings(server.url), max_body_bytes=16 * MiB)
        tracemalloc.start()
        try:
            with pytest.raises(SourceError) as err:
                client.instant("up", T0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            client.close()
    message = str(err.value)
    assert message.startswith(f"Prometheus at {server.url} sent an answer over the 16 MiB limit")
    assert "\n" not in message
    assert peak < 48 * MiB, peak
    assert client.bytes_received < 18 * MiB


def test_a_declared_size_over_the_cap_is_refused_before_reading() -> None:
    def big(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(headers(Content_Length=str(100 * MiB)) + b"[" * 1000)
        stop.wait(5)

    with HostileServer(big) as server:
        client = PrometheusClient(Settings(server.url), max_body_bytes=MiB)
        with pytest.raises(SourceError, match=r"over the 1 MiB limit \(refused after 100 MiB\)"):
            client.instant("up", T0)
    assert client.bytes_received == 0


def test_the_cap_applies_to_opencost_too() -> None:
    with HostileServer(endless(50)) as server:
        source = OpenCostCostSource(server.url, {}, retries=0, max_body_bytes=2 * MiB)
        with pytest.raises(SourceError, match=r"OpenCost at .* sent an answer over the 2 MiB"):
            source._api.allocation([])


def test_json_nested_too_deep_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        decode_json(b"[" * 200_000 + b"]" * 200_000)
    with HostileServer(deep_json) as server:
        client = PrometheusClient(Settings(server.url))
        with pytest.raises(SourceError, match="answered HTTP 200 but the body was not Prometheus"):
            client.instant("up", T0)


# -- warnings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sends_secret", "verify_off", "expected"),
    [
        ("http://prom.example:9090", True, False, ["sent over plain http://"]),
        ("http://10.0.0.7:9090", True, False, ["sent over plain http://"]),
        ("http://prom.example:9090", False, False, []),
        ("http://127.0.0.1:9090", True, False, []),
        ("http://127.8.9.1:9090", True, False, []),
        ("http://localhost:9090", True, False, []),
        ("http://[::1]:9090", True, False, []),
        ("https://prom.example", True, False, []),
        ("https://prom.example", True, True, ["TLS certificate verification is off"]),
        ("https://127.0.0.1", False, True, ["TLS certificate verification is off"]),
        ("http://prom.example", True, True, ["sent over plain http://"]),
    ],
)
def test_security_warnings_decision(
    url: str, sends_secret: bool, verify_off: bool, expected: list[str]
) -> None:
    found = security_warnings("X", base(url), sends_secret=sends_secret, verify_off=verify_off)
    assert len(found) == len(expected)
    for line, needle in zip(found, expected, strict=True):
        assert needle in line and "\n" not in line


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("LOCALHOST", True),
     ("app.localhost", True), ("localhost.evil.example", False), ("10.0.0.1", False),
     ("prom", False), ("", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_warnings_are_given_once_per_run_per_source() -> None:
    host = f"prom-{uuid.uuid4().hex[:8]}.example"
    told: list[str] = []
    plain = Settings(f"http://{host}:9090", bearer_token=SecretStr("tok-123456"))
    insecure = Settings(f"https://{host}", insecure_skip_tls_verify=True)
    for _ in range(3):
        PrometheusClient(plain, on_warning=told.append).close()
        PrometheusClient(insecure, on_warning=told.append).close()
    assert told == [
        f"credentials for Prometheus at http://{host}:9090 are sent over plain http:// and can "
        "be read on the network path; use https://",
        f"TLS certificate verification is off for Prometheus at https://{host} "
        "(--insecure-skip-tls-verify): anyone on the network path can pose as the server",
    ]
    OpenCostCostSource(
        f"http://{host}:9003", {}, headers={"Authorization": "Bearer t0ken"}, on_warning=told.append
    ).close()
    assert told[-1].startswith(f"credentials for OpenCost at http://{host}:9003 are sent over")


# -- error wording ---------------------------------------------------------------------------------


def _plain_http(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


@pytest.mark.parametrize("insecure", [True, False])
def test_tls_to_a_plain_http_port_is_a_handshake_failure(insecure: bool) -> None:
    with HostileServer(_plain_http) as server:
        url = server.url.replace("http://", "https://")
        client = PrometheusClient(
            Settings(url, insecure_skip_tls_verify=insecure, retries=2), on_warning=lambda m: None
        )
        with pytest.raises(SourceError) as err:
            client.instant("up", T0)
    message = str(err.value)
    assert message.startswith(f"TLS handshake with Prometheus at {url} failed: ")
    assert "TLS verification failed" not in message
    assert ("certificate verification is off" in message) is insecure
    assert server.connections == 1  # TLS failures are not retried


def _unauthorized(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(headers("401 Unauthorized", Content_Length="0"))


def test_opencost_credential_errors_do_not_suggest_header() -> None:
    """``--header`` reaches Prometheus only; OpenCost's token is FINOPS_OPENCOST_BEARER_TOKEN."""
    with HostileServer(_unauthorized) as server:
        bare = OpenCostCostSource(server.url, {}, retries=0)
        with pytest.raises(SourceError) as wanted:
            bare._api.allocation([])
        sent = OpenCostCostSource(server.url, {}, retries=0, headers={"Authorization": "Bearer x"})
        with pytest.raises(SourceError) as refused:
            sent._api.allocation([])
    for err in (wanted, refused):
        assert "--header" not in str(err.value)
        assert "FINOPS_OPENCOST_BEARER_TOKEN" in str(err.value)
    assert "requires credentials (HTTP 401); OpenCost has none of its own" in str(wanted.value)
    assert "refused the credentials (HTTP 401)" in str(refused.value)


# -- masking -------------------------------------------------------------------------------------


def test_mask_text_hides_userinfo_and_query_of_any_url() -> None:
    text = "GET https://bob:pw@h:9/api/v1/query?apikey=K3Y&x=1 failed; see http://a/b?sig=S"
    masked = mask_text(text, ["nothing-here"])
    assert masked == "GET https://***@h:9/api/v1/query?*** failed; see http://a/b?***"


def test_url_query_values_are_masked_in_echoed_text() -> None:
    def echo(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
        body = b"bad request: " + head.split(b"\r\n")[0]
        conn.sendall(headers("502 Bad Gateway", Content_Length=str(len(body))) + body)

    with HostileServer(echo) as server:
        client = PrometheusClient(Settings(f"{server.url}/p?apikey=K3Y-very-secret"))
        with pytest.raises(SourceError) as err:
            client.instant("up", T0)
    assert "K3Y-very-secret" not in str(err.value)
    assert "bad request: GET /p/api/v1/query?" in str(err.value)


def test_a_body_that_does_not_decompress_is_one_line() -> None:
    def bad_gzip(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
        body = b"this is not gzip at all"
        extra = {"Content_Encoding": "gzip", "Content_Length": str(len(body))}
        conn.sendall(headers(**extra) + body)

    with HostileServer(bad_gzip) as server:
        client = PrometheusClient(Settings(server.url, retries=2))
        with pytest.raises(SourceError, match="sent an answer that could not be read: "):
            client.instant("up", T0)
    assert len(server.requests) == 1


# -- the deadline covers the whole attempt --------------------------------------------------------


class _Recorder(httpcore.NetworkStream):
    """A network stream that records the timeouts it is handed and answers at once."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        return b"abc"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)

    def close(self) -> None:
        return None

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self.timeouts.append(timeout)
        return self


@contextlib.contextmanager
def _budget(seconds_left: float) -> Iterator[Budget]:
    budget = Budget(time.monotonic() + seconds_left)
    token = BUDGET.set(budget)
    try:
        yield budget
    finally:
        BUDGET.reset(token)


def test_every_socket_operation_waits_at_most_until_the_deadline() -> None:
    inner = _Recorder()
    stream = DeadlineStream(inner)
    with _budget(2.0) as budget:
        assert stream.read(10, timeout=30.0) == b"abc"
        stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=30.0)
        stream.read(10, timeout=None)  # no timeout of its own: the deadline's still
        stream.read(10, timeout=0.5)  # shorter than what is left: its own
        assert budget.received == 9  # three reads of 3 bytes
        tls = stream.start_tls(ssl.create_default_context(), "h", timeout=30.0)
        assert budget.received == 0  # a proxy's CONNECT answer is not the server's
        tls.read(10, timeout=30.0)
    long_ones = [t for i, t in enumerate(inner.timeouts) if i != 3]
    assert all(t is not None and 1.5 < t <= 2.0 for t in long_ones), inner.timeouts
    assert inner.timeouts[3] == 0.5


def test_an_operation_past_the_deadline_fails_at_once_as_a_timeout() -> None:
    inner = _Recorder()
    stream = DeadlineStream(inner)
    with _budget(-0.1):
        with pytest.raises(httpcore.ReadTimeout):
            stream.read(10, timeout=30.0)
        with pytest.raises(httpcore.WriteTimeout):
            stream.write(b"x", timeout=30.0)
        with pytest.raises(httpcore.ConnectTimeout):
            stream.start_tls(ssl.create_default_context(), "h", timeout=30.0)
        with pytest.raises(httpcore.ConnectTimeout):
            time_left(30.0, httpcore.ConnectTimeout)
    assert inner.timeouts == []


def test_without_a_deadline_timeouts_pass_unchanged() -> None:
    inner = _Recorder()
    stream = DeadlineStream(inner)
    stream.read(10, timeout=30.0)
    stream.write(b"x", timeout=None)
    assert inner.timeouts == [30.0, None]


def _head_trickle(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
        conn.sendall(bytes([byte]))
        if stop.wait(0.1):
            return


def test_trickling_headers_end_at_the_deadline_and_are_not_retried() -> None:
    with HostileServer(_head_trickle) as server:
        client = PrometheusClient(Settings(server.url, timeout_seconds=1.0, retries=3))
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            client.instant("up", T0)
        elapsed = time.monotonic() - started
        client.close()
    assert str(err.value).startswith(
        f"Prometheus at {server.url} did not answer within 1 s: its status line and headers "
        "were still arriving when the deadline passed ("
    )
    assert 1.0 <= elapsed < 3.0, elapsed  # not 4 attempts: see the request count
    assert len(server.requests) == 1


def _silent(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def test_a_server_that_never_answers_is_retried_as_before() -> None:
    with HostileServer(_silent) as server:
        client = PrometheusClient(Settings(server.url, timeout_seconds=0.5, retries=1))
        with pytest.raises(SourceError) as err:
            client.instant("up", T0)
        client.close()
    assert f"Prometheus at {server.url} did not answer within 0.5 s after 2 attempts" in str(
        err.value
    )
    assert len(server.requests) == 2


def _keep_alive(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    while not stop.is_set():
        conn.sendall(answer)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                return
            head += chunk


def test_connections_are_kept_alive_across_requests() -> None:
    with HostileServer(_keep_alive) as server:
        client = PrometheusClient(Settings(server.url))
        for _ in range(3):
            assert client.instant("up", T0) == []
        client.close()
    assert server.connections == 1


def _as_proxy(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    conn.sendall(headers(Content_Length=str(len(body))) + body)


@pytest.mark.parametrize("bypass", [False, True])
def test_proxies_from_the_environment_are_used(
    bypass: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY and NO_PROXY, as httpx reads them for its own transports."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with HostileServer(_as_proxy) as proxy, HostileServer(_as_proxy) as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1" if bypass else "example.org")
        client = PrometheusClient(Settings(target.url))
        assert client.instant("up", T0) == []
        client.close()
    if bypass:
        assert (len(proxy.requests), len(target.requests)) == (0, 1)
    else:
        assert (len(proxy.requests), len(target.requests)) == (1, 0)
        assert proxy.requests[0].startswith(f"GET {target.url}/api/v1/query?".encode())


def test_importing_the_client_does_not_import_httpcore() -> None:
    """httpcore (about 14 ms) loads when a client is built, as it did inside httpx."""
    result = run_python("import sys, finops_cli.http_client; print('httpcore' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

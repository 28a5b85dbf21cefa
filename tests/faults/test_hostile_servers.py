"""The installed ``finops`` against servers that misbehave on purpose (``tests/faults/hostile.py``).

Each case ends in one ``finops: error:`` line and exit 1, in bounded time and memory, and no
secret reaches stderr even with ``--debug``. No Prometheus is needed.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.common import WINDOW, finops, one_line_error
from tests.faults.hostile import (
    HostileServer,
    declared,
    deep_json,
    echo_500,
    endless,
    trickle,
    trickle_both,
    trickle_head,
)


def costs(url: str, *extra: str, env: dict[str, str] | None = None) -> object:
    return finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", *extra, env=env)


def test_a_trickling_answer_ends_near_the_timeout() -> None:
    """One byte a second used to hold ``--timeout 3s`` for 45 s and more (a per-read timeout)."""
    with HostileServer(trickle) as server:
        started = time.monotonic()
        result = costs(server.url, "--timeout", "3s", env={"FINOPS_PROMETHEUS_RETRIES": "3"})
        elapsed = time.monotonic() - started
    one_line_error(result, 1, "was still sending its answer when the 3 s deadline passed")
    assert elapsed < 10, elapsed
    assert len(server.requests) == 1  # a server that is sending is slow, not gone: no retry


HEADERS_TOO_SLOW = "did not answer within 3 s: its status line and headers were still arriving"


@pytest.mark.parametrize("source", ["prometheus", "opencost"])
def test_trickling_headers_end_near_the_timeout(source: str) -> None:
    """The status line and headers a byte every half second, forever: each byte reset httpx's
    per-read timeout, so ``--timeout 3s`` did not end the command. The deadline covers the
    headers too; a server that had begun to answer is slow, not gone: it is not asked again."""
    with HostileServer(trickle_head) as server:
        started = time.monotonic()
        if source == "prometheus":
            args = ["--prometheus-url", server.url]
        else:
            args = ["--source", "opencost", "--opencost-url", server.url]
        result = finops(
            "costs", *WINDOW, *args, "-o", "json", "--timeout", "3s",
            env={"FINOPS_PROMETHEUS_RETRIES": "3"},
        )  # fmt: skip
        elapsed = time.monotonic() - started
    where = "Prometheus" if source == "prometheus" else "OpenCost"
    line = one_line_error(result, 1, f"{where} at {server.url} {HEADERS_TOO_SLOW}", "--timeout")
    assert "bytes received" in line
    assert elapsed < 10, elapsed
    assert len(server.requests) == 1


def test_one_deadline_covers_headers_and_body() -> None:
    """Slow headers (1.5 s) and then a slow body: the deadline counts both, not each alone."""
    with HostileServer(trickle_both) as server:
        started = time.monotonic()
        result = costs(server.url, "--timeout", "3s", env={"FINOPS_PROMETHEUS_RETRIES": "3"})
        elapsed = time.monotonic() - started
    one_line_error(result, 1, "was still sending its answer when the 3 s deadline passed")
    assert 3 <= elapsed < 10, elapsed
    assert len(server.requests) == 1


def test_an_answer_past_the_default_cap_is_refused_in_one_line() -> None:
    """600 MiB streamed without a Content-Length: refused once 512 MiB have arrived."""
    with HostileServer(endless(600)) as server:
        result = costs(server.url, env={"FINOPS_PROMETHEUS_RETRIES": "0"})
    one_line_error(result, 1, "sent an answer over the 512 MiB limit", "FINOPS_MAX_RESPONSE_MB")


def test_a_declared_huge_answer_is_refused_before_reading() -> None:
    with HostileServer(declared(2**40)) as server:
        started = time.monotonic()
        result = costs(server.url, "--timeout", "30s")
        elapsed = time.monotonic() - started
    one_line_error(result, 1, "over the 512 MiB limit (refused after 1,048,576 MiB)")
    assert elapsed < 10, elapsed


def test_json_nested_200000_deep_is_one_line() -> None:
    with HostileServer(deep_json) as server:
        result = costs(server.url)
    one_line_error(result, 1, "body was not Prometheus JSON")


def test_json_nested_200000_deep_from_opencost_is_one_line() -> None:
    with HostileServer(deep_json) as server:
        result = finops(
            "costs", *WINDOW, "--source", "opencost", "--opencost-url", server.url, "-o", "json"
        )
    one_line_error(result, 1, "body was not OpenCost JSON")


def test_no_secret_reaches_stderr_with_debug() -> None:
    """The server echoes the request head (Authorization, tenant header, the URL's query)."""
    secrets = ["TOKENsecret1", "TENANTsecret2", "QUERYsecret3"]
    with HostileServer(echo_500) as server:
        result = costs(
            f"{server.url}/prom?apikey={secrets[2]}",
            "--debug",
            env={
                "FINOPS_PROMETHEUS_RETRIES": "1",
                "FINOPS_PROMETHEUS_BEARER_TOKEN": secrets[0],
                "FINOPS_PROMETHEUS_HEADERS": f"X-Scope-OrgID: {secrets[1]}",
            },
        )
    assert result.returncode == 1, result.stderr
    assert "still failed after 2 attempt(s): last answer HTTP 500" in result.stderr
    assert "upstream failed for" in result.stderr  # the echo is quoted, masked
    for secret in secrets:
        assert secret not in result.stderr and secret not in result.stdout, secret
    assert any(secret.encode() in req for req in server.requests for secret in secrets)


def test_no_password_reaches_stderr_with_debug() -> None:
    with HostileServer(echo_500) as server:
        url = server.url.replace("http://", "http://alice:PASSsecret4@")
        result = costs(url, "--debug", env={"FINOPS_PROMETHEUS_RETRIES": "0"})
    assert result.returncode == 1, result.stderr
    assert "Authorization: ***" in result.stderr
    assert "PASSsecret4" not in result.stderr and "YWxpY2U6UEFTU3NlY3JldDQ=" not in result.stderr


def test_insecure_mode_says_what_really_failed() -> None:
    """https:// to a plain-http port with verification off: a handshake problem, not a
    certificate one; and the warning that verification is off, once."""
    with HostileServer(echo_500) as server:
        url = server.url.replace("http://", "https://")
        result = costs(url, "--insecure-skip-tls-verify")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == (
        f"finops: warning: TLS certificate verification is off for Prometheus at {url} "
        "(--insecure-skip-tls-verify): anyone on the network path can pose as the server"
    )
    assert lines[1].startswith(f"finops: error: TLS handshake with Prometheus at {url} failed: ")
    assert "certificate verification is off, so this is not a certificate problem" in lines[1]
    assert "TLS verification failed" not in result.stderr

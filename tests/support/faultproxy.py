"""A fault-injecting HTTP proxy for the fault suite (``tests/faults``).

It listens on a free loopback port and forwards every request to an upstream test server (a real
Prometheus, the fake OpenCost) unless a rule of its *fault plan* says otherwise. Rules are checked
in the order they were added; the first that matches a request and still has uses left decides
what happens to it:

    proxy = FaultProxy(upstream_url)
    proxy.add(status(503), times=2)                         # the next two requests get a 503
    proxy.add(delay(3.0), match=path_is("/api/v1/query"))   # every instant query is slow
    proxy.add(status(500), once_per_request=True)           # each distinct request fails once

``times=None`` keeps a rule forever; ``once_per_request`` applies it to the first attempt of
every distinct request (method, path and parameters) and lets its retries through, which is how
"500 then success" is exercised on every query of a command at once. Faults that rewrite an
upstream answer (``rewrite``) receive the parsed JSON and return the body to send.

Everything seen is recorded in ``proxy.log`` (one ``Seen`` per request, with the fault applied),
so tests can assert on the queries a command sent, and on how many attempts it made.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

__all__ = [
    "Fault",
    "FaultProxy",
    "Seen",
    "body_has",
    "close_early",
    "delay",
    "free_port",
    "html_page",
    "path_is",
    "reset",
    "rewrite",
    "status",
    "truncate",
]

Headers = dict[str, str]


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it, and the name of the fault it got ("" for none)."""

    method: str
    path: str
    params: list[tuple[str, str]]
    fault: str = ""
    at: float = 0.0  # time.monotonic() on arrival

    def param(self, name: str) -> str:
        return next((v for k, v in self.params if k == name), "")

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return self.method, self.path, tuple(self.params)


@dataclass(frozen=True)
class Upstream:
    """The upstream answer, handed to faults that alter it."""

    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Fault:
    """What to do with a request: ``before`` runs first (may answer on its own), ``after`` may
    change the upstream answer, ``socket_action`` replaces the whole exchange."""

    name: str
    answer: tuple[int, Headers, bytes] | None = None
    wait_s: float = 0.0
    alter: Callable[[Seen, Upstream], Upstream] | None = None
    socket_action: str = ""  # "reset": close the connection without a response
    keep_length: bool = False  # when cut: announce the full Content-Length (a broken stream)


Matcher = Callable[[Seen], bool]


@dataclass
class _Rule:
    faults: tuple[Fault, ...]  # taken in turn, one per request the rule applies to
    times: int | None
    match: Matcher | None
    once_per_request: bool
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    used: int = 0


# ---- faults -------------------------------------------------------------------------------------


def status(
    code: int,
    body: str | bytes | dict[str, Any] = "",
    *,
    content_type: str | None = None,
    headers: Headers | None = None,
) -> Fault:
    """Answer ``code`` with ``body`` (a dict is sent as JSON) instead of forwarding."""
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        content_type = content_type or "application/json"
    else:
        data = body.encode() if isinstance(body, str) else body
        content_type = content_type or "text/plain; charset=utf-8"
    sent = {"Content-Type": content_type, **(headers or {})}
    name = f"HTTP {code}" + (f" {headers}" if headers else "")
    return Fault(name, answer=(code, sent, data))


def html_page(code: int = 502) -> Fault:
    """What an nginx ingress answers when its backend is gone: HTML, not Prometheus JSON."""
    page = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    fault = status(code, page, content_type="text/html")
    return Fault(f"HTML {code} page", answer=fault.answer)


def delay(seconds: float) -> Fault:
    """Forward, but only after ``seconds`` (past the client's timeout, the client hangs up)."""
    return Fault(f"delay {seconds:g}s", wait_s=seconds)


def reset() -> Fault:
    """Close the connection without answering (the client sees a dropped connection)."""
    return Fault("connection reset", socket_action="reset")


def truncate(fraction: float = 0.5) -> Fault:
    """Forward, then send the first ``fraction`` of the body with a matching Content-Length:
    a well-formed HTTP 200 whose JSON is cut off."""
    return Fault(f"truncated body ({fraction:.0%})", alter=_cut(fraction))


def close_early(fraction: float = 0.5) -> Fault:
    """Forward, announce the full Content-Length, send ``fraction`` of it and hang up."""
    return Fault(
        f"connection closed mid-body ({fraction:.0%})",
        keep_length=True,
        alter=_cut(fraction),
    )


def _cut(fraction: float) -> Callable[[Seen, Upstream], Upstream]:
    def alter(_: Seen, up: Upstream) -> Upstream:
        # The cut point travels in a pseudo header the handler strips before sending.
        cut = max(1, int(len(up.body) * fraction))
        return Upstream(up.status, {**up.headers, "X-Fault-Cut": str(cut)}, up.body)

    return alter


def rewrite(name: str, change: Callable[[Seen, dict[str, Any]], dict[str, Any]]) -> Fault:
    """Forward, parse the JSON answer, and send ``change(request, body)`` instead."""

    def alter(seen: Seen, up: Upstream) -> Upstream:
        body = json.loads(up.body)
        changed = change(seen, body)
        return Upstream(up.status, up.headers, json.dumps(changed).encode())

    return Fault(name, alter=alter)


# ---- matchers -----------------------------------------------------------------------------------


def path_is(*paths: str) -> Matcher:
    return lambda seen: seen.path in paths


def body_has(text: str) -> Matcher:
    """Requests whose ``query`` parameter contains ``text``."""
    return lambda seen: text in seen.param("query")


# ---- the proxy ----------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "x-fault-cut",
}


class FaultProxy:
    """A threaded forwarding proxy with a programmable fault plan; see the module docstring."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.log: list[Seen] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._client = httpx.Client(timeout=60.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hang up on slow or broken answers on purpose

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()

    # -- plan -----------------------------------------------------------------------------------

    def add(
        self,
        fault: Fault | list[Fault],
        *,
        times: int | None = 1,
        match: Matcher | None = None,
        once_per_request: bool = False,
    ) -> FaultProxy:
        """Append a rule; ``times=None`` keeps it forever (``once_per_request`` implies that).

        A list of faults is applied in turn: the rule's first use gets the first, and so on.
        """
        faults = tuple(fault) if isinstance(fault, list) else (fault,)
        with self._lock:
            self._rules.append(
                _Rule(faults, None if once_per_request else times, match, once_per_request)
            )
        return self

    def clear(self) -> None:
        """Forget the plan and the log (the proxy then forwards everything untouched)."""
        with self._lock:
            self._rules.clear()
            self.log.clear()

    def faults_applied(self) -> list[str]:
        with self._lock:
            return [s.fault for s in self.log if s.fault]

    def _choose(self, seen: Seen) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.match is not None and not rule.match(seen):
                    continue
                if rule.once_per_request:
                    if seen.key in rule.seen:
                        continue
                    rule.seen.add(seen.key)
                elif rule.times is not None and rule.used >= rule.times:
                    continue
                rule.used += 1
                return rule.faults[(rule.used - 1) % len(rule.faults)]
            return None

    # -- serving --------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if handler.command == "POST":
            params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        probe = Seen(handler.command, parts.path, params, at=time.monotonic())
        fault = self._choose(probe)
        seen = Seen(probe.method, probe.path, probe.params, fault.name if fault else "", probe.at)
        with self._lock:
            self.log.append(seen)

        if fault is not None and fault.wait_s and self._stopping.wait(fault.wait_s):
            return
        if fault is not None and fault.socket_action == "reset":
            self._reset(handler)
            return
        if fault is not None and fault.answer is not None:
            code, headers, data = fault.answer
            self._send(handler, Upstream(code, headers, data))
            return

        forwarded = self._forward(handler, parts.path, parts.query, body)
        if fault is not None and fault.alter is not None:
            forwarded = fault.alter(seen, forwarded)
        self._send(handler, forwarded, keep_length=bool(fault and fault.keep_length))

    def _forward(
        self, handler: BaseHTTPRequestHandler, path: str, query: str, body: bytes
    ) -> Upstream:
        url = self.upstream + path + (f"?{query}" if query else "")
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
        }
        try:
            response = self._client.request(handler.command, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            return Upstream(502, {"Content-Type": "text/plain"}, f"proxy: {exc}".encode())
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Upstream(response.status_code, kept, response.content)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, up: Upstream, *, keep_length: bool = False) -> None:
        body = up.body
        cut = up.headers.get("X-Fault-Cut")
        announced = len(body)
        if cut is not None:
            body = body[: int(cut)]
            if not keep_length:
                announced = len(body)
        try:
            handler.send_response(up.status)
            for name, value in up.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(announced))
            if cut is not None and keep_length:
                handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            return  # the client gave up first (a timeout fault)
        if cut is not None and keep_length:
            handler.close_connection = True

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        sock = handler.connection
        with suppress(OSError):
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashing backend would.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        with suppress(OSError):
            sock.close()

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()

"""The network side of :mod:`finops_cli.http_client`'s per-attempt deadline: an httpx transport
whose every socket operation waits at most until the attempt's deadline.

httpx's timeouts bound each socket operation (connect, each write, each read), never their sum:
a server that trickles its status line and headers a byte at a time resets the read timeout
with every byte and holds a request for as long as it likes. Here the timeout handed to every
``connect``, TLS handshake, ``write`` and ``read`` is clamped to the time left before the
deadline of the attempt in progress (:data:`finops_cli.http_client.BUDGET`, a context variable
the client sets around each attempt), and an operation that would start past it fails at once
with httpcore's own timeout. The total is then bounded by the deadline plus scheduling slack,
whichever phase the server stalls in. With no deadline set, the timeouts pass unchanged.

How: an ``httpcore.NetworkBackend`` (public httpcore API) wraps ``httpcore.SyncBackend`` and its
streams; :class:`DeadlineTransport` is an ``httpx.BaseTransport`` on ``httpcore.ConnectionPool``
with that backend, doing what ``httpx.HTTPTransport.handle_request`` does (convert the request
and response, map httpcore's exceptions to httpx's); that transport cannot be handed a backend,
and its exception mapping is not public. Proxies from the environment, which ``httpx.Client``
only honours for its own transports, are rebuilt as ``mounts`` (:func:`environment_mounts`),
matched by httpx as before.

Why not a watchdog that shuts the socket down at the deadline: the socket is only reachable
through a response (after the headers, too late) or a trace hook, keep-alive connections need
it re-armed per request, every request needs a timer thread, and a shut socket reads as "server
disconnected", not as a timeout. Clamping needs none of that and stays on one thread.

Not covered: the DNS lookup (``getaddrinfo`` takes no timeout), and a single ``write`` of a body
larger than the socket buffer, which the OS may split into several sends each allowed the time
left (finops sends queries of a few KiB).

Imported only when a client is built: httpcore costs about 14 ms to import, as it does when
httpx builds its own transport.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from finops_cli.http_client import BUDGET

__all__ = ["DeadlineBackend", "DeadlineTransport", "environment_mounts"]

# httpx's defaults (httpx.Limits() has no defaults of its own for the first two).
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


def time_left(timeout: float | None, late: type[Exception]) -> float | None:
    """``timeout`` clamped to what is left of the attempt's deadline; ``late`` when none is."""
    budget = BUDGET.get()
    if budget is None:
        return timeout
    left = budget.deadline - time.monotonic()
    if left <= 0:
        raise late("timed out")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the deadline of the attempt using it (a
    kept-alive connection serves several attempts, each with its own deadline)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))
        budget = BUDGET.get()
        if budget is not None:
            budget.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        budget = BUDGET.get()
        if budget is not None:
            budget.received = 0  # a proxy's CONNECT answer is not the server's
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking socket backend, with :class:`DeadlineStream` streams."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._inner.connect_tcp(host, port, left, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's exceptions as httpx's, the most specific first (what httpx.HTTPTransport maps).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _EXCEPTIONS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc  # the cause chain keeps an ssl.SSLError visible
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _as_httpx_errors():
                close()


class DeadlineTransport(httpx.BaseTransport):
    """An HTTP/1.1 connection pool (keep-alive, httpx's limits) on :class:`DeadlineBackend`,
    direct or through ``proxy``."""

    def __init__(self, ssl_context: ssl.SSLContext | None, proxy: httpx.Proxy | None = None):
        through = None
        if proxy is not None:
            through = httpcore.Proxy(
                url=httpcore.URL(
                    scheme=proxy.url.raw_scheme,
                    host=proxy.url.raw_host,
                    port=proxy.url.port,
                    target=proxy.url.raw_path,
                ),
                auth=proxy.raw_auth,
                headers=proxy.headers.raw,
                ssl_context=proxy.ssl_context,
            )
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            proxy=through,
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("DeadlineTransport sends synchronous requests only")
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = self._pool.handle_request(core)
        if not isinstance(answer.stream, Iterable):
            raise TypeError("httpcore answered with an asynchronous stream")  # pragma: no cover
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def environment_mounts(ssl_context: ssl.SSLContext | None) -> dict[str, httpx.BaseTransport | None]:
    """``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` as ``httpx.Client`` mounts,
    read as httpx reads them for its own transports (``httpx.Client(trust_env=True)`` ignores
    them once it is handed a transport). A ``None`` mount means "no proxy"."""
    from urllib.request import getproxies  # what httpx reads them with; urllib is loaded already

    found = getproxies()
    patterns: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme]
            patterns[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (name.strip() for name in found.get("no", "").split(",")):
        if host == "*":
            return {}  # NO_PROXY=*: no proxy at all
        if host:
            patterns[_no_proxy_pattern(host)] = None
    if not any(patterns.values()):
        return {}
    return {
        pattern: None if url is None else DeadlineTransport(ssl_context, httpx.Proxy(url))
        for pattern, url in patterns.items()
    }


def _no_proxy_pattern(host: str) -> str:
    """One ``NO_PROXY`` entry as an httpx URL pattern (curl's rules, as httpx applies them)."""
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host.split("/", maxsplit=1)[0])
    except ValueError:
        if host.lower() == "localhost":
            return f"all://{host}"
        return f"all://*{host}"  # example.com: it and its subdomains; .example.com: those only
    return f"all://{host}" if address.version == 4 else f"all://[{host}]"

"""The one HTTP client behind every backend finops talks to: Prometheus, OpenCost and webhooks.

Each caller keeps only what is its own: which answers it retries (``retryable(answer)``), how it
decodes a body and how it words a refusal. Everything else lives here once, so the three can no
longer drift apart:

* **Sending and retries.** One retry loop: transport errors (timeouts, resets, refused
  connections) and the answers ``retryable`` picks (by default 429 and 5xx) are asked again up to
  ``retries`` times, with jittered exponential backoff (0.5 s doubling, capped at 10 s). A numeric
  ``Retry-After`` on a 429 is honoured, up to 30 s. TLS errors are not retried: a certificate does
  not heal by asking again.
* **A bounded answer.** The body is streamed and refused as soon as it passes ``max_body_bytes``
  (default :data:`DEFAULT_MAX_BODY_BYTES`, 512 MiB; a larger ``Content-Length`` is refused before
  reading), so a runaway answer costs at most the cap in memory, never the whole answer.
* **A total deadline.** ``timeout_s`` bounds each attempt as a whole (connect, TLS, sending the
  request, status line, headers and body), not only each read: every socket operation waits at
  most for the time left before the attempt's deadline (:data:`BUDGET`, clamped by the transport
  in :mod:`finops_cli.http_deadline`, which says why that and not a watchdog), so a server that
  trickles its headers or body a byte a second is cut off at the deadline instead of holding the
  command for as long as it keeps trickling. A server that had begun to answer when the deadline
  passed is not asked again: it is alive but slow, and the same answer would take as long a
  second time. One that sent nothing within the timeout is retried as before.
* **TLS defaults.** The system CA store (loaded once per process), or ``--ca-bundle``; plain
  ``http://`` never loads one. Redirects are not followed: they usually mean a login page.
* **Warnings, once per run per service**: credentials sent over plain ``http://`` to a host that
  is not loopback, and TLS verification turned off (:func:`security_warnings`).
* **Secrets masked** (:mod:`finops_cli.redact`) in every error, log line and echoed server text:
  configured tokens, passwords, header values, URL userinfo and query strings.
* **Error wording.** One line per failure that names the service, says what really failed (with
  verification off, a TLS failure is a handshake problem, not a certificate one) and which flag
  or setting fixes it (:class:`Service`).

Why not a retry library or an httpx transport: httpx's ``HTTPTransport(retries=...)`` retries
connection failures only, not 5xx, timeouts or ``Retry-After``. ``tenacity`` 9.2 and ``stamina``
26.1 would each be a new dependency for a 20-line loop; on top of httpx they cost little at
start-up (measured with ``python -X importtime``: +4.5 ms and +7.5 ms; 22-48 ms alone), but the
loop here needs the attempt count in its wording, a per-caller ``retryable(answer)``, the server's
``Retry-After``, no retry past a body deadline and an injectable ``sleep`` for tests, all of
which would be glue around their decorators. httpx itself is imported only when a client is
built, never on the CLI's start-up path.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import httpx

from finops_cli.errors import FinopsError, SourceError, UsageError
from finops_cli.http_url import BaseUrl, parse_base_url, security_warnings
from finops_cli.redact import mask_text

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Answer",
    "BaseUrl",
    "Closing",
    "HttpClient",
    "Service",
    "Transport",
    "decode_json",
    "log_warning",
    "parse_base_url",
    "retry_429_and_5xx",
    "security_warnings",
]

DEFAULT_MAX_BODY_BYTES = 512 * 1024 * 1024  # 512 MiB: far above any answer finops asks for
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
RETRY_AFTER_CAP_S = 30.0
SNIPPET_CHARS = 80

_warn_log = logging.getLogger("finops")
Transport = httpx.BaseTransport  # what tests hand in instead of the network


def log_warning(message: str) -> None:
    """The default ``on_warning``: the ``finops`` logger (stderr once logging is configured)."""
    _warn_log.warning("%s", message)


_told_lock = threading.Lock()
_told: set[str] = set()  # security warnings already given in this process (one run)


@dataclass(frozen=True)
class Service:
    """Who is on the other end, and the words that tell a user how to fix a failure.

    ``name`` is how a failure names it ("the server", "OpenCost"), ``where`` how a message places
    it ("Prometheus at http://prom:9090"); ``url_hint`` is what to check when it cannot be
    reached; ``slow_hint`` what to do when it is too slow; ``busy_hint`` what to try when it keeps
    failing; ``credentials`` where credentials for it are set (OpenCost and webhooks do not take
    ``--header``, so their messages must not suggest it).
    """

    name: str
    where: str
    url_hint: str
    slow_hint: str
    credentials: str = ""
    busy_hint: str = ""
    error: type[FinopsError] = SourceError


@dataclass(frozen=True)
class Answer:
    """A whole answer: status, headers and the body, read within the size cap and deadline."""

    status: int
    headers: Mapping[str, str]
    body: bytes | bytearray

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return decode_json(self.body)


def decode_json(body: bytes | bytearray) -> Any:
    """The parsed body; ``ValueError`` for anything that is not JSON, including an array nested
    too deep for the parser (200,000 ``[``), which would otherwise escape as RecursionError."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None


def retry_429_and_5xx(answer: Answer) -> bool:
    """The default ``retryable``: a busy or failing server may answer the next attempt."""
    return answer.status == 429 or answer.status >= 500


@dataclass
class Budget:
    """The attempt in progress: its deadline (``time.monotonic()``) and the bytes the network
    gave it so far (status line, headers and body), which tell a server that never answered from
    one that was still answering when the deadline passed."""

    deadline: float
    received: int = 0


# Set around each attempt; :mod:`finops_cli.http_deadline` clamps every socket operation to it.
BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "finops_http_budget", default=None
)


class _TooSlowError(Exception):
    """The deadline passed while the answer was still arriving: ``received`` bytes of its body,
    or, ``in_headers``, of its status line and headers."""

    def __init__(self, received: int, *, in_headers: bool = False) -> None:
        self.received = received
        self.in_headers = in_headers


class _TooLargeError(Exception):
    """The body is over ``max_body_bytes`` (``received`` so far, or as declared)."""

    def __init__(self, received: int) -> None:
        self.received = received


class _Closable(Protocol):
    def close(self) -> None: ...


class Closing:
    """``close()`` and the context-manager protocol for a class holding a client in ``_http``."""

    _http: _Closable

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class HttpClient(Closing):
    """Sends requests for one :class:`Service`; thread-safe (one httpx pool, counters locked).

    ``requests_sent`` counts attempts (the load the server sees) and ``bytes_received`` the bodies
    read. ``max_concurrency`` caps attempts in flight; a backoff sleeps outside that cap.
    """

    _http: httpx.Client

    def __init__(
        self,
        service: Service,
        base: BaseUrl,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        verify: bool | str | Path = True,
        timeout_s: float = 30.0,
        retries: int = 3,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        retryable: Callable[[Answer], bool] = retry_429_and_5xx,
        backoff_base_s: float = BACKOFF_BASE_S,
        max_concurrency: int | None = None,
        sends_secret: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_warning: Callable[[str], None] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.service = service
        self.base = base
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.max_body_bytes = max_body_bytes
        self._retryable = retryable
        self._backoff_base_s = backoff_base_s
        self._sleep = sleep
        self._log = log or logging.getLogger("finops.http")
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency or 1))
        self._capped = max_concurrency is not None
        self.requests_sent = 0
        self.bytes_received = 0

        sent = {"Accept": "application/json", "User-Agent": "finops-cli", **(headers or {})}
        auth = httpx.BasicAuth(base.username, base.password) if base.username else None
        # The URL's query may hold a key (?apikey=...): mask its long values, not "true" or "1",
        # which would blank every such word in a message.
        words = [base.password, base.query, *(v for _, v in base.params if len(v) >= 8)]
        for value in (headers or {}).values():
            words += [value, *value.split()[1:]]  # "Bearer <token>": the token alone too
        if base.username:  # the base64 of user:password, as the Authorization header has it
            words.append(base64.b64encode(f"{base.username}:{base.password}".encode()).decode())
        self._secrets = [*words, *secrets]
        self.has_credentials = bool(headers) or bool(base.username)
        self.verify_off = verify is False
        if sends_secret is None:
            sends_secret = self.has_credentials
        emit = on_warning or log_warning
        for message in security_warnings(
            service.where, base, sends_secret=sends_secret, verify_off=self.verify_off
        ):
            with _told_lock:
                if message in _told:
                    continue
                _told.add(message)
            emit(message)
        mounts: dict[str, httpx.BaseTransport | None] | None = None
        if transport is None:
            from finops_cli import http_deadline  # httpcore: only once a client is built

            # Plain http never uses TLS (and redirects are not followed): no CA bundle to load.
            tls = _verify(verify) if base.scheme == "https" else None
            transport = http_deadline.DeadlineTransport(tls)
            mounts = http_deadline.environment_mounts(tls)
        self._http = httpx.Client(
            headers=sent,
            auth=auth,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            mounts=mounts,
            follow_redirects=False,
        )

    # -- sending ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str = "",
        *,
        params: list[tuple[str, str]] | None = None,
        form: dict[str, list[str]] | None = None,
        json_body: Any = None,
        shown: object = None,
    ) -> tuple[Answer, int]:
        """The answer and the attempts it took: the first that is not ``retryable``, or the last.

        Raises the service's error class, in one line, when no answer came (transport failure
        after the retries, a TLS failure, a body over the cap or past the deadline). ``shown`` is
        what the debug log prints for the parameters (never headers).
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._attempt(method, path, params, form, json_body, shown)
            except httpx.TransportError as exc:
                if attempt > self.retries or not _retryable_error(exc):
                    raise self._transport_error(exc, attempt) from None
                self._sleep(self._backoff(attempt))
                continue
            except httpx.HTTPError as exc:  # a body that does not decompress, say: not transient
                raise self.service.error(
                    f"{self.service.where} sent an answer that could not be read: "
                    f"{self.clean(str(exc) or type(exc).__name__, 160)}"
                ) from None
            except _TooLargeError as exc:
                raise self.service.error(self._too_large(exc.received)) from None
            except _TooSlowError as exc:
                raise self.service.error(self._too_slow(exc)) from None
            if attempt <= self.retries and self._retryable(answer):
                self._sleep(_retry_after(answer) or self._backoff(attempt))
                continue
            return answer, attempt

    def _attempt(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None,
        form: dict[str, list[str]] | None,
        json_body: Any,
        shown: object,
    ) -> Answer:
        label = f"{method} {path or '(URL hidden)'}"
        request = self._http.build_request(
            method,
            self.base.target + path,
            params=tuple(params) if params is not None else None,
            data=form,
            json=json_body,
        )
        body = bytearray()
        with self._slots if self._capped else _NO_CAP:
            with self._lock:
                self.requests_sent += 1
            # The clock starts once the attempt may go: waiting for a slot is not the server's.
            started = time.monotonic()
            budget = Budget(started + self.timeout_s)
            token = BUDGET.set(budget)  # every socket operation of this attempt ends by then
            try:
                response = self._send(request, budget)
                try:
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > self.max_body_bytes:
                        raise _TooLargeError(int(declared))
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > self.max_body_bytes:
                            raise _TooLargeError(len(body))
                        if time.monotonic() > budget.deadline:
                            raise _TooSlowError(len(body))
                except httpx.TimeoutException:
                    # A read past the deadline (each read waits at most until then): the answer
                    # had begun, so the server is slow, not gone.
                    raise _TooSlowError(len(body)) from None
                finally:
                    response.close()
                    with self._lock:
                        self.bytes_received += len(body)
            except (httpx.HTTPError, _TooLargeError, _TooSlowError) as exc:
                self._log.debug(
                    "%s params=%s failed after %.0f ms: %s",
                    label,
                    shown,
                    (time.monotonic() - started) * 1000,
                    type(exc).__name__.lstrip("_"),
                )
                raise
            finally:
                BUDGET.reset(token)
        self._log.debug(
            "%s params=%s -> HTTP %d, %d bytes in %.0f ms",
            label,
            shown,
            response.status_code,
            len(body),
            (time.monotonic() - started) * 1000,
        )
        # The bytearray itself, not a bytes copy: a copy would double the peak for a large answer.
        return Answer(response.status_code, response.headers, body)

    def _send(self, request: httpx.Request, budget: Budget) -> httpx.Response:
        """Send ``request`` and read up to the end of the headers, by ``budget``'s deadline."""
        try:
            return self._http.send(request, stream=True)
        except httpx.TimeoutException:
            if budget.received:  # the status line or headers had begun: slow, not gone
                raise _TooSlowError(budget.received, in_headers=True) from None
            raise

    def _backoff(self, attempt: int) -> float:
        ceiling = min(BACKOFF_CAP_S, self._backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    # -- wording ----------------------------------------------------------------------------

    def clean(self, text: str, limit: int) -> str:
        """One printable line, secrets masked: server text may echo headers or the URL back."""
        text = mask_text(text, self._secrets)
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def snippet(self, answer: Answer) -> str:
        """The start of a body, for a message: ``starts '...'`` or ``empty body``."""
        text = answer.body[: SNIPPET_CHARS * 4].decode("utf-8", "replace")
        snippet = self.clean(text, SNIPPET_CHARS)
        return f"starts {snippet!r}" if snippet else "empty body"

    def credentials_error(self, status: int, extra: str = "") -> FinopsError:
        """401/403: refused credentials we sent, or credentials wanted that we did not send."""
        where = self.service.where
        if self.has_credentials:
            return self.service.error(
                f"{where} refused the credentials (HTTP {status}); check the values given "
                f"with {self.service.credentials}"
            )
        return self.service.error(
            f"{where} requires credentials (HTTP {status}); {extra}set them with "
            f"{self.service.credentials}"
        )

    def status_error(self, answer: Answer, path: str, attempts: int, detail: str) -> FinopsError:
        """The wording shared by every API for a failing, redirecting or unexpected status."""
        where, code = self.service.where, answer.status
        if code == 429 or code >= 500:
            return self.service.error(
                f"{where} still failed after {attempts} attempt(s): last answer HTTP {code}, "
                f"{detail}; {self.service.name} or a proxy in front of it is struggling"
                f"{self.service.busy_hint}, retry later"
            )
        if 300 <= code < 400:
            return self.service.error(
                f"{where} answered with a redirect (HTTP {code}); point {self.service.url_hint} "
                "at the API itself, not at a login page or proxy"
            )
        return self.service.error(f"{where} answered HTTP {code} for {path}: {detail}")

    def _too_large(self, received: int) -> str:
        return (
            f"{self.service.where} sent an answer over the {_mib(self.max_body_bytes)} limit "
            f"(refused after {_mib(received)}); ask for less (a shorter --window, --cluster or a "
            "filter such as --team) or raise max_response_mb (FINOPS_MAX_RESPONSE_MB)"
        )

    def _too_slow(self, exc: _TooSlowError) -> str:
        if exc.in_headers:
            return (
                f"{self.service.where} did not answer within {self.timeout_s:g} s: its status "
                f"line and headers were still arriving when the deadline passed "
                f"({exc.received:,} bytes received); raise --timeout{self.service.slow_hint}"
            )
        return (
            f"{self.service.where} was still sending its answer when the {self.timeout_s:g} s "
            f"deadline passed ({exc.received:,} bytes received); raise --timeout"
            f"{self.service.slow_hint}"
        )

    def _transport_error(self, exc: httpx.TransportError, attempts: int) -> FinopsError:
        where = self.service.where
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, httpx.TimeoutException):
            return self.service.error(
                f"{where} did not answer within {self.timeout_s:g} s{tries}; raise --timeout"
                f"{self.service.slow_hint}"
            )
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError):
            reason = self.clean(getattr(cause, "reason", None) or str(cause), 120)
            if isinstance(cause, ssl.SSLCertVerificationError):
                return self.service.error(
                    f"TLS verification failed for {where}: {reason} (pass the server's CA with "
                    "--ca-bundle, or --insecure-skip-tls-verify to skip verification)"
                )
            if self.verify_off:
                return self.service.error(
                    f"TLS handshake with {where} failed: {reason} (certificate verification is "
                    "off, so this is not a certificate problem: does the server speak TLS on "
                    f"this port? check {self.service.url_hint})"
                )
            return self.service.error(
                f"TLS handshake with {where} failed: {reason} (check {self.service.url_hint}: "
                "does the server speak TLS on this port?)"
            )
        if isinstance(cause, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(cause, socket.gaierror):
            reason = "host name not found"
        else:
            reason = self.clean(str(exc) or type(exc).__name__, 120)
        return self.service.error(
            f"cannot reach {where}: {reason}{tries} (check {self.service.url_hint})"
        )


class _NoCap:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_CAP = _NoCap()


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,} bytes"


def _retryable_error(exc: httpx.TransportError) -> bool:
    if isinstance(_root_cause(exc), ssl.SSLError):
        return False  # a certificate problem does not heal by asking again
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return exc


def _retry_after(answer: Answer) -> float | None:
    if answer.status != 429:
        return None
    try:
        seconds = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None  # an HTTP-date or garbage: fall back to our own backoff
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _verify(verify: bool | str | Path) -> ssl.SSLContext:
    if verify is False:
        return httpx.create_ssl_context(verify=False)
    if verify is True:
        return _default_tls()
    try:
        return ssl.create_default_context(cafile=str(verify))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use --ca-bundle {verify}: {exc.strerror or exc}") from exc


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """Loading the CA store costs ~70 ms; share one context instead of paying it per client."""
    return httpx.create_ssl_context()

"""A small synchronous client for Prometheus-compatible HTTP query APIs.

Prometheus, Thanos Query, Mimir and VictoriaMetrics all speak the same ``/api/v1`` dialect; they
differ in where the API is mounted (a path prefix) and in a few optional parameters. Everything a
user can get wrong (URL, credentials, TLS, a bad query, a flaky ingress) ends as one
:class:`~finops_cli.errors.SourceError` line that says what to fix and never shows a secret.
"""

from __future__ import annotations

import base64
import functools
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

import httpx

from finops_cli.errors import SourceError, UsageError

__all__ = ["InstantSample", "PrometheusClient", "PrometheusSettingsLike", "RangeSeries"]

log = logging.getLogger("finops.prometheus")
_warn_log = logging.getLogger("finops")

MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses (end - start) / step above this
_STEPS_PER_CHUNK = MAX_POINTS_PER_SERIES - 1
_MAX_GET_QUERY_CHARS = 1_500  # beyond this, proxies start truncating or refusing URLs
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 10.0
_RETRY_AFTER_CAP_S = 30.0
_SNIPPET_CHARS = 80
_MIN_REDACT_LEN = 4  # redacting 1-3 character "secrets" would shred every message

# What servers answer (HTTP 422, or 400) when one query would load more than a per-query limit
# allows: samples, points, series, chunks, memory or time range. All shrink with a shorter range.
_LIMIT_ERROR = re.compile(
    r"would load too many samples into memory"  # PromQL engine: Prometheus, Thanos, Mimir, Cortex
    r"|exceeded maximum number of samples"  # Cortex ingesters (chunks storage)
    r"|the query (?:hit|exceeded) the (?:max|aggregated)"  # Cortex / Mimir queriers
    r"|the estimated number of chunks for the query exceeded"  # Mimir
    r"|the query time range exceeds the limit"  # Mimir / Cortex max query length
    r"|exceeded (?:series|chunks|bytes|samples) limit"  # Thanos / Cortex store-gateways
    r"|cannot select more than -search\.maxSamplesPerQuery"  # VictoriaMetrics, and below
    r"|cannot process more than \d+ samples per series"
    r"|the number of matching timeseries exceeds"
    r"|too many points for the given step"  # subqueries too: 30,000 points of S by default
    r"|not enough memory for processing"
    # Out of time rather than memory, which a shorter range cures the same way: Prometheus
    # (--query.timeout, HTTP 503, errorType timeout) and VictoriaMetrics (-search.maxQueryDuration).
    r"|query timed out in"
    r"|timeout exceeded (?:before starting the query processing|during query execution)",
    re.IGNORECASE,
)
_PROMQL_ENGINE_LIMIT = "would load too many samples"


if TYPE_CHECKING:
    # The settings' own declarations (finops_cli/settings/tables.py) are the contract; a copy of
    # them here as a Protocol was one more place to keep in step with every new setting.
    from finops_cli.settings import PrometheusSettings as PrometheusSettingsLike
else:  # not imported at run time: this module stays free of the settings layer
    PrometheusSettingsLike = Any


@dataclass(frozen=True)
class InstantSample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    timestamps: list[float]  # unix seconds, ascending, no duplicates
    values: list[float]


def _default_on_warning(message: str) -> None:
    _warn_log.warning("%s", message)


class PrometheusClient:
    """Thread-safe: one instance may serve many worker threads, at most ``max_concurrency`` at once.

    ``queries_issued`` counts HTTP requests sent (retries included, since that is the load the
    server sees), ``bytes_received`` the response bodies and ``range_splits`` the range queries
    split in two because the server found them over a per-query limit; all exist for benchmarks.
    """

    def __init__(
        self,
        settings: PrometheusSettingsLike,
        *,
        transport: httpx.BaseTransport | None = None,
        on_warning: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.url:
            raise UsageError("no Prometheus URL configured (set --prometheus-url)")
        parts, self.display_url = _split_url(settings.url)
        self._base = self.display_url
        self._url_params = parse_qsl(parts.query, keep_blank_values=True)

        headers = {"Accept": "application/json", "User-Agent": "finops-cli"}
        auth: httpx.BasicAuth | None = None
        username = settings.username or (unquote(parts.username) if parts.username else None)
        password = (
            settings.password.get_secret_value()
            if settings.password is not None
            else unquote(parts.password or "")
        )
        secrets = [password, unquote(parts.password or "")]
        if settings.bearer_token is not None:
            token = settings.bearer_token.get_secret_value()
            headers["Authorization"] = f"Bearer {token}"
            secrets.append(token)
        elif username:
            auth = httpx.BasicAuth(username, password)
            secrets.append(base64.b64encode(f"{username}:{password}".encode()).decode())
        for name, value in settings.headers.items():
            raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            headers[name] = raw
            secrets.append(raw)
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_REDACT_LEN}, key=len)[::-1]
        self._has_credentials = bool(
            settings.bearer_token is not None or username or settings.headers
        )

        self._thanos: list[tuple[str, str]] = []
        if settings.thanos_dedup is not None:
            self._thanos.append(("dedup", _bool(settings.thanos_dedup)))
        if settings.thanos_partial_response is not None:
            self._thanos.append(("partial_response", _bool(settings.thanos_partial_response)))

        self._timeout_s = settings.timeout_seconds
        self._retries = max(0, settings.retries)
        self._on_warning = on_warning or _default_on_warning
        self._sleep = sleep
        self._rng = random.Random()
        self._slots = threading.BoundedSemaphore(max(1, settings.max_concurrency))
        self._lock = threading.Lock()
        self.queries_issued = 0
        self.bytes_received = 0
        self.range_splits = 0
        # Distinct server warnings, in order: a partial answer (Thanos partial_response, a
        # remote-read error) repeats on every query, so it is reported once and kept for notes.
        self.warnings: list[str] = []
        self._told: set[str] = set()
        self._http = httpx.Client(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            # Plain http never uses TLS (and redirects are not followed): no CA bundle to load.
            verify=_verify(settings) if parts.scheme == "https" else False,
            transport=transport,
            follow_redirects=False,
        )

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- queries ----------------------------------------------------------------------------

    def instant(self, query: str, at: datetime) -> list[InstantSample]:
        data = self._call("/api/v1/query", [("query", query), ("time", _ts(at))])
        kind, result = _result(data)
        try:
            if kind == "scalar":
                return [InstantSample({}, float(result[1]))]
            if kind == "vector":
                return [InstantSample(dict(r["metric"]), float(r["value"][1])) for r in result]
        except (KeyError, TypeError, ValueError, IndexError):
            raise self._malformed_error(kind) from None
        raise self._shape_error(kind, "vector or scalar")

    def range(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[RangeSeries]:
        """Splits long ranges because Prometheus refuses more than 11,000 points per series, and
        any range the server finds over a per-query limit (see :meth:`_range_chunk`)."""
        if step <= timedelta(0):
            raise UsageError(f"the query step must be positive (got {step})")
        if end < start:
            raise UsageError(f"the query range ends ({end}) before it starts ({start})")
        merged: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + step * _STEPS_PER_CHUNK)
            self._range_chunk(query, chunk_start, chunk_end, step, merged)
            chunk_start = chunk_end + step
        out = []
        for key, points in merged.items():
            stamps = sorted(points)
            out.append(RangeSeries(dict(key), stamps, [points[t] for t in stamps]))
        return out

    def _range_chunk(
        self,
        query: str,
        start: datetime,
        end: datetime,
        step: timedelta,
        merged: dict[tuple[tuple[str, str], ...], dict[float, float]],
    ) -> None:
        """One ``query_range`` call, its series merged into ``merged``.

        A range the server finds over a per-query limit (samples, points, series...) is asked
        again as two halves cut on a step boundary, recursively: each step is evaluated on its
        own, so the halves' answers together are the whole's. A single step cannot be cut.
        """
        params = [
            ("query", query),
            ("start", _ts(start)),
            ("end", _ts(end)),
            ("step", _num(step.total_seconds())),
        ]
        try:
            data = self._call("/api/v1/query_range", params)
        except ServerLimitError as exc:
            steps = (end - start) // step + 1
            if steps < 2:
                raise SourceError(exc.single_step(step)) from None
            middle = start + step * (steps // 2)
            with self._lock:
                self.range_splits += 1
            log.debug(
                "query_range start=%s end=%s (%d steps) is over a server limit; querying it "
                "in two halves",
                _ts(start),
                _ts(end),
                steps,
            )
            self._range_chunk(query, start, middle - step, step, merged)
            self._range_chunk(query, middle, end, step, merged)
            return
        kind, result = _result(data)
        if kind != "matrix":
            raise self._shape_error(kind, "matrix")
        try:
            for series in result:
                answer = {float(ts): float(value) for ts, value in series["values"]}
                key = tuple(sorted(series["metric"].items()))
                points = merged.get(key)
                if points is None:  # the usual case: one chunk per series
                    merged[key] = answer
                else:  # chunks do not overlap; were they to, the first answer would stand
                    points.update({t: v for t, v in answer.items() if t not in points})
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._malformed_error(kind) from None

    def label_values(
        self, label: str, match: Sequence[str], start: datetime, end: datetime
    ) -> list[str]:
        params = [("match[]", m) for m in match] + [("start", _ts(start)), ("end", _ts(end))]
        # Prometheus serves this endpoint over GET only, so a long match[] cannot move to POST.
        data = self._call(f"/api/v1/label/{quote(label, safe='')}/values", params, post_ok=False)
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise self._shape_error(type(data).__name__, "a list of label values")
        return data

    # -- transport --------------------------------------------------------------------------

    def _call(self, path: str, params: list[tuple[str, str]], *, post_ok: bool = True) -> Any:
        all_params = [*self._url_params, *params, *self._thanos]
        long_query = len(urlencode(all_params)) > _MAX_GET_QUERY_CHARS
        method = "POST" if post_ok and long_query else "GET"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, path, all_params, params)
            except httpx.TransportError as exc:
                if attempt > self._retries or not _retryable(exc):
                    raise self._transport_error(exc, attempt) from exc
                self._sleep(self._backoff(attempt))
                continue
            code = response.status_code
            over_limit = code == 503 and _limit_reason(response.text) is not None
            if (code == 429 or code >= 500) and attempt <= self._retries and not over_limit:
                self._sleep(_retry_after(response) or self._backoff(attempt))
                continue
            return self._decode(response, path, attempt)

    def _send(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        shown: list[tuple[str, str]],
    ) -> httpx.Response:
        url = self._base + path
        started = time.monotonic()
        with self._slots:
            with self._lock:
                self.queries_issued += 1
            try:
                if method == "POST":
                    response = self._http.post(url, data=_dict_multi(params))
                else:
                    response = self._http.get(url, params=tuple(params))
            except httpx.TransportError as exc:
                log.debug(
                    "%s %s params=%s failed after %.0f ms: %s",
                    method,
                    path,
                    shown,
                    (time.monotonic() - started) * 1000,
                    type(exc).__name__,
                )
                raise
        with self._lock:
            self.bytes_received += len(response.content)
        log.debug(
            "%s %s params=%s -> HTTP %d in %.0f ms",
            method,
            path,
            shown,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _backoff(self, attempt: int) -> float:
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    # -- response and error interpretation --------------------------------------------------

    def _decode(self, response: httpx.Response, path: str, attempts: int) -> Any:
        code = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        envelope = isinstance(body, dict) and body.get("status") in ("success", "error")
        if envelope:
            for key, label in (("warnings", "warning"), ("infos", "info")):
                texts = body.get(key) or []
                for text in texts if isinstance(texts, list) else [texts]:
                    self._warn_once(label, self._clean(str(text), 500))
        server_error = self._server_error(body) if envelope else None
        where = f"Prometheus at {self.display_url}"

        if 200 <= code < 300:
            if not envelope:
                raise SourceError(self._not_json(response, where))
            if body["status"] == "error":
                raise SourceError(f"{where} returned an error: {server_error}")
            return body.get("data")
        if code in (400, 413, 422, 503):
            limit = _limit_reason(str(body.get("error")) if envelope else response.text)
            if limit:
                raise ServerLimitError(where, self._clean(limit, 240))
        if code in (400, 422):
            reason = self._clean(str(body.get("error") or ""), 500) if envelope else ""
            reason = reason or f"HTTP {code}, {self._snippet(response)}"
            raise SourceError(f"Prometheus rejected the query: {reason}")
        if code in (401, 403):
            if self._has_credentials:
                raise SourceError(
                    f"{where} refused the credentials (HTTP {code}); check the values given "
                    "with --bearer-token, --basic-auth or --header"
                )
            raise SourceError(
                f"{where} requires credentials (HTTP {code}); set them with "
                "--bearer-token, --basic-auth or --header"
            )
        if code == 404:
            raise SourceError(
                f"{where} has no API path {path} (HTTP 404); check the path prefix in "
                "--prometheus-url (e.g. /prometheus for Mimir, /select/0/prometheus for "
                "VictoriaMetrics cluster)"
            )
        if code == 429 or code >= 500:
            detail = server_error or self._not_json(response, "", short=True)
            raise SourceError(
                f"{where} still failed after {attempts} attempt(s): last answer HTTP {code}, "
                f"{detail}; the server or a proxy in front of it is struggling, retry later"
            )
        if 300 <= code < 400:
            raise SourceError(
                f"{where} answered with a redirect (HTTP {code}); point --prometheus-url at the "
                "API itself, not at a login page or proxy"
            )
        raise SourceError(f"{where} answered HTTP {code} for {path}: {self._snippet(response)}")

    def _warn_once(self, label: str, text: str) -> None:
        message = f"Prometheus {label}: {text}"
        with self._lock:
            if message in self._told:
                return
            self._told.add(message)
            if label == "warning":
                self.warnings.append(text)
        self._on_warning(message)

    def _server_error(self, body: dict[str, Any]) -> str:
        kind = self._clean(str(body.get("errorType") or "error"), 60)
        return f"{kind}: {self._clean(str(body.get('error') or 'no message'), 500)}"

    def _not_json(self, response: httpx.Response, where: str, *, short: bool = False) -> str:
        text = f"body was not Prometheus JSON ({self._snippet(response)})"
        if short:
            return text
        if response.content.lstrip()[:1] in (b"{", b"["):
            return (
                f"{where} answered HTTP {response.status_code} but the body was not Prometheus "
                f"JSON: it is cut off or malformed ({len(response.content)} bytes, "
                f"{self._snippet(response)}); a proxy in front of it may be truncating answers, "
                "retry or query a shorter range"
            )
        return (
            f"{where} answered HTTP {response.status_code} but the {text}; check "
            "--prometheus-url (is it the Prometheus API, not a UI or ingress page?)"
        )

    def _snippet(self, response: httpx.Response) -> str:
        text = response.content[: _SNIPPET_CHARS * 4].decode("utf-8", "replace")
        snippet = self._clean(text, _SNIPPET_CHARS)
        return f"starts {snippet!r}" if snippet else "empty body"

    def _transport_error(self, exc: httpx.TransportError, attempts: int) -> SourceError:
        where = f"Prometheus at {self.display_url}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, httpx.TimeoutException):
            return SourceError(
                f"{where} did not answer within {self._timeout_s:g} s{tries}; raise --timeout "
                "or query a shorter range"
            )
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError):
            reason = self._clean(getattr(cause, "reason", None) or str(cause), 120)
            return SourceError(
                f"TLS verification failed for {where}: {reason} (pass the server's CA with "
                "--ca-bundle, or --insecure-skip-tls-verify to skip verification)"
            )
        if isinstance(cause, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(cause, socket.gaierror):
            reason = "host name not found"
        else:
            reason = self._clean(str(exc) or type(exc).__name__, 120)
        return SourceError(
            f"cannot reach Prometheus at {self.display_url}: {reason}{tries} "
            "(check --prometheus-url)"
        )

    def _shape_error(self, kind: str, expected: str) -> SourceError:
        return SourceError(
            f"Prometheus at {self.display_url} returned {self._clean(str(kind), 40)!r} where "
            f"{expected} was expected; is the query right for this command?"
        )

    def _malformed_error(self, kind: str) -> SourceError:
        return SourceError(
            f"Prometheus at {self.display_url} returned a malformed {kind} (a series without "
            "labels or samples, or a sample value that is not a number); is --prometheus-url a "
            "Prometheus-compatible API?"
        )

    def _clean(self, text: str, limit: int) -> str:
        """One printable line, secrets masked: server text may echo headers back at us."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


class ServerLimitError(SourceError):
    """The server refused a query as over one of its per-query limits.

    ``reason`` is the server's text from where it names the limit (VictoriaMetrics echoes the
    whole query before it). The PromQL engine's text does not name its flag, so it is added.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        self.flag = ""
        if _PROMQL_ENGINE_LIMIT in reason:
            self.flag = " (Prometheus: --query.max-samples; Mimir and Cortex: -querier.max-samples)"
        elif "query timed out in" in reason:
            self.flag = " (Prometheus: --query.timeout)"
        super().__init__(
            f"{where} refused the query as over a server limit: {reason}; narrow it with "
            "--cluster or a filter such as --team or --namespace, use a shorter --window, or "
            f"raise the limit on the server{self.flag}"
        )

    def single_step(self, step: timedelta) -> str:
        return (
            f"{self.where} refused even a single {_num(step.total_seconds())} s step of the "
            f"query as over a server limit: {self.reason}; a shorter window will not help: "
            "narrow it with --cluster or a filter such as --team or --namespace, or raise the "
            f"limit on the server{self.flag}"
        )


def _split_url(url: str) -> tuple[SplitResult, str]:
    """The URL's parts, and the URL shown and queried: userinfo (turned into basic auth by the
    caller) and any query string dropped. The URL itself is never echoed: it may hold a password.
    """
    bad_url = UsageError(
        "--prometheus-url must be an http:// or https:// URL with a host, "
        "e.g. http://prometheus:9090 or https://mimir.example/prometheus"
    )
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise bad_url from None
    hostport = parts.netloc.rpartition("@")[2]
    if parts.scheme not in ("http", "https") or not hostport:
        raise bad_url
    shown = f"{parts.scheme}://{hostport}{parts.path.rstrip('/')}"
    try:  # a host name IDNA cannot encode (☃.net, full-width letters) fails only here
        httpx.URL(shown)
    except (httpx.InvalidURL, ValueError):
        raise bad_url from None
    return parts, shown


def _limit_reason(text: str) -> str | None:
    """The clause of a server error that says a per-query limit was hit, or None.

    VictoriaMetrics puts the whole query in front, Thanos and Cortex an RPC path: both dropped.
    """
    found = _LIMIT_ERROR.search(text)
    if found is None:
        return None
    head = text[: found.start()]
    cut = max((head.rfind(sep) + len(sep) for sep in (": ", "desc = ") if sep in head), default=0)
    return text[cut:]


def _result(data: Any) -> tuple[str, Any]:
    if not isinstance(data, dict):
        return type(data).__name__, None
    return str(data.get("resultType")), data.get("result")


def _retryable(exc: httpx.TransportError) -> bool:
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


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code != 429:
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None  # an HTTP-date or garbage: fall back to our own backoff
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP_S)


def _verify(settings: PrometheusSettingsLike) -> bool | ssl.SSLContext:
    if settings.insecure_skip_tls_verify:
        return False
    if settings.ca_bundle is None:
        return _default_tls()
    try:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot use --ca-bundle {settings.ca_bundle}: {exc.strerror or exc}"
        ) from exc


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """Loading the CA store costs ~70 ms; share one context instead of paying it per client."""
    return httpx.create_ssl_context()


def _dict_multi(params: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form bodies need repeated keys (``match[]``) kept, so group pairs into lists."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    return grouped


def _ts(moment: datetime) -> str:
    """Naive datetimes are read as UTC: cluster metrics are UTC, the laptop's zone is not."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _num(moment.timestamp())


def _num(seconds: float) -> str:
    return str(int(seconds)) if seconds.is_integer() else f"{seconds:.3f}".rstrip("0")


def _bool(flag: bool) -> str:
    return "true" if flag else "false"

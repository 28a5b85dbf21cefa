"""A small synchronous client for Prometheus-compatible HTTP query APIs.

Prometheus, Thanos Query, Mimir and VictoriaMetrics all speak the same ``/api/v1`` dialect; they
differ in where the API is mounted (a path prefix) and in a few optional parameters. Everything a
user can get wrong (URL, credentials, TLS, a bad query, a flaky ingress) ends as one
:class:`~finops_cli.errors.SourceError` line that says what to fix and never shows a secret.

Sending, retries, the body cap, the deadline, TLS, warnings and masking are the shared client's
(:mod:`finops_cli.http_client`); this module keeps what is Prometheus' own: which answers are
not worth a retry (a 503 naming a per-query limit is split instead), the ``/api/v1`` envelope,
and splitting ranges.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from finops_cli import http_client as http
from finops_cli.errors import SourceError, UsageError

__all__ = ["InstantSample", "PrometheusClient", "PrometheusSettingsLike", "RangeSeries"]

log = logging.getLogger("finops.prometheus")

MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses (end - start) / step above this
_STEPS_PER_CHUNK = MAX_POINTS_PER_SERIES - 1
_MAX_GET_QUERY_CHARS = 1_500  # beyond this, proxies start truncating or refusing URLs
_BAD_URL = UsageError(
    "--prometheus-url must be an http:// or https:// URL with a host, "
    "e.g. http://prometheus:9090 or https://mimir.example/prometheus"
)  # the URL itself is never echoed: it may hold a password

# What servers answer (HTTP 422, or 400) when one query would load more than a per-query limit
# allows: samples, points, series, chunks, memory or time range. All shrink with a shorter range.
# A pattern, compiled on first use (an error path) by ``re``'s own cache: not at start-up.
_LIMIT_ERROR = (
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
    r"|timeout exceeded (?:before starting the query processing|during query execution)"
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


class PrometheusClient(http.Closing):
    """Thread-safe: one instance may serve many worker threads, at most ``max_concurrency`` at once.

    ``queries_issued`` counts HTTP requests sent (retries included, since that is the load the
    server sees), ``bytes_received`` the response bodies and ``range_splits`` the range queries
    split in two because the server found them over a per-query limit; all exist for benchmarks.
    """

    _http: http.HttpClient

    def __init__(
        self,
        settings: PrometheusSettingsLike,
        *,
        transport: http.Transport | None = None,
        on_warning: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_body_bytes: int = http.DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if not settings.url:
            raise UsageError("no Prometheus URL configured (set --prometheus-url)")
        base = http.parse_base_url(settings.url, _BAD_URL)
        self.display_url = base.shown

        headers: dict[str, str] = {}
        username = settings.username or base.username
        password = (
            settings.password.get_secret_value() if settings.password is not None else base.password
        )
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        elif username:  # settings win over the URL's userinfo
            basic = base64.b64encode(f"{username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        for name, value in settings.headers.items():
            raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            headers[name] = raw
        base = replace(base, username=None)  # its userinfo is in the header above, or unused

        self._thanos: list[tuple[str, str]] = []
        if settings.thanos_dedup is not None:
            self._thanos.append(("dedup", _bool(settings.thanos_dedup)))
        if settings.thanos_partial_response is not None:
            self._thanos.append(("partial_response", _bool(settings.thanos_partial_response)))

        self._on_warning = on_warning or http.log_warning
        self._lock = threading.Lock()
        self.range_splits = 0
        self.largest_query_bytes = 0  # URL-encoded, as sent (queries.MAX_QUERY_BYTES)
        # Distinct server warnings, in order: a partial answer (Thanos partial_response, a
        # remote-read error) repeats on every query, so it is reported once and kept for notes.
        self.warnings: list[str] = []
        self._told: set[str] = set()
        self._http = http.HttpClient(
            http.Service(
                "the server",
                f"Prometheus at {self.display_url}",
                url_hint="--prometheus-url",
                slow_hint=" or query a shorter range",
                credentials="--bearer-token, --basic-auth or --header",
            ),
            base,
            headers=headers,
            secrets=[password, base.password],
            verify=_verify(settings),
            timeout_s=settings.timeout_seconds,
            retries=settings.retries,
            max_body_bytes=max_body_bytes,
            retryable=_retryable,
            max_concurrency=max(1, settings.max_concurrency),
            sends_secret=settings.bearer_token is not None or bool(username),
            transport=transport,
            sleep=sleep,
            on_warning=self._on_warning,
            log=log,
        )

    @property
    def queries_issued(self) -> int:
        """HTTP requests sent, retries included: the load the server sees."""
        return self._http.requests_sent

    @property
    def bytes_received(self) -> int:
        return self._http.bytes_received

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

    def series(self, match: Sequence[str], start: datetime, end: datetime) -> list[dict[str, str]]:
        """The label sets of the series matching any of ``match`` in the window: read from the
        index, no sample (a chunk or, on VictoriaMetrics, a day that overlaps the window counts,
        so a series that ends just before it may be listed too)."""
        params = [("match[]", m) for m in match] + [("start", _ts(start)), ("end", _ts(end))]
        data = self._call("/api/v1/series", params)
        if not isinstance(data, list) or not all(
            isinstance(d, dict) and all(isinstance(v, str) for v in d.values()) for d in data
        ):
            raise self._shape_error(type(data).__name__, "a list of label sets")
        return data

    def label_names(self, match: Sequence[str], start: datetime, end: datetime) -> list[str]:
        """The label names the series matching any of ``match`` carry in the window."""
        params = [("match[]", m) for m in match] + [("start", _ts(start)), ("end", _ts(end))]
        data = self._call("/api/v1/labels", params, post_ok=False)
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise self._shape_error(type(data).__name__, "a list of label names")
        return data

    # -- transport --------------------------------------------------------------------------

    def _call(self, path: str, params: list[tuple[str, str]], *, post_ok: bool = True) -> Any:
        for name, value in params:
            if name == "query":
                self._check_size(value)
        all_params = [*self._http.base.params, *params, *self._thanos]
        long_query = len(urlencode(all_params)) > _MAX_GET_QUERY_CHARS
        method = "POST" if post_ok and long_query else "GET"
        answer, attempts = self._send(method, path, all_params, params)
        return self._decode(answer, path, attempts)

    def _check_size(self, query: str) -> None:
        """Keep the largest query sent (``largest_query_bytes``) and say at ``--debug`` when one
        is over the documented bound (``queries.MAX_QUERY_BYTES``): a regression to catch, not
        a reason to refuse (the server's own limit is higher)."""
        from finops_cli.queries.names import MAX_QUERY_BYTES, query_bytes

        size = query_bytes(query)
        with self._lock:
            self.largest_query_bytes = max(self.largest_query_bytes, size)
        if size > MAX_QUERY_BYTES:
            log.debug("query of %d bytes is over finops' %d-byte bound", size, MAX_QUERY_BYTES)

    def _send(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        shown: list[tuple[str, str]],
    ) -> tuple[http.Answer, int]:
        """One request through the shared client (retries there); the hook benchmarks time."""
        if method == "POST":
            return self._http.request(method, path, form=_dict_multi(params), shown=shown)
        return self._http.request(method, path, params=params, shown=shown)

    # -- response and error interpretation --------------------------------------------------

    def _decode(self, answer: http.Answer, path: str, attempts: int) -> Any:
        code = answer.status
        try:
            body = answer.json()
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
                raise SourceError(self._not_json(answer, where))
            if body["status"] == "error":
                raise SourceError(f"{where} returned an error: {server_error}")
            return body.get("data")
        if code in (400, 413, 422, 503):
            limit = _limit_reason(str(body.get("error")) if envelope else answer.text)
            if limit:
                raise ServerLimitError(where, self._clean(limit, 240))
        if code in (400, 422):
            reason = _server_reason(str(body.get("error") or "")) if envelope else ""
            reason = self._clean(reason, 500) if reason else ""
            reason = reason or f"HTTP {code}, {self._http.snippet(answer)}"
            raise SourceError(f"Prometheus rejected the query: {reason}")
        if code in (401, 403):
            raise self._http.credentials_error(code)
        if code == 404:
            raise SourceError(
                f"{where} has no API path {path} (HTTP 404); check the path prefix in "
                "--prometheus-url (e.g. /prometheus for Mimir, /select/0/prometheus for "
                "VictoriaMetrics cluster)"
            )
        detail = server_error or self._not_json(answer, "", short=True)
        raise self._http.status_error(answer, path, attempts, detail)

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

    def _not_json(self, answer: http.Answer, where: str, *, short: bool = False) -> str:
        text = f"body was not Prometheus JSON ({self._http.snippet(answer)})"
        if short:
            return text
        if answer.body.lstrip()[:1] in (b"{", b"["):
            return (
                f"{where} answered HTTP {answer.status} but the body was not Prometheus "
                f"JSON: it is cut off or malformed ({len(answer.body)} bytes, "
                f"{self._http.snippet(answer)}); a proxy in front of it may be truncating "
                "answers, retry or query a shorter range"
            )
        return (
            f"{where} answered HTTP {answer.status} but the {text}; check "
            "--prometheus-url (is it the Prometheus API, not a UI or ingress page?)"
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
        return self._http.clean(text, limit)


_ECHOED_QUERY = r'^error when executing query="(?:[^"\\]|\\.)*"[^:]*: '


def _server_reason(text: str, keep: int = 400) -> str:
    """The server's reason without the query VictoriaMetrics echoes in front of it; where still
    long, its end, which says what went wrong (the start only repeats what was asked)."""
    text = re.sub(_ECHOED_QUERY, "", text.strip())  # an error path: compiled when first used
    return text if len(text) <= keep else "…" + text[-(keep - 1) :]


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


def _limit_reason(text: str) -> str | None:
    """The clause of a server error that says a per-query limit was hit, or None.

    VictoriaMetrics puts the whole query in front, Thanos and Cortex an RPC path: both dropped.
    """
    found = re.search(_LIMIT_ERROR, text, re.IGNORECASE)
    if found is None:
        return None
    head = text[: found.start()]
    cut = max((head.rfind(sep) + len(sep) for sep in (": ", "desc = ") if sep in head), default=0)
    return text[cut:]


def _result(data: Any) -> tuple[str, Any]:
    if not isinstance(data, dict):
        return type(data).__name__, None
    return str(data.get("resultType")), data.get("result")


def _retryable(answer: http.Answer) -> bool:
    """429 and 5xx, except a 503 that names a per-query limit: that one is split, not retried."""
    if answer.status == 503 and _limit_reason(answer.text) is not None:
        return False
    return http.retry_429_and_5xx(answer)


def _verify(settings: PrometheusSettingsLike) -> bool | Path:
    if settings.insecure_skip_tls_verify:
        return False
    return settings.ca_bundle if settings.ca_bundle is not None else True


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

"""OpenCost's allocation API over HTTP: one GET, its envelope, and what its failures mean.

Sending, retries, the body cap, the deadline, TLS, warnings and masking are the shared client's
(:mod:`finops_cli.http_client`). What is OpenCost's own stays here: its ``{code, data, message,
warning}`` envelope, the one-line errors that point at ``--opencost-url``, and its credentials,
which are ``FINOPS_OPENCOST_BEARER_TOKEN`` or the URL's userinfo (``--header`` reaches
Prometheus only). :class:`~finops_cli.sources.opencost.OpenCostCostSource` turns the answer into
figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypedDict

from finops_cli import http_client as http
from finops_cli.errors import SourceError, UsageError

log = logging.getLogger("finops.opencost")

API_PATH = "/allocation/compute"
_BAD_URL = UsageError(
    "--opencost-url must be an http:// or https:// URL with a host, "
    "e.g. http://opencost.opencost:9003"
)  # the URL itself is not echoed: it may carry a password
# OpenCost does not take --header (that reaches Prometheus only): its token has no flag.
_CREDENTIALS = (
    "FINOPS_OPENCOST_BEARER_TOKEN (opencost.bearer_token) or user:password@ in --opencost-url"
)


class ApiOptions(TypedDict, total=False):
    """The keyword arguments of :class:`OpenCostApi`, which the source passes through whole."""

    headers: dict[str, str] | None
    timeout_seconds: float
    retries: int
    verify: bool | str
    max_body_bytes: int
    on_warning: Callable[[str], None] | None
    transport: http.Transport | None
    sleep: Callable[[float], None]


class OpenCostApi(http.Closing):
    """``allocation(params)``: the allocation sets of one ``/allocation/compute`` answer.

    ``warnings`` keeps the ``warning`` of successful answers (the data is not whole), for notes;
    both ``message`` and ``warning`` also go to ``on_warning`` as they arrive.
    """

    _http: http.HttpClient

    def __init__(
        self,
        base_url: str | None,
        *,
        headers: dict[str, str] | None = None,
        timeout_seconds: float = 30,
        retries: int = 3,
        verify: bool | str = True,
        max_body_bytes: int = http.DEFAULT_MAX_BODY_BYTES,
        on_warning: Callable[[str], None] | None = None,
        transport: http.Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url or not base_url.strip():
            raise UsageError("no OpenCost URL configured (set --opencost-url)")
        base = http.parse_base_url(base_url, _BAD_URL)
        self.display_url = base.shown
        self._on_warning = on_warning or http.log_warning
        self.warnings: list[str] = []
        self._http = http.HttpClient(
            http.Service(
                "OpenCost",
                f"OpenCost at {self.display_url}",
                url_hint="--opencost-url; in-cluster it is usually http://opencost.opencost:9003",
                slow_hint=" or ask for a shorter --window (OpenCost computes allocations on "
                "request)",
                credentials=_CREDENTIALS,
                busy_hint=" (long windows are slow to compute: try a shorter --window)",
            ),
            base,
            headers=headers,
            verify=verify,
            timeout_s=timeout_seconds,
            retries=retries,
            max_body_bytes=max_body_bytes,
            sends_secret=bool(headers or base.username),
            transport=transport,
            sleep=sleep,
            on_warning=self._on_warning,
            log=log,
        )

    def allocation(self, params: list[tuple[str, str]]) -> list[Any]:
        return self._call(API_PATH, params)

    # ---- transport -------------------------------------------------------------------------
    def _call(self, path: str, params: list[tuple[str, str]]) -> list[Any]:
        answer, attempts = self._http.request(
            "GET", path, params=[*self._http.base.params, *params], shown=params
        )
        return self._decode(answer, path, attempts)

    # ---- response and error interpretation -------------------------------------------------
    def _decode(self, answer: http.Answer, path: str, attempts: int) -> list[Any]:
        code = answer.status
        try:
            body = answer.json()
        except ValueError:
            body = None
        envelope = isinstance(body, dict) and ("code" in body or "data" in body)
        where = f"OpenCost at {self.display_url}"
        if 200 <= code < 300:
            if not envelope:
                raise SourceError(self._not_json(answer, where))
            body_code = body.get("code", 200)
            if str(body_code) != "200" or body.get("status") == "error":
                raise SourceError(
                    f"{where} returned an error (code {self.clean(str(body_code), 10)}): "
                    f"{self._message(body)}"
                )
            for key in ("message", "warning"):
                if body.get(key):
                    text = self.clean(str(body[key]), 500)
                    if key == "warning":  # WrapDataWithWarning: the data is not whole
                        self.warnings.append(text)
                    self._on_warning(f"OpenCost: {text}")
            return self._steps(body.get("data"), where)
        if code in (400, 422):
            reason = self._message(body) if envelope else ""
            if not reason or reason == "no message":
                reason = f"HTTP {code}, {self._http.snippet(answer)}"
            raise SourceError(f"OpenCost rejected the allocation query: {reason}")
        if code in (401, 403):
            raise self._http.credentials_error(
                code, "OpenCost has none of its own, so a proxy in front of it wants them: "
            )
        if code == 404:
            raise SourceError(
                f"{where} has no API path {path} (HTTP 404); point --opencost-url at the OpenCost "
                "API (e.g. http://opencost.opencost:9003, or the UI's URL with /model appended)"
            )
        detail = self._message(body) if envelope else self._not_json(answer, "", short=True)
        raise self._http.status_error(answer, path, attempts, detail)

    def _steps(self, data: Any, where: str) -> list[Any]:
        if data is None:
            return []
        if isinstance(data, dict):
            return [data]  # some builds answer a single set instead of a one-element list
        if isinstance(data, list) and all(s is None or isinstance(s, dict) for s in data):
            return data
        raise SourceError(
            f"{where} returned {type(data).__name__!r} data where a list of allocation sets was "
            "expected; is --opencost-url the OpenCost API?"
        )

    def _message(self, body: dict[str, Any]) -> str:
        text = body.get("message") or body.get("error")
        if not text and isinstance(body.get("data"), str):
            text = body["data"]  # some handlers put the error text in data
        return self.clean(str(text), 500) if text else "no message"

    def _not_json(self, answer: http.Answer, where: str, *, short: bool = False) -> str:
        text = f"body was not OpenCost JSON ({self._http.snippet(answer)})"
        if short:
            return text
        return (
            f"{where} answered HTTP {answer.status} but the {text}; check "
            "--opencost-url (is it the OpenCost API on port 9003, not the UI?)"
        )

    def clean(self, text: str, limit: int) -> str:
        return self._http.clean(text, limit)

"""The checks behind the settings: URLs, headers, durations, label keys, AWS names, thresholds.

Each is a plain function a ``Rule`` calls with one converted value; it raises ``ValueError`` with
a one-line reason (never quoting a secret) and may return a normalised value. Rules that span
several fields (``*_problems``) run once every source is merged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from finops_cli.config_checks import SecretStr, refuse_bool
from finops_cli.errors import UsageError
from finops_cli.labels import label_key_problem, prometheus_label_name_problem

if TYPE_CHECKING:
    from finops_cli.settings.tables import BudgetSettings, BudgetSpec, PrometheusSettings, Settings

Problems = list[tuple[tuple[str, ...], str]]

# Patterns are compiled on first use, by ``re``'s own cache: most runs set none of these.
_HEADER_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 token
_DURATION_HINT = "must be a number of seconds or a duration such as 30s or 1m"
DAY_S = 86_400.0  # past this a timeout or scrape interval is a typo (and overflows the OS's)
_AWS_REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]+"
_ATHENA_NAME = r"[A-Za-z0-9._-]{1,128}"


def expand(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # `~nosuchuser/ca.pem`: left as is, then reported as a missing file
        return path


def path_text(path: Path) -> str:
    """Quote only the odd path whose name holds a control character, to keep errors one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def header_entry(entry: str, where: str) -> tuple[str, str]:
    name, sep, value = entry.partition(":")
    if not sep or not name.strip():
        # Never quote the entry: its value is likely a tenant id or a token.
        raise ValueError(f"{where} is not 'Name: value'")
    return name.strip(), value.strip()


def parse_header_entries(text: str) -> dict[str, str]:
    """Parse ``Name: value`` entries separated by ``;`` or newlines, as FINOPS_PROMETHEUS_HEADERS.

    Both separators are accepted because ``;`` fits a one-line ``export`` and newlines fit a
    Kubernetes Secret mounted as an environment variable. A later duplicate name wins.
    """
    headers: dict[str, str] = {}
    for number, raw in enumerate(re.split(r"[;\n]", text), start=1):
        if raw.strip():
            name, value = header_entry(raw.strip(), f"entry {number}")
            for existing in [n for n in headers if n.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
    return headers


def headers_input(value: object) -> object:
    """Let a flag repeat ``--header 'Name: value'`` (one header each, ';' allowed in values)."""
    if isinstance(value, str):
        return parse_header_entries(value)
    if isinstance(value, Sequence):
        headers: dict[str, str] = {}
        for number, entry in enumerate(value, start=1):
            if not isinstance(entry, str):
                raise ValueError(f"entry {number} is not a 'Name: value' string")
            name, text = header_entry(entry, f"entry {number}")
            headers[name] = text
        return headers
    return value


def lift_userinfo(prometheus: dict[str, Any]) -> None:
    """Move ``user:pass@`` out of the URL into username/password, where SecretStr hides it.

    A URL is shown in ``config show``, logs and reprs; a password inside it would be too. Explicit
    username/password keys in the same source win over the URL's.
    """
    url = prometheus.get("url")
    if not isinstance(url, str):
        return
    try:
        parts = urlsplit(url.strip())
        username, password = parts.username, parts.password
    except ValueError:
        return  # the url validator reports it, without echoing the URL
    if username is None and password is None:
        return
    if username and "username" not in prometheus:
        prometheus["username"] = unquote(username)
    if password is not None and "password" not in prometheus:
        prometheus["password"] = unquote(password)
    prometheus["url"] = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def header_safe_token(value: SecretStr | None) -> SecretStr | None:
    """A token travels in the Authorization header: ASCII without control characters."""
    if value is not None:
        token = value.get_secret_value()
        if not token.isascii() or not token.isprintable():
            raise ValueError("must be ASCII text without line breaks or control characters")
    return value


def seconds_input(value: object) -> object:
    if isinstance(value, bool):  # TOML `timeout_seconds = true` must not mean 1 second
        raise ValueError(_DURATION_HINT)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        from finops_cli.timewindow import parse_duration  # only for a duration's spelling

        try:
            return parse_duration(text).total_seconds()
        except UsageError:
            raise ValueError(_DURATION_HINT) from None
    return value


def prometheus_problems(p: PrometheusSettings) -> Problems:
    problems: Problems = []
    if p.password is not None and p.username is None:
        problems.append((("password",), "needs prometheus.username as well"))
    if p.bearer_token is not None and (p.username is not None or p.password is not None):
        problems.append((("bearer_token",), "cannot be combined with prometheus.username/password"))
    return problems


def source_problems(s: Settings) -> Problems:
    if s.source == "prometheus" and s.prometheus.url is None:
        return [
            (
                ("source",),
                "'prometheus' needs prometheus.url (--prometheus-url or FINOPS_PROMETHEUS_URL)",
            )
        ]
    if s.source == "opencost" and s.opencost.url is None:
        return [
            (
                ("source",),
                "'opencost' needs opencost.url (--opencost-url or FINOPS_OPENCOST_URL)",
            )
        ]
    return []


NO_BOOL = refuse_bool("must be a whole number")  # TOML `retries = true` is not 1
NUMBER_NOT_BOOL = refuse_bool("must be a number")  # `monthly = true` is no budget of 1


def split_replicas(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def check_label_names(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        problem = prometheus_label_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
    return value


def check_prometheus_url(value: str | None) -> str | None:
    """Keep a path prefix and query, drop a trailing '/', so API paths append cleanly.

    Mimir and VictoriaMetrics serve the API under a prefix, and VictoriaMetrics takes
    ``extra_label`` in the query; the client appends ``/api/v1/...`` to whatever is left.
    """
    if value is None:
        return None
    text = value.strip()
    hint = "must be an http(s) URL such as http://prometheus:9090"
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ValueError(hint)
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise ValueError(hint) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(hint)
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    return urlunsplit(parts._replace(path=parts.path.rstrip("/")))


def check_headers(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    """Reject what would let a value smuggle in a second header or be sent twice."""
    seen: set[str] = set()
    for number, (name, secret) in enumerate(value.items(), start=1):
        if not re.fullmatch(_HEADER_NAME, name):
            # Not echoed: a malformed name is often a pasted "Authorization=Bearer ..." line.
            raise ValueError(
                f"header {number} has an invalid name (allowed: letters, digits, "
                "and !#$%&'*+-.^_`|~)"
            )
        if name.lower() in seen:
            raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
        seen.add(name.lower())
        if any(ch in secret.get_secret_value() for ch in "\r\n\0"):
            raise ValueError(f"the value of header {name!r} contains a line break or NUL")
        if not secret.get_secret_value().isascii():
            raise ValueError(f"the value of header {name!r} must be ASCII text")
    return value


def check_ca_bundle(value: Path | None) -> Path | None:
    """A missing CA file is a configuration error (exit 2), not a network failure later."""
    if value is None:
        return None
    path = expand(value)
    if not path.is_file():
        raise ValueError(f"no such file: {path_text(path)}")
    return path


def check_label_key(value: str) -> str:
    problem = label_key_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_cluster_label(value: str | None) -> str | None:
    if value == "":  # cluster = "" in finops.toml turns the cluster label off
        return None
    problem = None if value is None else prometheus_label_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_opencost_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL, e.g. http://opencost:9003")
    return value.rstrip("/") if value else value


def check_profile(value: str | None) -> str | None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a profile name from ~/.aws/config")
    return value.strip() if value else value


def check_region(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(_AWS_REGION, value.strip()):
        raise ValueError("must be an AWS region such as us-east-1")
    return value.strip() if value else value


def check_athena_name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(_ATHENA_NAME, value):
        raise ValueError("must be 1-128 letters, digits, '.', '_' or '-'")
    return value


def check_output(value: str | None) -> str | None:
    if value is not None and (
        not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?", value.strip())
    ):
        raise ValueError("must be an s3:// location such as s3://my-bucket/athena-results/")
    return value.strip() if value else value


def check_tag(value: str) -> str:
    if not value or len(value) > 128 or not value.isprintable() or "$" in value:
        raise ValueError("must be a tag key of 1-128 printable characters, without '$'")
    return value


def budget_problems(b: BudgetSettings) -> Problems:
    """Each budget's thresholds fall back to the defaults, so the pair a budget ends up with can
    only be checked once every source is merged (a file may set one and the env the other)."""
    scoped: list[tuple[tuple[str, ...], BudgetSpec | None]] = [((), None)]
    scoped += [(("teams", n), spec) for n, spec in b.teams.items()]
    scoped += [(("projects", n), spec) for n, spec in b.projects.items()]
    scoped += [(("total",), b.total)] if b.total is not None else []
    problems: Problems = []
    for where, spec in scoped:
        warning, critical = b.warning_percent, b.critical_percent
        if spec is not None:
            warning = spec.warning_percent or warning
            critical = spec.critical_percent or critical
        if warning <= critical:
            continue
        # Blame the value that was set closest to the budget, so the message names its source.
        own = spec is not None and (spec.warning_percent or spec.critical_percent) is not None
        loc = where if own else ()
        if spec is not None and spec.critical_percent is None and spec.warning_percent is not None:
            problems.append(
                (("budgets", *loc, "warning_percent"), f"is above critical_percent {critical:g}")
            )
        else:
            problems.append(
                (("budgets", *loc, "critical_percent"), f"is below warning_percent {warning:g}")
            )
    return problems


def check_owner(value: str | None) -> str | None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a printable name or address")
    return value.strip() if value else value


def check_webhook(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not re.match(r"^https?://[^/\s]+\S*$", value.get_secret_value()):
        raise ValueError("must be an http:// or https:// URL")
    return value


def check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("must be a three-letter ISO 4217 code such as USD or EUR")
    return value.upper()


def check_budget_names(value: dict[str, BudgetSpec]) -> dict[str, BudgetSpec]:
    for name in value:
        if not name.strip() or not name.isprintable():
            raise ValueError(f"{name!r} is not a usable name (empty or unprintable)")
    return value


def basic_auth_flag(value: str) -> dict[str, object]:
    """``--basic-auth USER:PASSWORD`` sets two settings; the value is never echoed."""
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise UsageError("invalid --basic-auth: expected USER:PASSWORD")
    return {"prometheus.username": user, "prometheus.password": password}

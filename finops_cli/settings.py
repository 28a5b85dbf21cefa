"""One typed settings object, merged from flags, ``FINOPS_*`` variables and ``finops.toml`` files.

Precedence is flags > environment > ``finops.toml`` > defaults, so a CI job can pin a value that no
checked-in file can override, and a one-off flag beats everything. The user config directory's
``finops.toml`` and the current directory's are deep-merged (the current directory's wins), which
lets a shared per-user Prometheus setup live alongside per-repository label conventions.
``FINOPS_CONFIG`` / ``--config`` name one file that replaces both, for reproducible runs.

Everything a user can get wrong ends as one ``UsageError`` line naming where the value came from;
secrets (tokens, passwords, header values, and URLs, which may carry credentials) are never echoed,
because these lines end up in CI logs.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import platformdirs

from finops_cli.config_checks import (
    Checked,
    ConfigError,
    Rule,
    SecretStr,
    choice,
    closest_key,
    number_in,
    optional,
    plain,
    refuse_bool,
    required,
    table_of,
    to_bool,
    to_path,
    to_secret,
    to_str,
    tuple_of,
    whole_number_in,
)
from finops_cli.errors import UsageError
from finops_cli.labels import label_key_problem, prometheus_label_name_problem
from finops_cli.pricing.overrides import PricingOverrides
from finops_cli.timewindow import parse_duration

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "ENVIRONMENT_VARIABLE_HELP",
    "BillingSettings",
    "BudgetSettings",
    "BudgetSpec",
    "ConfigError",
    "GpuStateSettings",
    "LabelSettings",
    "NotifySettings",
    "OpenCostSettings",
    "PricingOverrides",
    "PrometheusSettings",
    "SecretStr",
    "Settings",
    "load_settings",
    "parse_header_entries",
]


APP_NAME = "finops"
CONFIG_FILE_NAME = "finops.toml"
CONFIG_ENV_VAR = "FINOPS_CONFIG"

ENVIRONMENT_VARIABLES: dict[str, str] = {
    "FINOPS_SOURCE": "source",
    "FINOPS_CURRENCY": "currency",
    "FINOPS_SAMPLE_SEED": "sample_seed",
    "FINOPS_PROMETHEUS_URL": "prometheus.url",
    "FINOPS_PROMETHEUS_BEARER_TOKEN": "prometheus.bearer_token",
    "FINOPS_PROMETHEUS_USERNAME": "prometheus.username",
    "FINOPS_PROMETHEUS_PASSWORD": "prometheus.password",
    "FINOPS_PROMETHEUS_HEADERS": "prometheus.headers",
    "FINOPS_PROMETHEUS_CA_BUNDLE": "prometheus.ca_bundle",
    "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY": "prometheus.insecure_skip_tls_verify",
    "FINOPS_PROMETHEUS_TIMEOUT": "prometheus.timeout_seconds",
    "FINOPS_PROMETHEUS_RETRIES": "prometheus.retries",
    "FINOPS_MAX_CONCURRENCY": "prometheus.max_concurrency",
    "FINOPS_THANOS_DEDUP": "prometheus.thanos_dedup",
    "FINOPS_THANOS_PARTIAL_RESPONSE": "prometheus.thanos_partial_response",
    "FINOPS_SAMPLE_INTERVAL": "prometheus.sample_interval_seconds",
    "FINOPS_PROMETHEUS_REPLICA_LABELS": "prometheus.replica_labels",
    "FINOPS_OPENCOST_URL": "opencost.url",
    "FINOPS_OPENCOST_BEARER_TOKEN": "opencost.bearer_token",
    "FINOPS_PRICING_DISCOUNT_PERCENT": "pricing.discount_percent",
    "FINOPS_PRICING_GPU_HOURLY": "pricing.gpu_hourly",
    "FINOPS_PRICING_EXTRA_CATALOG": "pricing.extra_catalog",
    "FINOPS_GPUS_IDLE_BUSY_P95": "gpus.idle_busy_p95",
    "FINOPS_GPUS_UNDERUSED_BUSY_AVG": "gpus.underused_busy_avg",
    "FINOPS_GPUS_MIN_HELD_SHARE": "gpus.min_held_share",
    "FINOPS_LABEL_TEAM": "labels.team",
    "FINOPS_LABEL_PROJECT": "labels.project",
    "FINOPS_LABEL_MODEL": "labels.model",
    "FINOPS_LABEL_ENVIRONMENT": "labels.environment",
    "FINOPS_LABEL_COST_CENTER": "labels.cost_center",
    "FINOPS_CLUSTER_LABEL": "labels.cluster",
    "FINOPS_BUDGET_WARNING_PERCENT": "budgets.warning_percent",
    "FINOPS_BUDGET_CRITICAL_PERCENT": "budgets.critical_percent",
    "FINOPS_NOTIFY_URL": "notify.url",
    "FINOPS_NOTIFY_FORMAT": "notify.format",
    "FINOPS_AWS_PROFILE": "billing.aws_profile",
    "FINOPS_AWS_REGION": "billing.aws_region",
    "FINOPS_ATHENA_WORKGROUP": "billing.athena_workgroup",
    "FINOPS_ATHENA_DATABASE": "billing.athena_database",
    "FINOPS_ATHENA_OUTPUT_LOCATION": "billing.athena_output_location",
    "FINOPS_BILLING_CACHE_TTL": "billing.cache_ttl_seconds",
    "FINOPS_BILLING_TEAM_TAG": "billing.team_tag",
}
"""Environment variable -> the dotted setting it sets. Empty variables count as unset."""

ENVIRONMENT_VARIABLE_HELP: dict[str, str] = {
    CONFIG_ENV_VAR: "Path of a TOML file to use instead of the discovered finops.toml files.",
    "FINOPS_SOURCE": "Data source: auto (Prometheus if a URL is set, else sample), sample, "
    "prometheus, opencost.",
    "FINOPS_CURRENCY": "ISO 4217 code that prices are reported in.",
    "FINOPS_SAMPLE_SEED": "Seed of the built-in sample data set.",
    "FINOPS_PROMETHEUS_URL": "Prometheus-compatible base URL; may include a path prefix "
    "(Mimir /prometheus, VictoriaMetrics /select/0/prometheus).",
    "FINOPS_PROMETHEUS_BEARER_TOKEN": "Bearer token sent as Authorization.",
    "FINOPS_PROMETHEUS_USERNAME": "Basic-auth user name.",
    "FINOPS_PROMETHEUS_PASSWORD": "Basic-auth password.",
    "FINOPS_PROMETHEUS_HEADERS": "Extra headers, 'Name: value' entries separated by ';' or "
    "newlines (e.g. 'X-Scope-OrgID: tenant-a').",
    "FINOPS_PROMETHEUS_CA_BUNDLE": "PEM file of CA certificates to trust.",
    "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY": "true/false: skip TLS certificate checks.",
    "FINOPS_PROMETHEUS_TIMEOUT": "Per-request timeout: seconds or a duration such as 30s, 1m.",
    "FINOPS_PROMETHEUS_RETRIES": "Retries of a failed request (0 disables).",
    "FINOPS_MAX_CONCURRENCY": "Queries in flight at once.",
    "FINOPS_THANOS_DEDUP": "true/false: Thanos dedup parameter (unset: server default).",
    "FINOPS_THANOS_PARTIAL_RESPONSE": "true/false: Thanos partial_response parameter.",
    "FINOPS_SAMPLE_INTERVAL": "Scrape interval of the GPU metrics: seconds or a duration; "
    "unset: detected from the data.",
    "FINOPS_PROMETHEUS_REPLICA_LABELS": "Comma-separated replica labels of HA Prometheus pairs "
    "to collapse when querying them without Thanos dedup (e.g. prometheus_replica).",
    "FINOPS_OPENCOST_URL": "OpenCost API base URL (e.g. http://opencost.opencost:9003).",
    "FINOPS_OPENCOST_BEARER_TOKEN": "Bearer token for the OpenCost API.",
    "FINOPS_PRICING_DISCOUNT_PERCENT": "Negotiated discount (0-100) off on-demand catalog prices.",
    "FINOPS_PRICING_GPU_HOURLY": "One flat $/GPU-hour for every GPU; wins over every catalog.",
    "FINOPS_PRICING_EXTRA_CATALOG": "CSV in the catalog format whose rows replace packaged ones.",
    "FINOPS_GPUS_IDLE_BUSY_P95": "A held GPU whose busy p95 stays below this (0-1) is "
    "idle-allocated (default 0.10).",
    "FINOPS_GPUS_UNDERUSED_BUSY_AVG": "A held GPU whose busy average is below this (0-1) is "
    "underused (default 0.30).",
    "FINOPS_GPUS_MIN_HELD_SHARE": "Share of the window a pod must hold a GPU for it to count as "
    "allocated (default 0.5).",
    "FINOPS_LABEL_TEAM": "Pod label key naming the team.",
    "FINOPS_LABEL_PROJECT": "Pod label key naming the project.",
    "FINOPS_LABEL_MODEL": "Pod label key naming the model.",
    "FINOPS_LABEL_ENVIRONMENT": "Pod label key naming the environment.",
    "FINOPS_LABEL_COST_CENTER": "Pod annotation key naming the cost center.",
    "FINOPS_CLUSTER_LABEL": "Prometheus label naming the cluster (default 'cluster').",
    "FINOPS_BUDGET_WARNING_PERCENT": "Default warning threshold: percent of a budget the month-end "
    "projection must reach (default 90).",
    "FINOPS_BUDGET_CRITICAL_PERCENT": "Default critical threshold, percent of a budget "
    "(default 100).",
    "FINOPS_NOTIFY_URL": "Webhook that --notify posts findings to (a secret; never printed).",
    "FINOPS_NOTIFY_FORMAT": "slack (incoming-webhook JSON, the default) or json (generic).",
    "FINOPS_AWS_PROFILE": "AWS profile for finops billing (default: boto3's own chain: "
    "AWS_PROFILE, env keys, SSO, instance role).",
    "FINOPS_AWS_REGION": "AWS region of the Athena workgroup (Cost Explorer is global).",
    "FINOPS_ATHENA_WORKGROUP": "Athena workgroup for billing actual --athena (default primary).",
    "FINOPS_ATHENA_DATABASE": "Glue database holding the FOCUS / CUR 2.0 table.",
    "FINOPS_ATHENA_OUTPUT_LOCATION": "s3:// folder for Athena results (default: the workgroup's).",
    "FINOPS_BILLING_CACHE_TTL": "How long Cost Explorer answers are reused: seconds or a duration "
    "(default 4h; 0 disables the cache).",
    "FINOPS_BILLING_TEAM_TAG": "Cost allocation tag key naming the team (default 'team').",
}
"""One line per variable, FINOPS_CONFIG included, for ``--help`` epilogs and the docs."""

_HEADERS = ("prometheus", "headers")
_CA_BUNDLE = ("prometheus", "ca_bundle")
_EXTRA_CATALOG = ("pricing", "extra_catalog")
# Never echoed in errors: URLs may hold user:pass@ or a token in the query.
_SENSITIVE = {("prometheus", name) for name in ("bearer_token", "password", "headers", "url")} | {
    ("opencost", "bearer_token"),
    ("opencost", "url"),
    ("notify", "url"),
}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_DURATION_HINT = "must be a number of seconds or a duration such as 30s or 1m"
_MAX_SHOWN = 60
_DAY_S = 86_400.0  # past this a timeout or scrape interval is a typo (and overflows the OS's)
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_ATHENA_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _expand(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # `~nosuchuser/ca.pem`: left as is, then reported as a missing file
        return path


def _path_text(path: Path) -> str:
    """Quote only the odd path whose name holds a control character, to keep errors one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _header_entry(entry: str, where: str) -> tuple[str, str]:
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
            name, value = _header_entry(raw.strip(), f"entry {number}")
            for existing in [n for n in headers if n.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
    return headers


def _headers_input(value: object) -> object:
    """Let a flag repeat ``--header 'Name: value'`` (one header each, ';' allowed in values)."""
    if isinstance(value, str):
        return parse_header_entries(value)
    if isinstance(value, Sequence):
        headers: dict[str, str] = {}
        for number, entry in enumerate(value, start=1):
            if not isinstance(entry, str):
                raise ValueError(f"entry {number} is not a 'Name: value' string")
            name, text = _header_entry(entry, f"entry {number}")
            headers[name] = text
        return headers
    return value


def _lift_userinfo(prometheus: dict[str, Any]) -> None:
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


def _header_safe_token(value: SecretStr | None) -> SecretStr | None:
    """A token travels in the Authorization header: ASCII without control characters."""
    if value is not None:
        token = value.get_secret_value()
        if not token.isascii() or not token.isprintable():
            raise ValueError("must be ASCII text without line breaks or control characters")
    return value


def _seconds_input(value: object) -> object:
    if isinstance(value, bool):  # TOML `timeout_seconds = true` must not mean 1 second
        raise ValueError(_DURATION_HINT)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return parse_duration(text).total_seconds()
        except UsageError:
            raise ValueError(_DURATION_HINT) from None
    return value


def _prometheus_problems(p: PrometheusSettings) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    if p.password is not None and p.username is None:
        problems.append((("password",), "needs prometheus.username as well"))
    if p.bearer_token is not None and (p.username is not None or p.password is not None):
        problems.append((("bearer_token",), "cannot be combined with prometheus.username/password"))
    return problems


def _source_problems(s: Settings) -> list[tuple[tuple[str, ...], str]]:
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


_NO_BOOL = refuse_bool("must be a whole number")  # TOML `retries = true` is not 1
_NUMBER_NOT_BOOL = refuse_bool("must be a number")  # `monthly = true` is no budget of 1


def _split_replicas(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _check_label_names(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        problem = prometheus_label_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
    return value


def _check_prometheus_url(value: str | None) -> str | None:
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


def _check_headers(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    """Reject what would let a value smuggle in a second header or be sent twice."""
    seen: set[str] = set()
    for number, (name, secret) in enumerate(value.items(), start=1):
        if not _HEADER_NAME.fullmatch(name):
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


def _check_ca_bundle(value: Path | None) -> Path | None:
    """A missing CA file is a configuration error (exit 2), not a network failure later."""
    if value is None:
        return None
    path = _expand(value)
    if not path.is_file():
        raise ValueError(f"no such file: {_path_text(path)}")
    return path


@dataclass(frozen=True, kw_only=True)
class PrometheusSettings(Checked):
    """How to reach and query a Prometheus-compatible API (Prometheus, Thanos, Mimir, VM)."""

    url: str | None = None
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, SecretStr] = field(default_factory=dict)
    ca_bundle: Path | None = None
    insecure_skip_tls_verify: bool = False
    timeout_seconds: float = 30.0
    retries: int = 3
    max_concurrency: int = 4
    thanos_dedup: bool | None = None
    thanos_partial_response: bool | None = None
    sample_interval_seconds: float | None = None
    replica_labels: tuple[str, ...] = ()  # HA pairs queried without Thanos dedup

    RULES: ClassVar[Mapping[str, Rule]] = {
        "url": Rule(optional(to_str), checks=(_check_prometheus_url,)),
        "bearer_token": Rule(optional(to_secret), checks=(_header_safe_token,)),
        "username": Rule(optional(to_str)),
        "password": Rule(optional(to_secret)),
        "headers": Rule(table_of(to_secret), prepare=_headers_input, checks=(_check_headers,)),
        "ca_bundle": Rule(optional(to_path), checks=(_check_ca_bundle,)),
        "insecure_skip_tls_verify": Rule(to_bool),
        "timeout_seconds": Rule(number_in(gt=0, le=_DAY_S), prepare=_seconds_input),
        "retries": Rule(whole_number_in(ge=0), prepare=_NO_BOOL),
        "max_concurrency": Rule(whole_number_in(ge=1), prepare=_NO_BOOL),
        "thanos_dedup": Rule(optional(to_bool)),
        "thanos_partial_response": Rule(optional(to_bool)),
        "sample_interval_seconds": Rule(
            optional(number_in(ge=1, le=_DAY_S)), prepare=_seconds_input
        ),
        "replica_labels": Rule(
            tuple_of(to_str), prepare=_split_replicas, checks=(_check_label_names,)
        ),
    }

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        lifted = dict(data)
        _lift_userinfo(lifted)
        return lifted

    def _check_whole(self, partial: bool) -> None:
        if not partial:
            for loc, reason in _prometheus_problems(self):
                raise ValueError(f"prometheus.{'.'.join(loc)} {reason}")


def _check_label_key(value: str) -> str:
    problem = label_key_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_cluster_label(value: str | None) -> str | None:
    if value == "":  # cluster = "" in finops.toml turns the cluster label off
        return None
    problem = None if value is None else prometheus_label_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


_LABEL_KEY = Rule(to_str, checks=(_check_label_key,))


@dataclass(frozen=True, kw_only=True)
class LabelSettings(Checked):
    """Kubernetes label/annotation keys that attribute GPU cost to teams, projects and models."""

    team: str = "ai-finops.io/team"
    project: str = "ai-finops.io/project"
    model: str = "ai-finops.io/model"
    environment: str = "ai-finops.io/environment"
    cost_center: str = "ai-finops.io/cost-center"  # an annotation, not a label
    # The Prometheus label naming the cluster (a Thanos external label or remote-write label).
    # Harmless on a single cluster: a missing label joins as empty. None turns it off.
    cluster: str | None = "cluster"

    RULES: ClassVar[Mapping[str, Rule]] = {
        "team": _LABEL_KEY,
        "project": _LABEL_KEY,
        "model": _LABEL_KEY,
        "environment": _LABEL_KEY,
        "cost_center": _LABEL_KEY,
        "cluster": Rule(optional(to_str), checks=(_check_cluster_label,)),
    }


def _check_opencost_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL, e.g. http://opencost:9003")
    return value.rstrip("/") if value else value


@dataclass(frozen=True, kw_only=True)
class OpenCostSettings(Checked):
    """The OpenCost API (``/allocation/compute``): a second opinion, or the source itself.

    TLS, timeout and retries follow the ``[prometheus]`` settings: one cluster, one ingress.
    """

    url: str | None = None
    bearer_token: SecretStr | None = None

    RULES: ClassVar[Mapping[str, Rule]] = {
        "url": Rule(optional(to_str), checks=(_check_opencost_url,)),
        "bearer_token": Rule(optional(to_secret), checks=(_header_safe_token,)),
    }


def _check_profile(value: str | None) -> str | None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a profile name from ~/.aws/config")
    return value.strip() if value else value


def _check_region(value: str | None) -> str | None:
    if value is not None and not _AWS_REGION.fullmatch(value.strip()):
        raise ValueError("must be an AWS region such as us-east-1")
    return value.strip() if value else value


def _check_athena_name(value: str | None) -> str | None:
    if value is not None and not _ATHENA_NAME.fullmatch(value):
        raise ValueError("must be 1-128 letters, digits, '.', '_' or '-'")
    return value


def _check_output(value: str | None) -> str | None:
    if value is not None and (
        not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?", value.strip())
    ):
        raise ValueError("must be an s3:// location such as s3://my-bucket/athena-results/")
    return value.strip() if value else value


def _check_tag(value: str) -> str:
    if not value or len(value) > 128 or not value.isprintable() or "$" in value:
        raise ValueError("must be a tag key of 1-128 printable characters, without '$'")
    return value


@dataclass(frozen=True, kw_only=True)
class BillingSettings(Checked):
    """Where ``finops billing`` reads the cloud bill: AWS access, Athena, the answer cache.

    Credentials never live here: boto3's own chain supplies them (profile, environment, SSO,
    instance or pod role), and ``AWS_ENDPOINT_URL`` points it at a compatible endpoint.
    """

    aws_profile: str | None = None
    aws_region: str | None = None  # Athena's region; Cost Explorer answers from us-east-1
    athena_workgroup: str = "primary"
    athena_database: str | None = None
    athena_output_location: str | None = None  # None: the workgroup's own result location
    cache_ttl_seconds: float = 4 * 3600.0
    team_tag: str = "team"  # the cost allocation tag (and FOCUS Tags key) naming the team

    RULES: ClassVar[Mapping[str, Rule]] = {
        "aws_profile": Rule(optional(to_str), checks=(_check_profile,)),
        "aws_region": Rule(optional(to_str), checks=(_check_region,)),
        "athena_workgroup": Rule(to_str, checks=(_check_athena_name,)),
        "athena_database": Rule(optional(to_str), checks=(_check_athena_name,)),
        "athena_output_location": Rule(optional(to_str), checks=(_check_output,)),
        "cache_ttl_seconds": Rule(number_in(ge=0), prepare=_seconds_input),
        "team_tag": Rule(to_str, checks=(_check_tag,)),
    }


def _budget_problems(b: BudgetSettings) -> list[tuple[tuple[str, ...], str]]:
    """Each budget's thresholds fall back to the defaults, so the pair a budget ends up with can
    only be checked once every source is merged (a file may set one and the env the other)."""
    scoped: list[tuple[tuple[str, ...], BudgetSpec | None]] = [((), None)]
    scoped += [(("teams", n), spec) for n, spec in b.teams.items()]
    scoped += [(("projects", n), spec) for n, spec in b.projects.items()]
    scoped += [(("total",), b.total)] if b.total is not None else []
    problems: list[tuple[tuple[str, ...], str]] = []
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


def _check_owner(value: str | None) -> str | None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a printable name or address")
    return value.strip() if value else value


_PERCENT = Rule(number_in(gt=0, le=1000), prepare=_NUMBER_NOT_BOOL)
_OPTIONAL_PERCENT = Rule(optional(number_in(gt=0, le=1000)), prepare=_NUMBER_NOT_BOOL)


@dataclass(frozen=True, kw_only=True)
class BudgetSpec(Checked):
    """One monthly budget (GPU spend, in ``currency``) for a team, a project or the cluster.

    Thresholds are percentages of the budget that the month-end projection must reach to turn
    the status to warning or critical; unset ones take the ``[budgets]`` defaults.
    """

    monthly: float = required()
    warning_percent: float | None = None
    critical_percent: float | None = None
    owner: str | None = None

    RULES: ClassVar[Mapping[str, Rule]] = {
        "monthly": Rule(number_in(gt=0), prepare=_NUMBER_NOT_BOOL),
        "warning_percent": _OPTIONAL_PERCENT,
        "critical_percent": _OPTIONAL_PERCENT,
        "owner": Rule(optional(to_str), checks=(_check_owner,)),
    }


def _check_budget_names(value: dict[str, BudgetSpec]) -> dict[str, BudgetSpec]:
    for name in value:
        if not name.strip() or not name.isprintable():
            raise ValueError(f"{name!r} is not a usable name (empty or unprintable)")
    return value


_BUDGETS = Rule(table_of(BudgetSpec.from_mapping), checks=(_check_budget_names,))


@dataclass(frozen=True, kw_only=True)
class BudgetSettings(Checked):
    """``[budgets]``: default thresholds, then ``teams.<name>``, ``projects.<name>``, ``total``."""

    warning_percent: float = 90.0
    critical_percent: float = 100.0
    teams: dict[str, BudgetSpec] = field(default_factory=dict)
    projects: dict[str, BudgetSpec] = field(default_factory=dict)
    total: BudgetSpec | None = None

    RULES: ClassVar[Mapping[str, Rule]] = {
        "warning_percent": _PERCENT,
        "critical_percent": _PERCENT,
        "teams": _BUDGETS,
        "projects": _BUDGETS,
        "total": Rule(optional(BudgetSpec.from_mapping)),
    }


def _check_webhook(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not re.match(r"^https?://[^/\s]+\S*$", value.get_secret_value()):
        raise ValueError("must be an http:// or https:// URL")
    return value


@dataclass(frozen=True, kw_only=True)
class NotifySettings(Checked):
    """Where ``--notify`` posts findings. The URL is a secret: a webhook URL is its own key."""

    url: SecretStr | None = None
    format: Literal["slack", "json"] = "slack"
    timeout_seconds: float = 10.0
    retries: int = 3

    RULES: ClassVar[Mapping[str, Rule]] = {
        "url": Rule(optional(to_secret), checks=(_check_webhook,)),
        "format": Rule(choice("slack", "json")),
        "timeout_seconds": Rule(number_in(gt=0, le=_DAY_S), prepare=_seconds_input),
        "retries": Rule(whole_number_in(ge=0, le=10)),  # `true` is 1 here, as it always was
    }


_SHARE = Rule(number_in(ge=0, le=1))


@dataclass(frozen=True, kw_only=True)
class GpuStateSettings(Checked):
    """Where ``finops gpus`` draws the lines between active, underused and idle GPUs."""

    idle_busy_p95: float = 0.10
    underused_busy_avg: float = 0.30
    min_held_share: float = 0.5

    RULES: ClassVar[Mapping[str, Rule]] = {
        "idle_busy_p95": _SHARE,
        "underused_busy_avg": _SHARE,
        "min_held_share": _SHARE,
    }


def _check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("must be a three-letter ISO 4217 code such as USD or EUR")
    return value.upper()


@dataclass(frozen=True, kw_only=True)
class Settings(Checked):
    """Everything a command needs to know that is not about the question being asked."""

    source: Literal["auto", "sample", "prometheus", "opencost"] = "auto"
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    opencost: OpenCostSettings = field(default_factory=OpenCostSettings)
    pricing: PricingOverrides = field(default_factory=PricingOverrides)
    gpus: GpuStateSettings = field(default_factory=GpuStateSettings)
    labels: LabelSettings = field(default_factory=LabelSettings)
    currency: str = "USD"
    sample_seed: int = 42
    billing: BillingSettings = field(default_factory=BillingSettings)
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    RULES: ClassVar[Mapping[str, Rule]] = {
        "source": Rule(choice("auto", "sample", "prometheus", "opencost")),
        "prometheus": Rule(section=PrometheusSettings),
        "opencost": Rule(section=OpenCostSettings),
        "pricing": Rule(section=PricingOverrides),
        "gpus": Rule(section=GpuStateSettings),
        "labels": Rule(section=LabelSettings),
        "currency": Rule(to_str, checks=(_check_currency,)),
        "sample_seed": Rule(whole_number_in(ge=0), prepare=_NO_BOOL),
        "billing": Rule(section=BillingSettings),
        "budgets": Rule(section=BudgetSettings),
        "notify": Rule(section=NotifySettings),
    }

    def _check_whole(self, partial: bool) -> None:
        if not partial:
            for loc, reason in _source_problems(self):
                raise ValueError(f"{'.'.join(loc)} {reason}")

    @property
    def effective_source(self) -> Literal["sample", "prometheus", "opencost"]:
        """Resolve ``auto`` here once, so every command agrees on where the data comes from."""
        if self.source == "auto":
            return "prometheus" if self.prometheus.url is not None else "sample"
        return self.source

    def describe(self) -> dict[str, Any]:
        """A plain dict for ``config show`` and debug logs; secrets appear only as ``***``."""
        data = cast(dict[str, Any], plain(self))
        prometheus = data["prometheus"]
        for name in ("bearer_token", "password"):
            prometheus[name] = None if getattr(self.prometheus, name) is None else "***"
        prometheus["headers"] = dict.fromkeys(self.prometheus.headers, "***")
        data["opencost"]["bearer_token"] = None if self.opencost.bearer_token is None else "***"
        for section in (prometheus, data["opencost"]):
            if section.get("url") and "?" in section["url"]:  # ?apikey=... style secrets
                section["url"] = section["url"].split("?", 1)[0] + "?***"
        return data


# --- loading -------------------------------------------------------------------------------------

Loc = tuple[str, ...]


@dataclass
class _Layer:
    """One source of settings, nested like the settings, with where each value came from."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Loc, str] = field(default_factory=dict)

    def origin(self, loc: Loc) -> str:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return "configuration"

    def has(self, loc: Loc) -> bool:
        node: object = self.data
        for part in loc:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def set(self, loc: Loc, value: object, origin: str) -> None:
        node = self.data
        for part in loc[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[loc[-1]] = value
        self.origins[loc] = origin


def _absolute(value: str | os.PathLike[str], base: Path) -> str:
    """Relative paths mean relative to the file that names them (or the cwd for env and flags)."""
    path = _expand(Path(value))
    return str(path if path.is_absolute() else base / path)


def _shown(value: object) -> str | None:
    if not isinstance(value, str | int | float):
        return None
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _usage_error(exc: ConfigError, origin_of: Callable[[Loc], str]) -> UsageError:
    """Turn the problems into one line that never repeats a secret input."""
    problem = exc.problems[0]
    loc = tuple(str(part) for part in problem.loc)
    # Keys come from the user's file: one holding a line break must not break the line.
    dotted = ".".join(p if p.isprintable() else repr(p) for p in loc) or "settings"
    count = len(exc.problems)
    more = f" (and {count - 1} more problem(s))" if count > 1 else ""
    origin = origin_of(loc)
    if problem.kind == "unknown":
        # Only the key: a misspelt `bearer_tokn = "..."` must not print its value.
        close = closest_key(Settings, loc)
        hint = f" (did you mean {'.'.join((*loc[:-1], close))}?)" if close else ""
        return UsageError(f"{origin}: unknown setting {dotted}{hint}{more}")
    message = f"invalid setting {dotted} from {origin}: {problem.reason}"
    quiet = loc[:2] in _SENSITIVE or loc[:2] == _CA_BUNDLE  # the CA message names its path
    shown = None if quiet else _shown(problem.input)
    if shown is not None:
        message += f" (got {shown})"
    return UsageError(message + more)


def _validate(data: Mapping[str, Any], origin_of: Callable[[Loc], str]) -> Settings:
    try:
        # partial: cross-field rules wait for the merged result (see load_settings)
        return Settings.from_mapping(data, partial=True)
    except ConfigError as exc:
        raise _usage_error(exc, origin_of) from None


def _read_toml(path: Path, origin: str) -> _Layer:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{_path_text(path)}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{_path_text(path)}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise UsageError(f"{_path_text(path)}: not valid TOML: {detail}") from None
    # Paths in a finops.toml are relative to that file, wherever finops runs from.
    for section, key in (_CA_BUNDLE, _EXTRA_CATALOG):
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = _absolute(table[key], path.parent)
    return _Layer(data=data, origins={(): origin})


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return a == b


def _config_layers(
    env: Mapping[str, str], cwd: Path, user_config_dir: Path, config_file: Path | None
) -> list[_Layer]:
    explicit: str | Path | None = config_file
    how = "--config"
    if explicit is None and env.get(CONFIG_ENV_VAR, "").strip():
        explicit, how = env[CONFIG_ENV_VAR].strip(), CONFIG_ENV_VAR
    if explicit is not None:
        path = Path(_absolute(explicit, cwd))
        if not path.exists():
            where = "" if str(path) == str(explicit) else f" ({_path_text(path)})"
            raise UsageError(f"{how} {str(explicit)!r}: no such file{where}")
        return [_read_toml(path, f"{_path_text(Path(path.name))} ({_path_text(path)})")]
    found: list[Path] = []
    for directory in (user_config_dir, cwd):
        path = directory / CONFIG_FILE_NAME
        if path.exists() and not any(_same_file(path, other) for other in found):
            found.append(path)
    return [_read_toml(path, f"{CONFIG_FILE_NAME} ({_path_text(path)})") for path in found]


def _env_layer(env: Mapping[str, str], cwd: Path) -> _Layer:
    layer = _Layer()
    for name, dotted in ENVIRONMENT_VARIABLES.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue  # `FINOPS_X=` in a CI template means "not set", not "set to nothing"
        if not _is_utf8(raw):  # undecodable bytes, kept by Python as lone surrogates
            raise UsageError(f"invalid setting {dotted} from {name}: not valid UTF-8 text")
        loc = tuple(dotted.split("."))
        value: object = raw
        if loc == _HEADERS:
            try:
                value = parse_header_entries(raw)
            except ValueError as exc:
                raise UsageError(
                    f"invalid setting {dotted} from {name}: {exc} "
                    "(entries are separated by ';' or newlines)"
                ) from None
        elif loc in (_CA_BUNDLE, _EXTRA_CATALOG):
            value = _absolute(raw, cwd)
        layer.set(loc, value, name)
    return layer


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flag_layer(flags: Mapping[str, object], cwd: Path) -> _Layer:
    layer = _Layer()
    origin = "the command line"
    for dotted, value in flags.items():
        if value is None:
            continue  # the flag was not given
        loc = tuple(dotted.split("."))
        given: object = value
        if loc == _HEADERS:
            try:
                given = _headers_input(value)
            except ValueError as exc:
                raise UsageError(f"invalid setting {dotted} from {origin}: {exc}") from None
        elif loc == _CA_BUNDLE and isinstance(value, str | os.PathLike):
            given = _absolute(value, cwd)
        layer.set(loc, given, origin)
    return layer


def _merge(target: dict[str, Any], source: Mapping[str, Any], loc: Loc = ()) -> None:
    if loc == ("prometheus",):
        # Token and basic auth exclude each other, so the source that picks one drops the other
        # from lower ones: `--basic-auth` overrides a token in finops.toml instead of clashing
        # with it, while a password from the env still pairs with a username from the file.
        if "bearer_token" in source:
            target.pop("username", None)
            target.pop("password", None)
        if "username" in source or "password" in source:
            target.pop("bearer_token", None)
    for key, value in source.items():
        here = (*loc, key)
        current = target.get(key)
        if here == _HEADERS and isinstance(value, dict) and isinstance(current, dict):
            # Header names are case-insensitive: an env `x-scope-orgid` replaces a file's
            # `X-Scope-OrgID` instead of sending both.
            names = {str(name).lower() for name in value}
            target[key] = {k: v for k, v in current.items() if str(k).lower() not in names}
            target[key].update(value)
        elif isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value, here)
        else:
            target[key] = copy.deepcopy(value)


def load_settings(
    flags: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_config_dir: Path | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge every settings source into one validated ``Settings``, or raise one-line UsageError.

    ``flags`` is keyed by dotted paths (``"prometheus.url"``); a None value is a flag not given.
    Each source is validated on its own first, so an error names the exact file or variable.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if user_config_dir is None:
        user_config_dir = Path(platformdirs.user_config_dir(APP_NAME))

    layers = _config_layers(env, cwd, user_config_dir, config_file)
    layers.append(_env_layer(env, cwd))
    layers.append(_flag_layer(flags or {}, cwd))
    for layer in layers:
        prometheus = layer.data.get("prometheus")
        if isinstance(prometheus, dict):
            before = set(prometheus)
            _lift_userinfo(prometheus)
            for key in set(prometheus) - before:
                layer.origins[("prometheus", key)] = layer.origin(("prometheus", "url"))
        _validate(layer.data, layer.origin)

    def origin_of(loc: Loc) -> str:
        for layer in reversed(layers):
            if layer.has(loc):
                return layer.origin(loc)
        return "the defaults"

    merged: dict[str, Any] = {}
    for layer in layers:
        _merge(merged, layer.data)
    settings = _validate(merged, origin_of)
    problems = (
        _source_problems(settings)
        + _budget_problems(settings.budgets)
        + [
            (("prometheus", *loc), reason)
            for loc, reason in _prometheus_problems(settings.prometheus)
        ]
    )
    for loc, reason in problems:
        raise UsageError(f"invalid setting {'.'.join(loc)} from {origin_of(loc)}: {reason}")
    return settings

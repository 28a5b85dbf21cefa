"""The settings tables, each setting declared once: type, default, check, env, flag and help.

A field is ``name: type = setting(default, RULE, env=..., flag=..., help=...)``; everything else
(the ``FINOPS_*`` table and its help, the shared typer options, the flag mapping, masking in
descriptions and the trust model's guarded keys) is derived from these declarations by
:mod:`finops_cli.settings.registry`. See ``Rule`` in :mod:`finops_cli.config_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from finops_cli.config_checks import (
    REQUIRED,
    Checked,
    Rule,
    SecretStr,
    choice,
    number_in,
    optional,
    plain,
    section,
    setting,
    settings_table,
    table_of,
    to_bool,
    to_path,
    to_secret,
    to_str,
    tuple_of,
    whole_number_in,
)
from finops_cli.settings.checks import (
    DAY_S,
    NO_BOOL,
    NUMBER_NOT_BOOL,
    basic_auth_flag,
    check_athena_name,
    check_budget_names,
    check_ca_bundle,
    check_cluster_label,
    check_currency,
    check_headers,
    check_label_key,
    check_label_names,
    check_opencost_url,
    check_output,
    check_owner,
    check_profile,
    check_prometheus_url,
    check_region,
    check_tag,
    check_webhook,
    header_safe_token,
    headers_input,
    lift_userinfo,
    prometheus_problems,
    seconds_input,
    source_problems,
    split_replicas,
)
from finops_cli.settings.pricing import PricingOverrides

_URL = Rule(optional(to_str), secret="url", guard="redirect")
_TOKEN = Rule(optional(to_secret), checks=(header_safe_token,), secret="value", guard="credential")
_OPTIONAL_BOOL = Rule(optional(to_bool), flag_type=bool)
_DURATION = Rule(number_in(gt=0, le=DAY_S), prepare=seconds_input, metavar="DURATION")


@settings_table
class PrometheusSettings(Checked):
    """How to reach and query a Prometheus-compatible API (Prometheus, Thanos, Mimir, VM)."""

    url: str | None = setting(
        None,
        _URL.but(checks=(check_prometheus_url,)),
        env="FINOPS_PROMETHEUS_URL",
        flag="--prometheus-url",
        metavar="URL",
        help="Prometheus-compatible API root, path prefix included (Mimir: /prometheus, "
        "VictoriaMetrics: /select/0/prometheus).",
    )
    bearer_token: SecretStr | None = setting(
        None,
        _TOKEN,
        env="FINOPS_PROMETHEUS_BEARER_TOKEN",
        flag="--bearer-token",
        metavar="TOKEN",
        help="Bearer token sent as Authorization (prefer the variable: flags show in ps).",
    )
    username: str | None = setting(
        None,
        Rule(optional(to_str), guard="credential"),
        env="FINOPS_PROMETHEUS_USERNAME",
        flag="--basic-auth",
        metavar="USER:PASSWORD",
        flag_to=basic_auth_flag,
        help="HTTP basic auth: the flag takes USER:PASSWORD, the variable the user name "
        "(with FINOPS_PROMETHEUS_PASSWORD).",
    )
    password: SecretStr | None = setting(
        None,
        Rule(optional(to_secret), secret="value", guard="credential"),
        env="FINOPS_PROMETHEUS_PASSWORD",
        help="Basic-auth password.",
    )
    headers: dict[str, SecretStr] = setting(
        dict,
        Rule(table_of(to_secret), prepare=headers_input, checks=(check_headers,)),
        secret="headers",
        guard="both",  # a credential, and a project's header could reroute a gateway
        env="FINOPS_PROMETHEUS_HEADERS",
        flag="--header -H",
        metavar="'NAME: VALUE'",
        flag_type=list[str],
        help="Extra HTTP headers, 'Name: value' (e.g. 'X-Scope-OrgID: tenant-a'); the flag "
        "repeats, the variable separates entries with ';' or newlines.",
    )
    ca_bundle: Path | None = setting(
        None,
        Rule(optional(to_path), checks=(check_ca_bundle,), guard="redirect", hidden_input=True),
        env="FINOPS_PROMETHEUS_CA_BUNDLE",
        flag="--ca-bundle",
        metavar="PATH",
        flag_type=Path,
        help="PEM file of CA certificates to trust (relative to the file that names it).",
    )
    insecure_skip_tls_verify: bool = setting(
        False,
        Rule(to_bool, guard="redirect"),
        env="FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY",
        flag="--insecure-skip-tls-verify",
        flag_type=bool,
        help="true/false: do not verify TLS certificates (unsafe).",
    )
    timeout_seconds: float = setting(
        30.0,
        _DURATION,
        env="FINOPS_PROMETHEUS_TIMEOUT",
        flag="--timeout",
        help="Per-request timeout: seconds or a duration such as 30s, 1m (default 30s).",
    )
    retries: int = setting(
        3,
        Rule(whole_number_in(ge=0), prepare=NO_BOOL),
        env="FINOPS_PROMETHEUS_RETRIES",
        help="Retries of a failed request (0 disables).",
    )
    max_concurrency: int = setting(
        4,
        Rule(whole_number_in(ge=1), prepare=NO_BOOL),
        env="FINOPS_MAX_CONCURRENCY",
        flag="--max-concurrency",
        metavar="N",
        flag_type=int,
        help="Queries in flight at once (default 4).",
    )
    max_response_mb: float = setting(
        512.0,
        Rule(number_in(gt=0), prepare=NUMBER_NOT_BOOL),
        env="FINOPS_MAX_RESPONSE_MB",
        flag="--max-response-mb",
        metavar="MB",
        flag_type=float,
        help="Largest HTTP answer read from Prometheus or OpenCost, in MB (default 512).",
    )
    thanos_dedup: bool | None = setting(
        None,
        _OPTIONAL_BOOL,
        env="FINOPS_THANOS_DEDUP",
        flag="--thanos-dedup/--no-thanos-dedup",
        help="true/false: Thanos' dedup parameter (unset: server default).",
    )
    thanos_partial_response: bool | None = setting(
        None,
        _OPTIONAL_BOOL,
        env="FINOPS_THANOS_PARTIAL_RESPONSE",
        flag="--thanos-partial-response/--no-thanos-partial-response",
        help="true/false: Thanos' partial_response parameter (unset: not sent).",
    )
    sample_interval_seconds: float | None = setting(
        None,
        Rule(optional(number_in(ge=1, le=DAY_S)), prepare=seconds_input),
        env="FINOPS_SAMPLE_INTERVAL",
        flag="--sample-interval",
        metavar="DURATION",
        help="Scrape interval of the GPU metrics: seconds or a duration (default: detected "
        "from the data).",
    )
    raw: bool = setting(
        False,
        Rule(to_bool),
        env="FINOPS_RAW",
        flag="--raw",
        flag_type=bool,
        help="true/false: read raw series only, never the recorded ledger that finops' "
        "recording rules write (default false: recorded hours where they exist).",
    )
    replica_labels: tuple[str, ...] = setting(
        (),
        Rule(tuple_of(to_str), prepare=split_replicas, checks=(check_label_names,)),
        env="FINOPS_PROMETHEUS_REPLICA_LABELS",
        help="Comma-separated replica labels of HA Prometheus pairs to collapse when querying "
        "them without Thanos dedup (e.g. prometheus_replica).",
    )

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        lifted = dict(data)
        lift_userinfo(lifted)
        return lifted

    def _check_whole(self, partial: bool) -> None:
        if not partial:
            for loc, reason in prometheus_problems(self):
                raise ValueError(f"prometheus.{'.'.join(loc)} {reason}")

    @property
    def max_body_bytes(self) -> int:
        """``max_response_mb`` in bytes, as the HTTP client takes it."""
        return int(self.max_response_mb * 1024 * 1024)


def _label(default: str, env: str, help: str) -> Any:
    return setting(default, Rule(to_str, checks=(check_label_key,)), env=env, help=help)


@settings_table
class LabelSettings(Checked):
    """Kubernetes label/annotation keys that attribute GPU cost to teams, projects and models."""

    team: str = _label("ai-finops.io/team", "FINOPS_LABEL_TEAM", "Pod label key naming the team.")
    project: str = _label(
        "ai-finops.io/project", "FINOPS_LABEL_PROJECT", "Pod label key naming the project."
    )
    model: str = _label(
        "ai-finops.io/model", "FINOPS_LABEL_MODEL", "Pod label key naming the model."
    )
    environment: str = _label(
        "ai-finops.io/environment",
        "FINOPS_LABEL_ENVIRONMENT",
        "Pod label key naming the environment.",
    )
    cost_center: str = _label(  # an annotation, not a label
        "ai-finops.io/cost-center",
        "FINOPS_LABEL_COST_CENTER",
        "Pod annotation key naming the cost center.",
    )
    # The Prometheus label naming the cluster (a Thanos external label or remote-write label).
    # Harmless on a single cluster: a missing label joins as empty. None turns it off.
    cluster: str | None = setting(
        "cluster",
        Rule(optional(to_str), checks=(check_cluster_label,)),
        env="FINOPS_CLUSTER_LABEL",
        help="Prometheus label naming the cluster (default 'cluster').",
    )


@settings_table
class OpenCostSettings(Checked):
    """The OpenCost API (``/allocation/compute``): a second opinion, or the source itself.

    TLS, timeout and retries follow the ``[prometheus]`` settings: one cluster, one ingress.
    """

    url: str | None = setting(
        None,
        _URL.but(checks=(check_opencost_url,)),
        env="FINOPS_OPENCOST_URL",
        flag="--opencost-url",
        metavar="URL",
        help="OpenCost API root (e.g. http://opencost.opencost:9003), for --source opencost or "
        "--compare opencost.",
    )
    bearer_token: SecretStr | None = setting(
        None, _TOKEN, env="FINOPS_OPENCOST_BEARER_TOKEN", help="Bearer token for the OpenCost API."
    )


def _optional_text(check: Any, env: str, help: str) -> Any:
    return setting(None, Rule(optional(to_str), checks=(check,)), env=env, help=help)


@settings_table
class BillingSettings(Checked):
    """Where ``finops billing`` reads the cloud bill: AWS access, Athena, the answer cache.

    Credentials never live here: boto3's own chain supplies them (profile, environment, SSO,
    instance or pod role), and ``AWS_ENDPOINT_URL`` points it at a compatible endpoint.
    """

    aws_profile: str | None = _optional_text(
        check_profile,
        "FINOPS_AWS_PROFILE",
        "AWS profile for finops billing (default: boto3's own chain: AWS_PROFILE, env keys, "
        "SSO, instance role).",
    )
    aws_region: str | None = _optional_text(  # Athena's; Cost Explorer answers from us-east-1
        check_region,
        "FINOPS_AWS_REGION",
        "AWS region of the Athena workgroup (Cost Explorer is global).",
    )
    athena_workgroup: str = setting(
        "primary",
        Rule(to_str, checks=(check_athena_name,)),
        env="FINOPS_ATHENA_WORKGROUP",
        help="Athena workgroup for billing actual --athena (default primary).",
    )
    athena_database: str | None = _optional_text(
        check_athena_name,
        "FINOPS_ATHENA_DATABASE",
        "Glue database holding the FOCUS / CUR 2.0 table.",
    )
    athena_output_location: str | None = _optional_text(
        check_output,
        "FINOPS_ATHENA_OUTPUT_LOCATION",
        "s3:// folder for Athena results (default: the workgroup's).",
    )
    cache_ttl_seconds: float = setting(
        4 * 3600.0,
        Rule(number_in(ge=0), prepare=seconds_input),
        env="FINOPS_BILLING_CACHE_TTL",
        help="How long Cost Explorer answers are reused: seconds or a duration (default 4h; "
        "0 disables the cache).",
    )
    team_tag: str = setting(
        "team",
        Rule(to_str, checks=(check_tag,)),
        env="FINOPS_BILLING_TEAM_TAG",
        help="Cost allocation tag key naming the team (default 'team').",
    )


_PERCENT = Rule(number_in(gt=0, le=1000), prepare=NUMBER_NOT_BOOL)
_OPTIONAL_PERCENT = Rule(optional(number_in(gt=0, le=1000)), prepare=NUMBER_NOT_BOOL)


@settings_table
class BudgetSpec(Checked):
    """One monthly budget (GPU spend, in ``currency``) for a team, a project or the cluster.

    Thresholds are percentages of the budget that the month-end projection must reach to turn
    the status to warning or critical; unset ones take the ``[budgets]`` defaults. File only.
    """

    monthly: float = setting(REQUIRED, Rule(number_in(gt=0), prepare=NUMBER_NOT_BOOL))
    warning_percent: float | None = setting(None, _OPTIONAL_PERCENT)
    critical_percent: float | None = setting(None, _OPTIONAL_PERCENT)
    owner: str | None = setting(None, Rule(optional(to_str), checks=(check_owner,)))


_BUDGETS = Rule(table_of(BudgetSpec.from_mapping), checks=(check_budget_names,))


@settings_table
class BudgetSettings(Checked):
    """``[budgets]``: default thresholds, then ``teams.<name>``, ``projects.<name>``, ``total``."""

    warning_percent: float = setting(
        90.0,
        _PERCENT,
        env="FINOPS_BUDGET_WARNING_PERCENT",
        help="Default warning threshold: percent of a budget the month-end projection must "
        "reach (default 90).",
    )
    critical_percent: float = setting(
        100.0,
        _PERCENT,
        env="FINOPS_BUDGET_CRITICAL_PERCENT",
        help="Default critical threshold, percent of a budget (default 100).",
    )
    teams: dict[str, BudgetSpec] = setting(dict, _BUDGETS)
    projects: dict[str, BudgetSpec] = setting(dict, _BUDGETS)
    total: BudgetSpec | None = setting(None, Rule(optional(BudgetSpec.from_mapping)))


@settings_table
class NotifySettings(Checked):
    """Where ``--notify`` posts findings. The URL is a secret: a webhook URL is its own key."""

    url: SecretStr | None = setting(
        None,
        Rule(optional(to_secret), checks=(check_webhook,), secret="webhook", guard="redirect"),
        env="FINOPS_NOTIFY_URL",
        help="Webhook that --notify posts findings to (a secret; never printed).",
    )
    format: Literal["slack", "json"] = setting(
        "slack",
        Rule(choice("slack", "json")),
        env="FINOPS_NOTIFY_FORMAT",
        help="slack (incoming-webhook JSON, the default) or json (generic).",
    )
    timeout_seconds: float = setting(10.0, _DURATION)
    retries: int = setting(3, Rule(whole_number_in(ge=0, le=10)))  # `true` is 1 here


_SHARE = Rule(number_in(ge=0, le=1))


@settings_table
class GpuStateSettings(Checked):
    """Where ``finops gpus`` draws the lines between active, underused and idle GPUs."""

    idle_busy_p95: float = setting(
        0.10,
        _SHARE,
        env="FINOPS_GPUS_IDLE_BUSY_P95",
        help="A held GPU whose busy p95 stays below this (0-1) is idle-allocated (default 0.10).",
    )
    underused_busy_avg: float = setting(
        0.30,
        _SHARE,
        env="FINOPS_GPUS_UNDERUSED_BUSY_AVG",
        help="A held GPU whose busy average is below this (0-1) is underused (default 0.30).",
    )
    min_held_share: float = setting(
        0.5,
        _SHARE,
        env="FINOPS_GPUS_MIN_HELD_SHARE",
        help="Share of the window a pod must hold a GPU for it to count as allocated "
        "(default 0.5).",
    )


@settings_table
class CarbonSettings(Checked):
    """``[carbon]``: overrides of the packaged grid factors and PUEs (file only), and the
    region of GPUs whose node names none."""

    grid_intensity: dict[str, float] = setting(dict, Rule(table_of(number_in(ge=0, le=2))))
    pue: dict[str, float] = setting(dict, Rule(table_of(number_in(ge=1, le=3))))
    default_region: str | None = setting(
        None,
        Rule(optional(to_str)),
        env="FINOPS_CARBON_REGION",
        help="Cloud region of GPUs whose node has no topology.kubernetes.io/region label "
        "(for their carbon factor).",
    )


SOURCES = ("auto", "sample", "prometheus", "opencost")


@settings_table
class Settings(Checked):
    """Everything a command needs to know that is not about the question being asked."""

    source: Literal["auto", "sample", "prometheus", "opencost"] = setting(
        "auto",
        Rule(choice(*SOURCES)),
        env="FINOPS_SOURCE",
        flag="--source",
        flag_type=SOURCES,
        help="Data source: sample, prometheus, opencost, or auto (prometheus when a URL is set).",
    )
    prometheus: PrometheusSettings = section(PrometheusSettings)
    opencost: OpenCostSettings = section(OpenCostSettings)
    pricing: PricingOverrides = section(PricingOverrides)
    gpus: GpuStateSettings = section(GpuStateSettings)
    carbon: CarbonSettings = section(CarbonSettings)
    labels: LabelSettings = section(LabelSettings)
    currency: str = setting(
        "USD",
        Rule(to_str, checks=(check_currency,)),
        env="FINOPS_CURRENCY",
        help="ISO 4217 code that prices are reported in.",
    )
    sample_seed: int = setting(
        42,
        Rule(whole_number_in(ge=0), prepare=NO_BOOL),
        env="FINOPS_SAMPLE_SEED",
        help="Seed of the built-in sample data set.",
    )
    sample_fleet: str = setting(
        "default",
        Rule(choice("default", "sharing", "all")),
        env="FINOPS_SAMPLE_FLEET",
        help="Which built-in sample cluster: default (whole GPUs), sharing (MIG, time-slicing, "
        "MPS, HAMi, KAI fractions, DRA) or all (both in one cluster).",
    )
    billing: BillingSettings = section(BillingSettings)
    budgets: BudgetSettings = section(BudgetSettings)
    notify: NotifySettings = section(NotifySettings)
    trust_project_config: bool = setting(
        False,
        Rule(to_bool),
        env="FINOPS_TRUST_PROJECT_CONFIG",
        flag="--trust-project-config",
        flag_type=bool,
        help="Let ./finops.toml choose where credentials from elsewhere go (its URLs, TLS, "
        "headers); never read from ./finops.toml itself.",
    )

    def _check_whole(self, partial: bool) -> None:
        if not partial:
            for loc, reason in source_problems(self):
                raise ValueError(f"{'.'.join(loc)} {reason}")

    @property
    def effective_source(self) -> Literal["sample", "prometheus", "opencost"]:
        """Resolve ``auto`` here once, so every command agrees on where the data comes from."""
        if self.source == "auto":
            return "prometheus" if self.prometheus.url is not None else "sample"
        return self.source

    def describe(self) -> dict[str, Any]:
        """A plain dict for ``config show`` and debug logs: every secret masked (see registry)."""
        from finops_cli.settings.registry import mask_secrets

        data = cast(dict[str, Any], plain(self))
        mask_secrets(self, data)
        return data

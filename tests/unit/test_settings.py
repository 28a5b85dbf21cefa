"""Settings: precedence, TOML discovery and merging, env parsing, one-line errors, secrecy."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops_cli.config_checks import SecretStr
from finops_cli.errors import EXIT_USAGE, UsageError
from finops_cli.labels import kube_label_to_prometheus
from finops_cli.settings import (
    ENVIRONMENT_VARIABLE_HELP,
    ENVIRONMENT_VARIABLES,
    PrometheusSettings,
    Settings,
    load_settings,
    parse_header_entries,
)

TOKEN = "tok-3f9a1c2b7d"
PASSWORD = "pw-8e7d6c5b4a"
TENANT = "tenant-9a8b7c6d"


class Dirs:
    def __init__(self, root: Path) -> None:
        self.user = root / "user"
        self.cwd = root / "work"
        self.user.mkdir()
        self.cwd.mkdir()

    def user_toml(self, text: str) -> Path:
        path = self.user / "finops.toml"
        path.write_text(text)
        return path

    def cwd_toml(self, text: str) -> Path:
        path = self.cwd / "finops.toml"
        path.write_text(text)
        return path

    def load(
        self,
        flags: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        return load_settings(
            flags,
            env=env or {},
            cwd=self.cwd,
            user_config_dir=self.user,
            config_file=config_file,
        )

    def error(
        self,
        flags: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> str:
        with pytest.raises(UsageError) as excinfo:
            self.load(flags, env, config_file)
        message = str(excinfo.value)
        assert excinfo.value.exit_code == EXIT_USAGE
        assert "\n" not in message
        return message


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path)


def no_secrets(text: str) -> None:
    for secret in (TOKEN, PASSWORD, TENANT):
        assert secret not in text


# --- defaults and precedence ---------------------------------------------------------------------


def test_defaults_without_any_source(dirs: Dirs) -> None:
    settings = dirs.load()
    assert settings == Settings()
    assert settings.source == "auto"
    assert settings.effective_source == "sample"
    assert settings.prometheus.timeout_seconds == 30.0
    assert settings.prometheus.retries == 3
    assert settings.prometheus.max_concurrency == 4
    assert settings.labels.team == "ai-finops.io/team"
    assert settings.labels.cluster == "cluster"
    assert (settings.currency, settings.sample_seed) == ("USD", 42)


def test_flag_beats_env_beats_cwd_toml_beats_user_toml_beats_default(dirs: Dirs) -> None:
    dirs.user_toml('[prometheus]\nurl = "http://user:9090"\n[labels]\nteam = "user/team"\n')
    dirs.cwd_toml('[prometheus]\nurl = "http://cwd:9090"\n[labels]\nteam = "cwd/team"\n')
    env = {"FINOPS_PROMETHEUS_URL": "http://env:9090", "FINOPS_LABEL_TEAM": "env/team"}
    flags = {"prometheus.url": "http://flag:9090", "labels.team": "flag/team"}

    settings = dirs.load(flags, env)
    assert (settings.prometheus.url, settings.labels.team) == ("http://flag:9090", "flag/team")
    settings = dirs.load({"prometheus.url": None, "labels.team": None}, env)
    assert (settings.prometheus.url, settings.labels.team) == ("http://env:9090", "env/team")
    settings = dirs.load(env={})
    assert (settings.prometheus.url, settings.labels.team) == ("http://cwd:9090", "cwd/team")
    (dirs.cwd / "finops.toml").unlink()
    settings = dirs.load()
    assert (settings.prometheus.url, settings.labels.team) == ("http://user:9090", "user/team")
    (dirs.user / "finops.toml").unlink()
    settings = dirs.load()
    assert (settings.prometheus.url, settings.labels.team) == (None, "ai-finops.io/team")


def test_toml_files_are_deep_merged_with_the_current_directory_winning(dirs: Dirs) -> None:
    dirs.user_toml(
        'currency = "EUR"\n'
        "[prometheus]\n"
        'url = "http://shared:9090"\n'
        "retries = 5\n"
        "[prometheus.headers]\n"
        'X-Scope-OrgID = "from-user"\n'
        'X-Extra = "kept"\n'
        "[labels]\n"
        'cluster = "cluster"\n'
    )
    dirs.cwd_toml(
        "[prometheus]\n"
        "retries = 1\n"
        "[prometheus.headers]\n"
        'x-scope-orgid = "from-cwd"\n'
        "[labels]\n"
        'team = "example.com/squad"\n'
    )
    # The project file's headers would ride along with the user's: only with the user's consent.
    assert "prometheus.headers" in dirs.error()
    settings = dirs.load(env={"FINOPS_TRUST_PROJECT_CONFIG": "1"})
    prometheus = settings.prometheus
    assert prometheus.url == "http://shared:9090"
    assert prometheus.retries == 1
    assert settings.currency == "EUR"
    assert (settings.labels.team, settings.labels.cluster) == ("example.com/squad", "cluster")
    headers = {name: value.get_secret_value() for name, value in prometheus.headers.items()}
    assert headers == {"X-Extra": "kept", "x-scope-orgid": "from-cwd"}


def test_env_header_replaces_a_file_header_case_insensitively(dirs: Dirs) -> None:
    dirs.cwd_toml('[prometheus.headers]\nX-Scope-OrgID = "file"\nX-Other = "o"\n')
    env = {"FINOPS_PROMETHEUS_HEADERS": "x-scope-orgid: env", "FINOPS_TRUST_PROJECT_CONFIG": "1"}
    settings = dirs.load(env=env)
    headers = {k: v.get_secret_value() for k, v in settings.prometheus.headers.items()}
    assert headers == {"X-Other": "o", "x-scope-orgid": "env"}


def test_same_directory_for_user_config_and_cwd_reads_the_file_once(tmp_path: Path) -> None:
    (tmp_path / "finops.toml").write_text('source = "sample"\n')
    settings = load_settings(env={}, cwd=tmp_path, user_config_dir=tmp_path)
    assert settings.source == "sample"


def test_defaults_to_os_environ_and_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "finops.toml").write_text("sample_seed = 7\n")
    monkeypatch.setattr("platformdirs.user_config_dir", lambda app: str(tmp_path))
    monkeypatch.chdir(tmp_path / "..")
    monkeypatch.setenv("FINOPS_CURRENCY", "gbp")
    settings = load_settings()
    assert (settings.sample_seed, settings.currency) == (7, "GBP")


def test_empty_env_values_and_none_flags_count_as_unset(dirs: Dirs) -> None:
    dirs.cwd_toml('currency = "EUR"\n')
    settings = dirs.load({"currency": None}, {"FINOPS_CURRENCY": "  ", "FINOPS_CONFIG": ""})
    assert settings.currency == "EUR"


# --- FINOPS_CONFIG / --config --------------------------------------------------------------------


def test_finops_config_replaces_discovery(dirs: Dirs, tmp_path: Path) -> None:
    dirs.user_toml('currency = "EUR"\n')
    dirs.cwd_toml('[prometheus]\nurl = "http://discovered:9090"\n')
    explicit = tmp_path / "ci.toml"
    explicit.write_text("[prometheus]\nretries = 0\n")
    settings = dirs.load(env={"FINOPS_CONFIG": str(explicit)})
    assert settings.prometheus.retries == 0
    assert settings.prometheus.url is None
    assert settings.currency == "USD"


def test_relative_finops_config_is_relative_to_cwd(dirs: Dirs) -> None:
    (dirs.cwd / "conf").mkdir()
    (dirs.cwd / "conf" / "x.toml").write_text("sample_seed = 9\n")
    assert dirs.load(env={"FINOPS_CONFIG": "conf/x.toml"}).sample_seed == 9


def test_config_file_argument_beats_finops_config(dirs: Dirs, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("sample_seed = 1\n")
    (tmp_path / "b.toml").write_text("sample_seed = 2\n")
    settings = dirs.load(
        env={"FINOPS_CONFIG": str(tmp_path / "a.toml")}, config_file=tmp_path / "b.toml"
    )
    assert settings.sample_seed == 2


def test_env_still_beats_an_explicit_config_file(dirs: Dirs, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("sample_seed = 1\n")
    settings = dirs.load(env={"FINOPS_SAMPLE_SEED": "5"}, config_file=tmp_path / "a.toml")
    assert settings.sample_seed == 5


def test_missing_explicit_config_is_a_usage_error(dirs: Dirs, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    message = dirs.error(env={"FINOPS_CONFIG": str(missing)})
    assert message.startswith("FINOPS_CONFIG") and "no such file" in message
    assert str(missing) in message
    message = dirs.error(config_file=missing)
    assert message.startswith("--config") and "no such file" in message


# --- environment parsing -------------------------------------------------------------------------


def test_every_documented_variable_maps_to_a_real_setting() -> None:
    expected = {
        "FINOPS_SOURCE", "FINOPS_CURRENCY", "FINOPS_SAMPLE_SEED", "FINOPS_PROMETHEUS_URL",
        "FINOPS_PROMETHEUS_BEARER_TOKEN", "FINOPS_PROMETHEUS_USERNAME",
        "FINOPS_PROMETHEUS_PASSWORD", "FINOPS_PROMETHEUS_HEADERS", "FINOPS_PROMETHEUS_CA_BUNDLE",
        "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY", "FINOPS_PROMETHEUS_TIMEOUT",
        "FINOPS_PROMETHEUS_RETRIES", "FINOPS_MAX_CONCURRENCY", "FINOPS_THANOS_DEDUP",
        "FINOPS_THANOS_PARTIAL_RESPONSE", "FINOPS_SAMPLE_INTERVAL",
        "FINOPS_PROMETHEUS_REPLICA_LABELS", "FINOPS_LABEL_TEAM",
        "FINOPS_LABEL_PROJECT", "FINOPS_LABEL_MODEL", "FINOPS_LABEL_ENVIRONMENT",
        "FINOPS_LABEL_COST_CENTER", "FINOPS_CLUSTER_LABEL", "FINOPS_OPENCOST_URL",
        "FINOPS_OPENCOST_BEARER_TOKEN",
    }  # fmt: skip
    assert expected <= set(ENVIRONMENT_VARIABLES)  # later features add their own
    assert set(ENVIRONMENT_VARIABLE_HELP) == set(ENVIRONMENT_VARIABLES) | {"FINOPS_CONFIG"}
    for dotted in ENVIRONMENT_VARIABLES.values():
        node: object = Settings()
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = getattr(node, part)
            assert dataclasses.is_dataclass(node)
        assert leaf in {f.name for f in dataclasses.fields(node)}  # type: ignore[arg-type]


def test_every_variable_is_read(dirs: Dirs) -> None:
    ca = dirs.cwd / "ca.pem"
    ca.write_text("pem")
    env = {
        "FINOPS_SOURCE": "prometheus",
        "FINOPS_CURRENCY": "eur",
        "FINOPS_SAMPLE_SEED": "7",
        "FINOPS_PROMETHEUS_URL": "https://mimir.example/prometheus/",
        "FINOPS_PROMETHEUS_USERNAME": "bob",
        "FINOPS_PROMETHEUS_PASSWORD": PASSWORD,
        "FINOPS_PROMETHEUS_HEADERS": f"X-Scope-OrgID: {TENANT}",
        "FINOPS_PROMETHEUS_CA_BUNDLE": "ca.pem",
        "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY": "no",
        "FINOPS_PROMETHEUS_TIMEOUT": "1m",
        "FINOPS_PROMETHEUS_RETRIES": "0",
        "FINOPS_MAX_CONCURRENCY": "16",
        "FINOPS_THANOS_DEDUP": "true",
        "FINOPS_THANOS_PARTIAL_RESPONSE": "0",
        "FINOPS_SAMPLE_INTERVAL": "15s",
        "FINOPS_LABEL_TEAM": "example.com/team",
        "FINOPS_LABEL_PROJECT": "example.com/project",
        "FINOPS_LABEL_MODEL": "example.com/model",
        "FINOPS_LABEL_ENVIRONMENT": "env",
        "FINOPS_LABEL_COST_CENTER": "example.com/cost-center",
        "FINOPS_CLUSTER_LABEL": "cluster",
    }
    s = dirs.load(env=env)
    p = s.prometheus
    assert (s.source, s.currency, s.sample_seed, s.effective_source) == (
        "prometheus",
        "EUR",
        7,
        "prometheus",
    )
    assert p.url == "https://mimir.example/prometheus"
    assert p.username == "bob"
    assert p.password is not None and p.password.get_secret_value() == PASSWORD
    assert p.headers["X-Scope-OrgID"].get_secret_value() == TENANT
    assert p.ca_bundle == ca
    assert p.insecure_skip_tls_verify is False
    assert (p.timeout_seconds, p.retries, p.max_concurrency) == (60.0, 0, 16)
    assert (p.thanos_dedup, p.thanos_partial_response) == (True, False)
    assert p.sample_interval_seconds == 15.0
    labels = s.labels
    assert (labels.team, labels.project, labels.model) == (
        "example.com/team",
        "example.com/project",
        "example.com/model",
    )
    assert (labels.environment, labels.cost_center, labels.cluster) == (
        "env",
        "example.com/cost-center",
        "cluster",
    )


def test_bearer_token_from_env(dirs: Dirs) -> None:
    token = dirs.load(env={"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN}).prometheus.bearer_token
    assert token is not None and token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
        ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False),
    ],
)  # fmt: skip
def test_boolean_variables(dirs: Dirs, text: str, expected: bool) -> None:
    env = {
        "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY": text,
        "FINOPS_THANOS_DEDUP": text,
        "FINOPS_THANOS_PARTIAL_RESPONSE": text,
    }
    p = dirs.load(env=env).prometheus
    assert p.insecure_skip_tls_verify is expected
    assert p.thanos_dedup is expected
    assert p.thanos_partial_response is expected


@pytest.mark.parametrize("text", ["maybe", "2", "tru", "-1"])
def test_bad_boolean_names_the_variable(dirs: Dirs, text: str) -> None:
    message = dirs.error(env={"FINOPS_THANOS_DEDUP": text})
    assert message.startswith(
        "invalid setting prometheus.thanos_dedup from FINOPS_THANOS_DEDUP: must be true or false"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("1m", 60.0), ("45", 45.0), ("1.5", 1.5), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_durations_from_env(dirs: Dirs, text: str, seconds: float) -> None:
    p = dirs.load(env={"FINOPS_PROMETHEUS_TIMEOUT": text}).prometheus
    assert p.timeout_seconds == seconds
    if seconds >= 1:  # a scrape interval under a second is refused (see below)
        p = dirs.load(env={"FINOPS_SAMPLE_INTERVAL": text}).prometheus
        assert p.sample_interval_seconds == seconds


def test_sample_interval_under_a_second_is_refused(dirs: Dirs) -> None:
    with pytest.raises(UsageError, match="must be at least 1"):
        dirs.load(env={"FINOPS_SAMPLE_INTERVAL": "500ms"})


def test_durations_from_toml_and_flags(dirs: Dirs) -> None:
    dirs.cwd_toml('[prometheus]\ntimeout_seconds = "2m"\nsample_interval_seconds = 10\n')
    p = dirs.load().prometheus
    assert (p.timeout_seconds, p.sample_interval_seconds) == (120.0, 10.0)
    assert dirs.load({"prometheus.timeout_seconds": "5s"}).prometheus.timeout_seconds == 5.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0", "must be greater than 0"),
        ("-5", "must be greater than 0"),
        ("abc", "must be a number of seconds or a duration such as 30s or 1m"),
        ("0s", "must be a number of seconds or a duration"),
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        ("1e400", "must be a finite number"),
    ],
)
def test_bad_timeout_names_the_variable(dirs: Dirs, text: str, problem: str) -> None:
    message = dirs.error(env={"FINOPS_PROMETHEUS_TIMEOUT": text})
    assert message.startswith(
        f"invalid setting prometheus.timeout_seconds from FINOPS_PROMETHEUS_TIMEOUT: {problem}"
    )


def test_header_parsing() -> None:
    text = f"X-Scope-OrgID: {TENANT};X-A:1\n\n  X-B : has: colons ; ;"
    assert parse_header_entries(text) == {"X-Scope-OrgID": TENANT, "X-A": "1", "X-B": "has: colons"}
    assert parse_header_entries("") == {}
    assert parse_header_entries("a: 1; A: 2") == {"A": "2"}


def test_headers_from_repeated_flags_allow_semicolons(dirs: Dirs) -> None:
    settings = dirs.load({"prometheus.headers": ["X-A: 1;2", f"X-Scope-OrgID: {TENANT}"]})
    headers = {k: v.get_secret_value() for k, v in settings.prometheus.headers.items()}
    assert headers == {"X-A": "1;2", "X-Scope-OrgID": TENANT}


def test_bad_header_entry_names_the_entry_not_its_value(dirs: Dirs) -> None:
    message = dirs.error(env={"FINOPS_PROMETHEUS_HEADERS": f"X-A: 1; {TENANT}"})
    assert message == (
        "invalid setting prometheus.headers from FINOPS_PROMETHEUS_HEADERS: entry 2 is not "
        "'Name: value' (entries are separated by ';' or newlines)"
    )
    message = dirs.error({"prometheus.headers": [TENANT]})
    assert message.startswith("invalid setting prometheus.headers from the command line")
    no_secrets(message)


def test_bad_header_name_and_value(dirs: Dirs) -> None:
    message = dirs.error(env={"FINOPS_PROMETHEUS_HEADERS": f"X-A: 1; Bad {TENANT}: x"})
    assert message.startswith(
        "invalid setting prometheus.headers from FINOPS_PROMETHEUS_HEADERS: "
        "header 2 has an invalid name"
    )
    no_secrets(message)
    dirs.cwd_toml(f'[prometheus.headers]\nX-A = "{TENANT}\\r\\nEvil: 1"\n')
    message = dirs.error()
    assert message.endswith("the value of header 'X-A' contains a line break or NUL")
    no_secrets(message)


def test_relative_ca_bundle_is_relative_to_the_file_that_names_it(dirs: Dirs) -> None:
    (dirs.user / "ca.pem").write_text("pem")
    dirs.user_toml('[prometheus]\nca_bundle = "ca.pem"\n')
    assert dirs.load().prometheus.ca_bundle == dirs.user / "ca.pem"


def test_missing_ca_bundle_is_a_usage_error(dirs: Dirs) -> None:
    message = dirs.error(env={"FINOPS_PROMETHEUS_CA_BUNDLE": "nope.pem"})
    assert message.startswith(
        "invalid setting prometheus.ca_bundle from FINOPS_PROMETHEUS_CA_BUNDLE: no such file"
    )
    assert str(dirs.cwd / "nope.pem") in message


# --- errors --------------------------------------------------------------------------------------


def test_unknown_key_in_toml(dirs: Dirs) -> None:
    path = dirs.cwd_toml('[prometheus]\nulr = "http://x:9090"\n')
    assert dirs.error() == (
        f"finops.toml ({path}): unknown setting prometheus.ulr (did you mean prometheus.url?)"
    )


def test_unknown_table_and_top_level_key(dirs: Dirs) -> None:
    path = dirs.user_toml('[promethues]\nurl = "http://x:9090"\n')
    message = dirs.error()
    assert message.startswith(f"finops.toml ({path}): unknown setting promethues")
    path.write_text('curency = "EUR"\n')
    assert dirs.error() == (
        f"finops.toml ({path}): unknown setting curency (did you mean currency?)"
    )


def test_malformed_toml_names_file_and_line(dirs: Dirs) -> None:
    path = dirs.cwd_toml('source = "sample"\n[prometheus]\nurl = \n')
    message = dirs.error()
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 3" in message


def test_non_utf8_toml(dirs: Dirs) -> None:
    path = dirs.cwd / "finops.toml"
    path.write_bytes(b'currency = "\xff"\n')
    assert dirs.error() == f"{path}: not valid TOML: not UTF-8 text"


def test_unreadable_toml(dirs: Dirs) -> None:
    (dirs.cwd / "finops.toml").mkdir()
    assert dirs.error().startswith(f"{dirs.cwd / 'finops.toml'}: cannot read: ")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('source = "prom"', "invalid setting source from {o}: must be 'auto', 'sample', "),
        ('currency = "dollars"', "invalid setting currency from {o}: must be a three-letter"),
        ("sample_seed = -1", "invalid setting sample_seed from {o}: must be at least 0"),
        ("sample_seed = true", "invalid setting sample_seed from {o}: must be a whole number"),
        ("prometheus = 3", "invalid setting prometheus from {o}: must be a table"),
        ("[prometheus]\nretries = -1", "invalid setting prometheus.retries from {o}: must be"),
        ("[prometheus]\nretries = 1.5", "prometheus.retries from {o}: must be a whole number"),
        ("[prometheus]\nretries = true", "prometheus.retries from {o}: must be a whole number"),
        ("[prometheus]\nmax_concurrency = 0", "max_concurrency from {o}: must be at least 1"),
        ("[prometheus]\ntimeout_seconds = 0", "timeout_seconds from {o}: must be greater than 0"),
        ("[prometheus]\ntimeout_seconds = true", "timeout_seconds from {o}: must be a number"),
        ("[prometheus]\nsample_interval_seconds = -1", "sample_interval_seconds from {o}"),
        ("[prometheus]\ninsecure_skip_tls_verify = 3", "must be true or false"),
        ("[prometheus]\nheaders = 3", "prometheus.headers from {o}: must be a table"),
        ('[labels]\nteam = ""', "invalid setting labels.team from {o}: must not be empty"),
        ('[labels]\nteam = "ai-finops.io/"', "labels.team from {o}: must be a Kubernetes"),
        ('[labels]\nteam = "Example.com/team"', "labels.team from {o}: prefix before '/'"),
        ('[labels]\ncluster = "1cluster"', "labels.cluster from {o}: must be a Prometheus"),
        ('[labels]\ncluster = "k8s-cluster"', "labels.cluster from {o}: must be a Prometheus"),
        ('[prometheus]\nurl = "ftp://x"', "prometheus.url from {o}: must be an http(s) URL"),
        ('[prometheus]\nurl = "prometheus:9090"', "must be an http(s) URL"),
        ('[prometheus]\nurl = "http://x:99999"', "must be an http(s) URL"),
        ('[prometheus]\nurl = "http://"', "must be an http(s) URL"),
        ('[prometheus]\nurl = "http://x/#frag"', "must not have a #fragment"),
        ('[prometheus]\nca_bundle = "missing.pem"', "prometheus.ca_bundle from {o}: no such file"),
    ],
)
def test_invalid_values_in_toml(dirs: Dirs, toml: str, expected: str) -> None:
    path = dirs.cwd_toml(toml + "\n")
    message = dirs.error()
    assert expected.format(o=f"finops.toml ({path})") in message


def test_invalid_flag_names_the_command_line(dirs: Dirs) -> None:
    message = dirs.error({"prometheus.retries": -2})
    assert message.startswith("invalid setting prometheus.retries from the command line: must be")


def test_source_prometheus_needs_a_url(dirs: Dirs) -> None:
    dirs.cwd_toml('source = "prometheus"\n')
    path = dirs.cwd / "finops.toml"
    assert dirs.error().startswith(
        f"invalid setting source from finops.toml ({path}): 'prometheus' needs prometheus.url"
    )
    assert dirs.load(env={"FINOPS_PROMETHEUS_URL": "http://p:9090"}).source == "prometheus"


def test_auth_consistency_is_checked_after_merging(dirs: Dirs) -> None:
    dirs.cwd_toml('[prometheus]\nusername = "bob"\n')
    settings = dirs.load(env={"FINOPS_PROMETHEUS_PASSWORD": PASSWORD})
    assert settings.prometheus.username == "bob"
    (dirs.cwd / "finops.toml").unlink()
    message = dirs.error(env={"FINOPS_PROMETHEUS_PASSWORD": PASSWORD})
    assert message == (
        "invalid setting prometheus.password from FINOPS_PROMETHEUS_PASSWORD: "
        "needs prometheus.username as well"
    )


def test_token_and_basic_auth_in_one_source_conflict(dirs: Dirs) -> None:
    env = {"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN, "FINOPS_PROMETHEUS_USERNAME": "bob"}
    message = dirs.error(env=env)
    assert message == (
        "invalid setting prometheus.bearer_token from FINOPS_PROMETHEUS_BEARER_TOKEN: "
        "cannot be combined with prometheus.username/password"
    )
    no_secrets(message)


def test_a_higher_source_choosing_an_auth_method_replaces_the_other(dirs: Dirs) -> None:
    dirs.cwd_toml(f'[prometheus]\nbearer_token = "{TOKEN}"\n')
    flags = {"prometheus.username": "bob", "prometheus.password": PASSWORD}
    p = dirs.load(flags).prometheus
    assert (p.bearer_token, p.username) == (None, "bob")
    dirs.cwd_toml(f'[prometheus]\nusername = "bob"\npassword = "{PASSWORD}"\n')
    p = dirs.load(env={"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN}).prometheus
    assert (p.username, p.password) == (None, None)
    assert p.bearer_token is not None and p.bearer_token.get_secret_value() == TOKEN


def test_direct_construction_checks_consistency_too() -> None:
    with pytest.raises(ValueError, match=r"needs prometheus\.url"):
        Settings(source="prometheus")
    with pytest.raises(ValueError, match=r"needs prometheus\.username"):
        PrometheusSettings(password=SecretStr(PASSWORD))


def test_url_keeps_prefix_and_query_but_not_trailing_slash(dirs: Dirs) -> None:
    url = "http://vm:8481/select/0/prometheus/?extra_label=tenant=a"
    settings = dirs.load({"prometheus.url": url})
    assert settings.prometheus.url == "http://vm:8481/select/0/prometheus?extra_label=tenant=a"
    assert settings.effective_source == "prometheus"


# --- secrets -------------------------------------------------------------------------------------


def secret_settings(dirs: Dirs) -> Settings:
    dirs.cwd_toml(
        "[prometheus]\n"
        f'url = "https://bob:{PASSWORD}@mimir.example/prometheus"\n'
        "[prometheus.headers]\n"
        f'X-Scope-OrgID = "{TENANT}"\n'
    )
    return dirs.load()


def test_credentials_in_the_url_move_into_secret_fields(dirs: Dirs) -> None:
    settings = secret_settings(dirs)
    p = settings.prometheus
    assert p.url == "https://mimir.example/prometheus"
    assert p.username == "bob"
    assert p.password is not None and p.password.get_secret_value() == PASSWORD


def test_secrets_absent_from_repr_str_json_and_describe(dirs: Dirs) -> None:
    settings = secret_settings(dirs)
    for text in (
        repr(settings),
        str(settings),
        json.dumps(dataclasses.asdict(settings), default=str),
    ):
        no_secrets(text)
    described = settings.describe()
    no_secrets(json.dumps(described))
    assert described["prometheus"]["password"] == "***"
    assert described["prometheus"]["headers"] == {"X-Scope-OrgID": "***"}
    assert described["prometheus"]["bearer_token"] is None
    assert described["prometheus"]["url"] == "https://mimir.example/prometheus"

    with_token = dirs.load(
        env={"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN, "FINOPS_CONFIG": "/dev/null"}
    )
    assert with_token.describe()["prometheus"]["bearer_token"] == "***"
    assert with_token.describe()["prometheus"]["password"] is None
    dumped = json.dumps(dataclasses.asdict(with_token), default=str)
    no_secrets(repr(with_token) + dumped + json.dumps(with_token.describe()))


@pytest.mark.parametrize(
    "toml",
    [
        "[prometheus]\nbearer_token = 7369838",
        '[prometheus]\nbearer_tokn = "{token}"',
        '[prometheus]\npassword = ["{password}"]',
        "[prometheus.headers]\nX-Scope-OrgID = 7369838",
        '[prometheus]\nurl = "ftp://bob:{password}@x"',
        '[prometheus]\nurl = "http://x/?token={token}#frag"',
    ],
)
def test_bad_secret_values_are_not_echoed(dirs: Dirs, toml: str) -> None:
    dirs.cwd_toml(toml.format(token=TOKEN, password=PASSWORD) + "\n")
    message = dirs.error()
    no_secrets(message)
    assert "7369838" not in message


def test_secrets_are_not_echoed_by_env_errors(dirs: Dirs) -> None:
    env = {"FINOPS_PROMETHEUS_URL": f"http://u:{PASSWORD}@x:notaport"}
    no_secrets(dirs.error(env=env))
    env = {"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN, "FINOPS_PROMETHEUS_TIMEOUT": "-1"}
    no_secrets(dirs.error(env=env))


# --- label sanitiser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "prefix", "expected"),
    [
        ("ai-finops.io/team", "label_", "label_ai_finops_io_team"),
        ("ai-finops.io/cost-center", "annotation_", "annotation_ai_finops_io_cost_center"),
        ("node.kubernetes.io/instance-type", "label_", "label_node_kubernetes_io_instance_type"),
        ("karpenter.sh/capacity-type", "label_", "label_karpenter_sh_capacity_type"),
        ("nvidia.com/gpu.product", "label_", "label_nvidia_com_gpu_product"),
        ("app.kubernetes.io/managedBy", "label_", "label_app_kubernetes_io_managed_by"),
        ("team", "label_", "label_team"),
        ("appVersion2X", "label_", "label_app_version2_x"),
        ("ABC", "label_", "label_abc"),
    ],
)
def test_kube_label_to_prometheus(key: str, prefix: str, expected: str) -> None:
    assert kube_label_to_prometheus(key, prefix) == expected


def test_kube_label_to_prometheus_default_prefix() -> None:
    assert kube_label_to_prometheus("ai-finops.io/model") == "label_ai_finops_io_model"


# --- property ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@given(text=st.one_of(st.text(), st.from_regex(r"-?[0-9.]{0,6}(ms|[smhdwy])?", fullmatch=True)))
def test_any_timeout_text_gives_settings_or_usage_error(empty_dir: Path, text: str) -> None:
    try:
        settings = load_settings(
            env={"FINOPS_PROMETHEUS_TIMEOUT": text}, cwd=empty_dir, user_config_dir=empty_dir
        )
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert settings.prometheus.timeout_seconds > 0

"""Settings declared once: every declaration yields its variable, flag and help; the trust model;
masking of every secret-bearing setting; the ``max_response_mb`` setting."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from finops_cli.config_checks import Checked, Rule, setting, settings_table, to_str
from finops_cli.errors import UsageError
from finops_cli.settings import (
    ENVIRONMENT_VARIABLE_HELP,
    ENVIRONMENT_VARIABLES,
    Settings,
    load_settings,
    settings_from_flags,
    typer_options,
)
from finops_cli.settings.registry import CREDENTIALS, DECLARED, FLAGS, REDIRECTS, secret_values
from tests.support.cli import run_finops
from tests.support.inprocess import run_inprocess

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-5e4d3c2b1a"
PASSWORD = "pw-1a2b3c4d5e"

# --- one declaration per setting --------------------------------------------------------------


def test_each_declaration_yields_its_variable_help_and_flag() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    options = {name for name, _, _ in typer_options("panel")}
    for loc, rule in DECLARED.items():
        dotted = ".".join(loc)
        if rule.env or rule.flag:
            assert rule.help.strip(), f"{dotted} has a variable or flag but no help"
        if rule.env:
            assert ENVIRONMENT_VARIABLES[rule.env] == dotted
            assert ENVIRONMENT_VARIABLE_HELP[rule.env] == rule.help
            assert f"`{rule.env}`" in documented, f"{rule.env} missing from configuration.md"
        if rule.flag:
            assert any(FLAGS[name][0] == loc for name in options), f"{dotted}: no typer option"
    assert set(ENVIRONMENT_VARIABLE_HELP) == set(ENVIRONMENT_VARIABLES) | {"FINOPS_CONFIG"}


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ({"env": "FINOPS_X"}, "no help"),
        ({"flag": "--x"}, "no help"),
        ({"env": "X", "help": "h"}, "does not start with FINOPS_"),
        ({"secret": "sometimes"}, "not one of the known kinds"),
    ],
)
def test_a_half_declared_setting_fails_at_import(declared: dict[str, str], problem: str) -> None:
    class Table(Checked):
        x: str = setting("a", Rule(to_str), **declared)

    with pytest.raises(TypeError, match=problem):
        settings_table(Table)
    with pytest.raises(TypeError, match="not declared with setting"):

        class Plain(Checked):
            y: int = 3

        settings_table(Plain)


def test_help_shows_every_settings_flag_with_its_variable() -> None:
    result = run_finops("costs", "--help", env={"COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    text = result.stdout.replace("--[no-]", "--")  # a pair of flags reads --[no-]thanos-dedup
    for _, rule in FLAGS.values():
        assert rule.flag is not None
        assert rule.flag.split()[0].split("/")[0] in text
        if rule.env:
            assert rule.env in text


def test_flags_map_to_dotted_settings() -> None:
    flags = settings_from_flags(
        {
            "prometheus_url": "http://p:9090",
            "basic_auth": "me:secret",
            "header": ["A: 1"],
            "max_response_mb": 64.0,
            "source": None,
            "trust_project_config": True,
        }
    )
    assert flags == {
        "prometheus.url": "http://p:9090",
        "prometheus.username": "me",
        "prometheus.password": "secret",
        "prometheus.headers": ["A: 1"],
        "prometheus.max_response_mb": 64.0,
        "trust_project_config": True,
    }
    with pytest.raises(UsageError, match="expected USER:PASSWORD"):
        settings_from_flags({"basic_auth": "no-colon"})


# --- max_response_mb --------------------------------------------------------------------------


def _load(tmp_path: Path, flags=None, env=None, toml: str | None = None) -> Settings:
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    if toml is not None:
        (cwd / "finops.toml").write_text(toml, encoding="utf-8")
    return load_settings(flags, env=env or {}, cwd=cwd, user_config_dir=tmp_path / "none")


def test_max_response_mb_default_env_flag_and_file(tmp_path: Path) -> None:
    assert _load(tmp_path).prometheus.max_response_mb == 512
    assert _load(tmp_path).prometheus.max_body_bytes == 512 * 1024 * 1024
    assert _load(tmp_path, env={"FINOPS_MAX_RESPONSE_MB": "64"}).prometheus.max_response_mb == 64
    flags = {"prometheus.max_response_mb": 0.5}
    assert _load(tmp_path, flags).prometheus.max_body_bytes == 512 * 1024
    toml = "[prometheus]\nmax_response_mb = 1024\n"
    assert _load(tmp_path, toml=toml).prometheus.max_response_mb == 1024


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0", "must be greater than 0"),
        ("-1", "must be greater than 0"),
        ("lots", "not a valid float"),
    ],
)
def test_bad_max_response_mb_is_one_line_exit_2(tmp_path: Path, value: str, reason: str) -> None:
    run = run_inprocess(
        "costs", "--max-response-mb", value, "--source", "sample", "-o", "json", home=tmp_path
    )
    assert run.code == 2, run.stderr
    assert len(run.error_lines) == 1 and reason in run.error_lines[0]
    assert "prometheus.max_response_mb" in run.error_lines[0] or "--max-response-mb" in run.stderr
    with pytest.raises(UsageError, match=r"max_response_mb from finops\.toml"):
        _load(tmp_path, toml="[prometheus]\nmax_response_mb = true\n")


# --- trust: a project's finops.toml cannot redirect the user's credentials -----------------------


class Dirs:
    def __init__(self, root: Path) -> None:
        self.user = root / "user"
        self.cwd = root / "repo"
        self.user.mkdir()
        self.cwd.mkdir()

    def write(self, where: Path, text: str) -> Path:
        path = where / "finops.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, flags=None, env=None) -> Settings:
        return load_settings(flags, env=env or {}, cwd=self.cwd, user_config_dir=self.user)


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path)


USER_CONFIG = f'[prometheus]\nurl = "https://prom.internal"\nbearer_token = "{TOKEN}"\n'
REDIRECTS_BY_PROJECT = {
    "prometheus.url": '[prometheus]\nurl = "http://attacker.example"\n',
    "prometheus.insecure_skip_tls_verify": "[prometheus]\ninsecure_skip_tls_verify = true\n",
    "prometheus.ca_bundle": '[prometheus]\nca_bundle = "evil-ca.pem"\n',
    "prometheus.headers": '[prometheus.headers]\nHost = "attacker.example"\n',
    "notify.url": '[notify]\nurl = "https://attacker.example/hook"\n',
    "pricing.extra_catalog": '[pricing]\nextra_catalog = "prices.csv"\n',
    "opencost.url": '[opencost]\nurl = "http://attacker.example:9003"\n',
}


def test_every_redirect_is_guarded_and_every_credential_known() -> None:
    assert {".".join(loc) for loc in REDIRECTS} == set(REDIRECTS_BY_PROJECT)
    assert {".".join(loc) for loc in CREDENTIALS} == {
        "prometheus.bearer_token",
        "prometheus.username",
        "prometheus.password",
        "prometheus.headers",
        "opencost.bearer_token",
    }


@pytest.mark.parametrize("key", sorted(REDIRECTS_BY_PROJECT))
def test_project_file_cannot_redirect_user_credentials(dirs: Dirs, key: str) -> None:
    (dirs.cwd / "evil-ca.pem").write_text("x")
    (dirs.cwd / "prices.csv").write_text("x")
    dirs.write(dirs.user, USER_CONFIG)
    project = dirs.write(dirs.cwd, REDIRECTS_BY_PROJECT[key])
    with pytest.raises(UsageError) as caught:
        dirs.load()
    message = str(caught.value)
    assert message.startswith(f"finops.toml ({project}) sets {key}")
    assert "prometheus.bearer_token comes from finops.toml" in message
    assert "--trust-project-config" in message and "\n" not in message and TOKEN not in message
    # the user's explicit consent lets it through
    assert dirs.load(env={"FINOPS_TRUST_PROJECT_CONFIG": "1"}).prometheus.bearer_token
    assert dirs.load({"trust_project_config": True}).prometheus.bearer_token


def test_environment_and_flag_credentials_count_as_the_users(dirs: Dirs) -> None:
    dirs.write(dirs.cwd, REDIRECTS_BY_PROJECT["prometheus.url"])
    with pytest.raises(UsageError, match="comes from FINOPS_PROMETHEUS_BEARER_TOKEN"):
        dirs.load(env={"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN})
    with pytest.raises(UsageError, match="password comes from the command line"):
        dirs.load({"prometheus.username": "me", "prometheus.password": PASSWORD})
    with pytest.raises(UsageError, match="headers comes from FINOPS_PROMETHEUS_HEADERS"):
        dirs.load(env={"FINOPS_PROMETHEUS_HEADERS": "X-Scope-OrgID: t"})


def test_same_layer_credentials_in_the_project_file_are_fine(dirs: Dirs) -> None:
    dirs.write(dirs.user, 'currency = "EUR"\n[labels]\nteam = "example.com/team"\n')
    dirs.write(
        dirs.cwd,
        f'[prometheus]\nurl = "https://team-prom"\nbearer_token = "{TOKEN}"\n'
        "insecure_skip_tls_verify = true\n",
    )
    settings = dirs.load()
    assert settings.prometheus.url == "https://team-prom" and settings.currency == "EUR"


def test_project_redirect_overridden_by_the_user_is_harmless(dirs: Dirs) -> None:
    dirs.write(dirs.cwd, REDIRECTS_BY_PROJECT["prometheus.url"])
    env = {"FINOPS_PROMETHEUS_URL": "https://prom.internal", "FINOPS_PROMETHEUS_BEARER_TOKEN": "t"}
    assert dirs.load(env=env).prometheus.url == "https://prom.internal"


def test_project_without_foreign_credentials_may_set_anything(dirs: Dirs) -> None:
    dirs.write(dirs.user, "[prometheus]\nretries = 1\n")
    dirs.write(dirs.cwd, REDIRECTS_BY_PROJECT["prometheus.url"] + "insecure_skip_tls_verify = 1\n")
    assert dirs.load().prometheus.url == "http://attacker.example"


def test_trust_in_the_user_file_counts_but_not_in_the_project_file(dirs: Dirs) -> None:
    dirs.write(dirs.user, "trust_project_config = true\n" + USER_CONFIG)
    dirs.write(dirs.cwd, REDIRECTS_BY_PROJECT["prometheus.url"])
    assert dirs.load().prometheus.url == "http://attacker.example"
    dirs.write(dirs.user, USER_CONFIG)
    dirs.write(dirs.cwd, "trust_project_config = true\n" + REDIRECTS_BY_PROJECT["prometheus.url"])
    with pytest.raises(UsageError, match="trust_project_config cannot be set in the project"):
        dirs.load()


def test_the_user_config_directory_as_cwd_is_the_users(tmp_path: Path) -> None:
    (tmp_path / "finops.toml").write_text('[prometheus]\nurl = "https://mine"\n')
    env = {"FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN}
    settings = load_settings(env=env, cwd=tmp_path, user_config_dir=tmp_path)
    assert settings.prometheus.url == "https://mine"


def test_an_explicit_config_file_is_the_users(dirs: Dirs, tmp_path: Path) -> None:
    chosen = tmp_path / "ci.toml"
    chosen.write_text('[prometheus]\nurl = "https://ci-prom"\n')
    env = {"FINOPS_CONFIG": str(chosen), "FINOPS_PROMETHEUS_BEARER_TOKEN": TOKEN}
    assert dirs.load(env=env).prometheus.url == "https://ci-prom"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        self.send_response(500)
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_no_credential_reaches_the_project_files_host(
    tmp_path: Path, attacker: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = attacker
    user_dir = tmp_path / "config" / "finops"
    user_dir.mkdir(parents=True)
    (user_dir / "finops.toml").write_text(USER_CONFIG)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "finops.toml").write_text(
        f'[prometheus]\nurl = "{url}"\ninsecure_skip_tls_verify = true\n'
        f'[opencost]\nurl = "{url}"\n[notify]\nurl = "{url}/hook"\n'
    )
    for argv in (("costs",), ("costs", "--source", "opencost"), ("forecast",)):
        run = run_inprocess(*argv, "-o", "json", home=tmp_path, cwd=repo)
        assert run.code == 2, run.stderr
        assert "--trust-project-config" in run.error_lines[0]
    assert seen == []


# --- masking: every secret-bearing setting, in describe() and --debug ---------------------------

SECRET_URLS = {
    "prometheus": f"https://prom.example/api?apikey={TOKEN}",
    "opencost": f"http://oc-user:{PASSWORD}@opencost.example:9003/base?token={TOKEN}",
    "notify": f"https://hooks.slack.com/services/T000/B000/{TOKEN}",
}


def test_describe_masks_every_secret(tmp_path: Path) -> None:
    flags = {
        "prometheus.url": f"https://me:{PASSWORD}@prom.example/api?apikey={TOKEN}",
        "prometheus.headers": [f"X-Scope-OrgID: {TOKEN}"],
        "opencost.url": SECRET_URLS["opencost"],
    }
    env = {"FINOPS_OPENCOST_BEARER_TOKEN": TOKEN, "FINOPS_NOTIFY_URL": SECRET_URLS["notify"]}
    described = _load(tmp_path, flags, env).describe()
    text = json.dumps(described)
    assert TOKEN not in text and PASSWORD not in text
    assert described["prometheus"]["url"] == "https://prom.example/api?***"
    assert described["prometheus"]["password"] == "***"
    assert described["prometheus"]["headers"] == {"X-Scope-OrgID": "***"}
    assert described["opencost"]["url"] == "http://***@opencost.example:9003/base?***"
    assert described["opencost"]["bearer_token"] == "***"
    assert described["notify"]["url"] == "https://hooks.slack.com/***"
    token = _load(tmp_path, {"prometheus.bearer_token": TOKEN}).describe()
    assert token["prometheus"]["bearer_token"] == "***"


def test_secret_values_lists_every_secret_for_redaction(tmp_path: Path) -> None:
    flags = {"prometheus.bearer_token": TOKEN, "prometheus.headers": ["X-Key: hdr-secret"]}
    env = {"FINOPS_NOTIFY_URL": SECRET_URLS["notify"]}
    values = secret_values(_load(tmp_path, flags, env))
    assert {TOKEN, "hdr-secret", SECRET_URLS["notify"]} <= set(values)


def test_debug_log_never_shows_a_secret(tmp_path: Path) -> None:
    result = run_finops(
        "costs",
        "--source",
        "sample",
        "--debug",
        "-o",
        "json",
        "--opencost-url",
        SECRET_URLS["opencost"],
        "--prometheus-url",
        f"https://me:{PASSWORD}@prom.example/?apikey={TOKEN}",
        "-H",
        f"Authorization: Bearer {TOKEN}",
        cwd=tmp_path,
        env={
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "FINOPS_NOTIFY_URL": SECRET_URLS["notify"],
            "FINOPS_OPENCOST_BEARER_TOKEN": TOKEN,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "settings:" in result.stderr
    assert TOKEN not in result.stderr and PASSWORD not in result.stderr
    assert "opencost.example:9003" in result.stderr  # the host is still there to debug with

"""``[budgets]`` and ``[notify]`` settings: validation lines name the source, never the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops_cli.errors import UsageError
from finops_cli.settings import ENVIRONMENT_VARIABLES, load_settings

SECRET_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def load(tmp_path: Path, toml: str = "", env: dict[str, str] | None = None):
    (tmp_path / "finops.toml").write_text(toml, encoding="utf-8")
    return load_settings({}, env=env or {}, cwd=tmp_path, user_config_dir=tmp_path / "none")


def test_budgets_load_with_defaults(tmp_path):
    s = load(
        tmp_path,
        "[budgets]\nwarning_percent = 80\n"
        "[budgets.teams.nlp]\nmonthly = 25000\nowner = 'nlp@example.com'\n"
        "[budgets.projects.chat]\nmonthly = 9000\ncritical_percent = 110\n"
        "[budgets.total]\nmonthly = 1e5\n",
    )
    assert s.budgets.warning_percent == 80 and s.budgets.critical_percent == 100
    assert s.budgets.teams["nlp"].monthly == 25000
    assert s.budgets.projects["chat"].critical_percent == 110
    assert s.budgets.total is not None and s.budgets.total.monthly == 1e5


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ("[budgets.teams.nlp]\nowner = 'x'\n", {}, "budgets.teams.nlp.monthly from finops.toml"),
        ("[budgets.teams.nlp]\nmonthly = true\n", {}, "must be a number"),
        ("[budgets.teams.nlp]\nmonthly = 0\n", {}, "greater than 0"),
        ("[budgets.teams.nlp]\nmonthly = 5\nwarn = 3\n", {}, "unknown setting budgets.teams.nlp"),
        ('[budgets.teams.""]\nmonthly = 5\n', {}, "not a usable name"),
        (
            "[budgets.teams.nlp]\nmonthly = 5\nwarning_percent = 120\n",
            {},
            "budgets.teams.nlp.warning_percent from finops.toml",
        ),
        ("", {"FINOPS_BUDGET_CRITICAL_PERCENT": "50"}, "from FINOPS_BUDGET_CRITICAL_PERCENT"),
        ("", {"FINOPS_NOTIFY_FORMAT": "teams"}, "notify.format from FINOPS_NOTIFY_FORMAT"),
    ],
)
def test_invalid_budget_settings_are_one_line(tmp_path, toml, env, needle):
    with pytest.raises(UsageError) as err:
        load(tmp_path, toml, env)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_thresholds_are_checked_after_merging(tmp_path):
    # The file sets critical below the default warning; the environment lowers warning: fine.
    s = load(
        tmp_path,
        "[budgets]\ncritical_percent = 85\n",
        {"FINOPS_BUDGET_WARNING_PERCENT": "70"},
    )
    assert (s.budgets.warning_percent, s.budgets.critical_percent) == (70, 85)


def test_notify_url_is_a_secret(tmp_path):
    s = load(tmp_path, env={"FINOPS_NOTIFY_URL": SECRET_URL})
    assert s.notify.url is not None and s.notify.url.get_secret_value() == SECRET_URL
    assert "SECRET" not in repr(s) + str(s.describe())
    with pytest.raises(UsageError) as err:
        load(tmp_path, f"[notify]\nurl = '{SECRET_URL.replace('https', 'ftp')}'\n")
    assert "SECRET" not in str(err.value) and "notify.url" in str(err.value)
    assert ENVIRONMENT_VARIABLES["FINOPS_NOTIFY_URL"] == "notify.url"

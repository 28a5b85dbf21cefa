"""The validation layer under the settings: lax coercion, all problems collected, secrets hidden.

The wording is our own (one short clause after "invalid setting X from Y:"); these tests pin
that bad values are refused with a clear reason, not a third-party library's exact text.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from finops_cli.config_checks import (
    ConfigError,
    SecretStr,
    choice,
    table_of,
    to_bool,
    to_float,
    to_int,
    to_str,
    tuple_of,
)
from finops_cli.settings import BudgetSettings, PrometheusSettings, Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), (" 3 ", 3), ("+3", 3), ("1_000", 1000), ("3.00", 3), ("007", 7), (3.0, 3)],
)
def test_whole_numbers_read_leniently(text: object, expected: int) -> None:
    assert to_int(text) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("3.5", "must be a whole number"),
        ("1e3", "must be a whole number"),
        ("\u0663", "must be a whole number"),
        (1.5, "must be a whole number"),
        (math.inf, "must be a finite number"),
        (-1, "must be at least 0"),
        (None, "must be a whole number"),
    ],
)
def test_bad_whole_numbers(value: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        to_int(value, ge=0)
    assert caught.value.problems[0].reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", 0.5), (" 1e3", 1000.0), ("1_000.5", 1000.5), (2, 2.0), (True, 1.0)],
)
def test_numbers_read_leniently(value: object, expected: float) -> None:
    result = to_float(value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "must be a number"),
        ("\u0663", "must be a number"),
        ("nan", "must be a finite number"),
        ("1e400", "must be a finite number"),
        (0, "must be greater than 0"),
        (86401, "must be at most 86400"),
        ([1], "must be a number"),
    ],
)
def test_bad_numbers(value: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        to_float(value, gt=0, le=86_400.0)
    assert caught.value.problems[0].reason == reason


def test_booleans() -> None:
    for text in ("true", "TRUE", "1", "yes", "on", "t", "y", 1):
        assert to_bool(text) is True
    for text in ("false", "0", "no", "Off", "f", "n", 0):
        assert to_bool(text) is False
    for bad in ("2", 2, "", None, "truthy"):
        with pytest.raises(ConfigError) as caught:
            to_bool(bad)
        assert caught.value.problems[0].reason.startswith("must be true or false")


def test_text_choices_and_containers() -> None:
    with pytest.raises(ConfigError, match="must be text"):
        to_str(840)
    with pytest.raises(ConfigError) as caught:
        choice("auto", "sample", "prometheus")("prom")
    assert caught.value.problems[0].reason == "must be 'auto', 'sample' or 'prometheus'"
    with pytest.raises(ConfigError) as caught:
        tuple_of(to_str)(["a", 1, "b", 2])
    assert [p.loc for p in caught.value.problems] == [(1,), (3,)]
    with pytest.raises(ConfigError) as caught:
        table_of(to_str)({"a": 1, "b": "x", "c": 2})
    assert [p.loc for p in caught.value.problems] == [("a",), ("c",)]


def test_every_problem_is_collected_in_declaration_order() -> None:
    data = {"zz": 1, "currency": 4, "prometheus": {"retries": -1, "ulr": "x"}, "source": "x"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping(data)
    problems = [(p.loc, p.kind) for p in caught.value.problems]
    assert problems == [
        (("source",), "value"),
        (("prometheus", "retries"), "value"),
        (("prometheus", "ulr"), "unknown"),
        (("currency",), "value"),
        (("zz",), "unknown"),
    ]


def test_direct_construction_validates_and_is_frozen() -> None:
    with pytest.raises(ConfigError, match="must be an http"):
        PrometheusSettings(url="ftp://x")
    budgets = BudgetSettings(teams={"nlp": {"monthly": "5"}})  # type: ignore[dict-item]
    assert budgets.teams["nlp"].monthly == 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        budgets.warning_percent = 1  # type: ignore[misc]
    with pytest.raises(ConfigError, match="is required"):
        BudgetSettings(teams={"nlp": {}})  # type: ignore[dict-item]


def test_secret_text_never_shows() -> None:
    secret = SecretStr("tok-123")
    assert (str(secret), repr(secret)) == ("**********", "SecretStr('**********')")
    assert secret == SecretStr("tok-123") and secret != SecretStr("other")
    assert secret.get_secret_value() == "tok-123"
    settings = Settings(prometheus=PrometheusSettings(bearer_token=secret))
    assert "tok-123" not in repr(settings)
    assert settings.describe()["prometheus"]["bearer_token"] == "***"

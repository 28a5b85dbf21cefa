"""Filters mean what they say: a filtered view holds the matching pods only, and a filter or
budget value that matches no GPU spend warns (stderr and ``notes``), exit code unchanged."""

from __future__ import annotations

import json

import pytest

from finops_cli.usecases.filters import known_clause, nearest, unmatched_filter
from tests.support.cli import run_finops

WINDOW = ("--start", "2026-11-20", "--end", "2026-11-27")


def _costs(*args: str, quiet: bool = True):
    result = run_finops("costs", *WINDOW, "-o", "json", *(["-q"] if quiet else []), *args)
    assert result.returncode == 0, result.stderr
    return result, json.loads(result.stdout)


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("finops: warning: ")]


@pytest.fixture(scope="module")
def by_team() -> dict:
    return _costs("--by", "team")[1]


def test_team_filter_total_holds_that_team_only(by_team):
    nlp = next(r for r in by_team["rows"] if r["team"] == "nlp")
    _, doc = _costs("--team", "nlp")
    assert [r["kind"] for r in doc["rows"]] == ["allocated", "unallocated"]  # no __idle__
    assert {r["team"] for r in doc["rows"] if r["kind"] == "allocated"} == {"nlp"}
    totals = doc["totals"]
    assert totals["gpu_cost"] == pytest.approx(nlp["gpu_cost"], abs=1e-6)
    assert totals["gpu_hours"] == pytest.approx(nlp["gpu_hours"], abs=1e-6)
    assert totals["total_cost"] == pytest.approx(nlp["total_cost"], abs=1e-6)
    assert totals["idle_gpu_cost"] == 0 and totals["includes"] == ["allocated", "unallocated"]
    assert totals["cluster_gpu_cost"] == by_team["totals"]["cluster_gpu_cost"]
    assert doc["rows"][0]["share"] == pytest.approx(1.0)
    assert doc["notes"] == []


def test_include_idle_brings_the_cluster_idle_back(by_team):
    idle = next(r for r in by_team["rows"] if r["kind"] == "idle")
    nlp = next(r for r in by_team["rows"] if r["team"] == "nlp")
    _, doc = _costs("--team", "nlp", "--include-idle")
    rows = {r["team"]: r for r in doc["rows"]}
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(idle["gpu_cost"], abs=1e-6)
    assert doc["totals"]["gpu_cost"] == pytest.approx(nlp["gpu_cost"] + idle["gpu_cost"], abs=1e-5)
    assert doc["totals"]["includes"] == ["allocated", "unallocated", "idle"]


def test_unfiltered_documents_keep_the_invariant_with_or_without_include_idle(by_team):
    _, doc = _costs("--by", "team", "--include-idle")
    for d in (by_team, doc):
        assert sum(r["gpu_cost"] for r in d["rows"]) == pytest.approx(
            d["totals"]["cluster_gpu_cost"], abs=0.01
        )
        assert d["totals"]["includes"] == ["allocated", "unallocated", "idle"]
    assert {**doc, "generated_at": None} == {**by_team, "generated_at": None}


def test_cluster_is_a_scope_that_keeps_its_idle(by_team):
    _, doc = _costs("--cluster", "sample")
    assert doc["rows"] == by_team["rows"]
    assert doc["totals"]["includes"] == ["allocated", "unallocated", "idle"]


def test_unknown_team_warns_with_the_nearest_known_teams_and_exits_0():
    result, doc = _costs("--team", "nlpp", quiet=False)
    expected = "--team nlpp matched no GPU spend in the window; known teams: nlp,"
    assert [w.startswith(f"finops: warning: {expected}") for w in _warnings(result.stderr)] == [
        True
    ]
    assert len(doc["notes"]) == 1 and doc["notes"][0].startswith(expected)
    assert {"research", "vision", "ml-platform"} <= set(doc["notes"][0].split(": ")[-1].split(", "))
    assert doc["totals"]["gpu_cost"] == 0
    assert not [r for r in doc["rows"] if r["kind"] in ("allocated", "idle")]


def test_quiet_silences_the_warning_but_the_note_stays():
    result, doc = _costs("--team", "nosuchteam")
    assert result.stderr == ""
    assert doc["notes"] and "--team nosuchteam matched no GPU spend" in doc["notes"][0]


@pytest.mark.parametrize(
    ("flag", "noun"),
    [
        ("--project", "projects"),
        ("--model", "models"),
        ("--namespace", "namespaces"),
        ("--cluster", "clusters"),
    ],
)
def test_every_filter_warns_on_a_value_that_matches_nothing(flag, noun):
    result, doc = _costs(flag, "nosuch", quiet=False)
    assert f"--{flag.lstrip('-')} nosuch matched no GPU spend in the window; known {noun}: " in (
        result.stderr
    )
    assert len(doc["notes"]) == 1


def test_known_values_that_match_nothing_together_get_one_note():
    result, doc = _costs("--team", "nlp", "--project", "foundation-llm", quiet=False)
    assert doc["notes"] == [
        "--team nlp --project foundation-llm together matched no GPU spend in the window"
    ]
    assert _warnings(result.stderr) == [f"finops: warning: {doc['notes'][0]}"]


# ---- forecast and anomalies -------------------------------------------------------------------


def _forecast(*args: str):
    return run_finops("forecast", "--as-of", "2026-11-20T12:00:00Z", "--history", "21d", *args)


def test_a_budget_for_a_team_without_spend_warns_and_is_no_phantom_team():
    result = _forecast("--budget", "nosuchteam=100", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "nosuchteam" not in {r["team"] for r in doc["rows"]}
    assert all(r["status"] != "on_track" for r in doc["rows"])  # no budget was matched
    assert doc["unmatched_budgets"] == [
        {"scope": "team", "name": "nosuchteam", "budget": 100.0, "origin": "--budget",
         "status": "no_spend"}
    ]  # fmt: skip
    note = "budget for team nosuchteam (--budget) matched no GPU spend in the history"
    assert len(doc["notes"]) == 1 and doc["notes"][0].startswith(note)
    assert "known teams: " in doc["notes"][0]
    assert any(note in w for w in _warnings(result.stderr))


def test_fail_on_warning_trips_on_a_budget_without_spend_and_quiet_silences_it():
    result = _forecast("--budget", "nosuchteam=100", "--fail-on", "warning", "-o", "json", "-q")
    assert result.returncode == 3
    doc = json.loads(result.stdout)
    assert doc["fail_on"]["tripped"] == [
        {"scope": "team", "name": "nosuchteam", "status": "no_spend"}
    ]
    assert "warning" not in result.stderr.replace("--fail-on warning", "")
    assert result.stderr.strip() == "finops: error: --fail-on warning: team nosuchteam (no_spend)"
    calm = _forecast("--budget", "nosuchteam=100", "--fail-on", "critical", "-o", "json", "-q")
    assert calm.returncode == 0 and calm.stderr == ""


def test_a_misspelt_budget_in_finops_toml_warns(tmp_path):
    config = tmp_path / "finops.toml"
    config.write_text("[budgets.teams.reserch]\nmonthly = 1000\n", encoding="utf-8")
    result = _forecast("--config", str(config), "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["notes"][0].startswith(
        "budget for team reserch ([budgets] in finops.toml) matched no GPU spend in the history; "
        "status no_spend; known teams: research,"
    )
    assert doc["unmatched_budgets"][0]["origin"] == "finops.toml"


def test_forecast_and_anomalies_team_filters_warn():
    result = _forecast("--team", "nlpp", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["notes"][0].startswith("--team nlpp matched no GPU spend in the window; known teams")
    result = run_finops("anomalies", "--as-of", "2026-11-20T12:00:00Z", "--team", "nlpp")
    assert result.returncode == 0, result.stderr
    assert "finops: warning: --team nlpp matched no GPU spend in the window; known teams: nlp" in (
        result.stderr
    )


# ---- the wording ------------------------------------------------------------------------------


def test_nearest_names_come_first_and_the_rest_is_counted():
    known = ["research", "nlp", "vision", "ml-platform", "a", "b", "c"]
    assert nearest("nlpp", known)[0] == "nlp"
    assert nearest("visoin", known)[0] == "vision"
    assert known_clause("team", "x", known).endswith(" and 2 more")
    assert known_clause("team", "x", []) == "no teams in the window"
    assert unmatched_filter("--team", "team", "a\x1b[2Jb", []).startswith("--team 'a\\x1b[2Jb' ")
    assert unmatched_filter("--team", "team", "nlpp", ["nlp"]) == (
        "--team nlpp matched no GPU spend in the window; known teams: nlp"
    )

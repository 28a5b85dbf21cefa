"""Chargeback report: the document's arithmetic and its renderings (in-process, sample cluster)."""

from __future__ import annotations

import copy
import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finops_cli.analytics.budgets import resolve_budgets
from finops_cli.analytics.chargeback import Extras
from finops_cli.analytics.periods import describe
from finops_cli.errors import UsageError
from finops_cli.files import write_atomic
from finops_cli.render import chargeback as render
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from finops_cli.settings import BudgetSettings
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from finops_cli.usecases.report import resolve_period
from tests.support.chargeback import LABELS, chargeback_doc, sample_report
from tests.support.chargeback import period as custom_period

START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 8, tzinfo=UTC)
PERIOD = custom_period(START, END, datetime(2026, 10, 2, tzinfo=UTC))


def _report(start: datetime, end: datetime, keys: tuple[str, ...] = ("team",)):
    return sample_report(start, end, keys)


@pytest.fixture(scope="module")
def reports():
    return _report(START, END), _report(PERIOD.previous_start, PERIOD.previous_end)


def _doc(reports, share="none", budgets=None, by="team", extras=None):
    current, previous = reports
    return chargeback_doc(
        current, period=PERIOD, previous=previous, by=by, share=share, budgets=budgets,
        extras=extras,
    )  # fmt: skip


def test_rows_match_costs_and_add_up(reports):
    current, _ = reports
    doc = _doc(reports)
    by_team = {r.keys["team"]: r for r in current.rows}
    for row in doc["rows"]:
        assert row["gpu_cost"] == round(by_team[row["team"]].gpu_cost, 6)
        assert row["gpu_hours"] == round(by_team[row["team"]].gpu_hours, 6)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(current.totals.gpu_cost)
    assert sum(r["total_cost"] for r in doc["rows"]) == pytest.approx(current.totals.total_cost)
    assert {r["kind"] for r in doc["rows"]} == {"allocated", "unallocated", "idle"}


def test_proportional_sharing_charges_the_whole_cluster(reports):
    current, _ = reports
    doc = _doc(reports, share="proportional")
    rows = doc["rows"]
    assert {r["kind"] for r in rows} == {"allocated"}
    gpu = sum(r["gpu_cost"] + r["shared_idle_cost"] for r in rows)
    assert gpu == pytest.approx(current.totals.cluster_gpu_cost, abs=1e-4)
    assert sum(r["total_cost"] for r in rows) == pytest.approx(current.totals.total_cost, abs=1e-4)
    pool = current.totals.idle_gpu_cost + current.totals.unallocated_gpu_cost
    biggest = max(rows, key=lambda r: r["gpu_cost"])
    share = biggest["gpu_cost"] / current.totals.allocated_gpu_cost
    assert biggest["shared_idle_cost"] == pytest.approx(pool * share, abs=1e-4)


def test_budget_is_prorated_and_variance_signed(reports):
    settings = BudgetSettings.from_mapping({"teams": {"nlp": {"monthly": 1000}}})
    doc = _doc(reports, budgets=resolve_budgets(settings))
    nlp = next(r for r in doc["rows"] if r["team"] == "nlp")
    factor = 3 / 30.4375
    assert nlp["budget"] == pytest.approx(1000 * factor, abs=1e-5)
    assert nlp["budget_variance"] == pytest.approx(nlp["gpu_cost"] - 1000 * factor, abs=1e-5)
    other = next(r for r in doc["rows"] if r["team"] == "research")
    assert other["budget"] is None


def test_change_against_previous_period(reports):
    _, previous = reports
    doc = _doc(reports)
    before = {r.keys["team"]: r.total_cost for r in previous.rows}
    for row in doc["rows"]:
        assert row["previous_total_cost"] == pytest.approx(before[row["team"]], abs=1e-5)
        assert row["change"] == pytest.approx(row["total_cost"] - before[row["team"]], abs=1e-5)


def test_cost_center_rows_come_from_the_annotation():
    current = _report(START, END, ("cost_center",))
    previous = _report(PERIOD.previous_start, PERIOD.previous_end, ("cost_center",))
    budgets = resolve_budgets(BudgetSettings.from_mapping({"teams": {"nlp": {"monthly": 9}}}))
    doc = _doc((current, previous), by="cost-center", budgets=budgets)
    assert doc["group_by"] == "cost_center"
    rows = {r["cost_center"]: r for r in doc["rows"]}
    truth = ground_truth(SampleCluster(42), int(START.timestamp()), int(END.timestamp()))
    for center, fig in truth.by("cost_center").iterrows():
        row = rows[center or "__unallocated__"]
        assert row["gpu_cost"] == pytest.approx(fig["gpu_cost"], abs=0.005), center
    assert {"NLP-210", "NLP-220", "RND-100", "ML-001", "VIS-300"} <= set(rows)
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, abs=0.005)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(truth.cluster_gpu_cost)
    assert all(r["budget"] is None for r in doc["rows"])  # budgets are per team or project
    assert doc["sections"]["budgets"] is False
    for row in doc["rows"]:
        assert row["previous_total_cost"] == pytest.approx(
            next(
                r.total_cost for r in previous.rows if r.keys["cost_center"] == row["cost_center"]
            ),
            abs=1e-5,
        )


def test_cost_center_report_leaves_out_what_it_cannot_attribute():
    """Recommendations (per team/project workload), unit costs and anomalies (per team) have no
    cost center: given anyway, they are left out of the document, not attributed wrongly."""
    current = _report(START, END, ("cost_center",))
    extras = Extras(models={"nlp": []}, recommendations=[], anomalies=[])
    doc = _doc((current, None), by="cost-center", extras=extras)
    assert doc["sections"] == {
        "budgets": False,
        "previous_period": False,
        "unit_costs": False,
        "recommendations": False,
        "anomalies": False,
    }
    assert doc["summary"]["savings_available"] is None
    for row in doc["rows"]:
        assert not {"models", "recommendations", "savings_available", "anomalies"} & set(row)
    team_doc = _doc((_report(START, END), None), extras=extras)
    assert all(team_doc["sections"][k] for k in ("unit_costs", "recommendations", "anomalies"))


def test_csv_columns_and_formula_guard(reports):
    doc = copy.deepcopy(_doc(reports))
    doc["rows"][0]["team"] = '=HYPERLINK("http://x")'
    rows = list(csv.reader(io.StringIO(render.render_csv(doc))))
    assert rows[0] == ["team", *render.CSV_COLUMNS, *render.CSV_TRAILER]
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert len({len(r) for r in rows}) == 1


def test_html_is_autoescaped_and_self_contained(reports):
    doc = copy.deepcopy(_doc(reports))
    doc["rows"][0]["team"] = "<script>alert(1)</script>"
    html = render.render_html(doc)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http" not in html  # nothing fetched from elsewhere
    assert html == render.render_html(doc)


def test_pdf_renders_unicode_and_is_reproducible(reports, monkeypatch):
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    doc = copy.deepcopy(_doc(reports, share="proportional"))
    doc["rows"][0]["team"] = "équipe-données"
    first = render_pdf(doc)
    assert first == render_pdf(doc)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(first)).pages)
    assert "équipe-données" in text
    assert f"{doc['summary']['total_cost']:,.2f}" in text
    for row in doc["rows"]:
        assert f"{row['total_cost']:,.2f}" in text
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert render_pdf(doc) != first  # the creation date follows SOURCE_DATE_EPOCH


def test_pdf_paginates_many_teams(reports):
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    doc = copy.deepcopy(_doc(reports))
    template = doc["rows"][0]
    doc["rows"] = [{**template, "team": f"team-{i:03d}"} for i in range(120)]
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(doc)))
    assert len(reader.pages) >= 4
    last_table_page = reader.pages[3].extract_text()
    assert "GPU-h" in last_table_page  # the header is repeated
    assert "Page 4 of" in last_table_page


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "report.json"

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomic(target, b"{}")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month", "period", "start", "end", "label"),
    [
        ("2026-10", None, "2026-10-01", "2026-11-01", "2026-10"),
        (None, None, "2026-10-01", "2026-11-01", "2026-10"),
        (None, "monthly", "2026-10-01", "2026-11-01", "2026-10"),
        (None, "weekly", "2026-11-16", "2026-11-23", "2026-W47"),
        ("2025-12", None, "2025-12-01", "2026-01-01", "2025-12"),
    ],
)
def test_periods(month, period, start, end, label):
    p = resolve_period(month, period, None, NOW)
    assert p.start == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert p.end == datetime.fromisoformat(end).replace(tzinfo=UTC)
    assert p.label == label
    assert p.previous_end == p.start


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "October", "2027-01"])
def test_bad_month(month):
    with pytest.raises(UsageError, match="--month"):
        resolve_period(month, None, None, NOW)


def test_period_conflict():
    with pytest.raises(UsageError, match="conflict"):
        resolve_period("2026-10", "weekly", None, NOW)


def test_report_module_imports_no_renderer():
    import sys

    import finops_cli.cli.report  # noqa: F401

    # Other tests in this process may have imported them; check in a clean interpreter too.
    from tests.support.cli import run_python

    result = run_python(
        "import sys, finops_cli.cli.app, finops_cli.cli.report; "
        "print([m for m in ('fpdf', 'jinja2') if m in sys.modules])"
    )
    assert result.stdout.strip() == "[]", result.stderr
    assert Path(sys.executable).exists()


# Like with like: which span a period's changes compare with (analytics/periods.py).


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_month_to_date_compares_the_same_elapsed_span_of_the_previous_month():
    now = _utc(2026, 12, 6, 17, 59, 18)
    p = resolve_period("2026-12", None, None, now)
    assert (p.start, p.end, p.label, p.kind) == (
        _utc(2026, 12, 1),
        now,
        "2026-12-to-date",
        "custom",
    )
    assert p.basis == "same_span"
    assert (p.previous_start, p.previous_end) == (_utc(2026, 11, 1), _utc(2026, 11, 6, 17, 59, 18))
    assert p.previous_hours == p.hours
    assert not p.clamped
    assert "same span of the previous month" in describe(p)
    assert "2026-11-01 00:00 UTC → 2026-11-06 17:59 UTC" in describe(p)


def test_month_to_date_across_a_year_and_on_the_first_day():
    january = resolve_period("2027-01", None, None, _utc(2027, 1, 10, 8))
    assert (january.previous_start, january.previous_end) == (
        _utc(2026, 12, 1),
        _utc(2026, 12, 10, 8),
    )
    first_day = resolve_period("2026-12", None, None, _utc(2026, 12, 1, 5, 30))
    assert (first_day.previous_start, first_day.previous_end) == (
        _utc(2026, 11, 1),
        _utc(2026, 11, 1, 5, 30),
    )
    assert first_day.hours == first_day.previous_hours == 5.5
    with pytest.raises(UsageError, match="not started"):  # the 1st at 00:00: nothing elapsed
        resolve_period("2026-12", None, None, _utc(2026, 12, 1))


@pytest.mark.parametrize(
    ("month", "now", "previous_end", "clamped"),
    [
        # 28-day February: up to the 29th 00:00 the same span fits in it...
        ("2027-03", (2027, 3, 28, 10), (2027, 2, 28, 10), False),
        ("2027-03", (2027, 3, 29), (2027, 3, 1), False),
        # ...after that, the whole of February (shorter than the month to date).
        ("2027-03", (2027, 3, 29, 0, 1), (2027, 3, 1), True),
        ("2027-03", (2027, 3, 31, 12), (2027, 3, 1), True),
        # 29-day February (2028)
        ("2028-03", (2028, 3, 29, 6), (2028, 2, 29, 6), False),
        ("2028-03", (2028, 3, 31, 23), (2028, 3, 1), True),
        # 30-day April before a 31-day May
        ("2027-05", (2027, 5, 31, 1), (2027, 5, 1), True),
        ("2027-05", (2027, 5, 30, 1), (2027, 4, 30, 1), False),
        # A 31-day month before a 30-day one is never clamped
        ("2027-04", (2027, 4, 30, 23), (2027, 3, 30, 23), False),
    ],
)
def test_month_to_date_is_clamped_to_the_end_of_a_shorter_previous_month(
    month, now, previous_end, clamped
):
    p = resolve_period(month, None, None, _utc(*now))
    assert p.basis == "same_span"
    assert p.previous_start == p.start.replace(month=p.start.month - 1)
    assert p.previous_end == _utc(*previous_end)
    assert p.clamped is clamped
    assert p.previous_end <= p.start
    if clamped:
        assert p.previous_hours < p.hours
        assert "whole previous month" in describe(p)
    else:
        assert p.previous_hours == p.hours


@pytest.mark.parametrize(("month", "period"), [("2026-10", None), (None, "monthly"), (None, None)])
def test_a_complete_month_compares_whole_months(month, period):
    p = resolve_period(month, period, None, NOW)
    assert (p.kind, p.basis, p.clamped) == ("month", "whole_month", False)
    assert (p.previous_start, p.previous_end) == (_utc(2026, 9, 1), _utc(2026, 10, 1))
    assert (p.hours, p.previous_hours) == (31 * 24, 30 * 24)
    assert describe(p) == (
        "Changes compare the whole month 2026-10 (31 days) with the whole previous month "
        "2026-09 (30 days)."
    )


def test_a_past_month_is_whole_even_if_the_previous_is_shorter():
    p = resolve_period("2027-03", None, None, _utc(2027, 4, 2))
    assert (p.basis, p.previous_start, p.previous_end) == (
        "whole_month",
        _utc(2027, 2, 1),
        _utc(2027, 3, 1),
    )


def test_a_window_compares_with_the_preceding_span_of_equal_length():
    now = _utc(2026, 12, 6, 17, 59)
    explicit = (now - timedelta(days=7), now)  # --window 7d
    p = resolve_period(None, None, explicit, now)
    assert (p.kind, p.basis) == ("custom", "preceding_span")
    assert (p.previous_start, p.previous_end) == (now - timedelta(days=14), now - timedelta(days=7))
    assert p.previous_hours == p.hours == 7 * 24
    assert describe(p) == (
        "Changes compare with the span of the same length (7 days) just before: "
        "2026-11-22 17:59 UTC → 2026-11-29 17:59 UTC."
    )
    week = resolve_period(None, "weekly", None, NOW)
    assert (week.basis, week.previous_start, week.previous_end) == (
        "preceding_span",
        _utc(2026, 11, 9),
        _utc(2026, 11, 16),
    )


def test_the_document_says_what_the_changes_compare_with(reports):
    doc = _doc(reports)
    assert doc["comparison"] == {
        "basis": "preceding_span",
        "previous_start": "2026-10-02T00:00:00Z",
        "previous_end": "2026-10-05T00:00:00Z",
        "hours": 72.0,
        "previous_hours": 72.0,
        "clamped": False,
        "description": describe(PERIOD),
    }
    assert describe(PERIOD) in doc["notes"]
    assert describe(PERIOD) in render.render_html(doc)
    rows = list(csv.DictReader(io.StringIO(render.render_csv(doc))))
    assert {(r["comparison_basis"], r["previous_start"], r["previous_end"]) for r in rows} == {
        ("preceding_span", "2026-10-02T00:00:00Z", "2026-10-05T00:00:00Z")
    }
    without = _doc((reports[0], None))
    assert without["comparison"]["basis"] == "preceding_span"  # the rule, whatever happened
    assert describe(PERIOD) not in without["notes"]  # no change shown, nothing to explain
    assert describe(PERIOD) not in render.render_html(without)


def test_month_to_date_changes_compare_like_with_like():
    """The month to date against the same days of the month before: the sample cluster's steady
    teams change by about nothing, not by the -80 % of six days against a whole month."""
    now = _utc(2026, 12, 6, 18)
    period = resolve_period("2026-12", None, None, now)
    current = _report(period.start, period.end)
    previous = _report(period.previous_start, period.previous_end)
    doc = chargeback_doc(current, period=period, previous=previous)
    assert doc["comparison"]["basis"] == "same_span"
    research = next(r for r in doc["rows"] if r["team"] == "research")
    assert abs(research["change_pct"]) < 0.05
    assert doc["summary"]["previous_total_cost"] == pytest.approx(
        doc["summary"]["total_cost"], rel=0.2
    )


def test_group_keys_agree():
    from finops_cli.analytics.chargeback import GROUP_FIELDS
    from finops_cli.usecases.report import GROUP_BY

    assert GROUP_BY == GROUP_FIELDS


def test_capacity_advice_is_listed_under_idle_not_unallocated(reports):
    """Removing an unheld node saves idle capacity's money, not the unlabelled pods'."""
    from finops_cli.analytics.rightsize import recommend
    from finops_cli.analytics.rightsize_common import CAPACITY_ACTIONS
    from finops_cli.pricing import load_catalog

    pods = SampleCostSource(LABELS).pods(Window(START, END, "t"))
    recommendations = recommend(pods, load_catalog(), (END - START).total_seconds() / 3600)
    capacity = [r for r in recommendations if r.action in CAPACITY_ACTIONS]
    assert capacity, "the sample week has unheld H100s"
    doc = _doc(reports, extras=Extras(recommendations=recommendations))
    rows = {row["team"]: row for row in doc["rows"]}
    idle_actions = {r["action"] for r in rows["__idle__"]["recommendations"]}
    assert idle_actions and idle_actions <= set(CAPACITY_ACTIONS)
    elsewhere = [
        r["action"]
        for team, row in rows.items()
        if team != "__idle__"
        for r in row.get("recommendations", [])
    ]
    assert not set(elsewhere) & set(CAPACITY_ACTIONS)

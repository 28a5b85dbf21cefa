"""Chargeback report: the document's arithmetic and its renderings (in-process, sample cluster)."""

from __future__ import annotations

import copy
import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.analytics.budgets import resolve_budgets
from finops_cli.analytics.chargeback import Extras, Period, build_document
from finops_cli.analytics.costs import attribute_costs
from finops_cli.errors import UsageError
from finops_cli.files import write_atomic
from finops_cli.render import chargeback as render
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from finops_cli.settings import BudgetSettings
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from finops_cli.usecases.report import resolve_period

LABELS = {k: f"ai-finops.io/{k}" for k in ("team", "project", "model", "environment")}
START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 8, tzinfo=UTC)
PERIOD = Period(
    START, END, "2026-10-05_2026-10-08", "custom", datetime(2026, 10, 2, tzinfo=UTC), START
)


def _report(start: datetime, end: datetime, keys: tuple[str, ...] = ("team",)):
    source = SampleCostSource(LABELS)
    request = CostRequest(Window(start, end, "t"), keys, {}, 3600)
    return attribute_costs(source.costs(request), keys, {}, start, end)


@pytest.fixture(scope="module")
def reports():
    return _report(START, END), _report(PERIOD.previous_start, PERIOD.previous_end)


def _doc(reports, share="none", budgets=None, by="team", extras=None):
    current, previous = reports
    return build_document(
        report=current,
        previous=previous,
        by=by,
        period=PERIOD,
        share_idle=share,
        currency="USD",
        generated_at=END,
        window_label=PERIOD.label,
        budgets=budgets or {},
        extras=extras,
    )


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

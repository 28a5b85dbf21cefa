"""The chargeback scale benchmark (docs/reports.md, "Scale"), cut down to 3 teams so it cannot rot
unnoticed: its generator, the document build and the text renderings. No timings are checked."""

from __future__ import annotations

import csv
import io
import json

import pytest

from finops_cli.render import chargeback as render
from tests.benchmarks import chargeback_scale as bench


@pytest.fixture(scope="module")
def document():
    return bench.build(bench.make_inputs(3))


def test_the_input_is_deterministic(document):
    again = bench.build(bench.make_inputs(3))
    assert render.render_json(again) == render.render_json(document)
    other = bench.build(bench.make_inputs(3, seed=bench.SEED + 1))
    assert render.render_json(other) != render.render_json(document)


def test_document_has_a_month_of_days_and_every_section(document):
    assert len(document["days"]) == len(document["daily"]) == 31
    assert document["period"]["label"] == bench.MONTH
    assert all(document["sections"].values())
    kinds = [r["kind"] for r in document["rows"]]
    assert kinds == ["allocated"] * 3 + ["unallocated", "idle"]
    assert {r["team"] for r in document["rows"][:3]} == set(bench.team_names(3))
    assert sum(r["total_cost"] for r in document["rows"]) == pytest.approx(
        document["summary"]["total_cost"], rel=1e-9
    )
    assert any(r.get("models") for r in document["rows"])


def test_team_names_are_distinct_and_mix_unicode_long_and_formula_names():
    names = bench.team_names(500)
    assert len(set(names)) == 500
    assert any(not name.isascii() for name in names)
    assert any(len(name) > 60 for name in names)
    assert any(name[0] in "=+-@" for name in names)


def test_text_formats_render(document):
    rows = list(csv.reader(io.StringIO(render.render_csv(document))))
    assert len(rows) == 1 + len(document["rows"])
    assert json.loads(render.render_json(document)) == document
    assert "Anomalies" in render.render_html(document)


def test_the_child_runner_writes_and_measures(tmp_path):
    result = bench.run_size(3, tmp_path, formats=("csv", "json", "html"), heap=True)
    assert result["rows"] == 5
    assert set(result["steps"]) == {"generate", "build_document", "csv", "json", "html"}
    for fmt in ("csv", "json", "html"):
        assert (
            result["steps"][fmt]["bytes"]
            == (tmp_path / f"chargeback-2026-10-3.{fmt}").stat().st_size
        )
        assert result["steps"][fmt]["heap_peak_mib"] >= 0
    assert result["peak_rss_mib"] > 0
    text = bench.table(
        [{**result, "steps": {**result["steps"], "pdf": {"seconds": 0.0, "cpu_seconds": 0.0}}}], []
    )
    assert "build_document" in text
    assert "**total**" in text

"""``report chargeback --energy``: kWh and kgCO2e per group from the same ledger as cost.

Ground truth: ``sample.truth.energy_truth`` (the simulated power integrated, never the exported
series). No energy series is a note, never a failure.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from finops_cli.analytics.chargeback import Extras, team_models
from finops_cli.analytics.costs import attribute_costs
from finops_cli.analytics.unit_costs import with_unit_costs
from finops_cli.render import chargeback as render
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import energy_truth
from finops_cli.settings import Settings
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from tests.support.chargeback import LABELS, chargeback_doc
from tests.support.chargeback import period as custom_period

START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 7, tzinfo=UTC)
WINDOW = Window(START, END, "t")
PERIOD = custom_period(START, END, datetime(2026, 10, 3, tzinfo=UTC))
AWS_US_EAST_1 = 1.135 * 0.379069  # PUE x grid factor of the packaged tables


class _Run:
    """What ``usecases.energy.with_energy`` reads of a RunContext."""

    settings = Settings()
    window = WINDOW


def _report(key: str = "team", *, energy: bool = True, unit: bool = False):
    from finops_cli.usecases.energy import with_energy

    source = SampleCostSource(LABELS)
    request = CostRequest(WINDOW, (key,), {}, 3600, energy=True)
    data = source.costs(request)
    report = attribute_costs(data, (key,), {}, START, END)
    inference = source.inference(request) if unit else None
    if inference is not None:
        report = with_unit_costs(report, inference)
    return with_energy(_Run(), report, data.energy if energy else None, inference)  # type: ignore[arg-type]


def _doc(report, share="none", extras=None, by="team"):
    return chargeback_doc(report, period=PERIOD, by=by, share=share, extras=extras)


@pytest.fixture(scope="module")
def team_report():
    return _report()


def test_energy_per_team_matches_the_truth_and_adds_up(team_report):
    doc = _doc(team_report)
    truth = energy_truth(
        SampleCluster(42), int(START.timestamp()), int(END.timestamp()), 60, "team"
    )
    assert doc["sections"]["energy"] is True
    rows = {r["team"]: r for r in doc["rows"]}
    for team, kwh in truth.items():
        name = team or "__unallocated__"
        if name in rows:
            assert rows[name]["energy_kwh"] == pytest.approx(kwh, rel=1e-6, abs=1e-5), name
    assert rows["__idle__"]["energy_kwh"] == pytest.approx(truth["__idle__"], rel=1e-6)
    total = sum(r["energy_kwh"] for r in doc["rows"])
    assert total == pytest.approx(truth.sum(), rel=1e-6)
    assert doc["summary"]["energy_kwh"] == pytest.approx(total, abs=1e-5)
    for row in doc["rows"]:  # kgCO2e = kWh x PUE x the table's factor
        assert row["kg_co2e"] == pytest.approx(row["energy_kwh"] * AWS_US_EAST_1, abs=1e-5)
    assert doc["summary"]["kg_co2e"] == pytest.approx(total * AWS_US_EAST_1, abs=1e-4)
    assert doc["energy"]["method"] == "counter"
    assert doc["energy"]["factors"][0]["region"] == "us-east-1"
    notes = " ".join(doc["notes"])
    assert "energy counter" in notes  # the method
    assert "PUE 1.135 x 0.379069 kgCO2e/kWh" in notes  # PUE and grid factor named


def test_proportional_shares_idle_energy_like_cost(team_report):
    doc = _doc(team_report, share="proportional")
    assert {r["kind"] for r in doc["rows"]} == {"allocated"}
    total = sum(r["energy_kwh"] for r in doc["rows"])
    assert total == pytest.approx(doc["summary"]["energy_kwh"], abs=1e-4)
    assert sum(r["kg_co2e"] for r in doc["rows"]) == pytest.approx(
        doc["summary"]["kg_co2e"], abs=1e-4
    )
    assert any("energy is shared" in n for n in doc["notes"])


def test_no_energy_series_is_a_note_not_a_failure():
    doc = _doc(_report(energy=False))
    assert doc["sections"]["energy"] is False
    assert "energy" not in doc and "energy_kwh" not in doc["summary"]
    assert all("energy_kwh" not in r for r in doc["rows"])
    assert any(n.startswith("energy left out: dcgm-exporter reports neither") for n in doc["notes"])
    render.render_html(doc)  # and every rendering still works
    assert "energy_kwh" not in render.render_csv(doc).splitlines()[0]


def test_energy_per_1m_tokens_in_the_unit_costs(team_report):
    units = _report("model", unit=True)
    team_model = attribute_costs(
        SampleCostSource(LABELS).costs(CostRequest(WINDOW, ("team", "model"), {}, 3600)),
        ("team", "model"),
        {},
        START,
        END,
    )
    models = team_models(team_model, units)
    doc = _doc(team_report, extras=Extras(models=models))
    per_model = {r.keys["model"]: r.unit for r in units.rows if r.kind == "allocated"}
    listed = [m for r in doc["rows"] for m in r.get("models") or []]
    assert listed
    for m in listed:
        unit = per_model[m["model"]]
        if unit.kwh_per_1m_tokens is not None:
            assert m["kwh_per_1m_tokens"] == pytest.approx(unit.kwh_per_1m_tokens, abs=1e-6)
            assert m["kg_co2e_per_1m_tokens"] == pytest.approx(
                unit.kwh_per_1m_tokens * AWS_US_EAST_1, abs=1e-5
            )
    assert any(m["kwh_per_1m_tokens"] for m in listed)
    html = render.render_html(doc)
    assert "kWh / 1M tokens" in html


def test_renderings_show_energy(team_report):
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    doc = _doc(team_report)
    rows = list(csv.reader(io.StringIO(render.render_csv(doc))))
    assert rows[0][-2:] == ["energy_kwh", "kg_co2e"]
    assert len({len(r) for r in rows}) == 1
    html = render.render_html(doc)
    assert "GPU energy" in html and "<th>kgCO2e</th>" in html
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages)
    assert "GPU energy and emissions per team" in text
    assert f"{doc['summary']['energy_kwh']:,.1f}" in text

"""The chargeback PDF and HTML read well: nothing cut, advice ranked by saving, round chart
ticks, headers aligned like their columns, daily bars that carry the value, KPIs explained."""

from __future__ import annotations

import copy
import io
import re

import pytest

from finops_cli.render import chargeback as render
from finops_cli.render.visual import nice_ticks, tick_label
from tests.unit.test_chargeback import _doc, reports  # noqa: F401 - the fixture

LONG_TEAM = "platform-inference-serving-" + "x" * 40
LONG_REASON = (
    "GPU cost per hour of vision averaged 25.12 USD vs 2.00 expected (12.6x) for 15 h from "
    "Thu 2026-10-03 06:00 UTC; +346.75 USD (expected: median of the same hour of the week over "
    "the baseline; score +388.2) END-OF-REASON"
)


def _rich_doc(reports):  # noqa: F811 - the fixture
    doc = copy.deepcopy(_doc(reports))
    rows = {r["team"]: r for r in doc["rows"]}
    doc["sections"].update(recommendations=True, anomalies=True)
    for row in doc["rows"]:
        row.setdefault("recommendations", [])
        row.setdefault("anomalies", [])

    def advice(workload, action, saving, target="g6e.xlarge (on-demand)"):
        return {
            "workload": workload,
            "namespace": "ns",
            "action": action,
            "current": "g5.xlarge (on-demand)",
            "target": target,
            "monthly_savings": saving,
            "confidence": "high",
        }

    rows["nlp"]["recommendations"] = [advice("Deployment/llama-13b", "upsize", -561.74)]
    rows["vision"]["recommendations"] = [
        advice(
            "Deployment/embeddings-0",
            "consolidate",
            528.75,
            "share Deployment/embeddings-1 (MIG or time-slicing) END-OF-TARGET",
        )
    ]
    rows["research"]["recommendations"] = [advice("Job/train", "spot", 900.0)]
    rows["vision"]["anomalies"] = [
        {
            "metric": "hourly_cost",
            "start": "2026-10-03T06:00:00Z",
            "severity": "critical",
            "impact": 100.0,
            "reason": LONG_REASON,
        },
        {
            "metric": "daily_cost",
            "start": "2026-10-04T00:00:00Z",
            "severity": "warning",
            "impact": 300.0,
            "reason": "short",
        },
    ]
    doc["rows"][0]["team"] = LONG_TEAM
    return doc


@pytest.mark.parametrize(
    ("peak", "labels"),
    [
        (2761, ["0", "1,000", "2,000", "3,000"]),
        (690, ["0", "200", "400", "600", "800"]),
        (12345, ["0", "2,500", "5,000", "7,500", "10,000", "12,500"]),
        (0.37, ["0.0", "0.1", "0.2", "0.3", "0.4"]),
        (0, ["0", "1"]),
    ],
)
def test_chart_ticks_are_round_numbers(peak, labels):
    ticks = nice_ticks(peak)
    assert ticks[-1] >= peak
    assert [tick_label(t, ticks[1] - ticks[0]) for t in ticks] == labels


def test_recommendations_are_ranked_by_saving_across_groups(reports):  # noqa: F811
    doc = _rich_doc(reports)
    ranked = [c["monthly_savings"] for _, c in render.ranked_recommendations(doc)]
    assert ranked == sorted(ranked, reverse=True)
    assert ranked[-1] == -561.74  # the upsize that costs money comes last
    assert [a["impact"] for _, a in render.ranked_anomalies(doc)] == [300.0, 100.0]


def test_pdf_cuts_no_text_and_ranks_advice(reports):  # noqa: F811
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    doc = _rich_doc(reports)
    pages = pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages
    text = "\n".join(page.extract_text() for page in pages)
    assert "…" not in text
    flat = re.sub(r"\s+", "", text)
    for whole in (LONG_TEAM, "END-OF-REASON", "END-OF-TARGET", "(MIGortime-slicing)"):
        assert re.sub(r"\s+", "", whole) in flat
    assert flat.index("Job/train") < flat.index("Deployment/embeddings-0")
    assert flat.index("Deployment/embeddings-0") < flat.index("Deployment/llama-13b")
    for label, _, words in render.kpis(doc):
        assert re.sub(r"\s+", "", words) in flat, label
    assert "1,000" in text and "690" not in text.split("Daily GPU cost")[1][:200]
    assert f"generated {doc['generated_at']}" in " ".join(text.split())


def test_html_headers_align_like_their_columns_and_bars_carry_the_value(reports):  # noqa: F811
    doc = _rich_doc(reports)
    doc["daily"][0]["allocated_gpu_cost"] = 0.0  # one day without allocated cost
    html = render.render_html(doc)
    css = html.split("<style>")[1].split("</style>")[0]
    assert "th.text" in css and "td.text" in css  # a text header is left-aligned like its cells
    for table in html.split("<table>")[1:]:
        body = table.split("</table>")[0]
        rows = re.findall(r"<tr.*?</tr>", body, flags=re.S)
        header = ["text" in c for c in re.findall(r"<th(?: class=\"([^\"]*)\")?>", rows[0])]
        cells = (
            ["text" in c for c in re.findall(r"<td(?: class=\"([^\"]*)\")?>", rows[1])]
            if len(rows) > 1
            else []
        )
        if cells:
            assert header[1:] == cells[1:], body[:300]  # the first column is left either way
    daily = html.split("Daily GPU cost")[1].split("</table>")[0]
    widths = [
        [int(w) for w in re.findall(r'class="bar[^"]*" style="width:(\d+)px"', row)]
        for row in re.findall(r"<tr><td>2026.*?</tr>", daily, flags=re.S)
    ]
    assert widths and all(len(w) == 3 for w in widths)  # allocated, unallocated, idle
    assert widths[0][0] == 0 and widths[1][0] > 0  # the length follows the day's allocated cost
    assert 'class="bar unallocated"' in daily and 'class="bar idle"' in daily  # and its colour
    for label, _, words in render.kpis(doc):
        assert f"{label}<b>" in html and words in html
    recs = html.split("Top recommendations")[1]
    assert recs.index("Job/train") < recs.index("embeddings-0") < recs.index("llama-13b")

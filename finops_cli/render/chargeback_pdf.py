"""The chargeback PDF (fpdf2, imported only here): a summary page with a bar chart per group and
a daily cost chart drawn with fpdf2's primitives, then tables with repeated headers.

Unicode: DejaVu Sans is embedded (subset). It is looked up in ``FINOPS_PDF_FONT_DIR``, then the
usual system places (Debian/Ubuntu ``fonts-dejavu-core``, Fedora, Homebrew); without it the PDF
cannot be made and the error says what to install.

Nothing is cut: a cell too long for its column wraps onto more lines (the row grows), and so do
the chart's labels. Reproducible: the creation date is ``SOURCE_DATE_EPOCH`` when set, else the
document's ``generated_at`` (itself ``SOURCE_DATE_EPOCH`` when set).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finops_cli.errors import UsageError
from finops_cli.render.chargeback import (
    group_title,
    hours,
    idle_policy,
    kg,
    kpis,
    kwh,
    money,
    pct,
    ranked_anomalies,
    ranked_recommendations,
    row_label,
    signed,
)
from finops_cli.render.visual import nice_ticks, tick_label
from finops_cli.timewindow import TIMESTAMP

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu-sans-fonts",  # Fedora
    "/usr/share/fonts/TTF",  # Arch
    "/opt/homebrew/share/fonts",
    "/usr/local/share/fonts",
)
BLUE = (59, 110, 165)
GREY = (150, 150, 150)
ORANGE = (230, 140, 50)


def font_paths() -> tuple[Path, Path]:
    """DejaVuSans.ttf and DejaVuSans-Bold.ttf, or a UsageError that says how to get them."""
    dirs = [os.environ["FINOPS_PDF_FONT_DIR"]] if os.environ.get("FINOPS_PDF_FONT_DIR") else []
    for directory in [*dirs, *FONT_DIRS]:
        regular = Path(directory) / "DejaVuSans.ttf"
        bold = Path(directory) / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise UsageError(
        "--format pdf needs the DejaVu Sans font: install fonts-dejavu-core (Debian/Ubuntu) or "
        "dejavu-sans-fonts (Fedora), or set FINOPS_PDF_FONT_DIR to a folder with DejaVuSans.ttf "
        "and DejaVuSans-Bold.ttf"
    )


def _creation_date(document: dict[str, Any]) -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.strptime(document["generated_at"], TIMESTAMP).replace(tzinfo=UTC)


def render_pdf(document: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    regular, bold = font_paths()
    title = f"GPU chargeback · {document['period']['label']}"
    period = document["period"]
    footer_text = (
        f"{period['start'][:10]} → {period['end'][:10]} · source: {document['source']} · "
        f"{document['currency']}"
    )

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "B", 11)
            self.set_text_color(30, 30, 30)
            self.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
            self.set_draw_color(*BLUE)
            self.set_line_width(0.4)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(3)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "", 7.5)
            self.set_text_color(*GREY)
            self.cell(0, 5, footer_text, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    pdf = Report(orientation="L", unit="mm", format="A4")
    pdf.set_creation_date(_creation_date(document))
    pdf.set_title(title)
    pdf.set_author("finops")
    pdf.set_creator("finops report chargeback")
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    _summary(pdf, document)
    _tables(pdf, document)
    return bytes(pdf.output())


def _summary(pdf: Any, d: dict[str, Any]) -> None:  # noqa: PLR0915 - one page, drawn in order
    s = d["summary"]
    key = d["group_by"]
    pdf.set_font("DejaVu", "", 8.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(
        0,
        4.5,
        f"Period {d['period']['start']} → {d['period']['end']} · by {group_title(d).lower()} · "
        f"generated {d['generated_at']} · {idle_policy(d)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if d["sections"]["previous_period"]:  # what the changes compare with (like with like)
        pdf.multi_cell(0, 4.5, d["comparison"]["description"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    cards = kpis(d)
    per_row = len(cards) if len(cards) <= 7 else -(-len(cards) // 2)  # two rows past seven
    width = (pdf.w - pdf.l_margin - pdf.r_margin - 3 * (per_row - 1)) / per_row
    pdf.set_font("DejaVu", "", 6.5)
    notes = [_lines(pdf, words, width - 4, 3.0) for _, _, words in cards]
    height = 13.5 + 3.0 * max(len(lines) for lines in notes)
    first = pdf.get_y()
    for i, (label, value, _) in enumerate(cards):
        top = first + (i // per_row) * (height + 3)
        x = pdf.l_margin + (i % per_row) * (width + 3)
        pdf.set_draw_color(210, 210, 210)
        pdf.rect(x, top, width, height)
        pdf.set_xy(x + 2, top + 1.5)
        pdf.set_font("DejaVu", "", 7.5)
        pdf.set_text_color(110, 110, 110)
        pdf.cell(width - 4, 4, label)
        pdf.set_xy(x + 2, top + 6.0)
        pdf.set_font("DejaVu", "B", 12)
        pdf.set_text_color(20, 20, 20)
        pdf.cell(width - 4, 6, value)
        pdf.set_font("DejaVu", "", 6.5)
        pdf.set_text_color(110, 110, 110)
        for k, line in enumerate(notes[i]):
            pdf.set_xy(x + 2, top + 12.5 + 3.0 * k)
            pdf.cell(width - 4, 3.0, line)
    pdf.set_y(top + height + 5)

    # Bar chart: total cost per group (top 12), left half.
    rows = [r for r in d["rows"] if r["total_cost"] is not None][:12]  # not the bill's unused
    chart_top = pdf.get_y()
    half = (pdf.w - pdf.l_margin - pdf.r_margin - 8) / 2
    pdf.set_font("DejaVu", "B", 9.5)
    pdf.set_text_color(30, 30, 30)
    pdf.cell(half, 6, f"Total cost per {group_title(d).lower()} ({d['currency']})")
    label_w = 38.0
    bar_x = pdf.l_margin + label_w
    bar_max = half - label_w - 22
    biggest = max([r["total_cost"] or 0.0 for r in rows] + [1e-9])
    y = chart_top + 8
    step = min(7.0, 100 / max(len(rows), 1))
    pdf.set_font("DejaVu", "", 7.5)
    for r in rows:
        pdf.set_text_color(40, 40, 40)
        name_lines = _lines(pdf, row_label(d, r), label_w - 2, 3.2)
        row_h = max(step, 3.2 * len(name_lines) + 1)
        for k, line in enumerate(name_lines):  # a long name wraps: the row grows, nothing is cut
            pdf.set_xy(pdf.l_margin, y + (row_h - 3.2 * len(name_lines)) / 2 + 3.2 * k)
            pdf.cell(label_w - 2, 3.2, line, align="R")
        length = bar_max * max(r["total_cost"] or 0.0, 0.0) / biggest
        pdf.set_fill_color(*(BLUE if r["kind"] == "allocated" else GREY))
        pdf.rect(bar_x, y + (row_h - (step - 2.6)) / 2, max(length, 0.2), step - 2.6, style="F")
        pdf.set_xy(bar_x + length + 1, y + (row_h - (step - 1)) / 2)
        pdf.cell(22, step - 1, money(r["total_cost"]))
        y += row_h

    # Daily GPU cost: stacked columns (allocated, unallocated, idle), right half.
    x0 = pdf.l_margin + half + 8
    pdf.set_xy(x0, chart_top)
    pdf.set_font("DejaVu", "B", 9.5)
    pdf.cell(half, 6, f"Daily GPU cost ({d['currency']})")
    daily = d["daily"]
    # The chart gives up height (not below 50 mm) so that the top 5 stay on the first page
    # when the cards are taller (more of them, notes wrapping onto more lines).
    top_table = 6 + 5.2 * (len(s["top"]) + 1) + 3
    room = pdf.page_break_trigger - (chart_top + 10) - 17 - top_table
    plot_top, plot_h = chart_top + 10, max(50.0, min(80.0, room))
    plot_x, plot_w = x0 + 16, half - 18
    totals = [
        sum(x[k] for k in ("allocated_gpu_cost", "unallocated_gpu_cost", "idle_gpu_cost"))
        for x in daily
    ]
    ticks = nice_ticks(max([*totals, 0.0]))
    peak = ticks[-1]  # the axis ends on a round tick, at or above the highest day
    pdf.set_draw_color(200, 200, 200)
    pdf.set_font("DejaVu", "", 6.5)
    pdf.set_text_color(110, 110, 110)
    for tick in ticks:
        ty = plot_top + plot_h - plot_h * tick / peak
        pdf.line(plot_x, ty, plot_x + plot_w, ty)
        pdf.set_xy(x0, ty - 2)
        pdf.cell(15, 4, tick_label(tick, ticks[1] - ticks[0]), align="R")
    if daily:
        slot = plot_w / len(daily)
        for i, day in enumerate(daily):
            bottom = plot_top + plot_h
            for value, colour in (
                (day["allocated_gpu_cost"], BLUE),
                (day["unallocated_gpu_cost"], ORANGE),
                (day["idle_gpu_cost"], GREY),
            ):
                h = plot_h * max(value, 0.0) / peak
                if h > 0:
                    pdf.set_fill_color(*colour)
                    pdf.rect(plot_x + i * slot + slot * 0.15, bottom - h, slot * 0.7, h, style="F")
                bottom -= h
            if i % max(1, len(daily) // 8) == 0:
                pdf.set_xy(plot_x + i * slot - 4, plot_top + plot_h + 1)
                pdf.cell(slot + 8, 4, day["date"][5:], align="C")
    legend_y = plot_top + plot_h + 7
    lx = plot_x
    for name, colour in (("allocated", BLUE), ("unallocated", ORANGE), ("idle", GREY)):
        pdf.set_fill_color(*colour)
        pdf.rect(lx, legend_y + 1, 3, 3, style="F")
        pdf.set_xy(lx + 4, legend_y)
        pdf.cell(22, 5, name)
        lx += 26
    pdf.set_y(max(y, legend_y + 8) + 2)

    # Top 5.
    pdf.set_font("DejaVu", "B", 9.5)
    pdf.set_text_color(30, 30, 30)
    pdf.cell(0, 6, f"Top {len(s['top'])} by total cost", new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        [group_title(d), "Total", "Share"],
        [[t[key], money(t["total_cost"]), pct(t["share"])] for t in s["top"]],
        [70, 35, 25],
    )


def unit(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


def _lines(pdf: Any, text: str, width: float, line_h: float = 4.0) -> list[str]:
    """``text`` broken into the lines that fit ``width`` in the current font (at spaces, or
    inside a word longer than the width): a cell is wrapped, never cut."""
    if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        return [text]
    lines = pdf.multi_cell(width, line_h, text, dry_run=True, output="LINES")
    return [str(line) for line in lines] or [text]


def _table(
    pdf: Any,
    headers: list[str],
    rows: list[list[str]],
    widths: list[float],
    left: frozenset[int] = frozenset({0}),
) -> None:
    """A table whose header is drawn again at the top of every page it runs onto. A cell that
    does not fit its column wraps, and its row grows to hold it."""
    line_h, wrap_h = 5.2, 3.6
    room = pdf.w - pdf.l_margin - pdf.r_margin
    if sum(widths) > room:  # shrink every column alike rather than run off the page
        widths = [w * room / sum(widths) for w in widths]

    def draw(cells: list[str], fill: bool) -> None:
        lines = [_lines(pdf, c, w, wrap_h) for c, w in zip(cells, widths, strict=True)]
        height = line_h + wrap_h * (max(len(cell) for cell in lines) - 1)
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            head()
        x, top = pdf.l_margin, pdf.get_y()
        if fill:
            pdf.rect(x, top, sum(widths), height, style="F")
        for i, (cell, w) in enumerate(zip(lines, widths, strict=True)):
            for k, line in enumerate(cell):
                pdf.set_xy(x, top + (0 if k == 0 else (line_h - wrap_h) / 2 + wrap_h * k))
                pdf.cell(w, line_h if k == 0 else wrap_h, line, align="L" if i in left else "R")
            x += w
        pdf.set_draw_color(210, 210, 210)
        pdf.line(pdf.l_margin, top + height, pdf.l_margin + sum(widths), top + height)
        pdf.set_xy(pdf.l_margin, top + height)

    def head() -> None:
        pdf.set_font("DejaVu", "B", 7.5)
        pdf.set_fill_color(235, 240, 246)
        pdf.set_text_color(30, 30, 30)
        draw(headers, fill=True)
        pdf.set_font("DejaVu", "", 7.5)

    head()
    for row in rows:
        draw(row, fill=False)
    pdf.ln(3)


def _section(pdf: Any, title: str) -> None:
    if pdf.get_y() + 20 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    pdf.set_text_color(30, 30, 30)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")


# A column of a detail table: header, width, left-aligned, and the cell of one listed item.
_Column = tuple[str, float, bool, Callable[[dict[str, Any]], str]]
# A detail table: (section switch, heading, the row's list, width of the row's column), columns.
_Detail = tuple[tuple[str, str, str, float], tuple[_Column, ...]]


def _detail_table(pdf: Any, d: dict[str, Any], detail: _Detail) -> None:
    """A table of what each row lists (its models, recommendations or anomalies), group first.

    One function for the three such tables, so that they agree on how rows are keyed and on
    drawing nothing when the section is off. Models follow the rows' order; recommendations
    are ranked by saving and anomalies by impact, whichever group they belong to.
    """
    (switch, heading, listed, key_width), columns = detail
    if not d["sections"][switch]:
        return
    _section(pdf, heading)
    key = d["group_by"]
    if listed == "recommendations":
        items = ranked_recommendations(d)
        pdf.set_font("DejaVu", "", 7.5)
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(
            0,
            4.5,
            "Largest monthly saving first; a negative saving is a change that costs more (an "
            "upsize for a workload that needs it).",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    elif listed == "anomalies":
        items = ranked_anomalies(d)
    else:
        items = [(str(r[key]), item) for r in d["rows"] for item in r.get(listed) or []]
    body = [[group, *(cell(item) for *_, cell in columns)] for group, item in items]
    headers = [group_title(d), *(header for header, *_ in columns)]
    widths = [key_width, *(width for _, width, *_ in columns)]
    left = frozenset({0} | {i for i, (_, _, is_left, _) in enumerate(columns, 1) if is_left})
    _table(pdf, headers, body, widths, left)


def _requests(m: dict[str, Any]) -> str:
    return "-" if m["requests"] is None else f"{m['requests']:,.0f}"


_MODELS: _Detail = (
    ("unit_costs", "Unit costs of each team's models", "models", 50.0),
    (
        ("Model", 60, True, lambda m: m["model"]),
        ("GPU cost", 28, False, lambda m: money(m["gpu_cost"])),
        ("Requests", 32, False, _requests),
        ("Per 1k requests", 30, False, lambda m: unit(m["cost_per_1k_requests"])),
        ("Per 1M tokens", 30, False, lambda m: unit(m["cost_per_1m_tokens"])),
        ("Status", 30, True, lambda m: m["unit_cost_status"] or "-"),
    ),
)
_MODELS_ENERGY: _Detail = (
    ("unit_costs", "Unit costs of each team's models", "models", 44.0),
    (
        ("Model", 50, True, lambda m: m["model"]),
        ("GPU cost", 26, False, lambda m: money(m["gpu_cost"])),
        ("Requests", 28, False, _requests),
        ("Per 1k requests", 26, False, lambda m: unit(m["cost_per_1k_requests"])),
        ("Per 1M tokens", 26, False, lambda m: unit(m["cost_per_1m_tokens"])),
        ("kWh / 1M tokens", 26, False, lambda m: unit(m.get("kwh_per_1m_tokens"))),
        ("kgCO2e / 1M tokens", 28, False, lambda m: unit(m.get("kg_co2e_per_1m_tokens"))),
        ("Status", 22, True, lambda m: m["unit_cost_status"] or "-"),
    ),
)
"""The unit costs with the models' energy and emissions per 1M tokens (``--energy``)."""
_RECOMMENDATIONS: _Detail = (
    ("recommendations", "Top recommendations", "recommendations", 45.0),
    (
        ("Workload", 70, True, lambda c: "/".join(p for p in (c["namespace"], c["workload"]) if p)),
        ("Action", 25, True, lambda c: c["action"]),
        ("Change", 75, True, lambda c: f"{c['current']} → {c['target']}"),
        ("Saving / month", 28, False, lambda c: money(c["monthly_savings"])),
        ("Confidence", 25, True, lambda c: c["confidence"]),
    ),
)
_ANOMALIES: _Detail = (
    ("anomalies", "Anomalies", "anomalies", 40.0),
    (
        ("Metric", 25, True, lambda a: a["metric"]),
        ("Start", 30, True, lambda a: a["start"][:16].replace("T", " ")),
        ("Severity", 20, True, lambda a: a["severity"]),
        ("Impact", 22, False, lambda a: money(a["impact"])),
        ("Reason", 130, True, lambda a: a["reason"]),
    ),
)


def _energy_table(pdf: Any, d: dict[str, Any]) -> None:
    """GPU energy and emissions per group (``--energy``): a table of its own, so that the cost
    table keeps its columns readable."""
    s = d["summary"]
    total_kwh = s.get("energy_kwh") or 0.0
    _section(pdf, f"GPU energy and emissions per {group_title(d).lower()}")

    def per_hour(r: dict[str, Any]) -> str:
        k, h = r.get("energy_kwh"), r.get("gpu_hours")
        return "-" if k is None or not h else f"{k / h:,.3f}"

    def share(value: float | None) -> str:
        return pct(value / total_kwh if value is not None and total_kwh > 0 else None)

    body = [
        [
            row_label(d, r),
            hours(r["gpu_hours"]),
            kwh(r.get("energy_kwh")),
            per_hour(r),
            share(r.get("energy_kwh")),
            kg(r.get("kg_co2e")),
        ]
        for r in d["rows"]
        if r["kind"] != "unused_commitment"  # the bill's money, no GPU
    ]
    body.append(
        [
            "Total",
            hours(s["gpu_hours"]),
            kwh(s.get("energy_kwh")),
            per_hour(s),
            "",
            kg(s.get("kg_co2e")),
        ]
    )
    _table(
        pdf,
        [group_title(d), "GPU-h", "GPU kWh", "kWh / GPU-h", "Share of kWh", "kgCO2e"],
        body,
        [52.0, 24, 26, 26, 26, 26],
    )


def _commitment_tables(pdf: Any, d: dict[str, Any]) -> None:
    """With the bill: each group's commitment discount and net cost, each family's discount and
    who got it, and the unused commitment lines."""
    c, s = d["commitments"], d["summary"]
    _section(pdf, f"Commitments (from the bill: {c['source']})")
    pdf.set_font("DejaVu", "", 7.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(
        0,
        4.5,
        f"Rule: {c['rule']}. Unused commitment is the row __unused_commitment__, not part of idle.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    body = [
        [
            row_label(d, r),
            money(r["total_cost"]),
            money(r.get("commitment_discount")),
            money(r.get("net_cost")),
        ]
        for r in d["rows"]
    ]
    body.append(
        ["Total", money(s["total_cost"]), money(s["commitment_discount"]), money(s["net_cost"])]
    )
    _table(
        pdf,
        [group_title(d), "Total (ledger)", "Commitment discount", "Net"],
        body,
        [60.0, 32, 36, 32],
    )
    families = [
        [
            f["family"],
            ", ".join(f["instance_types"]),
            hours(f["covered_hours"]),
            money(f["on_demand_cost"]),
            money(f["effective_cost"]),
            money(f["discount"]),
            "; ".join(f"{k} {money(v)}" for k, v in f["shares"].items()),
        ]
        for f in c["families"]
    ]
    if families:
        _table(
            pdf,
            ["Family", "Instance types", "Covered h", "On demand", "Paid", "Discount", "Shared to"],
            families,
            [18.0, 36, 20, 24, 24, 24, 131],
            left=frozenset({0, 1, 6}),
        )
    lines = [
        [u["id"], u["kind"], money(u["unused"]), pct(u["utilisation"])] for u in c["unused_lines"]
    ]
    if lines:
        _table(
            pdf,
            ["Unused commitment", "Kind", "Unused", "Utilisation"],
            lines,
            [120.0, 36, 28, 24],
            left=frozenset({0, 1}),
        )


def _tables(pdf: Any, d: dict[str, Any]) -> None:
    title = group_title(d)
    sections = d["sections"]
    shared = d["share_idle"] == "proportional"
    pdf.add_page()
    _section(pdf, f"Cost per {title.lower()} ({d['currency']})")
    headers = [title, "GPU-h", "Avg GPUs", "GPU cost", "CPU/RAM"]
    widths = [52.0, 20, 18, 26, 22]
    if shared:
        headers.append("Shared idle")
        widths.append(24)
    headers += ["Total", "Efficiency", "Waste"]
    widths += [28, 20, 24]
    if sections["budgets"]:
        headers += ["Budget", "Variance"]
        widths += [24, 24]
    if sections["previous_period"]:
        headers += ["Change", "Change %"]
        widths += [24, 21]
    body = []
    for r in d["rows"]:
        cells = [
            row_label(d, r),
            hours(r["gpu_hours"]),
            hours(r["avg_gpus"]),
            money(r["gpu_cost"]),
            money(r["cpu_ram_cost"]),
        ]
        if shared:
            cells.append(money(r["shared_idle_cost"]))
        cells += [money(r["total_cost"]), pct(r["efficiency"]), money(r["waste"])]
        if sections["budgets"]:
            cells += [money(r["budget"]), signed(r["budget_variance"])]
        if sections["previous_period"]:
            cells += [signed(r.get("change")), pct(r.get("change_pct"), True)]
        body.append(cells)
    s = d["summary"]
    total = ["Total", hours(s["gpu_hours"]), "", money(s["gpu_cost"]), money(s["cpu_ram_cost"])]
    if shared:
        total.append("")
    total += [money(s["total_cost"]), pct(s["efficiency"]), money(s["waste"])]
    total += [""] * (len(headers) - len(total))
    _table(pdf, headers, [*body, total], widths)
    if sections.get("energy"):
        _energy_table(pdf, d)
    if sections.get("commitments"):
        _commitment_tables(pdf, d)

    models = _MODELS_ENERGY if sections.get("energy") else _MODELS
    for detail in (models, _RECOMMENDATIONS, _ANOMALIES):
        _detail_table(pdf, d, detail)
    if d["notes"]:
        _section(pdf, "Notes")
        pdf.set_font("DejaVu", "", 7.5)
        for note in d["notes"]:
            pdf.multi_cell(0, 4.5, f"• {note}", new_x="LMARGIN", new_y="NEXT")

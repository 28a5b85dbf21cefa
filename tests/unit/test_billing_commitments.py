"""Commitments read from FOCUS 1.2 (AWS-shaped) and 1.3 (Azure-shaped) exports with Savings Plan,
on-demand capacity reservation, Capacity Block and reservation rows, used and unused: unused money,
utilisation and coverage checked against an independent computation over the rows written, to
the cent and within 0.1 percentage points; every planted idle-while-on-demand overlap found."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from finops_cli.analytics.commitments import Term, commitment_report
from finops_cli.errors import UsageError
from finops_cli.sources.focus_commitments import FocusCommitments, is_hour_unit
from tests.support import focus_commitments as fx

START, END = date(2026, 10, 1), date(2026, 10, 4)
GPU_PREFIXES = ("p5.", "g6e.", "Standard_ND")


def _write(tmp_path, fmt):
    aws, azure = fx.aws_rows(), fx.azure_rows()
    folder = tmp_path / "bill"
    folder.mkdir()
    if fmt == "csv":
        fx.write_csv(aws, fx.AWS_COLUMNS, folder / "aws-focus-1.2.csv", "NULL")
        fx.write_csv(azure, fx.AZURE_COLUMNS, folder / "azure-focus-1.3.csv", "")
    else:
        fx.write_parquet(aws, fx.AWS_COLUMNS, folder / "aws.parquet")
        fx.write_parquet(azure, fx.AZURE_COLUMNS, folder / "azure.parquet")
    return folder, aws + azure


def _independent(rows):
    """Used / unused EffectiveCost per commitment, and GPU instance-hours by how they were
    bought, straight from the written rows (plain Python, none of the module's code)."""
    used, unused = {}, {}
    hours = {"committed": 0.0, "on-demand": 0.0, "spot": 0.0}
    for r in rows:
        if r.get("ChargeCategory") != "Usage":
            continue
        key = r.get("CommitmentDiscountId") or r.get("CapacityReservationId")
        status = r.get("CommitmentDiscountStatus") or r.get("CapacityReservationStatus")
        if key and status == "Used":
            used[key] = used.get(key, 0.0) + float(r["EffectiveCost"])
        if key and status == "Unused":
            unused[key] = unused.get(key, 0.0) + float(r["EffectiveCost"])
            continue
        kind = r.get("x_UsageType") or r.get("x_InstanceType") or ""
        if not any(p in kind for p in GPU_PREFIXES):
            continue
        h = float(r.get("ConsumedQuantity") or 1)
        if r.get("PricingCategory") == "Committed":
            hours["committed"] += h
        elif r.get("PricingCategory") == "Dynamic":
            hours["spot"] += h
        else:
            hours["on-demand"] += h
    return used, unused, hours


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_unused_money_utilisation_and_coverage_match_an_independent_sum(tmp_path, fmt):
    folder, rows = _write(tmp_path, fmt)
    frame = FocusCommitments(folder).rows(START, END)
    report = commitment_report(frame)
    used, unused, hours = _independent(rows)
    by_id = {c.commitment_id: c for c in report.commitments}
    assert set(by_id) == {fx.SP_ARN, fx.ODCR, fx.CB, fx.AZ_RES}
    for key, commitment in by_id.items():
        assert round(commitment.unused, 2) == round(unused.get(key, 0.0), 2), key
        assert round(commitment.used, 2) == round(used.get(key, 0.0), 2), key
        expected = used.get(key, 0.0) / (used.get(key, 0.0) + unused.get(key, 0.0))
        assert abs(commitment.utilisation - expected) * 100 < 0.1, key
    assert by_id[fx.CB].kind == "capacity-block"
    assert by_id[fx.SP_ARN].kind == "savings-plan"
    assert by_id[fx.ODCR].kind == "capacity-reservation"
    assert by_id[fx.AZ_RES].kind == "reserved-instance"
    assert round(by_id[fx.SP_ARN].purchased, 2) == 72 * 50.0
    assert round(report.unused, 2) == round(sum(unused.values()), 2)
    assert round(report.used, 2) == round(sum(used.values()), 2)
    total = report.total_coverage
    assert total.committed_hours == pytest.approx(hours["committed"])
    assert total.on_demand_hours == pytest.approx(hours["on-demand"])
    assert total.spot_hours == pytest.approx(hours["spot"])
    share = hours["committed"] / sum(hours.values())
    assert abs(total.coverage - share) * 100 < 0.1


def test_every_planted_overlap_is_found_with_its_hours_and_money(tmp_path):
    folder, _ = _write(tmp_path, "csv")
    report = commitment_report(FocusCommitments(folder).rows(START, END))
    found = {o.reservation_id: o for o in report.overlaps}
    assert set(found) == set(fx.PLANTED_OVERLAPS)
    for key, (hours, money) in fx.PLANTED_OVERLAPS.items():
        assert found[key].hours == pytest.approx(hours)
        assert round(found[key].money, 2) == round(money, 2)
    assert found[fx.ODCR].zone == "us-east-1a"
    assert found[fx.CB].periods == 5


def test_families_credits_and_window(tmp_path):
    folder, _ = _write(tmp_path, "csv")
    frame = FocusCommitments(folder).rows(START, date(2026, 10, 2))  # the first day only
    assert frame["start"].max() < datetime(2026, 10, 2, tzinfo=UTC)
    assert "Credit" not in set(frame["charge_category"])  # a credit is not commitment use
    report = commitment_report(frame)
    families = {f.family: f for f in report.families}
    assert families["p5"].used == pytest.approx(24 * fx.P5_SP)
    assert families["g6e"].unused == pytest.approx(24 * fx.G6E)
    assert families["g6e"].spot_hours == pytest.approx(24)
    assert "m6i" not in families  # the Savings Plan also covers CPU instances: not a GPU family


def test_expiring_terms_in_the_window_ahead():
    now = datetime(2026, 10, 4, tzinfo=UTC)
    terms = [
        Term("cr-soon", "capacity-block", now + timedelta(days=2)),
        Term("sp-later", "savings-plan", now + timedelta(days=200)),
        Term("gone", "reserved-instance", now - timedelta(days=1)),
    ]
    report = commitment_report(
        FocusCommitments.__new__(FocusCommitments) and _empty(), terms=terms, now=now
    )
    assert [t.commitment_id for t in report.expiring] == ["cr-soon"]


def _empty():
    import pandas as pd

    from finops_cli.sources.focus_commitments import COMMITMENT_COLUMNS

    return pd.DataFrame(columns=list(COMMITMENT_COLUMNS))


def test_bad_cells_name_file_row_and_column(tmp_path):
    rows = fx.aws_rows()[:3]
    rows[1]["EffectiveCost"] = "12,5"
    path = fx.write_csv(rows, fx.AWS_COLUMNS, tmp_path / "bad.csv", "NULL")
    with pytest.raises(UsageError, match=r"bad.csv: row 3, column EffectiveCost: not a number"):
        FocusCommitments(path).rows(START, END)
    path.write_text("BilledCost,ChargePeriodStart\n1,2026-10-01T00:00:00Z\n")
    with pytest.raises(UsageError, match="missing FOCUS column"):
        FocusCommitments(path).rows(START, END)


def test_hour_units():
    assert all(is_hour_unit(u) for u in ("Hours", "Hrs", "1 Hour", "hour"))
    assert not any(is_hour_unit(u) for u in ("USD", "GB-Mo", None, "NULL"))


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_the_sample_bill_in_every_focus_version(tmp_path, version):
    """The sample's planted waste read back from its FOCUS files: the Savings Plan's unused
    commitment in every version (1.0 through ``ChargeSubcategory``), the idle g5.12xlarge
    reservation and its overlap from 1.1 on (1.0 has no capacity reservation columns)."""
    from finops_cli.sample.bill import (
        ON_DEMAND_PRICE,
        RESERVATION_ID,
        RESERVATION_TYPE,
        SAVINGS_PLAN_ARN,
        SAVINGS_PLAN_HOURLY,
        SampleBill,
        write_focus,
    )

    start, end = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC)
    path = tmp_path / "bill.csv"
    write_focus(SampleBill().line_items(start, end, end), path, version=version)
    report = commitment_report(FocusCommitments(path).rows(start.date(), end.date()))
    got = {c.commitment_id: c for c in report.commitments}
    sp_unused = (SAVINGS_PLAN_HOURLY - 2 * 55.04 * 0.72) * 72
    assert round(got[SAVINGS_PLAN_ARN].unused, 2) == round(sp_unused, 2) == 413.45
    assert round(got[SAVINGS_PLAN_ARN].committed, 2) == SAVINGS_PLAN_HOURLY * 72
    reserved = ON_DEMAND_PRICE[RESERVATION_TYPE] * 72
    if version == "1.0":
        assert RESERVATION_ID not in got and report.overlaps == ()
        return
    assert round(got[RESERVATION_ID].unused, 2) == round(reserved, 2)
    (overlap,) = report.overlaps
    assert overlap.reservation_id == RESERVATION_ID and overlap.hours == 72.0
    assert round(overlap.money, 2) == round(reserved, 2)

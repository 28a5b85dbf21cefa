"""FOCUS exports shaped like the real, published ones: several providers, NULL cells everywhere.

``tests/fixtures/focus/focus_sample_shaped.csv`` follows the FinOps Foundation's published FOCUS
sample (anonymised AWS, Microsoft and Oracle rows, FOCUS 1.0 columns): empty values written as
``NULL`` (or ``null``, or nothing) in text, date, cost and ``Tags`` columns, a
``{"user:team": ...}`` AWS tag, nested Oracle tag objects, credits, corrections with negative
costs, a tax row without a service category, a purchase, three date-time spellings and a row
outside the window.

The totals are checked against an independent computation: the file read with the ``csv``
module and summed with ``Decimal``, to the cent, with finops' default grouping (``--by team``).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_cli.sources.billing import UNTAGGED
from tests.support.inprocess import run_inprocess

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "focus" / "focus_sample_shaped.csv"
START, END = date(2024, 9, 1), date(2024, 9, 4)
CENT = Decimal("0.01")


def _missing(text: str) -> bool:
    return text.strip().lower() in ("", "null")


def _team(tags: str) -> str:
    if _missing(tags):
        return UNTAGGED
    found = json.loads(tags)
    for key in ("team", "user:team"):
        value = found.get(key)
        if isinstance(value, str) and not _missing(value):
            return value
    return UNTAGGED


def expected_by_team(path: Path, *, compute_usage_only: bool = True) -> dict[str, Decimal]:
    """BilledCost per team tag over [START, END), from the CSV text alone."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = datetime.fromisoformat(row["ChargePeriodStart"].replace("Z", "+00:00")).date()
            if not START <= day < END:
                continue
            if compute_usage_only and (
                row["ServiceCategory"] != "Compute" or row["ChargeCategory"] != "Usage"
            ):
                continue
            cost = Decimal(0) if _missing(row["BilledCost"]) else Decimal(row["BilledCost"])
            totals[_team(row["Tags"])] += cost
    return dict(totals)


def actual_by_team(tmp_path: Path, path: Path, *extra: str) -> tuple[dict[str, Decimal], str]:
    run = run_inprocess(
        "billing",
        "actual",
        "--focus",
        str(path),
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "-o",
        "json",
        *extra,
        home=tmp_path,
    )
    assert run.code == 0 and run.crash is None, run.stderr
    document = json.loads(run.stdout)
    assert document["group_by"] == ["team"]  # the default grouping
    got = {row["team"]: Decimal(str(row["cost"])) for row in document["rows"]}
    assert Decimal(str(document["totals"]["cost"])).quantize(CENT) == sum(
        got.values(), Decimal(0)
    ).quantize(CENT)
    return got, run.stderr


def _cents(values: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: v.quantize(CENT) for k, v in values.items()}


def test_the_fixture_has_what_real_exports_have():
    with SAMPLE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["ProviderName"] for r in rows} == {"AWS", "Microsoft", "Oracle"}
    assert any(r["Tags"] == "NULL" for r in rows) and any(r["RegionId"] == "NULL" for r in rows)
    assert any(r["ChargeCategory"] == "Credit" for r in rows)
    assert any(Decimal(r["BilledCost"]) < 0 for r in rows if not _missing(r["BilledCost"]))


def test_default_grouping_matches_an_independent_sum_to_the_cent(tmp_path):
    got, stderr = actual_by_team(tmp_path, SAMPLE)
    expected = expected_by_team(SAMPLE)
    assert _cents(got) == _cents(expected)
    assert set(got) == {"nlp", "vision", "research", UNTAGGED}
    assert "no BilledCost value (NULL or empty): counted as 0" in stderr
    assert "not a JSON object" not in stderr


def test_all_services_keeps_credits_taxes_and_negative_costs(tmp_path):
    got, _ = actual_by_team(tmp_path, SAMPLE, "--all-services")
    expected = expected_by_team(SAMPLE, compute_usage_only=False)
    assert _cents(got) == _cents(expected)
    assert expected[UNTAGGED] < expected_by_team(SAMPLE)[UNTAGGED]  # the credits count


def test_null_is_a_missing_value_in_text_columns_too(tmp_path):
    run = run_inprocess(
        "billing",
        "actual",
        "--focus",
        str(SAMPLE),
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "--by",
        "region",
        "--by",
        "team",
        "-o",
        "json",
        home=tmp_path,
    )
    assert run.code == 0, run.stderr
    regions = {row["region"] for row in json.loads(run.stdout)["rows"]}
    assert not {"NULL", "null"} & regions  # a region called "NULL" is no region
    assert "" in regions and "us-east-1" in regions


def test_the_same_export_as_parquet_with_null_cells(tmp_path):
    """Parquet from the same rows: text cells stay "NULL" strings, as some exporters write them."""
    with SAMPLE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pa.table({name: [r[name] for r in rows] for name in rows[0]})
    path = tmp_path / "focus.parquet"
    pq.write_table(table, path)
    got, _ = actual_by_team(tmp_path, path)
    assert _cents(got) == _cents(expected_by_team(SAMPLE))


@pytest.mark.parametrize(
    "text",
    [
        "2024-09-01T00:00:00Z",
        "2024-09-01 00:00:00",
        "2024-09-01T00:00:00.0000000Z",
        "2024-09-01T00:00:00.000+0000",
        "2024-09-01 00:00:00 UTC",
    ],
)
def test_date_time_spellings_of_real_exports(text):
    from datetime import UTC

    from finops_cli.sources.focus_values import parse_time

    assert parse_time(text) == datetime(2024, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize("cell", ["NULL", "null", " NULL ", ""])
def test_every_spelling_of_missing_tags_is_untagged(tmp_path, cell):
    with SAMPLE.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [r for r in reader]
    tags = header.index("Tags")
    for row in rows:
        if row[tags] in ("NULL", "null", ""):
            row[tags] = cell
    path = tmp_path / "bill.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    got, _ = actual_by_team(tmp_path, path)
    assert _cents(got) == _cents(expected_by_team(SAMPLE))

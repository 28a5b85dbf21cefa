"""FOCUS files written here, read back: CSV, gzipped CSV and Parquet; FOCUS 1.0-1.3 columns;
a folder of mixed files; team attribution from the Tags JSON; and one-line errors that name the
file, the row and the column."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_cli.analytics.billing import purchase_kind
from finops_cli.errors import UsageError
from finops_cli.sample.bill import SampleBill, SampleCostExplorer, write_focus
from finops_cli.sources.billing import UNTAGGED, BillRequest, Dimension, parse_dimension
from finops_cli.sources.cost_explorer import CostExplorerSource
from finops_cli.sources.focus import FocusSource, instance_type_of, tag_value

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
NOW = datetime(2026, 10, 20, tzinfo=UTC)  # October's billing period is still open


@pytest.fixture(scope="module")
def items():
    return SampleBill().line_items(START, END, NOW)


def _request(*by: str, **kw):
    base = {
        "start": date(2026, 10, 1),
        "end": date(2026, 10, 4),
        "granularity": "daily",
        "metric": "UnblendedCost",
        "group_by": tuple(parse_dimension(b, "team") for b in (by or ("team",))),
        "services": (),
        "now": NOW,
    }
    return BillRequest(**(base | kw))


def _by(frame, key):
    return frame.groupby(key)["cost"].sum().to_dict()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
@pytest.mark.parametrize("file_format", ["csv", "csv.gz", "parquet"])
def test_every_format_and_version_gives_the_same_answer(tmp_path, items, version, file_format):
    path = tmp_path / f"focus.{file_format}"
    rows = write_focus(items, path, version=version, file_format=file_format)
    assert rows == len(items)
    frame = FocusSource(path).actual(_request()).frame
    expected: dict[str, float] = {}
    for it in items:
        team = it.tags.get("team", UNTAGGED)
        expected[team] = expected.get(team, 0.0) + it.billed_cost
    got = _by(frame, "team")
    assert got.keys() == expected.keys()
    for team, cost in expected.items():
        assert got[team] == pytest.approx(cost, abs=1e-6)
    assert frame["estimated"].all()  # October is open on NOW
    assert set(frame["period_start"]) == {"2026-10-01", "2026-10-02", "2026-10-03"}


def test_focus_and_cost_explorer_agree_on_the_sample_bill(tmp_path, items):
    path = tmp_path / "focus.csv"
    write_focus(items, path)
    fake = SampleCostExplorer(SampleBill(), NOW)
    for by in (("team",), ("instance-type", "purchase-option"), ("account",)):
        focus = FocusSource(path).actual(_request(*by)).frame
        ce = CostExplorerSource(fake, paid=False).actual(_request(*by)).frame
        keys = [parse_dimension(b, "team").column for b in by]
        for frame in (focus, ce):
            if "purchase_option" in frame:  # the two vocabularies meet in purchase_kind
                frame["purchase_option"] = frame["purchase_option"].map(purchase_kind)
        a = focus.groupby(keys)["cost"].sum()
        b = ce[ce["cost"] != 0].groupby(keys)["cost"].sum()
        a = a[a != 0]
        assert a.index.tolist() == b.index.tolist()
        assert a.to_numpy() == pytest.approx(b.to_numpy())


def test_a_folder_of_mixed_files_versions_and_the_default_compute_filter(tmp_path, items):
    folder = tmp_path / "export"
    (folder / "2026-10" / "part").mkdir(parents=True)
    half = len(items) // 2
    write_focus(items[:half], folder / "2026-10" / "a.csv.gz", version="1.0", file_format="csv.gz")
    write_focus(
        items[half:],
        folder / "2026-10" / "part" / "b.parquet",
        version="1.3",
        file_format="parquet",
    )
    (folder / "manifest.json").write_text("{}")  # AWS Data Exports leaves these around
    frame = FocusSource(folder).actual(_request("service", services=None)).frame
    compute = sum(
        i.billed_cost
        for i in items
        if i.service_category == "Compute" and i.charge_category == "Usage"
    )
    assert frame["cost"].sum() == pytest.approx(compute)
    assert "Amazon Simple Storage Service" not in set(frame["service"])


def test_filters_instance_family_and_tags(tmp_path, items):
    path = tmp_path / "focus.parquet"
    write_focus(items, path, file_format="parquet")
    source = FocusSource(path)
    gpu = source.actual(_request("instance-type", instance_families=("p5", "g6"))).frame
    assert set(gpu["instance_type"]) == {"p5.48xlarge", "g6.xlarge"}
    untagged = source.actual(_request("service", tags={"team": ("",)})).frame
    expected = sum(i.billed_cost for i in items if "team" not in i.tags)
    assert untagged["cost"].sum() == pytest.approx(expected)
    nlp = source.actual(_request("resource", tags={"team": ("nlp", "vision")})).frame
    assert {"i-0d4e5f6a7b8c9d0e1"} <= set(nlp["resource"])


def test_effective_cost_monthly_granularity_and_the_window(tmp_path):
    items = SampleBill().line_items(
        datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC), NOW
    )
    path = tmp_path / "focus.csv"
    write_focus(items, path)
    request = _request(
        "instance-type",
        start=date(2026, 9, 29),
        end=date(2026, 10, 2),
        granularity="monthly",
        metric="AmortizedCost",
    )
    frame = FocusSource(path).actual(request).frame
    assert sorted(set(zip(frame["period_start"], frame["period_end"], strict=True))) == [
        ("2026-09-29", "2026-10-01"),
        ("2026-10-01", "2026-10-02"),
    ]
    inside = [i for i in items if date(2026, 9, 29) <= i.start.date() < date(2026, 10, 2)]
    assert frame["cost"].sum() == pytest.approx(sum(i.effective_cost for i in inside))
    september = frame[frame["period_start"] == "2026-09-29"]
    assert not september["estimated"].any()  # September's period had closed by NOW


def test_map_typed_tags_in_parquet(tmp_path):
    table = pa.table(
        {
            "BilledCost": [1.0, 2.0, 4.0],
            "ChargePeriodStart": pa.array(
                [datetime(2026, 10, 1, h, tzinfo=UTC) for h in (1, 2, 3)], pa.timestamp("ms", "UTC")
            ),
            "BillingPeriodEnd": ["2026-11-01T00:00:00Z"] * 3,
            "BillingCurrency": ["USD"] * 3,
            "ServiceProviderName": ["AWS"] * 3,
            "Tags": pa.array(
                [[("team", "nlp")], [("user:team", "vision")], []],
                pa.map_(pa.string(), pa.string()),
            ),
        }
    )
    path = tmp_path / "tags.parquet"
    pq.write_table(table, path)
    assert _by(FocusSource(path).actual(_request()).frame, "team") == {
        "nlp": 1.0,
        "vision": 2.0,
        UNTAGGED: 4.0,
    }


def test_derivations():
    assert tag_value('{"team": "a", "x": 1}', "team") == "a"
    assert tag_value('{"user:team": "b"}', "team") == "b"
    assert tag_value('{"team": ""}', "team") == UNTAGGED
    assert tag_value("", "team") == UNTAGGED
    assert instance_type_of("USE1-SpotUsage:g5.12xlarge", "x_UsageType") == "g5.12xlarge"
    assert instance_type_of("BoxUsage:p6-b200.48xlarge", "x_UsageType") == "p6-b200.48xlarge"
    assert instance_type_of("DataTransfer-Out-Bytes", "x_UsageType") == "NoInstanceType"
    assert instance_type_of('{"InstanceType": "g6e.xlarge"}', "SkuPriceDetails") == "g6e.xlarge"


# ---- bad files ----------------------------------------------------------------------------
HEADER = [
    "BilledCost",
    "EffectiveCost",
    "ChargePeriodStart",
    "BillingPeriodEnd",
    "BillingCurrency",
    "ProviderName",
    "ServiceName",
    "Tags",
]
GOOD = ["1.5", "1.5", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "USD", "AWS", "EC2", "{}"]


def _write(tmp_path, rows, header=HEADER, name="bill.csv", gz=False):
    path = tmp_path / name
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _error(path, request=None) -> str:
    with pytest.raises(UsageError) as err:
        FocusSource(path).actual(request or _request())
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_missing_mandatory_columns(tmp_path):
    header = [h for h in HEADER if h not in ("ChargePeriodStart", "ProviderName")]
    path = _write(tmp_path, [[v for h, v in zip(HEADER, GOOD, strict=True) if h in header]], header)
    message = _error(path)
    assert "row 1" in message and "ChargePeriodStart" in message and "ProviderName" in message


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("BilledCost", "12,5", "not a number"),
        ("BilledCost", "N/A", "not a number ('N/A')"),
        ("BilledCost", "inf", "not a finite number"),
        ("ChargePeriodStart", "01/10/2026", "not an ISO 8601 date-time"),
        ("BillingPeriodEnd", "", "missing value"),
        ("Tags", "team=nlp", "not a JSON object"),
        ("BillingCurrency", "", "missing value"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_bad_cells_name_file_row_and_column(tmp_path, column, value, problem, gz):
    rows = [list(GOOD) for _ in range(30_000)]  # past the first batch
    rows[25_000][HEADER.index(column)] = value
    path = _write(tmp_path, rows, name="bill.csv.gz" if gz else "bill.csv", gz=gz)
    message = _error(path)
    assert f"row 25002, column {column}: {problem}" in message


def test_bad_cost_in_parquet(tmp_path):
    table = pa.table({h: [v, v] for h, v in zip(HEADER, GOOD, strict=True)})
    table = table.set_column(0, "BilledCost", pa.array(["1", "abc"]))
    path = tmp_path / "bill.parquet"
    pq.write_table(table, path)
    assert "row 2, column BilledCost: not a number ('abc')" in _error(path)


def test_ragged_rows_and_files_that_are_not_focus(tmp_path):
    rows = [list(GOOD), list(GOOD)[:-3], list(GOOD)]
    assert "row 3" in _error(_write(tmp_path, rows))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert "missing FOCUS column(s)" in _error(other)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "row 1" in _error(empty)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert "Parquet" in _error(broken)


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        FocusSource(tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="no FOCUS files"):
        FocusSource(tmp_path)


def test_a_bill_without_tags_column_is_all_untagged(tmp_path):
    header = HEADER[:-1]
    path = _write(tmp_path, [GOOD[:-1]], header)
    data = FocusSource(path).actual(_request())
    assert list(data.frame["team"]) == [UNTAGGED]
    assert any("no Tags column" in n for n in data.notes)


def test_cost_categories_are_cost_explorer_only(tmp_path, items):
    path = tmp_path / "focus.csv"
    write_focus(items, path)
    with pytest.raises(UsageError, match="cost categories"):
        FocusSource(path).actual(_request(group_by=(Dimension("category", "cc"),)))

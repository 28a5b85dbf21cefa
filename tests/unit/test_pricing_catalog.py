"""Pricing catalog: the packaged rows, lookups and region fallback, overrides, validation errors."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from datetime import date
from pathlib import Path

import pytest

from finops_cli.config_checks import ConfigError
from finops_cli.errors import EXIT_USAGE, UsageError
from finops_cli.pricing import (
    COLUMNS,
    PROVIDERS,
    REFERENCE_REGIONS,
    InstancePrice,
    PriceCatalog,
    PricingOverrides,
    attached_gpu_instance_type,
    load_catalog,
    normalize_capacity_type,
    packaged_catalog_dir,
    parse_catalog,
)

HEADER = ",".join(COLUMNS)
GOOD = "aws,p5.48xlarge,us-east-1,NVIDIA H100 80GB HBM3,8,80,192,2048,55.04,,2025-06-05,test,true"

DCGM_MODEL_NAMES = {
    "Tesla T4",
    "Tesla V100-SXM2-16GB",
    "Tesla V100-SXM2-32GB",
    "NVIDIA A10G",
    "NVIDIA L4",
    "NVIDIA L40S",
    "NVIDIA A100-SXM4-40GB",
    "NVIDIA A100-SXM4-80GB",
    "NVIDIA A100 80GB PCIe",
    "NVIDIA H100 80GB HBM3",
    "NVIDIA H200",
    "NVIDIA B200",
}


@pytest.fixture(scope="module")
def catalog() -> PriceCatalog:
    return load_catalog()


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the packaged catalogs -----------------------------------------------------------------------


def test_packaged_catalogs_are_found_and_hold_every_provider(catalog: PriceCatalog) -> None:
    names = {item.name for item in packaged_catalog_dir().iterdir()}
    assert {"aws.csv", "gcp.csv", "azure.csv", "README.md"} <= names
    assert {row.provider for row in catalog} == set(PROVIDERS)
    assert len(catalog) >= 35


def test_every_packaged_row_is_valid(catalog: PriceCatalog) -> None:
    keys = set()
    for row in catalog:
        assert row.key not in keys
        keys.add(row.key)
        assert row.gpu_count >= 1 and row.vcpu >= 1
        assert row.gpu_memory_gib > 0 and row.memory_gib > 0
        assert row.gpu_model in DCGM_MODEL_NAMES, row.gpu_model
        assert date(2024, 1, 1) <= row.as_of <= date.today()
        assert row.source.strip()
        for price in (row.on_demand_hourly, row.spot_hourly):
            assert price is None or (math.isfinite(price) and price > 0)
        if row.on_demand_hourly is not None and row.spot_hourly is not None:
            assert row.spot_hourly < row.on_demand_hourly, row.instance_type
        label = catalog.label_of(row)
        assert label == f"catalog:{row.provider}.csv"


def test_reference_regions_are_where_the_list_prices_are(catalog: PriceCatalog) -> None:
    for provider, region in REFERENCE_REGIONS.items():
        assert any(row.provider == provider and row.region == region for row in catalog)


def test_p5_carries_the_june_2025_price_cut(catalog: PriceCatalog) -> None:
    price = catalog.lookup("p5.48xlarge", "us-east-1")
    assert price is not None
    assert price.instance_hourly == pytest.approx(55.04)
    assert price.per_gpu_hourly == pytest.approx(6.88)
    assert price.gpu_count == 8
    assert price.source == "catalog:aws.csv as_of 2025-06-05"
    assert price.as_of == date(2025, 6, 5)
    assert price.verified
    assert price.citation == "AWS News Blog 2025-06-05 price reduction"
    assert not price.region_fallback
    assert price.capacity_type == "on-demand"


def test_no_pre_cut_aws_prices_remain(catalog: PriceCatalog) -> None:
    p4d = catalog.lookup("p4d.24xlarge")
    assert p4d is not None
    assert p4d.instance_hourly == pytest.approx(21.957642)
    assert p4d.per_gpu_hourly == pytest.approx(21.957642 / 8)
    old = {"p5.48xlarge": 98.32, "p4d.24xlarge": 32.7726, "p4de.24xlarge": 40.96575}
    old["p5en.48xlarge"] = 84.8
    for name, stale in old.items():
        row = catalog.find(name)
        assert row is not None and row.on_demand_hourly is not None
        assert row.on_demand_hourly < stale * 0.9, name


def test_unverified_rows_are_flagged(catalog: PriceCatalog) -> None:
    for name in ("a3-highgpu-8g", "a3-highgpu-1g", "Standard_ND96isr_H100_v5"):
        row = catalog.find(name)
        assert row is not None and not row.verified, name


def test_capacity_blocks_only_type_has_specs_but_no_price(catalog: PriceCatalog) -> None:
    row = catalog.find("p5e.48xlarge")
    assert row is not None and row.gpu_model == "NVIDIA H200" and row.gpu_count == 8
    assert catalog.lookup("p5e.48xlarge") is None


# --- lookups -------------------------------------------------------------------------------------


def test_unknown_instance_has_no_price(catalog: PriceCatalog) -> None:
    assert catalog.lookup("m5.large") is None
    assert catalog.find("m5.large") is None


def test_region_falls_back_to_the_reference_region(catalog: PriceCatalog) -> None:
    price = catalog.lookup("g5.12xlarge", "eu-west-1")
    assert price is not None
    assert price.region == "us-east-1"
    assert price.region_fallback
    assert price.instance_hourly == pytest.approx(5.672)
    assert price.per_gpu_hourly == pytest.approx(1.418)
    unasked = catalog.lookup("g5.12xlarge")
    assert unasked is not None and not unasked.region_fallback


def test_a_type_listed_only_outside_the_reference_region_falls_back_to_it(
    catalog: PriceCatalog,
) -> None:
    exact = catalog.lookup("a3-highgpu-8g", "us-east4")
    assert exact is not None and not exact.region_fallback
    assert exact.per_gpu_hourly == pytest.approx(87.83 / 8)
    elsewhere = catalog.lookup("a3-highgpu-8g", "europe-west4")
    assert elsewhere is not None and elsewhere.region_fallback and elsewhere.region == "us-east4"
    assert not elsewhere.verified


def test_names_and_regions_match_the_way_node_labels_spell_them(catalog: PriceCatalog) -> None:
    labelled = catalog.lookup("Standard_NC24ads_A100_v4", "eastus")
    bare = catalog.lookup("nc24ads_a100_v4", "East US")
    assert labelled is not None and bare is not None
    assert labelled == bare and not bare.region_fallback
    assert labelled.instance_hourly == pytest.approx(3.673)
    upper = catalog.lookup("P5.48XLARGE", "US-EAST-1")
    assert upper is not None and upper.instance_type == "p5.48xlarge"


def test_gcp_attached_gpu_key(catalog: PriceCatalog) -> None:
    key = attached_gpu_instance_type("n1-standard-4", "nvidia-tesla-t4")
    price = catalog.lookup(key, "us-central1")
    assert price is not None and price.gpu_count == 1 and not price.verified


def test_spot_is_the_catalog_snapshot_or_nothing(catalog: PriceCatalog) -> None:
    spot = catalog.lookup("g5.12xlarge", "us-east-1", "spot")
    assert spot is not None
    assert spot.capacity_type == "spot"
    assert spot.instance_hourly == pytest.approx(2.36)
    assert spot.per_gpu_hourly == pytest.approx(0.59)
    # No spot price known: None, never a made-up fraction of on-demand.
    assert catalog.lookup("p5.48xlarge", "us-east-1", "spot") is None
    assert catalog.lookup("Standard_NC24ads_A100_v4", capacity_type="spot") is None


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("spot", "spot"),
        ("SPOT", "spot"),
        ("Spot", "spot"),
        ("preemptible", "spot"),
        ("on-demand", "on-demand"),
        ("ON_DEMAND", "on-demand"),
        ("Regular", "on-demand"),
        ("reserved", None),
        ("", None),
        (None, None),
    ],
)
def test_capacity_type_spellings(label: str | None, expected: str | None) -> None:
    assert normalize_capacity_type(label) == expected


def test_lookup_accepts_label_spellings_and_rejects_nonsense(catalog: PriceCatalog) -> None:
    assert catalog.lookup("g4dn.xlarge", capacity_type="SPOT") == catalog.lookup(
        "g4dn.xlarge", capacity_type="spot"
    )
    with pytest.raises(ValueError, match="unknown capacity type"):
        catalog.lookup("g4dn.xlarge", capacity_type="reserved")


# --- overrides -----------------------------------------------------------------------------------


def extra_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "mine.csv",
        HEADER,
        "aws,p5.48xlarge,us-east-1,NVIDIA H100 80GB HBM3,8,80,192,2048,40,20,2026-01-15,"
        "our price sheet,true",
        "aws,p5.48xlarge,eu-north-1,NVIDIA H100 80GB HBM3,8,80,192,2048,44,,2026-01-15,"
        "our price sheet,false",
        "aws,g7.xlarge,us-east-1,NVIDIA B200,1,180,8,64,9.5,,2026-01-15,our price sheet,true",
    )


def test_gpu_hourly_wins_over_everything(tmp_path: Path) -> None:
    overrides = PricingOverrides(
        gpu_hourly=2.5,
        instance_overrides={"p5.48xlarge": {"on_demand_hourly": 30.0}},
        extra_catalog=extra_csv(tmp_path),
        discount_percent=10,
    )
    catalog = load_catalog(overrides, overrides_origin="finops.toml")
    for capacity in ("on-demand", "spot"):
        price = catalog.lookup("p5.48xlarge", "us-east-1", capacity)
        assert price is not None
        assert price.per_gpu_hourly == 2.5
        assert price.instance_hourly == 20.0
        assert price.source == "override:finops.toml pricing.gpu_hourly"
        assert price.as_of is None and price.discount_percent == 0
    # An instance the catalog does not know is priced only if the caller knows its GPU count.
    assert catalog.lookup("x9.metal") is None
    unknown = catalog.lookup("x9.metal", gpu_count=4)
    assert unknown is not None and unknown.instance_hourly == 10.0


def test_instance_override_beats_the_catalogs_and_falls_through_per_capacity(
    tmp_path: Path,
) -> None:
    overrides = PricingOverrides.parse(
        {
            "discount_percent": 10,
            "extra_catalog": extra_csv(tmp_path),
            "instance_overrides": {"P5.48xlarge": {"on_demand_hourly": 30.0}},
        }
    )
    catalog = load_catalog(overrides)
    on_demand = catalog.lookup("p5.48xlarge", "us-east-1")
    assert on_demand is not None
    assert on_demand.instance_hourly == 30.0  # private price: no discount on top
    assert on_demand.per_gpu_hourly == pytest.approx(3.75)
    assert on_demand.source == (
        "override:settings pricing.instance_overrides.P5.48xlarge.on_demand_hourly"
    )
    # No spot override: the extra catalog's spot price, undiscounted.
    spot = catalog.lookup("p5.48xlarge", "us-east-1", "spot")
    assert spot is not None
    assert spot.instance_hourly == 20.0
    assert spot.source == "extra_catalog:mine.csv as_of 2026-01-15"
    assert spot.discount_percent == 0


def test_extra_catalog_replaces_and_adds_rows_and_is_discounted(tmp_path: Path) -> None:
    catalog = load_catalog(PricingOverrides(extra_catalog=extra_csv(tmp_path), discount_percent=10))
    replaced = catalog.lookup("p5.48xlarge", "us-east-1")
    assert replaced is not None
    assert replaced.instance_hourly == pytest.approx(36.0)
    assert replaced.source == "extra_catalog:mine.csv as_of 2026-01-15 less 10% discount"
    assert replaced.citation == "our price sheet"
    regional = catalog.lookup("p5.48xlarge", "eu-north-1")
    assert regional is not None and not regional.region_fallback
    assert regional.instance_hourly == pytest.approx(39.6) and not regional.verified
    added = catalog.lookup("g7.xlarge")
    assert added is not None and added.per_gpu_hourly == pytest.approx(8.55)
    # Packaged rows the extra catalog does not name are still there, discounted.
    g5 = catalog.lookup("g5.12xlarge")
    assert g5 is not None and g5.instance_hourly == pytest.approx(5.672 * 0.9)
    assert g5.source == "catalog:aws.csv as_of 2025-06-05 less 10% discount"
    assert len(catalog) == len(load_catalog()) + 2
    row = catalog.find("p5.48xlarge")
    assert row is not None and catalog.label_of(row) == "extra_catalog:mine.csv"


def test_discount_applies_to_on_demand_catalog_prices_only() -> None:
    catalog = load_catalog(
        PricingOverrides(
            discount_percent=12.5,
            instance_overrides={"g6.xlarge": {"spot_hourly": 0.3}},
        )
    )
    on_demand = catalog.lookup("g5.12xlarge")
    spot = catalog.lookup("g5.12xlarge", capacity_type="spot")
    assert on_demand is not None and spot is not None
    assert on_demand.instance_hourly == pytest.approx(5.672 * 0.875)
    assert on_demand.discount_percent == 12.5
    assert spot.instance_hourly == pytest.approx(2.36)
    g6_spot = catalog.lookup("g6.xlarge", capacity_type="spot")
    assert g6_spot is not None and g6_spot.instance_hourly == 0.3
    full = load_catalog(PricingOverrides(discount_percent=100)).lookup("g5.xlarge")
    assert full is not None and full.instance_hourly == 0


def test_no_overrides_is_the_packaged_catalog() -> None:
    assert PricingOverrides().is_empty
    assert load_catalog(PricingOverrides()).rows == load_catalog().rows


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"discount_percent": 101}, "pricing.discount_percent"),
        ({"discount_percent": -1}, "pricing.discount_percent"),
        ({"discount_percent": True}, "pricing.discount_percent"),
        ({"gpu_hourly": -0.5}, "pricing.gpu_hourly"),
        ({"gpu_hourly": "nan"}, "pricing.gpu_hourly"),
        ({"instance_overrides": {"p5.48xlarge": {}}}, "set on_demand_hourly, spot_hourly"),
        ({"instance_overrides": {"p5.48xlarge": {"on_demand": 1}}}, "on_demand"),
        ({"instance_overrides": {"g5.xlarge": {"spot_hourly": -1}}}, "spot_hourly"),
        (
            {
                "instance_overrides": {
                    "g5.xlarge": {"spot_hourly": 1},
                    "G5.XLARGE": {"spot_hourly": 2},
                }
            },
            "name the same instance type",
        ),
        ({"discount": 10}, "pricing.discount"),
    ],
)
def test_bad_overrides_are_usage_errors(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        PricingOverrides.parse(data, origin="finops.toml")
    message = str(caught.value)
    assert message.startswith("finops.toml: invalid pricing.")
    assert fragment in message and "\n" not in message
    with pytest.raises(ConfigError):
        PricingOverrides.from_mapping(data)


def test_overrides_are_frozen() -> None:
    overrides = PricingOverrides(discount_percent=5)
    with pytest.raises(FrozenInstanceError):
        overrides.discount_percent = 6  # type: ignore[misc]


# --- malformed catalogs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ([HEADER.replace(",gpu_count", ""), GOOD], "row 1 (header): missing column(s) gpu_count"),
        ([HEADER + ",notes", GOOD + ",x"], "row 1 (header): unknown column(s) 'notes'"),
        ([HEADER + ",vcpu", GOOD + ",1"], "row 1 (header): duplicate column(s) vcpu"),
        ([""], "row 1 (header): empty"),
        ([HEADER, GOOD.replace(",55.04,", ",fifty,")], "row 2: on_demand_hourly must be a number"),
        ([HEADER, GOOD.replace(",55.04,", ",-55.04,")], "row 2: on_demand_hourly must not be"),
        ([HEADER, GOOD.replace(",55.04,,", ",55.04,inf,")], "row 2: spot_hourly must be a finite"),
        ([HEADER, GOOD, GOOD.replace(",8,80,", ",0,80,")], "row 3: gpu_count must be at least 1"),
        ([HEADER, GOOD.replace(",8,80,", ",8.5,80,")], "row 2: gpu_count must be a whole number"),
        ([HEADER, GOOD.replace(",192,", ",,")], "row 2: vcpu must be a whole number"),
        ([HEADER, GOOD.replace(",2048,", ",-1,")], "row 2: memory_gib must be greater than 0"),
        ([HEADER, GOOD.replace("2025-06-05", "2025-13-05")], "row 2: as_of must be a date"),
        ([HEADER, GOOD.replace("2025-06-05", "5 June 2025")], "row 2: as_of must be a date"),
        ([HEADER, GOOD.replace(",true", ",maybe")], "row 2: verified must be true or false"),
        ([HEADER, GOOD.replace(",test,", ",,")], "row 2: source is empty"),
        ([HEADER, GOOD.replace("aws,", "oci,", 1)], "row 2: provider must be one of"),
        ([HEADER, GOOD + ",extra"], "row 2: has 14 cells, the header has 13"),
        (
            [HEADER, GOOD, "", GOOD.replace("p5.48xlarge", "P5.48XLARGE")],
            "row 4: duplicate instance_type+region P5.48XLARGE us-east-1 (first at row 2)",
        ),
    ],
)
def test_malformed_catalogs_name_the_file_and_row(
    tmp_path: Path, lines: list[str], fragment: str
) -> None:
    path = write(tmp_path / "bad.csv", *lines)
    with pytest.raises(UsageError) as caught:
        load_catalog(PricingOverrides(extra_catalog=path))
    message = str(caught.value)
    assert message.startswith(f"pricing.extra_catalog: {path}: ")
    assert fragment in message, message
    assert "\n" not in message
    assert caught.value.exit_code == EXIT_USAGE


def test_missing_or_unreadable_extra_catalog(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_catalog(PricingOverrides(extra_catalog=tmp_path / "absent.csv"))
    with pytest.raises(UsageError, match="is a directory"):
        load_catalog(PricingOverrides(extra_catalog=tmp_path))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_catalog(PricingOverrides(extra_catalog=binary))


def test_a_spreadsheet_export_with_a_bom_and_crlf_reads(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufeff" + HEADER + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    catalog = load_catalog(PricingOverrides(extra_catalog=path))
    row = catalog.find("p5.48xlarge")
    assert row is not None and row.source == "test"


def test_a_catalog_directory_checks_providers_and_duplicates(tmp_path: Path) -> None:
    write(tmp_path / "gcp.csv", HEADER, GOOD)
    with pytest.raises(UsageError) as caught:
        load_catalog(catalog_dir=tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'gcp.csv'}: row 2: provider 'aws' does not belong in the gcp catalog"
    )
    (tmp_path / "gcp.csv").unlink()
    write(tmp_path / "aws.csv", HEADER, GOOD)
    write(tmp_path / "more.csv", HEADER, GOOD)
    with pytest.raises(UsageError, match=r"p5\.48xlarge us-east-1 is also listed in aws\.csv"):
        load_catalog(catalog_dir=tmp_path)
    (tmp_path / "more.csv").unlink()
    assert [row.instance_type for row in load_catalog(catalog_dir=tmp_path)] == ["p5.48xlarge"]


def test_rows_round_trip_through_csv_cells(catalog: PriceCatalog) -> None:
    text = HEADER + "\n" + "\n".join(",".join(r.to_csv_row().values()) for r in catalog) + "\n"
    # The packaged sources contain no commas or quotes, so plain joining is valid CSV here.
    assert all("," not in row.source for row in catalog)
    parsed = parse_catalog(text, "round-trip")
    assert parsed == list(catalog.rows)
    assert isinstance(parsed[0], InstancePrice)

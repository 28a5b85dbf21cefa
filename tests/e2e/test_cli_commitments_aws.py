"""The installed ``finops billing commitments`` and ``billing plan`` against a local endpoint that
speaks Cost Explorer's JSON protocol and EC2's query protocol (``tests/support/fake_ce.py``):
real boto3, signing, retries and pagination; every request checked against botocore's model of
the operation, every answer against its output shape. Figures to the cent against the planted
scenario (``tests/support/ce_commitments.py``)."""

from __future__ import annotations

import json

import pytest

from tests.support import ce_commitments as sc
from tests.support import focus_commitments as fx
from tests.support.cli import run_finops
from tests.support.fake_ce import FAKE_KEY_ID, FAKE_SECRET, aws_env, fake_cost_explorer

WINDOW = ["--start", sc.START.isoformat(), "--end", sc.END.isoformat()]


def _env(url: str, tmp_path) -> dict[str, str]:
    return aws_env(url, str(tmp_path)) | {"AWS_DEFAULT_REGION": "us-east-1"}


def _no_secrets(result) -> None:
    for secret in (FAKE_KEY_ID, FAKE_SECRET):
        assert secret not in result.stdout + result.stderr


def _operations(fake) -> list[str]:
    return [target.rsplit(".", 1)[-1] for target, _ in fake.requests]


@pytest.fixture(scope="module")
def ce_document(tmp_path_factory):
    """One run, throttled once on Cost Explorer and once on EC2, pages of 2 (EC2: 1)."""
    scenario = sc.CommitmentScenario(page_size=2)
    tmp = tmp_path_factory.mktemp("ce")
    with fake_cost_explorer(commitments=scenario, throttle=1, ec2_throttle=1) as fake:
        result = run_finops(
            "billing", "commitments", *WINDOW, "-o", "json", "--debug", env=_env(fake.url, tmp)
        )
        assert result.returncode == 0, result.stderr
        assert fake.invalid == []
        return json.loads(result.stdout), result, _operations(fake), fake.requests, scenario


def test_figures_to_the_cent(ce_document):
    document, _, _, _, _ = ce_document
    assert document["source"] == "cost-explorer"
    truth = sc.CommitmentScenario.truth()
    got = {c["id"]: c for c in document["commitments"]}
    assert set(got) == set(truth)
    for cid, figures in truth.items():
        for key, value in figures.items():
            assert got[cid][key] == pytest.approx(value, abs=0.005), (cid, key)
    assert got[sc.SP_GPU]["unused"] == pytest.approx(1691.5968, abs=0.005)
    assert got[sc.RI_G5]["unused_hours"] == 30.0
    totals = document["totals"]
    committed = sum(f["committed"] for f in truth.values())
    unused = sum(f["unused"] for f in truth.values())
    assert totals["committed"] == pytest.approx(committed, abs=0.005)
    assert totals["unused"] == pytest.approx(unused, abs=0.005)
    assert 100 * totals["utilisation"] == pytest.approx(100 * (1 - unused / committed), abs=0.1)
    coverage = {c["instance_type"]: c for c in document["coverage"]}
    assert set(coverage) == {"g5.12xlarge", "p5.48xlarge"}  # m6i is not a GPU type
    assert coverage["g5.12xlarge"]["committed_hours"] == pytest.approx(114.0)
    assert coverage["g5.12xlarge"]["on_demand_cost"] == pytest.approx(170.16, abs=0.005)
    assert coverage["p5.48xlarge"]["on_demand_cost"] == pytest.approx(2641.92, abs=0.005)
    families = {f["family"] for f in document["families"]}
    assert families == {"g5", "g6", "p5"}
    # Savings Plans coverage is money per family (GetSavingsPlansCoverage): the scenario's p5
    # plan covered its used commitment's on-demand equivalent beside 48 on-demand p5 hours
    (note,) = [n for n in document["notes"] if "Savings Plans covered" in n]
    covered = 48 * (39.6288 + 0.1296) / 0.72
    total = covered + 48 * 55.04
    assert f"p5 {covered / total:.1%} ({covered:,.2f} of {total:,.2f})" in note
    assert "m6i" not in note  # not a GPU family


def test_expiring_comes_from_cost_explorer_and_ec2(ce_document):
    document, _, _, _, scenario = ce_document
    ends = scenario.ends()
    expiring = {e["id"]: e for e in document["expiring"]["commitments"]}
    assert set(expiring) == {sc.SP_GPU, sc.RI_G5, sc.ODCR, sc.CB}  # not the ones a year out
    assert expiring[sc.CB]["kind"] == "capacity-block" and expiring[sc.CB]["count"] == 4
    assert expiring[sc.ODCR]["kind"] == "capacity-reservation"
    assert expiring[sc.ODCR]["zone"] == "us-east-1a"
    assert expiring[sc.CB]["end"] == ends[sc.CB].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_pages_and_throttling_are_followed_and_paid_calls_counted(ce_document):
    document, result, operations, requests, _ = ce_document
    # 3 plans in pages of 2, 3 days of reservations in pages of 2: two pages each, plus one
    # throttled first request retried by botocore; EC2: 2 reservations in pages of 1, one
    # throttled (EC2 calls are free).
    assert operations.count("GetSavingsPlansUtilizationDetails") == 3
    assert operations.count("GetReservationUtilization") == 2
    assert operations.count("GetReservationCoverage") == 2
    assert operations.count("DescribeCapacityReservations") == 3
    tokens = [body.get("NextToken") for target, body in requests if target.endswith("Details")]
    assert tokens == [None, None, "page-2"]
    pages = [b.get("NextPageToken") for t, b in requests if t.endswith("ReservationCoverage")]
    assert pages == [None, "page-2"]
    assert operations.count("GetSavingsPlansCoverage") == 2
    assert document["requests"] == {"paid": 8, "cached": 0}
    assert "8 paid request(s) ($0.08)" in result.stderr
    _no_secrets(result)


def test_plan_asks_cost_explorer_and_backtests_its_recommendation(tmp_path):
    with fake_cost_explorer(commitments=sc.CommitmentScenario(), throttle=1) as fake:
        result = run_finops(
            *["billing", "plan", "--window", "3d", "--ask-cost-explorer", "-o", "json"],
            env=_env(fake.url, tmp_path),
        )
        assert result.returncode == 0, result.stderr
        assert fake.invalid == []
        operations = _operations(fake)
    assert operations == ["GetSavingsPlansPurchaseRecommendation"] * 2  # one throttled
    request = fake.requests[-1][1]
    assert request["SavingsPlansType"] == "COMPUTE_SP" and request["TermInYears"] == "ONE_YEAR"
    document = json.loads(result.stdout)
    tests = {b["label"]: b for b in document["baseline"]["backtests"]}
    assert tests["cost-explorer"]["hourly_commitment"] == pytest.approx(sc.RECOMMENDED)
    assert document["baseline"]["beats_no_commitment"] is True
    _no_secrets(result)


def test_plan_prices_a_job_from_ec2_capacity_block_offerings(tmp_path):
    with fake_cost_explorer(commitments=sc.CommitmentScenario()) as fake:
        result = run_finops(
            *["billing", "plan", "--window", "3d", "--gpus", "16", "--type", "p5.48xlarge",
              "--days", "2", "--start", "2027-01-04", "--offerings", "-o", "json"],
            env=_env(fake.url, tmp_path),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert fake.invalid == []
        request = fake.requests[-1][1]
    assert request["Action"] == "DescribeCapacityBlockOfferings"
    assert request["InstanceCount"] == "2" and request["CapacityDurationHours"] == "48"
    document = json.loads(result.stdout)
    options = {o["option"]: o for o in document["job"]["options"]}
    block = options["capacity-block"]
    assert block["cost"] == pytest.approx(31.464 * 48 * 2, abs=0.005)  # the cheaper offering
    assert "cbo-0abc000000000000" in block["source"]
    _no_secrets(result)


def test_focus_bill_with_ec2_end_dates(tmp_path):
    bill = fx.write_csv(fx.aws_rows(), fx.AWS_COLUMNS, tmp_path / "aws.csv", "NULL")
    with fake_cost_explorer(commitments=sc.CommitmentScenario()) as fake:
        result = run_finops(
            *["billing", "commitments", "--focus", str(bill), "--ec2", "--start", "2026-10-01",
              "--end", "2026-10-04", "-o", "json"],
            env=_env(fake.url, tmp_path),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert fake.invalid == []
        assert _operations(fake) == ["DescribeCapacityReservations"] * 2
    document = json.loads(result.stdout)
    ids = {o["reservation_id"] for o in document["overlaps"]}
    assert ids == set(fx.PLANTED_OVERLAPS)
    expiring = {e["id"] for e in document["expiring"]["commitments"]}
    assert {sc.ODCR, sc.CB} <= expiring


def test_access_denied_on_ec2_is_one_line(tmp_path):
    with fake_cost_explorer(commitments=sc.CommitmentScenario(), deny="not authorized") as fake:
        result = run_finops("billing", "commitments", *WINDOW, env=_env(fake.url, tmp_path))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("finops: error: ") and "Traceback" not in result.stderr
    _no_secrets(result)

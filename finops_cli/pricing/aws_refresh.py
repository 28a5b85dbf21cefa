"""Refresh AWS catalog rows live: on-demand from the Price List API, spot from spot price history.

- On-demand: ``pricing.get_products`` (the Price List service answers only in us-east-1 and
  ap-south-1) with TERM_MATCH filters for one instance type in one region, Linux, no
  pre-installed software, no license, shared tenancy, ``capacitystatus=Used`` and
  ``marketoption=OnDemand``. Each ``PriceList`` entry is a JSON document; the price is at
  ``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD``. Needs ``pricing:GetProducts``.
- Spot: the regional ``ec2.describe_spot_price_history`` for ``Linux/UNIX``; the latest price in
  each availability zone, and the median over zones. Needs ``ec2:DescribeSpotPriceHistory``.
- Savings Plans: from a Price List *bulk* Savings Plans offer file the user downloaded
  (``https://pricing.us-east-1.amazonaws.com/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/
  current/<region>/index.json``; nothing is downloaded here). ``products`` name each plan
  (``productFamily`` ``ComputeSavingsPlans`` / ``EC2InstanceSavingsPlans``, ``attributes.
  purchaseOption`` and ``purchaseTerm``); ``terms.savingsPlan[].rates[]`` give the
  ``discountedRate.price`` of each ``discountedUsageType`` (``USE1-BoxUsage:p5.48xlarge``:
  shared tenancy; ``discountedOperation`` ``RunInstances``: Linux). ``savings_plan_rates`` turns
  them into ``pricing/commitments`` rows: the rate per hour and its discount off the catalog's
  on-demand price, dated by the file's ``publicationDate``.

boto3 and botocore are imported inside the functions that need them, never at module import, so
that importing this module (or the CLI) does not pay for them. Every AWS failure becomes one
``SourceError`` line saying what to do.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from finops_cli.errors import SourceError, UsageError
from finops_cli.files import SHARED, write_atomic
from finops_cli.pricing.commitment_rates import COLUMNS as RATE_COLUMNS
from finops_cli.pricing.commitment_rates import CommitmentRate
from finops_cli.pricing.rows import COLUMNS, InstancePrice, normalize_region

PRICING_REGION = "us-east-1"
"""The Price List API's endpoint region (it also answers in ap-south-1, nowhere else)."""

ON_DEMAND_SOURCE = "AWS Price List API"
SPOT_SOURCE = "EC2 spot price history"
SPOT_PRODUCT = "Linux/UNIX"

_GET_PRODUCTS = "pricing:GetProducts"
_SPOT_HISTORY = "ec2:DescribeSpotPriceHistory"
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthFailure",
    }
)
_EXPIRED = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}
)
_CREDENTIALS_HINT = (
    "set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run `aws sso login`"
)


def on_demand_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    """The ``get_products`` filters for one instance type's Linux on-demand price in ``region``."""
    terms = (
        ("instanceType", instance_type),
        ("regionCode", region),
        ("operatingSystem", "Linux"),
        ("preInstalledSw", "NA"),
        ("licenseModel", "No License required"),
        ("tenancy", "Shared"),
        ("capacitystatus", "Used"),
        ("marketoption", "OnDemand"),
    )
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in terms]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _botocore_exceptions() -> Any:
    # Imported by name at call time: botocore is heavy, and ships no type information.
    return importlib.import_module("botocore.exceptions")


def _aws_error(exc: Exception, permission: str, what: str) -> SourceError | None:
    """One actionable line for a botocore failure, or None if ``exc`` is not one."""
    exceptions = _botocore_exceptions()
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return SourceError(f"{what}: no AWS credentials found: {_CREDENTIALS_HINT}")
    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code", "")) or "error"
        message = _one_line(error.get("Message", "")) or "no message"
        if code in _DENIED:
            return SourceError(
                f"{what}: AWS denied access ({code}): the credentials need the {permission} "
                f"permission (IAM policy) ({message})"
            )
        if code in _EXPIRED:
            return SourceError(
                f"{what}: AWS rejected the credentials ({code}): refresh them: {_CREDENTIALS_HINT}"
            )
        return SourceError(f"{what}: AWS answered {code}: {message}")
    if isinstance(exc, exceptions.ProfileNotFound):
        return SourceError(f"{what}: {_one_line(str(exc))}: check AWS_PROFILE and ~/.aws/config")
    unreachable = (
        exceptions.EndpointConnectionError,
        exceptions.ConnectTimeoutError,
        exceptions.ReadTimeoutError,
    )
    if isinstance(exc, unreachable):
        return SourceError(f"{what}: cannot reach AWS: {_one_line(str(exc))}")
    if isinstance(exc, exceptions.BotoCoreError):
        return SourceError(f"{what}: {_one_line(str(exc))}")
    return None


def _call(method: Any, permission: str, what: str, **params: Any) -> Any:
    try:
        return method(**params)
    except Exception as exc:
        error = _aws_error(exc, permission, what)
        if error is None:
            raise
        raise error from None


def _usd_prices(document: Mapping[str, Any]) -> list[float]:
    """Every hourly USD price under ``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD``."""
    prices: list[float] = []
    offers = document.get("terms", {}).get("OnDemand", {})
    for offer in offers.values():
        for dimension in offer.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            unit = str(dimension.get("unit", "Hrs"))
            if usd is None or unit.lower() not in ("hrs", "hr", "hour", "hours"):
                continue
            prices.append(float(usd))
    return prices


def _price_of(entries: Sequence[tuple[Mapping[str, Any], list[float]]], what: str) -> float | None:
    """One price from the products found for one instance type.

    Zero prices are skipped (they are placeholders of terms that do not apply). Should several
    products still differ, the plain ``RunInstances`` operation is the Linux on-demand one.
    """
    priced = [(product, [p for p in prices if p > 0]) for product, prices in entries]
    priced = [(product, prices) for product, prices in priced if prices]
    distinct = {price for _, prices in priced for price in prices}
    if not distinct:
        return None
    if len(distinct) == 1:
        return distinct.pop()
    plain = {
        price
        for product, prices in priced
        if product.get("attributes", {}).get("operation") == "RunInstances"
        for price in prices
    }
    if len(plain) == 1:
        return plain.pop()
    shown = ", ".join(f"{price:g}" for price in sorted(distinct))
    raise SourceError(f"{what}: the Price List API returned several prices ({shown})")


def fetch_on_demand(
    pricing_client: Any, instance_types: Iterable[str], region: str
) -> dict[str, float]:
    """Linux on-demand $/hour in ``region`` for each instance type the Price List API prices.

    ``pricing_client`` is ``boto3.client("pricing", region_name="us-east-1")``. Instance types
    with no on-demand price (e.g. Capacity-Blocks-only types) are absent from the result.
    """
    found: dict[str, float] = {}
    for instance_type in dict.fromkeys(instance_types):
        what = f"AWS Price List ({instance_type} in {region})"
        entries: list[tuple[Mapping[str, Any], list[float]]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "ServiceCode": "AmazonEC2",
                "Filters": on_demand_filters(instance_type, region),
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
            }
            if token:
                params["NextToken"] = token
            page = _call(pricing_client.get_products, _GET_PRODUCTS, what, **params)
            for item in page.get("PriceList", []):
                try:
                    document = json.loads(item) if isinstance(item, str | bytes) else item
                    prices = _usd_prices(document)
                except (ValueError, TypeError, AttributeError) as exc:
                    raise SourceError(
                        f"{what}: unreadable PriceList entry: {_one_line(str(exc))}"
                    ) from None
                product = document.get("product", {})
                if product.get("attributes", {}).get("instanceType", instance_type) != (
                    instance_type
                ):
                    continue
                entries.append((product, prices))
            token = page.get("NextToken")
            if not token:
                break
        price = _price_of(entries, what)
        if price is not None:
            found[instance_type] = price
    return found


def fetch_spot(
    ec2_client: Any, instance_types: Iterable[str], start: datetime, end: datetime
) -> dict[str, float]:
    """Typical Linux spot $/hour per instance type: the median over availability zones of each
    zone's latest price between ``start`` and ``end``.

    ``ec2_client`` is a regional ``boto3.client("ec2", region_name=...)``. The API also returns
    the last change before ``start``, so a short window still sees every zone's current price;
    it looks back at most 90 days. Types with no spot history are absent from the result.
    """
    wanted = list(dict.fromkeys(instance_types))
    if not wanted:
        return {}
    what = "EC2 spot price history"
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "InstanceTypes": wanted,
            "ProductDescriptions": [SPOT_PRODUCT],
            "StartTime": start,
            "EndTime": end,
        }
        if token:
            params["NextToken"] = token
        page = _call(ec2_client.describe_spot_price_history, _SPOT_HISTORY, what, **params)
        for entry in page.get("SpotPriceHistory", []):
            instance_type = entry.get("InstanceType")
            zone = entry.get("AvailabilityZone")
            if instance_type not in wanted or not zone:
                continue
            if entry.get("ProductDescription", SPOT_PRODUCT) != SPOT_PRODUCT:
                continue
            try:
                price = float(entry["SpotPrice"])
                stamp: datetime = entry["Timestamp"]
            except (KeyError, TypeError, ValueError):
                raise SourceError(
                    f"{what}: unreadable entry for {instance_type} in {zone}"
                ) from None
            key = (instance_type, zone)
            if key not in latest or stamp > latest[key][0]:
                latest[key] = (stamp, price)
        token = page.get("NextToken")
        if not token:
            break
    by_type: dict[str, list[float]] = {}
    for (instance_type, _zone), (_stamp, price) in latest.items():
        by_type.setdefault(instance_type, []).append(price)
    return {name: statistics.median(prices) for name, prices in by_type.items()}


def refresh_rows(
    rows: Iterable[InstancePrice],
    on_demand: Mapping[str, float],
    spot: Mapping[str, float],
    as_of: date,
) -> list[InstancePrice]:
    """``rows`` with the fetched prices in place, in the same order.

    A row whose instance type is in neither mapping is unchanged. Otherwise it gets ``as_of``,
    ``verified=true`` when its on-demand price was fetched, the fetched on-demand price (or keeps
    its own, cited, when none was fetched) and the fetched spot price, or no spot price when
    none was fetched: one ``as_of`` per row must not date an old spot snapshot as new. Pass only
    the rows of the region the prices were fetched for.
    """
    refreshed: list[InstancePrice] = []
    for row in rows:
        name = row.instance_type
        if name not in on_demand and name not in spot:
            refreshed.append(row)
            continue
        parts: list[str] = []
        if name in on_demand:
            parts.append(ON_DEMAND_SOURCE)
        elif row.on_demand_hourly is not None:
            parts.append(f"on-demand: {row.source} as_of {row.as_of.isoformat()}")
        if name in spot:
            parts.append(SPOT_SOURCE)
        refreshed.append(
            replace(
                row,
                on_demand_hourly=on_demand.get(name, row.on_demand_hourly),
                spot_hourly=spot.get(name),
                as_of=as_of,
                source="; ".join(parts),
                verified=True if name in on_demand else row.verified,
            )
        )
    return refreshed


def write_catalog(rows: Iterable[InstancePrice], path: Path) -> None:
    """Write ``rows`` as a catalog CSV at ``path`` atomically (a temporary file, then a rename),
    so that a reader never sees half a catalog and a failed write leaves the old one."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.to_csv_row())
    # A catalog is read by other tools: keep the mode of the file it replaces, else 0644.
    mode = path.stat().st_mode & 0o777 if path.exists() else SHARED
    write_atomic(path, out.getvalue(), mode=mode)


@dataclass(frozen=True)
class RefreshResult:
    """What ``refresh_aws`` did: all rows (refreshed where prices were found) and the gaps."""

    rows: list[InstancePrice]
    on_demand: dict[str, float]
    spot: dict[str, float]
    missing_on_demand: list[str]
    region: str


def refresh_aws(
    rows: Sequence[InstancePrice],
    region: str,
    *,
    with_spot: bool = True,
    now: datetime | None = None,
    spot_lookback: timedelta = timedelta(days=1),
    profile: str | None = None,
) -> RefreshResult:
    """Fetch live prices for the AWS rows of ``region`` in ``rows`` and return every row, those
    refreshed. Creates the boto3 clients (default credential chain, or ``profile``).

    Without ``with_spot`` no spot history is read, and refreshed rows carry no spot price.
    """
    now = now if now is not None else datetime.now(UTC)
    wanted = normalize_region(region)
    targets = [row for row in rows if row.provider == "aws" and row.key[1] == wanted]
    types = [row.instance_type for row in targets]
    try:
        boto3 = importlib.import_module("boto3")
        session = boto3.session.Session(profile_name=profile)
        pricing = session.client("pricing", region_name=PRICING_REGION)
        ec2 = session.client("ec2", region_name=region) if with_spot else None
    except Exception as exc:
        error = _aws_error(exc, _GET_PRODUCTS, "AWS")
        if error is None:
            raise
        raise error from None
    on_demand = fetch_on_demand(pricing, types, region)
    spot = fetch_spot(ec2, types, now - spot_lookback, now) if ec2 is not None else {}
    updated = {row.key: row for row in refresh_rows(targets, on_demand, spot, now.date())}
    return RefreshResult(
        rows=[updated.get(row.key, row) for row in rows],
        on_demand=on_demand,
        spot=spot,
        missing_on_demand=[name for name in types if name not in on_demand],
        region=region,
    )


# ---- Savings Plans: the bulk offer file ---------------------------------------------------------
SAVINGS_PLAN_SOURCE = "AWS Price List Savings Plans offer file"
SAVINGS_PLAN_FAMILIES = {
    "ComputeSavingsPlans": "Compute Savings Plan",
    "EC2InstanceSavingsPlans": "EC2 Instance Savings Plan",
}
_PAYMENTS = {"no upfront": "no-upfront", "partial upfront": "partial-upfront",
             "all upfront": "all-upfront"}  # fmt: skip
_LINUX = "RunInstances"


def _box_instance_type(usage_type: str) -> str | None:
    """``USE1-BoxUsage:p5.48xlarge`` -> ``p5.48xlarge``; dedicated or host usage -> None."""
    head, sep, itype = usage_type.rpartition(":")
    if not sep or head.rsplit("-", 1)[-1] != "BoxUsage" or "." not in itype:
        return None
    return itype.lower()


def _term(contract: Mapping[str, Any], attributes: Mapping[str, Any]) -> str:
    given = str(attributes.get("purchaseTerm") or "").strip().lower()
    if given:
        return given.replace(" ", "")
    duration, unit = contract.get("duration"), str(contract.get("unit") or "").lower()
    return f"{duration}yr" if unit.startswith("year") else f"{duration}{unit}"


def _payment(attributes: Mapping[str, Any], description: str) -> str | None:
    given = str(attributes.get("purchaseOption") or "").strip().lower()
    if given in _PAYMENTS:
        return _PAYMENTS[given]
    lowered = description.lower()
    return next((v for k, v in _PAYMENTS.items() if k in lowered), None)


def savings_plan_rates(
    offer: Mapping[str, Any],
    on_demand: Mapping[tuple[str, str], tuple[float, str]],
    *,
    family: str = "ComputeSavingsPlans",
    instance_types: Iterable[str] | None = None,
) -> list[CommitmentRate]:
    """The ``savings-plan`` rows of one bulk offer file: for each plan of ``family`` (term and
    payment option), each Linux shared-tenancy rate of an instance type whose on-demand price
    is known (``on_demand[(type, region)] = (price, where it came from)``). ``hourly`` is the
    plan's rate, ``discount`` 1 - rate / on-demand; ``as_of`` the file's publication date."""
    if family not in SAVINGS_PLAN_FAMILIES:
        raise UsageError(f"unknown Savings Plan family {family!r}")
    try:
        products = {str(p["sku"]): p for p in offer["products"]}
        terms = offer["terms"]["savingsPlan"]
        published = datetime.fromisoformat(str(offer["publicationDate"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError) as err:
        raise UsageError(
            f"not a Price List Savings Plans offer file (no {err}): expected products, "
            "terms.savingsPlan and publicationDate"
        ) from None
    wanted = None if instance_types is None else {t.lower() for t in instance_types}
    label = SAVINGS_PLAN_FAMILIES[family]
    version = str(offer.get("version") or "?")
    out: dict[tuple[str, str, str, str], CommitmentRate] = {}
    for term in terms:
        product = products.get(str(term.get("sku")), {})
        if product.get("productFamily") != family:
            continue
        attributes = product.get("attributes", {}) or {}
        payment = _payment(attributes, str(term.get("description") or ""))
        if payment is None:
            continue
        length = _term(term.get("leaseContractLength", {}) or {}, attributes)
        for rate in term.get("rates", []):
            if rate.get("discountedServiceCode", "AmazonEC2") != "AmazonEC2":
                continue
            if rate.get("discountedOperation") != _LINUX:
                continue
            itype = _box_instance_type(str(rate.get("discountedUsageType") or ""))
            if itype is None or (wanted is not None and itype not in wanted):
                continue
            region = str(rate.get("discountedRegionCode") or offer.get("regionCode") or "")
            price = rate.get("discountedRate", {}) or {}
            if str(price.get("currency", "USD")) != "USD":
                continue
            listed = on_demand.get((itype, region))
            try:
                hourly = float(str(price.get("price")))
            except ValueError:
                continue
            if listed is None or listed[0] <= 0:
                continue
            od_price, od_source = listed
            out[(itype, region, length, payment)] = CommitmentRate(
                provider="aws",
                instance_type=itype,
                region=region,
                kind="savings-plan",
                term=length,
                payment=payment,
                hourly=hourly,
                discount=round(1.0 - hourly / od_price, 6),
                as_of=published.date(),
                source=(
                    f"{SAVINGS_PLAN_SOURCE} ({label}, version {version}, published "
                    f"{published.date().isoformat()}); discount off on-demand {od_price:g} "
                    f"({od_source})"
                ),
                verified=True,
            )
    return [out[k] for k in sorted(out)]


def merge_rates(
    existing: Iterable[CommitmentRate], fresh: Iterable[CommitmentRate]
) -> list[CommitmentRate]:
    """``existing`` with every row ``fresh`` has for the same provider, type, region, kind, term
    and payment replaced (in place), and the new ones after."""

    def key(r: CommitmentRate) -> tuple[str, str, str, str, str, str]:
        return (r.provider, r.instance_type, r.region, r.kind, r.term, r.payment)

    new = {key(r): r for r in fresh}
    out = [new.pop(key(r), r) for r in existing]
    return out + list(new.values())


def write_rates(rates: Iterable[CommitmentRate], path: Path) -> None:
    """Write commitment rates as a ``pricing/commitments`` CSV at ``path`` atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RATE_COLUMNS)
    for r in rates:
        writer.writerow(
            [
                r.provider, r.instance_type, r.region, r.kind, r.term, r.payment,
                "" if r.hourly is None else f"{r.hourly:g}",
                "" if r.discount is None else f"{r.discount:g}",
                r.as_of.isoformat(), r.source, "true" if r.verified else "false",
            ]
        )  # fmt: skip
    mode = path.stat().st_mode & 0o777 if path.exists() else SHARED
    write_atomic(path, out.getvalue(), mode=mode)

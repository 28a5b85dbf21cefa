"""AWS Cost Explorer (boto3 ``ce``): the bill by period and group, and the month's forecast.

``get_cost_and_usage`` has no boto3 paginator, so pages are followed on ``NextPageToken`` here.
Every page is a paid request ($0.01): the answers are cached on disk per request for
``billing.cache_ttl_seconds`` and the source counts the paid calls it made, for the CLI to show.
Tag and cost-category group keys come back as ``key$value``; the value is kept, and ``key$``
(spend without the tag) becomes ``__untagged__``. ``Estimated`` periods (the bill is not final)
are carried through, row by row.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from finops_cli.errors import FinopsError, UsageError
from finops_cli.sources import aws
from finops_cli.sources.billing import (
    BILL_COLUMNS,
    METRIC_TO_CE,
    UNTAGGED,
    BillData,
    BillRequest,
    BillSource,
    Dimension,
    Forecast,
)
from finops_cli.sources.cache import ResponseCache, cache_key

EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
MAX_GROUP_BY = 2
MAX_PAGES = 1000  # $10 of requests: past this something is wrong (a token that never ends)

_DIMENSION_KEYS = {
    "service": "SERVICE",
    "instance_type": "INSTANCE_TYPE",
    "account": "LINKED_ACCOUNT",
    "region": "REGION",
    "usage_type": "USAGE_TYPE",
    "purchase_option": "PURCHASE_TYPE",
}


def group_definition(dimension: Dimension) -> dict[str, str]:
    """One ``GroupBy`` entry; dimensions Cost Explorer does not have are a usage error."""
    if dimension.name in ("team", "tag"):
        return {"Type": "TAG", "Key": str(dimension.key)}
    if dimension.name == "category":
        return {"Type": "COST_CATEGORY", "Key": str(dimension.key)}
    if dimension.name in _DIMENSION_KEYS:
        return {"Type": "DIMENSION", "Key": _DIMENSION_KEYS[dimension.name]}
    raise UsageError(
        f"Cost Explorer cannot group by {dimension.name.replace('_', '-')}: read a FOCUS export "
        "(--focus PATH or --athena TABLE) for that"
    )


def filter_expression(request: BillRequest) -> dict[str, Any] | None:
    """The ``Filter`` of a request: service, instance families and tags, ANDed."""
    parts: list[dict[str, Any]] = []
    services = (EC2_COMPUTE,) if request.services is None else request.services
    if services:
        parts.append({"Dimensions": {"Key": "SERVICE", "Values": list(services)}})
    if request.instance_families:
        parts.append(
            {
                "Dimensions": {
                    "Key": "INSTANCE_TYPE_FAMILY",
                    "Values": list(request.instance_families),
                }
            }
        )
    for key, values in request.tags.items():
        wanted = [v for v in values if v != ""]
        options: list[dict[str, Any]] = []
        if wanted:
            options.append({"Tags": {"Key": key, "Values": wanted, "MatchOptions": ["EQUALS"]}})
        if "" in values:
            options.append({"Tags": {"Key": key, "MatchOptions": ["ABSENT"]}})
        parts.append(options[0] if len(options) == 1 else {"Or": options})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"And": parts}


def usage_request(request: BillRequest) -> dict[str, Any]:
    """``get_cost_and_usage`` parameters (without ``NextPageToken``)."""
    if len(request.group_by) > MAX_GROUP_BY:
        raise UsageError("Cost Explorer groups by at most two keys (--by X --by Y)")
    params: dict[str, Any] = {
        "TimePeriod": {"Start": request.start.isoformat(), "End": request.end.isoformat()},
        "Granularity": request.granularity.upper(),
        "Metrics": [ce_metric(request.metric)],
    }
    if request.group_by:
        params["GroupBy"] = [group_definition(d) for d in request.group_by]
    expression = filter_expression(request)
    if expression is not None:
        params["Filter"] = expression
    return params


def ce_metric(metric: str) -> str:
    try:
        return METRIC_TO_CE[metric]
    except KeyError:
        if metric in ("ListCost", "ContractedCost"):
            raise UsageError(
                f"--metric {metric} is a FOCUS column that Cost Explorer (and the sample bill) "
                "does not have: read a FOCUS export with --focus PATH or --athena TABLE, or use "
                f"one of {', '.join(METRIC_TO_CE)}"
            ) from None
        raise UsageError(
            f"invalid --metric {metric!r}: expected one of {', '.join(METRIC_TO_CE)}"
        ) from None


def forecast_metric(metric: str) -> str:
    """``AmortizedCost`` -> ``AMORTIZED_COST``, the spelling ``get_cost_forecast`` wants."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", ce_metric(metric)).upper()


def group_value(key: str, definition: dict[str, str]) -> str:
    """A group key as Cost Explorer returns it, as the user wants to see it."""
    if definition["Type"] in ("TAG", "COST_CATEGORY"):
        prefix, sep, value = key.partition("$")
        if not sep:  # not the documented shape; keep what came
            return prefix or UNTAGGED
        return value or UNTAGGED
    return key


def usage_rows(pages: list[dict[str, Any]], request: BillRequest) -> list[dict[str, Any]]:
    """The pages' ``ResultsByTime`` as rows of ``request.columns`` + ``BILL_COLUMNS``."""
    metric = ce_metric(request.metric)
    definitions = [group_definition(d) for d in request.group_by]
    columns = request.columns
    rows: list[dict[str, Any]] = []
    for page in pages:
        for result in page.get("ResultsByTime", []):
            period = result.get("TimePeriod", {})
            base = {
                "period_start": period.get("Start", ""),
                "period_end": period.get("End", ""),
                "estimated": bool(result.get("Estimated", False)),
            }
            if not definitions:
                amount = result.get("Total", {}).get(metric)
                if amount is not None:
                    rows.append(base | _money(amount))
                continue
            for group in result.get("Groups", []):
                keys = group.get("Keys", [])
                amount = group.get("Metrics", {}).get(metric)
                if amount is None or len(keys) != len(definitions):
                    continue
                values = {
                    c: group_value(k, d) for c, k, d in zip(columns, keys, definitions, strict=True)
                }
                rows.append(base | values | _money(amount))
    return rows


def _money(metric_value: dict[str, Any]) -> dict[str, Any]:
    try:
        cost = float(metric_value.get("Amount", "0"))
    except (TypeError, ValueError):
        cost = 0.0
    return {"currency": str(metric_value.get("Unit") or "USD"), "cost": cost}


def _strip(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "ResponseMetadata"}


class CostExplorerSource(BillSource):
    """Cost Explorer through a boto3 ``ce`` client (or anything with the same two methods)."""

    def __init__(
        self,
        client: Any,
        *,
        cache: ResponseCache | None = None,
        identity: dict[str, str] | None = None,
        name: str = "cost-explorer",
        paid: bool = True,
        refresh: bool = False,
    ) -> None:
        self.client = client
        self.cache = cache
        self.refresh = refresh  # --no-cache: ask again, but keep the fresh answer for next time
        self.identity = identity or {}
        self.name = name
        self.paid = paid  # the sample's simulated answers cost nothing
        self.paid_calls = 0
        self.cached_calls = 0

    # ---- paging and caching ----------------------------------------------------------------
    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        import botocore.exceptions

        try:
            response = getattr(self.client, operation)(**params)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            raise aws.translate(err, "ce", operation) from None
        if self.paid:
            self.paid_calls += 1
        return _strip(response)

    def _pages(self, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        key = cache_key({"operation": operation, "params": params, **self.identity})
        if self.cache is not None and not self.refresh:
            cached = self.cache.get(key)
            if cached is not None:
                self.cached_calls += len(cached)
                return cached
        pages: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_params = dict(params)
            if token:
                page_params["NextPageToken"] = token
            page = self._call(operation, page_params)
            pages.append(page)
            token = page.get("NextPageToken") or None
            if token is None:
                break
            if len(pages) >= MAX_PAGES:
                raise FinopsError(
                    f"Cost Explorer returned more than {MAX_PAGES} pages: narrow the window, "
                    "the filters or the grouping"
                )
        if self.cache is not None:
            self.cache.put(key, pages)
        return pages

    # ---- BillSource --------------------------------------------------------------------------
    def actual(self, request: BillRequest) -> BillData:
        import pandas as pd

        params = usage_request(request)
        pages = self._pages("get_cost_and_usage", params)
        rows = usage_rows(pages, request)
        frame = pd.DataFrame(rows, columns=[*request.columns, *BILL_COLUMNS])
        return BillData(
            source=self.name,
            metric=ce_metric(request.metric),
            frame=frame,
            paid_calls=self.paid_calls,
            cached_calls=self.cached_calls,
        )

    def forecast(self, request: BillRequest, prediction_interval: int) -> Forecast:
        """Month to date (``get_cost_and_usage``) plus the rest of the month (forecast)."""
        if request.now is None:
            raise ValueError("a forecast needs request.now")
        today = request.now.date()
        month_start = today.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        mtd, mtd_estimated, currency = 0.0, False, "USD"
        if today > month_start:
            so_far = BillRequest(
                start=month_start,
                end=today,
                granularity="monthly",
                metric=request.metric,
                group_by=(),
                services=request.services,
                instance_families=request.instance_families,
                tags=request.tags,
            )
            rows = usage_rows(self._pages("get_cost_and_usage", usage_request(so_far)), so_far)
            mtd = sum(r["cost"] for r in rows)
            mtd_estimated = any(r["estimated"] for r in rows)
            currency = rows[0]["currency"] if rows else currency
        params: dict[str, Any] = {
            "TimePeriod": {"Start": today.isoformat(), "End": next_month.isoformat()},
            "Metric": forecast_metric(request.metric),
            "Granularity": request.granularity.upper(),
            "PredictionIntervalLevel": prediction_interval,
        }
        expression = filter_expression(request)
        if expression is not None:
            params["Filter"] = expression
        page = self._pages("get_cost_forecast", params)[0]
        total = page.get("Total", {})
        periods = []
        for result in page.get("ForecastResultsByTime", []):
            period = result.get("TimePeriod", {})
            periods.append(
                (
                    str(period.get("Start", "")),
                    str(period.get("End", "")),
                    _float(result.get("MeanValue")) or 0.0,
                    _float(result.get("PredictionIntervalLowerBound")),
                    _float(result.get("PredictionIntervalUpperBound")),
                )
            )
        lowers = [p[3] for p in periods]
        uppers = [p[4] for p in periods]
        return Forecast(
            metric=ce_metric(request.metric),
            currency=str(total.get("Unit") or currency),
            month_start=month_start,
            start=today,
            end=next_month,
            mean=_float(total.get("Amount")) or sum(p[2] for p in periods),
            lower=None if any(v is None for v in lowers) else sum(v or 0.0 for v in lowers),
            upper=None if any(v is None for v in uppers) else sum(v or 0.0 for v in uppers),
            prediction_interval=prediction_interval,
            month_to_date=mtd,
            month_to_date_estimated=mtd_estimated,
            periods=tuple(periods),
        )


def _float(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None


def open_cost_explorer(
    profile: str | None,
    region: str | None,
    *,
    cache_ttl_seconds: float,
    use_cache: bool,
    cache_directory: Any = None,
) -> CostExplorerSource:
    """A source on the real service: boto3's credential chain, ``profile`` passed through."""
    from finops_cli.sources.cache import default_directory

    boto_session = aws.session(profile)
    ce_region = region or boto_session.region_name or aws.GLOBAL_REGION
    if not ce_region.startswith("cn-"):
        ce_region = aws.GLOBAL_REGION  # one global endpoint outside China
    client = aws.client("ce", boto_session, ce_region)
    identity = {
        "profile": profile or os.environ.get("AWS_PROFILE", ""),
        "endpoint": str(getattr(client.meta, "endpoint_url", "")),
        "key": aws.access_key_fingerprint(boto_session),
    }
    cache = None
    if cache_ttl_seconds > 0:
        cache = ResponseCache(cache_directory or default_directory(), cache_ttl_seconds)
    return CostExplorerSource(client, cache=cache, identity=identity, refresh=not use_cache)

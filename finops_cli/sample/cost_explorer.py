"""A stand-in for boto3's Cost Explorer client, answering from the sample bill's line items.

Split from ``bill.py`` because it speaks the Cost Explorer API (filter expressions, group keys,
pagination, forecasts, in the exact response shapes of the real service, which tests check with
botocore's Stubber), a job apart from writing FOCUS files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from finops_cli.sample.line_items import LineItem, SampleBill, billing_month

_METRICS = {
    "UnblendedCost": "billed_cost",
    "NetUnblendedCost": "billed_cost",
    "BlendedCost": "billed_cost",
    "AmortizedCost": "effective_cost",
    "NetAmortizedCost": "effective_cost",
    "UsageQuantity": "quantity",
}
_FORECAST_METRICS = {
    "UNBLENDED_COST": "billed_cost",
    "NET_UNBLENDED_COST": "billed_cost",
    "BLENDED_COST": "billed_cost",
    "AMORTIZED_COST": "effective_cost",
    "NET_AMORTIZED_COST": "effective_cost",
}


def _dimension(item: LineItem, key: str) -> str:
    values = {
        "SERVICE": item.ce_service,
        "INSTANCE_TYPE": item.instance_type,
        "INSTANCE_TYPE_FAMILY": item.instance_type.split(".")[0]
        if item.instance_type != "NoInstanceType"
        else "NoInstanceTypeFamily",
        "LINKED_ACCOUNT": item.account,
        "REGION": item.region,
        "USAGE_TYPE": item.usage_type,
        "PURCHASE_TYPE": item.purchase,
        "RECORD_TYPE": item.record_type,
        "RESOURCE_ID": item.resource_id,
    }
    return values.get(key, "")


def _matches(item: LineItem, expression: dict[str, Any]) -> bool:
    """Cost Explorer's filter ``Expression``: And, Or, Not, Dimensions, Tags."""
    if "And" in expression:
        return all(_matches(item, e) for e in expression["And"])
    if "Or" in expression:
        return any(_matches(item, e) for e in expression["Or"])
    if "Not" in expression:
        return not _matches(item, expression["Not"])
    if "Dimensions" in expression:
        spec = expression["Dimensions"]
        return _dimension(item, spec["Key"]) in spec.get("Values", [])
    if "Tags" in expression:
        spec = expression["Tags"]
        value = item.tags.get(spec["Key"], "")
        if "ABSENT" in spec.get("MatchOptions", []):
            return value == ""
        return value in spec.get("Values", [])
    if "CostCategories" in expression:
        return False
    raise ValueError(f"unsupported filter expression: {sorted(expression)}")


class SampleCostExplorer:
    """A stand-in for boto3's ``ce`` client answering from the sample bill.

    Results are paged ``page_size`` periods at a time with ``NextPageToken`` (as the real service
    pages long answers), and every period in the open billing month is ``Estimated``.
    """

    def __init__(self, bill: SampleBill, now: datetime, *, page_size: int = 10) -> None:
        self.bill = bill
        self.now = now
        self.page_size = page_size
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _items(self, period: dict[str, str], expression: dict[str, Any] | None) -> list[LineItem]:
        start = datetime.fromisoformat(period["Start"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(period["End"]).replace(tzinfo=UTC)
        items = self.bill.line_items(start, end, self.now)
        return [i for i in items if expression is None or _matches(i, expression)]

    def _periods(self, period: dict[str, str], granularity: str) -> list[tuple[date, date]]:
        start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
        out, day = [], start
        while day < end:
            if granularity == "MONTHLY":
                following = min((day.replace(day=1) + timedelta(days=32)).replace(day=1), end)
            else:
                following = day + timedelta(days=1)
            out.append((day, following))
            day = following
        return out

    def get_cost_and_usage(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_cost_and_usage", params))
        metrics: list[str] = params["Metrics"]
        groups: list[dict[str, str]] = params.get("GroupBy", [])
        periods = self._periods(params["TimePeriod"], params["Granularity"])
        first = int(params.get("NextPageToken") or 0)
        items = self._items(params["TimePeriod"], params.get("Filter"))
        open_month = billing_month(self.now)[0].date()
        results = []
        for start, end in periods[first : first + self.page_size]:
            inside = [i for i in items if start <= i.start.date() < end]
            estimated = end > open_month
            result: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Total": {},
                "Groups": [],
                "Estimated": estimated,
            }
            if not groups:
                result["Total"] = {m: _amount(sum(_metric(i, m) for i in inside)) for m in metrics}
            else:
                buckets: dict[tuple[str, ...], list[LineItem]] = {}
                for it in inside:
                    buckets.setdefault(tuple(_group_key(it, g) for g in groups), []).append(it)
                result["Groups"] = [
                    {
                        "Keys": list(keys),
                        "Metrics": {m: _amount(sum(_metric(i, m) for i in its)) for m in metrics},
                    }
                    for keys, its in sorted(buckets.items())
                ]
            results.append(result)
        response: dict[str, Any] = {
            "GroupDefinitions": groups,
            "ResultsByTime": results,
            "DimensionValueAttributes": [],
        }
        if first + self.page_size < len(periods):
            response["NextPageToken"] = str(first + self.page_size)
        return response

    def get_cost_forecast(self, **params: Any) -> dict[str, Any]:
        """A run-rate forecast: the last 7 days' mean daily cost, with a widening interval."""
        self.calls.append(("get_cost_forecast", params))
        attribute = _FORECAST_METRICS[params["Metric"]]
        level = int(params.get("PredictionIntervalLevel", 80))
        start = date.fromisoformat(params["TimePeriod"]["Start"])
        end = date.fromisoformat(params["TimePeriod"]["End"])
        history_end = datetime(start.year, start.month, start.day, tzinfo=UTC)
        history = [
            i
            for i in self.bill.line_items(history_end - timedelta(days=7), history_end, self.now)
            if params.get("Filter") is None or _matches(i, params["Filter"])
        ]
        daily = sum(getattr(i, attribute) for i in history) / 7.0
        spread = {70: 0.8, 80: 1.0, 90: 1.3, 95: 1.6, 99: 2.1}.get(level, 1.0)
        results, total = [], 0.0
        for p_start, p_end in self._periods(params["TimePeriod"], params["Granularity"]):
            days = (p_end - p_start).days
            mean = daily * days
            width = mean * (0.04 + 0.01 * days**0.5) * spread
            total += mean
            results.append(
                {
                    "TimePeriod": {"Start": p_start.isoformat(), "End": p_end.isoformat()},
                    "MeanValue": f"{mean:.10f}",
                    "PredictionIntervalLowerBound": f"{max(mean - width, 0.0):.10f}",
                    "PredictionIntervalUpperBound": f"{mean + width:.10f}",
                }
            )
        del end
        return {
            "Total": {"Amount": f"{total:.10f}", "Unit": "USD"},
            "ForecastResultsByTime": results,
        }


def _metric(item: LineItem, metric: str) -> float:
    return float(getattr(item, _METRICS[metric]))


def _amount(value: float) -> dict[str, str]:
    return {"Amount": f"{value:.10f}", "Unit": "USD"}


def _group_key(item: LineItem, group: dict[str, str]) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${item.tags.get(group['Key'], '')}"
    if group["Type"] == "COST_CATEGORY":
        return f"{group['Key']}$"
    return _dimension(item, group["Key"])

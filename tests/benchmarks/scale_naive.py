"""The naive way to answer ``finops costs --by team``, for comparison: pull, then aggregate.

What a script written against prometheus-api-client typically does: fetch the raw series of GPU
requests, pod labels and per-GPU node prices for the whole window at the scrape resolution
(``custom_query_range``), load them into pandas, join pods to labels and nodes to prices, and sum
per team. It gets the same answer (checked against finops' figure by the caller) but moves every
sample over the wire and into memory.

``python -m tests.benchmarks.scale_naive STATS.json URL START END STEP_S`` writes JSON stats.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from prometheus_api_client import PrometheusConnect

from tests.benchmarks.common import peak_rss_mib

TEAM_LABEL = "label_ai_finops_io_team"


def _frame(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """Long frame (keys..., timestamp, value) from a query_range matrix."""
    records = [
        (*(series["metric"].get(k, "") for k in keys), float(t), float(v))
        for series in rows
        for t, v in series["values"]
    ]
    return pd.DataFrame.from_records(records, columns=[*keys, "timestamp", "value"])


def main(argv: list[str]) -> int:
    stats_path, url, start_text, end_text, step_text = argv
    start = datetime.fromisoformat(start_text).astimezone(UTC)
    end = datetime.fromisoformat(end_text).astimezone(UTC)
    step = int(step_text)
    received = {"bytes": 0, "queries": 0}
    original = requests.Session.request

    def counting(self: requests.Session, *a: Any, **k: Any) -> requests.Response:
        response = original(self, *a, **k)
        received["bytes"] += len(response.content)
        received["queries"] += 1
        return response

    requests.Session.request = counting  # type: ignore[method-assign]
    began = time.monotonic()
    prom = PrometheusConnect(url=url, disable_ssl=True)

    def pull(query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = prom.custom_query_range(
            query, start_time=start, end_time=end, step=str(step)
        )
        return rows

    requests_ = _frame(
        pull('kube_pod_container_resource_requests{resource="nvidia_com_gpu"}'),
        ["namespace", "pod", "node"],
    )
    labels = _frame(pull("kube_pod_labels"), ["namespace", "pod", TEAM_LABEL])
    prices = _frame(pull("node_gpu_hourly_cost"), ["node"])
    pulled = time.monotonic()

    # A sample at t stands for (t - step, t]; the first point of the window is outside it.
    requests_ = requests_[requests_["timestamp"] > start.timestamp()]
    per_pod = requests_.groupby(["namespace", "pod", "node", "timestamp"], as_index=False)[
        "value"
    ].sum()
    per_pod = per_pod.merge(
        prices.rename(columns={"value": "price"}), on=["node", "timestamp"], how="left"
    )
    team = labels.drop(columns="value").drop_duplicates(["namespace", "pod", "timestamp"])
    per_pod = per_pod.merge(team, on=["namespace", "pod", "timestamp"], how="left")
    per_pod["cost"] = per_pod["value"] * per_pod["price"] * step / 3600
    by_team = per_pod.groupby(per_pod[TEAM_LABEL].fillna(""))["cost"].sum()
    done = time.monotonic()
    stats = {
        "total_s": done - began,
        "pull_s": pulled - began,
        "aggregate_s": done - pulled,
        "queries": received["queries"],
        "bytes_received": received["bytes"],
        "peak_rss_mib": peak_rss_mib(),
        "allocated_cost": float(by_team.sum()),
        "teams": int((by_team.index != "").sum()),
    }
    Path(stats_path).write_text(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""OpenCostCostSource against a real local HTTP server speaking OpenCost's wire format."""

from __future__ import annotations

import base64
import copy
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from finops_cli.analytics.costs import attribute_costs
from finops_cli.errors import SourceError, UsageError
from finops_cli.sources.interface import ALLOCATION_MEASURES, CLUSTER_MEASURES, CostRequest
from finops_cli.sources.opencost import OpenCostCostSource
from finops_cli.timewindow import Window

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "opencost"
POD_LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
WINDOW = Window(START, END, "2026-10-01..2026-10-04")
SECRET = "s3cr3t-token"
CAPACITY_COST = 4608.0  # 16 GPUs x 72 h x $4 in every fixture


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


# -- programmable server ----------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Seen], Reply]


def ok(body: Any) -> Reply:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def json_reply(code: int, body: Any, **headers: str) -> Reply:
    return code, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def raw(code: int, body: str, content_type: str = "text/html") -> Reply:
    return code, {"Content-Type": content_type}, body.encode()


class FakeOpenCost:
    """Replies are taken from ``replies`` in order, then ``default`` answers everything else."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.replies: list[Reply | Responder] = []
        self.default: Reply | Responder = ok(fixture("current_team.json"))
        self.release = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                with fake._lock:
                    fake.requests.append(seen)
                    reply = fake.replies.pop(0) if fake.replies else fake.default
                code, headers, body = reply(seen) if callable(reply) else reply
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client hung up on a slow handler on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def slow(self, seconds: float, then: Reply) -> Responder:
        def respond(_: Seen) -> Reply:
            self.release.wait(seconds)
            return then

        return respond


@pytest.fixture
def oc() -> Iterator[FakeOpenCost]:
    fake = FakeOpenCost()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


class Harness:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.warnings: list[str] = []
        self.sources: list[OpenCostCostSource] = []

    def source(self, url: str, **overrides: Any) -> OpenCostCostSource:
        overrides.setdefault("timeout_seconds", 2.0)
        src = OpenCostCostSource(
            url, POD_LABELS, sleep=self.sleeps.append, on_warning=self.warnings.append, **overrides
        )
        self.sources.append(src)
        return src


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    for src in harness.sources:
        src.close()


def request(*group_by: str, **filters: str) -> CostRequest:
    return CostRequest(WINDOW, tuple(group_by), dict(filters))


def rows(frame: pd.DataFrame, key: str) -> dict[str, dict[str, float]]:
    return {
        str(r[key]): {m: float(r[m]) for m in ALLOCATION_MEASURES} for r in frame.to_dict("records")
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the request ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/model"])
def test_request_parameters(oc: FakeOpenCost, h: Harness, prefix: str) -> None:
    h.source(oc.url + prefix + "/").costs(request("team"))
    (seen,) = oc.requests
    assert seen.path == prefix + "/allocation/compute"
    assert seen.params == {
        "window": ["2026-10-01T00:00:00Z,2026-10-04T00:00:00Z"],
        "aggregate": ["label:ai-finops.io/team"],
        "accumulate": ["true"],
        "includeIdle": ["true"],
    }
    assert seen.headers["accept"] == "application/json"


def test_aggregate_order_and_filter_keys(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok(fixture("two_keys_namespace_team.json"))
    src = h.source(oc.url)
    src.costs(request("team", "namespace"))
    src.costs(request("model", environment="prod", node="gpu-1"))
    src.costs(request("cluster"))
    aggregates = [r.params["aggregate"][0] for r in oc.requests]
    assert aggregates == [
        "namespace,label:ai-finops.io/team",  # OpenCost's own join order, whatever was asked
        "node,label:ai-finops.io/model,label:ai-finops.io/environment",
        "cluster",
    ]
    assert "splitIdle" not in oc.requests[0].params
    assert oc.requests[2].params["splitIdle"] == ["true"]


@pytest.mark.parametrize(
    "req", [request("gpu_model"), request("team", gpu_model="NVIDIA-H100-80GB-HBM3")]
)
def test_gpu_model_is_refused(oc: FakeOpenCost, h: Harness, req: CostRequest) -> None:
    with pytest.raises(UsageError, match="OpenCost cannot group or filter by gpu_model"):
        h.source(oc.url).costs(req)
    assert oc.requests == []


# -- mapping ----------------------------------------------------------------------------------


def test_current_payload_mapping(oc: FakeOpenCost, h: Harness) -> None:
    data = h.source(oc.url).costs(request("team"))
    assert data.source == "opencost"
    assert list(data.allocations.columns) == ["bucket_end", "team", *ALLOCATION_MEASURES]
    assert list(data.cluster.columns) == ["bucket_end", *CLUSTER_MEASURES]
    assert set(data.allocations["bucket_end"]) == {pd.Timestamp(END)}
    assert str(data.allocations["bucket_end"].dt.tz) == "UTC"
    assert data.cluster["bucket_end"].tolist() == [pd.Timestamp(END)]

    got = rows(data.allocations, "team")
    assert set(got) == {"nlp", "vision", "recsys", "data-eng", ""}  # no __idle__/__unmounted__
    assert got["nlp"] == pytest.approx(
        {
            "gpu_hours": 288,
            "gpu_cost": 1152,
            "cpu_ram_cost": 42.74,
            "busy_gpu_hours": 0.62 * 288,
            "observed_gpu_hours": 288,
            "wasted_cost": 1152 * (1 - 0.62),  # entry by entry: cost x (1 - efficiency)
        }
    )
    assert got["vision"]["busy_gpu_hours"] == pytest.approx(0.35 * 180)
    # recsys: gpuHours null -> gpuCount x minutes / 60; cpuCost null -> 0; no efficiency.
    assert got["recsys"] == pytest.approx(
        {
            "gpu_hours": 72,
            "gpu_cost": 288,
            "cpu_ram_cost": 6.0,
            "busy_gpu_hours": 0,
            "observed_gpu_hours": 0,
            "wasted_cost": 0,
        }
    )
    assert got["data-eng"]["gpu_cost"] == 0 and got["data-eng"]["cpu_ram_cost"] == 58.5
    assert got[""]["gpu_cost"] == 576 and got[""]["busy_gpu_hours"] == pytest.approx(14.4)

    cluster = data.cluster.iloc[0]
    assert cluster["allocated_gpu_hours"] == pytest.approx(684)
    assert cluster["allocated_gpu_cost"] == pytest.approx(2736)
    assert cluster["capacity_gpu_cost"] == pytest.approx(CAPACITY_COST)
    assert cluster["capacity_gpu_hours"] == pytest.approx(1152)  # idle hours estimated at $4/h

    assert data.busy_metric == "OpenCost gpuEfficiency"
    assert data.has_cpu_ram is True and data.sample_interval_s == 0
    notes = " | ".join(data.notes)
    assert "PARTIAL DATA" in notes and "recsys cpuCost" in notes
    assert "derived from gpuCount x minutes (first: recsys)" in notes
    assert "ESTIMATED" in notes and "$4/GPU-hour" in notes


def test_invariant_after_attribution(oc: FakeOpenCost, h: Harness) -> None:
    data = h.source(oc.url).costs(request("team"))
    report = attribute_costs(data, ("team",), {}, START, END)
    by_kind: dict[str, float] = {}
    for row in report.rows:
        by_kind[row.kind] = by_kind.get(row.kind, 0.0) + row.gpu_cost
    assert by_kind["allocated"] == pytest.approx(1152 + 720 + 288)
    assert by_kind["unallocated"] == pytest.approx(576)
    assert by_kind["idle"] == pytest.approx(1872)
    assert sum(by_kind.values()) == pytest.approx(CAPACITY_COST)
    assert report.totals.cluster_gpu_cost == pytest.approx(CAPACITY_COST)
    assert report.totals.idle_gpu_hours == pytest.approx(468)
    nlp = next(r for r in report.rows if r.keys == {"team": "nlp"})
    assert nlp.efficiency == pytest.approx(0.62)
    recsys = next(r for r in report.rows if r.keys == {"team": "recsys"})
    assert recsys.efficiency is None


def test_old_payload_without_gpu_efficiency(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok(fixture("old_no_gpu_efficiency.json"))
    data = h.source(oc.url).costs(request("team"))
    got = rows(data.allocations, "team")
    assert set(got) == {"nlp", "vision", ""}  # "ai_finops_io_team=nlp" names are unwrapped
    assert got["nlp"]["gpu_cost"] == 1152
    assert data.allocations["busy_gpu_hours"].sum() == 0
    assert data.allocations["observed_gpu_hours"].sum() == 0
    assert data.busy_metric is None
    assert any("no GPU efficiency (older version)" in n for n in data.notes)
    report = attribute_costs(data, ("team",), {}, START, END)
    assert report.totals.efficiency is None
    assert all(r.efficiency is None for r in report.rows if r.kind != "idle")
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(CAPACITY_COST)


def test_two_key_aggregate(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok(fixture("two_keys_namespace_team.json"))
    data = h.source(oc.url).costs(request("team", "namespace"))
    assert list(data.allocations.columns[:3]) == ["bucket_end", "team", "namespace"]
    got = {
        (r["team"], r["namespace"]): (r["gpu_hours"], r["gpu_cost"])
        for r in data.allocations.to_dict("records")
    }
    assert got == {
        ("nlp", "ml-serving"): (216, 864),
        ("nlp", "ml-training"): (72, 288),
        ("vision", "ml-training"): (180, 720),
        ("recsys", "batch"): (72, 288),
        ("", "ml-training"): (144, 576),
    }
    report = attribute_costs(data, ("team", "namespace"), {}, START, END)
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(CAPACITY_COST)


def _renamed(names: dict[str, str], annotations: bool = False) -> dict[str, Any]:
    """``current_team.json`` aggregated by another key: the same entries under other names.

    With ``annotations``, each allocation is named ``<namespace>/<cost center>`` and carries the
    cost center in ``properties.annotations``, as a two-key aggregation returns it.
    """
    body = copy.deepcopy(fixture("current_team.json"))
    renamed = {}
    for key, entry in body["data"][0].items():
        name = names.get(key, key)
        if annotations and key in names:
            entry["properties"]["annotations"] = {"ai_finops_io_cost_center": name}
            name = f"{entry['properties']['namespace']}/{name}"
        entry["name"] = name
        renamed[name] = entry
    body["data"][0] = renamed
    return body


def test_cost_center_aggregates_by_the_annotation(oc: FakeOpenCost, h: Harness) -> None:
    centers = {"nlp": "NLP-210", "vision": "VIS-300", "recsys": "ML-001", "data-eng": "DE-400"}
    oc.default = ok(_renamed(centers))
    data = h.source(oc.url).costs(request("cost_center"))
    assert oc.requests[0].params["aggregate"] == ["annotation:ai-finops.io/cost-center"]
    assert list(data.allocations.columns) == ["bucket_end", "cost_center", *ALLOCATION_MEASURES]
    got = rows(data.allocations, "cost_center")
    assert {k: v["gpu_cost"] for k, v in got.items()} == {
        "NLP-210": 1152,
        "VIS-300": 720,
        "ML-001": 288,
        "DE-400": 0,
        "": 576,
    }
    assert not any("annotation" in n for n in data.notes)
    report = attribute_costs(data, ("cost_center",), {}, START, END)
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(CAPACITY_COST)


def test_cost_center_with_namespace_reads_the_annotations_property(
    oc: FakeOpenCost, h: Harness
) -> None:
    """A cost center holding "/" cannot be split from the name: the property gives it."""
    oc.default = ok(_renamed({"nlp": "CC/1", "vision": "CC/2"}, annotations=True))
    data = h.source(oc.url).costs(request("namespace", "cost_center"))
    assert oc.requests[0].params["aggregate"] == ["namespace,annotation:ai-finops.io/cost-center"]
    got = {
        (r["namespace"], r["cost_center"]): r["gpu_cost"]
        for r in data.allocations.to_dict("records")
        if r["cost_center"]
    }
    assert got == {("ml-serving", "CC/1"): 1152, ("ml-training", "CC/2"): 720}


def test_cost_center_no_allocation_carries_it(oc: FakeOpenCost, h: Harness) -> None:
    # Every allocation lacks the annotation: OpenCost folds them all into __unallocated__.
    names = dict.fromkeys(("nlp", "vision", "recsys", "data-eng"), "__unallocated__")
    oc.default = ok(_renamed(names))
    custom = POD_LABELS | {"cost_center": "example.com/billing-code"}
    src = OpenCostCostSource(oc.url, custom, on_warning=h.warnings.append)
    h.sources.append(src)
    data = src.costs(request("cost_center"))
    assert oc.requests[0].params["aggregate"] == ["annotation:example.com/billing-code"]
    (note,) = [n for n in data.notes if "annotation" in n]
    assert "no allocation carries the example.com/billing-code annotation" in note
    assert "--metric-annotations-allowlist=pods=[example.com/billing-code]" in note


def test_filters_apply_client_side(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok(fixture("two_keys_namespace_team.json"))
    data = h.source(oc.url).costs(request("team", namespace="ml-training"))
    assert oc.requests[0].params["aggregate"] == ["namespace,label:ai-finops.io/team"]
    assert "filter" not in oc.requests[0].params
    assert list(data.allocations.columns) == ["bucket_end", "team", *ALLOCATION_MEASURES]
    got = rows(data.allocations, "team")
    assert {k: v["gpu_cost"] for k, v in got.items()} == {"nlp": 288, "vision": 720, "": 576}
    # The cluster frame ignores filters other than cluster: the whole cluster still adds up.
    assert data.cluster.iloc[0]["allocated_gpu_cost"] == pytest.approx(2736)
    assert data.cluster.iloc[0]["capacity_gpu_cost"] == pytest.approx(CAPACITY_COST)


def _two_clusters(by_team: bool) -> dict[str, Any]:
    """Clusters east and west (west at half the allocation), aggregated with splitIdle=true."""
    step = fixture("current_team.json")["data"][0]
    out: dict[str, Any] = {}
    for cluster, scale in (("east", 1.0), ("west", 0.5)):
        for name in ("nlp", "__unallocated__", "__idle__"):
            entry = copy.deepcopy(step[name])
            entry["name"] = f"{cluster}/{name}" if by_team or name == "__idle__" else cluster
            entry["properties"] = {"cluster": cluster}
            for field in ("gpuHours", "gpuCost"):
                entry[field] *= scale
            if entry["name"] in out:  # by cluster alone, nlp and __unallocated__ are one entry
                for field in ("gpuHours", "gpuCost"):
                    out[entry["name"]][field] += entry[field]
            else:
                out[entry["name"]] = entry
    return {"code": 200, "status": "success", "data": [out]}


def test_cluster_grouping_and_filter(oc: FakeOpenCost, h: Harness) -> None:
    oc.replies = [ok(_two_clusters(by_team=False)), ok(_two_clusters(by_team=True))]
    src = h.source(oc.url)
    data = src.costs(request("cluster"))
    assert oc.requests[0].params["aggregate"] == ["cluster"]
    assert {k: v["gpu_cost"] for k, v in rows(data.allocations, "cluster").items()} == {
        "east": 1152 + 576,
        "west": (1152 + 576) / 2,
    }
    # Split by cluster, capacity (and so idle) is per cluster: splitIdle names each idle's.
    capacity = dict(zip(data.cluster["cluster"], data.cluster["capacity_gpu_cost"], strict=True))
    assert capacity == pytest.approx({"east": 1728 + 1872, "west": (1728 + 1872) / 2})
    by_cluster = attribute_costs(data, ("cluster",), {}, START, END)
    idle = {r.keys["cluster"]: r.gpu_cost for r in by_cluster.rows if r.kind == "idle"}
    assert idle == pytest.approx({"east": 1872, "west": 936})
    for name, spend in capacity.items():
        assert sum(r.gpu_cost for r in by_cluster.rows if r.keys["cluster"] == name) == (
            pytest.approx(spend)
        )

    west = src.costs(request("team", cluster="west"))
    assert oc.requests[1].params["aggregate"] == ["cluster,label:ai-finops.io/team"]
    assert oc.requests[1].params["splitIdle"] == ["true"]
    assert {k: v["gpu_cost"] for k, v in rows(west.allocations, "team").items()} == {
        "nlp": 576,
        "": 288,
    }
    cluster = west.cluster.iloc[0]
    assert cluster["allocated_gpu_cost"] == pytest.approx(864)
    assert cluster["capacity_gpu_cost"] == pytest.approx(864 + 936)
    report = attribute_costs(west, ("team",), {"cluster": "west"}, START, END)
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(864 + 936)


def test_multiple_steps_are_summed(oc: FakeOpenCost, h: Harness) -> None:
    body = fixture("current_team.json")
    body["data"].append(copy.deepcopy(body["data"][0]))
    oc.default = ok(body)
    data = h.source(oc.url).costs(request("team"))
    got = rows(data.allocations, "team")
    assert got["nlp"]["gpu_cost"] == 2 * 1152
    assert got["nlp"]["busy_gpu_hours"] == pytest.approx(2 * 0.62 * 288)
    assert data.cluster.iloc[0]["capacity_gpu_cost"] == pytest.approx(2 * CAPACITY_COST)
    assert len(data.allocations) == 5


def test_null_nan_and_missing_fields(oc: FakeOpenCost, h: Harness) -> None:
    body = (
        '{"code": 200, "data": [{'
        '"a": {"name": "a", "gpuHours": NaN, "gpuCost": null, "cpuCost": Infinity,'
        ' "ramCost": "1.5", "gpuCount": 2, "minutes": 30, "gpuEfficiency": null},'
        '"b": {"name": "b", "gpuHours": 10, "gpuCost": 40, "gpuEfficiency": 0.5},'
        '"c": {"name": "c"},'
        '"__idle__": {"name": "__idle__", "gpuCost": null, "gpuHours": null}'
        "}, null, {}]}"
    )
    oc.default = raw(200, body, "application/json")
    data = h.source(oc.url).costs(request("team"))
    got = rows(data.allocations, "team")
    assert got["a"] == pytest.approx(
        {
            "gpu_hours": 1.0,
            "gpu_cost": 0,
            "cpu_ram_cost": 1.5,
            "busy_gpu_hours": 0,
            "observed_gpu_hours": 0,
            "wasted_cost": 0,
        }
    )
    assert got["b"]["cpu_ram_cost"] == 0 and got["b"]["busy_gpu_hours"] == 5
    assert got["c"] == {m: 0.0 for m in ALLOCATION_MEASURES}
    assert data.cluster.iloc[0]["capacity_gpu_cost"] == 40
    assert data.busy_metric == "OpenCost gpuEfficiency"
    partial = next(n for n in data.notes if n.startswith("PARTIAL DATA"))
    assert "a gpuCost" in partial


def test_all_zero_efficiency_means_unknown(oc: FakeOpenCost, h: Harness) -> None:
    body = fixture("current_team.json")
    for entry in body["data"][0].values():
        entry["gpuEfficiency"] = 0
        entry["gpuAllocation"] = None
    oc.default = ok(body)
    data = h.source(oc.url).costs(request("team"))
    assert data.busy_metric is None
    assert data.allocations["observed_gpu_hours"].sum() == 0
    assert any("0 GPU efficiency for every GPU allocation" in n for n in data.notes)


def test_usage_over_request_when_no_efficiency_field(oc: FakeOpenCost, h: Harness) -> None:
    body = fixture("current_team.json")
    del body["data"][0]["nlp"]["gpuEfficiency"]  # gpuAllocation: 2.48 of 4 GPUs busy
    oc.default = ok(body)
    got = rows(h.source(oc.url).costs(request("team")).allocations, "team")
    assert got["nlp"]["busy_gpu_hours"] == pytest.approx(0.62 * 288)


def test_empty_answer(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok({"code": 200, "status": "success", "data": [{}]})
    data = h.source(oc.url).costs(request("team", "namespace"))
    assert data.allocations.empty
    assert list(data.allocations.columns) == [
        "bucket_end",
        "team",
        "namespace",
        *ALLOCATION_MEASURES,
    ]
    assert data.cluster.iloc[0]["capacity_gpu_cost"] == 0
    assert any("no allocations for this window" in n for n in data.notes)
    report = attribute_costs(data, ("team", "namespace"), {}, START, END)
    assert report.totals.gpu_cost == 0


def test_success_message_reaches_on_warning(oc: FakeOpenCost, h: Harness) -> None:
    body = fixture("current_team.json")
    body["message"] = "Warning: some data is missing for the window"
    oc.default = ok(body)
    h.source(oc.url).costs(request("team"))
    assert h.warnings == ["OpenCost: Warning: some data is missing for the window"]


# -- errors -----------------------------------------------------------------------------------


def test_retry_on_500_then_success(oc: FakeOpenCost, h: Harness) -> None:
    oc.replies = [json_reply(500, {"code": 500, "status": "error", "message": "busy"})]
    data = h.source(oc.url).costs(request("team"))
    assert len(oc.requests) == 2 and len(h.sleeps) == 1
    assert data.allocations["gpu_cost"].sum() == pytest.approx(2736)


def test_retry_after_is_honoured(oc: FakeOpenCost, h: Harness) -> None:
    oc.replies = [json_reply(429, {"message": "slow down"}, **{"Retry-After": "7"})]
    h.source(oc.url).costs(request("team"))
    assert h.sleeps == [7.0]


def test_500_forever_is_one_line(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = json_reply(
        500, {"code": 500, "status": "error", "message": "error querying prometheus:\ntimeout"}
    )
    with pytest.raises(SourceError) as err:
        h.source(oc.url, retries=2).costs(request("team"))
    msg = str(err.value)
    assert len(oc.requests) == 3 and len(h.sleeps) == 2
    assert msg.startswith(f"OpenCost at {oc.url} still failed after 3 attempt(s): last answer ")
    assert "HTTP 500, error querying prometheus: timeout;" in msg
    assert "\n" not in msg


def test_no_retry_on_400(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = json_reply(400, {"code": 400, "message": "invalid aggregation: label:"})
    with pytest.raises(SourceError) as err:
        h.source(oc.url).costs(request("team"))
    assert str(err.value) == "OpenCost rejected the allocation query: invalid aggregation: label:"
    assert len(oc.requests) == 1 and h.sleeps == []


def test_error_inside_a_200(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok({"code": 500, "status": "error", "message": "boom", "data": None})
    with pytest.raises(SourceError) as err:
        h.source(oc.url).costs(request("team"))
    assert str(err.value) == f"OpenCost at {oc.url} returned an error (code 500): boom"


def test_404_points_at_the_url(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = raw(404, "404 page not found", "text/plain")
    with pytest.raises(SourceError) as err:
        h.source(oc.url + "/wrong").costs(request("team"))
    msg = str(err.value)
    assert msg.startswith(f"OpenCost at {oc.url}/wrong has no API path /allocation/compute")
    assert "--opencost-url" in msg and len(oc.requests) == 1


def test_non_json_body(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = raw(200, "<!doctype html>\n<html><title>OpenCost UI</title>" + "x" * 3000)
    with pytest.raises(SourceError) as err:
        h.source(oc.url).costs(request("team"))
    msg = str(err.value)
    assert "HTTP 200 but the body was not OpenCost JSON" in msg
    assert "<!doctype html> <html><title>OpenCost UI" in msg
    assert "\n" not in msg and len(msg) < 300


def test_wrong_data_shape(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = ok({"code": 200, "data": "nothing"})
    with pytest.raises(SourceError, match="returned 'str' data where a list"):
        h.source(oc.url).costs(request("team"))


def test_timeout(oc: FakeOpenCost, h: Harness) -> None:
    oc.default = oc.slow(2.0, ok(fixture("current_team.json")))
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        h.source(oc.url, timeout_seconds=0.2, retries=1).costs(request("team"))
    assert time.monotonic() - started < 1.5
    assert str(err.value).startswith(
        f"OpenCost at {oc.url} did not answer within 0.2 s after 2 attempts; raise --timeout"
    )


def test_connection_refused(h: Harness) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SourceError) as err:
        h.source(url, retries=1).costs(request("team"))
    assert str(err.value).startswith(
        f"cannot reach OpenCost at {url}: connection refused after 2 attempts"
    )


def test_bad_url_is_a_usage_error() -> None:
    for url in ("", f"ftp://u:{SECRET}@host", "opencost:9003", "http://[::1"):
        with pytest.raises(UsageError, match="opencost-url") as err:
            OpenCostCostSource(url, POD_LABELS)
        assert SECRET not in str(err.value)


def test_secrets_never_leak(oc: FakeOpenCost, h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    basic = base64.b64encode(f"alice:{SECRET}".encode()).decode()

    def echo_headers(seen: Seen) -> Reply:
        return raw(200, f"<html>you sent {seen.headers.get('x-api-key')}</html>")

    def echo_in_error(seen: Seen) -> Reply:
        echoed = f"bad auth {seen.headers.get('authorization')}"
        return json_reply(400, {"code": 400, "message": echoed})

    oc.replies = [
        echo_headers,
        echo_in_error,
        raw(401, "nope"),
        ok({"code": 500, "message": f"token {SECRET} rejected"}),
    ]
    auth_url = oc.url.replace("http://", f"http://alice:{SECRET}@")
    sources = [
        h.source(oc.url, headers={"X-Api-Key": SECRET}),
        h.source(auth_url),
        h.source(oc.url, headers={"Authorization": f"Bearer {SECRET}"}),
        h.source(oc.url, headers={"Authorization": f"Bearer {SECRET}"}),
        h.source(f"http://alice:{SECRET}@127.0.0.1:{closed_port()}", retries=0),
    ]
    messages = []
    for src in sources:
        with pytest.raises(SourceError) as err:
            src.costs(request("team"))
        messages.append(str(err.value))
    assert oc.requests[1].headers["authorization"] == f"Basic {basic}"
    assert "***" in messages[0] and "***" in messages[1] and "***" in messages[3]
    assert "refused the credentials (HTTP 401)" in messages[2]
    assert messages[4].startswith("cannot reach OpenCost at http://127.0.0.1:")
    debug = [r.getMessage() for r in caplog.records if r.name == "finops.opencost"]
    assert any("GET /allocation/compute" in line and "HTTP 200" in line for line in debug)
    assert any("ConnectError" in line for line in debug)
    for text in [*messages, *(r.getMessage() for r in caplog.records), caplog.text]:
        assert SECRET not in text
        assert basic not in text

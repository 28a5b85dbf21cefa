"""KAI pods on several GPUs spread over their node's pooled GPUs, and the per-GPU cap of ``gpus``'
holders (``sources.prometheus_kai``, ``prometheus_rows.cap_holder_shares``).

The window queries' answers are written here as Prometheus returns them; the end-to-end case is
``tests/integration/test_costs_sharing.py`` (the sample's 0.5 x 2 pod through a real server).
"""

from __future__ import annotations

import pytest

from finops_cli.sources import prometheus_kai, prometheus_rows
from finops_cli.sources.prometheus_client import InstantSample

NODE = "ip-10-0-6-65.ec2.internal"
HOURS = 1 / 60  # one sample a minute


def _rows(*gpus: str) -> dict[tuple[str, ...], dict[str, object]]:
    return {
        ("", NODE, gpu, ""): {"node": NODE, "gpu": gpu, "present_hours": 96.0, "holders": []}
        for gpu in gpus
    }


def _pod(pod: str, samples: float) -> InstantSample:
    return InstantSample({"namespace": "research", "pod": pod, "node": NODE}, samples)


def _unit(gpu: str, samples: float) -> InstantSample:
    return InstantSample({"node": NODE, "gpu": gpu, "GPU_I_ID": ""}, samples)


def test_a_pod_alone_on_two_pooled_gpus_holds_its_fraction_of_each():
    rows = _rows("1", "2", "3")
    # 0.5 x 2 devices for 48 h of minute samples: 2,880 samples at 1.0, carried 0.5 by each GPU.
    pods = [_pod("moe-eval-1", 2880 * 1.0)]
    pool = [_unit("2", 2880 * 0.5), _unit("3", 2880 * 0.5)]
    prometheus_kai.attach_pooled_holders(rows, pods, pool, [], {}, HOURS)
    assert rows[("", NODE, "1", "")]["holders"] == []
    for gpu in ("2", "3"):
        (holder,) = rows[("", NODE, gpu, "")]["holders"]  # type: ignore[misc]
        assert holder["share_hours"] == pytest.approx(24.0)  # 0.5 of the GPU for 48 h
        assert holder["share"] == pytest.approx(0.25)  # averaged over the 96 h reported


def test_share_hours_follow_what_each_gpu_carried_and_add_up_to_the_pods():
    rows = _rows("0", "1")
    pods = [_pod("a", 600.0), _pod("b", 300.0)]
    pool = [_unit("0", 600.0), _unit("1", 300.0)]
    prometheus_kai.attach_pooled_holders(rows, pods, pool, [], {}, HOURS)
    total = sum(
        h["share_hours"]  # type: ignore[misc]
        for row in rows.values()
        for h in row["holders"]  # type: ignore[attr-defined]
    )
    assert total == pytest.approx(900.0 * HOURS)  # what costs charges the two pods
    gpu0 = {h["pod"]: h["share_hours"] for h in rows[("", NODE, "0", "")]["holders"]}  # type: ignore[attr-defined]
    assert gpu0 == pytest.approx({"a": 400.0 * HOURS, "b": 200.0 * HOURS})


def test_a_pod_on_a_node_without_pooled_gpus_is_listed_nowhere():
    rows = _rows("0")
    prometheus_kai.attach_pooled_holders(rows, [_pod("a", 60.0)], [], [], {}, HOURS)
    assert rows[("", NODE, "0", "")]["holders"] == []


def test_an_oversubscribed_gpus_holders_are_scaled_to_add_up_to_one():
    rows = _rows("0", "1")
    rows[("", NODE, "0", "")]["holders"] = [
        {"pod": "a", "share_hours": 48.0, "share": 0.5},
        {"pod": "b", "share_hours": 72.0, "share": 0.75},
    ]
    rows[("", NODE, "1", "")]["holders"] = [{"pod": "c", "share_hours": 96.0, "share": 1.0}]
    assert prometheus_rows.cap_holder_shares(rows) == [f"{NODE}/0"]
    shares = [h["share"] for h in rows[("", NODE, "0", "")]["holders"]]  # type: ignore[attr-defined]
    assert shares == pytest.approx([0.4, 0.6])
    assert rows[("", NODE, "1", "")]["holders"][0]["share"] == 1.0  # type: ignore[index]

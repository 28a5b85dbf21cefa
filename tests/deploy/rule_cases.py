"""``promtool test rules`` cases for the generated rules, with real-shaped input series.

A small cluster written as the exporters write it: OpenCost's node prices and container
allocations, kube-state-metrics' ``kube_pod_labels`` with sanitised ``label_ai_finops_io_*`` keys,
dcgm-exporter per-GPU series with ``Hostname`` (node n1) and ``hostname`` (node n2, unreleased
dcgm-exporter) and the workload's ``namespace``/``pod``, vLLM and Triton counters. Every recording
rule is checked for its value, every alert for firing when it should and staying silent before
and elsewhere. ``test_every_rule_is_tested`` keeps it that way.
"""

from __future__ import annotations

from typing import Any

from finops_cli.deploy import rules as r

H100 = "NVIDIA H100 80GB HBM3"
A10G = "NVIDIA A10G"
N1_PRICE, N2_PRICE = 6.0, 1.5  # per GPU-hour, as OpenCost's node_gpu_hourly_cost
BUDGETS = {"platform": 300.0, "labs": 200.0}  # monthly USD; nlp, vision, research have none
BATCH_COST_24H = 2 * N1_PRICE * 60 * (r.SCRAPE_INTERVAL_S / 3600)  # 2 GPUs for 60 minutes


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": f"{name}{{{_labels(labels)}}}", "values": values}


def sample(name: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    return {"labels": f"{name}{{{_labels(labels)}}}", "value": value}


def node(
    name: str, gpus: int, price: float, instance_type: str, steps: int
) -> list[dict[str, str]]:
    labels = {
        "instance": name,
        "node": name,
        "instance_type": instance_type,
        "region": "us-east-1",
        "provider_id": f"aws:///us-east-1a/i-{name}",
        "arch": "amd64",
    }
    return [
        series("node_gpu_count", labels, f"{gpus}x{steps}"),
        series("node_gpu_hourly_cost", labels, f"{price}x{steps}"),
    ]


def pod(
    namespace: str, name: str, node_name: str, gpus: int, labels: dict[str, str], steps: int
) -> list[dict[str, str]]:
    container = {
        "namespace": namespace,
        "pod": name,
        "container": "main",
        "instance": node_name,
        "node": node_name,
    }
    ksm = {"namespace": namespace, "pod": name, "uid": f"uid-{name}"} | labels
    return [
        series("container_gpu_allocation", container, f"{gpus}x{steps}"),
        series("kube_pod_labels", ksm, f"1x{steps}"),
    ]


def gpu(
    node_name: str,
    index: int,
    model: str,
    host_label: str,
    holder: tuple[str, str] | None,
    metrics: dict[str, str],
) -> list[dict[str, str]]:
    labels = {
        "gpu": str(index),
        "UUID": f"GPU-{node_name}-{index}",
        "pci_bus_id": f"00000000:{0x18 + 0x10 * index:02X}:00.0",
        "device": f"nvidia{index}",
        "modelName": model,
        host_label: node_name,
        "DCGM_FI_DRIVER_VERSION": "580.105.08",
    }
    if holder is not None:
        labels |= {"container": "main", "namespace": holder[0], "pod": holder[1], "pod_uid": ""}
    return [series(name, labels, values) for name, values in metrics.items()]


def team(name: str) -> dict[str, str]:
    return {"label_ai_finops_io_team": name, "label_ai_finops_io_environment": "production"}


STEPS = 180  # three hours of one-minute samples


def main_cluster() -> list[dict[str, str]]:
    n = STEPS
    s: list[dict[str, str]] = []
    s += node("n1", 8, N1_PRICE, "p5.48xlarge", n)
    s += node("n2", 4, N2_PRICE, "g5.12xlarge", n)
    s += pod("research", "train-0", "n1", 4, team("research"), n)
    s += pod(
        "nlp",
        "chat-0",
        "n2",
        1,
        team("nlp") | {"label_ai_finops_io_model": "llama-3-8b"},
        n,
    )
    s += pod("vision", "triton-0", "n2", 1, team("vision"), n)
    s += pod("sandbox", "notebook", "n2", 1, {}, n)  # no team label: __unallocated__
    # Two batch jobs with monthly budgets hold two of n1's free GPUs each for the first hour only,
    # so their 24-hour spend is settled (and the chained rules are exact) after minute 60.
    for name in BUDGETS:
        s += pod(name, "batch-0", "n1", 2, team(name), 59)
    # n1 (released dcgm-exporter: Hostname): train-0 holds GPUs 0-3, 4-7 are free.
    for i in range(8):
        temp = {0: f"50x4 88x{n - 5}", 1: f"50x4 95x{n - 5}"}.get(i, f"45x{n}")
        metrics = {"DCGM_FI_DEV_GPU_TEMP": temp}
        if i < 4:
            metrics |= {
                "DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"0.75x{n}",
                "DCGM_FI_DEV_GPU_UTIL": f"97x{n}",
            }
        else:
            metrics |= {"DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"0x{n}", "DCGM_FI_DEV_GPU_UTIL": f"0x{n}"}
        if i == 2:
            metrics["DCGM_FI_DEV_XID_ERRORS"] = f"0x9 79x{n - 10}"
        metrics["DCGM_FI_DEV_POWER_USAGE"] = f"{500 if i < 4 else 125}x{n}"  # W: binary-exact kW
        holder = ("research", "train-0") if i < 4 else None
        s += gpu("n1", i, H100, "Hostname", holder, metrics)
    # n2 (unreleased dcgm-exporter: lowercase hostname).
    s += gpu(
        "n2",
        0,
        A10G,
        "hostname",
        ("nlp", "chat-0"),
        {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"0.5x{n}",
            "DCGM_FI_DEV_GPU_UTIL": f"63x{n}",
            "DCGM_FI_DEV_GPU_TEMP": f"60x{n}",
            "DCGM_FI_DEV_POWER_USAGE": f"250x{n}",
        },
    )
    s += gpu(
        "n2",
        1,
        A10G,
        "hostname",
        ("sandbox", "notebook"),
        {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"0.015625x{n}",
            "DCGM_FI_DEV_GPU_UTIL": f"6x{n}",
            "DCGM_FI_DEV_GPU_TEMP": f"40x{n}",
            "DCGM_FI_DEV_POWER_USAGE": f"62.5x{n}",
        },
    )
    # Triton's GPU reports no profiling metric (fallback to GPU_UTIL / 100).
    s += gpu(
        "n2",
        2,
        A10G,
        "hostname",
        ("vision", "triton-0"),
        {
            "DCGM_FI_DEV_GPU_UTIL": f"25x{n}",
            "DCGM_FI_DEV_GPU_TEMP": f"55x{n}",
            "DCGM_FI_DEV_POWER_USAGE": f"375x{n}",
        },
    )
    s += gpu(
        "n2",
        3,
        A10G,
        "hostname",
        None,
        {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"0x{n}",
            "DCGM_FI_DEV_GPU_UTIL": f"0x{n}",
            "DCGM_FI_DEV_GPU_TEMP": f"35x{n}",
            "DCGM_FI_DEV_POWER_USAGE": f"125x{n}",
        },
    )
    # kube-state-metrics' node labels: the region the carbon factor is looked up by.
    for name in ("n1", "n2"):
        region = {"node": name, "label_topology_kubernetes_io_region": "us-east-1"}
        s.append(series("kube_node_labels", region, f"1x{n}"))
    vllm = {"namespace": "nlp", "pod": "chat-0", "model_name": "llama-3-8b", "engine": "0"}
    s.append(series("vllm:request_success_total", vllm | {"finished_reason": "stop"}, f"0+60x{n}"))
    s.append(series("vllm:prompt_tokens_total", vllm, f"0+6000x{n}"))
    s.append(series("vllm:generation_tokens_total", vllm, f"0+2400x{n}"))
    triton = {"namespace": "vision", "pod": "triton-0", "model": "resnet50", "version": "1"}
    s.append(series("nv_inference_request_success", triton, f"0+120x{n}"))
    # Budgets as `finops deploy --set budget.platform=300` records them.
    for name, amount in BUDGETS.items():
        s.append(series(r.TEAM_BUDGET, {"team": name}, f"{amount}x{n}"))
    # Scrape health: opencost stops answering at minute 20; prometheus itself is not watched.
    s.append(series("up", {"job": "opencost", "instance": "opencost:9003"}, f"1x19 0x{n - 20}"))
    s.append(series("up", {"job": "prometheus", "instance": "localhost:9090"}, f"0x{n}"))
    return s


def _team_values() -> dict[str, dict[str, float]]:
    cost = {"research": 4 * N1_PRICE, "nlp": N2_PRICE, "vision": N2_PRICE, r.UNALLOCATED: N2_PRICE}
    gpus = {"research": 4, "nlp": 1, "vision": 1, r.UNALLOCATED: 1}
    busy = {"research": 4 * 0.75, "nlp": 0.5, "vision": 0.25, r.UNALLOCATED: 0.015625}
    eff = {t: busy[t] / gpus[t] for t in busy}
    return {
        r.TEAM_COST: cost,
        r.TEAM_GPUS: {t: float(v) for t, v in gpus.items()},
        r.TEAM_BUSY: busy,
        r.TEAM_OBSERVED: {t: float(v) for t, v in gpus.items()},
        r.TEAM_EFFICIENCY: eff,
        r.TEAM_WASTE: {t: cost[t] * (1 - eff[t]) for t in cost},
        # The 7-day views still hold the finished batch jobs.
        r.TEAM_COST_AVG_7D: cost | {t: 2 * N1_PRICE for t in BUDGETS},
        r.TEAM_COST_STDDEV_7D: {t: 0.0 for t in [*cost, *BUDGETS]},
    }


def _region_carbon(region: str) -> str:
    """The region's kgCO2e per GPU kWh as the generated rule writes it (grid factor x PUE)."""
    from finops_cli.pricing.carbon import load_carbon_tables

    factor = load_carbon_tables().factor(region)
    return f"{(factor.kg_co2e_per_kwh or 0.0) * factor.pue:.6g}"


def _cost_24h(per_hour: float, minute: int) -> float:
    """The 24h subquery sums one recorded value per minute since minute 0."""
    return per_hour * (minute + 1) * (r.SCRAPE_INTERVAL_S / 3600)


def main_tests() -> list[dict[str, Any]]:
    at = 70  # minutes: past the 1h counter window
    exprs: list[dict[str, Any]] = []
    for record, values in _team_values().items():
        exprs.append(
            {
                "expr": record,
                "eval_time": f"{at}m",
                "exp_samples": [sample(record, {"team": t}, v) for t, v in sorted(values.items())],
            }
        )
    capacity, allocated = 12.0, 7.0
    cluster_cost = 8 * N1_PRICE + 4 * N2_PRICE
    allocated_cost = 4 * N1_PRICE + 3 * N2_PRICE
    busy = 3.0 + 0.5 + 0.25 + 0.015625  # binary-exact, so sums match to the bit
    scalars = {
        r.CLUSTER_CAPACITY: capacity,
        r.CLUSTER_ALLOCATED: allocated,
        r.CLUSTER_IDLE: capacity - allocated,
        r.CLUSTER_COST: cluster_cost,
        r.CLUSTER_ALLOCATED_COST: allocated_cost,
        r.CLUSTER_IDLE_COST: cluster_cost - allocated_cost,
        r.CLUSTER_BUSY: busy,
        r.CLUSTER_OBSERVED: allocated,
        r.CLUSTER_EFFICIENCY: busy / allocated,
    }
    for record, value in scalars.items():
        exprs.append(
            {"expr": record, "eval_time": f"{at}m", "exp_samples": [sample(record, {}, value)]}
        )
    # 5 idle GPUs for the 60 one-minute samples of the last hour (a 1 ms shorter window); at
    # minute 130, long after the batch jobs left.
    idle_hours = 5.0 * 60 * (r.SCRAPE_INTERVAL_S / 3600)
    exprs.append(
        {
            "expr": r.CLUSTER_IDLE_HOURS_1H,
            "eval_time": "130m",
            "exp_samples": [sample(r.CLUSTER_IDLE_HOURS_1H, {}, idle_hours)],
        }
    )
    by_gpu_model = {
        r.GPU_MODEL_COST: {H100: 4 * N1_PRICE, A10G: 3 * N2_PRICE},
        r.GPU_MODEL_BUSY: {H100: 3.0, A10G: 0.765625},
        r.GPU_MODEL_OBSERVED: {H100: 4.0, A10G: 3.0},
        r.GPU_MODEL_EFFICIENCY: {H100: 0.75, A10G: 0.765625 / 3},
    }
    for record, values in by_gpu_model.items():
        exprs.append(
            {
                "expr": record,
                "eval_time": f"{at}m",
                "exp_samples": [
                    sample(record, {"gpu_model": m}, v) for m, v in sorted(values.items())
                ],
            }
        )
    # Model cost: chat-0 by its model label; triton-0 (no model label) by what Triton reports.
    by_model = {
        r.MODEL_COST: {"llama-3-8b": N2_PRICE, "resnet50": N2_PRICE},
        r.MODEL_REQUESTS_1H: {"llama-3-8b": 3600.0, "resnet50": 7200.0},
        r.MODEL_PROMPT_TOKENS_1H: {"llama-3-8b": 360000.0},
        r.MODEL_GENERATED_TOKENS_1H: {"llama-3-8b": 144000.0},
    }
    for record, values in by_model.items():
        exprs.append(
            {
                "expr": record,
                "eval_time": f"{at}m",
                "exp_samples": [sample(record, {"model": m}, v) for m, v in sorted(values.items())],
            }
        )
    # Budgets: platform and labs have one; nlp, vision and research stay silent.
    for minute in (at, 120):
        exprs.append(
            {
                "expr": r.TEAM_COST_24H + '{team=~"platform|labs"}',
                "eval_time": f"{minute}m",
                "exp_samples": [
                    sample(r.TEAM_COST_24H, {"team": t}, BATCH_COST_24H) for t in sorted(BUDGETS)
                ],
            }
        )
        exprs.append(
            {
                "expr": r.TEAM_BUDGET_BURN,
                "eval_time": f"{minute}m",
                "exp_samples": [
                    sample(r.TEAM_BUDGET_BURN, {"team": t}, BATCH_COST_24H * 31 / BUDGETS[t])
                    for t in sorted(BUDGETS)
                ],
            }
        )
    # GPU power (kW) of what each team holds and of every GPU, and its carbon per hour.
    power = {"research": 2.0, "nlp": 0.25, "vision": 0.375, r.UNALLOCATED: 0.0625}
    east = {"region": "us-east-1"}
    carbon = float(_region_carbon("us-east-1"))
    energy = {
        r.TEAM_POWER: [
            sample(r.TEAM_POWER, {"team": t} | east, v) for t, v in sorted(power.items())
        ],
        r.CLUSTER_POWER: [sample(r.CLUSTER_POWER, east, 4 * 0.5 + 4 * 0.125 + 0.8125)],
        r.REGION_CARBON + '{region="us-east-1"}': [sample(r.REGION_CARBON, east, carbon)],
        r.TEAM_CARBON: [
            sample(r.TEAM_CARBON, {"team": t}, v * carbon) for t, v in sorted(power.items())
        ],
    }
    for expr, expected in energy.items():
        exprs.append({"expr": expr, "eval_time": f"{at}m", "exp_samples": expected})
    exprs.append(
        {
            "expr": r.TEAM_BUDGET,
            "eval_time": f"{at}m",
            "exp_samples": [
                sample(r.TEAM_BUDGET, {"team": t}, v) for t, v in sorted(BUDGETS.items())
            ],
        }
    )
    return [
        {
            "name": "a cluster as the exporters write it",
            "interval": "1m",
            "input_series": main_cluster(),
            "promql_expr_test": exprs,
            "alert_rule_test": main_alerts(),
        }
    ]


def main_alerts() -> list[dict[str, Any]]:
    rule_alerts = {a.name: a for g in r.alert_groups() for a in g.rules}

    def fired(name: str, labels: dict[str, str], value: str) -> dict[str, Any]:
        rule = rule_alerts[name]
        exp = {"exp_labels": rule.labels | labels}
        exp["exp_annotations"] = {k: _expand(v, labels, value) for k, v in rule.annotations.items()}
        return exp

    n1_h100 = {"modelName": H100, "node": "n1"}
    idle = {"namespace": "sandbox", "pod": "notebook", "node": "n2", "gpu_model": A10G}
    tests: list[dict[str, Any]] = [
        # Idle allocated GPU: the notebook's GPU is 1% busy from the start; fires at 30 minutes.
        {"eval_time": "29m", "alertname": "FinopsIdleAllocatedGPU", "exp_alerts": []},
        {
            "eval_time": "31m",
            "alertname": "FinopsIdleAllocatedGPU",
            "exp_alerts": [fired("FinopsIdleAllocatedGPU", idle, "0.02")],
        },
        # Temperature: GPU 0 at 88 C and GPU 1 at 95 C from minute 5.
        {"eval_time": "13m", "alertname": "FinopsGPUTemperatureHigh", "exp_alerts": []},
        {
            "eval_time": "15m",
            "alertname": "FinopsGPUTemperatureHigh",
            "exp_alerts": [
                fired("FinopsGPUTemperatureHigh", n1_h100 | {"gpu": "0", "UUID": "GPU-n1-0"}, "88"),
                fired("FinopsGPUTemperatureHigh", n1_h100 | {"gpu": "1", "UUID": "GPU-n1-1"}, "95"),
            ],
        },
        {"eval_time": "8m", "alertname": "FinopsGPUTemperatureCritical", "exp_alerts": []},
        {
            "eval_time": "10m",
            "alertname": "FinopsGPUTemperatureCritical",
            "exp_alerts": [
                fired(
                    "FinopsGPUTemperatureCritical",
                    n1_h100 | {"gpu": "1", "UUID": "GPU-n1-1"},
                    "95",
                )
            ],
        },
        # XID 79 on n1 GPU 2 from minute 10: fires at once.
        {"eval_time": "9m", "alertname": "FinopsGPUXidError", "exp_alerts": []},
        {
            "eval_time": "10m",
            "alertname": "FinopsGPUXidError",
            "exp_alerts": [
                fired("FinopsGPUXidError", n1_h100 | {"gpu": "2", "UUID": "GPU-n1-2"}, "79")
            ],
        },
        # opencost down from minute 20; prometheus' own job is not one finops needs.
        {"eval_time": "28m", "alertname": "FinopsExporterDown", "exp_alerts": []},
        {
            "eval_time": "30m",
            "alertname": "FinopsExporterDown",
            "exp_alerts": [
                fired(
                    "FinopsExporterDown",
                    {"job": "opencost", "instance": "opencost:9003"},
                    "0",
                )
            ],
        },
        # Budget burn: platform's and labs' 24h spend x 31 days passes 100% of their budget
        # (and labs' 150% at minute 48), and must hold an hour.
        # labs crosses 100% at minute 32, platform at minute 48: at 100 only labs fires.
        {
            "eval_time": "100m",
            "alertname": "FinopsBudgetBurnHigh",
            "exp_alerts": [fired("FinopsBudgetBurnHigh", {"team": "labs"}, "")],
        },
        {
            "eval_time": "115m",
            "alertname": "FinopsBudgetBurnHigh",
            "exp_alerts": [
                fired("FinopsBudgetBurnHigh", {"team": t}, "") for t in ("labs", "platform")
            ],
        },
        {"eval_time": "100m", "alertname": "FinopsBudgetBurnCritical", "exp_alerts": []},
        {
            "eval_time": "115m",
            "alertname": "FinopsBudgetBurnCritical",
            "exp_alerts": [fired("FinopsBudgetBurnCritical", {"team": "labs"}, "")],
        },
        # A steady cluster is no anomaly.
        {"eval_time": "170m", "alertname": "FinopsCostAnomaly", "exp_alerts": []},
    ]
    return tests


def anomaly_tests() -> list[dict[str, Any]]:
    """A day of steady spend at five-minute resolution, then vision takes five GPUs at once."""
    n = 24 * 12  # one day of 5-minute samples before the spike
    spike = 12  # one hour of it
    s: list[dict[str, str]] = []
    s += node("n2", 8, N2_PRICE, "g5.48xlarge", n + spike)
    s += pod("research", "eval-0", "n2", 2, team("research"), n + spike)
    s.append(
        series(
            "container_gpu_allocation",
            {
                "namespace": "vision",
                "pod": "sweep-0",
                "container": "main",
                "instance": "n2",
                "node": "n2",
            },
            f"1x{n - 1} 5x{spike}",
        )
    )
    s.append(
        series(
            "kube_pod_labels",
            {"namespace": "vision", "pod": "sweep-0", "uid": "uid-sweep"} | team("vision"),
            f"1x{n + spike}",
        )
    )
    rule = next(a for g in r.alert_groups() for a in g.rules if a.name == "FinopsCostAnomaly")
    labels = {"team": "vision"}
    value = f"{5 * N2_PRICE:.2f}"
    return [
        {
            "name": "a sudden jump in one team's GPU spend",
            "interval": "5m",
            "input_series": s,
            "alert_rule_test": [
                # Spike from 24h; pending for 30 minutes, then firing; research stays silent.
                {"eval_time": "24h25m", "alertname": "FinopsCostAnomaly", "exp_alerts": []},
                {
                    "eval_time": "24h35m",
                    "alertname": "FinopsCostAnomaly",
                    "exp_alerts": [
                        {
                            "exp_labels": rule.labels | labels,
                            "exp_annotations": {
                                k: _expand(v, labels, value) for k, v in rule.annotations.items()
                            },
                        }
                    ],
                },
            ],
        }
    ]


def ledger_tests() -> list[dict[str, Any]]:
    """The recorded ledger on a day and an hour of one-minute samples: one node, one team's
    pod on half its GPUs, serving a model it has no model label for (vLLM reports ``m``, 60
    requests a minute). The per-minute rates at the grain, the hourly rollup in the first minute
    of an hour (60 samples: the CLI's raw hour), the daily one at midnight, and
    ``finops_rules_info`` with the settings the rules were made with; the unit-cost measures:
    the pod's requests by its labels and served model, its GPUs moved onto ``m``."""
    from finops_cli.queries import recorded as rec

    n = 25 * 60
    s: list[dict[str, str]] = []
    s += node("n1", 8, N1_PRICE, "p5.48xlarge", n)
    s += pod("research", "train-0", "n1", 4, team("research"), n)
    served = {"namespace": "research", "pod": "train-0", "model_name": "m"}
    s.append(
        series("vllm:request_success_total", served | {"finished_reason": "stop"}, f"0+60x{n}")
    )
    for i in range(8):
        busy = "0.75" if i < 4 else "0"
        holder = ("research", "train-0") if i < 4 else None
        metrics = {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": f"{busy}x{n}",
            "DCGM_FI_DEV_GPU_TEMP": f"45x{n}",
            "DCGM_FI_DEV_FB_USED": f"1000x{n}",
            "DCGM_FI_DEV_FB_FREE": f"80000x{n}",
            "DCGM_FI_DEV_POWER_USAGE": f"300x{n}",
        }
        s += gpu("n1", i, H100, "Hostname", holder, metrics)
    owner = {"namespace": "research", "pod": "train-0", "uid": "uid-train-0"}
    owner |= {"owner_kind": "ReplicaSet", "owner_name": "train-5d8f7c9b4"}
    s.append(series("kube_pod_owner", owner, f"1x{n}"))
    grain = {
        "namespace": "research",
        "label_ai_finops_io_team": "research",
        "label_ai_finops_io_environment": "production",
        "gpu_model": H100,
    }
    per_hour = {  # GPUs (or $/h) at any instant
        "gpu_hours": 4.0,
        "gpu_cost": 4 * N1_PRICE,
        "busy_gpu_hours": 3.0,
        "observed_gpu_hours": 4.0,
        "wasted_cost": 4 * N1_PRICE * 0.25,
        "allocated_gpu_hours": 4.0,
        "allocated_gpu_cost": 4 * N1_PRICE,
        "allocated_wasted_cost": 4 * N1_PRICE * 0.25,
        "capacity_gpu_hours": 8.0,
        "capacity_gpu_cost": 8 * N1_PRICE,
        # 300 W per GPU (DCGM_FI_DEV_POWER_USAGE, read by gpus' statistics too)
        "energy_kwh": 4 * 0.3,
        "allocated_energy_kwh": 4 * 0.3,
        "capacity_energy_kwh": 8 * 0.3,
        "requests": 3600.0,  # 60 a minute: the counter's increase between the evaluations
        "served_gpu_hours": 4.0,
        "served_gpu_cost": 4 * N1_PRICE,
        "served_busy_gpu_hours": 3.0,
        "served_observed_gpu_hours": 4.0,
        "served_wasted_cost": 4 * N1_PRICE * 0.25,
        "served_energy_kwh": 4 * 0.3,  # the serving pod's GPUs at 300 W
    }
    traffic = {k: v for k, v in grain.items() if k != "gpu_model"} | {"served_model": "m"}
    exprs: list[dict[str, Any]] = []
    for measure in rec.RECORDED_MEASURES:
        labels = {} if measure in rec.CLUSTER_MEASURES else grain
        if measure in rec.TRAFFIC_MEASURES:
            labels = traffic
        elif measure in rec.SERVED_RECORDED:
            labels = {"namespace": "research", "served_model": "m"}
        value = per_hour.get(measure)
        for name, at, hours in (
            (rec.rate_name(measure), "70m", 1.0),
            (rec.hourly_name(measure), "120m", 1.0),
            (rec.daily_name(measure), "1440m", 24.0),
        ):
            expected = [] if value is None else [sample(name, labels, value * hours)]
            exprs.append({"expr": name, "eval_time": at, "exp_samples": expected})
        # Gated: nothing between the hours (or the days).
        exprs.append({"expr": rec.hourly_name(measure), "eval_time": "121m", "exp_samples": []})
        exprs.append({"expr": rec.daily_name(measure), "eval_time": "120m", "exp_samples": []})
    team_labels = {"label_ai_finops_io_team": "research"}
    for measure in rec.TEAM_MEASURES:  # by team alone: what anomalies reads per hour
        value = per_hour[measure]
        for name, at in (
            (rec.team_rate_name(measure), "70m"),
            (rec.team_hourly_name(measure), "120m"),
        ):
            exprs.append(
                {"expr": name, "eval_time": at, "exp_samples": [sample(name, team_labels, value)]}
            )
        exprs.append(
            {"expr": rec.team_hourly_name(measure), "eval_time": "121m", "exp_samples": []}
        )
    exprs += stats_exprs()
    info = rec.info_labels(r.ledger_context())
    exprs.append(
        {
            "expr": rec.RULES_INFO,
            "eval_time": "120m",
            "exp_samples": [sample(rec.RULES_INFO, info, 1.0)],
        }
    )
    return [
        {
            "name": "the recorded ledger",
            "interval": "1m",
            "input_series": s,
            "promql_expr_test": exprs,
        }
    ]


def stats_exprs() -> list[dict[str, Any]]:
    """``gpus``' and ``rightsize``'s statistics (``queries.recorded_stats``) on the ledger's
    cluster: GPU 0 (held by research/train-0 of Deployment ``train``, 4 GPUs at 0.75 busy,
    1,000 MiB used of 81,000, 300 W, 45 C, $6/h) and the workload, per hour (60 samples) and
    per day (1,440), gated between them."""
    from finops_cli.queries import recorded_stats as rs

    gpu0 = {"node": "n1", "gpu": "0"}
    holder = gpu0 | {"namespace": "research", "pod": "train-0"}
    workload = {"namespace": "research", "workload_kind": "Deployment", "workload": "train"}
    per_sample: dict[tuple[str, str], tuple[dict[str, str], float]] = {
        ("gpu_present_samples", "sum"): (gpu0 | {"UUID": "GPU-n1-0", "modelName": H100}, 1),
        ("gpu_held_samples", "sum"): (gpu0, 1),
        ("gpu_memory_used_mib", "sum"): (gpu0, 1000),
        ("gpu_memory_used_samples", "sum"): (gpu0, 1),
        ("gpu_memory_used_mib", "max"): (gpu0, 1000),
        ("gpu_memory_total_mib", "max"): (gpu0, 81000),
        ("gpu_power_w", "sum"): (gpu0, 300),
        ("gpu_power_samples", "sum"): (gpu0, 1),
        ("gpu_temperature_c", "sum"): (gpu0, 45),
        ("gpu_temperature_samples", "sum"): (gpu0, 1),
        ("gpu_temperature_c", "max"): (gpu0, 45),
        ("gpu_price", "sum"): (gpu0, N1_PRICE),
        ("gpu_price_samples", "sum"): (gpu0, 1),
        ("gpu_busy", "sum"): (gpu0, 0.75),
        ("gpu_busy_samples", "sum"): (gpu0, 1),
        ("gpu_busy", "max"): (gpu0, 0.75),
        ("gpu_busy_any", "sum"): (gpu0, 0.75),
        ("gpu_busy_any_samples", "sum"): (gpu0, 1),
        ("gpu_used_price", "sum"): (gpu0, 0.75 * N1_PRICE),
        ("gpu_holder_samples", "sum"): (holder | {"label_ai_finops_io_team": "research"}, 1),
        ("workload_gpu_samples", "sum"): (workload, 4),
        ("workload_gpus", "max"): (workload, 4),
        ("workload_memory_used_mib", "max"): (workload, 1000),
        ("workload_memory_total_mib", "max"): (workload, 81000),
        ("workload_price", "sum"): (workload, 4 * N1_PRICE),
        ("workload_busy", "sum"): (workload, 3.0),
        ("workload_busy_samples", "sum"): (workload, 4),
        ("workload_busy", "max"): (workload, 0.75),
        (
            "workload_pod_gpu_samples",
            "sum",
        ): (workload | {"pod": "train-0", "node": "n1", "modelName": H100}, 4),
        ("workload_labels", "group"): (workload | {"label_ai_finops_io_team": "research"}, 1),
        ("node_held_gpu_samples", "sum"): ({"node": "n1"}, 4),
    }
    exprs: list[dict[str, Any]] = []
    for s in rs.RECORDED_STATS:
        if (s.name, s.op) == ("gpu_holder_last", "max"):  # the last sample's time
            for name, at, last in (
                (s.hourly_name(), "120m", 7200.0),
                (s.daily_name(), "1440m", 86400.0),
            ):
                expected = [sample(name, holder, last)]
                exprs.append({"expr": name + '{gpu="0"}', "eval_time": at, "exp_samples": expected})
            continue
        labels, value = per_sample[(s.name, s.op)]
        selector = '{gpu="0"}' if "gpu" in labels else ""
        scale = 1.0 if s.op in ("max", "group") else 60.0
        checks = [(s.hourly_name(), "120m", scale)]
        if s.daily:
            checks.append((s.daily_name(), "1440m", 24 * scale if scale > 1 else 1.0))
        for name, at, times in checks:
            exprs.append(
                {
                    "expr": f"{name}{selector}",
                    "eval_time": at,
                    "exp_samples": [sample(name, labels, value * times)],
                }
            )
        exprs.append({"expr": s.hourly_name(), "eval_time": "121m", "exp_samples": []})
    return exprs


def _expand(template: str, labels: dict[str, str], value: str) -> str:
    """The few Go template forms the annotations use."""
    out = template.replace('{{ $value | printf "%.2f" }}', value).replace("{{ $value }}", value)
    for key, val in labels.items():
        out = out.replace(f"{{{{ $labels.{key} }}}}", val)
    return out


def test_files(rules_file: str) -> dict[str, dict[str, Any]]:
    """File name -> promtool test document, reading the rules from ``rules_file``."""
    base = {"rule_files": [rules_file], "evaluation_interval": "1m"}
    return {
        "main.test.yaml": base | {"tests": main_tests()},
        "anomaly.test.yaml": base | {"evaluation_interval": "5m", "tests": anomaly_tests()},
        "ledger.test.yaml": base | {"tests": ledger_tests()},
    }


def tested_names() -> set[str]:
    names = set()
    for doc in test_files("x").values():
        for group in doc["tests"]:
            for t in group.get("promql_expr_test", []):
                names.add(t["expr"].split("{")[0])
            for t in group.get("alert_rule_test", []):
                names.add(t["alertname"])
    return names

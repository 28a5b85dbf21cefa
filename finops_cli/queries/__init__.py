"""The query library: the one place that says in PromQL what "GPU cost of a team" means.

Every PromQL expression finops sends is built here, from the settings a backend was found to need
(``QueryContext``); the sources only send them and read the answers. The Prometheus rules and the
dashboards that ``finops deploy`` ships are generated from the same functions, so the CLI and the
dashboards cannot disagree. The package is split by question:

- ``names``: metric and label names, group keys.
- ``context``: ``QueryContext`` (leaf reads, joins, the cost measures) and ``over_buckets``.
- ``inference``: traffic per model and the cost of serving pods (unit costs).
- ``gpu``: per-GPU and per-workload statistics over a window (gpus, rightsize).
- ``shards``: the parts a refused per-GPU or per-workload query is cut into.
- ``node``: per-node prices over a window (billing).
- ``sharing`` and ``shares``: shared and fractional GPUs (MIG, replicas, HAMi, KAI, DRA).
- ``hami``: HAMi's scheduler metrics (which HAMi pod holds what share of which GPU).
- ``replicas``: the GPUs of time-sliced and MPS nodes, for consolidating them (rightsize).
- ``discovery``: the probes that decide the context (present metrics, scrape interval...).

Everything is re-exported here: ``from finops_cli.queries import X`` is the way to use it.
"""

# ruff: noqa: F405  (__all__ names what the star import of ``names`` brings in)
from __future__ import annotations

from finops_cli.queries.context import (
    QueryContext,
    over_buckets,
)
from finops_cli.queries.discovery import (
    DCGM_POD_SERIES,
    EXPORTED_POD_SELECTORS,
    HOSTLESS_GPU_SERIES,
    NODE_PRICE_LABELS,
    any_metric,
    exported_pod_series,
    hostless_gpu_series,
    label_probes,
    node_sharing_label_sets,
    sample_count,
)
from finops_cli.queries.gpu import (
    GpuQueries,
)
from finops_cli.queries.inference import (
    GENERATED_TOKEN_COUNTERS,
    PROMPT_TOKEN_COUNTERS,
    REQUEST_COUNTERS,
    SERVING_METRICS,
    TRAFFIC_COUNTERS,
    InferenceQueries,
)
from finops_cli.queries.names import *  # noqa: F403  (every name; listed in __all__)
from finops_cli.queries.node import (
    NodeQueries,
    node_pools,
)
from finops_cli.queries.shards import (
    MAX_SHARDS,
    SHARD_ALPHABETS,
    Shard,
    shards,
    workload_shards,
)

__all__ = [
    "ACCELERATOR_LABEL",
    "BETA_INSTANCE_TYPE_LABEL",
    "BUSY_PROFILING",
    "BUSY_UTIL",
    "CAPACITY_LABELS",
    "CPU_ALLOCATION",
    "CPU_PRICE",
    "DCGM_POD_SERIES",
    "DEFAULT_COST_CENTER_KEY",
    "EXPORTED_POD_SELECTORS",
    "GENERATED_TOKEN_COUNTERS",
    "GPU_ALLOCATABLE",
    "GPU_ALLOCATION",
    "GPU_CAPACITY",
    "GPU_IDENTITY",
    "GPU_KEY",
    "GPU_PRESENCE",
    "GPU_PRICE",
    "GPU_REQUESTS",
    "GPU_TEMPERATURE",
    "GROUP_KEYS",
    "HOSTLESS_GPU_SERIES",
    "INSTANCE_TYPE_LABEL",
    "MAX_QUERY_BYTES",
    "MAX_SHARDS",
    "NODE_PRICE_LABELS",
    "NODE_TOTAL_PRICE",
    "POD_ANNOTATIONS",
    "POD_ANNOTATION_KEYS",
    "POD_ATTRIBUTE_KEYS",
    "POD_LABELS",
    "POD_LABEL_KEYS",
    "POOL_LABELS",
    "PROBED_METRICS",
    "PROMPT_TOKEN_COUNTERS",
    "RAM_ALLOCATION",
    "RAM_PRICE",
    "REGION_LABEL",
    "REQUEST_COUNTERS",
    "RULES_INFO",
    "SAMPLE_COUNT_RANGE_S",
    "SERVING_METRICS",
    "SHARD_ALPHABETS",
    "TRAFFIC_COUNTERS",
    "WORKLOAD_LABELS",
    "GpuQueries",
    "InferenceQueries",
    "NodeQueries",
    "QueryContext",
    "Shard",
    "any_metric",
    "exported_pod_series",
    "hostless_gpu_series",
    "label_probes",
    "node_pools",
    "node_sharing_label_sets",
    "over_buckets",
    "query_bytes",
    "sample_count",
    "shards",
    "workload_shards",
]

"""The probes that find out what a backend has before any measure is built.

Which contract metrics exist, how often they are scraped, whether dcgm-exporter's pod labels
arrive as ``exported_*`` and which node label sets the catalog fallback has to price: cheap
questions (index lookups or one number) whose answers decide the ``QueryContext``. They read no
pod or GPU series beyond that, so they apply no cluster filter or replica collapse.
"""

from __future__ import annotations

from collections.abc import Sequence

from finops_cli.promql import duration
from finops_cli.queries.names import (
    ACCELERATOR_LABEL,
    BETA_INSTANCE_TYPE_LABEL,
    BUSY_PROFILING,
    BUSY_UTIL,
    CAPACITY_LABELS,
    GPU_PRESENCE,
    GPU_TEMPERATURE,
    INSTANCE_TYPE_LABEL,
    REGION_LABEL,
    SAMPLE_COUNT_RANGE_S,
)

# dcgm-exporter series that carry the workload's pod labels (``pod`` or ``exported_pod``).
DCGM_POD_SERIES = (BUSY_PROFILING, BUSY_UTIL, GPU_TEMPERATURE)
# ``match[]`` for the values of ``exported_pod`` on them: only series that carry the label, so
# the index answers from that label's postings (VictoriaMetrics at 20,000 GPUs: 0.01 s of CPU,
# where listing it over every series of the three metrics took 0.5 s).
EXPORTED_POD_SELECTORS = tuple(f'{m}{{exported_pod!=""}}' for m in DCGM_POD_SERIES)


def label_probes(carriers: Sequence[str], labels: Sequence[str]) -> list[str]:
    """``match[]`` selectors whose label names include each of ``labels`` exactly when a series
    of ``carriers`` (a metric, or a selector ``metric{...}``) carries it non-empty: one index
    lookup per label's postings, instead of listing the label names of every series of the
    carriers (dcgm-exporter's: hundreds of thousands at 20,000 GPUs)."""
    probes = []
    for carrier in carriers:
        metric, _, matchers = carrier.partition("{")
        inner = matchers.rstrip("}")
        prefix = f"{inner}," if inner else ""
        probes += [f'{metric}{{{prefix}{label}!=""}}' for label in labels]
    return probes


# The node labels a GPU's catalog price depends on (``pricing.node_key``: the instance type, the
# beta label of older clusters, GKE's accelerator for N1 machines with attached GPUs).
NODE_PRICE_LABELS = (
    INSTANCE_TYPE_LABEL,
    BETA_INSTANCE_TYPE_LABEL,
    ACCELERATOR_LABEL,
    REGION_LABEL,
    *CAPACITY_LABELS,
)


def any_metric(names: Sequence[str]) -> str:
    """A ``match[]`` selector for the series of any of ``names``."""
    return f'{{__name__=~"{"|".join(names)}"}}'


def exported_pod_series() -> str:
    """Whether any dcgm-exporter series carries ``exported_pod`` (non-empty when one does): the
    fallback when listing the label's values is over a server limit. Only series that carry the
    label are read: none, usually."""
    names = "|".join(DCGM_POD_SERIES)
    return f'group(last_over_time({{__name__=~"{names}",exported_pod!=""}}[1h]))'


HOSTLESS_GPU_SERIES = f'{GPU_PRESENCE}{{Hostname="",hostname="",node=""}}'
"""dcgm-exporter series with no host label and no ``node`` (``--no-hostname``, no relabeling):
as ``match[]``, the index answers from postings whether any exist."""


def hostless_gpu_series() -> str:
    """Whether any dcgm-exporter series lacks a host label (non-empty when one does): the
    fallback when the index lookup is over a server limit."""
    return f"group(last_over_time({HOSTLESS_GPU_SERIES}[1h]))"


def sample_count(metric: str, range_s: float = SAMPLE_COUNT_RANGE_S) -> str:
    """Samples in six hours of the densest series: how the scrape interval is detected.

    Six hours, not one: a closed range (Prometheus 2.x) counts one sample more than an open
    one (3.x), and over an hour that one sample moves a 15-minute scrape to 12 minutes. A
    shorter ``range_s`` (1 ms short of ten expected intervals) confirms a known interval.
    """
    return f"max(count_over_time({metric}[{duration(range_s)}]))"


def node_sharing_label_sets(window_s: float) -> str:
    """Every combination of GPU-sharing node labels (replicas, MIG strategy, slices, product) the
    nodes carried in the window: what the shared-GPU factors have to be computed for."""
    from finops_cli.queries.sharing import NODE_SHARING_LABELS

    labels = ", ".join(NODE_SHARING_LABELS)
    return f"group by ({labels}) (last_over_time(kube_node_labels[{duration(window_s)}]))"

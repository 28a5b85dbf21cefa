"""Cost figures from a Prometheus-compatible engine, aggregated on the server.

``PrometheusCostSource`` is the entry point the commands open; it holds the client and the
settings, and each question lives in a module of its own:

- ``prometheus_discovery``: which metrics exist, the scrape interval, exporter variants, the
  catalog fallback: the ``QueryContext`` a backend needs.
- ``prometheus_costs``: ``costs`` (per bucket and group) and ``node_costs`` (per node).
- ``prometheus_recorded``: which hours the recorded ledger answers, stitched with raw ones.
- ``prometheus_gpus``: ``gpus`` and ``pods`` (rightsize).
- ``prometheus_inference``: ``inference`` (unit costs).
- ``prometheus_sharding``: the bounded thread pool, and sharding of refused window queries.
- ``prometheus_rows``: answers merged into frames and rows.

Every PromQL expression comes from the query library (``finops_cli.queries``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from finops_cli.pricing import PriceCatalog
from finops_cli.sources import prometheus_costs, prometheus_gpus, prometheus_inference
from finops_cli.sources.interface import CostSource
from finops_cli.sources.prometheus_client import PrometheusClient, PrometheusSettingsLike

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.sources.interface import (
        CostData,
        CostRequest,
        GpuData,
        InferenceData,
        PodGpuData,
    )
    from finops_cli.timewindow import Window

_warn_log = logging.getLogger("finops")


class PrometheusCostSource(CostSource):
    """Answers every ``CostSource`` question from any Prometheus-compatible HTTP API.

    It holds what the question modules share: the client, the label settings, the catalog for
    the no-OpenCost fallback and the concurrency bound; each method hands itself to one of them.
    """

    name = "prometheus"
    concurrent_questions = True

    def __init__(
        self,
        settings: PrometheusSettingsLike,
        pod_labels: dict[str, str],
        *,
        client: PrometheusClient | None = None,
        catalog: PriceCatalog | None = None,
        cluster_label: str | None = None,
        sample_interval_s: float | None = None,
        replica_labels: tuple[str, ...] = (),
        recorded: bool = True,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client or PrometheusClient(
            settings, on_warning=on_warning, max_body_bytes=settings.max_body_bytes
        )
        self.on_warning = on_warning or (lambda message: _warn_log.warning("%s", message))
        self.pod_labels = pod_labels
        self.cluster_label = cluster_label
        self.sample_interval_s = sample_interval_s
        self.replica_labels = replica_labels
        self.recorded = recorded  # read the recorded ledger where it covers the window
        self.catalog = catalog
        self.max_concurrency = max(1, settings.max_concurrency)

    def close(self) -> None:
        self.client.close()

    def costs(self, request: CostRequest) -> CostData:
        return prometheus_costs.costs(self, request)

    def node_costs(self, window: Window) -> pd.DataFrame:
        return prometheus_costs.node_costs(self, window)

    def inference(self, request: CostRequest) -> InferenceData:
        return prometheus_inference.inference(self, request)

    def gpus(self, window: Window, cluster: str | None = None) -> GpuData:
        return prometheus_gpus.gpus(self, window, cluster)

    def pods(self, window: Window, cluster: str | None = None) -> PodGpuData:
        return prometheus_gpus.pods(self, window, cluster)

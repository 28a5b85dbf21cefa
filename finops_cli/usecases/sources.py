"""Opening the configured cost source as a context manager, and loading pandas meanwhile.

``with open_source(run) as source:`` replaces the open / try / finally close blocks every command
had: the source is closed however the block ends.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from finops_cli.errors import UsageError

if TYPE_CHECKING:
    from finops_cli.settings import Settings
    from finops_cli.sources.interface import CostSource
    from finops_cli.usecases.context import RunContext

SAMPLE_BANNER = (
    "finops: no Prometheus configured, reading the built-in SAMPLE cluster (simulated data); "
    "point at a real one with --prometheus-url URL or FINOPS_PROMETHEUS_URL"
)
ANALYTICS_MODULES = ("pandas",)  # numpy comes with it

ENDS_WITH_THE_COMMAND = False
"""True in the console script (``cli.app.run``), whose process ends when its command does.

Then what the background imports create is frozen out of the garbage collector once loaded:
those objects live until the process ends anyway, and without the freeze every full collection
walks all of pandas' and numpy's, which the many small lists of a few MB of JSON answers trigger
(about 0.05 s after the last answer of ``anomalies`` here). A caller that goes on, such as the
test suite running commands in-process, leaves it False.
"""


def load_in_background(modules: Sequence[str]) -> None:
    """Import ``modules`` on a thread of their own.

    pandas takes about half a second to import, and a command needs it only once its queries
    are answered: loading it while the server works takes it off the wall time of every query
    command (use cases import their analytics after their queries for this). The thread is not
    a daemon, so the interpreter never exits in the middle of an import; a module that fails to
    load here fails again, with the usual one-line error, where the use case imports it.
    """

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # reported where the use case imports it
                continue
        if ENDS_WITH_THE_COMMAND:
            gc.freeze()

    # The first query resolves its host name, which loads the IDNA codec: imported here, the
    # query does not wait for the import lock while the thread holds it for pandas (~10 ms).
    import encodings.idna  # noqa: F401

    threading.Thread(target=load, name="load-analytics").start()


def pod_labels(settings: Settings) -> dict[str, str]:
    """Group key -> Kubernetes key: pod labels, and the cost-center pod annotation."""
    labels = settings.labels
    return {
        "team": labels.team,
        "project": labels.project,
        "model": labels.model,
        "environment": labels.environment,
        "cost_center": labels.cost_center,
    }


def cost_source(run: RunContext) -> CostSource:
    """The configured backend; announces the sample cluster on stderr when it is used."""
    settings = run.settings
    if settings.effective_source == "sample":
        from finops_cli.sources.sample import SampleCostSource

        run.notice(SAMPLE_BANNER)
        if settings.sample_fleet == "default":
            return SampleCostSource(pod_labels(settings), seed=settings.sample_seed)
        from finops_cli.sample.sharing import fleet_cluster

        cluster = fleet_cluster(settings.sample_fleet, settings.sample_seed)
        return SampleCostSource(pod_labels(settings), cluster=cluster)
    if settings.effective_source == "opencost":
        return opencost_source(run)
    from finops_cli.pricing import load_catalog
    from finops_cli.sources.prometheus import PrometheusCostSource

    prom = settings.prometheus
    source = PrometheusCostSource(
        prom,
        pod_labels(settings),
        cluster_label=settings.labels.cluster,
        sample_interval_s=prom.sample_interval_seconds,
        replica_labels=prom.replica_labels,
        recorded=not prom.raw,
        catalog=load_catalog(settings.pricing),
        on_warning=None if run.quiet else run.warn,
    )
    load_in_background(ANALYTICS_MODULES)  # while the server answers the first queries
    return source


def opencost_source(run: RunContext) -> CostSource:
    """The OpenCost allocation API, with the Prometheus settings' TLS, timeout and retries."""
    from finops_cli.sources.opencost import OpenCostCostSource

    oc = run.settings.opencost
    if oc.url is None:
        raise UsageError("no OpenCost URL: set --opencost-url or FINOPS_OPENCOST_URL")
    prom = run.settings.prometheus
    verify: bool | str = not prom.insecure_skip_tls_verify
    if verify and prom.ca_bundle is not None:
        verify = str(prom.ca_bundle)
    headers = {}
    if oc.bearer_token is not None:
        headers["Authorization"] = f"Bearer {oc.bearer_token.get_secret_value()}"
    return OpenCostCostSource(
        oc.url,
        pod_labels(run.settings),
        timeout_seconds=prom.timeout_seconds,
        retries=prom.retries,
        headers=headers,
        verify=verify,
        max_body_bytes=prom.max_body_bytes,
        on_warning=None if run.quiet else run.warn,
    )


@contextmanager
def open_source(run: RunContext, *, opencost: bool = False) -> Iterator[CostSource]:
    """The configured source (or OpenCost, for ``--compare``), closed when the block ends."""
    source = opencost_source(run) if opencost else cost_source(run)
    try:
        yield source
    finally:
        source.close()

"""``finops deploy backfill``: record the ledger's hourly rollups over data already stored.

A deployed Prometheus records the ledger (``rules.ledger_group``) from the moment its rules are
loaded; the hours before are raw-only until backfilled. This writes the backfill rule file
(``rules.ledger_backfill_group``: each rollup integrates the raw series itself) made with this
run's label settings, the data's scrape interval and the shared GPUs found in the range
(``discover``: MIG, replicas, HAMi, KAI, DRA, as the CLI discovers them), and runs the engine's
own tool over it:

- Prometheus: ``promtool tsdb create-blocks-from rules`` evaluates the rules against the running
  server and writes TSDB blocks into ``--output-dir``; move them into the server's data directory
  (``--storage.tsdb.path``) and restart it, or wait for its next block reload.
- VictoriaMetrics: ``vmalert -replay.timeFrom/-replay.timeTo`` evaluates them against
  ``-datasource.url`` and writes the results through ``-remoteWrite.url``, in two runs: the
  hours from the raw series, then their sums (``rules.ledger_replay_groups``).

Thanos and Mimir have no replay of their own: run promtool against Thanos Query (or Mimir's
Prometheus API) and upload the blocks (``thanos tools bucket upload-blocks``, ``mimirtool
backfill``); see docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from finops_cli.deploy.generate import HEADER, dump_yaml
from finops_cli.deploy.rules import (
    LEDGER_BACKFILL_FILE,
    LEDGER_CLUSTER_LABEL,
    RuleGroup,
    ledger_backfill_group,
    ledger_context,
    ledger_replay_groups,
)
from finops_cli.deploy.tools import cause, find_tool
from finops_cli.errors import FinopsError, UsageError
from finops_cli.files import SHARED, write_atomic
from finops_cli.promql import duration
from finops_cli.queries.context import CatalogPrices
from finops_cli.queries.recorded import ROLLUP_S, RULE_INTERVAL_S, rules_info_selector
from finops_cli.queries.sharing import Sharing

if TYPE_CHECKING:
    from collections.abc import Mapping

    from finops_cli.queries.context import QueryContext
    from finops_cli.settings import Settings
    from finops_cli.sources.prometheus_client import PrometheusClient

PROMTOOL_HINT = "install promtool (Debian: apt-get install prometheus)"
VMALERT_HINT = "install vmalert (Debian: apt-get install vmalert)"


@dataclass(frozen=True)
class Discovered:
    """What the backfill rules are made with, found over the range as the CLI finds it."""

    sample_interval_s: int
    sharing: Sharing | None
    """What is shared in the range (MIG, replicas, HAMi, KAI, DRA): the rules cost each pod its
    share, and ``finops_rules_info`` says what they were made with (None: whole GPUs)."""
    catalog_prices: CatalogPrices | None
    """The catalog's price of each node label set in the range, on a cluster without OpenCost:
    the rules price nodes from it as the CLI does (None: OpenCost's prices)."""
    exported_pod_labels: bool
    """dcgm-exporter's pod in ``exported_pod``: the rules join its series on it."""
    dcgm_node_by_ip: bool = False
    """Some dcgm-exporter runs with ``--no-hostname``: the rules place its GPUs on the node of
    the exporter pod's IP (``QueryContext.dcgm_node``)."""

    def ledger_context(
        self,
        pod_labels: Mapping[str, str] | None = None,
        cluster_label: str | None = LEDGER_CLUSTER_LABEL,
        replica_labels: tuple[str, ...] = (),
    ) -> QueryContext:
        """The recorded ledger's context made with what was found, so that a newly discovered
        setting reaches ``deploy generate --sharing-from`` and ``deploy backfill`` alike."""
        return ledger_context(
            pod_labels,
            sample_interval_s=self.sample_interval_s,
            cluster_label=cluster_label,
            sharing=self.sharing,
            catalog_prices=self.catalog_prices,
            exported_pod_labels=self.exported_pod_labels,
            replica_labels=replica_labels,
            dcgm_node_by_ip=self.dcgm_node_by_ip,
        )


@dataclass(frozen=True)
class BackfillPlan:
    """What to backfill: the rule file's settings and where the results go."""

    url: str
    start: datetime
    end: datetime
    pod_labels: dict[str, str]
    cluster_label: str | None
    rules_file: Path
    found: Discovered
    replica_labels: tuple[str, ...] = ()
    """Replica labels of HA pairs whose series the server holds side by side
    (``prometheus.replica_labels``): the rules count each pair once, as the CLI does."""
    replay_hours: int = 24
    """Hours per vmalert run (``replay_chunks``)."""


def _context(plan: BackfillPlan) -> QueryContext:
    return plan.found.ledger_context(plan.pod_labels, plan.cluster_label, plan.replica_labels)


def _write(path: Path, groups: list[RuleGroup]) -> Path:
    document = {"groups": [g.to_dict() for g in groups]}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, HEADER.format(module="rules") + dump_yaml(document), mode=SHARED)
    return path


def write_rules(plan: BackfillPlan) -> Path:
    """promtool's rule file for the plan's settings (every rollup from the raw series)."""
    return _write(plan.rules_file, [ledger_backfill_group(_context(plan))])


def replay_rules_files(plan: BackfillPlan) -> tuple[Path, Path]:
    """Where vmalert's two rule files go: ``--rules-file`` (the hours) and a sibling (the sums
    of hours: teams and days)."""
    path = plan.rules_file
    return path, path.with_name(f"{path.stem}.sums{path.suffix}")


def write_replay_rules(plan: BackfillPlan) -> tuple[Path, Path]:
    """vmalert's rule files for the plan's settings (``rules.ledger_replay_groups``)."""
    hours, sums = ledger_replay_groups(_context(plan))
    hours_file, sums_file = replay_rules_files(plan)
    return _write(hours_file, [hours]), _write(sums_file, [sums])


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def promtool_command(plan: BackfillPlan, output_dir: Path, promtool: str = "promtool") -> list[str]:
    return [
        promtool,
        "tsdb",
        "create-blocks-from",
        "rules",
        f"--url={plan.url}",
        f"--start={int(plan.start.timestamp())}",
        # The last hour's rollup lands in the minute after it: evaluate up to there.
        f"--end={int(plan.end.timestamp()) + RULE_INTERVAL_S}",
        f"--output-dir={output_dir}",
        str(plan.rules_file),
    ]


READABLE_WAIT_S = 120.0


def replay_chunks(plan: BackfillPlan) -> list[tuple[datetime, datetime]]:
    """``[from, to]`` of each vmalert run: the hours whose rollups the range holds (each hour
    ``h`` rolls up ``(h - 1h, h]``: the first at or after ``start``, the last at or before
    ``end``), ``plan.replay_hours`` a run, none in two runs. The runs evaluate on the hour,
    which the replay's rules, having no gate, rely on.

    Why runs of a day, not one: each rule is one range query per run, and VictoriaMetrics
    holds every raw point a query's inner step reads across the fleet at once (20,000 GPUs,
    14 days: 10.6 GB asked, refused over its 3.8 GB for concurrent queries on a 24 GiB
    machine; a day: about 0.8 GB). And why runs, not vmalert's own chunks
    (``-replay.maxDatapointsPerQuery``): vmalert 1.79 asks consecutive chunks with the
    boundary instant in both, and VictoriaMetrics keeps both samples, so a rollup on a boundary
    would count twice; each run ends an hour before the next one starts."""
    first = -(-int(plan.start.timestamp()) // ROLLUP_S) * ROLLUP_S
    last = int(plan.end.timestamp()) // ROLLUP_S * ROLLUP_S
    out = []
    while first <= last:
        to = min(first + (plan.replay_hours - 1) * ROLLUP_S, last)
        out.append((datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(to, UTC)))
        first = to + ROLLUP_S
    return out


def vmalert_command(
    plan: BackfillPlan,
    rules_file: Path,
    remote_write_url: str,
    chunk: tuple[datetime, datetime],
    vmalert: str = "vmalert",
) -> list[str]:
    return [
        vmalert,
        f"-rule={rules_file}",
        f"-datasource.url={plan.url}",
        f"-remoteWrite.url={remote_write_url}",
        f"-replay.timeFrom={_rfc3339(chunk[0])}",
        # A second past the run's last hour: vmalert refuses a range of one instant (a run of
        # one hour), and the next run starts an hour later.
        f"-replay.timeTo={_rfc3339(chunk[1] + timedelta(seconds=1))}",
        f"-replay.maxDatapointsPerQuery={plan.replay_hours}",
        # Evaluate once an hour: vmalert asks every 5 minutes by default (-datasource.queryStep),
        # whatever the group's interval.
        f"-datasource.queryStep={ROLLUP_S}s",
        # No rule of a run reads another's results (the second run reads the first's, written
        # by then): no pause between rules (1 s each by default).
        "-replay.rulesDelay=0s",
        "-replay.disableProgressBar",
    ]


def run(command: list[str], timeout_s: float) -> str:
    """Run a backfill tool; its output, or one error line naming the tool and its cause."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise FinopsError(
            f"{Path(command[0]).name} did not finish in {timeout_s:.0f} s: backfill a shorter "
            "range at a time (--start/--end)"
        ) from None
    if result.returncode != 0:
        raise FinopsError(f"{Path(command[0]).name} failed: {cause(result)}")
    return result.stdout + result.stderr


def backfill_prometheus(plan: BackfillPlan, output_dir: Path, timeout_s: float) -> list[Path]:
    """Blocks of the rollups over the plan's range, written into ``output_dir``."""
    promtool = find_tool("promtool", PROMTOOL_HINT)
    output_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in output_dir.iterdir()}
    write_rules(plan)
    run(promtool_command(plan, output_dir, promtool), timeout_s)
    return sorted(p for p in output_dir.iterdir() if p.is_dir() and p.name not in before)


def backfill_victoria_metrics(plan: BackfillPlan, remote_write_url: str, timeout_s: float) -> str:
    """Two vmalert runs over the plan's range (``rules.ledger_replay_groups``): the hours, then,
    once they are readable through ``plan.url``, their sums."""
    vmalert = find_tool("vmalert", VMALERT_HINT)
    hours_file, sums_file = write_replay_rules(plan)
    chunks = replay_chunks(plan)
    began = time.monotonic()
    out = [
        run(vmalert_command(plan, hours_file, remote_write_url, c, vmalert), timeout_s)
        for c in chunks
    ]
    left = timeout_s - (time.monotonic() - began)
    flush(remote_write_url)
    wait_readable(plan, chunks, min(READABLE_WAIT_S, max(left, 1.0)))
    out += [
        run(vmalert_command(plan, sums_file, remote_write_url, c, vmalert), timeout_s)
        for c in chunks
    ]
    return "".join(out)


SETTLE_S = 5.0
"""After the last hour reads back: VictoriaMetrics makes what it receives searchable in
per-CPU batches flushed every 2 s, so one hour readable does not mean all are."""


def flush(remote_write_url: str) -> None:
    """Ask a single-node VictoriaMetrics to make what vmalert wrote searchable now
    (``/internal/force_flush``); elsewhere (a cluster's vminsert) nothing answers it, and
    ``wait_readable`` waits instead."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{remote_write_url.rstrip('/')}/internal/force_flush", timeout=60)


def wait_readable(
    plan: BackfillPlan, chunks: list[tuple[datetime, datetime]], timeout_s: float
) -> None:
    """Wait until ``plan.url`` answers with every hour's ``finops_rules_info`` the first runs
    wrote (the last rule of each, so its hours' rollups came before it), then ``SETTLE_S``: a
    remote-write target makes what it receives readable a moment later, on a cluster only once
    its storage nodes have it. Summing hours that are not all readable yet would record short
    days."""
    first, last = chunks[0][0].timestamp(), chunks[-1][1].timestamp()
    expected = round((last - first) / ROLLUP_S) + 1
    info = rules_info_selector(_context(plan))
    query = f"sum(count_over_time({info}[{duration(last - first + 1)}]))"
    # Not PrometheusClient.instant: a poll must not be answered from VictoriaMetrics' cache.
    params = {"query": query, "time": f"{last:.0f}", "nocache": "1"}
    deadline = time.monotonic() + timeout_s
    found = 0
    while True:
        try:
            response = httpx.get(f"{plan.url}/api/v1/query", params=params, timeout=60)
            response.raise_for_status()
            result = response.json()["data"]["result"]
            found = int(float(result[0]["value"][1])) if result else 0
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            raise FinopsError(f"reading the recorded hours back failed: {exc}") from None
        if found >= expected:
            time.sleep(SETTLE_S)
            return
        if time.monotonic() > deadline:
            raise FinopsError(
                f"{plan.url} shows {found} of the {expected} recorded hours {timeout_s:.0f} s "
                "after vmalert wrote them: is --remote-write-url the storage --prometheus-url "
                "reads?"
            )
        time.sleep(0.5)


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise UsageError(f"--end ({end:%Y-%m-%d %H:%M}) must be after --start")
    if (end - start).total_seconds() < 3600:
        raise UsageError("backfill at least one hour: the rollups are hourly")


DEFAULT_RULES_FILE = Path(LEDGER_BACKFILL_FILE)


def discover(
    settings: Settings, start: datetime, end: datetime, sample_interval_s: int | None = None
) -> Discovered:
    """The data's scrape interval (``sample_interval_s``, else ``prometheus.sample_interval``,
    else detected as the CLI does), what is shared in ``[start, end]`` (``_shared``), whether
    dcgm-exporter's pod is in ``exported_pod`` (``honorLabels: false``) and, without OpenCost,
    the catalog price of every node label set there (as the CLI prices a window:
    ``node_catalog_prices``; a window inside the range finds a subset)."""
    from finops_cli import queries
    from finops_cli.pricing import load_catalog
    from finops_cli.sources import prometheus_discovery as discovery
    from finops_cli.sources.prometheus_client import PrometheusClient

    client = PrometheusClient(settings.prometheus)
    try:
        present = discovery.present_metrics(client, start, end)
        shared = _shared(client, settings, start, end, present)
        exported = bool(present & discovery.BUSY_METRICS) and discovery.uses_exported_pod_labels(
            client, start, end
        )
        by_ip = discovery.places_gpus_by_ip(client, start, end, present)
        prices = None
        if not discovery.opencost_priced(present):
            catalog = load_catalog(settings.pricing)
            prices, _, _ = discovery.node_catalog_prices(client, catalog, start, end, present)
        interval = sample_interval_s or settings.prometheus.sample_interval_seconds
        if not interval:
            metric = queries.GPU_ALLOCATION if prices is None else queries.GPU_REQUESTS
            interval = discovery.detect_sample_interval(client, metric, start, end)
        return Discovered(int(interval), shared, prices, exported, by_ip)
    finally:
        client.close()


def _shared(
    client: PrometheusClient,
    settings: Settings,
    start: datetime,
    end: datetime,
    present: frozenset[str],
) -> Sharing | None:
    from finops_cli.queries import QueryContext
    from finops_cli.sources import prometheus_discovery as discovery

    shared = discovery.discover_sharing(client, start, end, present)
    if shared is None:
        return None
    ctx = QueryContext({}, 60, cluster_label=settings.labels.cluster, sharing=shared)
    ctx, _ = discovery.capped_sharing(client, ctx, start, end)
    return ctx.sharing


def made_with(found: Discovered) -> str:
    """What the rules were made with (shared GPUs, where the prices come from, dcgm-exporter's
    pod label), for the output of ``deploy generate --sharing-from`` and ``deploy backfill``."""
    sharing = found.sharing
    if sharing is None:
        parts = ["whole GPUs (no shared GPUs found)"]
    else:
        parts = [f"shared GPUs: {', '.join(sharing.describe()) or 'per-pod GPU copies'}"]
    prices = found.catalog_prices
    if prices is None:
        parts.append("OpenCost's prices")
    else:
        parts.append(f"catalog prices for {len(prices)} node label set(s) (no OpenCost metrics)")
    if found.exported_pod_labels:
        parts.append("dcgm-exporter's pods in exported_pod (honorLabels: false)")
    if found.dcgm_node_by_ip:
        parts.append("dcgm-exporter without a host label: GPUs placed by the exporter pod's IP")
    return ", ".join(parts)

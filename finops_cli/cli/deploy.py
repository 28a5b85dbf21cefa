"""``finops deploy``: deploy, inspect, reach and remove the monitoring stack finops reads from."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finops_cli.cli.common import number_in, option
from finops_cli.errors import FinopsError, UsageError

if TYPE_CHECKING:
    from finops_cli.deploy.backfill import Discovered
    from finops_cli.deploy.orchestrate import Workload


class Target(StrEnum):
    kind = "kind"
    eks = "eks"
    generic = "generic"


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


class Engine(StrEnum):
    prometheus = "prometheus"
    victoriametrics = "victoriametrics"


class Service(StrEnum):
    grafana = "grafana"
    prometheus = "prometheus"
    opencost = "opencost"
    alertmanager = "alertmanager"


CONTEXT_HELP = "Kube context to use (default: kind-NAME for --target kind, else the current one)."
QUIET_HELP = "No progress or notices on stderr (errors still print)."

deploy_app = typer.Typer(
    name="deploy",
    help="Deploy the monitoring stack finops reads from: dcgm-exporter, kube-state-metrics, "
    "OpenCost, Prometheus (rules generated from finops' queries), Alertmanager, Grafana; "
    "Thanos with --multi-cluster.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _echo(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


HELP = {
    "--target": "kind (local, mock GPUs), eks, or generic.",
    "deploy --context": CONTEXT_HELP,
    "--dry-run": "Print the rendered manifests (one YAML stream) and stop.",
    "--set": (
        "A deployment setting, repeatable (cluster.name, grafana.adminPassword, "
        "alertmanager.slackWebhookUrl, budget.TEAM, ...; see docs/deployment.md). "
        "Secrets are better given as FINOPS_DEPLOY_* environment variables."
    ),
    "--create-cluster": "With --target kind: create the kind cluster.",
    "--multi-cluster": "Add Thanos (sidecar, query, store, compactor) over a bucket.",
    "--timeout": "How long to wait for rollouts, in seconds (1 or more).",
    "deploy --manifests-dir": "Use this manifests/ tree instead of the packaged one.",
    "deploy --quiet": QUIET_HELP,
    "--context": "Kube context (default: current).",
    "--output": "table (default on a terminal) or json.",
    "--yes": "Do not ask for confirmation.",
    "destroy --quiet": QUIET_HELP,
    "--service": "Only this service, repeatable (default: all).",
    "--address": "Local address to listen on.",
    "--check": "Exit 1 if a generated file is stale; write nothing.",
    "generate --manifests-dir": "Default: the repository's manifests/.",
    "generate --scrape-interval": "How often Prometheus scrapes, seconds or a duration (15s, "
    "5m): the Prometheus configuration's and the recorded ledger's, which finops_rules_info "
    "records (default: --sample-interval / FINOPS_SAMPLE_INTERVAL, else 60 s).",
    "generate --sharing-from": "Make the recorded ledger with the shared GPUs (MIG, replicas, "
    "HAMi, KAI, DRA) this Prometheus holds over --sharing-window, as finops discovers them, "
    "its dcgm-exporter pod label (exported_pod behind honorLabels: false) and, where it holds "
    "no OpenCost metrics, its nodes' catalog prices (default: whole GPUs, pod and OpenCost's "
    "prices; the CLI reads these rules only where they cover what it finds).",
    "generate --sharing-window": "How far back --sharing-from looks (a duration: 7d, 30d).",
    "backfill --prometheus-url": "The server holding the raw series (default: the configured "
    "prometheus.url); promtool or vmalert evaluate the rules against it.",
    "backfill --start": "First hour to record: ISO 8601 time or date, UTC (e.g. 2026-10-01).",
    "backfill --end": "Last hour to record (default: now).",
    "--engine": "prometheus (promtool writes TSDB blocks) or victoriametrics (vmalert replays "
    "into --remote-write-url).",
    "--output-dir": "Where promtool writes the blocks; move them into the server's data "
    "directory and restart it.",
    "--remote-write-url": "VictoriaMetrics: where vmalert writes the results, /api/v1/write "
    "appended (default: --prometheus-url, single-node VictoriaMetrics).",
    "backfill --sample-interval": "Scrape interval of the data, seconds (default: detected "
    "as the CLI does).",
    "--rules-file": "Where to write the backfill rule file (kept for inspection).",
    "backfill --timeout": "How long the tool may run, in seconds.",
    "--replay-hours": "VictoriaMetrics: hours each vmalert run evaluates; fewer when "
    "VictoriaMetrics refuses a run as over its memory for concurrent queries.",
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


ContextOption = Annotated[str | None, option(HELP["--context"], "--context", show_default=True)]


@deploy_app.callback(invoke_without_command=True)
def deploy(
    ctx: typer.Context,
    target: Annotated[
        Target | None, option(HELP["--target"], "--target", "-t", show_default=True)
    ] = None,
    context: Annotated[
        str | None, option(HELP["deploy --context"], "--context", show_default=True)
    ] = None,
    dry_run: Annotated[bool, option(HELP["--dry-run"], "--dry-run", show_default=True)] = False,
    set_: Annotated[
        list[str] | None, option(HELP["--set"], "--set", metavar="KEY=VALUE", show_default=True)
    ] = None,
    create_cluster: Annotated[
        bool, option(HELP["--create-cluster"], "--create-cluster", show_default=True)
    ] = False,
    multi_cluster: Annotated[
        bool, option(HELP["--multi-cluster"], "--multi-cluster", show_default=True)
    ] = False,
    timeout: Annotated[
        int,
        option(
            HELP["--timeout"],
            "--timeout",
            metavar="SECONDS",
            show_default=True,
            callback=number_in(ge=1),
        ),
    ] = 600,
    manifests_dir: Annotated[
        Path | None, option(HELP["deploy --manifests-dir"], "--manifests-dir", show_default=True)
    ] = None,
    quiet: Annotated[
        bool, option(HELP["deploy --quiet"], "--quiet", "-q", show_default=True)
    ] = False,
) -> None:
    """Render the target's manifests, apply them with server-side apply and wait for rollouts.

    Checks first that kubectl is installed and the context answers (for kind, that the cluster
    exists, or creates it with --create-cluster). Secrets (Grafana's generated admin password,
    Alertmanager receivers, object storage) go into Kubernetes Secrets on kubectl's stdin, never
    into files or output. Ends by printing how to reach Grafana, Prometheus and OpenCost.
    """
    if ctx.invoked_subcommand is not None:
        return
    if target is None:
        raise UsageError(
            "choose a target: finops deploy --target kind|eks|generic "
            "(or a subcommand: status, destroy, port-forward, generate)"
        )
    import os

    from finops_cli.deploy.orchestrate import DeployOptions, Ui
    from finops_cli.deploy.orchestrate import deploy as run_deploy
    from finops_cli.deploy.paths import manifests_dir as find_manifests
    from finops_cli.deploy.render import RenderRequest
    from finops_cli.deploy.values import parse_values

    if timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    values = parse_values(target.value, set_ or [], os.environ)
    request = RenderRequest(find_manifests(manifests_dir), values, multi_cluster)
    options = DeployOptions(request, context, dry_run, create_cluster, timeout)
    run_deploy(options, Ui(quiet=quiet), _echo)


@deploy_app.command("status")
def status(
    context: ContextOption = None,
    output: Annotated[
        StatusFormat | None, option(HELP["--output"], "--output", "-o", show_default=True)
    ] = None,
) -> None:
    """Readiness of every workload of the stack; exits 1 when any is not ready."""
    import json

    from finops_cli.deploy.orchestrate import status as get_status

    ctx, rows = get_status(context)
    fmt = output or (StatusFormat.table if sys.stdout.isatty() else StatusFormat.json)
    if fmt is StatusFormat.json:
        doc = {
            "context": ctx,
            "ready": all(r.is_ready for r in rows),
            "workloads": [
                {
                    "namespace": r.namespace,
                    "kind": r.kind,
                    "name": r.name,
                    "ready": r.ready,
                    "desired": r.desired,
                }
                for r in rows
            ],
        }
        _echo(json.dumps(doc, indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console(markup=False, emoji=False)  # label values are text, never markup
        console.print(status_table(ctx, rows, console.width))
    not_ready = [f"{r.kind.lower()}/{r.name}" for r in rows if not r.is_ready]
    if not_ready:
        raise FinopsError(f"{len(not_ready)} workload(s) not ready: {', '.join(not_ready)}")


def status_table(context: str, rows: list[Workload], width: int) -> Any:
    """The workloads, their readiness first: names whole, the namespace and kind columns
    dropped (whole) when the terminal is too narrow for them."""
    from rich.text import Text

    from finops_cli.render.layout import Column, Row, fitted_table

    columns = [
        Column("Namespace", drop=2),
        Column("Kind", drop=1),
        Column("Name"),
        Column("Ready", "right"),
    ]
    body = [
        Row(
            [
                r.namespace,
                r.kind,
                r.name,
                Text(f"{r.ready}/{r.desired}", style="green" if r.is_ready else "red"),
            ]
        )
        for r in rows
    ]
    return fitted_table(f"finops stack in {context}", columns, body, width)


@deploy_app.command("destroy")
def destroy(
    context: ContextOption = None,
    yes: Annotated[bool, option(HELP["--yes"], "--yes", "-y", show_default=True)] = False,
    quiet: Annotated[
        bool, option(HELP["destroy --quiet"], "--quiet", "-q", show_default=True)
    ] = False,
) -> None:
    """Delete the stack: its namespaces (volumes included) and its cluster-wide objects."""
    from finops_cli.deploy.orchestrate import NAMESPACES, Ui
    from finops_cli.deploy.orchestrate import destroy as run_destroy

    where = f"context {context}" if context else "the current context"
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to destroy without confirmation: pass --yes")
        prompt = f"Delete namespaces {', '.join(NAMESPACES)} and their data from {where}?"
        if not typer.confirm(prompt, err=True):
            raise typer.Abort()
    ctx = run_destroy(context, Ui(quiet=quiet))
    _echo(f"deleted the finops stack from context {ctx}\n")


@deploy_app.command("port-forward")
def port_forward(
    context: ContextOption = None,
    service: Annotated[
        list[Service] | None, option(HELP["--service"], "--service", "-s", show_default=True)
    ] = None,
    address: Annotated[
        str, option(HELP["--address"], "--address", show_default=True)
    ] = "127.0.0.1",
) -> None:
    """Forward Grafana (3000), Prometheus (9090), OpenCost (9003) and Alertmanager (9093)."""
    from finops_cli.deploy.orchestrate import port_forward as run_port_forward

    chosen = [s.value for s in service] if service else [s.value for s in Service]
    run_port_forward(context, chosen, address, _echo)


@deploy_app.command("generate")
def generate(
    check: Annotated[bool, option(HELP["--check"], "--check", show_default=True)] = False,
    manifests_dir: Annotated[
        Path | None, option(HELP["generate --manifests-dir"], "--manifests-dir", show_default=True)
    ] = None,
    scrape_interval: Annotated[
        str | None,
        option(HELP["generate --scrape-interval"], "--scrape-interval", show_default=True),
    ] = None,
    sharing_from: Annotated[
        str | None,
        option(HELP["generate --sharing-from"], "--sharing-from", metavar="URL", show_default=True),
    ] = None,
    sharing_window: Annotated[
        str, option(HELP["generate --sharing-window"], "--sharing-window", show_default=True)
    ] = "7d",
) -> None:
    """Regenerate the rules, Prometheus configuration and dashboards from the query library."""
    from finops_cli.deploy.backfill import made_with
    from finops_cli.deploy.generate import stale_files, write_files
    from finops_cli.deploy.paths import checkout_manifests_dir
    from finops_cli.deploy.rules import SCRAPE_INTERVAL_S, ledger_context, scrape_interval_problem
    from finops_cli.settings import load_settings
    from finops_cli.settings.checks import seconds_input

    root = manifests_dir or checkout_manifests_dir()
    if scrape_interval is not None:
        try:
            given = seconds_input(scrape_interval)
        except ValueError as exc:
            raise UsageError(f"--scrape-interval: {exc}") from None
    else:
        given = load_settings({}).prometheus.sample_interval_seconds
    seconds = float(given) if isinstance(given, (int, float)) else float(SCRAPE_INTERVAL_S)
    problem = scrape_interval_problem(seconds)
    if problem is not None:
        raise UsageError(problem)
    interval = int(seconds)
    if not (root / "base").is_dir():
        raise UsageError(f"{root} is not a manifests/ tree (no base/): pass --manifests-dir")
    ledger = ledger_context(sample_interval_s=interval)
    if sharing_from is not None:
        found = _discover(sharing_from, sharing_window, interval)
        _echo(f"recorded ledger made with {made_with(found)}\n")
        ledger = found.ledger_context()
    if check:
        stale = stale_files(root, ledger)
        if stale:
            raise FinopsError(
                f"generated files are stale: {', '.join(stale)} (run finops deploy generate)"
            )
        _echo("generated files are up to date\n")
        return
    for rel in write_files(root, ledger):
        _echo(f"wrote {root / rel}\n")


def _discover(url: str, window: str, interval_s: int) -> Discovered:
    """What is shared over the last ``window`` on the Prometheus at ``url``, whether its
    dcgm-exporter's pod is in ``exported_pod`` and, without OpenCost there, its nodes' catalog
    prices, found as the CLI finds them (the live rules cost each pod its share of what is
    found, at those prices)."""
    from datetime import UTC, datetime

    from finops_cli.deploy.backfill import discover
    from finops_cli.settings import load_settings
    from finops_cli.timewindow import parse_duration

    end = datetime.now(UTC)
    start = end - parse_duration(window)
    return discover(load_settings({"prometheus.url": url}), start, end, interval_s)


@deploy_app.command("backfill")
def backfill(
    start: Annotated[str, option(HELP["backfill --start"], "--start", show_default=True)],
    end: Annotated[str | None, option(HELP["backfill --end"], "--end", show_default=True)] = None,
    prometheus_url: Annotated[
        str | None,
        option(HELP["backfill --prometheus-url"], "--prometheus-url", show_default=True),
    ] = None,
    engine: Annotated[Engine, option(HELP["--engine"], "--engine", show_default=True)] = (
        Engine.prometheus
    ),
    output_dir: Annotated[
        Path, option(HELP["--output-dir"], "--output-dir", show_default=True)
    ] = Path("finops-backfill-blocks"),
    remote_write_url: Annotated[
        str | None, option(HELP["--remote-write-url"], "--remote-write-url", show_default=True)
    ] = None,
    sample_interval: Annotated[
        int | None,
        option(
            HELP["backfill --sample-interval"],
            "--sample-interval",
            metavar="SECONDS",
            show_default=True,
            callback=number_in(ge=1),
        ),
    ] = None,
    rules_file: Annotated[
        Path | None, option(HELP["--rules-file"], "--rules-file", show_default=True)
    ] = None,
    timeout: Annotated[
        int,
        option(
            HELP["backfill --timeout"],
            "--timeout",
            metavar="SECONDS",
            show_default=True,
            callback=number_in(ge=1),
        ),
    ] = 3600,
    replay_hours: Annotated[
        int,
        option(
            HELP["--replay-hours"],
            "--replay-hours",
            metavar="HOURS",
            show_default=True,
            callback=number_in(ge=1),
        ),
    ] = 24,
) -> None:
    """Record the ledger's hourly rollups over data already stored (history on day one).

    Writes the backfill rule file for the configured labels ([labels], FINOPS_LABEL_*), the
    data's scrape interval and the shared GPUs found in the range, then runs promtool tsdb
    create-blocks-from rules (Prometheus) or vmalert -replay (VictoriaMetrics) over
    --start..--end. See docs/deployment.md.
    """
    from datetime import UTC, datetime

    from finops_cli.deploy import backfill as bf
    from finops_cli.settings import load_settings
    from finops_cli.timewindow import parse_time
    from finops_cli.usecases.sources import pod_labels

    now = datetime.now(UTC)
    first = parse_time(start, now=now)
    last = parse_time(end, now=now) if end else now
    bf.check_range(first, last)
    settings = load_settings({"prometheus.url": prometheus_url})
    url = settings.prometheus.url
    if not url:
        raise UsageError("no Prometheus URL: pass --prometheus-url or set FINOPS_PROMETHEUS_URL")
    found = bf.discover(settings, first, last, sample_interval)
    interval = found.sample_interval_s
    plan = bf.BackfillPlan(
        url=url.rstrip("/"),
        start=first,
        end=last,
        pod_labels=pod_labels(settings),
        cluster_label=settings.labels.cluster,
        rules_file=rules_file or output_dir.parent / bf.DEFAULT_RULES_FILE,
        found=found,
        replica_labels=settings.prometheus.replica_labels,
        replay_hours=replay_hours,
    )
    made_with = bf.made_with(found)
    if engine is Engine.victoriametrics:
        target = remote_write_url or plan.url  # vmalert appends /api/v1/write
        bf.backfill_victoria_metrics(plan, target, timeout)
        files = " and ".join(str(p) for p in bf.replay_rules_files(plan))
        _echo(
            f"recorded {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC into {target} "
            f"(rules: {files}, scrape interval {interval} s, {made_with})\n"
        )
        return
    blocks = bf.backfill_prometheus(plan, output_dir, timeout)
    _echo(
        f"wrote {len(blocks)} block(s) of {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
        f"into {output_dir} (rules: {plan.rules_file}, scrape interval {interval} s, "
        f"{made_with}): move them into the Prometheus data directory and restart it\n"
    )

"""``finops billing commitments``: what Savings Plans, reservations and Capacity Blocks cover,
what they waste, where reserved capacity sat idle beside on-demand instances, what ends soon.

Where the commitments come from, in this order: ``--focus PATH`` (FOCUS rows: everything,
hour by hour), ``--athena TABLE`` (the same rows from a FOCUS table in Athena), ``--source
sample`` (the sample cluster's bill, as FOCUS rows), else AWS: Cost Explorer's own utilisation
and coverage reports and EC2's capacity reservations. ``--ec2`` adds EC2's reservation end
dates to a FOCUS bill (a bill row has no end date).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import ThresholdError, UsageError
from finops_cli.usecases.context import Outcome, RunContext

if TYPE_CHECKING:
    from finops_cli.analytics.commitments import CommitmentReport
    from finops_cli.sources.commitments_aws import CommitmentApis


@dataclass(frozen=True)
class CommitmentOptions:
    """The command's own flags, as given."""

    focus: Path | None = None
    athena: str | None = None
    profile: str | None = None
    no_cache: bool = False
    expiring_within: str = "30d"
    fail_on: Sequence[str] = ()
    ec2: bool = False


def open_apis(run: RunContext, profile: str | None, *, ec2: bool = True) -> CommitmentApis:
    """Cost Explorer (paid calls counted, cached like ``billing actual``) and EC2."""
    from finops_cli.sources import aws
    from finops_cli.sources.commitments_aws import CommitmentApis
    from finops_cli.sources.cost_explorer import open_cost_explorer

    billing = run.settings.billing
    profile = profile or billing.aws_profile
    ce = open_cost_explorer(profile, billing.aws_region, cache_ttl_seconds=0, use_cache=False)
    client = None
    if ec2:
        session = aws.session(profile)
        client = aws.client("ec2", session, billing.aws_region or session.region_name)
    return CommitmentApis(ce, client)


def billing_commitments(run: RunContext, options: CommitmentOptions) -> Outcome:
    """The ``billing-commitments`` document; the ``--fail-on`` failure when a gate trips."""
    from finops_cli.analytics.commitment_gates import parse_gate, tripped
    from finops_cli.timewindow import parse_duration
    from finops_cli.usecases.billing import bill_days

    if run.settings.source in ("prometheus", "opencost"):
        raise UsageError(
            f"--source {run.settings.source} reads the cluster, not the bill: billing commitments "
            "takes --focus PATH, --source sample, or Cost Explorer by default"
        )
    gates = [parse_gate(text) for text in options.fail_on]
    horizon = parse_duration(options.expiring_within)
    start, end = bill_days(run.window)
    report, source, paid = _report(run, options, start, end, horizon)
    run.warn_all(report.notes)
    from finops_cli.render.commitments import commitments_document

    failures = tripped(report, gates)
    document = commitments_document(
        report,
        source=source,
        start=start,
        end=end,
        window_label=run.window.label,
        generated_at=run.now,
        horizon_days=horizon.total_seconds() / 86400,
        gates=[g.text for g in gates],
        tripped=failures,
        paid_calls=paid,
    )
    failure = ThresholdError("--fail-on " + "; ".join(failures)) if failures else None
    return Outcome(document, failure)


def _reader(run: RunContext, options: CommitmentOptions) -> Any:
    """The FOCUS file reader, or the Athena one (same rows, same rules)."""
    if options.focus is not None:
        from finops_cli.sources.focus_commitments import FocusCommitments

        return FocusCommitments(options.focus)
    from finops_cli.sources.athena import open_athena
    from finops_cli.sources.athena_commitments import AthenaCommitments

    billing = run.settings.billing
    return AthenaCommitments(
        open_athena(
            str(options.athena),
            profile=options.profile or billing.aws_profile,
            region=billing.aws_region,
            database=billing.athena_database,
            workgroup=billing.athena_workgroup,
            output_location=billing.athena_output_location,
        )
    )


def _report(
    run: RunContext, options: CommitmentOptions, start: Any, end: Any, horizon: Any
) -> tuple[CommitmentReport, str, int]:
    from finops_cli.analytics.commitments import commitment_report, report_from_apis

    if options.focus is not None and options.athena is not None:
        raise UsageError("--focus and --athena conflict: read one bill at a time")
    if options.focus is not None or options.athena is not None:
        reader = _reader(run, options)
        with run.progress("Reading the bill's commitment rows"):
            frame = reader.rows(start, end)
        terms, paid = [], 0 if options.focus is not None else 1
        if options.ec2:
            apis = open_apis(run, options.profile)
            terms = apis.capacity_reservations()
        report = commitment_report(
            frame, terms=terms, now=run.now, horizon=horizon, notes=reader.notes
        )
        return report, reader.name, paid
    if run.settings.source == "sample":
        from finops_cli.sample.bill import SampleBill, focus_rows
        from finops_cli.sources.focus_commitments import records_frame
        from finops_cli.usecases.billing import SAMPLE_BILL_BANNER

        run.notice(SAMPLE_BILL_BANNER)
        low = datetime(start.year, start.month, start.day, tzinfo=UTC)
        high = datetime(end.year, end.month, end.day, tzinfo=UTC)
        items = SampleBill(seed=run.settings.sample_seed).line_items(low, high, run.now)
        frame = records_frame(focus_rows(items), start, end)
        return commitment_report(frame, now=run.now, horizon=horizon), "sample", 0
    apis = open_apis(run, options.profile, ec2=True)
    with run.progress("Asking Cost Explorer and EC2 about commitments"):
        plans, plan_terms = apis.savings_plans(start, end)
        reserved, reserved_terms = apis.reservations(start, end)
        coverage = apis.reservation_coverage(start, end)
        plan_coverage = apis.savings_plans_coverage(start, end)
        terms = [*plan_terms, *reserved_terms, *apis.capacity_reservations()]
    paid = apis.ce.paid_calls
    run.notice(f"finops: Cost Explorer: {paid} paid request(s) (${paid * 0.01:.2f})")
    notes = ["Cost Explorer's reservation coverage has no spot hours: spot is shown as 0"]
    notes += _plan_coverage_notes(plan_coverage)
    report = report_from_apis(
        [*plans, *reserved], coverage, terms=terms, now=run.now, horizon=horizon, notes=notes
    )
    return report, apis.name, paid


def _plan_coverage_notes(coverage: dict[str, tuple[float, float]]) -> list[str]:
    """Cost Explorer's reservation coverage counts hours a Savings Plan covered as on-demand;
    its Savings Plans coverage is money per instance family: say it for the GPU families."""
    from finops_cli.sources.billing import is_gpu_machine

    parts = []
    for family, (covered, on_demand) in sorted(coverage.items()):
        if is_gpu_machine(f"{family}.x") and covered + on_demand > 0:
            share = covered / (covered + on_demand)
            parts.append(f"{family} {share:.1%} ({covered:,.2f} of {covered + on_demand:,.2f})")
    if not parts:
        return []
    return [
        "Cost Explorer counts hours a Savings Plan covered as on-demand hours in reservation "
        "coverage; Savings Plans covered this share of GPU on-demand-equivalent spend: "
        + ", ".join(parts)
    ]

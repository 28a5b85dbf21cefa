"""``queries.recorded_sharing``: the sharing ``finops_rules_info`` carries, and ``covers``."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from finops_cli.deploy import rules
from finops_cli.queries import recorded as rec
from finops_cli.queries import recorded_sharing as rs
from finops_cli.queries.sharing import Sharing
from finops_cli.sources import prometheus_recorded as pr

TIME_SLICED = (("4", "", "", "NVIDIA-A10G"), 0.25)
SINGLE_MIG = (("", "single", "3", "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb"), 3 / 7)
FOUND = Sharing(
    node_factors=(TIME_SLICED,),
    mig_resources=("nvidia_com_mig_1g_10gb",),
    gpu_profiles=("1g.10gb", "3g.40gb"),
    fractions=("0.5",),
    hami=True,
    vgpu=True,
)


def test_every_sharing_field_has_a_rule():
    """A field ``covers`` has no rule for must be equal; a new field is classified on purpose."""
    assert {f.name for f in fields(Sharing)} == set(rs.RULES)


def test_canonical_is_stable_and_round_trips():
    shuffled = replace(
        FOUND,
        node_factors=(SINGLE_MIG, TIME_SLICED),
        gpu_profiles=("3g.40gb", "1g.10gb"),
    )
    ordered = replace(FOUND, node_factors=(TIME_SLICED, SINGLE_MIG))
    assert rs.canonical(shuffled) == rs.canonical(ordered)
    assert rs.parse(rs.canonical(ordered)) == replace(
        ordered, node_factors=tuple(sorted(ordered.node_factors))
    )
    assert rs.canonical(None) == rs.canonical(Sharing()) == ""
    assert rs.parse("") is None
    assert '"hami":true' in rs.canonical(FOUND) and "dra" not in rs.canonical(FOUND)
    monitored = replace(FOUND, hami_monitor="legacy", kai_capped=True)
    assert rs.parse(rs.canonical(monitored)) == monitored


@pytest.mark.parametrize("text", ["{", "[1]", '{"colour":1}', '{"hami":"yes"}'])
def test_parse_rejects_what_is_not_a_description(text):
    with pytest.raises(ValueError, match="not a recorded sharing description"):
        rs.parse(text)


def test_equal_and_superset_tables_cover():
    assert rs.covers(FOUND, FOUND) is None
    assert rs.covers(None, None) is None
    more = replace(
        FOUND,
        node_factors=(TIME_SLICED, SINGLE_MIG),
        mig_resources=("nvidia_com_mig_1g_10gb", "nvidia_com_mig_3g_40gb"),
        gpu_profiles=("1g.10gb", "2g.20gb", "3g.40gb"),
        dra_profiles=("1g.10gb",),
        fractions=("0.25", "0.5"),
        fraction_devices=("2",),
        memories=("20000",),
        dra=True,  # flags true in the rules and absent from the data: nothing selected
    )
    assert rs.covers(more, FOUND) is None


@pytest.mark.parametrize(
    ("rules_", "found", "why"),
    [
        (None, FOUND, "made without shared GPUs"),
        (FOUND, None, "made with shared GPUs, and this window has none"),
        (replace(FOUND, gpu_profiles=("1g.10gb",)), FOUND, "without MIG profile 3g.40gb"),
        (replace(FOUND, fractions=()), FOUND, "without gpu-fraction 0.5"),
        (replace(FOUND, hami=False), FOUND, "without HAMi"),
        (replace(FOUND, vgpu=False), FOUND, "without dcgm-exporter's per-pod GPU copies"),
        (
            replace(FOUND, node_factors=(SINGLE_MIG,)),
            FOUND,
            "without the node labels label_nvidia_com_gpu_replicas=4",
        ),
        # the tables the data has none of, where the query is not the same without them
        (
            replace(FOUND, node_factors=(TIME_SLICED,)),
            replace(FOUND, node_factors=()),
            "made with time-slicing/MIG node labels, and this window has none",
        ),
        (
            Sharing(gpu_profiles=("1g.10gb",), hami=True),
            Sharing(gpu_profiles=("1g.10gb",)),
            "made with shared requests",
        ),
        # per-process series matter where dcgm-exporter copies series per replica
        (
            replace(FOUND, per_process=True),
            FOUND,
            "made with dcgm-exporter's per-process series (pod_uid), unlike this window",
        ),
        (FOUND, replace(FOUND, per_process=True), "made without dcgm-exporter's per-process"),
        # not shown to be safe one way: equal both ways
        (replace(FOUND, kai_capped=True), FOUND, "made with KAI GPU groups capped"),
        (FOUND, replace(FOUND, kai_capped=True), "made without KAI GPU groups capped"),
        (replace(FOUND, hami_monitor="hami"), FOUND, "made with HAMi's vGPUmonitor busy"),
    ],
)
def test_what_the_window_needs_and_the_rules_lack_is_named(rules_, found, why):
    got = rs.covers(rules_, found)
    assert got is not None and why in got, got


def test_per_process_is_a_flag_without_copies():
    """No ``vgpu`` copies: the per-process removal and own busy select nothing."""
    found = replace(FOUND, vgpu=False)
    assert rs.covers(replace(found, vgpu=True, per_process=True), found) is None


def _ctx(sharing: Sharing | None):
    return rules.ledger_context(sharing=sharing)


def test_info_labels_carry_the_sharing_and_the_cli_accepts_covering_rules():
    found, wider = FOUND, replace(FOUND, fractions=("0.25", "0.5"))
    made = rec.info_labels(_ctx(wider))
    assert made["sharing"] == rs.canonical(wider) and made["version"] == rec.RULES_VERSION
    whole = rec.info_labels(_ctx(None))
    assert whole["sharing"] == ""
    why, accepted = pr._settings_differ(_ctx(found), [whole, made])
    assert why is None and accepted["sharing"] == (made["sharing"],)
    why, accepted = pr._settings_differ(_ctx(found), [whole])
    assert accepted == {} and why is not None and "made without shared GPUs" in why
    lacking = rec.info_labels(_ctx(replace(FOUND, fractions=())))
    why, _ = pr._settings_differ(_ctx(found), [lacking])
    assert why is not None and "made without gpu-fraction 0.5" in why
    # the coverage read matches the accepted sharing values only
    query = rec.RecordedQueries(_ctx(found), sharing_accepted=(made["sharing"],)).coverage()
    assert "sharing=~" in query


def test_rules_made_with_a_sharing_are_the_cli_share_aware_expressions():
    """Recorded = raw by construction: the rules' rates are the CLI's ledger expressions in a
    context with the same sharing."""
    ctx = _ctx(FOUND)
    group = rules.ledger_backfill_group(sharing=FOUND)
    assert group == rules.ledger_backfill_group(ctx)
    exprs = {r.name: r.expr for r in group.rules}
    gpu_cost = exprs[rec.hourly_name("gpu_cost")]
    assert ctx.pod_gpu_cost() in gpu_cost  # the share-aware per-pod cost, tables and all
    assert "nvidia_com_mig_1g_10gb" in gpu_cost and "annotation_gpu_fraction" in gpu_cost
    plain = {r.name: r.expr for r in rules.ledger_backfill_group().rules}
    assert rules.ledger_context().pod_gpu_cost() in plain[rec.hourly_name("gpu_cost")]
    assert "annotation_gpu_fraction" not in plain[rec.hourly_name("gpu_cost")]

"""Whether a recorded ledger's catalog prices answer for a window (``queries.recorded_prices``)."""

from __future__ import annotations

import pytest

from finops_cli.queries import QueryContext
from finops_cli.queries.recorded import RecordedQueries, info_labels, rules_info_selector
from finops_cli.queries.recorded_prices import canonical, covers, parse

P5 = ("p5.48xlarge", "", "", "us-east-1", "on-demand", "", "")
G6 = ("g6.12xlarge", "", "", "us-east-1", "spot", "", "")
A2 = ("a2-highgpu-1g", "", "", "us-central1", "", "", "")


def _ctx(prices, unpriced=()) -> QueryContext:
    return QueryContext({"team": "ai-finops.io/team"}, 60, catalog_prices=prices,
                        catalog_unpriced=unpriced)  # fmt: skip


def test_canonical_is_sorted_compact_and_parses_back() -> None:
    text = canonical(((*G6, 1.25), (*P5, 12.29)))
    assert text == canonical(((*P5, 12.29), (*G6, 1.25)))
    assert " " not in text
    assert parse(text) == {P5: 12.29, G6: 1.25}
    assert canonical(None) == "" and parse("") is None
    with pytest.raises(ValueError, match="unreadable prices"):
        parse("{not json")


def test_a_rules_table_covers_a_window_it_prices_alike() -> None:
    rules = parse(canonical(((*P5, 12.29), (*G6, 1.25))))
    assert covers(rules, _ctx(((*P5, 12.29),))) is None  # extra entries select no node
    assert covers(rules, _ctx(((*P5, 12.29), (*G6, 1.25)))) is None
    assert covers(None, _ctx(None)) is None  # OpenCost's prices: nothing to compare


def test_what_a_rules_table_lacks_is_named() -> None:
    rules = parse(canonical(((*P5, 12.29),)))
    missing = covers(rules, _ctx(((*P5, 12.29), (*G6, 1.25))))
    assert missing == "made without a catalog price for g6.12xlarge/us-east-1/spot"
    changed = covers(rules, _ctx(((*P5, 11.06),)))
    assert changed is not None and "p5.48xlarge/us-east-1/on-demand at 12.29" in changed
    assert "(this run: 11.06)" in changed
    # the window cannot price A2 (its GPUs cost 0 raw): rules that price it would not
    priced = covers(parse(canonical(((*P5, 12.29), (*A2, 3.67)))), _ctx(((*P5, 12.29),), (A2,)))
    assert priced is not None and "a2-highgpu-1g/us-central1" in priced
    assert covers(None, _ctx(((*P5, 12.29),))) == "made without catalog prices"


def test_the_rules_info_carries_prices_only_when_catalog_priced() -> None:
    opencost = QueryContext({"team": "ai-finops.io/team"}, 60)
    assert "prices" not in info_labels(opencost)
    assert "prices" not in rules_info_selector(opencost)
    assert "prices" not in RecordedQueries(opencost).ran(3600)
    catalog = _ctx(((*P5, 12.29),))
    labels = info_labels(catalog)
    assert labels["allocation"] == "catalog"
    assert parse(labels["prices"]) == {P5: 12.29}
    accepted = RecordedQueries(catalog, prices_accepted=("a", "b")).ran(3600)
    assert 'prices=~"a|b"' in accepted
    own = RecordedQueries(catalog).ran(3600)
    assert "prices=~" in own and "p5\\\\.48xlarge" in own  # the table as a literal alternation


def test_rules_priced_from_the_catalog_hold_the_cli_raw_price_table() -> None:
    """The rules' node price is the CLI's raw one: the same constant table, the same join."""
    from finops_cli.deploy.rules import ledger_context, ledger_group

    prices = ((*P5, 12.29),)
    ctx = ledger_context({"team": "ai-finops.io/team"}, catalog_prices=prices)
    text = "\n".join(rule.expr for rule in ledger_group(ctx).rules)
    assert ctx.node_price() in text
    assert "kube_pod_container_resource_requests" in text
    assert "container_gpu_allocation" not in text

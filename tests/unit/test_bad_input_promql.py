"""PromQL injection is impossible: a user-supplied value only ever becomes one string literal.

Two properties, over arbitrary Unicode (quotes, braces, backslashes, newlines, control
characters, emoji):

1. ``promql.quote(v)`` is a single PromQL string literal that Prometheus' lexer reads back as
   exactly ``v`` and that ends exactly where the literal ends (nothing can follow it).
2. Every query that takes a filter value (``--team/--project/--model/--namespace/--cluster``) is
   the query built for a harmless placeholder with the placeholder's literal replaced by
   ``quote(v)``: the value changes one literal and nothing else in the query's shape.

The same holds through a real Prometheus in ``test_bad_input_prometheus.py``; label *names* from
``finops.toml`` are checked the other way round: rejected unless they are valid label names.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from finops_cli import queries
from finops_cli.config_checks import ConfigError
from finops_cli.labels import kube_label_to_prometheus
from finops_cli.promql import matchers, quote
from finops_cli.queries import InferenceQueries, QueryContext
from finops_cli.settings import LabelSettings

# The hypothesis-heavy bad-input suite (docs/robustness.md): in `nox -s tests`, not `nox -s fast`.
pytestmark = pytest.mark.slow

POD_LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
PLACEHOLDER = "zz-placeholder-zz"
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
NASTY = st.sampled_from(
    ['"', "\\", '\\"', '"}', '"} or vector(1) or {a="', "\n", "\r\n", "\x00", "\x7f", "\u2028",
     "\x1b", "{", "}", "`", "'", "=~", "|", "${x}", "\\x41", "\\u0041", "é🙂团"]
)  # fmt: skip
VALUES = st.one_of(ANY_TEXT, NASTY, st.lists(NASTY, max_size=6).map("".join))


def cases(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"'}  # fmt: skip


def read_promql_string(text: str) -> tuple[str, int]:
    """Read the double-quoted literal at the start of ``text`` as Prometheus' lexer and Go's
    strconv.Unquote do; returns the value and the index just past the closing quote."""
    assert text[:1] == '"', text
    out: list[str] = []
    i = 1
    while True:
        if i >= len(text):
            raise ValueError("unterminated quoted string")
        ch = text[i]
        if ch == "\n":
            raise ValueError("newline in a quoted string")
        if ch == '"':
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = text[i + 1 : i + 2]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"bad \\{esc} escape")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567" and esc:
            digits = text[i + 1 : i + 4]
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError(f"unknown escape sequence \\{esc}")


@cases(2000)
@given(value=VALUES)
@example(value="")
@example(value='"} or vector(1) or {a="')
def test_quote_is_one_literal_that_reads_back_exactly(value: str) -> None:
    literal = quote(value)
    read, end = read_promql_string(literal)
    assert read == value
    assert end == len(literal)  # nothing after the closing quote: the value cannot escape
    assert "\n" not in literal


@cases(500)
@given(value=VALUES, key=st.sampled_from(["team", "project", "model", "namespace"]))
def test_matchers_keep_each_value_in_its_literal(value: str, key: str) -> None:
    selector = matchers({"label_a": "fixed", key: value})
    template = matchers({"label_a": "fixed", key: PLACEHOLDER})
    assert selector == template.replace(quote(PLACEHOLDER), quote(value))


def _context(cluster: str | None = None) -> QueryContext:
    return QueryContext(POD_LABELS, 60, cluster_filter=cluster)


def _queries_for(filter_key: str, value: str) -> list[str]:
    """Every query ``finops costs`` (and ``--unit-costs``) sends for this one filter."""
    busy = frozenset({queries.BUSY_PROFILING, queries.BUSY_UTIL})
    if filter_key == "cluster":
        ctx, filters = _context(value), {}
    else:
        ctx, filters = _context(), {filter_key: value}
    built = []
    for keys in ([], ["team"], ["team", "project"], ["model"], ["namespace"]):
        built += [
            ctx.gpus_allocated(keys, filters),
            ctx.gpu_cost_rate(keys, filters),
            ctx.cpu_ram_cost_rate(keys, filters),
            ctx.busy_sum(keys, filters, busy),
            ctx.busy_count(keys, filters, busy),
        ]
    built += [ctx.capacity_gpus(), ctx.capacity_cost_rate()]
    inference = InferenceQueries(ctx, 6 * 3600)
    for counters in queries.TRAFFIC_COUNTERS.values():
        built.append(inference.traffic_by_model(counters, 6 * 3600, filters))
    built.append(inference.served(ctx.pod_gpu_cost()))
    catalog = replace(
        ctx, catalog_prices=(("p5.48xlarge", "", "", "us-east-1", "", "", "", "", 12.5),)
    )
    built.append(catalog.gpu_cost_rate(["team"], filters))
    return built


@pytest.mark.parametrize("filter_key", ["team", "project", "model", "namespace", "cluster"])
@cases(150)
@given(value=VALUES)
def test_a_filter_value_changes_one_literal_and_nothing_else(filter_key: str, value: str) -> None:
    template = _queries_for(filter_key, PLACEHOLDER)
    assert any(quote(PLACEHOLDER) in q for q in template)
    got = _queries_for(filter_key, value)
    assert got == [q.replace(quote(PLACEHOLDER), quote(value)) for q in template]


@cases(500)
@given(key=st.text(max_size=40) | st.from_regex(r"\A([a-z0-9.-]{1,20}/)?[A-Za-z0-9._-]{1,70}\Z"))
def test_label_keys_are_refused_or_become_valid_label_names(key: str) -> None:
    """Label *names* cannot be quoted, so only keys that make a valid name are accepted."""
    try:
        LabelSettings(team=key)
    except ConfigError:
        return
    name = kube_label_to_prometheus(key)
    assert name.isascii() and name.replace("_", "a").isalnum() and not name[0].isdigit(), name


@cases(300)
@given(name=st.text(max_size=20))
def test_cluster_and_replica_label_names(name: str) -> None:
    from finops_cli.settings import PrometheusSettings

    for build in (lambda: LabelSettings(cluster=name),
                  lambda: PrometheusSettings(replica_labels=(name,))):  # fmt: skip
        try:
            build()
        except ConfigError:
            continue
        if name:  # "" turns the cluster label off
            assert name.isascii() and name.replace("_", "a").isalnum() and not name[0].isdigit()

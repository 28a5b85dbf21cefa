"""The query library's text: escaping, selectors and the shapes the cost model relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops_cli.promql import duration, label_name, matchers, quote
from finops_cli.queries import QueryContext, over_buckets

LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
PLACEHOLDER = "PLACEHOLDER-VALUE"


def test_quote_escapes_everything_that_could_end_the_string():
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\b") == '"a\\\\b"'
    assert quote("x\ny") == '"x\\ny"'
    assert quote("\x01") == '"\\x01"'
    assert quote("ünï 🚀") == '"ünï 🚀"'


@given(st.text())
def test_quoted_literal_has_no_unescaped_quote_or_newline(value):
    body = quote(value)[1:-1]
    assert "\n" not in body
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        assert body[i] != '"'
        i += 1


@given(st.text())
def test_a_filter_value_only_ever_appears_as_a_string_literal(value):
    """Swapping a hostile value for a harmless one changes nothing but that literal."""
    ctx = QueryContext(LABELS, 60)
    hostile = ctx.gpu_cost_rate(["team"], {"team": value, "namespace": value})
    harmless = ctx.gpu_cost_rate(["team"], {"team": PLACEHOLDER, "namespace": PLACEHOLDER})
    assert hostile == harmless.replace(quote(PLACEHOLDER), quote(value))


def test_label_names_are_validated():
    assert label_name("label_ai_finops_io_team") == "label_ai_finops_io_team"
    with pytest.raises(ValueError):
        label_name('team"} or vector(1)')
    assert matchers({}) == ""
    assert matchers({"b": "2", "a": "1"}) == '{a="1",b="2"}'


def test_durations_are_whole_milliseconds():
    assert duration(60) == "60s"
    assert duration(59.999) == "59999ms"
    assert duration(3600 - 0.001) == "3599999ms"
    with pytest.raises(ValueError):
        duration(0)


def test_team_cost_query_shape():
    ctx = QueryContext(LABELS, 30, cluster_label=None)
    query = ctx.gpu_cost_rate(["team"], {})
    assert query.startswith("sum by (label_ai_finops_io_team) (")
    assert "last_over_time(container_gpu_allocation[29999ms])" in query
    assert "node_gpu_hourly_cost[600s]" in query
    assert "group_left (label_ai_finops_io_team)" in query
    bucketed = over_buckets(query, 3600, 30)
    assert bucketed.startswith("sum_over_time((")
    assert bucketed.endswith("[3599999ms:30s]) * 0.008333333333333333")


def test_cluster_label_joins_on_cluster_everywhere():
    ctx = QueryContext(LABELS, 60, cluster_label="cluster")
    query = ctx.gpu_cost_rate(["namespace"], {})
    assert "on (cluster, node)" in query
    assert "sum by (cluster, namespace)" in query
    assert ctx.capacity_cost_rate().startswith("sum by (cluster) (")


def test_exported_pod_labels_are_normalised():
    ctx = QueryContext(LABELS, 60, exported_pod_labels=True)
    query = ctx.busy_sum(["team"], {}, frozenset({"DCGM_FI_PROF_GR_ENGINE_ACTIVE"}))
    assert 'exported_pod!=""' in query
    assert "label_replace(" in query and '"pod", "$1", "exported_pod"' in query
    both = ctx.busy_sum(
        ["team"], {}, frozenset({"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL"})
    )
    assert " or " in both and "DCGM_FI_DEV_GPU_UTIL" in both


def test_custom_label_keys_are_sanitised_like_kube_state_metrics():
    ctx = QueryContext(LABELS | {"team": "example.com/owningTeam"}, 60)
    assert ctx.prom_label("team") == "label_example_com_owning_team"


def test_cluster_filter_and_replicas_reach_every_leaf():
    ctx = QueryContext(LABELS, 60, cluster_filter='eu"1', replica_labels=("prometheus_replica",))
    query = ctx.gpu_cost_rate(["team"], {}) + ctx.capacity_cost_rate()
    leaves = query.count("last_over_time(")
    assert leaves == query.count('cluster="eu\\"1"') == 5
    assert query.count("max without (prometheus_replica) (last_over_time(") == leaves


# ---- cost center: the ai-finops.io/cost-center pod annotation --------------------------------


def test_cost_center_reads_pod_annotations_only_when_asked():
    ctx = QueryContext(LABELS, 60, cluster_label=None)
    query = ctx.gpu_cost_rate(["cost_center"], {})
    assert query.startswith("sum by (annotation_ai_finops_io_cost_center) (")
    assert "group_left (annotation_ai_finops_io_cost_center)" in query
    assert "last_over_time(kube_pod_annotations[600s])" in query
    assert "kube_pod_labels" not in query  # nothing else asked for: the labels are not read
    for other in (ctx.gpu_cost_rate(["team"], {}), ctx.gpu_cost_rate(["namespace"], {})):
        assert "kube_pod_annotations" not in other
    assert "kube_pod_annotations" not in ctx.gpu_cost_rate(["team"], {"namespace": "ns"})


def test_cost_center_annotation_key_comes_from_settings():
    assert QueryContext(LABELS, 60).prom_label("cost_center") == (
        "annotation_ai_finops_io_cost_center"
    )
    custom = QueryContext(LABELS | {"cost_center": "example.com/costCenter"}, 60)
    assert custom.prom_label("cost_center") == "annotation_example_com_cost_center"
    assert "annotation_example_com_cost_center" in custom.gpu_cost_rate(["cost_center"], {})


def test_cost_center_with_labels_is_a_left_join_inside_the_attribute_operand():
    """With label keys or filters too, the annotations are left-joined onto the labels, and the
    whole ``... or on (namespace, pod) labels`` stays one parenthesised operand of the join."""
    ctx = QueryContext(LABELS, 60, cluster_label=None)
    query = ctx.gpu_cost_rate(["team", "cost_center"], {"namespace": "ns"})
    assert query.startswith(
        "sum by (label_ai_finops_io_team, annotation_ai_finops_io_cost_center) ("
    )
    per_pod, _, attributes = query.partition(
        " * on (namespace, pod) group_left (annotation_ai_finops_io_cost_center, "
        "label_ai_finops_io_team) "
    )
    assert per_pod and attributes.startswith("((") and attributes.endswith("))")
    assert " or on (namespace, pod) topk by (namespace, pod)" in attributes
    assert 'kube_pod_labels{namespace="ns"}' in attributes
    operand = attributes[:-1]  # the last ")" closes the sum
    depth = 0
    for i, char in enumerate(operand):  # one parenthesised group from its first char to its last
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth > 0 or i == len(operand) - 1, operand[: i + 1]
    assert depth == 0


def test_cost_center_filter_keeps_only_annotated_pods():
    ctx = QueryContext(LABELS, 60, cluster_label=None)
    query = ctx.gpu_cost_rate(["team"], {"cost_center": "CC-1"})
    assert 'kube_pod_annotations{annotation_ai_finops_io_cost_center="CC-1"}' in query
    assert " or " not in query  # an inner join: only pods carrying that cost center


@given(st.text())
def test_a_cost_center_value_only_ever_appears_as_a_string_literal(value):
    ctx = QueryContext(LABELS, 60)
    hostile = ctx.gpu_cost_rate(["cost_center"], {"cost_center": value, "team": value})
    harmless = ctx.gpu_cost_rate(["cost_center"], {"cost_center": PLACEHOLDER, "team": PLACEHOLDER})
    assert hostile == harmless.replace(quote(PLACEHOLDER), quote(value))


def test_cluster_filter_and_replicas_reach_the_annotation_leaf():
    ctx = QueryContext(LABELS, 60, cluster_filter="eu-1", replica_labels=("prometheus_replica",))
    query = ctx.gpu_cost_rate(["cost_center"], {})
    leaves = query.count("last_over_time(")
    assert leaves == query.count('cluster="eu-1"') == 3
    assert query.count("max without (prometheus_replica) (last_over_time(") == leaves
    assert 'kube_pod_annotations{cluster="eu-1"}' in query
    assert "on (cluster, namespace, pod) group_left (annotation_ai_finops_io_cost_center)" in query


@pytest.mark.slow
@pytest.mark.parametrize("by", ["gpu", "pod"])
def test_shards_partition_every_name_exactly_once_and_stay_short(by):
    """Each GPU (by UUID) or pod (by name) falls in exactly one shard of any cut, odd names in
    the last; the matchers stay short (servers cap the query length: VictoriaMetrics at 16 KB)."""
    import itertools
    import re

    from finops_cli.queries import SHARD_ALPHABETS, shards

    alphabet = SHARD_ALPHABETS[by]
    pairs = ["".join(p) for p in itertools.product(alphabet, repeat=2)]
    names = [f"GPU-{p}c1-9" if by == "gpu" else f"job-7-x{p}" for p in pairs]
    names.append("GPU-ZZ" if by == "gpu" else "pod-A_")
    for count in (1, 2, 4, 8, 16, 32, 64, 128):
        matchers = [s.matcher("pod") for s in shards(by, count)]
        assert max(len(m) for m in matchers) < 160
        for name in names:
            hits = 0
            for m in matchers:
                label_op, regex = m.split('"', 1)
                found = re.fullmatch(regex.rstrip('"'), name) is not None
                hits += found if label_op.endswith("=~") else not found
            assert hits == 1, (count, name, matchers)


def _matches(matcher: str, value: str) -> bool:
    """Whether ``label=~"regex"`` / ``label!~"regex"`` accepts ``value``, as PromQL reads it: the
    string literal unescaped (its escapes are Python's), the regex anchored (a full match)."""
    import ast
    import re

    label_op, literal = matcher.split('"', 1)
    found = re.fullmatch(ast.literal_eval('"' + literal), value) is not None
    return found if label_op.endswith("=~") else not found


NAMESPACE_NAMES = ["team-a", "team-b", "ml", "research-3", "sandbox", "z", "vision-serving"]


def test_namespace_shards_are_ranges_that_partition_every_name():
    """Rightsize's namespace shards: ranges of the sorted names, each listed name in exactly
    one, about equal in size, and any other name (created since, odd) in exactly one too; a
    matcher is one regex on the range's bounds, never a list of names."""
    from finops_cli.queries import workload_shards

    names = sorted(NAMESPACE_NAMES)
    unlisted = ["team-new", "a", "team-a-2", "", "zz", "0", "\u00fc", "ml-x"]
    for count in range(1, len(names) + 1):
        cut = workload_shards([*NAMESPACE_NAMES, "ml", ""], count)  # repeats and blanks: once
        assert [s.by for s in cut] == ["namespace"] * count
        matchers = [s.matcher("exported_namespace") for s in cut]
        assert all(m.startswith("exported_namespace=~") for m in matchers)
        assert all(m.count("=~") == 1 for m in matchers)  # one matcher per part
        owned = [[n for n in names if _matches(m, n)] for m in matchers]
        assert sorted(n for part in owned for n in part) == names
        assert max(map(len, owned)) - min(map(len, owned)) <= len(names) // count + 1
        for name in [*names, *unlisted]:
            assert sum(_matches(m, name) for m in matchers) == 1, (count, name, matchers)


def test_three_thousand_namespaces_give_short_even_shards():
    """The matcher of a part grows with its bounds (a few characters), not with the names."""
    from finops_cli.queries import workload_shards

    names = [f"tenant-{i:04d}-ns" for i in range(3000)]
    for count in (2, 16, 128):
        cut = workload_shards(names, count)
        matchers = [s.matcher("namespace") for s in cut]
        assert max(len(m) for m in matchers) < 400
        sizes = [sum(_matches(m, n) for n in names) for m in matchers]
        assert sum(sizes) == 3000 and max(sizes) <= 2 * 3000 // count, sizes


def test_more_shards_than_namespaces_cut_by_pod_name():
    from finops_cli.queries import shards, workload_shards

    assert workload_shards(NAMESPACE_NAMES, 8) == shards("pod", 8)
    assert workload_shards(["only"], 2) == shards("pod", 2)
    assert workload_shards([], 2) == shards("pod", 2)
    assert workload_shards(NAMESPACE_NAMES, 7)[0].by == "namespace"


def test_namespace_names_are_escaped_for_the_regex_and_the_string():
    """Regex metacharacters, quotes, backslashes and newlines in names still give ranges that
    put every name (listed or near one) in exactly one part, each part one string literal."""
    import re

    from finops_cli.queries import workload_shards

    odd = ["a.b", "a|b", "(x)", 'q"uote', "back\\slash", "st*r", "^$", "[c]", "{2}", "ü-é", "n\nl"]
    near = ["axb", "a", "b", "x", "(x", "quote", 'q"', "backslash", "back\\", "str", "sttr"]
    near += ["", "c", "[c", "22", "ü", "n", "nl"]  # "": a series without the label
    one_literal = re.compile(r'namespace=~"(?:[^"\\\n]|\\.)*"')  # nothing after it
    for count in (2, 3, len(odd)):
        matchers = [s.matcher("namespace") for s in workload_shards(odd, count)]
        assert all(one_literal.fullmatch(m) for m in matchers), matchers
        for name in [*odd, *near]:
            hits = [i for i, m in enumerate(matchers) if _matches(m, name)]
            assert len(hits) == 1, (name, matchers)


def test_namespace_shards_reach_dcgm_and_kube_state_metrics_reads():
    from finops_cli.queries import GpuQueries, workload_shards

    for exported in (False, True):
        ctx = QueryContext(LABELS, 60, exported_pod_labels=exported)
        first, last = workload_shards(["team-a", "team-b"], 2)
        dcgm = "exported_namespace" if exported else "namespace"
        gq = GpuQueries(ctx, 3600, first)
        workloads = gq.pod_workloads()
        own = first.matcher(dcgm)
        assert f'{{{"exported_pod" if exported else "pod"}!="",{own}}}' in workloads
        assert f'kube_pod_owner{{owner_kind!="<none>",{first.matcher("namespace")}}}' in workloads
        assert first.matcher("namespace") in gq.pod_labels(["team"])
        rest = GpuQueries(ctx, 3600, last).pod_workloads()
        assert last.matcher(dcgm) in rest and last.matcher("namespace") in rest
        assert "team-a" not in rest and "team-b" not in rest  # bounds, never the names
        assert gq.bound_series() == (
            'DCGM_FI_DEV_FB_USED{exported_pod!=""}' if exported else 'DCGM_FI_DEV_FB_USED{pod!=""}'
        )
        assert gq.ctx.dcgm_namespace_label == dcgm


def test_builders_reach_query_context_only_through_its_public_api():
    """GpuQueries, InferenceQueries and NodeQueries use QueryContext's public helpers
    (``grouping``, ``pod_join``, ``read``...), never its private methods."""
    import ast
    from pathlib import Path

    import finops_cli.queries as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            owner = node.value
            on_ctx = (isinstance(owner, ast.Name) and owner.id == "ctx") or (
                isinstance(owner, ast.Attribute) and owner.attr == "ctx"
            )
            assert not on_ctx, f"{path.name}:{node.lineno} reaches into QueryContext.{node.attr}"


def test_the_package_keeps_every_name_importable_from_finops_cli_queries():
    import finops_cli.queries as package

    for name in package.__all__:
        assert getattr(package, name) is not None, name


def test_label_probes_ask_each_label_of_the_series_that_hold_it():
    """One selector per carrier and label, the carrier's own matchers kept: a label is listed
    exactly when a series of the carrier holds it non-empty."""
    from finops_cli.queries import label_probes

    probes = label_probes(["kube_node_labels", 'DCGM_FI_DEV_FB_USED{pod!=""}'], ["a", "b"])
    assert probes == [
        'kube_node_labels{a!=""}',
        'kube_node_labels{b!=""}',
        'DCGM_FI_DEV_FB_USED{pod!="",a!=""}',
        'DCGM_FI_DEV_FB_USED{pod!="",b!=""}',
    ]


def test_gpus_of_exporters_without_a_host_label_are_placed_by_their_pods_ip():
    """``--no-hostname``: discovery sets ``dcgm_node_by_ip`` and every dcgm-exporter read takes
    its node from the pod whose IP the scrape's ``instance`` carries; without it, nothing
    changes."""
    import re

    from finops_cli.queries.context import INSTANCE_IP
    from finops_cli.queries.recorded import info_labels

    plain = QueryContext(LABELS, 60)
    assert "kube_pod_info" not in plain.dcgm_labels("X")
    assert info_labels(plain)["dcgm_node"] == ""
    placed = QueryContext(LABELS, 60, dcgm_node_by_ip=True)
    query = placed.dcgm_labels("X")
    assert 'kube_pod_info{pod_ip!=""}' in query
    assert "group_left (node)" in query and "or ignoring (node)" in query
    # The host label still wins: it is copied into node after the IP's node.
    assert query.index('"pod_ip", "", "", ""') < query.index('"Hostname"')
    assert info_labels(placed)["dcgm_node"] == "pod_ip"
    regex = INSTANCE_IP.replace("\\\\", "\\")  # as PromQL reads the string literal
    ips = {i: re.fullmatch(regex, i) for i in ("10.0.3.7:9400", "[fd00::7]:9400", "gpu-node-1")}
    assert {i: m.group(1) if m else None for i, m in ips.items()} == {
        "10.0.3.7:9400": "10.0.3.7",
        "[fd00::7]:9400": "fd00::7",
        "gpu-node-1": None,
    }

"""Bad input, property-based (hypothesis) plus examples: it ends in output or in one line.

Whatever a user types (windows and dates, label values in every filter flag, ``--by`` keys,
numbers, a ``finops.toml`` or ``FINOPS_*`` variable of the wrong shape, pricing overrides, an
output path that cannot be written) ``finops`` either does its job (exit 0) or prints exactly one
``finops: error:`` line and exits 2: never a traceback, never an "internal error", never a file
half-written. Commands run in-process through the real entry point (``tests/support/inprocess``)
so that hypothesis can afford hundreds of inputs; docs/robustness.md has the counts.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from finops_cli.errors import UsageError
from finops_cli.pricing import load_catalog
from finops_cli.settings import ENVIRONMENT_VARIABLES, load_settings
from finops_cli.timewindow import MAX_WINDOW, resolve_window
from tests.support.inprocess import Run, run_inprocess

# The hypothesis-heavy bad-input suite (docs/robustness.md): in `nox -s tests`, not `nox -s fast`.
pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEAD_PROMETHEUS = "http://127.0.0.1:1"  # nothing listens: a valid run ends in "cannot reach"


def cases(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Text a user can type: any Unicode except NUL (argv cannot hold it) and lone surrogates (those
# are what undecodable bytes become; they get examples of their own below).
TYPED = st.characters(codec="utf-8", exclude_characters="\x00")
HOSTILE = [
    'x"} or vector(1) or {a="',
    "a\\",
    '\\"',
    "{}",
    "}",
    "team\nname",
    "\r\n",
    "\t",
    "é",
    "ünïcødé-团队",
    "🙂",
    "\u2028",
    "\x1b[31mred",
    "'; drop table teams; --",
    "$(rm -rf /)",
    " ",
    "-",
    "--team",
    "=~",
    ".*",
    "a" * 300,
]


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="finops-bad-input-") as tmp:
        path = Path(tmp)
        (path / "config").mkdir()
        yield path


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_inprocess(*args, home=home, env=env)


def assert_clean(run: Run, *, allowed: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0 with parseable output, or exactly one error line with an allowed code."""
    assert run.crash is None, (run.args, repr(run.crash))
    assert "Traceback" not in run.stderr, run.stderr
    assert run.code in allowed, (run.args, run.code, run.stderr)
    if run.code == 0:
        return
    assert run.stdout == "", run.stdout
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and len(run.error_lines) == 1, (run.args, run.stderr)
    assert "internal error" not in lines[0], lines[0]


def json_document(run: Run) -> dict[str, Any]:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in the output")

    doc: dict[str, Any] = json.loads(run.stdout, parse_constant=refuse)
    return doc


# ---- windows and dates ---------------------------------------------------------------------------

DURATIONS = st.from_regex(r"\A[0-9]{1,20}(y|w|d|h|m|s|ms)([0-9]{1,4}(h|m|s))?\Z")
KEYWORDS = st.sampled_from(["month", "last-month", "MONTH", " month ", "now", "week", "7 d"])


def _moments() -> st.SearchStrategy[str]:
    stamps = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    offsets = st.sampled_from(["", "Z", "z", "+00:00", "+14:00", "-12:00", "+23:59"])
    formats = st.sampled_from(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])
    formatted = st.builds(lambda d, f, o: d.strftime(f) + (o if "H" in f else ""), stamps,
                          formats, offsets)  # fmt: skip
    impossible = st.sampled_from(
        ["2026-02-30", "2026-13-01", "2026-10-01T25:00:00Z", "2026-10-01T12:61Z", "0000-01-01",
         "2026-10-01T00:00:00+25:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
         "2026-1-1", "20261001", "1e9", "yesterday", "now", " now ", ""]
    )  # fmt: skip
    return st.one_of(formatted, impossible, st.text(TYPED, max_size=25))


WINDOWS = st.one_of(
    DURATIONS,
    KEYWORDS,
    st.builds(lambda a, b: f"{a}..{b}", _moments(), _moments() | st.just("")),
    st.text(TYPED, max_size=25),
)


@cases(600)
@given(
    window=st.none() | WINDOWS,
    start=st.none() | _moments(),
    end=st.none() | _moments(),
)
@example(window="7000d", start=None, end=None)
@example(window="99999999999999999999y", start=None, end=None)
@example(window=None, start="2026-10-05", end="2026-10-01")
@example(window=None, start="2027-01-01", end=None)
@example(window=None, start="2020-01-01", end="2026-01-01")
@example(window="2026-10-01..2026-09-01", start=None, end=None)
@example(window="month", start=None, end="0001-01-01")
def test_resolve_window_is_a_window_or_one_usage_error(
    window: str | None, start: str | None, end: str | None
) -> None:
    try:
        got = resolve_window(window, start, end, now=NOW)
    except UsageError as err:
        text = str(err)
        assert text and len(text.splitlines()) == 1, text
        assert any(flag in text for flag in ("--window", "--start", "--end")), text
        return
    assert got.start < got.end <= NOW
    assert got.end - got.start <= MAX_WINDOW + timedelta(days=31)  # "month" windows may round
    assert got.start.utcoffset() == timedelta(0) and got.end.utcoffset() == timedelta(0)


@cases(400)
@given(
    start=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    end=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_start_end_rules(start: datetime, end: datetime) -> None:
    """End before start, a future start, a range past the limit: each its own one-line error."""
    start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    try:
        got = resolve_window(None, start.isoformat(), end.isoformat(), now=NOW)
    except UsageError as err:
        text = str(err)
        if start >= NOW:
            assert "--start" in text and "in the past" in text
        elif min(end, NOW) <= start:
            assert "--end" in text and "after --start" in text
        else:
            assert min(end, NOW) - start > MAX_WINDOW and "limit" in text
        return
    assert start < NOW and min(end, NOW) > start and min(end, NOW) - start <= MAX_WINDOW
    assert (got.start, got.end) == (start, min(end, NOW))  # a future end is clamped to now


@cases(150)
@given(
    window=st.none() | WINDOWS,
    start=st.none() | _moments(),
    end=st.none() | _moments(),
    command=st.sampled_from(["costs", "gpus", "rightsize"]),
)
def test_window_flags_through_the_cli(
    home: Path, window: str | None, start: str | None, end: str | None, command: str
) -> None:
    """Through the real entry point: a bad window is exit 2; a good one reaches the (dead)
    backend and ends in its own one-line error, exit 1."""
    args = [command, "--prometheus-url", DEAD_PROMETHEUS, "-q"]
    for flag, value in (("--window", window), ("--start", start), ("--end", end)):
        if value is not None:
            args += [flag, value]
    run = cli(home, *args)
    assert_clean(run, allowed=(1, 2))
    if run.code == 1:
        assert "cannot reach Prometheus" in run.stderr


# ---- label values in every filter flag -----------------------------------------------------------

FILTER_FLAGS = [
    ("costs", "--team", "team"),
    ("costs", "--project", "project"),
    ("costs", "--model", "model"),
    ("costs", "--namespace", None),
    ("costs", "--cluster", None),
    ("gpus", "--team", "team"),
    ("rightsize", "--team", None),
]


@pytest.mark.parametrize(("command", "flag", "column"), FILTER_FLAGS)
@cases(30)
@given(value=st.text(TYPED, max_size=40) | st.sampled_from(HOSTILE))
def test_any_label_value_in_any_filter(
    home: Path, command: str, flag: str, column: str | None, value: str
) -> None:
    """Exit 0 with only matching rows (none, for a team that does not exist), or exit 2."""
    by = ["--by", column] if command == "costs" and column else []
    run = cli(home, command, "--source", "sample", "--window", "6h", "-o", "json", "-q",
              flag, value, *by)  # fmt: skip
    assert_clean(run)
    if run.code == 0:
        doc = json_document(run)
        if column is not None:
            kept = [r for r in doc["rows"] if r.get("kind", "allocated") == "allocated"]
            assert all(r[column] == value for r in kept), (value, kept[:2])


@pytest.mark.parametrize(
    ("command", "value"),
    [
        ("forecast", 'x"} or vector(1) or {a="\n🙂'),
        ("anomalies", 'x"} or vector(1) or {a="'),
        ("anomalies", "team\nname"),
        ("anomalies", "🙂"),
    ],
)
def test_hostile_team_in_forecast_and_anomalies(home: Path, command: str, value: str) -> None:
    run = cli(home, command, "--source", "sample", "-o", "json", "-q", "--team", value)
    assert_clean(run)


UNDECODABLE = "caf\udce9"  # "café" typed on a Latin-1 terminal: the byte 0xE9 is not UTF-8


@pytest.mark.parametrize(
    "args",
    [
        ["costs", "--team", UNDECODABLE],
        ["costs", "--cluster", UNDECODABLE],
        ["costs", "--namespace", UNDECODABLE, "--prometheus-url", DEAD_PROMETHEUS],
        ["gpus", "--team", UNDECODABLE],
        ["rightsize", "--team", UNDECODABLE],
        ["costs", "--window", UNDECODABLE],
        ["costs", "--bearer-token", UNDECODABLE, "--prometheus-url", DEAD_PROMETHEUS],
        ["costs", "-H", f"X-Scope-OrgID: {UNDECODABLE}", "--prometheus-url", DEAD_PROMETHEUS],
    ],
)
def test_undecodable_bytes_name_the_flag(home: Path, args: list[str]) -> None:
    run = cli(home, *args, "-q")
    assert_clean(run, allowed=(2,))
    assert "UTF-8" in run.stderr or "invalid --window" in run.stderr
    assert UNDECODABLE not in run.stderr or "--window" in run.stderr


# ---- --by keys and other option values -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["costs", "--by", "teams"],
        ["costs", "--by", "TEAM"],
        ["costs", "--by", ""],
        ["costs", "--by", "team", "--by", "team"],
        ["costs", "--by", "team", "--by", "project", "--by", "model"],
        ["costs", "--by", "gpu_model"],
        ["costs", "--by", "team", "--unit-costs"],
        ["gpus", "--by", "project"],
        ["costs", "--output", "yaml"],
        ["costs", "--max-concurrency", "0"],
        ["costs", "--max-concurrency", "-3"],
        ["costs", "--max-concurrency", "many"],
        ["costs", "--timeout", "0s"],
        ["costs", "--timeout", "-5"],
        ["costs", "--timeout", "nan"],
        ["costs", "--timeout", "inf"],
        ["costs", "--timeout", "soon"],
        ["costs", "--sample-interval", "0"],
        ["costs", "--basic-auth", "no-colon"],
        ["costs", "--source", "influx"],
        ["costs", "--config", "/nonexistent/finops.toml"],
        ["costs", "--ca-bundle", "/nonexistent/ca.pem", "--prometheus-url", DEAD_PROMETHEUS],
        ["costs", "--prometheus-url", "prometheus:9090"],
        ["costs", "--prometheus-url", "http://☃.net"],
        ["costs", "--prometheus-url", "http://x:99999"],
        ["costs", "--prometheus-url", "ftp://x"],
        ["costs", "--source", "opencost"],
        ["costs", "--source", "opencost", "--opencost-url", "http://\uff41\uff42.com"],
        ["costs", "--bearer-token", "tök", "--prometheus-url", DEAD_PROMETHEUS],
        ["costs", "-H", "X-A: é", "--prometheus-url", DEAD_PROMETHEUS],
        ["costs", "-H", "no colon", "--prometheus-url", DEAD_PROMETHEUS],
        ["costs", "--no-such-flag"],
        ["no-such-command"],
    ],
)
def test_bad_options_are_one_line_exit_2(home: Path, args: list[str]) -> None:
    run = cli(home, *args, "-q")
    assert_clean(run, allowed=(2,))


@cases(80)
@given(
    by=st.lists(st.text(TYPED, max_size=12) | st.sampled_from(["team", "project", "model",
                "namespace", "node", "gpu-model", "cluster", "environment"]), max_size=3)
)  # fmt: skip
def test_any_by_keys(home: Path, by: list[str]) -> None:
    args = ["costs", "--source", "sample", "--window", "6h", "-o", "json", "-q"]
    for key in by:
        args += ["--by", key]
    assert_clean(cli(home, *args))


@cases(100)
@given(
    flag=st.sampled_from(["--timeout", "--max-concurrency", "--sample-interval"]),
    value=st.text(TYPED, max_size=12)
    | st.integers(-(10**30), 10**30).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(str),
)
def test_any_number_option(home: Path, flag: str, value: str) -> None:
    assume(not value.startswith("-") or value[1:2].isdigit())  # "-x" is another flag
    run = cli(home, "costs", "--prometheus-url", DEAD_PROMETHEUS, "--window", "1h", "-q",
              "--timeout", "2s", flag, value)  # fmt: skip
    assert_clean(run, allowed=(1, 2))
    if run.code == 1:
        assert "Prometheus" in run.stderr


# ---- finops.toml -------------------------------------------------------------------------------

SECTIONS: dict[str, list[str]] = {
    "": ["source", "currency", "sample_seed"],
    "prometheus": ["url", "bearer_token", "username", "password", "headers", "ca_bundle",
                   "insecure_skip_tls_verify", "timeout_seconds", "retries", "max_concurrency",
                   "thanos_dedup", "thanos_partial_response", "sample_interval_seconds",
                   "replica_labels"],
    "opencost": ["url", "bearer_token"],
    "labels": ["team", "project", "model", "environment", "cost_center", "cluster"],
    "pricing": ["discount_percent", "gpu_hourly", "extra_catalog", "instance_overrides"],
    "gpus": ["idle_busy_p95", "underused_busy_avg", "min_held_share"],
    "budgets": ["warning_percent", "critical_percent", "teams", "projects", "total"],
    "notify": ["url", "format", "timeout_seconds", "retries"],
    "billing": ["aws_profile", "aws_region", "athena_workgroup", "athena_database",
                "athena_output_location", "cache_ttl_seconds", "team_tag"],
}  # fmt: skip

SCALARS = st.one_of(
    st.text(TYPED, max_size=20),
    st.sampled_from(["30s", "1m", "http://prometheus:9090", "ai-finops.io/team", "USD",
                     "p5.48xlarge", "", "true", "0", "-1", "1e400", "nan"]),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
)  # fmt: skip
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(TYPED, min_size=1, max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    sections = draw(st.lists(st.sampled_from(sorted(SECTIONS)) | st.text(TYPED, min_size=1,
                    max_size=8), max_size=3, unique=True))  # fmt: skip
    for section in ["", *sections]:
        known = SECTIONS.get(section, [])
        known_keys = st.lists(st.sampled_from(known), max_size=3, unique=True) if known else None
        keys = draw(
            st.lists(st.text(TYPED, min_size=1, max_size=10), max_size=1)
            if known_keys is None
            else known_keys | st.lists(st.text(TYPED, min_size=1, max_size=10), max_size=1)
        )
        if section:
            lines.append(f"[{_toml_key(section)}]")
        for key in keys:
            lines.append(f"{_toml_key(key)} = {_toml_value(draw(TOML_VALUES))}")
    return "\n".join(lines) + "\n"


def _load(config: Path, env: dict[str, str] | None = None) -> Any:
    return load_settings({}, env=env or {}, cwd=config.parent, user_config_dir=config.parent / "u",
                         config_file=config)  # fmt: skip


def _one_line(err: UsageError) -> None:
    text = str(err)
    assert text and len(text.splitlines()) == 1, text


@cases(500)
@given(document=toml_documents())
def test_any_finops_toml_loads_or_is_one_usage_error(home: Path, document: str) -> None:
    config = home / "fuzz.toml"
    config.write_text(document, encoding="utf-8")
    try:
        settings_ = _load(config)
    except UsageError as err:
        _one_line(err)
        for secret in ("bearer_token", "password"):  # a secret's value is never echoed
            assert f"{secret} from" not in str(err) or "(got" not in str(err), str(err)
        return
    if not settings_.pricing.is_empty:  # prices resolve too, or say why not
        try:
            load_catalog(settings_.pricing)
        except UsageError as err:
            _one_line(err)


@cases(60)
@given(document=toml_documents())
def test_any_finops_toml_through_the_cli(home: Path, document: str) -> None:
    config = home / "cli-fuzz.toml"
    config.write_text(document, encoding="utf-8")
    run = cli(home, "pricing", "list", "--config", str(config), "-o", "json")
    assert_clean(run)


@cases(200)
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_finops_toml(home: Path, raw: bytes) -> None:
    config = home / "bytes.toml"
    config.write_bytes(raw)
    try:
        _load(config)
    except UsageError as err:
        _one_line(err)


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("[prometheus]\ntimeout_seconds = \"soon\"\n", "prometheus.timeout_seconds"),
        ("[prometheus]\nretries = -1\n", "prometheus.retries"),
        ("[prometheus]\nretries = true\n", "prometheus.retries"),
        ("[prometheus]\nmax_concurrency = 0\n", "prometheus.max_concurrency"),
        ("prometheus = 5\n", "prometheus"),
        ("[prometheus]\nurl = 9090\n", "prometheus.url"),
        ("[labels]\nteam = \"bad key!\"\n", "labels.team"),
        ("currency = \"dollars\"\n", "currency"),
        ("[pricing]\ndiscount_percent = 150\n", "pricing.discount_percent"),
        ("[pricing]\ndiscount_percent = \"10%\"\n", "pricing.discount_percent"),
        ("[pricing]\ngpu_hourly = -1\n", "pricing.gpu_hourly"),
        ("[pricing]\ngpu_hourly = true\n", "pricing.gpu_hourly"),
        ("[pricing]\ngpu_hourly = nan\n", "pricing.gpu_hourly"),
        ("[pricing.instance_overrides]\n\"p5.48xlarge\" = {}\n", "instance_overrides"),
        ("[pricing.instance_overrides]\n\"p5.48xlarge\" = 98.3\n", "instance_overrides"),
        ("[pricing.instance_overrides]\nA = {on_demand_hourly = 1}\na = {spot_hourly = 1}\n",
         "instance_overrides"),
        ("[pricing]\nextra_catalog = \"missing.csv\"\n", "missing.csv"),
        ("[pricing]\nbogus = 1\n", "unknown setting pricing.bogus"),
        ("[budgets.teams.nlp]\nmonthly = 0\n", "budgets.teams.nlp.monthly"),
        ("[gpus]\nidle_busy_p95 = 2\n", "gpus.idle_busy_p95"),
        ("[prometheus\nurl = 1\n", "not valid TOML"),
        ("[prometheus]\nbearer_token = \"a\\nb\"\n", "prometheus.bearer_token"),
    ],
)  # fmt: skip
def test_bad_finops_toml_examples(home: Path, document: str, needle: str) -> None:
    config = home / "example.toml"
    config.write_text(document, encoding="utf-8")
    run = cli(home, "pricing", "list", "--config", str(config), "-o", "json")
    assert_clean(run, allowed=(2,))
    assert needle in run.stderr, run.stderr
    assert "a\nb" not in run.stderr


def test_a_directory_or_unreadable_file_as_config(home: Path) -> None:
    run = cli(home, "costs", "--config", str(home), "-q")
    assert_clean(run, allowed=(2,))
    assert "cannot read" in run.stderr


# ---- FINOPS_* variables -------------------------------------------------------------------------


@cases(400)
@given(
    values=st.dictionaries(
        st.sampled_from(sorted(ENVIRONMENT_VARIABLES)),
        st.text(st.characters(blacklist_characters="\x00"), max_size=30)
        | st.text(
            st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
        )  # undecodable bytes in the environment
        | st.sampled_from(["0", "-1", "true", "yes", "30s", "1e999", "nan", "http://x", "a;b"]),
        max_size=4,
    )
)
def test_any_environment_loads_or_is_one_usage_error(home: Path, values: dict[str, str]) -> None:
    try:
        load_settings({}, env=values, cwd=home, user_config_dir=home / "none")
    except UsageError as err:
        _one_line(err)
        assert any(name in str(err) for name in values), str(err)


# ---- pricing overrides and extra catalogs -------------------------------------------------------


@cases(200)
@given(
    header=st.sampled_from([
        "provider,instance_type,region,gpu_model,gpu_count,gpu_memory_gib,vcpu,memory_gib,"
        "on_demand_hourly,spot_hourly,as_of,verified,source",
        "provider,instance_type",
        "",
    ]),
    rows=st.lists(
        st.lists(st.text(TYPED, max_size=12) | st.sampled_from(["aws", "p5.48xlarge", "us-east-1",
                 "8", "98.32", "-1", "nan", "2026-01-01", "true", ""]), min_size=0, max_size=14),
        max_size=4,
    ),
)  # fmt: skip
def test_any_extra_catalog_csv(home: Path, header: str, rows: list[list[str]]) -> None:
    path = home / "extra.csv"
    text = header + "\n" + "\n".join(",".join(json.dumps(c) for c in row) for row in rows)
    path.write_text(text, encoding="utf-8")
    config = home / "pricing.toml"
    config.write_text(f"[pricing]\nextra_catalog = {json.dumps(str(path))}\n", encoding="utf-8")
    try:
        catalog = load_catalog(_load(config).pricing)
    except UsageError as err:
        _one_line(err)
        return
    for row in catalog.rows:  # what was accepted is usable: no NaN or negative prices
        for price in (row.on_demand_hourly, row.spot_hourly):
            assert price is None or 0 <= price < float("inf")


# ---- output files -------------------------------------------------------------------------------


def _unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot create files in: a read-only one, or (as root, who
    writes anywhere) /sys. Skips when neither is available."""
    if os.geteuid() != 0:
        directory = tmp_path / "read-only"
        directory.mkdir()
        directory.chmod(0o555)
        return directory
    candidate = Path("/sys")
    try:
        handle, name = tempfile.mkstemp(dir=candidate)
    except OSError:
        return candidate
    os.close(handle)
    os.unlink(name)
    pytest.skip("no directory is read-only to this (root) process")


@pytest.fixture
def fake_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pricing refresh`` without AWS: the live answer is the packaged catalog, unchanged."""
    from finops_cli.pricing import aws_refresh

    def refresh(rows: Any, region: str, **_: Any) -> Any:
        return aws_refresh.RefreshResult(
            rows=list(rows), on_demand={"p5.48xlarge": 98.32}, spot={}, missing_on_demand=[],
            region=region,
        )  # fmt: skip

    monkeypatch.setattr(aws_refresh, "refresh_aws", refresh)


@pytest.mark.usefixtures("fake_refresh")
def test_refresh_into_an_unwritable_directory(tmp_path: Path) -> None:
    directory = _unwritable_directory(tmp_path)
    before = sorted(p.name for p in directory.iterdir())
    target = directory / "aws-prices.csv"
    run = run_inprocess("pricing", "refresh", "--output-file", str(target), home=tmp_path)
    assert_clean(run, allowed=(2,))
    assert str(directory) in run.stderr
    assert sorted(p.name for p in directory.iterdir()) == before  # nothing, not even a .tmp


@pytest.mark.usefixtures("fake_refresh")
@pytest.mark.parametrize("where", ["missing-dir/out.csv", "a-file/out.csv", "."])
def test_refresh_into_a_path_that_cannot_be_a_file(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    run = run_inprocess("pricing", "refresh", "--output-file", where, home=tmp_path)
    assert_clean(run, allowed=(2,))
    assert not (tmp_path / "missing-dir").exists()
    assert (tmp_path / "a-file").read_text() == "not a directory"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.usefixtures("fake_refresh")
def test_a_failed_write_keeps_the_old_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "aws-prices.csv"
    target.write_text("the old catalog\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(os, "fsync", disk_full)
    run = run_inprocess("pricing", "refresh", "--output-file", str(target), home=tmp_path)
    assert_clean(run, allowed=(1, 2))
    assert "No space left on device" in run.stderr
    assert target.read_text() == "the old catalog\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["aws-prices.csv"]


@pytest.mark.usefixtures("fake_refresh")
def test_refresh_writes_when_it_can(tmp_path: Path) -> None:
    target = tmp_path / "aws-prices.csv"
    run = run_inprocess("pricing", "refresh", "--output-file", str(target), home=tmp_path)
    assert run.code == 0, run.stderr
    assert target.read_text(encoding="utf-8").startswith("provider,")

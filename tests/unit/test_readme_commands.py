"""Every ``finops ...`` command of README.md runs on the sample cluster and shows something.

The commands are read from the README itself: each ``finops`` (or ``.venv/bin/finops``) command in
a fenced code block (``&&`` chains split, ``\\`` continuations joined, comments dropped), each
example of the commands table, and each inline ``.venv/bin/finops`` command of the prose. They
run in-process through the real entry point, in an empty working directory and with no
``FINOPS_*`` variable, so they read the built-in sample. Each must exit 0 and print a non-empty
answer: a document with rows, or a file it says it wrote.

The commands that need a real cluster or backend are listed in ``NEEDS_A_CLUSTER`` with the
reason; the test fails if the README gains or loses one, so the list stays honest.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.support.inprocess import run_inprocess

pytestmark = pytest.mark.slow  # a dozen commands, a PDF report among them: about 8 s

README = Path(__file__).resolve().parents[2] / "README.md"

NEEDS_A_CLUSTER = {
    "finops deploy --target kind --create-cluster": "creates a kind cluster (docker, kind)",
    "finops costs --prometheus-url http://prometheus.monitoring:9090 --window 30d --by team": (
        "a Prometheus at prometheus.monitoring"
    ),
    "finops costs --prometheus-url https://mimir.example.com/prometheus -H "
    "'X-Scope-OrgID: tenant-a'": "a Mimir at mimir.example.com",
    "finops costs --prometheus-url http://vmselect.monitoring:8481/select/0/prometheus": (
        "a VictoriaMetrics cluster at vmselect.monitoring"
    ),
    "finops costs --prometheus-url http://thanos-query.monitoring:9090 --thanos-dedup "
    "--no-thanos-partial-response --by cluster --by team": "a Thanos Query at thanos-query",
    "finops costs --prometheus-url http://thanos-query.monitoring:9090 --cluster eu-1": (
        "a Thanos Query at thanos-query"
    ),
    "finops costs --source opencost --opencost-url http://opencost.opencost:9003 --window 7d": (
        "an OpenCost at opencost.opencost"
    ),
    "finops costs --prometheus-url http://prometheus:9090 --compare opencost --opencost-url "
    "http://opencost.opencost:9003": "a Prometheus and an OpenCost",
}

_COMMAND = re.compile(r"^(?:\.venv/bin/)?finops\s")


def readme_commands(text: str) -> list[str]:
    """The README's finops commands, in order, normalised to start with ``finops``."""
    found: list[str] = []
    fenced = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
    for body in fenced.findall(text):
        for line in body.replace("\\\n", " ").splitlines():
            if line.lstrip().startswith("#"):
                continue
            for part in line.split("&&"):
                command = " ".join(part.split("#", 1)[0].split())
                if _COMMAND.match(command):
                    found.append(command)
    prose = fenced.sub("", text)
    for line in prose.splitlines():
        cells = line.split("|")
        table_example = line.startswith("|") and len(cells) > 3
        spans = re.findall(r"`([^`]+)`", cells[-2] if table_example else line)
        for span in spans:
            if (table_example and _COMMAND.match(span)) or span.startswith(".venv/bin/finops "):
                found.append(span)
    return [re.sub(r"^\.venv/bin/", "", c) for c in found]


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))
RUNNABLE = [c for c in COMMANDS if c not in NEEDS_A_CLUSTER]


def test_the_readme_has_commands_and_the_cluster_list_is_current():
    assert len(RUNNABLE) >= 10
    assert set(NEEDS_A_CLUSTER) == {c for c in COMMANDS if c in NEEDS_A_CLUSTER}, (
        "NEEDS_A_CLUSTER lists a command the README no longer has"
    )
    for command in RUNNABLE:  # any other URL means a backend: it belongs in NEEDS_A_CLUSTER
        assert "--prometheus-url" not in command and "--opencost-url" not in command, command
        assert not command.startswith("finops deploy"), command


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_command_runs_on_the_sample(command, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    args = shlex.split(command)[1:]
    if "-o" not in args and "--output" not in args and "--format" not in args:
        args += ["-o", "json"]  # the table on a terminal is the same document
    run = run_inprocess(*args, home=tmp_path, cwd=work)
    assert run.crash is None, run.crash
    assert run.code == 0, f"{command}: exit {run.code}: {run.stderr}"
    written = [p for p in work.iterdir() if p.is_file()]
    if run.stdout.strip():
        document = json.loads(run.stdout)
        for key in ("rows", "teams", "groups"):
            if key in document:
                assert document[key], f"{command}: no {key} on the sample"
                break
    else:  # a command that writes a file (report chargeback) says where
        assert written, f"{command}: no output and no file"
        assert all(p.stat().st_size > 0 for p in written)
        assert "wrote" in run.stderr


def test_readme_install_lines_never_pip_install_into_the_system_python():
    """PEP 668: a bare ``pip install`` is refused on Debian and Ubuntu; use a venv or pipx."""
    text = README.read_text(encoding="utf-8")
    fenced = re.findall(r"^```(?:sh|bash|console)?\n(.*?)^```", text, re.S | re.M)
    installs = [
        part.strip()
        for body in fenced
        for line in body.splitlines()
        for part in line.split("&&")
        if re.search(r"\bpip3? install\b", part)
    ]
    assert installs, "the README's set-up lines are gone"
    for command in installs:
        assert command.startswith((".venv/bin/pip ", "pipx ")), command
    setup = [line for body in fenced for line in body.splitlines() if "python3 -m venv" in line]
    assert len(setup) == 2  # "Try it" and "Run the tests"

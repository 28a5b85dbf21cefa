"""The test layout of docs/testing.md holds: nothing under tests/unit starts a real metrics server
(those tests live in tests/integration or tests/faults, where the markers expect them), and every
marker tests/conftest.py applies is registered in pyproject.toml."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests import conftest

TESTS = Path(__file__).resolve().parent
REAL_SERVER_MODULES = {m for m, mark in conftest._MODULE_MARKERS.items() if mark != "e2e"}


def _real_server_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in REAL_SERVER_MODULES:
            found.append(f"imports {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name in REAL_SERVER_MODULES]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = {a.arg for a in node.args.args}
            found += [f"{node.name} uses {f}" for f in conftest._FIXTURE_MARKERS if f in args]
    return found


def test_no_real_server_test_under_unit():
    misfiled = {
        str(path.relative_to(TESTS)): uses
        for path in sorted((TESTS / "unit").rglob("test_*.py"))
        if (uses := _real_server_uses(path))
    }
    assert not misfiled, f"move these to tests/integration or tests/faults: {misfiled}"


def test_every_automatic_marker_is_registered():
    pyproject = tomllib.loads((TESTS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    registered = {m.split(":", 1)[0] for m in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    applied = {
        *conftest._DIRECTORY_MARKERS.values(),
        *conftest._FIXTURE_MARKERS.values(),
        *conftest._MODULE_MARKERS.values(),
        "realserver",
        "slow",
    }
    assert applied <= registered

"""Session-wide fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.promserver import PromServerPool, require_prometheus


@pytest.fixture(scope="session")
def prometheus_from_openmetrics(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PromServerPool]:
    """``(text_or_path, name) -> url``: a real Prometheus backfilled with OpenMetrics data.

    One server per name for the whole session; all are stopped at session end. Skips the test
    when Prometheus is not installed (fails instead when CI=true).
    """
    require_prometheus()
    pool = PromServerPool(tmp_path_factory.mktemp("prometheus"))
    try:
        yield pool
    finally:
        pool.close()


# --- Markers (registered in pyproject.toml; docs/testing.md) -------------------------------------
# Applied here, so a new or moved test is marked by what it does rather than by remembering to:
#   * by directory: tests/unit -> unit, tests/integration -> integration, tests/faults -> faults,
#     tests/deploy -> deploy, tests/e2e -> e2e;
#   * by fixture: a test that uses a real-server fixture (directly or through another fixture)
#     -> that server's marker;
#   * by module: a test module that imports the real-server helpers (tests.support.promserver,
#     tests.support.vmserver) -> that server's marker; one that imports the subprocess CLI runner
#     (tests.support.cli) -> e2e;
#   * derived: prometheus or victoriametrics -> realserver; realserver or e2e -> slow.
# `slow` is also set by hand on in-process tests that take seconds (hypothesis-heavy ones).
# The inner loop is `pytest -m "not slow"` (`nox -s fast`).

_DIRECTORY_MARKERS = {
    "unit": "unit",
    "integration": "integration",
    "faults": "faults",
    "deploy": "deploy",
    "e2e": "e2e",
}
_FIXTURE_MARKERS = {"prometheus_from_openmetrics": "prometheus"}
_MODULE_MARKERS = {
    "tests.support.promserver": "prometheus",
    "tests.support.vmserver": "victoriametrics",
    "tests.support.cli": "e2e",
}
_TESTS_DIR = Path(__file__).resolve().parent


def _imported_from(module: ModuleType) -> set[str]:
    """The modules a test module took names from (``from X import y``, ``import X``)."""
    origins: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            origins.add(value.__name__)
        else:
            origin = getattr(value, "__module__", None)
            if isinstance(origin, str):
                origins.add(origin)
    return origins


def automatic_markers(item: pytest.Item) -> set[str]:
    """The markers the rules above give ``item`` (tests/test_layout.py: all registered)."""
    names: set[str] = set()
    path = Path(str(item.path)).resolve()
    if path.is_relative_to(_TESTS_DIR):
        parts = path.relative_to(_TESTS_DIR).parts
        if len(parts) > 1 and parts[0] in _DIRECTORY_MARKERS:
            names.add(_DIRECTORY_MARKERS[parts[0]])
    for fixture in getattr(item, "fixturenames", ()):
        if fixture in _FIXTURE_MARKERS:
            names.add(_FIXTURE_MARKERS[fixture])
    module = getattr(item, "module", None)
    if isinstance(module, ModuleType):
        names |= {m for origin, m in _MODULE_MARKERS.items() if origin in _imported_from(module)}
    existing = {mark.name for mark in item.iter_markers()} | names
    if existing & {"prometheus", "victoriametrics"}:
        names.add("realserver")
        existing.add("realserver")
    if existing & {"realserver", "e2e"}:
        names.add("slow")
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(automatic_markers(item)):
            item.add_marker(name)

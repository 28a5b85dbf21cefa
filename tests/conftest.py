"""Session-wide fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

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

"""Fixtures of the fault suite: the sample cluster in a real Prometheus, and a fault proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.common import backend
from tests.support.faultproxy import FaultProxy
from tests.support.promserver import PromServerPool


@pytest.fixture(scope="session")
def om_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults-om")


@pytest.fixture(scope="session")
def prom(prometheus_from_openmetrics: PromServerPool, om_dir: Path) -> str:
    """The whole sample cluster in a real Prometheus."""
    return backend(prometheus_from_openmetrics, om_dir, "full")


@pytest.fixture
def proxy(prom: str) -> Iterator[FaultProxy]:
    with FaultProxy(prom) as p:
        yield p

"""``files.write_atomic``: the one file writer (reports, caches, catalogs, generated manifests)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from finops_cli.files import PRIVATE, SHARED, current_umask, write_atomic


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_by_default_and_text_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    write_atomic(target, "équipe,coût\n")
    assert target.read_bytes() == "équipe,coût\n".encode()
    assert _mode(target) == PRIVATE & ~current_umask()


def test_shared_files_honour_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "catalog.csv"
    write_atomic(target, b"x", mode=SHARED)
    assert _mode(target) == SHARED & ~current_umask()


@pytest.mark.usefixtures("umask_077")
def test_a_strict_umask_wins(tmp_path: Path) -> None:
    for name, mode in (("a", PRIVATE), ("b", SHARED), ("c", 0o666)):
        write_atomic(tmp_path / name, b"x", mode=mode)
        assert _mode(tmp_path / name) & 0o077 == 0, name


def test_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_text("old and longer", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]

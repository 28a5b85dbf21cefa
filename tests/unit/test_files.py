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


def test_a_named_pipe_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    """``--output-file /dev/null`` or a FIFO: renaming over it would swap the device for a file."""
    import threading

    pipe = tmp_path / "report.pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    write_atomic(pipe, "team,cost\n")
    reader.join(timeout=10)
    assert received == [b"team,cost\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not list(tmp_path.glob(".report.pipe.*"))


def test_dev_null_stays_a_device() -> None:
    write_atomic(Path(os.devnull), "discarded")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)

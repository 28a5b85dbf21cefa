"""A small disk cache for paid API answers (Cost Explorer bills $0.01 a page).

One JSON file per request, named by a hash of everything that shapes the answer (operation,
parameters, account identity, endpoint), kept for a time to live. Files are written to a temporary
name and renamed into place, so a reader never sees half a file and two concurrent runs cannot
corrupt one; a file that is unreadable, from another version or expired is simply a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finops_cli.files import PRIVATE, write_atomic

CACHE_VERSION = 1


def default_directory() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("finops")) / "cost-explorer"


def cache_key(material: dict[str, Any]) -> str:
    """A stable hash of the request: key order and whitespace never change it."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """``get``/``put`` lists of response pages under ``directory`` for ``ttl_seconds``."""

    def __init__(
        self,
        directory: Path,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> list[dict[str, Any]] | None:
        if self.ttl_seconds <= 0:
            return None
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("version") != CACHE_VERSION:
            return None
        created = entry.get("created")
        pages = entry.get("pages")
        if not isinstance(created, int | float) or not isinstance(pages, list):
            return None
        age = self.clock() - created
        if age < 0 or age > self.ttl_seconds:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return pages

    def put(self, key: str, pages: list[dict[str, Any]]) -> None:
        """Best effort: a cache that cannot be written must never fail the command."""
        if self.ttl_seconds <= 0:
            return
        entry = {"version": CACHE_VERSION, "created": self.clock(), "pages": pages}
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self._path(key), json.dumps(entry, default=str), mode=PRIVATE)
        except OSError:
            return

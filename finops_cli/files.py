"""The one way finops writes a file: a temporary file in the same directory, then a rename.

Readers (a cron job picking up a report, a second finops reading the cache, Prometheus reading a
refreshed catalog) never see half a file, and a failed write leaves the old file, or none. Files
are created private (0600) unless they are meant to be shared, and a stricter umask always wins:
with ``umask 077`` nothing finops writes is group or world readable.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600
"""Reports and caches: cost figures and bill pages are nobody else's business by default."""
SHARED = 0o644
"""Files made to be read by other tools (catalogs, generated manifests), still under the umask."""


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_atomic(path: Path, payload: bytes | str, *, mode: int = PRIVATE) -> None:
    """Write ``payload`` (text is UTF-8) to ``path`` atomically with ``mode`` minus the umask.

    A path that is not a regular file (``/dev/null``, ``/dev/stdout``, a named pipe a script
    reads from) is written in place: renaming over it would replace the device or pipe with a
    file, and as root that breaks ``/dev/null`` for the whole machine.
    """
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    if path.exists() and not path.is_file():
        with path.open("wb") as handle:
            handle.write(data)
        return
    directory = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

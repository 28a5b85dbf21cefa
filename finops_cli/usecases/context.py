"""What every use case receives: the settings, the window, the clock, and a way to talk to the
user on stderr (progress, warnings, notices) that ``--quiet`` silences."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finops_cli.errors import FinopsError
    from finops_cli.settings import Settings
    from finops_cli.timewindow import Window


@dataclass(frozen=True)
class RunContext:
    """Settings, window and moment of one run, resolved once and passed to every use case."""

    settings: Settings
    window: Window
    now: datetime
    quiet: bool = False
    window_given: bool = False
    """True when --window, --start or --end was given: the window is the user's, not the 7d
    default (``report`` chooses its own period otherwise)."""

    def warn(self, message: str) -> None:
        """A notice on stderr; ``--quiet`` silences it (the JSON keeps it in ``notes``)."""
        self.notice(f"finops: warning: {message}")

    def warn_all(self, notes: Iterable[str]) -> None:
        """Each of a result's notes as a warning (the document keeps them too)."""
        for note in notes:
            self.warn(note)

    def notice(self, line: str) -> None:
        """One line on stderr (never stdout, which carries data only), unless ``--quiet``;
        wrapped on words to a terminal's width (a terminal cuts it mid-word), whole in a log."""
        if self.quiet:
            return
        if sys.stderr.isatty():
            import textwrap

            width = _stderr_columns()
            line = "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def progress(self, what: str) -> AbstractContextManager[object]:
        """A spinner on stderr while the backend works; silent when piped or with --quiet."""
        if self.quiet or not sys.stderr.isatty():
            return nullcontext()
        from rich.console import Console

        return Console(stderr=True).status(f"{what}…")


def _stderr_columns() -> int:
    """The width of the terminal stderr writes to (``COLUMNS`` first, as ``shutil`` reads it):
    stdout may be a pipe (``finops costs | head``) while notices still reach the terminal."""
    import os
    import shutil

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return shutil.get_terminal_size().columns


@dataclass(frozen=True)
class Outcome:
    """A document, what to do once it is written (post to a webhook), and the failure to raise
    after that (a ``--fail-on`` threshold): cron and CI jobs get the data, the notification and
    the exit code, in that order."""

    document: dict[str, Any]
    failure: FinopsError | None = None
    after: Callable[[], None] | None = None

    def finish(self) -> None:
        """Run ``after``, then raise ``failure``; call it once the document is on stdout."""
        if self.after is not None:
            self.after()
        if self.failure is not None:
            raise self.failure

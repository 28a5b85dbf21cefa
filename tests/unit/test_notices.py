"""Notices on stderr: wrapped on words in a terminal, one whole line in a log."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from finops_cli.settings import load_settings
from finops_cli.timewindow import Window
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import SAMPLE_BANNER

NOW = datetime(2026, 10, 2, tzinfo=UTC)


class _Stderr(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _run() -> RunContext:
    settings = load_settings({"source": "sample"}, config_file=None)
    return RunContext(settings, Window(NOW.replace(day=1), NOW, "1d"), NOW)


@pytest.mark.parametrize("columns", [80, 120])
def test_a_terminal_gets_the_notice_wrapped_on_words(monkeypatch, columns):
    stderr = _Stderr(tty=True)
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setenv("COLUMNS", str(columns))
    _run().notice(SAMPLE_BANNER)
    lines = stderr.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= columns for line in lines)
    assert " ".join(lines) == SAMPLE_BANNER  # cut on spaces only: every word whole


def test_a_log_gets_one_line(monkeypatch):
    stderr = _Stderr(tty=False)
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setenv("COLUMNS", "40")
    _run().notice(SAMPLE_BANNER)
    assert stderr.getvalue() == SAMPLE_BANNER + "\n"

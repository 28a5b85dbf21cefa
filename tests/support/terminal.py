"""Run ``finops`` in a real terminal (a detached ``tmux`` pane of a given size) and check what a
person would see: no line wider than the terminal, no number or identifier cut with ``…``.

A pipe is not a terminal: finops writes JSON there, and rich sizes tables from ``COLUMNS`` only
when asked to. In a tmux pane stdout *is* a terminal of exactly ``width`` columns, so the command
chooses the table format and its width by itself, as it does for a user.

    screen = run_in_terminal(["costs", "--window", "2d"], width=80)
    assert_fits(screen, 80)
    assert_whole(screen, ["research", "1,139.33"])

Each run gets its own tmux server (``-L``), so runs in parallel and a user's own tmux are left
alone. stderr goes to a file, not the pane, unless ``stderr=True``: the screen is the data.
Usable by every command's table tests (``gpus`` and ``rightsize`` included).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import clean_env, finops_executable

DONE = "__FINOPS_TERMINAL_DONE__"
CUT_TOKEN = re.compile(r"[\w$%.,:/()+-]…|…[\w$%.,:/()+-]")
"""An ellipsis touching a character of a number or a name: something was cut there."""
CUT_NUMBER = re.compile(r"[\d.,]…|…[\d]")


@dataclass(frozen=True)
class Screen:
    """What the pane showed: ``lines`` (wrapped lines joined back, trailing blanks dropped),
    the exit code, and stderr when it was kept off the pane."""

    lines: list[str]
    code: int
    stderr: str

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


def run_in_terminal(
    args: Sequence[str],
    width: int,
    height: int = 60,
    env: Mapping[str, str] | None = None,
    stderr: bool = False,
    timeout: float = 120.0,
) -> Screen:
    """``finops *args`` in a tmux pane ``width`` columns wide, ``height`` lines high: the
    screen and its scrollback."""
    if not tmux_available():
        pytest.skip("tmux is not installed")
    socket = f"finops-test-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as tmp:
        err_file = Path(tmp) / "stderr"
        variables = clean_env({"TERM": "xterm-256color", **(env or {})})
        variables.pop("COLUMNS", None)
        variables.pop("LINES", None)
        command = " ".join(
            [
                "env -i",
                *(shlex.quote(f"{k}={v}") for k, v in variables.items()),
                shlex.quote(str(finops_executable())),
                *(shlex.quote(a) for a in args),
                "" if stderr else f"2>{shlex.quote(str(err_file))}",
                f"; echo {DONE} $?; sleep 600",
            ]
        )
        tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
        subprocess.run(
            [*tmux, "new-session", "-d", "-x", str(width), "-y", str(height), command],
            check=True,
            env={**os.environ, "TMUX": ""},
        )
        try:
            subprocess.run([*tmux, "set-option", "-g", "history-limit", "50000"], check=False)
            deadline = time.monotonic() + timeout
            while True:
                captured = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-J", "-S", "-", "-E", "-"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                done = re.search(rf"^{DONE} (\d+)\s*$", captured, flags=re.M)
                if done:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"finops {' '.join(args)} did not finish:\n{captured}")
                time.sleep(0.2)
        finally:
            subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
        lines = [line.rstrip() for line in captured[: done.start()].splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        text_err = err_file.read_text(encoding="utf-8") if err_file.exists() else ""
        return Screen(lines, int(done.group(1)), text_err)


def assert_fits(screen: Screen, width: int) -> None:
    """No line wider than the terminal, and no ``…`` inside a number or a name."""
    assert screen.code == 0, f"exit {screen.code}: {screen.stderr}"
    for line in screen.lines:
        assert len(line) <= width, f"{len(line)} > {width} columns: {line!r}"
        cut = CUT_TOKEN.search(line)
        assert cut is None, f"cut at {cut.group(0)!r}: {line!r}"


def assert_whole(screen: Screen, values: Iterable[str]) -> None:
    """Each of ``values`` (an identifier, a formatted number) appears whole on one line."""
    text = screen.text
    for value in values:
        assert value in text, f"{value!r} is not shown whole:\n{text}"

"""Run ``finops`` in this process, through its real entry point, for property-based tests.

``finops_cli.cli.app.main`` is what the console script calls: it parses ``sys.argv``, runs the
command and turns every failure into one line and an exit code. Running it in-process instead of
in a subprocess costs milliseconds rather than a second, so hypothesis can try hundreds of inputs.
Each run gets a clean environment (no ``FINOPS_*`` of the caller), its own working directory and
config directory, and captured stdout/stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from finops_cli.cli.app import main

__all__ = ["Run", "run_inprocess"]


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    crash: BaseException | None = None  # anything main() let escape (it never should)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("finops: error:")]


def run_inprocess(
    *args: str,
    home: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """``finops *args`` with ``HOME``/``XDG_CONFIG_HOME`` under ``home`` and only ``env`` set."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "LANG": "C.UTF-8",
        "FINOPS_PROMETHEUS_RETRIES": "0",
        **(env or {}),
    }
    out, err = io.StringIO(), io.StringIO()
    code, crash = 0, None
    before = Path.cwd()
    with (
        mock.patch.dict(os.environ, clean, clear=True),
        mock.patch.object(sys, "argv", ["finops", *args]),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        os.chdir(cwd or home)
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # the property under test is that this never happens
            crash, code = exc, -1
        finally:
            os.chdir(before)
    return Run(tuple(args), code, out.getvalue(), err.getvalue(), crash)

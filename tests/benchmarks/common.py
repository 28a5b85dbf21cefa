"""What every benchmark reports beside its figures: the CPU they came from and peak memory."""

from __future__ import annotations

import compileall
import platform
import resource
from pathlib import Path

import finops_cli


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (per address space, so reset by exec, unlike
    ru_maxrss, which a child inherits from a large parent), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compile_finops() -> None:
    """Write finops' .pyc files before timing it.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (containers often set it) a module edited since its
    .pyc was written is compiled again on every run, which would count as start-up time that an
    installed finops never pays.
    """
    compileall.compile_dir(Path(finops_cli.__file__).parent, quiet=1)

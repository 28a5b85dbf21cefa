"""The sample cluster's physics: each GPU's power and energy counter, and each vLLM request's
prefill and decode time.

Kept apart from ``simulate`` (which writes the series) and ``truth`` (which integrates them)
because both read the same model: a GPU draws ``70 + 280 x busy`` W, where busy is the physical
GPU's (a MIG-partitioned GPU's is its instances' busy weighted by their slices, as dcgm-exporter
repeats the parent's power on every instance); its energy counter
(``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``, mJ) counts that power sample by sample since the
driver last loaded, and the driver of every node restarts every ``DRIVER_RESTART_S`` at a
phase of its own (a counter reset, as a driver or exporter restart gives a real fleet).
Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from finops_cli.sample.scenario import QUANTUM_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

IDLE_WATTS = 70.0
BUSY_WATTS = 280.0  # on top of idle, at busy 1
DRIVER_RESTART_S = 3 * 86400
PREFILL_TOKENS_PER_S = (3000.0, 9000.0)  # a served model's prompt throughput, low..high
DECODE_TOKENS_PER_S = (25.0, 90.0)  # and its per-request generation speed


def _fraction(*parts: object) -> float:
    """A stable number in [0, 1) from ``parts`` (no global random state)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def power_watts(busy: FloatArray) -> FloatArray:
    """What ``DCGM_FI_DEV_POWER_USAGE`` reads for a GPU whose engine is ``busy`` (0-1)."""
    return np.floor(IDLE_WATTS + BUSY_WATTS * busy)


def last_restart(seed: int, node: str, instants: IntArray) -> IntArray:
    """The last driver load on ``node`` at or before each instant (a 15-minute boundary)."""
    phase = int(_fraction(seed, "driver", node) * (DRIVER_RESTART_S // QUANTUM_S)) * QUANTUM_S
    return np.asarray(instants - ((instants - phase) % DRIVER_RESTART_S), dtype=np.int64)


def energy_counter_mj(
    seed: int, node: str, grid: IntArray, watts: FloatArray, step: int
) -> FloatArray:
    """The energy counter at each instant of ``grid`` (mJ since the driver loaded).

    ``grid`` must start at or before the last restart before its first instant of interest
    (``last_restart``) for the values there to be whole; each sample adds its interval's energy
    (``watts x step``), and the counter restarts from the first sample after each driver load.
    """
    per_sample = watts * step * 1000.0
    restarts = last_restart(seed, node, grid - 1)
    running = np.cumsum(per_sample)
    starts = np.flatnonzero(np.r_[True, restarts[1:] != restarts[:-1]]) if len(grid) else grid
    before = np.r_[0.0, running][starts]  # the running total just before each restart
    segment = np.cumsum(np.r_[True, restarts[1:] != restarts[:-1]]) - 1 if len(grid) else grid
    return np.asarray(running - before[segment], dtype=np.float64)


def prefill_seconds_per_request(seed: int, workload: str, prompt_tokens: float) -> float:
    """Prefill time of one request of ``workload``: its prompt at the model's throughput."""
    low, high = PREFILL_TOKENS_PER_S
    return prompt_tokens / (low + (high - low) * _fraction(seed, "prefill", workload))


def decode_seconds_per_request(seed: int, workload: str, generated_tokens: float) -> float:
    """Decode time of one request: its generated tokens at the model's per-request speed."""
    low, high = DECODE_TOKENS_PER_S
    return generated_tokens / (low + (high - low) * _fraction(seed, "decode", workload))


def prefix_hit_share(seed: int, workload: str) -> float:
    """Share of prompt tokens a vLLM server finds in its prefix cache (0.1-0.6)."""
    return 0.1 + 0.5 * _fraction(seed, "prefix", workload)

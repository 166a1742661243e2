"""Timing one repeated operation: warm-up, calibration, then a median and an interquartile range.

A sample runs the operation enough times to last at least ``min_sample_s`` (so timer resolution and the
per-sample synchronisation are negligible against it), and reports the time per operation. On CUDA the
caller's ``sync`` waits for the device before the clock is read at both ends of a sample, so queued kernels
are counted where they run, not where they are launched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

# At most this many operations per sample: a no-op candidate must not make calibration spin forever.
MAX_PER_SAMPLE = 10_000


@dataclass(frozen=True)
class Timing:
    """Seconds per operation over ``samples`` samples of ``per_sample`` operations each."""

    median: float
    q1: float
    q3: float
    samples: int
    per_sample: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "iqr": self.iqr}


def _sample(operation: Callable[[], None], sync: Callable[[], None], n: int) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(n):
        operation()
    sync()
    return (time.perf_counter() - start) / n


def measure(
    operation: Callable[[], None],
    sync: Callable[[], None],
    *,
    repeats: int,
    warmup: int = 1,
    min_sample_s: float = 2e-3,
) -> Timing:
    """Time ``operation`` after ``warmup`` untimed calls; ``repeats`` samples, each calibrated to last at
    least ``min_sample_s``."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        operation()
    one = _sample(operation, sync, 1)
    per_sample = min(MAX_PER_SAMPLE, max(1, math.ceil(min_sample_s / max(one, 1e-9))))
    times = [_sample(operation, sync, per_sample) for _ in range(repeats)]
    q1, median, q3 = (float(q) for q in np.percentile(times, [25, 50, 75]))
    return Timing(median, q1, q3, repeats, per_sample)

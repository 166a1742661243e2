"""How far a candidate's numbers are from the expected ones.

Errors are measured norm-wise per array: ``max|actual - expected| / max|expected|``. Element-wise relative
error is meaningless for an element that crosses zero (one rounding gives an unbounded ratio), while the
array's max-norm is the scale against which one rounding error of an optimizer step is made. Complex values
are compared as (real, imag) pairs, as torch optimizes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np


def as_real(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return np.stack([x.real, x.imag], axis=-1)
    return x


def normwise_error(actual: np.ndarray, expected: np.ndarray, scale: float | None = None) -> float:
    """max |actual - expected| / max |expected|; inf where finiteness differs; the absolute error if expected
    is all zero. Shapes must match. ``scale``, where given, replaces max |expected| (``running_scales``)."""
    a, e = as_real(actual).astype(np.float64), as_real(expected).astype(np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shape {a.shape} differs from the expected {e.shape}")
    if e.size == 0:
        return 0.0
    finite = np.isfinite(e)
    # NaN where the expected has NaN (an unwritten slot, e.g. LBFGS's al) is the same value
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(
        a[~finite], e[~finite], equal_nan=True
    ):
        return float("inf")
    diff = float(np.max(np.abs(a[finite] - e[finite]), initial=0.0))
    if scale is None:
        scale = float(np.max(np.abs(e[finite]), initial=0.0))
    return diff / scale if scale > 0 else diff


@dataclass
class Divergence:
    """Per-case metrics over a trajectory (``steps`` x arrays).

    ``max_ulp`` counts units in the last place of the candidate's dtype at the scale of each array, so a
    float32 result 3 ULPs away reads the same whatever the magnitudes are.
    """

    max_abs: float = 0.0
    max_rel: float = 0.0
    max_ulp: float = 0.0
    first_bad_step: int | None = None
    non_finite: bool = False
    worst_step: int | None = None
    # The largest norm-wise relative error after each compared step (the report's error-against-step plot).
    step_rel: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The summary metrics (without the per-step list, which only a failing record carries)."""
        return {k: v for k, v in asdict(self).items() if k != "step_rel"}


def trajectory_divergence(
    actual: list[list[np.ndarray]],
    expected: list[list[np.ndarray]],
    rtol: list[float],
    eps: float,
    scales: list[list[float]] | None = None,
) -> Divergence:
    """Compare ``actual[t][i]`` with ``expected[t][i]``; ``rtol[t]`` is the tolerance after step ``t + 1``.

    ``first_bad_step`` is 1-based (the step after which the params first exceed the tolerance); ``eps`` is
    the candidate dtype's machine epsilon, the unit of ``max_ulp``. ``scales[t][i]``, where given, is the
    magnitude array ``i``'s error is measured against instead of its own max-norm (``running_scales``).
    """
    d = Divergence()
    for t, (act_t, exp_t) in enumerate(zip(actual, expected, strict=True)):
        d.step_rel.append(0.0)
        for i, (a, e) in enumerate(zip(act_t, exp_t, strict=True)):
            given = None if scales is None else scales[t][i]
            a64, e64 = as_real(a).astype(np.float64), as_real(e).astype(np.float64)
            if a64.shape != e64.shape:
                raise ValueError(
                    f"after step {t + 1}: shape {np.shape(a)} differs from the expected {np.shape(e)}"
                )
            if e64.size == 0:
                continue
            if not np.all(np.isfinite(a64)):
                d.non_finite = True
            rel = normwise_error(a64, e64, given)
            d.step_rel[t] = max(d.step_rel[t], rel)
            scale = (
                given if given is not None else float(np.max(np.abs(e64[np.isfinite(e64)]), initial=0.0))
            ) or 1.0
            diff = float(np.max(np.abs(a64 - e64))) if np.all(np.isfinite(a64)) else float("inf")
            if rel > d.max_rel:
                d.max_rel, d.worst_step = rel, t + 1
            d.max_abs = max(d.max_abs, diff)
            unit = eps * scale  # 0 where the scale is subnormal: then any difference is unbounded in ULPs
            d.max_ulp = max(d.max_ulp, diff / unit if unit > 0 else (0.0 if diff == 0 else float("inf")))
            if rel > rtol[t] and d.first_bad_step is None:
                d.first_bad_step = t + 1
    return d


def running_scales(
    names: list[list[str]], expected: list[list[np.ndarray]], start: Mapping[str, np.ndarray], floor: float
) -> list[list[float]]:
    """For ``expected[t][i]``: the largest magnitude the reference has held under the name ``names[t][i]``
    up to step ``t`` (``start``: values before the first step), and at least ``floor``.

    Measuring an error against it rather than against the current max-norm keeps the scale the arithmetic
    worked at. A step that cancels (a param of 1 moved by 1 - 1e-8 ends at 1e-8) is rounded at the scale of
    its operands, so float32's correct answer is off by ~1e-7 of 1, not by 10 times the result; and an
    error made while a value was large stays in it as the value decays. ``floor`` is the dtype's smallest
    normal number: below it a dtype keeps absolute, not relative, precision.
    """
    seen = {name: float(np.max(np.abs(as_real(v)), initial=0.0)) for name, v in start.items()}
    out = []
    for names_t, expected_t in zip(names, expected, strict=True):
        row = []
        for name, e in zip(names_t, expected_t, strict=True):
            finite = np.abs(as_real(e)[np.isfinite(as_real(e))])
            seen[name] = max(seen.get(name, 0.0), float(np.max(finite, initial=0.0)))
            row.append(max(seen[name], floor))
        out.append(row)
    return out

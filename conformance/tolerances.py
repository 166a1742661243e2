"""The tolerance policy, in layers: dtype defaults, then per-case overrides carried by the vectors, then
per-implementation overrides (``conformance/known_deviations/<impl>.toml``'s ``[tolerance]`` table).

Every number is derived here, in one place, with its reason:

- float64: torch's float64 for-loop agrees with the float64 reference to ~1e-15 relative over 200 Adam
  steps (the project's differential tests measure it). 1e-10 leaves five orders of magnitude for other
  platforms' libm and summation orders, and is still seven orders below the 1e-3 change that every
  catalogued option causes when it is wrong.
- lower precisions: each step rounds every element a few times; those relative errors of size ``eps``
  accumulate at most linearly over ``t`` steps in a contracting optimization, so after step ``t`` the
  trajectory may be off by ``GROWTH * eps * t`` (plus one step's worth). ``GROWTH`` is the measured worst
  case of torch's float32 variants against the float64 reference over the whole catalogue, with margin.
- single steps from a stored checkpoint (teacher forcing): one step's error only, ``SINGLE_STEP * eps``,
  whatever the step number, so a bug that accumulated rounding would hide is still caught.
- an override (a case's ``tolerance``, or an implementation's) maps a dtype to a constant tolerance for
  both checks, or ``"<dtype>:trajectory"`` / ``"<dtype>:single_step"`` to one for that check only (an
  LBFGS trajectory amplifies its rounding where one step from a checkpoint does not).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Machine epsilon of each dtype the harness runs (bfloat16 and float16 are not NumPy dtypes).
EPS = {
    "float64": float(np.finfo(np.float64).eps),
    "float32": float(np.finfo(np.float32).eps),
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0**-7,  # 8 significant bits (7 stored): eps = 2^-7
}
# Smallest normal number of each dtype: below it a dtype keeps absolute, not relative, precision (the
# floor of ``conformance.metrics.running_scales``).
TINY = {
    "float64": float(np.finfo(np.float64).tiny),
    "float32": float(np.finfo(np.float32).tiny),
    "float16": float(np.finfo(np.float16).tiny),
    "bfloat16": 2.0**-126,  # float32's exponent range
}
FLOAT64_RTOL = 1e-10
# Measured worst case of torch's float32 variants (forloop/foreach/fused) over the catalogue, as
# max over cases and steps of rel_t / (eps * t): 6.0 (AdamW, amsgrad after a spike: a 0-d param passing near
# zero at step 2), then Rprop 4.1 and RAdam 4.2 on Rosenbrock; most optimizers stay below 2. 16 is that worst
# case with a margin of 2.7; at 30 steps it allows 5.7e-5, still 17x below the 1e-3 change that every
# catalogued option causes when it is wrong.
GROWTH = 16.0
# One step from a checkpoint: a handful of roundings in the update (moments, sqrt, division, the add).
# Measured worst case max_rel / eps over the catalogue: 1.74 (ASGD); 8 leaves a margin of 4.6.
SINGLE_STEP = 8.0


def _override(override: Mapping[str, float] | None, dtype: str, check: str) -> float | None:
    """The override for ``check`` (``trajectory`` or ``single_step``) in ``dtype``, if any."""
    if not override:
        return None
    value = override.get(f"{dtype}:{check}", override.get(dtype))
    return None if value is None else float(value)


def trajectory_rtol(dtype: str, steps: int, override: Mapping[str, float] | None = None) -> list[float]:
    """The tolerance after each step ``1..steps``, for a candidate computing in ``dtype``."""
    if (value := _override(override, dtype, "trajectory")) is not None:
        return [value] * steps
    if dtype == "float64":
        return [FLOAT64_RTOL] * steps
    return [GROWTH * EPS[dtype] * (t + 1) for t in range(steps)]


def single_step_rtol(dtype: str, override: Mapping[str, float] | None = None) -> float:
    if (value := _override(override, dtype, "single_step")) is not None:
        return value
    return FLOAT64_RTOL if dtype == "float64" else SINGLE_STEP * EPS[dtype]

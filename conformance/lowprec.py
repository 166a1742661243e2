"""The low-precision check: every step of a bfloat16 or float16 candidate against the reference computing
that one step as torch's kernels compute for such params, in ULPs of the storage dtype.

How torch 2.13 computes for half params (CPU; CUDA's kernels follow the same scheme):

- **storage**: params and gradients are in the param's dtype, and so is every state tensor made with
  ``torch.zeros_like(p)`` (``torch/optim/adam.py``'s ``_init_group`` and its siblings: moments, momentum
  buffers, accumulators); ``step`` (and ASGD's ``eta``/``mu``) are float32 tensors.
- **for-loop and foreach**: one tensor op at a time (``exp_avg.lerp_``, ``exp_avg_sq.mul_().addcmul_()``,
  ``sqrt``, ``div``, ``addcdiv_``...). ATen's CPU kernels for Half and BFloat16 convert each loaded vector to
  float32 (``at::opmath_type<scalar_t>`` is ``float``), compute the op, and round its result to the half dtype
  when they store it; Python scalars (bias corrections, step sizes) are doubles converted to float32.
- **fused** (``aten/src/ATen/native/cpu/FusedAdamKernel.cpp`` and siblings: ``using opmath_t =
  at::opmath_type<scalar_t>``): loads param, gradient and state, computes the whole update in float32 and
  rounds once, when it stores param and state.

The model (``half_step``): the reference (``refimpl``) computes the step in float32 from the candidate's own
params and state (half values are exact in float32) and the gradients on the half grid, and its results are
rounded to the half dtype. That is the fused kernels' arithmetic exactly; the for-loop and foreach round
every intermediate too and are not modelled (see ``MODELLED``). Teacher forcing from
the candidate's own values at every step keeps the check at one step's rounding, so a half-precision run
is held to a few ULPs instead of a bound that grows with the step count.

The unit is the ULP, in the dtype an entry is stored in, of the largest of the new value, the old one and
the update (``max(|new|, |old|, |new - old|)``): a step's result is rounded once at its own magnitude, and
an update computed with a few roundings is off by a few ULPs of the update itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HALF = ("bfloat16", "float16")
# Stored mantissa bits and the exponent of the smallest normal number of each storage dtype.
MANTISSA = {"bfloat16": 7, "float16": 10, "float32": 23}
MIN_EXPONENT = {"bfloat16": -126, "float16": -14, "float32": -126}
# The variants whose arithmetic the model is: torch's fused kernels, and a candidate with one implementation.
MODELLED = ("fused", "default")
# The largest error a correct candidate makes, in ULPs (see the module docstring for the unit). Measured
# over the catalogue with torch 2.13's fused kernels on CPU: 1.0 in bfloat16, 2.0 in float16 (Adam's
# kernel-size case: float32 sums in another order than the reference's, and a half rounding flips); twice
# the worst case. The half-precision mutants in tests/mutants (a doubled lr, a wrong eps, a dropped bias
# correction) are off by tens of ULPs on the case made to show them (adam/...-half).
TOLERANCE_ULPS = 4.0
# The for-loop and foreach are not modelled: they round every intermediate of the update to the half
# dtype, with some scalar arguments rounded too (``add(p, alpha=wd)``) and others not, so where terms
# cancel (g + wd * p, centered RMSprop's v - m^2) or underflow (float16's g * g below 2^-24) their results
# leave any one-rounding model by hundreds of ULPs (measured: up to 448 in bfloat16, non-finite in float16,
# on the kernel-size cases) while being torch's correct for-loop. The float64 trajectory is no bound for them
# either (float16 AdamW, lr 0.05: 670 ULPs at step 35; Adam's default eps = 1e-8 is 0 in float16, so a zero
# gradient gives 0/0). Every half-precision check (single steps, trajectories, the property layer) reports
# them "not supported" with this reason (``conformance.halfsteps.unmodelled``).


def to_grid(x: Any, dtype: str) -> np.ndarray:
    """``x`` rounded (to nearest, ties to even) to ``dtype``'s values, as float32; float32 itself is left."""
    x32 = np.asarray(x, dtype=np.float32)
    if dtype == "float16":
        return x32.astype(np.float16).astype(np.float32)
    if dtype != "bfloat16":
        return x32
    bits = x32.view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = (bits & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return np.where(np.isfinite(x32), out, x32)


def ulp(x: np.ndarray, dtype: str) -> np.ndarray:
    """The spacing of ``dtype``'s values at magnitude ``|x|`` (the subnormal spacing below normal ones)."""
    _, exponent = np.frexp(np.abs(np.asarray(x, dtype=np.float64)))
    exponent = np.where(
        np.asarray(x) == 0, MIN_EXPONENT[dtype], np.maximum(exponent - 1, MIN_EXPONENT[dtype])
    )
    return np.ldexp(1.0, exponent - MANTISSA[dtype])


def storage_dtype(value: np.ndarray, dtype: str) -> str:
    """The dtype a candidate's state entry is stored in: ``dtype`` if every value is on its grid (a tensor
    made like the param), else float32 (``step``, ASGD's ``eta``)."""
    return dtype if np.array_equal(to_grid(value, dtype), np.asarray(value, dtype=np.float32)) else "float32"


def ulps(actual: np.ndarray, expected: list[np.ndarray], before: Any, dtype: str) -> float:
    """The largest element-wise error of ``actual`` in ULPs of ``dtype`` (see the module docstring), each
    element measured against the nearest of the ``expected`` models."""
    a = np.asarray(actual, dtype=np.float64)
    if a.size == 0:
        return 0.0
    errors = []
    for e in expected:
        e = np.asarray(e, dtype=np.float64)
        b = np.broadcast_to(np.asarray(before, dtype=np.float64), e.shape)
        if a.shape != e.shape:
            raise ValueError(f"shape {a.shape} differs from the expected {e.shape}")
        scale = np.maximum(np.maximum(np.abs(e), np.abs(b)), np.abs(e - b))
        error = np.abs(a - e) / ulp(scale, dtype)
        # the same non-finite value is no error; a finite one where the model has none is unbounded
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        errors.append(np.where(same, 0.0, np.where(np.isfinite(error), error, np.inf)))
    return float(np.max(np.minimum.reduce(errors), initial=0.0))


def rounded_hyper(value: Any, dtype: str) -> Any:
    """A hyperparameter (a float, or a tuple/list of them) rounded to ``dtype``: what a kernel that
    converts its scalar arguments to the storage dtype computes with (torch's for-loop ``add(p, alpha=wd)``
    on bfloat16 uses ``wd`` as a bfloat16)."""
    if isinstance(value, float):
        return float(to_grid(value, dtype))
    if isinstance(value, (tuple, list)) and all(isinstance(v, float) for v in value):
        return type(value)(float(to_grid(v, dtype)) for v in value)
    return value


# The largest finite value and the smallest normal one of each half dtype.
RANGE = {"bfloat16": (3.3895e38, 2.0**-126), "float16": (65504.0, 2.0**-14)}


def out_of_range(hyper: dict[str, Any], gradients: list[Any], dtype: str) -> str | None:
    """Why a case cannot be decided in ``dtype`` (a hyperparameter that rounds to 0 or overflows, gradients
    below the normal range), or None. torch computes such a case with other numbers (an eps of 0): it is not
    a conformance question in that dtype."""
    largest, smallest = RANGE[dtype]
    for key, value in hyper.items():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, float) and v != 0 and (abs(v) < smallest or abs(v) > largest):
                return f"{key}={v!r} is outside {dtype}'s normal range"
    for g in gradients:
        nonzero = np.abs(np.asarray(g, dtype=np.float64))
        nonzero = nonzero[nonzero > 0]
        if nonzero.size and (nonzero.max() ** 2 > largest or np.median(nonzero) < smallest):
            return (
                f"gradients of magnitude {np.median(nonzero):.3g} to {nonzero.max():.3g} (squared: "
                f"{nonzero.max() ** 2:.3g}) leave {dtype}'s normal range"
            )
    return None


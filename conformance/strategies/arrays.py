"""Shapes, params and gradient sequences for property-based examples.

An array is drawn as a few choices (its magnitude, a pattern, a seed), not element by element: an example
then costs the same few draws whatever its sizes, so the layer stays fast enough for every commit. The
patterns shrink from random values to one repeated value to all zeros, shapes shrink to 0-d, and the
shrunk example's arrays are printed in full in the reproduction. Every value is rounded to the
candidate's dtype when drawn: the candidate and the reference start from exactly the same numbers, and
only the arithmetic under test can make them differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from refimpl.optim import SparseGrad

# The dtype each candidate dtype's inputs are rounded to (NumPy has no bfloat16; float32 holds it).
INPUT_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": np.float32}

# 0-d, empty, one element, vectors up to 33 elements (past the 8- and 16-lane SIMD widths of torch's
# vectorized CPU kernels, so a remainder loop runs too), 2-D including 1x1, 1xn, nx1 and non-square, and
# 3-D (Adafactor factors the last two dimensions).
ANY_SHAPE = st.one_of(
    st.just(()),
    st.tuples(st.integers(0, 33)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4)),
)
# Muon orthogonalizes matrices only: wide, tall, square, single row or column.
MATRIX_SHAPE = st.tuples(st.integers(1, 6), st.integers(1, 6))
# Row-sparse gradients need rows.
ROWS_SHAPE = st.one_of(st.tuples(st.integers(1, 8)), st.tuples(st.integers(1, 6), st.integers(1, 4)))

# How an array's values are drawn, in the order Hypothesis shrinks towards: all zero, one repeated value,
# then (most often) independent values from a seeded generator.
PATTERNS = ("zeros", "constant", "random", "random", "random", "random")
CONSTANTS = (1.0, -1.0, 0.5, -2.0, 3.0)
# Random values: magnitudes log-uniform one decade either side of the array's power of ten, random signs,
# one element in ten an exact zero.
SPREAD_DECADES = 1.0
ZERO_FRACTION = 0.1
# The array's power of ten: gradients 1e-12 .. 1e6 (10^e, e in -11 .. 5, with the spread), params
# 1e-3 .. 1e3. Both shrink to 10^0.
GRADIENT_EXPONENTS = (-11, 5)
PARAM_EXPONENTS = (-2, 2)


def rounded(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` rounded to the candidate dtype's precision, held as float64."""
    return np.asarray(values, dtype=INPUT_DTYPES[dtype]).astype(np.float64)


def _random_values(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    magnitude = 10.0 ** rng.uniform(-SPREAD_DECADES, SPREAD_DECADES, shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return np.where(rng.random(shape) < ZERO_FRACTION, 0.0, sign * magnitude)


# The strategies below are built once: building a strategy per draw costs more than the draw. The
# functions take Hypothesis' ``draw`` (from a ``@st.composite`` caller) instead of returning strategies.
_EXPONENTS = {e: st.integers(*e) for e in (GRADIENT_EXPONENTS, PARAM_EXPONENTS)}
_PATTERN = st.sampled_from(PATTERNS)
_CONSTANT = st.sampled_from(CONSTANTS)
_SEED = st.integers(0, 2**32 - 1)


def draw_array(draw: Any, shape: tuple[int, ...], exponents: tuple[int, int], dtype: str) -> np.ndarray:
    """An array of ``shape`` at magnitude 10^e, rounded to ``dtype``."""
    exponent = draw(_EXPONENTS[exponents])
    pattern = draw(_PATTERN)
    if pattern == "zeros":
        values = np.zeros(shape)
    elif pattern == "constant":
        values = np.full(shape, draw(_CONSTANT))
    else:
        values = _random_values(draw(_SEED), shape)
    return rounded(values * 10.0**exponent, dtype)


def draw_params(draw: Any, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return draw_array(draw, shape, PARAM_EXPONENTS, dtype)


# What a param's gradient does at each step, after the first: new values, the previous ones with their
# sign flipped (Rprop's and the momentum buffers' sign changes), new values a thousand times larger or
# smaller (AMSGrad's running max must hold a spike; Adagrad's sum must not forget one), or no gradient at
# all (the param is neither moved nor given state). "fresh" first: what a kind shrinks to.
KINDS = ("fresh", "flip", "spike", "drop", "none")
_KIND = st.sampled_from(KINDS)
# A spike or drop moves the step's power of ten by three decades, within GRADIENT_EXPONENTS.
SPIKE_DECADES = {"spike": 3, "drop": -3}


def _flipped(grad: np.ndarray | SparseGrad) -> np.ndarray | SparseGrad:
    if isinstance(grad, SparseGrad):
        return SparseGrad(grad.indices, -grad.values, grad.shape)
    return np.negative(grad, out=np.empty_like(grad))  # an array also when 0-d


def draw_gradients(
    draw: Any, shape: tuple[int, ...], steps: int, dtype: str, sparse: bool
) -> list[np.ndarray | SparseGrad | None]:
    """One param's gradient at each step (see ``KINDS``). The magnitude and pattern are drawn once per
    param and the values of every step come from one seeded generator: a handful of choices per param,
    however many steps, so examples stay cheap to draw."""
    exponent = draw(_EXPONENTS[GRADIENT_EXPONENTS])
    pattern = draw(_PATTERN)
    constant = draw(_CONSTANT) if pattern == "constant" else 0.0
    rng = np.random.default_rng(draw(_SEED) if pattern == "random" else 0)
    kinds = draw(st.lists(_KIND, min_size=steps, max_size=steps))

    def values(rows: tuple[int, ...], kind: str) -> np.ndarray:
        raw = (
            _random_values(int(rng.integers(2**32)), rows) if pattern == "random" else np.full(rows, constant)
        )
        low, high = GRADIENT_EXPONENTS
        return rounded(raw * 10.0 ** min(max(exponent + SPIKE_DECADES.get(kind, 0), low), high), dtype)

    out: list[np.ndarray | SparseGrad | None] = []
    for kind in kinds:
        previous = out[-1] if out else None
        if kind == "none":
            out.append(None)
        elif kind == "flip" and previous is not None:
            out.append(_flipped(previous))
        else:
            if sparse:  # row indices, repeats allowed (torch sums them as it coalesces), none at all too
                indices = rng.integers(0, shape[0], size=int(rng.integers(0, shape[0] + 2)))
                out.append(SparseGrad(indices, values((len(indices), *shape[1:]), kind), shape))
            else:
                out.append(values(shape, kind))
    return out

"""Singularities of the math that the property layer's generic conditioning check cannot see.

``conformance.properties.require_conditioned`` drops an example when the reference itself, computing in
the candidate's dtype (or on inputs moved by one rounding), cannot meet the tolerance: that finds every
place where the reference's own arithmetic amplifies rounding. It misses a singular point that the
reference's arithmetic happens to hit exactly, while another correct order of operations lands beside it.
Each such point is listed here, with its derivation; an example that comes closer to it than the dtype's
tolerance allows is not a conformance question.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from conformance.tolerances import EPS, trajectory_rtol

# Roundings in the centered variance v - m^2 as an implementation computes it: v's own (its last update),
# m's, the square and the subtraction (first order; each at most one unit roundoff of v's size).
CENTERED_ROUNDINGS = 4


def _group_of(meta: dict[str, Any]) -> list[int]:
    """The group index of every param, in order."""
    return [g for g, group in enumerate(meta["groups"]) for _ in group["shapes"]]


def centered_variance(loaded: Any, dtype: str) -> bool:
    """RMSprop with ``centered=True`` divides by sqrt(v - m^2) + eps. v - m^2 is a difference of two numbers
    of v's size: any implementation gets it to within ~4u * v (u the dtype's unit roundoff), the reference
    in one order, torch's fused multiply-add (``addcmul(m, m, value=-1)``) in another. At a zero variance
    (alpha = 0, or a gradient that did not change while alpha^t vanished) sqrt's slope is infinite: torch
    gets sqrt of a rounding residue, or of a negative one (NaN), where the reference gets exactly eps.

    The denominator's relative error is about 4u * v / (2 sqrt(d) (sqrt(d) + eps)) with d = v - m^2; the
    example is kept while that is at most half the tolerance after every step and d exceeds its own
    rounding (else the sign of d is not determined)."""
    meta, arrays = loaded.meta, loaded.arrays
    u = EPS[dtype] / 2
    rtol = trajectory_rtol(dtype, meta["steps"], meta.get("tolerance"))
    groups = _group_of(meta)
    for k in meta["checkpoints"]:
        options = meta["checkpoint_param_groups"][str(k)]
        for i, g in enumerate(groups):
            m = arrays.get(f"state/{k}/{i}/grad_avg")
            if m is None or not options[g].get("centered"):
                continue
            v = np.abs(arrays[f"state/{k}/{i}/square_avg"])
            d = v - m * m
            noise = CENTERED_ROUNDINGS * u * v
            if np.any((d <= noise) & (v > 0)):
                return False
            root = np.sqrt(np.maximum(d, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(v > 0, noise / (2 * root * (root + options[g]["eps"])), 0.0)
            if np.max(relative, initial=0.0) > rtol[k - 1] / 2:
                return False
    return True


# optimizer -> predicate(loaded case, dtype): False where the example is too close to a singular point.
PREDICATES: dict[str, Callable[[Any, str], bool]] = {"RMSprop": centered_variance}


def well_conditioned(loaded: Any, dtype: str) -> bool:
    predicate = PREDICATES.get(loaded.meta["optimizer"])
    return predicate is None or predicate(loaded, dtype)

"""Ill-conditioned points that the property layer's generic conditioning check cannot see.

``conformance.properties.require_conditioned`` drops an example when the reference itself, computing in
float32, shows that the example amplifies rounding beyond the candidate dtype's tolerance: that finds
every place where the reference's own arithmetic amplifies rounding. It misses a singular point that the
reference's arithmetic happens to hit exactly while another correct order of operations lands beside it,
and a scalar that the reference keeps in double where a candidate holds it in its dtype. Each such case
is listed here, with its derivation; an example that comes closer to it than the dtype's tolerance allows
is not a conformance question.
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


def adafactor_weight(loaded: Any, dtype: str) -> bool:
    """Adafactor lerps its second moments with the weight w = t ** beta2_decay, and the old moment keeps the
    share 1 - w. A candidate computing in a dtype coarser than float64 holds w in that dtype (torch passes it
    to lerp as a float32 scalar), where it is off by up to u * w; 1 - w is then off by u / (1 - w) relative,
    which for beta2_decay near 0 (w within a few ULPs of 1) is no digit at all, while the reference computes
    1 - w in double. The example is kept while that relative error is at most half the tolerance at every
    step after the first (at t = 1, w = 1 and the old moment is zero)."""
    if dtype == "float64":
        return True  # w is a double in any float64 implementation: the reference's own rounding
    meta = loaded.meta
    u = EPS[dtype] / 2
    rtol = trajectory_rtol(dtype, meta["steps"], meta.get("tolerance"))
    for k in range(2, meta["steps"] + 1):
        for group in meta["checkpoint_param_groups"][str(k)]:
            share = 1 - k ** group["beta2_decay"]
            if share <= 0 or u / share > rtol[k - 1] / 2:
                return False
    return True


# optimizer -> predicate(loaded case, dtype): False where the example is too close to a singular point.
PREDICATES: dict[str, Callable[[Any, str], bool]] = {
    "RMSprop": centered_variance,
    "Adafactor": adafactor_weight,
}


def well_conditioned(loaded: Any, dtype: str) -> bool:
    predicate = PREDICATES.get(loaded.meta["optimizer"])
    return predicate is None or predicate(loaded, dtype)

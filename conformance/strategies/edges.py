"""Boundary examples, run before the drawn ones (Hypothesis' explicit examples) in every profile.

A random search meets a bound's end value only by luck, yet ends are where implementations break (an
``eps`` of 0 with a zero gradient, a ``beta`` of 0). For every ``Bound`` in the optimizer's table, one
example puts that argument at each of its closed ends and one just inside (the end plus one half, or the
middle of a two-sided range), the others at their defaults. Values outside the valid domain are not
property examples: refusing them is argument validation, which ``test_invalid_argument`` checks on its own
row, so a candidate that validates nothing still has its arithmetic judged here. All share one small setup:
a 0-d and a 3-element param (matrices for Muon, rows for SparseAdam), the gradients of ``SCHEDULE``, and a
checkpoint round trip after the second step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.strategies.arrays import rounded
from conformance.strategies.hyper import constructor_defaults, table_of
from conformance.strategies.optimizers import MAX_LBFGS_STEPS, OBJECTIVES, OptimizerExample
from refimpl.optim import SparseGrad
from refimpl.optim._validation import Bound, Rule

# Per step, a multiple of each param's base gradient (None: no gradient): a zero, sign flips, a spike and a
# drop by 4 (AMSGrad's max, Adagrad's sum), a param without a gradient at the first and fifth steps. Six
# steps: RAdam's variance is first rectified at step 5 or 6 (rho_t > 5 for beta2 near 1), Rprop's step sizes
# grow and shrink, bias corrections move.
SCHEDULE = ((0.0, None), (1.0, 1.0), (-1.0, -1.0), (4.0, -4.0), (None, 0.25), (0.5, 1.0))


def _setup(optimizer: str, dtype: str) -> tuple[tuple[np.ndarray, ...], tuple[tuple[Any, ...], ...]]:
    """The params and, per step, the gradients every boundary example of ``optimizer`` uses."""
    if optimizer == "Muon":
        params = (np.array([[1.0, -0.5, 2.0], [0.0, 1.0, 0.25]]), np.eye(2))
        base: tuple[Any, ...] = (
            np.array([[1.0, 0.0, -2.0], [0.5, 0.0, 1.0]]),
            np.array([[1.0, 2.0], [0.0, -1.0]]),
        )
    elif optimizer == "SparseAdam":
        params = (np.array([1.0, -0.5, 2.0]), np.array([[1.0, 0.0], [0.5, -1.0]]))
        base = (
            SparseGrad(np.array([0, 2, 0]), np.array([1.0, 0.0, -2.0]), (3,)),
            SparseGrad(np.array([1]), np.array([[0.5, -1.0]]), (2, 2)),
        )
    else:
        params = (np.array(1.0), np.array([0.5, -1.0, 2.0]))
        base = (np.array(1.0), np.array([1.0, 0.0, -2.0]))
    grads = tuple(tuple(_scaled(g, m) for g, m in zip(base, step, strict=True)) for step in SCHEDULE)
    return tuple(rounded(p, dtype) for p in params), grads


def _scaled(grad: Any, multiple: float | None) -> Any:
    if multiple is None:
        return None
    if isinstance(grad, SparseGrad):
        return SparseGrad(grad.indices, grad.values * multiple, grad.shape)
    return np.asarray(grad * multiple)  # an array also when 0-d (NumPy makes a 0-d product a scalar)


def _values(bound: Bound) -> list[float]:
    """A bound's closed ends and one value just inside."""
    low, high = bound.low, bound.high
    ends = [e for e, open_ in ((low, bound.low_open), (high, bound.high_open)) if e is not None and not open_]
    if low is not None and high is not None:
        inside = (low + high) / 2
    else:
        inside = low + 0.5 if low is not None else high - 0.5
    return [*ends, inside]


def edge_examples(optimizer: str, dtype: str, lacks: frozenset[str] = frozenset()) -> list[OptimizerExample]:
    """The boundary examples of ``optimizer`` (those the table's rules allow), in table order; none for
    the options in ``lacks`` (a candidate's class without them)."""
    defaults = constructor_defaults(optimizer)
    rules = [c for c in table_of(optimizer).checks if isinstance(c, Rule)]
    params, grads = _setup(optimizer, dtype)
    lbfgs = optimizer == "LBFGS"
    out = []
    for bound in table_of(optimizer).bounds().values():
        if bound.name not in defaults or bound.name in lacks:
            continue
        for value in _values(bound):
            if bound.index is None:
                hyper = {bound.name: float(value)}
            else:
                element = list(defaults[bound.name])
                element[bound.index] = float(value)
                hyper = {bound.name: tuple(element)}
            if not all(rule.holds({**defaults, **hyper}) for rule in rules):
                continue
            out.append(
                OptimizerExample(
                    optimizer,
                    hyper,
                    (len(params),),
                    ({},),
                    params,
                    () if lbfgs else grads,
                    {},
                    OBJECTIVES[0] if lbfgs else None,
                    MAX_LBFGS_STEPS if lbfgs else len(grads),
                    reload_at=2,
                )
            )
    return out

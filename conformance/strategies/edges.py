"""Boundary examples, run before the drawn ones (Hypothesis' explicit examples) in every profile.

A random search meets a bound's end value only by luck, yet ends are where implementations break (an
``eps`` of 0 with a zero gradient, a ``beta`` of 0). For every ``Bound`` in the optimizer's table, one
example puts that argument at each of its closed ends, and one just inside (the end plus one half, or the
middle of a two-sided range), the others at their defaults. All share one small setup: a 0-d and a
3-element param (a matrix for Muon, rows for SparseAdam), three steps, exact zeros among the gradients,
a sign flip, and a param whose first gradient comes at the second step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.strategies.arrays import rounded
from conformance.strategies.hyper import constructor_defaults, table_of
from conformance.strategies.optimizers import OBJECTIVES, OptimizerExample
from refimpl.optim import SparseGrad
from refimpl.optim._validation import Bound, Rule


def _setup(optimizer: str, dtype: str) -> tuple[tuple[np.ndarray, ...], tuple[tuple[Any, ...], ...]]:
    """The params and, per step, the gradients every boundary example of ``optimizer`` uses."""
    if optimizer == "Muon":
        params = (np.array([[1.0, -0.5, 2.0], [0.0, 1.0, 0.25]]), np.eye(2))
        g = np.array([[1.0, 0.0, -2.0], [0.5, 0.0, 1.0]])
        grads = ((g, None), (-g, np.ones((2, 2))), (0 * g, np.eye(2)))
    elif optimizer == "SparseAdam":
        params = (np.array([1.0, -0.5, 2.0]), np.array([[1.0, 0.0], [0.5, -1.0]]))
        a = SparseGrad(np.array([0, 2, 0]), np.array([1.0, 0.0, -2.0]), (3,))
        b = SparseGrad(np.array([1]), np.array([[0.5, -1.0]]), (2, 2))
        grads = ((a, None), (SparseGrad(a.indices, -a.values, a.shape), b), (a, b))
    else:
        params = (np.array(1.0), np.array([0.5, -1.0, 2.0]))
        g = np.array([1.0, 0.0, -2.0])
        grads = ((np.array(0.0), None), (np.array(1.0), g), (np.array(-1.0), -g))
    return tuple(rounded(p, dtype) for p in params), grads


def _values(bound: Bound) -> list[float]:
    """A bound's closed ends and one value just inside."""
    low, high = bound.low, bound.high
    ends = [e for e, open_ in ((low, bound.low_open), (high, bound.high_open)) if e is not None and not open_]
    if low is not None and high is not None:
        inside = (low + high) / 2
    else:
        inside = low + 0.5 if low is not None else high - 0.5
    return [*ends, inside]


def edge_examples(optimizer: str, dtype: str) -> list[OptimizerExample]:
    """The boundary examples of ``optimizer`` (those the table's rules allow), in table order."""
    defaults = constructor_defaults(optimizer)
    rules = [c for c in table_of(optimizer).checks if isinstance(c, Rule)]
    params, grads = _setup(optimizer, dtype)
    lbfgs = optimizer == "LBFGS"
    out = []
    for bound in table_of(optimizer).bounds().values():
        if bound.name not in defaults:
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
                    len(grads),
                )
            )
    return out

"""Whole optimizer examples: param groups, hyperparameters, params, a gradient per param per step, and lr
changes between steps, as one ``OptimizerExample`` that the reference and the candidate both run.

An example becomes an ordinary catalogue case (``conformance.catalogue.model.OptimCase``) whose params
and gradients are given instead of drawn from a seed, so the reference runs it through the same code that
generates the golden vectors and the candidate is checked by the same runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.catalogue.model import Gradients, Group, OptimCase, jsonable
from conformance.strategies.arrays import ANY_SHAPE, MATRIX_SHAPE, ROWS_SHAPE, draw_gradients, draw_params
from conformance.strategies.hyper import (
    argument_strategies,
    bounded_floats,
    constructor_defaults,
    hyperparameters,
    rules_hold,
    table_of,
)
from refimpl.optim import SparseGrad

# Steps per example: enough for moments, bias corrections, Rprop's sign history and ASGD's averaging to
# develop; few enough that an example runs in about a millisecond.
MAX_STEPS = 8
# Up to three groups of up to three params: per-group options and params without gradients next to ones
# with, at little cost.
MAX_GROUPS = 3
MAX_GROUP_PARAMS = 3
# LBFGS runs up to max_iter inner iterations per step.
MAX_LBFGS_STEPS = 3
# The objectives LBFGS minimizes (``refimpl.objectives``); Rosenbrock needs at least two elements.
OBJECTIVES = ("rosenbrock", "ill_conditioned_quadratic")

# Optimizers whose torch documentation accepts sparse gradients: SparseAdam only takes them, SGD and
# Adagrad take either (the reference raises torch's errors where an option excludes them, e.g. Adagrad's
# weight decay, and such examples are rejected).
SPARSE_ONLY = frozenset({"SparseAdam"})
SPARSE_OPTIONAL = frozenset({"SGD", "Adagrad"})
# Optimizers whose state torch keeps sparse for sparse gradients (SGD's momentum buffer). The harness
# carries state dicts as NumPy, which has no sparse arrays: resumed, the buffer comes back dense, and torch
# cannot add a sparse gradient to a dense buffer. Their examples with sparse gradients are not resumed.
SPARSE_STATE = frozenset({"SGD"})
# Shapes an optimizer is defined on (see ``conformance.strategies.arrays``); any shape otherwise.
SHAPES = {"Muon": MATRIX_SHAPE, "SparseAdam": ROWS_SHAPE}
# torch's LBFGS takes a single param group.
SINGLE_GROUP = frozenset({"LBFGS"})


class PropertyCase(OptimCase):
    """A catalogue case whose full state is compared after every step (a property example is short)."""

    @property
    def checkpoints(self) -> tuple[int, ...]:
        return tuple(range(1, self.steps + 1))


@dataclass(frozen=True)
class OptimizerExample:
    """One drawn example. ``grads[t][i]`` is param ``i``'s gradient at step ``t`` (None: no gradient);
    ``changes[t]`` are the ``(group, key, value)`` assignments made before step ``t``; ``reload_at``: the
    step after which the candidate is checkpointed and resumed."""

    optimizer: str
    hyper: dict[str, Any]
    group_sizes: tuple[int, ...]
    overrides: tuple[dict[str, Any], ...]
    params: tuple[np.ndarray, ...]
    grads: tuple[tuple[np.ndarray | SparseGrad | None, ...], ...]
    changes: dict[int, tuple[tuple[int, str, Any], ...]] = field(default_factory=dict)
    objective: str | None = None
    steps: int = 0
    # after this step, torch's resume recipe: state dict saved, fresh optimizer, state dict loaded
    reload_at: int | None = None

    @property
    def n_steps(self) -> int:
        return self.steps or len(self.grads)

    @property
    def sparse(self) -> bool:
        return any(isinstance(g, SparseGrad) for step in self.grads for g in step)

    def case(self) -> PropertyCase:
        groups, start = [], 0
        for size, overrides in zip(self.group_sizes, self.overrides, strict=True):
            groups.append(Group(tuple(p.shape for p in self.params[start : start + size]), overrides))
            start += size
        return PropertyCase(
            self.optimizer,
            self.hyper,
            (),
            "a property-based example drawn by Hypothesis",
            groups=tuple(groups),
            gradients=Gradients(pattern="sparse" if self.sparse else "given"),
            objective=self.objective,
            steps=self.n_steps,
            changes=self.changes,
            tag="property",
        )

    def gradient(self, t: int, i: int, param: np.ndarray) -> np.ndarray | SparseGrad | None:
        return self.grads[t][i]

    def to_dict(self) -> dict[str, Any]:
        """The example as plain JSON-able data (arrays as nested lists of exact float64 values)."""

        def grad(g: Any) -> Any:
            if isinstance(g, SparseGrad):
                return {"indices": g.indices.tolist(), "values": g.values.tolist(), "shape": list(g.shape)}
            return None if g is None else g.tolist()

        return {
            "optimizer": self.optimizer,
            "hyper": jsonable(self.hyper),
            "group_sizes": list(self.group_sizes),
            "overrides": jsonable(list(self.overrides)),
            "params": [{"shape": list(p.shape), "values": p.tolist()} for p in self.params],
            "grads": [[grad(g) for g in step] for step in self.grads],
            "changes": {str(t): jsonable(c) for t, c in sorted(self.changes.items())},
            "objective": self.objective,
            "steps": self.n_steps,
            "reload_at": self.reload_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerExample:
        """The inverse of ``to_dict`` (tuples restored where torch takes tuples)."""

        def grad(g: Any) -> Any:
            if isinstance(g, dict):
                return SparseGrad(
                    np.asarray(g["indices"], dtype=np.int64),
                    np.asarray(g["values"], dtype=np.float64).reshape(-1, *g["shape"][1:]),
                    tuple(g["shape"]),
                )
            return None if g is None else np.asarray(g, dtype=np.float64)

        return cls(
            data["optimizer"],
            _tuples(data["hyper"]),
            tuple(data["group_sizes"]),
            tuple(_tuples(o) for o in data["overrides"]),
            tuple(np.asarray(p["values"], dtype=np.float64).reshape(p["shape"]) for p in data["params"]),
            tuple(tuple(grad(g) for g in step) for step in data["grads"]),
            {int(t): tuple(tuple(c) for c in cs) for t, cs in data["changes"].items()},
            data.get("objective"),
            data.get("steps", 0),
            data.get("reload_at"),
        )


def _tuples(options: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


# How many hyperparameters a group overrides: usually none, sometimes one or two.
_OVERRIDE_COUNT = st.sampled_from((0, 0, 1, 2))


def draw_overrides(draw: Any, optimizer: str, hyper: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters one group sets for itself: any argument, drawn as the constructor's are; dropped if
    the table's rules do not hold for the group's merged options."""
    if optimizer in SINGLE_GROUP:
        return {}
    arguments = argument_strategies(optimizer)
    overrides = {}
    for _ in range(draw(_OVERRIDE_COUNT)):
        name = draw(_argument_names(optimizer))
        overrides[name] = draw(arguments[name])
    holds = rules_hold(table_of(optimizer), {**constructor_defaults(optimizer), **hyper})
    return overrides if holds(overrides) else {}


@cache
def _argument_names(optimizer: str) -> st.SearchStrategy[str]:
    return st.sampled_from(tuple(argument_strategies(optimizer)))


@cache
def _lr(optimizer: str) -> st.SearchStrategy[float]:
    return bounded_floats(table_of(optimizer).bounds()[("lr", None)], constructor_defaults(optimizer)["lr"])


def draw_lr_changes(
    draw: Any, optimizer: str, steps: int, n_groups: int
) -> dict[int, tuple[tuple[int, str, float], ...]]:
    """``param_groups[g]["lr"] = value`` before some steps after the first (the dynamic-lr recipe)."""
    changes = {}
    for t in range(1, steps):
        if draw(st.booleans()):
            changes[t] = ((draw(st.integers(0, n_groups - 1)), "lr", draw(_lr(optimizer))),)
    return changes


@cache
def _shapes(optimizer: str) -> st.SearchStrategy[list[tuple[int, ...]]]:
    return st.lists(SHAPES.get(optimizer, ANY_SHAPE), min_size=1, max_size=MAX_GROUP_PARAMS)


# One param in four of SGD and Adagrad gets sparse gradients: their options exclude them often (weight
# decay), and the reference refuses those examples as torch does.
_SPARSE = st.sampled_from((False, False, False, True))


def _is_sparse(grad: Any) -> bool:
    return isinstance(grad, SparseGrad)


def _sparse(draw: Any, optimizer: str, shape: tuple[int, ...], allowed: bool) -> bool:
    if optimizer in SPARSE_ONLY:
        return True
    takes_rows = len(shape) >= 1 and shape[0] >= 1
    return allowed and optimizer in SPARSE_OPTIONAL and takes_rows and draw(_SPARSE)


def _without(options: dict[str, Any], lacks: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in lacks}


@st.composite
def optimizer_examples(
    draw: Any, optimizer: str, dtype: str, sparse: bool = True, lacks: frozenset[str] = frozenset()
) -> OptimizerExample:
    """Examples of ``optimizer`` whose numbers are exact in ``dtype``; ``sparse``: the candidate takes
    sparse gradients (where the optimizer does); ``lacks``: options the candidate's class does not have,
    never drawn (left at their defaults; an example whose rules then fail is refused by the reference and
    rejected)."""
    hyper = _without(draw(hyperparameters(optimizer)), lacks)
    lbfgs = optimizer == "LBFGS"
    steps = draw(st.integers(1, MAX_LBFGS_STEPS if lbfgs else MAX_STEPS))
    n_groups = 1 if optimizer in SINGLE_GROUP else draw(st.integers(1, MAX_GROUPS))
    sizes, overrides, shapes = [], [], []
    for _ in range(n_groups):
        group_shapes = draw(_shapes(optimizer))
        sizes.append(len(group_shapes))
        shapes += group_shapes
        overrides.append(_without(draw_overrides(draw, optimizer, hyper), lacks))
    objective = draw(st.sampled_from(OBJECTIVES)) if lbfgs else None
    if objective == "rosenbrock" and sum(int(np.prod(s)) for s in shapes) < 2:
        objective = "ill_conditioned_quadratic"
    initial = tuple(draw_params(draw, s, dtype) for s in shapes)
    grads: tuple[tuple[Any, ...], ...] = ()
    if not lbfgs:
        per_param = [
            draw_gradients(draw, s, steps, dtype, _sparse(draw, optimizer, s, sparse)) for s in shapes
        ]
        grads = tuple(zip(*per_param, strict=True))
    changes = draw_lr_changes(draw, optimizer, steps, n_groups)
    resumable = steps > 1 and not (
        optimizer in SPARSE_STATE and any(_is_sparse(g) for gs in grads for g in gs)
    )
    reload_at = draw(st.one_of(st.none(), st.integers(1, steps - 1))) if resumable else None
    return OptimizerExample(
        optimizer, hyper, tuple(sizes), tuple(overrides), initial, grads, changes, objective, steps, reload_at
    )

"""LR-scheduler examples: a scheduler configuration, the optimizer's param groups, the epochs, lr changes by
hand, a checkpoint round trip, and ReduceLROnPlateau's metric sequence, as a ``SchedCase``-style script.

Arguments that a scheduler module's tables bound (``ConstantLR.factor``, ``LinearLR``'s factors,
``ReduceLROnPlateau.factor``) are drawn inside those bounds, by ``conformance.strategies.hyper``; the
tables' rules are checked by the reference, which refuses (and so rejects) what torch refuses. Torch
validates almost nothing else, so the other arguments have the documented domains of ``DOMAINS``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from hypothesis import strategies as st

from conformance.catalogue.functions import LR_LAMBDAS, SCALE_FNS
from conformance.catalogue.model import MOMENTUM_CYCLERS, SchedCase, SchedSpec
from conformance.strategies.hyper import bounded_floats
from refimpl.lr_scheduler import MODULES
from refimpl.optim._validation import Bound, Table

# Epochs per example: past several periods of the short schedules drawn below.
MAX_EPOCHS = 30
_LAMBDA = st.sampled_from(tuple(LR_LAMBDAS))
_EPOCH = st.integers(0, MAX_EPOCHS + 2)


def _fraction(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high)


# scheduler -> argument -> domain; only arguments no table bounds. The integer periods are short, so that
# an example of <= 30 epochs passes several boundaries (a decay, a restart, a cycle's turn).
DOMAINS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "StepLR": {"step_size": st.integers(1, 8), "gamma": _fraction(0.0, 1.5)},
    # unsorted, with repeats: torch counts a repeated milestone once per occurrence
    "MultiStepLR": {"milestones": st.lists(_EPOCH, max_size=6), "gamma": _fraction(0.0, 1.5)},
    "ConstantLR": {"total_iters": st.integers(0, 10)},
    # total_iters <= 0 is a known deviation of torch (pytorch/pytorch#193682), covered by the vectors
    "LinearLR": {"total_iters": st.integers(1, 10)},
    "ExponentialLR": {"gamma": _fraction(0.5, 1.1)},
    "PolynomialLR": {"total_iters": st.integers(1, 12), "power": _fraction(0.0, 3.0)},
    "CosineAnnealingLR": {"T_max": st.integers(1, 12), "eta_min": _fraction(0.0, 0.05)},
    "CosineAnnealingWarmRestarts": {
        "T_0": st.integers(1, 8),
        "T_mult": st.integers(1, 3),
        "eta_min": _fraction(0.0, 0.01),
    },
    "LambdaLR": {"lr_lambda": _LAMBDA},
    "MultiplicativeLR": {"lr_lambda": _LAMBDA},
    "CyclicLR": {
        "base_lr": _fraction(1e-4, 0.05),
        "max_lr": _fraction(0.05, 1.0),
        "step_size_up": st.integers(1, 6),
        "step_size_down": st.one_of(st.none(), st.integers(1, 6)),
        "mode": st.sampled_from(("triangular", "triangular2", "exp_range")),
        "gamma": _fraction(0.8, 1.0),
        "scale_fn": st.one_of(st.none(), st.sampled_from(tuple(SCALE_FNS))),
        "scale_mode": st.sampled_from(("cycle", "iterations")),
        "cycle_momentum": st.booleans(),
        "base_momentum": _fraction(0.5, 0.85),
        "max_momentum": _fraction(0.85, 0.99),
    },
    "OneCycleLR": {
        "max_lr": _fraction(1e-3, 1.0),
        "pct_start": _fraction(0.0, 1.0),
        "anneal_strategy": st.sampled_from(("cos", "linear")),
        "cycle_momentum": st.booleans(),
        "base_momentum": _fraction(0.5, 0.85),
        "max_momentum": _fraction(0.85, 0.99),
        "div_factor": _fraction(1.0, 100.0),
        "final_div_factor": _fraction(1.0, 1e4),
        "three_phase": st.booleans(),
    },
    "SWALR": {
        "swa_lr": _fraction(1e-4, 1.0),
        "anneal_epochs": st.integers(0, 12),
        "anneal_strategy": st.sampled_from(("cos", "linear")),
    },
    "ReduceLROnPlateau": {
        "mode": st.sampled_from(("min", "max")),
        "patience": st.integers(0, 5),
        "threshold": st.one_of(st.just(0.0), _fraction(1e-4, 0.1)),
        "threshold_mode": st.sampled_from(("rel", "abs")),
        "cooldown": st.integers(0, 4),
        "min_lr": st.one_of(st.just(0.0), _fraction(0.0, 1e-3)),
        "eps": st.one_of(st.just(1e-8), _fraction(0.0, 1e-3)),
    },
}
# The arguments always drawn (those without a default, and a few that decide what an example exercises);
# every other argument is drawn or left at its default.
REQUIRED = {
    "StepLR": ("step_size",),
    "MultiStepLR": ("milestones",),
    "ExponentialLR": ("gamma",),
    "CosineAnnealingLR": ("T_max",),
    "CosineAnnealingWarmRestarts": ("T_0",),
    "LambdaLR": ("lr_lambda",),
    "MultiplicativeLR": ("lr_lambda",),
    "CyclicLR": ("base_lr", "max_lr", "step_size_up", "mode"),  # the default period (2000) never turns
    "OneCycleLR": ("max_lr",),
    "SWALR": ("swa_lr",),
    # not required by torch, but without them an example rarely shows ReduceLROnPlateau's dynamics
    "ReduceLROnPlateau": ("patience", "cooldown"),
}
# Schedulers a ChainedScheduler or SequentialLR may wrap (ReduceLROnPlateau is refused by both).
NESTABLE = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "LambdaLR")
COMPOSITES = ("ChainedScheduler", "SequentialLR")
# The optimizers under the schedule: SGD's momentum or Adam's beta1 is what a cycler cycles.
OPTIMIZERS = {"SGD": {"momentum": 0.9}, "Adam": {}}


def module_bounds(scheduler: str) -> dict[str, Bound]:
    """Every single-argument ``Bound`` in the scheduler module's tables (``TABLE``, ``FACTOR_TABLE``...)."""
    if scheduler not in MODULES:  # SWALR: SWALR_TABLE has rules only (DECAY_TABLE is the EMA functions')
        return {}
    module = importlib.import_module(f"refimpl.lr_scheduler.{MODULES[scheduler]}")
    tables = [v for k, v in vars(module).items() if k.endswith("TABLE") and isinstance(v, Table)]
    return {b.name: b for table in tables for b in table.checks if isinstance(b, Bound) and b.index is None}


@cache
def scheduler_kwargs(scheduler: str) -> st.SearchStrategy[dict[str, Any]]:
    """The scheduler's arguments: bounded ones from its tables, the others from ``DOMAINS``; each optional
    argument present or absent (at torch's default)."""
    bounded = {name: bounded_floats(bound) for name, bound in module_bounds(scheduler).items()}
    arguments = {**DOMAINS.get(scheduler, {}), **bounded}
    needed = REQUIRED.get(scheduler, ())
    return st.fixed_dictionaries(
        {k: v for k, v in arguments.items() if k in needed},
        optional={k: v for k, v in arguments.items() if k not in needed},
    )


@st.composite
def _nested(draw: Any, available: tuple[str, ...]) -> SchedSpec:
    name = draw(st.sampled_from(available))
    return SchedSpec(name, draw(scheduler_kwargs(name)))


# A metric's move per epoch, relative: a plateau (most often: patience and cooldown need runs of them), a
# change below the default threshold, small and large improvements or regressions in either mode.
_MOVE = st.sampled_from((0.0, 0.0, 0.0, -1e-5, -0.01, -0.3, 0.01, 0.2))


@st.composite
def _metrics(draw: Any, epochs: int) -> list[float]:
    """A metric per epoch: from a start (negative too: the rel threshold's sign quirk), each epoch the same
    value (a plateau), a small or large move either way, so improvements, stalls and regressions all occur."""
    value = draw(st.sampled_from((1.0, -1.0, 0.5, 100.0)))
    moves = draw(st.lists(_MOVE, min_size=epochs, max_size=epochs))
    out = []
    for move in moves:
        value = value + move * max(abs(value), 1.0)
        out.append(round(value, 12))
    return out


@st.composite
def scheduler_examples(draw: Any, scheduler: str, available: tuple[str, ...]) -> dict[str, Any]:
    """A scheduler case's description (``SchedCase.describe()``), with ``metrics`` drawn as a sequence.
    ``available``: the scheduler classes a composite may wrap (those the candidate declares)."""
    epochs = draw(st.integers(1, MAX_EPOCHS))
    n_groups = draw(st.integers(1, 3))
    groups = tuple({"lr": draw(_fraction(1e-4, 1.0))} for _ in range(n_groups))
    kwargs = dict(draw(scheduler_kwargs(scheduler)))
    if scheduler in COMPOSITES:
        nested = draw(st.lists(_nested(available), min_size=1, max_size=3))
        kwargs["schedulers"] = tuple(nested)
        if scheduler == "SequentialLR":
            n = len(nested) - 1
            kwargs["milestones"] = sorted(draw(st.sets(st.integers(1, epochs + 1), min_size=n, max_size=n)))
    if scheduler == "OneCycleLR":
        kwargs["total_steps"] = epochs + draw(st.integers(0, 5))  # stepping past total_steps is an error
    if scheduler in ("LambdaLR", "MultiplicativeLR") and draw(st.booleans()):
        kwargs["lr_lambda"] = [draw(_LAMBDA) for _ in range(n_groups)]  # one per group
    optimizer = draw(st.sampled_from(tuple(OPTIMIZERS))) if scheduler in MOMENTUM_CYCLERS else "SGD"
    changes = {}
    for t in draw(st.lists(st.integers(1, epochs), max_size=2, unique=True)):
        changes[t] = ((draw(st.integers(0, n_groups - 1)), "lr", draw(_fraction(1e-4, 1.0))),)
    reload_at = draw(st.one_of(st.none(), st.integers(1, epochs)))
    case = SchedCase(
        scheduler,
        kwargs,
        (),
        "a property-based example drawn by Hypothesis",
        steps=epochs,
        optimizer=optimizer,
        optimizer_hyper=OPTIMIZERS[optimizer],
        groups=groups,
        changes=changes,
        reload_at=reload_at,
        tag="property",
    )
    meta = case.describe()
    meta["recorded"] = list(case.recorded)
    if scheduler == "ReduceLROnPlateau":
        meta["metrics"] = draw(_metrics(epochs))
        meta["metrics_formula"] = "drawn by Hypothesis"
    return meta

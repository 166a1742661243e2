"""Hyperparameters drawn from the reference's validation tables: the valid ranges exist once.

Each optimizer's constructor arguments come from the reference class's signature, in order. An argument
(or tuple element) with a ``Bound`` in the module's ``TABLE`` is drawn inside that bound, ends included or
excluded as the bound says; a flag is a boolean; the few arguments torch does not validate at all have a
documented domain in ``UNVALIDATED``; and the drawn dict is kept only if every ``Rule`` of the table holds.
Every strategy puts the reference's default first, so Hypothesis shrinks an argument that does not matter
back to its default and a shrunk example shows only the arguments that make it fail.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

import refimpl.optim
from refimpl.optim._validation import Bound, Rule, Table

# torch's implementation switches, not hyperparameters: the harness sets them per variant.
IMPLEMENTATION_FLAGS = ("foreach", "fused", "capturable", "differentiable")

# How far past a one-sided bound (``lr >= 0``, ``d >= 1``, ``beta2_decay <= 0``) a value is drawn: half the
# time log-uniformly 10^-12 .. 10^1 away, half the time uniformly up to ORDINARY away. The low end reaches
# the regime where an eps-like term meets the square root of a 1e-12 gradient's second moment; above 10, an
# lr or weight decay overshoots an O(1) param by orders of magnitude every step, and a few such steps leave
# float32's range (the examples are then rejected as unrepresentable, see ``conformance.properties``). The
# uniform half gives the ordinary values (a momentum of 0.9, a weight decay of 0.1) their due: thirteen
# decades leave them one draw in thirteen.
DECADES = (-12.0, 1.0)
ORDINARY = 1.0
# Draws of a bounded float that fall inside, for each one at the default or at a closed end.
INTERIOR_SHARE = 4


@dataclass(frozen=True)
class Domain:
    """Where an argument torch never validates is drawn from, and why there (torch would take anything)."""

    values: st.SearchStrategy[Any]
    why: str


def _log_uniform(low_exp: float, high_exp: float) -> st.SearchStrategy[float]:
    return st.floats(low_exp, high_exp).map(lambda e: float(10.0**e))


# Magnitudes below float32's smallest normal number are drawn as 0: float32 cannot hold them (such an
# example would be rejected there), and float64 has nothing at that scale that 0 does not show.
FLUSH_BELOW = float(np.finfo(np.float32).tiny)


def _flushed(x: float) -> float:
    return 0.0 if abs(x) < FLUSH_BELOW else x


def _uniform(low: float, high: float, exclude_min: bool = False) -> st.SearchStrategy[float]:
    return st.floats(low, high, exclude_min=exclude_min).map(_flushed)


_DISTANCE = st.one_of(_log_uniform(*DECADES), _uniform(0.0, ORDINARY, exclude_min=True))


def _choices(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


def _ordered_pair(low: st.SearchStrategy[float], spread: st.SearchStrategy[float]) -> st.SearchStrategy:
    return st.tuples(low, spread).map(lambda t: (t[0], t[0] * t[1]))


# (optimizer, argument) -> its domain. Only arguments no TABLE bounds (torch does not check them) belong
# here; tests/test_strategies.py fails if an argument has neither a bound, a flag's type, nor a domain.
UNVALIDATED: dict[tuple[str, str], Domain] = {
    ("SGD", "dampening"): Domain(_uniform(0.0, 1.0), "the fraction of the gradient kept out of the buffer"),
    ("ASGD", "lambd"): Domain(_log_uniform(-6, 0), "the eta decay rate; 1 halves eta at the first step"),
    ("ASGD", "alpha"): Domain(_uniform(0.0, 2.0), "the eta decay exponent (default 0.75)"),
    ("ASGD", "t0"): Domain(
        st.integers(0, 10).map(float),
        "averaging starts after step t0: within the steps an example runs, so the average ax is observed",
    ),
    ("Rprop", "step_sizes"): Domain(
        _ordered_pair(_log_uniform(-8, 0), _log_uniform(0, 3)),
        "(min, max) step sizes with min <= max, as clamp(min, max) needs to mean anything",
    ),
    ("Muon", "ns_coefficients"): Domain(
        _choices((3.4445, -4.775, 2.0315), (1.5, -0.5, 0.0), (2.0, -1.5, 0.5)),
        "Keller's quintic (the default), the classic cubic, and a third odd polynomial",
    ),
    ("Muon", "eps"): Domain(_log_uniform(-12, 1), "the clamp of the Frobenius norm; 10 exceeds most norms"),
    ("Muon", "ns_steps"): Domain(st.integers(0, 6), "Newton-Schulz iterations (torch rejects >= 100)"),
    ("Muon", "adjust_lr_fn"): Domain(_choices(None, "original", "match_rms_adamw"), "filtered by the Rule"),
    ("LBFGS", "max_iter"): Domain(st.integers(1, 8), "inner iterations per step, kept small for speed"),
    ("LBFGS", "max_eval"): Domain(
        st.one_of(st.none(), st.integers(1, 12)), "None derives max_iter * 5 // 4; small values stop early"
    ),
    ("LBFGS", "tolerance_grad"): Domain(_log_uniform(-9, 0), "stop when max|g| falls below it"),
    ("LBFGS", "tolerance_change"): Domain(_log_uniform(-12, -1), "stop on small loss or step changes"),
    ("LBFGS", "history_size"): Domain(st.integers(1, 6), "shorter than the iterations, so the history rolls"),
    ("LBFGS", "line_search_fn"): Domain(_choices(None, "strong_wolfe"), "the two searches torch has"),
}


@cache
def constructor_defaults(optimizer: str) -> dict[str, Any]:
    """The reference constructor's arguments and defaults, in signature order, without params and flags."""
    cls = getattr(refimpl.optim, optimizer)
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name not in ("self", "params", *IMPLEMENTATION_FLAGS)
    }


def table_of(optimizer: str) -> Table:
    return getattr(refimpl.optim, optimizer).table


def bounded_floats(bound: Bound, default: Any = None) -> st.SearchStrategy[float]:
    """Floats inside ``bound``: the default (first: what an argument that does not matter shrinks to), the
    interior (uniform between two finite ends, ``_DISTANCE`` from a single one), and the closed ends. The
    interior gets ``INTERIOR_SHARE`` of the draws: every end is also a boundary example of its own
    (``conformance.strategies.edges``), and an end such as ``lr = 0`` hides whatever else an example draws."""
    low, high = bound.low, bound.high
    if low is not None and high is not None:
        interior = st.floats(low, high, exclude_min=bound.low_open, exclude_max=bound.high_open).map(_flushed)
    elif low is not None:
        interior = _DISTANCE.map(lambda m: low + m)
    elif high is not None:
        interior = _DISTANCE.map(lambda m: high - m)
    else:
        interior = st.floats(allow_nan=False, allow_infinity=False)
    ends = [e for e, open_ in ((low, bound.low_open), (high, bound.high_open)) if e is not None and not open_]
    options = [st.just(float(default))] if isinstance(default, (int, float)) and bound.holds(default) else []
    options += [interior] * INTERIOR_SHARE + [st.just(float(e)) for e in ends]
    return st.one_of(*options).filter(bound.holds)


def argument(optimizer: str, name: str, default: Any, bounds: Mapping[tuple[str, int | None], Bound]) -> Any:
    """The strategy of one constructor argument (see the module docstring for the order of precedence)."""
    if (optimizer, name) in UNVALIDATED:
        values = UNVALIDATED[(optimizer, name)].values
        return st.one_of(st.just(default), values) if default is not None else values
    if isinstance(default, bool):
        return st.booleans() if default is False else st.sampled_from((True, False))
    if isinstance(default, tuple):
        elements = []
        for i, d in enumerate(default):
            if (name, i) not in bounds:
                raise LookupError(f"{optimizer}({name}[{i}]) has no bound in its TABLE and no domain here")
            element = bounded_floats(bounds[(name, i)], d)
            elements.append(st.one_of(st.none(), element) if d is None else element)
        return st.tuples(*elements)
    if (name, None) in bounds:
        return bounded_floats(bounds[(name, None)], default)
    raise LookupError(f"{optimizer}({name}) has no bound in its TABLE and no domain in UNVALIDATED")


def rules_hold(table: Table, defaults: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate: every ``Rule`` of ``table`` holds for these arguments (unset ones at their defaults)."""
    rules = [c for c in table.checks if isinstance(c, Rule)]
    return lambda hyper: all(rule.holds({**defaults, **hyper}) for rule in rules)


@cache
def argument_strategies(optimizer: str) -> dict[str, st.SearchStrategy[Any]]:
    """Every varied argument of ``optimizer``, in signature order."""
    bounds = table_of(optimizer).bounds()
    return {
        name: argument(optimizer, name, default, bounds)
        for name, default in constructor_defaults(optimizer).items()
    }


@cache
def hyperparameters(optimizer: str) -> st.SearchStrategy[dict[str, Any]]:
    """Constructor keyword arguments satisfying the whole table. Arguments left at their default are
    dropped from the dict, so an example (and its reproduction) names only what it changes."""
    defaults = constructor_defaults(optimizer)
    holds = rules_hold(table_of(optimizer), defaults)
    drawn = st.fixed_dictionaries(argument_strategies(optimizer)).filter(holds)
    return drawn.map(lambda h: {k: v for k, v in h.items() if not _same(v, defaults[k])})


def _same(a: Any, b: Any) -> bool:
    """``0.0`` is torch's ``0`` default, ``True`` is not ``1``."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b

"""The API checks' own machinery (conformance/api): the inputs they derive from the reference's tables can
make a check fail, and their ids select one class at a time.

Whether each check catches a wrong implementation is shown by the mutants (tests/test_mutants.py); these
tests guard what the mutants cannot: that every derived invalid argument is invalid, every rule of a table
gets a violating input, and every derived hyperparameter change shows in the reference's run (except the
ones listed, each inert for the reason given).
"""

from __future__ import annotations

import warnings
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import refimpl.optim
from conformance.api import compare, derive
from conformance.api.cases import ApiCase
from conformance.api.context import ApiContext, Script
from conformance.api.setups import SETUPS
from conformance.invalid_inputs import raised, rule_violations
from conformance.schedules import SCHEDULE_RTOL
from conformance.tolerances import FLOAT64_RTOL

# Derived changes that do not show in the reference's five-step run, and why (a check of them still fails a
# candidate that reacts where the reference does not).
INERT = {
    ("Adagrad", "initial_accumulator_value"): "read only when a param's state is created",
    ("Adafactor", "d"): "the update's RMS stays below both thresholds on these gradients: no clipping",
    ("Adafactor", "eps[1]"): "the params' RMS (~1) exceeds both eps2 values, so max(eps2, RMS) is the RMS",
    ("LBFGS", "max_iter"): "the evaluation budget (max_eval, fixed at construction) ends each step first",
    ("LBFGS", "tolerance_grad"): "Rosenbrock's gradients stay far above both thresholds",
    ("RAdam", "eps"): "eps enters only the rectified update, from step 6 (rho_t > 5); the run has five",
    ("Rprop", "lr"): "the initial step size, read only when a param's state is created",
    ("Rprop", "step_sizes[1]"): "the step sizes grow 1.2x a step from lr = 0.01, far below both maxima",
}
# A change "shows" when it moves the run by this many float64 tolerances: well clear of rounding.
SHOWS = 100 * FLOAT64_RTOL


@pytest.mark.parametrize("name", SETUPS)
def test_derived_invalid_arguments_are_invalid(name):
    cls, param = getattr(refimpl.optim, name), SETUPS[name].initial()[0]
    calls = [kw for _, kw in derive.invalid_calls(name)]
    accepted = [kw for kw in calls if raised(lambda kw=kw: cls([param.copy()], **kw)) is None]
    assert not accepted, f"{name} accepts the derived invalid arguments {accepted}"


@pytest.mark.parametrize("name", SETUPS)
def test_every_rule_gets_a_violation(name):
    table = derive.table(name)
    defaults = getattr(refimpl.optim, name)([SETUPS[name].initial()[0]]).defaults
    rules = [
        c
        for c in table.checks
        if not hasattr(c, "low") and not c.tensors_only and all(n in defaults for n in c.names)
    ]
    assert len(rule_violations(table, defaults)) == len(rules)


def reference_run(name: str, change: derive.Change | None) -> list[np.ndarray]:
    """The reference's params and state arrays after the API check's script (the change before step 3)."""
    setup = SETUPS[name]
    optimizer = getattr(refimpl.optim, name)(setup.groups(setup.initial()), **setup.hyper)
    live = [p for g in optimizer.param_groups for p in g["params"]]
    objective = setup.closure_for()
    for t in range(5):
        if t == 2 and change is not None:
            optimizer.param_groups[0][change.key] = change.value
        optimizer.step(partial(objective, live) if setup.closure else setup.gradients(t, live))
    state = [np.asarray(v, dtype=float) for s in optimizer.state.values() for v in s.values() if _array(v)]
    return [p.copy() for p in live] + state


def _array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, float)) and np.size(value) > 0


@pytest.mark.parametrize(
    "name,change", [(n, c) for n in SETUPS for c in derive.changes(n)], ids=lambda x: getattr(x, "id", x)
)
def test_derived_changes_show(name, change):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow warnings of a blown-up run are what the error reports
        try:
            changed = reference_run(name, change)
        except Exception:  # the check compares the error with the candidate's: it shows
            return
        base = reference_run(name, None)
    moved = max(compare.array_error(a, b) for a, b in zip(changed, base))
    if (name, change.id) in INERT:
        assert moved < SHOWS, f"{name} {change.id} now shows ({moved:.3g}): drop it from INERT"
    else:
        assert moved >= SHOWS, f"{name} {change.id} moves the run by {moved:.3g} only"


def test_ids_select_one_class():
    """``[adam] or [adam: or [adam-`` (tests/test_mutants.py's -k) picks Adam's ids, not AdamW's..."""
    cases = [
        ApiCase.make(n, d, v, "float64", "cpu") for n in SETUPS for d in ("", "lr") for v in ("", "foreach")
    ]
    for name in SETUPS:
        keys = [f"[{name.lower()}]", f"[{name.lower()}:", f"[{name.lower()}-"]
        chosen = {c.optimizer for c in cases if any(k in f"test[{c.id}]".lower() for k in keys)}
        assert chosen == {name}


def test_array_error_agrees_on_nan():
    """NaN where the reference has NaN is agreement; NaN elsewhere is an infinite error."""
    assert compare.array_error(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) == 0.0
    assert compare.array_error(np.array([np.nan, 1.0]), np.array([0.0, 1.0])) == float("inf")


def floors_context(dtype: str, rtol: float) -> ApiContext:
    """An API check's context with only what its param comparisons read (dtype, tolerance, what it saw)."""
    ctx = object.__new__(ApiContext)
    ctx.dtype, ctx.rtol, ctx._drift, ctx._held = dtype, rtol, {}, {}
    return ctx


@pytest.mark.parametrize("dtype, rtol", [("float64", FLOAT64_RTOL), ("float32", 16 * 2.0**-23 * 10)])
def test_zero_expected_params_are_compared_against_a_floor(dtype, rtol):
    """A param that cancelled to (almost) zero is judged at the magnitude it was computed at, not as a 100 %
    error; a wrong value there, or any nonzero value where the reference never left zero, still fails."""
    ctx = floors_context(dtype, rtol)
    ctx.observe("opt", [np.array([1.0, -0.5])])  # the param held 1 before its last step
    expected = [np.array([1e-17, 0.0])]
    floors = ctx.floors("opt", expected, rtol)
    assert compare.params([np.zeros(2)], expected, rtol), "without a floor: the false alarm"
    assert not compare.params([np.zeros(2)], expected, rtol, "after step 1", floors)
    # wrong by 1e-4 of the magnitude the param held: beyond GROWTH eps of it in float64 and float32
    (problem,) = compare.params([np.array([1e-4, 0.0])], expected, rtol, "after step 1", floors)
    assert problem.startswith("param 0 after step 1: max rel error")
    # a param the reference never moved off zero: a nonzero value fails, even one below rtol in absolute terms
    zero = [np.zeros(3)]
    ctx.observe("frozen", zero)
    floors = ctx.floors("frozen", zero, rtol)
    wrong = [np.array([0.0, rtol / 10, 0.0])]
    assert not compare.params(wrong, zero, rtol), "the absolute comparison let it through"
    assert compare.params(wrong, zero, rtol, "", floors)
    assert not compare.params([np.zeros(3)], zero, rtol, "", floors)
    # away from zero nothing changes: a relative error beyond rtol fails, one within passes
    ctx.observe("big", [np.array([2.0])])
    floors = ctx.floors("big", [np.array([2.0])], rtol)
    assert compare.params([np.array([2.0 * (1 + 2 * rtol)])], [np.array([2.0])], rtol, "", floors)
    assert not compare.params([np.array([2.0 * (1 + rtol / 2)])], [np.array([2.0])], rtol, "", floors)


def test_scheduled_lrs_at_zero_are_compared_against_their_base_lr():
    """An lr scheduled to 0 (LinearLR to end_factor=0) that the reference computes as 1e-17 is 0 within the
    rounding of its base lr, not a 100 % error; a wrong lr there, or next to it, still fails."""
    groups = [{"initial_lr": 0.1}, {"initial_lr": 0.1}]
    assert not compare.same_values([0.05, 0.0], [0.05, 1e-17], SCHEDULE_RTOL), "without a floor"
    assert compare.same_lrs([0.05, 0.0], [0.05, 1e-17], groups)
    assert compare.same_lrs([0.05, 1e-17], [0.05, 0.0], groups)
    assert not compare.same_lrs([0.05, 1e-9], [0.05, 0.0], groups)  # 1e-8 of the base lr: far beyond rounding
    assert not compare.same_lrs([0.05 * (1 + 1e-9), 0.0], [0.05, 0.0], groups)
    assert not compare.same_lrs([0.05], [0.05, 0.0], groups)


def test_script_counts_repeats():
    script = Script()
    for line in ("a", "b", "b", "b", "a"):
        script.add(line)
    assert script.render("") == ["a", "b  # x3", "a"]


def test_candidate_errors_are_told_from_the_suites():
    """An exception raised in the candidate's code is the candidate's; one raised in conformance/ is not."""
    from conformance.api.context import ApiContext

    context = SimpleNamespace()
    try:
        derive.table("NoSuchOptimizer")  # raises in conformance/api/derive.py
    except KeyError as e:
        assert not ApiContext.raised_by_candidate(context, e)
    try:
        exec(compile("raise ValueError('candidate')", "/elsewhere/candidate.py", "exec"))
    except ValueError as e:
        assert ApiContext.raised_by_candidate(context, e)


def test_torch_error_inputs_are_torchs_cpu_count():
    """torch 2.13's common_optimizers.py instantiates 124 error inputs on CPU over its 15 optimizers (38
    literal entries, the 6 common ones for every class): the data module lists all of them."""
    from conformance.api.torch_errors import error_inputs
    from refimpl.optim import MODULES

    assert sum(len(error_inputs(name)) for name in MODULES) == 124

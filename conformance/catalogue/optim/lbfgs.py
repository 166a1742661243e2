"""LBFGS cases. Always objective-driven: ``step(closure)`` evaluates the objective as often as it decides, at
the candidate's own params. One group only (LBFGS rejects several): a 2-D Rosenbrock vector, or a (3, 4)
matrix for the ill-conditioned quadratic (condition number 1e4). Steps are few, each running up to
``max_iter`` iterations, and no case runs to convergence: there the gradient differences that build the
history are pure rounding, and no tolerance could hold the state.

The Rosenbrock cases that tune a stopping tolerance draw their start from a fixed ``seed`` name instead of
their id, so that the tolerance (part of the id) can be chosen on a known trajectory; the initial params are
stored in the vectors either way.

Precision (every case carries float32 overrides; float64 keeps the policy):

- float64: torch agrees to at most 2.8e-12 (the quadratic with the strong Wolfe search), well within 1e-10.
- float32 single steps (one step from a stored checkpoint): the policy's ``SINGLE_STEP * eps`` bounds the
  rounding of one update, but one LBFGS step makes up to ``min(max_iter, max_eval)`` updates (and line
  search evaluations), each starting from the previous one's rounding. The override is the policy per
  update: ``SINGLE_STEP * eps * min(max_iter, max_eval)``. Measured: torch at most 6.2 eps, the reference
  computing in float32 9.4 eps (both the strong Wolfe case ending in the loss-change stop, 5 updates).
- float32 trajectories: the policy's ``GROWTH * eps * t`` counts outer steps, but an LBFGS step is up to
  ``max_iter`` iterations, each building its direction from gradient differences ``y = g - g_prev`` and
  steps ``s`` of an ill-conditioned problem (condition 1e4; Rosenbrock's valley ~2.5e3): the rounding of one
  iterate (eps relative) becomes a relative error of up to ``condition * eps`` in the next direction, and
  errors grow 3 to 10 times per outer step (measured; no branch flips: every step's closure-evaluation
  count agrees with the reference). Measured worst relative error of torch's float32 run over each case's
  trajectory and checkpoint state is written next to it (torch 2.13, CPU). Rounding-level differences of
  another platform were imitated by moving every initial element by one float32 ULP (20 draws per case):
  the worst error changed by up to 4.5 times. The override is ``MARGIN = 10`` times the measured worst;
  ``tests/test_catalogue.py`` demands that every option a case observes changes its output by 10 times
  the override, i.e. 100 times the measured float32 error.
"""

from typing import Any

from conformance.catalogue.model import Group, OptimCase
from conformance.tolerances import EPS, SINGLE_STEP

ROSENBROCK = (Group(((2,),)),)
QUADRATIC = (Group(((3, 4),)),)

MARGIN = 10.0


def lbfgs(
    hyper: dict[str, Any], observes: tuple[str, ...], why: str, measured: float, **kw: Any
) -> OptimCase:
    """An LBFGS case whose torch float32 trajectory was measured ``measured`` off at worst, with its float32
    overrides (see the module docstring)."""
    max_iter = hyper.get("max_iter", 20)
    updates = min(max_iter, hyper.get("max_eval") or max_iter * 5 // 4)
    tolerance = {
        "float32:trajectory": MARGIN * measured,
        "float32:single_step": SINGLE_STEP * EPS["float32"] * updates,
    }
    return OptimCase("LBFGS", hyper, observes, why, tolerance=tolerance, **kw)


CASES = [
    lbfgs(
        {"line_search_fn": "strong_wolfe", "max_iter": 3, "history_size": 2},
        ("line_search_fn", "max_iter", "history_size"),
        "strong Wolfe line search on Rosenbrock's valley: cubic interpolation, bracketing and zoom; the "
        "history holds two pairs, so the oldest is dropped from the third iteration on; max_eval defaults "
        "to max_iter * 5 // 4 = 3 evaluations per step, which ends each step",
        3.4e-5,
        groups=ROSENBROCK,
        objective="rosenbrock",
        steps=6,
    ),
    lbfgs(
        {"lr": 0.8, "max_iter": 4, "history_size": 3},
        ("lr", "max_iter", "history_size", "line_search_fn"),
        "fixed step lr along the two-loop direction (the first iteration ever scaled by min(1, 1/|g|_1)) on "
        "the ill-conditioned quadratic; every step runs max_iter iterations, the history is truncated to 3 "
        "pairs, the last iteration's point is evaluated by the next step",
        3.8e-4,
        groups=QUADRATIC,
        objective="ill_conditioned_quadratic",
        steps=5,
    ),
    lbfgs(
        {"line_search_fn": "strong_wolfe", "max_iter": 20, "max_eval": 6, "history_size": 4},
        ("max_eval", "history_size"),
        "max_eval, not max_iter, ends every step, and it also limits the line search to the evaluations "
        "left; the quadratic makes the search nearly exact, so older pairs are nearly conjugate to the new "
        "gradient (their entries of al nearly cancel)",
        1.2e-3,
        groups=QUADRATIC,
        objective="ill_conditioned_quadratic",
        steps=5,
    ),
    lbfgs(
        {"lr": 0.05, "max_iter": 5, "history_size": 3, "tolerance_grad": 48.2},
        ("lr", "max_iter", "tolerance_grad"),
        "slow fixed steps make max|g| fall by ~5% per iteration: it first drops below tolerance_grad (by "
        "2.5%) at the first iteration of step 3, which ends the step; every later step evaluates the "
        "gradient once and returns at once without moving",
        1.1e-6,
        groups=ROSENBROCK,
        objective="rosenbrock",
        steps=6,
        seed="lbfgs/rosenbrock",
    ),
    lbfgs(
        {"lr": 0.05, "max_iter": 5, "history_size": 3, "tolerance_change": 0.0143},
        ("tolerance_change",),
        "the same start: the step max|t d| first falls below tolerance_change (by 3%) in step 2's fourth "
        "iteration, and from then on every step stops after one iteration (the loss still changes by far "
        "more than tolerance_change)",
        1.2e-6,
        groups=ROSENBROCK,
        objective="rosenbrock",
        steps=6,
        seed="lbfgs/rosenbrock",
    ),
    lbfgs(
        {"line_search_fn": "strong_wolfe", "max_iter": 5, "history_size": 3, "tolerance_change": 0.01},
        ("tolerance_change",),
        "strong Wolfe steps down Rosenbrock's valley: steps 1-4 end at max_eval (6 evaluations), step 5 "
        "when the loss changes by less than tolerance_change (0.63 of it) while the step max|t d| is still "
        "larger",
        1.1e-4,
        groups=ROSENBROCK,
        objective="rosenbrock",
        steps=5,
        seed="lbfgs/rosenbrock-11",
    ),
]

"""LBFGS: differential tests against torch, hand-derived checks, and the error catalogue.

LBFGS cannot go through ``run_pair``: its ``step`` takes a closure that the optimizer calls as often as it
decides, so this file has its own side-by-side runner that counts the closure calls on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from differential import (
    assert_same_error,
    invalid_kwargs,
    normwise_rel_error,
    pairwise,
    raised,
    to_numpy,
    to_torch_grad,
)

from refimpl.objectives import (
    flatten,
    ill_conditioned_quadratic,
    ill_conditioned_spd,
    quadratic,
    rosenbrock,
    unflatten,
)
from refimpl.optim import LBFGS, SparseGrad
from refimpl.optim.lbfgs import TABLE

torch = pytest.importorskip("torch")

Objective = Callable[[Sequence[np.ndarray]], tuple[float, list[Any]]]

# float64 against torch's float64, measured. The reference does torch's operations in torch's order, but
# two roundings differ by design (readable NumPy, no emulated hardware instructions): torch's
# ``p.add_(d, alpha=t)`` is a fused multiply-add (one rounding; measured bit-exact against an exact FMA),
# NumPy's ``p + t * d`` rounds twice; and ``torch.dot`` (MKL) sums in another order than ``np.dot`` (even
# for 2 elements: torch's is a0 b0 + a1 b1, NumPy's fuses). Each costs an ULP (~1e-16) per iteration;
# L-BFGS feeds the iterate back through gradient differences (y = g - g_prev, which cancel digits) and the
# line search, so the ULPs grow with the iterations and the conditioning. Measured over the full product
# of OPTIONS (96 runs; ``pairwise`` picks a different subset in each process, so all had to pass) and
# every other case here, at most 22 iterations on condition <= 1e4: 2.6e-11 (params of Rosenbrock-2D
# after 21 strong Wolfe iterations; the state agrees as well, ``al`` and ``ro`` compared as vectors).
# With an exact FMA patched into the update, Rosenbrock-2D's params agree bit for bit (state to 8e-16):
# these are the two roundings. 1e-9 leaves a factor ~40 for the chaotic growth; a formula or order error
# in the direction, step length or history shows up at 1e-4 and above, and every branch decision (closure
# calls, func_evals, n_iter) is compared exactly. Runs to convergence are avoided: there the gradient
# differences are pure rounding (measured 6e-10 after 36 iterations of Rosenbrock, 5e-6 in the state
# after 60).
RTOL = 1e-9


# -- the side-by-side runner ---------------------------------------------------------------------------


@dataclass
class Run:
    """After every step: the params, the returned loss, the closure calls so far, (func_evals, n_iter)."""

    params: list[list[np.ndarray]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    counters: list[tuple[int, int]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    group: dict[str, Any] = field(default_factory=dict)


def run_lbfgs(
    objective: Objective,
    x0: Sequence[np.ndarray],
    hyper: dict[str, Any],
    steps: int,
    changes: dict[int, dict[str, Any]] | None = None,
) -> tuple[Run, Run]:
    """``steps`` calls of ``step(closure)`` on refimpl's and torch's LBFGS from ``x0``; both runs.

    Both closures evaluate the same NumPy ``objective`` (torch's copies its gradients into ``.grad``, a
    ``None`` gradient leaving ``.grad`` unset), so the only difference between the runs is the optimizer.
    ``changes[t]``: param-group assignments made before step ``t``.
    """
    changes = changes or {}
    ref_params = [x.copy() for x in x0]
    torch_params = [torch.from_numpy(x.copy()).requires_grad_(True) for x in x0]
    ref_opt = LBFGS(ref_params, **hyper)
    torch_opt = torch.optim.LBFGS(torch_params, **hyper)
    ref, tor = Run(), Run()
    calls = {"ref": 0, "torch": 0}

    def ref_closure() -> tuple[float, list[Any]]:
        calls["ref"] += 1
        return objective(ref_params)

    def torch_closure() -> float:
        calls["torch"] += 1
        loss, grads = objective([p.detach().numpy() for p in torch_params])
        for p, g in zip(torch_params, grads):
            p.grad = None if g is None else to_torch_grad(g)
        return loss

    for t in range(steps):
        for key, value in changes.get(t, {}).items():
            ref_opt.param_groups[0][key] = value
            torch_opt.param_groups[0][key] = value
        for run, opt, closure, params, who in (
            (ref, ref_opt, ref_closure, ref_params, "ref"),
            (tor, torch_opt, torch_closure, torch_params, "torch"),
        ):
            run.losses.append(float(opt.step(closure)))
            run.params.append([to_numpy(p) if who == "torch" else p.copy() for p in params])
            run.calls.append(calls[who])
            state = to_numpy(opt.state_dict()["state"]).get(0, {})
            run.counters.append((state.get("func_evals"), state.get("n_iter")))
    for run, opt in ((ref, ref_opt), (tor, torch_opt)):
        sd = to_numpy(opt.state_dict())
        run.state, run.group = sd["state"].get(0, {}), sd["param_groups"][0]
    return ref, tor


def _state_error(actual: Any, expected: Any) -> float:
    """Norm-wise relative error of a state value.

    The history lists (``old_dirs``, ``old_stps``: vectors) compare entry by entry; the lists of scalars
    (``ro``, ``al``) as one vector each, ``None`` only where torch has ``None``. A single ``al`` entry can
    be pure rounding (after an exact line search the new gradient is orthogonal to the old steps, so
    a_i = rho_i s_i.q is ~1e-17 of its neighbours), so it is measured against the largest entry.
    """
    if not isinstance(expected, list):
        if expected is None or actual is None:
            assert expected is None and actual is None, f"{actual!r} vs {expected!r}"
            return 0.0
        return normwise_rel_error(actual, expected)
    assert isinstance(actual, list) and len(actual) == len(expected), f"{actual!r} vs {expected!r}"
    assert [a is None for a in actual] == [e is None for e in expected], f"{actual!r} vs {expected!r}"
    pairs = [(a, e) for a, e in zip(actual, expected) if e is not None]
    if pairs and np.ndim(pairs[0][1]) == 0:
        return normwise_rel_error(np.array([a for a, _ in pairs]), np.array([e for _, e in pairs]))
    return max((normwise_rel_error(a, e) for a, e in pairs), default=0.0)


def assert_runs_close(ref: Run, tor: Run, rtol: float) -> float:
    """Same closure calls and counters exactly; params, losses and final state within ``rtol``. Returns
    the worst error seen (for measuring)."""
    assert ref.calls == tor.calls, f"closure calls {ref.calls} != torch's {tor.calls}"
    assert ref.counters == tor.counters, f"(func_evals, n_iter) {ref.counters} != torch's {tor.counters}"
    worst = 0.0
    for t, (ref_ps, torch_ps) in enumerate(zip(ref.params, tor.params)):
        for i, (a, e) in enumerate(zip(ref_ps, torch_ps)):
            err = normwise_rel_error(a, e)
            assert err <= rtol, f"param {i} after step {t + 1}: rel error {err:.3g} > {rtol:.3g}"
            worst = max(worst, err)
    err = normwise_rel_error(np.array(ref.losses), np.array(tor.losses))
    assert err <= rtol, f"returned losses {ref.losses} vs torch's {tor.losses}"
    assert list(ref.state) == list(tor.state), f"state keys {list(ref.state)} != torch's {list(tor.state)}"
    for key, expected in tor.state.items():
        err = _state_error(ref.state[key], expected)
        assert err <= rtol, f"state {key!r}: rel error {err:.3g} > {rtol:.3g}"
        worst = max(worst, err)
    assert list(ref.group) == list(tor.group), f"param_groups keys {list(ref.group)} != {list(tor.group)}"
    assert ref.group == tor.group
    return worst


# -- objectives and starting points --------------------------------------------------------------------


def _quadratic(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
    return ill_conditioned_quadratic(params, condition=1e4)


def _ignoring_last(objective: Objective) -> Objective:
    """``objective`` of all params but the last, whose gradient is ``None`` (it does not enter the loss)."""

    def f(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
        loss, grads = objective(params[:-1])
        return loss, [*grads, None]

    return f


def _start(shapes: Sequence[tuple[int, ...]], seed: int, dtype: Any = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        x = rng.uniform(-1.5, 1.5, shape)
        if np.dtype(dtype).kind == "c":
            x = x + 1j * rng.uniform(-1.5, 1.5, shape)
        out.append(np.asarray(x, dtype=dtype))
    return out


PROBLEMS: dict[str, tuple[Objective, list[np.ndarray]]] = {
    # the classic start of the banana valley
    "rosenbrock2": (rosenbrock, [np.array([-1.2, 1.0])]),
    # chained Rosenbrock over 0-d, empty, 2-D and 1-D params
    "rosenbrock8": (rosenbrock, _start([(), (0,), (2, 2), (3,)], seed=1)),
    # dense SPD quadratic with condition number 1e4, 12 unknowns over two params
    "quadratic12": (_quadratic, _start([(3, 2), (6,)], seed=2)),
}

OPTIONS = {
    "problem": list(PROBLEMS),
    "line_search_fn": [None, "strong_wolfe"],
    "history_size": [3, 100],  # 3: the history is full and its oldest pair dropped
    "max_iter": [4, 7],
    "tolerance_change": [1e-9, 1e-3],  # 1e-3 stops early on small loss changes / steps
    "lr": [1.0, 0.3],
}
CONFIGS = pairwise(OPTIONS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_torch(config: dict[str, Any]) -> None:
    objective, x0 = PROBLEMS[config["problem"]]
    hyper = {k: v for k, v in config.items() if k != "problem"}
    ref, tor = run_lbfgs(objective, x0, hyper, steps=3, changes={2: {"lr": 0.5 * hyper["lr"]}})
    assert_runs_close(ref, tor, RTOL)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_complex_params_and_none_gradients_match_torch(line_search_fn: str | None) -> None:
    # torch optimizes a complex param as its real view (the docs say params must be real); a param with
    # no gradient contributes zeros to the flat gradient and does not move.
    x0 = [*_start([(2, 3)], seed=3, dtype=np.complex128), *_start([(2,)], seed=4), np.ones(3)]
    objective = _ignoring_last(_quadratic)
    ref, tor = run_lbfgs(objective, x0, {"line_search_fn": line_search_fn, "max_iter": 5}, steps=3)
    assert_runs_close(ref, tor, RTOL)
    np.testing.assert_array_equal(ref.params[-1][-1], np.ones(3))


def test_max_eval_limits_the_line_search_as_torch() -> None:
    # max_eval 6 < what the line search would like: max_ls = max_eval - current_evals cuts it short
    hyper = {"line_search_fn": "strong_wolfe", "max_iter": 10, "max_eval": 6}
    ref, tor = run_lbfgs(rosenbrock, [np.array([-1.2, 1.0])], hyper, steps=3)
    assert_runs_close(ref, tor, RTOL)


def test_changing_hyperparameters_between_steps_matches_torch() -> None:
    hyper = {"line_search_fn": "strong_wolfe", "max_iter": 5, "history_size": 4}
    changes = {1: {"tolerance_change": 1e-4, "max_iter": 3}, 2: {"lr": 0.5, "tolerance_grad": 1e-3}}
    ref, tor = run_lbfgs(*PROBLEMS["rosenbrock8"], hyper, steps=4, changes=changes)
    assert_runs_close(ref, tor, RTOL)


def _flat_quadratic(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
    """A quadratic with small curvature: large steps change the loss little (the loss-change rule)."""
    return quadratic(params, 1e-2 * ill_conditioned_spd(6, condition=100.0))


def _stopped_by(rule: str, ref: LBFGS, objective: Objective, params: list[np.ndarray]) -> bool:
    """Whether the state after a step shows ``rule``'s condition (evidence of which test stopped it)."""
    state, group = ref.state[0], ref.param_groups[0]
    tolerance_change = group["tolerance_change"]
    if rule == "max_eval":
        return state["func_evals"] >= group["max_eval"]
    if rule == "opt_cond":
        return bool(np.max(np.abs(flatten(objective(params)[1]))) <= group["tolerance_grad"])
    if rule == "step":
        return bool(np.max(np.abs(state["d"] * state["t"])) <= tolerance_change)
    if rule == "loss":
        return abs(objective(params)[0] - state["prev_loss"]) < tolerance_change
    assert rule == "gtd"
    return bool(np.dot(state["prev_flat_grad"], state["d"]) > -tolerance_change)


# (objective, x0, hyper, rule that stops the first step early, found by instrumenting both implementations)
STOPPING = {
    "max_eval": (rosenbrock, [np.array([-1.2, 1.0])], {"line_search_fn": "strong_wolfe", "max_eval": 10}),
    "opt_cond": (
        _quadratic,
        PROBLEMS["quadratic12"][1],
        {"line_search_fn": "strong_wolfe", "tolerance_grad": 20.0},
    ),
    "step": (rosenbrock, [np.array([-1.2, 1.0])], {"tolerance_change": 1.0}),
    "gtd": (rosenbrock, [np.array([-1.2, 1.0])], {"tolerance_change": 1e-2}),
    "loss": (_flat_quadratic, [np.cos(np.arange(6.0))], {"tolerance_change": 4e-3}),
}


@pytest.mark.parametrize("rule", list(STOPPING))
def test_stopping_rules_match_torch(rule: str) -> None:
    # Each case stops its first step before max_iter by one rule (checked below on the reference, so the
    # case keeps testing that rule); later steps then start from a stopped state (for opt_cond: they
    # return after the first evaluation).
    objective, x0, hyper = STOPPING[rule]
    ref, tor = run_lbfgs(objective, x0, {"max_iter": 20, **hyper}, steps=3)
    assert_runs_close(ref, tor, RTOL)
    assert tor.counters[0][1] < 20
    params = [x.copy() for x in x0]
    opt = LBFGS(params, max_iter=20, **hyper)
    opt.step(lambda: objective(params))
    assert _stopped_by(rule, opt, objective, params)


def test_descent_test_at_the_start_of_a_step_matches_torch() -> None:
    # tolerance_change raised between steps: the next step computes its direction, then stops on
    # g.d > -tolerance_change before moving; d, t and the history are still saved.
    hyper = {"line_search_fn": "strong_wolfe", "max_iter": 3}
    ref, tor = run_lbfgs(*PROBLEMS["rosenbrock8"], hyper, steps=3, changes={1: {"tolerance_change": 1e9}})
    assert_runs_close(ref, tor, RTOL)
    assert all(np.array_equal(a, b) for a, b in zip(ref.params[0], ref.params[1]))  # step 2 did not move


def _cliff(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
    """|x|^2 / 2 plus a jump of 10 where x_0 < 1: the line search zooms into the discontinuity."""
    x = flatten(params)
    return 0.5 * float(x @ x) + (10.0 if x[0] < 1.0 else 0.0), unflatten(x.copy(), params)


def _uphill(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
    """|x|^2 / 2 with the gradient's sign flipped (a wrong gradient): every trial point is worse, so the
    line search shrinks its bracket until it is too small and returns t = 0."""
    x = flatten(params)
    return 0.5 * float(x @ x), unflatten(-x, params)


# the branches of the strong Wolfe search that the smooth problems above do not reach
LINE_SEARCH_CASES = {
    # t = lr = 1.8 passes the minimum along the quasi-Newton direction (near t = 1) but keeps the
    # sufficient decrease: bracketing stops on a positive slope
    "overshoot": (_quadratic, PROBLEMS["quadratic12"][1], {"lr": 1.8, "max_iter": 6}),
    # tiny first trial, 3 evaluations allowed: the bracketing runs out (bracket [0, t], no zoom)
    "out of evaluations": (rosenbrock, [np.array([-1.2, 1.0])], {"lr": 1e-3, "max_iter": 5, "max_eval": 4}),
    # interpolation lands near the bracket's ends: the "insufficient progress" move
    "discontinuous": (_cliff, [np.array([2.0, 1.0])], {"max_iter": 5}),
    # the bracket shrinks below tolerance_change / max|d|
    "wrong gradient": (_uphill, [np.array([2.0, 1.0])], {}),
}


@pytest.mark.parametrize("case", list(LINE_SEARCH_CASES))
def test_line_search_branches_match_torch(case: str) -> None:
    objective, x0, hyper = LINE_SEARCH_CASES[case]
    ref, tor = run_lbfgs(objective, x0, {"line_search_fn": "strong_wolfe", **hyper}, steps=2)
    assert_runs_close(ref, tor, RTOL)


def test_sparse_gradient_matches_torch() -> None:
    # torch densifies a sparse .grad in _gather_flat_grad; a repeated row is summed
    def objective(params: Sequence[np.ndarray]) -> tuple[float, list[Any]]:
        loss, grads = _quadratic(params)
        g = grads[0]
        rows = np.array([*range(g.shape[0]), 0])
        values = np.concatenate([g, np.zeros((1, g.shape[1]))])
        return loss, [SparseGrad(rows, values, g.shape), *grads[1:]]

    ref, tor = run_lbfgs(objective, PROBLEMS["quadratic12"][1], {"max_iter": 4}, steps=2)
    assert_runs_close(ref, tor, RTOL)


# -- hand-derived checks (no torch) --------------------------------------------------------------------


def _spd(n: int) -> np.ndarray:
    return ill_conditioned_spd(n, condition=100.0)


def _closure(objective: Objective, params: list[np.ndarray], calls: list[int]) -> Callable[[], Any]:
    def closure() -> tuple[float, list[Any]]:
        calls.append(1)
        return objective(params)

    return closure


@pytest.mark.parametrize("lr", [1.0, 0.25])
@pytest.mark.parametrize("scale", [10.0, 0.01])  # |g|_1 above 1 (t = lr / |g|_1) and below (t = lr)
def test_first_iteration_is_a_scaled_gradient_step(lr: float, scale: float) -> None:
    x0 = np.array([1.0, -2.0, 0.5])
    g = scale * x0  # the gradient of scale * |x|^2 / 2
    x = x0.copy()
    loss = LBFGS([x], lr=lr, max_iter=1).step(lambda: (scale * 0.5 * float(x @ x), [scale * x]))
    t = lr * min(1.0, 1.0 / np.sum(np.abs(g)))
    np.testing.assert_allclose(x, x0 - t * g, rtol=1e-15)  # one rounding per element
    assert loss == scale * 0.5 * 5.25  # the loss at x0, |x0|^2 = 5.25


def test_quadratic_terminates_in_n_iterations_with_exact_line_searches() -> None:
    # On a quadratic with exact line searches, L-BFGS with history >= n and H0 a multiple of I produces
    # the conjugate-gradient iterates, so it reaches the minimum in n iterations, not before when the start
    # has a component along every eigenvector (Nocedal & Wright, Sections 5.1 and 7.2; Kolda, O'Leary &
    # Nazareth 1998). The strong Wolfe search is exact here by construction: with lr = 100 every first trial
    # overshoots the minimum along d (g(t).d > 0), so the search zooms into [0, t], and the cubic through
    # two points and slopes of a quadratic is that quadratic: the first zoom point is the exact minimizer,
    # where g.d = 0 satisfies the curvature condition. So each iteration costs 2 evaluations.
    n = 8
    A = ill_conditioned_spd(n, condition=1e4)
    distance = {}
    for iterations in (n - 1, n):
        x = np.cos(np.arange(1.0, n + 1))  # components along all eigenvectors
        opt = LBFGS(
            [x], lr=100.0, line_search_fn="strong_wolfe", history_size=n, max_iter=iterations, max_eval=100
        )
        opt.step(_closure(lambda ps: quadratic(ps, A), [x], []))
        assert opt.state[0]["n_iter"] == iterations
        assert opt.state[0]["func_evals"] == 1 + 2 * iterations
        distance[iterations] = np.max(np.abs(x))
    assert distance[n - 1] > 1e-3  # not there one iteration early
    # condition 1e4 times the unit roundoff per iteration: measured ~5e-12, 1e-10 leaves margin
    assert distance[n] < 1e-10


def test_direction_is_the_bfgs_inverse_hessian_times_gradient() -> None:
    # The two-loop recursion computes d = -H g without forming H. Rebuild H densely from the stored pairs
    # by the BFGS update H+ = (I - rho s y^T) H (I - rho y s^T) + rho s s^T, starting from H_diag * I, and
    # check the stored direction (computed from prev_flat_grad with exactly this history).
    n = 6
    x = np.linspace(-1.0, 2.0, n)
    opt = LBFGS([x], history_size=3, max_iter=7, lr=0.5, tolerance_change=0.0)
    opt.step(_closure(rosenbrock, [x], []))
    state = opt.state[0]
    assert len(state["old_dirs"]) == 3  # the history is full: older pairs were dropped
    H = state["H_diag"] * np.eye(n)
    for y, s in zip(state["old_dirs"], state["old_stps"]):
        rho = 1.0 / (y @ s)
        H = (np.eye(n) - rho * np.outer(s, y)) @ H @ (np.eye(n) - rho * np.outer(y, s)) + rho * np.outer(s, s)
    rhos = [1.0 / (y @ s) for y, s in zip(state["old_dirs"], state["old_stps"])]
    np.testing.assert_allclose(state["ro"], rhos, rtol=1e-14)  # dot products of 6 elements
    # measured 2.5e-16: H's condition number is ~17 and the recursion is a few 6-element dot products
    np.testing.assert_allclose(state["d"], -H @ state["prev_flat_grad"], rtol=1e-13)


@pytest.mark.parametrize(("max_iter", "max_eval"), [(1, None), (6, None), (20, None), (20, 5), (8, 1)])
def test_closure_evaluations_without_line_search(max_iter: int, max_eval: int | None) -> None:
    # With the fixed step, each step() evaluates once at the start and once after each iteration except
    # the last allowed one (whose point the next step() evaluates); it stops early when the evaluations
    # reach max_eval (default max_iter * 5 // 4 >= max_iter, so then it does not bind). With every other
    # stopping test disabled (tolerances < 0 or 0), k iterations cost 1 + k evaluations unless k = max_iter
    # (then k). Iterations: max_iter, or the first k >= 1 with 1 + k >= max_eval.
    limit = max_iter * 5 // 4 if max_eval is None else max_eval
    iterations = min(max_iter, max(limit - 1, 1))
    evaluations = iterations if iterations == max_iter else iterations + 1
    x = np.linspace(-1.0, 1.0, 5)
    calls: list[int] = []
    opt = LBFGS([x], lr=0.01, max_iter=max_iter, max_eval=max_eval, tolerance_grad=-1.0, tolerance_change=0.0)
    for step in range(1, 3):
        opt.step(_closure(lambda ps: quadratic(ps, _spd(5)), [x], calls))
        assert len(calls) == step * evaluations
        assert opt.state[0]["func_evals"] == step * evaluations
        assert opt.state[0]["n_iter"] == step * iterations


def test_optimal_start_returns_after_one_evaluation() -> None:
    # max|g| <= tolerance_grad at the start: one evaluation, nothing moves, only the counters in state
    x = np.zeros(3)
    calls: list[int] = []
    opt = LBFGS([x])
    loss = opt.step(_closure(lambda ps: quadratic(ps, _spd(3)), [x], calls))
    assert (loss, len(calls), x.tolist()) == (0.0, 1, [0.0, 0.0, 0.0])
    assert opt.state == {0: {"func_evals": 1, "n_iter": 0}}


def test_pairs_with_curvature_below_1e_10_are_skipped() -> None:
    # The curvature test y.s > 1e-10 is absolute. On f = x^T A x / 2 with A = diag(1, 4) started at 1e-5,
    # the first step s = -lr A x0 gives y = A s and y.s = lr^2 (A x0).(A A x0) = 0.01 * 65e-10 < 1e-10;
    # later ones are smaller: no pair is ever stored, H stays I, and every iteration is the gradient step
    # x+ = (I - lr A) x (the first one too: |g|_1 = 5e-5 < 1, so t = lr). So x_k = (0.9^k, 0.6^k) * 1e-5.
    A = np.diag([1.0, 4.0])
    x = np.array([1e-5, 1e-5])
    opt = LBFGS([x], lr=0.1, max_iter=5, tolerance_change=0.0)
    opt.step(lambda: (0.5 * float(x @ A @ x), [A @ x]))
    assert opt.state[0]["old_dirs"] == [] and opt.state[0]["H_diag"] == 1
    np.testing.assert_allclose(x, [0.9**5 * 1e-5, 0.6**5 * 1e-5], rtol=1e-14)  # 5 steps, a few roundings


def test_none_gradient_counts_as_zero() -> None:
    a, b = np.array([3.0, -4.0]), np.array([5.0])
    LBFGS([a, b], max_iter=1).step(lambda: (12.5, [a.copy(), None]))
    np.testing.assert_allclose(a, [3.0 - 3.0 / 7, -4.0 + 4.0 / 7], rtol=1e-15)  # t = 1 / |g|_1 = 1 / 7
    assert b.tolist() == [5.0]


# -- the error catalogue -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [*invalid_kwargs(TABLE, {}), {"lr": float("nan")}], ids=str)
def test_invalid_arguments_raise_as_torch(kwargs: dict[str, Any]) -> None:
    assert_same_error("LBFGS", kwargs)


def test_parameter_groups_are_rejected_as_torch() -> None:
    groups = [{"params": [np.zeros(2)]}, {"params": [np.zeros(3)], "lr": 0.1}]
    expected = raised(lambda: torch.optim.LBFGS([{"params": [torch.zeros(2)]}, {"params": [torch.zeros(3)]}]))
    assert raised(lambda: LBFGS(groups)) == expected
    assert expected is not None and expected[0] is ValueError


def test_one_element_array_lr_is_a_scalar_lr() -> None:
    # torch accepts a 1-element Tensor lr (squeezed to 0-d); the reference a 1-element array
    runs = []
    for lr in (np.array([0.5]), 0.5):
        x = np.array([-1.2, 1.0])
        LBFGS([x], lr=lr, max_iter=5).step(lambda x=x: rosenbrock([x]))
        runs.append(x)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_tensor_lr_must_have_one_element() -> None:
    expected = raised(lambda: torch.optim.LBFGS([torch.zeros(2)], lr=torch.tensor([1.0, 2.0])))
    assert raised(lambda: LBFGS([np.zeros(2)], lr=np.array([1.0, 2.0]))) == expected


def _with_second_group(opt: Any) -> Any:
    opt.add_param_group(
        {"params": [torch.zeros(2) if isinstance(opt, torch.optim.Optimizer) else np.zeros(2)]}
    )
    return opt


def _step_outcome(
    make_opt: Callable[[Any, list[Any]], Any], objective: Objective, x0: np.ndarray, torch_side: bool
) -> Any:
    """What ``step`` raises, with the closure calls and counters at that moment."""
    if torch_side:
        p = torch.from_numpy(x0.copy()).requires_grad_(True)
        opt = make_opt(torch.optim.LBFGS, [p])

        def closure() -> float:
            calls.append(1)
            loss, grads = objective([p.detach().numpy()])
            p.grad = torch.from_numpy(grads[0].copy())
            return loss

    else:
        x = x0.copy()
        opt = make_opt(LBFGS, [x])

        def closure() -> tuple[float, list[Any]]:
            calls.append(1)
            return objective([x])

    calls: list[int] = []
    error = raised(lambda: opt.step(closure))
    state = to_numpy(opt.state_dict()["state"]).get(0, {})
    return error, len(calls), state.get("func_evals"), state.get("n_iter")


@pytest.mark.parametrize(
    "make_opt",
    [
        # raised at the first line search, after one evaluation has been counted
        lambda cls, ps: cls(ps, line_search_fn="armijo"),
        # max_ls = max_eval - 1 < 0: torch's line search reads a never-assigned local
        lambda cls, ps: cls(ps, line_search_fn="strong_wolfe", max_eval=0),
        # a second group added after construction: rejected by step
        lambda cls, ps: _with_second_group(cls(ps)),
        # lr = 0 (a Python float) with the step test disabled: the second iteration's line search
        # interpolates between two equal points; Python floats raise where tensors would give nan
        lambda cls, ps: cls(ps, lr=0.0, line_search_fn="strong_wolfe", tolerance_change=-1.0),
    ],
    ids=[
        "unknown line search",
        "max_eval 0 with strong_wolfe",
        "added param group",
        "zero-width interpolation",
    ],
)
def test_step_errors_as_torch(make_opt: Callable[[Any, list[Any]], Any]) -> None:
    x0 = np.array([-1.2, 1.0])
    expected = _step_outcome(make_opt, rosenbrock, x0, torch_side=True)
    assert expected[0] is not None
    assert _step_outcome(make_opt, rosenbrock, x0, torch_side=False) == expected

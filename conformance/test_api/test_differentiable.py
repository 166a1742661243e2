"""API conformance: ``differentiable=True`` -- the step is a differentiable function of the param, its
gradient and its state, with the reference's derivatives.

torch's own tests (``TestDifferentiableOptimizer`` in test/optim/test_optim.py) run
``torch.autograd.gradcheck`` on one ``step()`` as a function of a param (a non-leaf ``p.clone()``), its
gradient and its state tensors, in float64: the Jacobian autograd computes through the step against finite
differences of the same step. A conformance check compares with the spec instead: the Jacobian autograd
computes through the candidate's step must equal central differences of the reference's step (``refimpl``).
So a step whose values are right but whose graph is wrong (a ``detach()``, a write through ``.data``, an
in-place op autograd does not see) fails, as does a gradient that does not flow at all; the values of the
differentiable step are compared too (the catalogue does that over every case with ``--variant
differentiable``).

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from conformance.api import compare
from conformance.api.cases import TORCH_API, check, steps_on_gradients
from conformance.api.context import ApiContext

try:
    import torch
except ImportError:  # only torch-API candidates reach this check
    torch = None

# The param of the check: small, so the Jacobian costs a few dozen reference steps.
SIZE = 4
# Steps the reference makes first, so that the differentiated step starts from non-trivial state (both
# moments, step counts > 1, Rprop's step sizes and previous gradient all away from their initial values).
WARMUP = 2
# Central differences with a step h = H |x| relative to each input (H where x = 0): in float64 their rounding
# error is about 2^-52 |f| / h (2e-12 |f| / |x|) and their truncation error h^2 |f'''| / 6, which for the
# steps' functions (of scale |x|: f''' ~ f' / x^2, the sqrt of a ~1e-5 moment included) is ~1e-9 of f'. So
# torch.autograd.gradcheck's default bounds (atol 1e-5, rtol 1e-3) hold with orders of margin, and a
# derivative that is lost (0 instead of 1 - beta, ...) or scaled wrongly is far outside them.
H = 1e-4
ATOL, RTOL = 1e-5, 1e-3
# Where f is smooth its one-sided differences differ by ~h |f''| (~H of f' for these functions); at a kink
# by the jump of the derivative (of the order of the derivative): a tenth of the derivative separates the
# two by three orders.
KINK = 0.1


def _inputs(name: str, hyper: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, Any], list[str]]:
    """A seeded param and gradient, the reference's state after ``WARMUP`` steps (its state dict), and the
    state keys to differentiate: those holding a tensor of the param's shape (moments, accumulators,
    step sizes); scalar state (``step``, ASGD's ``eta``/``mu``) only enters the values."""
    rng = np.random.default_rng(14)
    param = rng.standard_normal(SIZE)
    optimizer = _reference(name, param, hyper)
    for _ in range(WARMUP):
        optimizer.step([rng.standard_normal(SIZE)])
    state = optimizer.state_dict()
    keys = sorted(k for k, v in state["state"][0].items() if np.shape(v) == (SIZE,))
    return optimizer.param_groups[0]["params"][0].copy(), rng.standard_normal(SIZE), state, keys


def _reference(name: str, param: np.ndarray, hyper: dict[str, Any]) -> Any:
    import refimpl.optim

    return getattr(refimpl.optim, name)([param.copy()], **hyper)


def _split(x: Any, keys: list[str]) -> tuple[Any, Any, dict[str, Any]]:
    """The flat input vector as param, gradient and the differentiated state tensors."""
    parts = [x[i * SIZE : (i + 1) * SIZE] for i in range(2 + len(keys))]
    return parts[0], parts[1], dict(zip(keys, parts[2:], strict=True))


def reference_step(name: str, hyper: dict[str, Any], state: dict[str, Any], keys: list[str]) -> Callable:
    """The reference's step as a function of the flat input (param, gradient, state) to the flat output
    (the new param and state), for finite differences."""

    def step(x: np.ndarray) -> np.ndarray:
        param, grad, values = _split(x, keys)
        optimizer = _reference(name, param, hyper)
        optimizer.load_state_dict({**state, "state": {0: {**state["state"][0], **values}}})
        optimizer.step([grad.copy()])
        new = optimizer.state_dict()["state"][0]
        return np.concatenate([optimizer.param_groups[0]["params"][0], *(np.ravel(new[k]) for k in keys)])

    return step


def candidate_step(
    api: ApiContext, hyper: dict[str, Any], state: dict[str, Any], keys: list[str]
) -> Callable:
    """The candidate's step with ``differentiable=True`` as a function of the same flat input, as torch's
    test builds it: the param a non-leaf clone, the gradient and the state tensors in the graph, the rest
    of the state loaded through ``load_state_dict`` (so each value has the dtype and layout the class
    keeps; the loaded groups' ``differentiable=False`` is set back to True, as the adapter does)."""

    def step(x: Any) -> Any:
        param, grad, values = _split(x, keys)
        p = param.clone()
        optimizer = api.cls([p], **hyper, differentiable=True)
        optimizer.load_state_dict(_torch_state(state))
        for group in optimizer.param_groups:  # the reference's groups say differentiable=False
            group["differentiable"] = True
        for key, value in values.items():
            optimizer.state[p][key] = value.clone()
        p.grad = grad
        optimizer.step()
        return torch.cat([p, *(optimizer.state[p][k].reshape(-1) for k in keys)])

    return step


def _torch_state(state: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
            return int(value)
        if isinstance(value, np.ndarray):
            return torch.tensor(value)
        return value

    return {
        "param_groups": state["param_groups"],
        "state": {i: {k: convert(v) for k, v in s.items()} for i, s in state["state"].items()},
    }


def central_differences(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``J[i, j] = d f_i / d x_j`` by central differences, and where ``f`` is differentiable.

    The step for ``x_j`` is ``H`` relative to it (``H`` where it is 0): state such as Adadelta's
    ``acc_delta`` is ~1e-5, where an absolute step would straddle the curvature of ``sqrt``. Where the
    one-sided differences disagree by more than ``KINK`` of the derivative, ``f`` has a kink there (Rprop's
    sign of ``grad * prev`` at ``prev = 0``, a ``max`` at a tie): autograd returns one of the one-sided
    derivatives by convention, and the entry is not compared (``smooth`` False)."""
    base = f(x)
    central, smooth = [], []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = H * (abs(x[j]) or 1.0)
        ahead, behind = (f(x + e) - base) / e[j], (base - f(x - e)) / e[j]
        central.append((ahead + behind) / 2)
        smooth.append(np.abs(ahead - behind) <= KINK * np.abs(central[-1]) + ATOL)
    return np.stack(central, axis=1), np.stack(smooth, axis=1)


@check(per_variant=True, needs=TORCH_API, applies=steps_on_gradients, variants=("differentiable",))
def test_differentiable_step(api: ApiContext) -> None:
    """With differentiable=True one step is differentiable in the param, its gradient and its state, and the
    Jacobian autograd computes through it equals central differences of the reference's step (float64)."""
    hyper = dict(api.setup.hyper)
    param, grad, state, keys = _inputs(api.name, hyper)
    x = np.concatenate([param, grad, *(np.ravel(state["state"][0][k]) for k in keys)])
    inputs, outputs = ["param", "grad", *keys], ["param", *keys]
    api.script.add(f"p = x.clone(); opt = {api.name}([p], {_args(hyper)}differentiable=True)")
    in_graph = ", ".join(keys) or "no tensor state"
    api.script.add(f"# state after {WARMUP} reference steps; {in_graph} in the graph")
    api.script.add("p.grad = g; opt.step(); J = jacobian of (p, *state) w.r.t. (x, g, *state)")
    expected = reference_step(api.name, hyper, state, keys)
    x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = candidate_step(api, hyper, state, keys)(x_t)
    if not out.requires_grad:
        api.fail("the step's outputs are not in the autograd graph (no gradient flows through the step)")
    problems = compare.params([out.detach().numpy()], [expected(x)], api.rtol, "after the step")
    api.expect(problems, "the differentiable step's values are not the reference's")
    jacobian = torch.autograd.functional.jacobian(candidate_step(api, hyper, state, keys), x_t).numpy()
    want, smooth = central_differences(expected, x)
    bad = smooth & (np.abs(jacobian - want) > ATOL + RTOL * np.abs(want))
    if bad.any():
        details = []
        for i, j in zip(*np.nonzero(bad), strict=True):
            details.append(
                f"d new {outputs[i // SIZE]}[{i % SIZE}] / d {inputs[j // SIZE]}[{j % SIZE}]: autograd "
                f"{jacobian[i, j]:.6g}, reference (central differences) {want[i, j]:.6g}"
            )
        api.fail(
            f"the derivatives autograd computes through the step are not the reference's "
            f"({int(bad.sum())} of {bad.size} Jacobian entries beyond atol {ATOL:g} + rtol {RTOL:g})",
            *details,
        )


def _args(hyper: dict[str, Any]) -> str:
    return "".join(f"{k}={v!r}, " for k, v in hyper.items())

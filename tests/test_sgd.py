"""SGD: differential tests against torch, hand-derived checks, and the error catalogue."""

import numpy as np
import pytest
from differential import (
    assert_close,
    assert_same_error,
    invalid_kwargs,
    pairwise,
    random_grads,
    run_pair,
    standard_groups,
)

from refimpl.optim import SGD, SparseGrad
from refimpl.optim.sgd import TABLE

# float64 against torch's float64 for-loop: the same operations in the same order, so the measured
# disagreement is a few ULPs (~1e-16) per step; 1e-12 leaves three orders of magnitude for 30 steps of
# growth and still fails any real formula error (those show up at 1e-3 and above).
RTOL = 1e-12

OPTIONS = {
    "momentum": [0.0, 0.9],
    "dampening": [0.0, 0.3],
    "weight_decay": [0.0, 0.1],
    "nesterov": [False, True],
    "maximize": [False, True],
}


def _valid(config: dict) -> bool:
    return not config["nesterov"] or (config["momentum"] > 0 and config["dampening"] == 0)


CONFIGS = [c for c in pairwise(OPTIONS) if _valid(c)] + [
    {"momentum": 0.9, "dampening": 0.0, "nesterov": True, "weight_decay": 0.1, "maximize": True},
    {"momentum": 0.9, "dampening": 0.5, "nesterov": False, "weight_decay": 0.0, "maximize": False},
]


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_torch(config, dtype):
    groups = standard_groups(dtype, lr=0.05, momentum=0.5 if config["momentum"] else 0.0)
    ref, tor = run_pair(
        "SGD",
        groups,
        {"lr": 0.1, **config},
        random_grads(none_every=4),
        steps=25,
        changes={10: [(0, "lr", 0.02)], 15: [(1, "weight_decay", 0.2)]},
    )
    assert_close(ref, tor, RTOL)


def test_sparse_gradients_match_torch():
    rows = np.array([0, 2, 0, 4])  # row 0 repeats: torch sums repeated rows when it coalesces
    grad = lambda t, i, p: SparseGrad(rows, np.full((4, 3), t + 1.0), p.shape)  # noqa: E731
    ref, tor = run_pair("SGD", [{"params": [np.zeros((5, 3))]}], {"lr": 0.1, "momentum": 0.9}, grad, steps=5)
    assert_close(ref, tor, RTOL)


def test_first_step_has_no_dampening():
    # b_1 = g (not (1 - tau) * g): after one step theta = -lr * g whatever the dampening.
    theta = np.zeros(3)
    SGD([theta], lr=0.5, momentum=0.9, dampening=0.7).step([np.array([1.0, -2.0, 4.0])])
    np.testing.assert_array_equal(theta, [-0.5, 1.0, -2.0])


def test_momentum_on_a_quadratic_matches_the_closed_recurrence():
    # f(x) = a x^2 / 2: heavy ball gives the linear recurrence x_{t+1} = (1 + mu - lr a) x_t - mu x_{t-1}
    # (after the first step x_1 = (1 - lr a) x_0). The reference must follow it exactly.
    a, lr, mu = 2.0, 0.1, 0.9
    x = np.array(1.0)
    opt = SGD([x], lr=lr, momentum=mu)
    xs = [1.0]
    for _ in range(30):
        opt.step([a * x])
        xs.append(float(x))
    expected = [1.0, 1.0 - lr * a]
    while len(expected) < len(xs):
        expected.append((1 + mu - lr * a) * expected[-1] - mu * expected[-2])
    np.testing.assert_allclose(xs, expected, rtol=1e-13, atol=1e-15)  # 30 roundings of O(1) values


def test_nesterov_first_step():
    # b_1 = g; the step uses g + mu * b_1 = (1 + mu) g.
    theta = np.ones(2)
    SGD([theta], lr=0.1, momentum=0.5, nesterov=True).step([np.array([2.0, -1.0])])
    np.testing.assert_allclose(theta, [1 - 0.1 * 1.5 * 2, 1 + 0.1 * 1.5], rtol=0, atol=1e-15)


def test_none_gradient_neither_moves_nor_creates_state():
    a, b = np.ones(2), np.ones(2)
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    opt.step([np.ones(2), None])
    np.testing.assert_array_equal(b, [1.0, 1.0])
    assert list(opt.state) == [0]


@pytest.mark.parametrize(
    "kwargs",
    [
        *invalid_kwargs(TABLE, {}),
        {"nesterov": True},
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        {"fused": True, "foreach": True},
        {"fused": True, "differentiable": True},
        {"lr": float("nan")},
    ],
    ids=str,
)
def test_invalid_arguments_raise_as_torch(kwargs):
    assert_same_error("SGD", kwargs)

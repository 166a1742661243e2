"""ASGD: hand-derived checks of the schedule and the average, with eta and mu held as float32 values.

The pairwise differential sweep is in test_per_coordinate_optimizers.py.
"""

import numpy as np
import pytest
from differential import random_grads, run_pair, standard_groups

from refimpl.optim import ASGD

# The hand-written closed forms take the same few roundings as the update, in another order: a few ULPs of
# O(1) values. 1e-15 admits that and nothing a formula error could produce.
ULPS = 1e-15

torch = pytest.importorskip("torch")


def _grads(steps: int, shape: tuple[int, ...] = (3,)) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.standard_normal(shape) for _ in range(steps)]


def test_average_with_t0_zero_is_the_mean_of_the_iterates_from_step_two():
    # lambd = 0: eta_t = lr for all t, so theta follows plain SGD. mu_{t-1} = 1 / max(1, t - 1 - t0) is 1
    # at steps 1 and 2 (ax copies theta) and 1/(t - 1) after: ax_T = mean(theta_2, ..., theta_T).
    lr, steps = 0.125, 8  # a float32 value: torch stores eta = lr in float32
    theta0 = np.array([1.0, -2.0, 0.5])
    theta = theta0.copy()
    opt = ASGD([theta], lr=lr, lambd=0.0, t0=0.0)
    iterates = [theta0]
    for g in _grads(steps):
        opt.step([g])
        iterates.append(iterates[-1] - lr * g)
        np.testing.assert_allclose(theta, iterates[-1], rtol=ULPS)
    # The weights mu = 1/k are float32 values (relative error <= 2^-24 = 6e-8 each, as torch stores them), and
    # 7 of them shape the mean: 5e-7 covers that, while an averaging off by one step is off by ~10%.
    np.testing.assert_allclose(opt.state[0]["ax"], np.mean(iterates[2:], axis=0), rtol=5e-7)
    assert opt.state[0]["mu"] == 1 / steps  # 1/8: a float32 value


def test_before_t0_the_average_is_the_parameter():
    theta = np.zeros(3)
    opt = ASGD([theta], lr=0.1, t0=100.0)
    for g in _grads(5):
        opt.step([g])
        np.testing.assert_array_equal(opt.state[0]["ax"], theta)
    assert opt.state[0]["mu"] == 1.0


def test_decay_then_step_with_the_previous_eta():
    # theta_1 = theta_0 (1 - lambd lr) - lr g_1 (eta_0 = lr); eta_t = lr / (1 + lambd lr t)^alpha.
    lr, lambd, alpha = 0.25, 0.5, 0.75  # lr a float32 value; later etas are rounded to float32 as torch does
    theta0, (g1, g2) = np.array([1.0, -3.0, 2.0]), _grads(2)
    theta = theta0.copy()
    opt = ASGD([theta], lr=lr, lambd=lambd, alpha=alpha)
    opt.step([g1])
    theta1 = theta0 * (1 - lambd * lr) - lr * g1
    np.testing.assert_allclose(theta, theta1, rtol=ULPS)
    eta1 = float(np.float32(lr / (1 + lambd * lr) ** alpha))
    assert opt.state[0]["eta"] == eta1
    opt.step([g2])
    np.testing.assert_allclose(theta, theta1 * (1 - lambd * eta1) - eta1 * g2, rtol=ULPS)
    assert opt.state[0]["eta"] == float(np.float32(lr / (1 + 2 * lambd * lr) ** alpha))


def test_a_new_lr_takes_effect_one_step_late():
    # eta used at step t was computed at the end of step t - 1, with that step's lr.
    theta = np.zeros(1)
    opt = ASGD([theta], lr=0.125, lambd=0.0)
    opt.step([np.ones(1)])
    opt.param_groups[0]["lr"] = 0.5
    opt.step([np.ones(1)])
    np.testing.assert_allclose(theta, [-0.25], rtol=ULPS)
    opt.step([np.ones(1)])
    np.testing.assert_allclose(theta, [-0.75], rtol=ULPS)


def test_eta_and_mu_are_float32_values_as_torch_stores_them():
    # torch keeps eta and mu in float32 scalar tensors (its default dtype) even for float64 params; the
    # reference holds the same float32 values, and the rounding is not vacuous: the exact doubles differ.
    hyper = {"lr": 0.05, "lambd": 0.5, "alpha": 0.3, "t0": 3.5}
    ref, tor = run_pair("ASGD", standard_groups(), hyper, random_grads(), steps=7)
    for i, state in tor.state.items():
        assert state["eta"].dtype == np.float32
        assert state["eta"] == ref.state[i]["eta"]
        assert state["mu"] == ref.state[i]["mu"]
        t = ref.state[i]["step"]
        assert ref.state[i]["eta"] != 0.05 / (1 + 0.5 * 0.05 * t) ** 0.3

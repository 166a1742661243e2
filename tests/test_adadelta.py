"""Adadelta: hand-derived checks (no torch); the differential sweep is in test_per_coordinate_optimizers."""

import numpy as np

from refimpl.optim import Adadelta

# The hand-written closed forms take the same few roundings as the update, in another order: a few ULPs of
# O(1) values. 1e-15 admits that and nothing a formula error could produce.
ULPS = 1e-15

G = np.array([2.0, -0.5, 0.0, 3.0])


def test_first_step_by_hand():
    # v_1 = (1 - rho) g^2; delta_1 = sqrt(0 + eps) / sqrt(v_1 + eps) g; u_1 = (1 - rho) delta_1^2;
    # lr scales the step only.
    lr, rho, eps = 0.5, 0.9, 1e-6
    theta = np.ones(4)
    opt = Adadelta([theta], lr=lr, rho=rho, eps=eps)
    opt.step([G])
    delta = np.sqrt(eps) / np.sqrt((1 - rho) * G**2 + eps) * G
    np.testing.assert_allclose(theta, 1 - lr * delta, rtol=ULPS)
    np.testing.assert_allclose(opt.state[0]["acc_delta"], (1 - rho) * delta**2, rtol=ULPS)
    assert sorted(opt.state[0]) == ["acc_delta", "square_avg", "step"]


def test_second_step_uses_the_accumulated_delta():
    # constant g: delta_2 = sqrt(u_1 + eps) / sqrt(v_2 + eps) g with v_2 = (1 - rho^2) g^2.
    lr, rho, eps = 1.0, 0.5, 1e-2
    theta = np.zeros(4)
    opt = Adadelta([theta], lr=lr, rho=rho, eps=eps)
    opt.step([G])
    opt.step([G])
    delta1 = np.sqrt(eps) / np.sqrt((1 - rho) * G**2 + eps) * G
    u1 = (1 - rho) * delta1**2
    delta2 = np.sqrt(u1 + eps) / np.sqrt((1 - rho**2) * G**2 + eps) * G
    np.testing.assert_allclose(theta, -lr * (delta1 + delta2), rtol=1e-14)  # ~10 roundings


def test_lr_scales_the_step_not_the_accumulator():
    a, b = np.zeros(4), np.zeros(4)
    opt_a, opt_b = Adadelta([a], lr=1.0), Adadelta([b], lr=0.25)
    for _ in range(3):
        opt_a.step([G])
        opt_b.step([G])
    np.testing.assert_allclose(b, 0.25 * a, rtol=ULPS)
    np.testing.assert_array_equal(opt_a.state[0]["acc_delta"], opt_b.state[0]["acc_delta"])

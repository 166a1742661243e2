"""RMSprop: hand-derived checks (no torch). The differential sweep is in test_per_coordinate_optimizers.py."""

import numpy as np
import pytest

from refimpl.optim import RMSprop

# The hand-written closed forms take the same few roundings as the update, in another order: a few ULPs of
# O(1) values. 1e-15 admits that and nothing a formula error could produce.
ULPS = 1e-15

G = np.array([2.0, -0.5, 0.0, 3.0])


def test_first_step_divides_by_the_root_of_one_minus_alpha():
    # v_1 = (1 - alpha) g^2, so theta_1 = -lr g / (sqrt(1 - alpha) |g| + eps): no bias correction.
    lr, alpha, eps = 0.01, 0.99, 1e-8
    theta = np.zeros(4)
    opt = RMSprop([theta], lr=lr, alpha=alpha, eps=eps)
    opt.step([G])
    np.testing.assert_allclose(theta, -lr * G / (np.sqrt(1 - alpha) * np.abs(G) + eps), rtol=ULPS)
    np.testing.assert_allclose(opt.state[0]["square_avg"], (1 - alpha) * G**2, rtol=ULPS)
    assert sorted(opt.state[0]) == ["square_avg", "step"]


def test_centered_first_step_uses_the_variance():
    # g_ave_1 = (1 - alpha) g, v_1 - g_ave_1^2 = alpha (1 - alpha) g^2; eps outside the square root.
    lr, alpha, eps = 0.1, 0.9, 1e-3
    theta = np.ones(4)
    opt = RMSprop([theta], lr=lr, alpha=alpha, eps=eps, centered=True)
    opt.step([G])
    expected = 1 - lr * G / (np.sqrt(alpha * (1 - alpha)) * np.abs(G) + eps)
    np.testing.assert_allclose(theta, expected, rtol=ULPS)  # a few roundings of O(1) values
    np.testing.assert_allclose(opt.state[0]["grad_avg"], (1 - alpha) * G, rtol=ULPS)


def test_momentum_accumulates_the_normalised_steps():
    # constant g: b_1 = g / a_1, b_2 = mu b_1 + g / a_2 with a_t = sqrt(v_t) + eps, v_2 = (1 - alpha^2) g^2.
    lr, alpha, eps, mu = 0.01, 0.5, 1e-8, 0.9
    theta = np.zeros(4)
    opt = RMSprop([theta], lr=lr, alpha=alpha, eps=eps, momentum=mu)
    opt.step([G])
    opt.step([G])
    a1 = np.sqrt(1 - alpha) * np.abs(G) + eps
    a2 = np.sqrt(1 - alpha**2) * np.abs(G) + eps
    b2 = mu * G / a1 + G / a2
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], b2, rtol=1e-14)
    np.testing.assert_allclose(theta, -lr * (G / a1 + b2), rtol=1e-14)


@pytest.mark.parametrize("maximize", [False, True])
def test_complex_parameter_is_a_pair_of_reals(maximize):
    # A complex param steps exactly as the (real, imag) pair would, with per-component square averages.
    z = np.array([1 + 2j, -3j])
    g = np.array([0.5 - 1j, 2 + 0.25j])
    pair = np.stack([z.real, z.imag], axis=-1)
    pair_grad = np.stack([g.real, g.imag], axis=-1)
    opt_c = RMSprop([z], lr=0.1, momentum=0.5, centered=True, weight_decay=0.1, maximize=maximize)
    opt_r = RMSprop([pair], lr=0.1, momentum=0.5, centered=True, weight_decay=0.1, maximize=maximize)
    for _ in range(3):
        opt_c.step([g])
        opt_r.step([pair_grad])
    np.testing.assert_array_equal(np.stack([z.real, z.imag], axis=-1), pair)

"""Adafactor: differential tests against torch, hand-derived checks, and the error catalogue."""

import numpy as np
import pytest
from differential import (
    assert_close,
    assert_same_error,
    assert_same_step_error,
    invalid_kwargs,
    pairwise,
    random_grads,
    run_pair,
    standard_groups,
    torch,
)

from refimpl.optim import Adafactor, SparseGrad
from refimpl.optim.adafactor import TABLE

# float64 against torch's float64 for-loop: the same operations in the same order (torch's norms and
# matmuls may sum in another order), so the disagreement is a few ULPs: measured max 2.0e-14 over the
# configurations below under several hash seeds (pairwise's draw varies), that worst case a one-element
# parameter landing near zero, where the norm-wise scale is the cancelled value itself; otherwise <= 7e-15.
# 1e-12 leaves fifty-fold room for 25 steps of growth and still fails any real formula error (those show
# up at 1e-3 and above).
RTOL = 1e-12

# 0-d, one element, a vector, non-square 2-D (factored) and 3-D (factored over the last two axes). No
# empty parameter: Adafactor divides by sqrt(numel) and raises on one (test_empty_parameter_raises_as_torch).
SHAPES = ((), (1,), (4,), (3, 5), (2, 3, 4))

OPTIONS = {
    "lr": [0.01, 0.3],  # 0.3 > 1/sqrt(t) from t = 12 on: rho_t switches branch mid-run
    "beta2_decay": [-0.8, -0.5],
    "eps": [(None, 1e-3), (0.5, 1e-3), (1e-30, 3.0)],  # eps1 clamping V; eps2 above RMS(theta) ~ 1
    "d": [1.0, 4.0],  # 1.0 clips U on some steps, 4.0 on none
    "weight_decay": [0.0, 0.1],
    "maximize": [False, True],
    "foreach": [None, True],
}

CONFIGS = pairwise(OPTIONS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_torch(config):
    groups = standard_groups(np.float64, shapes=SHAPES, lr=0.05, d=2.0)
    ref, tor = run_pair(
        "Adafactor",
        groups,
        config,
        random_grads(none_every=4, scale=3.0),
        steps=25,
        changes={10: [(0, "lr", 0.02)], 15: [(1, "beta2_decay", -0.6), (0, "eps", (1e-3, 0.1))]},
    )
    assert_close(ref, tor, RTOL)


def test_defaults_match_torch():
    ref, tor = run_pair("Adafactor", standard_groups(shapes=SHAPES), {}, random_grads(), steps=20)
    assert_close(ref, tor, RTOL)


def test_param_group_keys_are_torchs():
    keys = list(torch.optim.Adafactor([torch.zeros(2)]).param_groups[0])
    assert list(Adafactor([np.zeros(2)]).param_groups[0]) == keys


def test_group_eps1_comes_from_the_first_parameter_as_in_torch():
    # torch resolves eps1=None inside its loop and never resets it: the float32 parameter, first in the
    # group, fixes eps1 = 1.2e-7 for the float64 one, whose tiny gradient is then clamped (a float64 eps
    # would leave it alone). The float64 parameter's update differs by a factor ~1e3 between the two
    # readings, so the tolerance only has to cover float32 rounding: ~20 float32 roundings of 6e-8 each
    # over 5 steps (measured 4.5e-8), hence 1e-5.
    rng = np.random.default_rng(3)
    groups = [{"params": [rng.standard_normal(3).astype(np.float32), rng.standard_normal(4)]}]

    def grad(t: int, i: int, p: np.ndarray) -> np.ndarray:
        return np.asarray(rng.standard_normal(p.shape) * (1.0 if i == 0 else 1e-10), dtype=p.dtype)

    ref, tor = run_pair("Adafactor", groups, {"lr": 0.1}, grad, steps=5)
    assert_close(ref, tor, 1e-5)


def test_first_step_of_a_vector_is_sign_times_alpha():
    # t = 1: the EMA weight t**tau is 1, so V_1 = G*G and U = G / |G| = sign(G), whose RMS is 1 <= d: no
    # clipping. alpha_1 = max(eps2, RMS(theta_0)) * min(lr, 1).
    theta = np.array([3.0, -4.0])
    Adafactor([theta], lr=0.01).step([np.array([0.5, 2.0])])
    np.testing.assert_allclose(theta, [3.0 - 0.01 * 12.5**0.5, -4.0 - 0.01 * 12.5**0.5], rtol=1e-15)


@pytest.mark.parametrize("shape", [(2, 3), (2, 2, 3)])
def test_factored_estimate_is_exact_for_a_rank_one_square(shape):
    # If G*G = r c^T (G = u v^T), then R = r mean(c), C = mean(r) c and R C / mean(R) = r c^T: the
    # factored V_1 equals G*G, U = sign(G) as for a vector. alpha_1 = RMS(theta_0) * lr (RMS = 1 > eps2).
    u, v = np.array([1.0, -2.0]), np.array([1.0, -3.0, 0.5])
    G = np.broadcast_to(np.outer(u, v), shape).copy()
    theta = np.ones(shape)
    opt = Adafactor([theta], lr=0.1)
    opt.step([G])
    np.testing.assert_allclose(theta, 1.0 - 0.1 * np.sign(G), rtol=1e-15)
    assert set(opt.state[0]) == {"step", "row_var", "col_var"}
    assert opt.state[0]["row_var"].shape == (*shape[:-1], 1)
    assert opt.state[0]["col_var"].shape == (*shape[:-2], 1, shape[-1])


@pytest.mark.parametrize("d", [1.0, 2.0])
def test_second_step_clipping_by_hand(d):
    # Step 1: G = [1, 1] gives V_1 = [1, 1]. Step 2: G = [10, 10], w = 2**-0.8, V_2 = (1 - w) + 100 w and
    # U = 10 / sqrt(V_2) ~ 1.3 in both entries, so RMS(U) = U. With d = 1 the update is clipped to
    # U / (RMS(U) / d) = [1, 1]; with d = 2, RMS(U) / d < 1 and U is applied as it is.
    theta = np.array([1.0, 2.0])
    opt = Adafactor([theta], lr=0.01, beta2_decay=-0.8, d=d)
    opt.step([np.ones(2)])
    theta_1 = np.array([1.0, 2.0]) - 0.01 * 2.5**0.5
    np.testing.assert_allclose(theta, theta_1, rtol=1e-15)
    opt.step([np.full(2, 10.0)])
    w = 2**-0.8
    U = 10 / np.sqrt((1 - w) * 1 + w * 100)
    alpha_2 = np.sqrt(np.mean(theta_1**2)) * min(0.01, 1 / np.sqrt(2))
    np.testing.assert_allclose(theta, theta_1 - alpha_2 * U / max(1.0, U / d), rtol=1e-15)


def test_none_gradient_neither_moves_nor_creates_state():
    a, b = np.ones((2, 3)), np.ones(2)
    opt = Adafactor([a, b])
    opt.step([np.ones((2, 3)), None])
    np.testing.assert_array_equal(b, [1.0, 1.0])
    assert list(opt.state) == [0]


@pytest.mark.parametrize(
    "params, grads",
    [
        # the second parameter is rejected after the first got its zero state, in both
        ([np.ones(2), np.ones(2, dtype=np.complex128)], [np.ones(2), np.ones(2, dtype=np.complex128)]),
        ([np.ones(2), np.ones((3, 2))], [np.ones(2), SparseGrad(np.array([0, 2]), np.ones((2, 2)), (3, 2))]),
        # Python's float division by zero, RMS of an empty parameter
        ([np.ones((0,)), np.ones(2)], [np.ones((0,)), np.ones(2)]),
        ([np.ones((2, 0))], [np.ones((2, 0))]),
    ],
    ids=["complex", "sparse", "empty", "empty-2d"],
)
def test_step_errors_are_torchs(params, grads):
    assert_same_step_error("Adafactor", params, grads)


@pytest.mark.parametrize(
    "kwargs",
    [
        *invalid_kwargs(TABLE, {"eps": (None, 1e-3)}),
        {"eps": (None, float("nan"))},
        {"lr": float("nan")},
        {"beta2_decay": 0.0},  # the boundary is valid
        {"d": 1.0, "eps": (0.0, 0.0), "weight_decay": 0.0, "lr": 0.0},
    ],
    ids=str,
)
def test_invalid_arguments_raise_as_torch(kwargs):
    assert_same_error("Adafactor", kwargs)

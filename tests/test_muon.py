"""Muon: differential tests against torch (exact, with torch's bfloat16 cast removed, and as shipped, within
a bfloat16 bound), hand-derived checks of the Newton–Schulz iteration and the lr adjustment, and the error
catalogue."""

import inspect
from typing import Any

import numpy as np
import pytest
import torch.optim._muon as torch_muon
from differential import (
    assert_close,
    assert_same_error,
    assert_same_step_error,
    invalid_kwargs,
    normwise_rel_error,
    pairwise,
    random_grads,
    run_pair,
    standard_groups,
    torch,
)

from refimpl.optim import Muon, SparseGrad
from refimpl.optim.muon import DEFAULT_NS_COEFFICIENTS, TABLE, adjust_lr, zeropower_via_newtonschulz

# float64 against torch's float64 for-loop with its bfloat16 cast removed: the same operations in the same
# order (BLAS may sum the matrix products in another order), so the disagreement is a few ULPs, grown by
# the iteration's slope (|p'| <= a = 3.4 per NS step on small singular values): measured max 1.4e-15 over
# the configurations below (8 hash seeds). 1e-12 leaves two orders of magnitude and still fails any
# formula error (a wrong coefficient, transpose or momentum form shows up at 1e-3 and above).
RTOL = 1e-12

# torch as shipped runs the Newton-Schulz iteration in bfloat16 (unit roundoff u = 2^-8; torch.finfo's eps
# is the spacing 2^-7 = 2u). To first order each rounded quantity adds at most u relative error to X: the
# cast of the input and the normalisation (2), and per NS step the Gram matrix, the polynomial term and
# the new X (3 per step), so 2 + 3 * ns_steps = 17 roundings for the default 5 steps. For a
# well-conditioned input the singular values end where the quintic is flat (|p'| < 1 near 1), so those
# errors add without amplification: about 17u in norm. The test compares the max element relative to the
# max element of O_t (a max-norm, which can exceed the Frobenius-norm ratio by a small factor), and a
# singular value still on the steep part of p (slope up to a = 3.4) amplifies its share; the bound allows
# a factor of two over the first-order count: 32u = 2^-3. Measured worst over the configurations below
# (drawn under 8 hash seeds, as pairwise's draw varies with the seed): 22.8u, a 4x4 with eps = 10 (the
# clamp shrinks the input, so its smallest singular value ends at 0.59, on the steep part). A wider sweep
# of random matrices from 1x1 to 64x16 gave 3u to 19u; an ill-conditioned 8x8 (condition number ~600)
# reaches 40u, which is why the inputs here are random gradients of small, well-conditioned shapes.
BF16_U = 2.0**-8
BF16_RTOL = 32 * BF16_U

# 2-D only: wide, tall (transposed inside the iteration), one row, square, tall and thin
SHAPES = ((3, 5), (5, 3), (1, 6), (4, 4), (6, 2))

OPTIONS = {
    "lr": [0.02, 0.1],
    "weight_decay": [0.0, 0.1],
    "momentum": [0.95, 0.5, 0.0],
    "nesterov": [True, False],
    "ns_coefficients": [DEFAULT_NS_COEFFICIENTS, (1.5, -0.5, 0.0)],  # Keller's quintic; the classic cubic
    "eps": [1e-7, 10.0],  # 10 exceeds ||B~_t||_F on most steps: the clamp divides by eps instead
    "ns_steps": [5, 1],
    "adjust_lr_fn": [None, "original", "match_rms_adamw"],
}

CONFIGS = pairwise(OPTIONS)
CHANGES = {10: [(0, "lr", 0.01)], 15: [(1, "momentum", 0.8), (1, "adjust_lr_fn", "match_rms_adamw")]}
SECOND_GROUP = {"lr": 0.05, "weight_decay": 0.05}


def _torch_ns_without_bfloat16() -> Any:
    """torch's own ``_zeropower_via_newtonschulz``, from its source, with ``grad.bfloat16()`` made a copy."""
    source = inspect.getsource(torch_muon._zeropower_via_newtonschulz)
    assert source.count("grad.bfloat16()") == 1, "torch's Newton-Schulz changed; revisit this test"
    namespace = dict(vars(torch_muon))
    exec(source.replace("grad.bfloat16()", "grad.clone()"), namespace)
    return namespace["_zeropower_via_newtonschulz"]


def _run(config: dict) -> tuple[Any, Any]:
    groups = standard_groups(np.float64, shapes=SHAPES, **SECOND_GROUP)
    return run_pair("Muon", groups, config, random_grads(none_every=4), steps=20, changes=CHANGES)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_torch_in_float64(config, monkeypatch):
    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", _torch_ns_without_bfloat16())
    ref, tor = _run(config)
    assert_close(ref, tor, RTOL)


def _hyper_at(config: dict, group: int, t: int) -> dict:
    """The group's hyperparameters in force at step ``t`` (config, group overrides, CHANGES so far)."""
    hyper = {**config, **(SECOND_GROUP if group == 1 else {})}
    for s in sorted(CHANGES):
        if s <= t:
            hyper.update({k: v for g, k, v in CHANGES[s] if g == group})
    return hyper


def _orthogonalised_updates(traj: Any, config: dict) -> list[tuple[int, int, np.ndarray]]:
    """``(t, i, O_t)`` recovered from a trajectory: theta_t = theta_{t-1} (1 - lr wd) - AdjustLR * O_t.

    Each implementation's O_t is recovered from its own params, so trajectories that drift apart by
    bfloat16 rounding still compare step by step (the momentum buffers do not drift: they see the same
    gradients in float64). Recovery costs ~1e-16 / lr relative, far below bfloat16's 2^-8.
    """
    groups = [0] * (len(SHAPES) // 2 + 1) + [1] * (len(SHAPES) - len(SHAPES) // 2 - 1)
    start = standard_groups(np.float64, shapes=SHAPES)
    previous = [p for g in start for p in g["params"]]
    grad = random_grads(none_every=4)
    out = []
    for t, params in enumerate(traj.params):
        for i, (before, after) in enumerate(zip(previous, params)):
            if grad(t, i, before) is None:
                continue
            h = _hyper_at(config, groups[i], t)
            step = adjust_lr(h["lr"], h["adjust_lr_fn"], before.shape)
            out.append((t, i, (before * (1 - h["lr"] * h["weight_decay"]) - after) / step))
        previous = params
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_torch_in_bfloat16_within_its_rounding(config):
    ref, tor = _run(config)
    # everything outside the iteration is float64 in both: the momentum buffers agree to float64 rounding
    for i, state in tor.state.items():
        err = normwise_rel_error(ref.state[i]["momentum_buffer"], state["momentum_buffer"])
        assert err <= RTOL, f"param {i} momentum_buffer: rel error {err:.3g}"
    for (t, i, o_ref), (_, _, o_tor) in zip(
        _orthogonalised_updates(ref, config), _orthogonalised_updates(tor, config)
    ):
        err = normwise_rel_error(o_ref, o_tor)
        assert err <= BF16_RTOL, f"param {i} step {t + 1}: O_t rel error {err / BF16_U:.1f}u > 32u"


def test_param_group_keys_are_torchs():
    keys = list(torch.optim.Muon([torch.zeros(2, 2)]).param_groups[0])
    assert list(Muon([np.zeros((2, 2))]).param_groups[0]) == keys


def _quintic_power(x: np.ndarray, coefficients: tuple[float, float, float], steps: int) -> np.ndarray:
    a, b, c = coefficients
    for _ in range(steps):
        x = a * x + b * x**3 + c * x**5
    return x


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (6, 6), (1, 4), (8, 2)])
@pytest.mark.parametrize(
    "coefficients", [DEFAULT_NS_COEFFICIENTS, (1.5, -0.5, 0.0)], ids=["quintic", "cubic"]
)
def test_newton_schulz_acts_on_singular_values_by_the_scalar_polynomial(shape, coefficients):
    # X -> a X + b (X X^T) X + c (X X^T)^2 X maps U S V^T to U p(S) V^T with p(s) = a s + b s^3 + c s^5,
    # so k steps from G / ||G||_F give U p^k(S / ||G||_F) V^T: derived from the SVD, not the iteration.
    G = np.random.default_rng(sum(shape)).standard_normal(shape)
    U, S, Vt = np.linalg.svd(G, full_matrices=False)
    expected = U @ np.diag(_quintic_power(S / np.linalg.norm(G), coefficients, 5)) @ Vt
    O = zeropower_via_newtonschulz(G, coefficients, 5, 1e-7)  # noqa: E741
    # SVD and 5 steps of a polynomial of slope <= 3.4: a few hundred ULPs of an O(1) result
    np.testing.assert_allclose(O, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (16, 16), (4, 32), (1, 7)])
def test_newton_schulz_output_is_nearly_orthogonal(shape):
    # Keller Jordan's quintic does not converge to 1 but, in 5 steps, maps every normalised singular value
    # x = s / ||G||_F in [1/100, 1] into a band around 1 (his write-up: roughly (0.5, 1.5)). The band is
    # derived here from the scalar polynomial alone, p^5 on a fine grid of [1/100, 1]: [0.682, 1.134]. The
    # grid's extremes miss the true ones by far less than 1e-9 (p^5 is smooth, step 5e-6), hence that slack.
    # The input has prescribed singular values in [1, 3], so x >= 1 / (3 sqrt(16)) > 1/100 (checked).
    rng = np.random.default_rng(7)
    k = min(shape)
    Q1 = np.linalg.qr(rng.standard_normal((shape[0], k)))[0]
    Q2 = np.linalg.qr(rng.standard_normal((shape[1], k)))[0]
    G = Q1 @ np.diag(rng.uniform(1, 3, k)) @ Q2.T
    assert np.linalg.svd(G, compute_uv=False).min() >= np.linalg.norm(G) / 100
    band = _quintic_power(np.linspace(1 / 100, 1, 200_001), DEFAULT_NS_COEFFICIENTS, 5)
    assert band.min() > 0.5 and band.max() < 1.5
    S = np.linalg.svd(zeropower_via_newtonschulz(G, DEFAULT_NS_COEFFICIENTS, 5, 1e-7), compute_uv=False)
    assert S.min() >= band.min() - 1e-9 and S.max() <= band.max() + 1e-9


def test_newton_schulz_eps_clamps_the_normalisation():
    # ||G||_F = 0.5 < eps = 2: X_0 = G / 2, and zero steps return it as it is; the zero matrix stays zero.
    G = np.array([[0.3, 0.4]])
    np.testing.assert_array_equal(zeropower_via_newtonschulz(G, DEFAULT_NS_COEFFICIENTS, 0, 2.0), G / 2.0)
    np.testing.assert_array_equal(zeropower_via_newtonschulz(np.zeros((2, 3)), (1, 1, 1), 5, 1e-7), 0.0)


@pytest.mark.parametrize(
    "fn, shape, ratio",
    [
        (None, (8, 2), 2.0),  # sqrt(max(1, 8 / 2))
        ("original", (8, 2), 2.0),
        ("original", (2, 8), 1.0),  # sqrt(max(1, 1 / 4))
        ("match_rms_adamw", (8, 2), 0.2 * 8**0.5),  # 0.2 sqrt(max(8, 2))
        ("match_rms_adamw", (2, 8), 0.2 * 8**0.5),
        ("something else", (8, 2), 1.0),  # torch's fall-through for a group changed after construction
    ],
)
def test_adjusted_lr_by_hand(fn, shape, ratio):
    assert adjust_lr(0.1, fn, shape) == pytest.approx(0.1 * ratio, rel=1e-15)
    # end to end: momentum 0 and no NS steps make O_1 = g / ||g||_F, so
    # theta_1 = theta_0 (1 - lr wd) - lr * ratio * g / ||g||_F
    theta, g = np.ones(shape), np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    opt = Muon([theta], lr=0.1, weight_decay=0.5, momentum=0.0, ns_steps=0)
    opt.param_groups[0]["adjust_lr_fn"] = fn
    opt.step([g])
    np.testing.assert_allclose(theta, 0.95 - 0.1 * ratio * g / np.linalg.norm(g), rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_is_an_exponential_average_as_in_torchs_code(nesterov):
    # torch's code (not its docs' box): B_t = mu B_{t-1} + (1 - mu) g_t, Nesterov input
    # (1 - mu) g_t + mu B_t. With no NS steps O_t is that input over its Frobenius norm.
    mu, lr = 0.5, 0.1
    g1, g2 = np.array([[1.0, 0.0, 2.0]]), np.array([[0.0, 3.0, -1.0]])
    theta = np.zeros((1, 3))
    opt = Muon([theta], lr=lr, weight_decay=0.0, momentum=mu, nesterov=nesterov, ns_steps=0)
    opt.step([g1])
    opt.step([g2])
    B1 = (1 - mu) * g1
    B2 = mu * B1 + (1 - mu) * g2
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], B2, rtol=1e-15)
    inputs = [(1 - mu) * g1 + mu * B1, (1 - mu) * g2 + mu * B2] if nesterov else [B1, B2]
    expected = -lr * sum(x / np.linalg.norm(x) for x in inputs)  # (1, 3): AdjustLR ratio 1
    np.testing.assert_allclose(theta, expected, rtol=1e-14)


def test_none_gradient_neither_moves_nor_creates_state():
    a, b = np.ones((2, 3)), np.ones((2, 2))
    opt = Muon([a, b])
    opt.step([np.ones((2, 3)), None])
    np.testing.assert_array_equal(b, 1.0)
    assert list(opt.state) == [0]


@pytest.mark.parametrize(
    "params, grads, extra, hyper",
    [
        (
            [np.ones((2, 2)), np.ones((2, 2), dtype=np.complex128)],
            [np.ones((2, 2)), np.ones((2, 2), complex)],
            [],
            {},
        ),
        (
            [np.ones((2, 2)), np.ones((3, 2))],
            [np.ones((2, 2)), SparseGrad(np.array([1]), np.ones((1, 2)), (3, 2))],
            [],
            {},
        ),
        ([np.ones((2, 2))], [np.ones((2, 2)), np.ones(3)], [np.ones(3)], {}),
        ([np.ones((2, 2))], [np.ones((2, 2))], [], {"ns_steps": 100}),
        ([np.ones((2, 2))], [np.ones((2, 2))], [], {"ns_coefficients": (1.0, 2.0)}),
        ([np.ones((3, 0))], [np.ones((3, 0))], [], {}),  # AdjustLR divides by zero columns
    ],
    ids=["complex", "sparse", "1-d-added-later", "ns-steps", "coefficients", "zero-columns"],
)
def test_step_errors_are_torchs(params, grads, extra, hyper):
    # ``extra`` params are added with add_param_group, which torch's Muon does not check for 2-D
    assert_same_step_error("Muon", params, grads, hyper, extra)


@pytest.mark.parametrize(
    "kwargs",
    [
        *invalid_kwargs(TABLE, {}),
        {"adjust_lr_fn": "Original"},
        {"adjust_lr_fn": "match_rms_adamw"},
        {"lr": float("nan")},
        {"momentum": 1.5, "eps": -1.0, "ns_steps": 1000},  # not checked by torch at construction
    ],
    ids=str,
)
def test_invalid_arguments_raise_as_torch(kwargs):
    assert_same_error("Muon", kwargs)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4), (1, 1, 1)])
def test_non_matrix_params_raise_as_torch(shape):
    assert_same_error("Muon", {}, [np.zeros((2, 2)), np.zeros(shape)])

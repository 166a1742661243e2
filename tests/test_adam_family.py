"""Adam, AdamW, Adamax, NAdam, RAdam: differential tests against torch, hand-derived checks, error catalogue.

The five share their structure (moments, bias corrections, weight decay, sparse/fused errors), so the
differential and error tests are parametrized over the optimizer's name; ``-k NAdam`` selects one. The
hand-derived checks, below them, are per optimizer and use no torch.
"""

import math

import numpy as np
import pytest
from differential import (
    assert_close,
    assert_same_error,
    invalid_kwargs,
    pairwise,
    raised,
    random_grads,
    run_pair,
    standard_groups,
    to_torch_grad,
    torch,
)

import refimpl.optim as ref
from refimpl.optim import Adam, Adamax, AdamW, NAdam, RAdam, SparseGrad, adam, adamax, adamw, nadam, radam

# float64 against torch's float64 for-loop: the same operations in the same order (torch's kernels fuse
# some multiply-adds, so a few ULPs differ per step); measured max disagreement is ~1e-15 after 25 steps.
# 1e-12 leaves three orders of magnitude for growth and still fails any real formula error (those show up
# at 1e-3 and above; even NAdam's float32 rounding of ``mu_product``, if left out, shows up at 1e-9).
RTOL = 1e-12

BETAS = [(0.9, 0.999), (0.5, 0.9), (0.0, 0.5)]  # default; fast averages; no momentum
EPS = [1e-8, 10.0]  # tiny against N(0, 1) gradients; larger than them (eps dominates the denominator)
COMMON = {"maximize": [False, True], "weight_decay": [0.0, 0.1], "betas": BETAS, "eps": EPS}
OPTIONS = {
    "Adam": {**COMMON, "amsgrad": [False, True], "decoupled_weight_decay": [False, True]},
    "AdamW": {**COMMON, "amsgrad": [False, True], "weight_decay": [0.0, 0.01, 0.1]},
    "Adamax": COMMON,
    "NAdam": {**COMMON, "decoupled_weight_decay": [False, True], "momentum_decay": [4e-3, 0.0, 0.5]},
    # beta2 = 0.999 and 0.9 cross rho_t = 5 at the 6th step; beta2 = 0.5 never does (rho_inf = 3).
    "RAdam": {
        **COMMON,
        "decoupled_weight_decay": [False, True],
        "betas": [(0.9, 0.999), (0.5, 0.9), (0.9, 0.5)],
    },
}
# The second param group's own hyperparameters (the "different lr per layer" recipe).
SECOND_GROUP = {"lr": 0.05, "betas": (0.8, 0.99)}
TABLES = {
    "Adam": adam.TABLE,
    "AdamW": adamw.TABLE,
    "Adamax": adamax.TABLE,
    "NAdam": nadam.TABLE,
    "RAdam": radam.TABLE,
}
CASES = [(name, config) for name, options in OPTIONS.items() for config in pairwise(options)]


def _id(case: object) -> str:
    if isinstance(case, str):
        return case
    return "-".join(f"{k}={v}" for k, v in case.items())


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize(("name", "config"), CASES, ids=_id)
def test_matches_torch(name, config, dtype):
    # 25 steps with a None gradient every third (param, step): every param takes 16+ steps, so RAdam
    # crosses its rho_t > 5 threshold everywhere. lr changes for group 0 and betas for group 1 mid-run.
    ref_traj, torch_traj = run_pair(
        name,
        standard_groups(dtype, **SECOND_GROUP),
        {"lr": 0.1, **config},
        random_grads(none_every=3),
        steps=25,
        changes={10: [(0, "lr", 0.02)], 15: [(1, "betas", (0.7, 0.95))]},
    )
    assert_close(ref_traj, torch_traj, RTOL)
    # param_groups: same keys in the same order, same values (AdamW's decoupled_weight_decay=True included)
    for ref_group, torch_group in zip(ref_traj.param_groups, torch_traj.param_groups):
        assert list(ref_group.items()) == list(torch_group.items())


@pytest.mark.parametrize("name", list(OPTIONS))
def test_defaults_and_group_keys_match_torch(name):
    p = np.zeros(3)
    ref_group = getattr(ref, name)([p]).param_groups[0]
    torch_group = getattr(torch.optim, name)([torch.from_numpy(p)]).param_groups[0]
    assert list(ref_group) == list(torch_group)
    assert {k: v for k, v in ref_group.items() if k != "params"} == {
        k: v for k, v in torch_group.items() if k != "params"
    }


def _step_error(name: str, groups: list[list[np.ndarray]], grads: list, **kwargs) -> tuple:
    """The error (type, message) of one step in refimpl and in torch, and the params after it."""
    ref_params = [[p.copy() for p in g] for g in groups]
    ref_opt = getattr(ref, name)([{"params": g} for g in ref_params], **kwargs)
    torch_params = [[torch.from_numpy(p.copy()).requires_grad_(True) for p in g] for g in groups]
    torch_opt = getattr(torch.optim, name)([{"params": g} for g in torch_params], **kwargs)
    for p, grad in zip([p for g in torch_params for p in g], grads):
        p.grad = None if grad is None else to_torch_grad(grad)
    ref_error, torch_error = raised(lambda: ref_opt.step(grads)), raised(torch_opt.step)
    after = [p.copy() for g in ref_params for p in g], [p.detach().numpy() for g in torch_params for p in g]
    return ref_error, torch_error, after


@pytest.mark.parametrize("name", list(OPTIONS))
def test_sparse_gradients_raise_as_torch_after_earlier_groups_stepped(name):
    # Group 0 has a dense gradient and is updated; group 1's sparse gradient then raises before any of
    # group 1 moves, its dense parameter (listed first) included.
    groups = [[np.ones(3)], [np.ones(2), np.ones((4, 2))]]
    sparse = SparseGrad(np.array([1, 3]), np.ones((2, 2)), (4, 2))
    ref_error, torch_error, (ref_after, torch_after) = _step_error(
        name, groups, [np.ones(3), np.ones(2), sparse]
    )
    assert ref_error == torch_error and ref_error is not None and ref_error[0] is RuntimeError
    for a, e in zip(ref_after, torch_after):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=0)
    assert not np.array_equal(ref_after[0], groups[0][0])  # the first group did move
    np.testing.assert_array_equal(ref_after[1], groups[1][0])  # the second did not


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_fused_rejects_complex_params_at_step_as_torch(name):
    groups = [[np.ones(2, dtype=np.complex128)]]
    ref_error, torch_error, _ = _step_error(name, groups, [np.ones(2, dtype=np.complex128)], fused=True)
    assert ref_error == torch_error and ref_error is not None


def _invalid_cases() -> list[tuple[str, dict]]:
    cases = [
        (name, kw) for name, table in TABLES.items() for kw in invalid_kwargs(table, {"betas": (0.9, 0.999)})
    ]
    for name in ("Adam", "AdamW"):
        cases += [
            (name, {"betas": (0, 0.999)}),  # an int beta: "betas must be either both floats or both Tensors"
            (name, {"betas": (0.9, 1)}),  # ... but the range check comes first
            (name, {"fused": True, "foreach": True}),
            (name, {"fused": True, "differentiable": True}),
            (name, {"lr": -1.0, "fused": True, "foreach": True}),  # table checks before flag checks
        ]
    cases.append(("Adamax", {"betas": (0, 0.999)}))  # Adamax has no type check: accepted by both
    cases += [(name, {"lr": float("nan")}) for name in OPTIONS]
    return cases


@pytest.mark.parametrize(("name", "kwargs"), _invalid_cases(), ids=str)
def test_invalid_arguments_raise_as_torch(name, kwargs):
    assert_same_error(name, kwargs)


def test_adamw_load_state_dict_keeps_decoupled_weight_decay():
    # torch's AdamW.__setstate__ (called by load_state_dict) forces decoupled_weight_decay back to True.
    for module in (ref, torch.optim):
        p = np.zeros(2) if module is ref else torch.zeros(2)
        opt = module.AdamW([p])
        saved = opt.state_dict()
        saved["param_groups"][0]["decoupled_weight_decay"] = False
        del saved["param_groups"][0]["amsgrad"]  # an old state dict: filled in with the default
        opt.load_state_dict(saved)
        assert opt.param_groups[0]["decoupled_weight_decay"] is True
        assert opt.param_groups[0]["amsgrad"] is False


# -- hand-derived checks (no torch) -----------------------------------------------------------------------

G = np.array([3.0, -0.5, 1e-3, -200.0])
# A handful of roundings of O(1) values: a few ULPs.
HAND_RTOL = 1e-15


def test_adam_first_step_is_lr_times_sign_of_gradient():
    # m_1 = (1 - b1) g, v_1 = (1 - b2) g^2: the bias corrections undo the (1 - b) factors, so
    # theta_1 = theta_0 - lr * g / (|g| + eps); with eps = 0 exactly lr * sign(g), whatever the betas.
    for betas in [(0.9, 0.999), (0.3, 0.7)]:
        theta = np.zeros(4)
        Adam([theta], lr=0.1, betas=betas, eps=0.0).step([G])
        np.testing.assert_allclose(theta, -0.1 * np.sign(G), rtol=HAND_RTOL, atol=0)
    theta = np.zeros(4)
    Adam([theta], lr=0.1, eps=1e-3).step([G])
    np.testing.assert_allclose(theta, -0.1 * G / (np.abs(G) + 1e-3), rtol=HAND_RTOL, atol=0)


def test_adam_weight_decay_coupled_vs_decoupled():
    theta0, lr, wd = np.array([2.0, -1.0, 0.5]), 0.1, 0.5
    g = np.array([0.1, 0.1, -2.0])
    # coupled: the first step's direction is sign(g + wd * theta)
    theta = theta0.copy()
    Adam([theta], lr=lr, eps=0.0, weight_decay=wd).step([g])
    np.testing.assert_allclose(theta, theta0 - lr * np.sign(g + wd * theta0), rtol=HAND_RTOL)
    # decoupled (AdamW, and Adam with decoupled_weight_decay=True): theta shrinks by (1 - lr wd) first
    for make in (
        lambda p: AdamW(p, lr=lr, eps=0.0, weight_decay=wd),
        lambda p: Adam(p, lr=lr, eps=0.0, weight_decay=wd, decoupled_weight_decay=True),
    ):
        theta = theta0.copy()
        make([theta]).step([g])
        np.testing.assert_allclose(theta, theta0 * (1 - lr * wd) - lr * np.sign(g), rtol=HAND_RTOL)


def test_amsgrad_keeps_the_max_of_the_uncorrected_second_moment():
    # One large gradient, then small ones: v_t decays but v_t^max stays v_1, and every later step divides
    # by sqrt(v_1 / (1 - b2^t)). Recomputed here with scalars in the docs' form (m_hat / sqrt(v_hat)).
    b1, b2, lr = 0.9, 0.99, 0.1
    grads = [10.0, 0.1, 0.1, 0.1, 0.1]
    theta = np.zeros(1)
    opt = Adam([theta], lr=lr, betas=(b1, b2), eps=0.0, amsgrad=True)
    m = v = v_max = x = 0.0
    for t, g in enumerate(grads, start=1):
        opt.step([np.array([g])])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)
        x -= lr * (m / (1 - b1**t)) / math.sqrt(v_max / (1 - b2**t))
    assert v_max == (1 - b2) * 100.0 and v < v_max
    state = opt.state[0]
    np.testing.assert_allclose(state["max_exp_avg_sq"], [v_max], rtol=HAND_RTOL)
    np.testing.assert_allclose(state["exp_avg_sq"], [v], rtol=1e-14)  # 5 recursions of a few ULPs each
    np.testing.assert_allclose(theta, [x], rtol=1e-14)


def test_adamax_first_steps():
    b1, b2, lr, eps = 0.9, 0.5, 0.2, 1e-4
    theta = np.zeros(4)
    opt = Adamax([theta], lr=lr, betas=(b1, b2), eps=eps)
    opt.step([G])
    # u_1 = max(0, |g| + eps); m_1 = (1 - b1) g; theta_1 = -lr / (1 - b1) * m_1 / u_1 = -lr g / (|g| + eps)
    np.testing.assert_allclose(theta, -lr * G / (np.abs(G) + eps), rtol=HAND_RTOL)
    # u_2 = max(b2 u_1, |g_2| + eps) element-wise. u_1 = [3.0001, 0.5001, 0.0011, 200.0001], so b2 u_1 =
    # [1.50005, 0.25005, 0.00055, 100.00005]: the new |g_2| + eps wins in elements 0 and 2 only.
    opt.step([np.array([10.0, -0.1, 0.01, 1.0])])
    u1 = np.abs(G) + eps
    expected_u2 = np.array([10.0 + eps, b2 * u1[1], 0.01 + eps, b2 * u1[3]])
    np.testing.assert_allclose(opt.state[0]["exp_inf"], expected_u2, rtol=HAND_RTOL)


def test_nadam_mu_schedule_and_float32_mu_product():
    # mu_t = beta1 (1 - 0.5 * 0.96^(t psi)); with the defaults beta1 = 0.9, psi = 0.004:
    b1, psi = 0.9, 0.004
    mu = [b1 * (1 - 0.5 * math.exp(t * psi * math.log(0.96))) for t in (1, 2, 3)]
    assert mu[0] == pytest.approx(0.45007348, abs=1e-8)  # 0.9 * (1 - 0.5 * 0.99983672...)
    theta = np.zeros(2)
    opt = NAdam([theta])
    product = 1.0
    for t in range(3):
        opt.step([np.ones(2)])
        product *= mu[t]
        # kept as float32 (as torch does): equal to the exact product within float32's 2^-24 per step
        assert opt.state[0]["mu_product"] == pytest.approx(product, rel=3 * 2.0**-24)
        assert opt.state[0]["mu_product"] == float(np.float32(opt.state[0]["mu_product"]))


def test_nadam_first_step_with_constant_mu():
    # beta1 = 0.5, psi = 0: mu_t = 0.5 * (1 - 0.5) = 0.25 for all t (exact in float32). After one step
    # m_1 = 0.5 g, denom = |g| (eps = 0, bias-corrected v_1 = g^2), mu_product = 0.25, next 0.0625:
    # theta_1 = -lr [(1 - 0.25)/(1 - 0.25) g + 0.25/(1 - 0.0625) 0.5 g] / |g| = -lr sign(g) (1 + 2/15)
    theta = np.zeros(4)
    NAdam([theta], lr=0.3, betas=(0.5, 0.9), eps=0.0, momentum_decay=0.0).step([G])
    np.testing.assert_allclose(theta, -0.3 * np.sign(G) * 17 / 15, rtol=HAND_RTOL)


def test_radam_warmup_is_momentum_sgd_then_rectified():
    b1, b2, lr = 0.9, 0.999, 0.01
    rho_inf = 2 / (1 - b2) - 1
    rho = [rho_inf - 2 * t * b2**t / (1 - b2**t) for t in range(1, 8)]
    assert max(rho[:5]) <= 5 < rho[5]  # steps 1..5 un-adapted, 6 on rectified
    g = np.array([2.0, -0.25])  # constant gradient: the bias-corrected m_hat is g itself at every step
    theta = np.zeros(2)
    opt = RAdam([theta], lr=lr, betas=(b1, b2), eps=0.0)
    for t in range(1, 6):
        opt.step([g])
        np.testing.assert_allclose(theta, -t * lr * g, rtol=1e-14)  # t additions of lr * g
    opt.step([g])
    # step 6: v_6 = (1 - b2^6) g^2, so l_6 = sqrt(1 - b2^6) / sqrt(v_6) = 1 / |g|; r_6 from rho_6
    r6 = math.sqrt((rho[5] - 4) * (rho[5] - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho[5]))
    assert 0 < r6 < 0.1  # a heavily damped first adaptive step: the point of the rectification
    np.testing.assert_allclose(theta, -5 * lr * g - lr * np.sign(g) * r6, rtol=1e-14)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_none_gradient_neither_moves_nor_creates_state(name):
    a, b = np.ones(2), np.ones(2)
    opt = getattr(ref, name)([a, b], weight_decay=0.1)
    opt.step([np.ones(2), None])
    np.testing.assert_array_equal(b, [1.0, 1.0])
    assert list(opt.state) == [0]

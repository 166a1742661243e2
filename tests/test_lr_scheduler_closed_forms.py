"""LR schedulers against their documented closed forms and hand-derived sequences, without torch.

Each expected value below comes from the formula in torch's docs (or a hand derivation written out in the
test), evaluated vectorised with NumPy, never from the code under test. The recursive forms that ``step()``
follows round once per step, so tolerances are stated as "n roundings of an O(1) ratio".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import refimpl.lr_scheduler as L
from refimpl.optim import SGD

BASE = np.array([0.1, 0.02])  # two groups, different base lrs
T = np.arange(0, 201)  # epochs 0..200: construction, then 200 steps
EPS = np.finfo(float).eps


def _optimizer(lrs: np.ndarray = BASE) -> SGD:
    return SGD([{"params": [np.zeros(1)], "lr": float(lr)} for lr in lrs], momentum=0.9)


def _lrs(
    build: Callable[[SGD], Any], steps: int = 200, changes: dict[int, float] | None = None
) -> np.ndarray:
    """``lrs[t, i]``: group i's lr after construction (t = 0) and after step t; ``changes[t]`` sets both
    groups' lr to that value before step t."""
    opt = _optimizer()
    schedulers = build(opt)
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    out = [[g["lr"] for g in opt.param_groups]]
    for t in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = (changes or {}).get(t, g["lr"])
        opt.step([np.zeros(1), np.zeros(1)])
        for s in schedulers:
            s.step()
        out.append([g["lr"] for g in opt.param_groups])
    return np.array(out)


def _rtol(n_roundings: int) -> float:
    """Relative error bound after ``n`` roundings of products of O(1) factors (a few ulps each)."""
    return 4 * n_roundings * EPS


def test_lambda_lr_is_base_times_lambda() -> None:
    # Closed form, no recursion: one product per value, so exactly base * lambda(t) (same single rounding).
    got = _lrs(lambda o: L.LambdaLR(o, lambda e: 0.5 + 0.25 * math.sin(e)))
    np.testing.assert_array_equal(got, BASE * (0.5 + 0.25 * np.sin(T))[:, None])


def test_multiplicative_lr_is_a_running_product_without_lambda_0() -> None:
    # eta_t = eta_0 * prod_{k=1..t} lambda(k): lambda(0) is never applied.
    got = _lrs(lambda o: L.MultiplicativeLR(o, lambda e: 1.0 - 0.001 * e))
    factors = np.concatenate([[1.0], 1.0 - 0.001 * T[1:]])
    np.testing.assert_allclose(got, BASE * np.cumprod(factors)[:, None], rtol=_rtol(200))


def test_step_lr_closed_form() -> None:
    got = _lrs(lambda o: L.StepLR(o, step_size=7, gamma=0.5))
    # gamma = 0.5: every product is exact, so the recursion equals the closed form bit for bit.
    np.testing.assert_array_equal(got, BASE * 0.5 ** (T // 7)[:, None])


def test_multi_step_lr_repeated_milestones_decay_by_gamma_to_the_count() -> None:
    got = _lrs(lambda o: L.MultiStepLR(o, [30, 10, 30, 80], gamma=0.1))
    count = (T >= 10).astype(int) + 2 * (T >= 30) + (T >= 80)  # milestones passed, with repeats
    np.testing.assert_allclose(got, BASE * 0.1 ** count[:, None], rtol=_rtol(4))  # one rounding per decay


def test_constant_lr_closed_form() -> None:
    got = _lrs(lambda o: L.ConstantLR(o, factor=0.25, total_iters=6))
    # 0.25 and 1 / 0.25 are powers of two: exact.
    np.testing.assert_array_equal(got, BASE * np.where(T < 6, 0.25, 1.0)[:, None])


def test_constant_lr_total_iters_0_never_restores() -> None:
    # Recursive form: the factor applied at t = 0 is never undone (t == T is never reached again).
    got = _lrs(lambda o: L.ConstantLR(o, factor=0.5, total_iters=0), steps=10)
    np.testing.assert_array_equal(got, np.broadcast_to(BASE * 0.5, got.shape))


def test_linear_lr_closed_form() -> None:
    s, e, total = 0.2, 0.9, 50
    got = _lrs(lambda o: L.LinearLR(o, start_factor=s, end_factor=e, total_iters=total))
    factor = s + (e - s) * np.minimum(T, total) / total
    np.testing.assert_allclose(got, BASE * factor[:, None], rtol=_rtol(total))  # one rounding per ratio


def test_linear_lr_empty_window_is_end_factor() -> None:
    # total_iters = 0: the window is empty, so the schedule is at end_factor from epoch 0 (the intended
    # behaviour, pytorch/pytorch#193682; torch 2.13 stays at start_factor).
    got = _lrs(lambda o: L.LinearLR(o, start_factor=0.2, end_factor=0.6, total_iters=0), steps=10)
    np.testing.assert_array_equal(got, np.broadcast_to(BASE * 0.6, got.shape))  # one product, as computed


def test_exponential_lr_closed_form() -> None:
    got = _lrs(lambda o: L.ExponentialLR(o, gamma=0.97))
    np.testing.assert_allclose(got, BASE * 0.97 ** T[:, None], rtol=_rtol(200))


def test_polynomial_lr_closed_form_reaches_exactly_zero() -> None:
    total, power = 120, 2.0
    got = _lrs(lambda o: L.PolynomialLR(o, total_iters=total, power=power))
    expected = BASE * ((1.0 - np.minimum(T, total) / total) ** power)[:, None]
    # Each ratio ((1 - t/T) / (1 - (t-1)/T))**p costs a few roundings; the product runs over 120 of them.
    np.testing.assert_allclose(got[:total], expected[:total], rtol=_rtol(3 * total))
    assert (got[total:] == 0.0).all()  # 0 ** p at t = T, then unchanged


def _cosine(t: np.ndarray, t_max: int, eta_min: float, eta_max: np.ndarray) -> np.ndarray:
    """The docs' closed form eta_min + (eta_max - eta_min) (1 + cos(pi t / T_max)) / 2, per group."""
    return eta_min + (eta_max - eta_min) * (1 + np.cos(np.pi * t / t_max))[:, None] / 2


def test_cosine_annealing_follows_the_closed_form_including_after_t_max() -> None:
    # The recursion reproduces the closed form on [0, T_max], and past T_max (the additive step at
    # T_max + 1, then ratios again) it keeps following the same cosine, period 2 T_max, back up to eta_max.
    t_max, eta_min = 40, 0.001
    got = _lrs(lambda o: L.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min))
    # Errors are relative to the lr's scale (base_lr), not to the value: near T_max the value is eta_min
    # plus a tiny cosine term; ~200 steps of a few roundings each.
    np.testing.assert_allclose(got, _cosine(T, t_max, eta_min, BASE), rtol=0, atol=_rtol(600) * BASE.max())
    np.testing.assert_allclose(got[2 * t_max], BASE, rtol=_rtol(600))


def test_cosine_annealing_keeps_a_hand_set_lr() -> None:
    # Set lr = v before step k (k <= T_max): the recursion scales the distance to eta_min from then on,
    # eta_s = eta_min + (v - eta_min) (1 + cos(pi s / T)) / (1 + cos(pi (k - 1) / T)) for k <= s <= T.
    t_max, eta_min, k, v = 60, 0.001, 20, 0.05
    got = _lrs(lambda o: L.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min), steps=t_max, changes={k: v})
    s = np.arange(k, t_max + 1)
    expected = eta_min + (v - eta_min) * (1 + np.cos(np.pi * s / t_max)) / (
        1 + np.cos(np.pi * (k - 1) / t_max)
    )
    np.testing.assert_allclose(got[k:, 0], expected, rtol=0, atol=_rtol(3 * t_max) * v)  # as above
    np.testing.assert_allclose(got[k:, 1], expected, rtol=0, atol=_rtol(3 * t_max) * v)


def test_chained_scheduler_multiplies_the_factors() -> None:
    got = _lrs(lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.5, 10), L.ExponentialLR(o, 0.9)]))
    expected = BASE * (np.where(T < 10, 0.5, 1.0) * 0.9**T)[:, None]
    np.testing.assert_allclose(got, expected, rtol=_rtol(200))


def test_sequential_lr_warmup_then_exponential() -> None:
    # LinearLR from 0.1 to 1 over 10 epochs, then at epoch 10 ExponentialLR restarts from its closed form at
    # epoch 0 (= base_lr) and decays: eta_t = base * 0.95 ** (t - 10) for t >= 10.
    got = _lrs(
        lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=10), L.ExponentialLR(o, 0.95)], [10])
    )
    warm = 0.1 + 0.9 * np.minimum(T, 10) / 10
    expected = BASE * np.where(T < 10, warm, 0.95 ** np.maximum(T - 10, 0))[:, None]
    np.testing.assert_allclose(got, expected, rtol=_rtol(200))


def test_initial_lr_is_set_once_and_resuming_needs_it() -> None:
    opt = _optimizer()
    L.StepLR(opt, 3, 0.5)
    opt.param_groups[0]["lr"] = 0.7
    second = L.ExponentialLR(opt, 0.9)  # setdefault: the first scheduler's initial_lr stays
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE)
    assert second.base_lrs == list(BASE)
    fresh = _optimizer()
    try:
        L.StepLR(fresh, 3, last_epoch=5)
    except KeyError as e:
        assert "param 'initial_lr' is not specified in param_groups[0]" in str(e)
    else:
        raise AssertionError("resuming without initial_lr must raise KeyError")


class _Scale:
    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, epoch: int) -> float:
        return self.factor


def test_lambda_state_dict_keeps_objects_drops_functions() -> None:
    opt = _optimizer()
    s = L.LambdaLR(opt, [lambda e: 1.0, _Scale(0.5)])
    state = s.state_dict()
    assert state["lr_lambdas"] == [None, {"factor": 0.5}]
    assert "optimizer" not in state
    state["lr_lambdas"][1] = {"factor": 0.25}
    before = dict(state)
    s.load_state_dict(state)
    assert s.lr_lambdas[1].factor == 0.25  # type: ignore[attr-defined]
    assert state == before  # the caller's dict is left as it was (pytorch/pytorch#32756)

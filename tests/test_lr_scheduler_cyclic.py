"""CyclicLR, OneCycleLR, ReduceLROnPlateau, CosineAnnealingWarmRestarts against torch 2.13, by hand, errors.

Differential cases run 220 steps on two param groups of different lrs, on SGD (momentum) and Adam (betas),
save and reload both libraries' optimizer + scheduler mid-run, and compare every param group value
(lr, momentum/betas, and every key the schedulers write), ``get_last_lr()`` and the warnings after every
step (``scheduler_differential.assert_same_history``; its ``RTOL`` comment says where 1e-12 comes from).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from differential import raised
from scheduler_differential import (
    assert_same_history,
    assert_same_state_dict,
    make_optimizer,
    param_groups,
    run,
    run_pair,
)

import refimpl.lr_scheduler as ref_sched
import refimpl.optim as ref_optim

torch = pytest.importorskip("torch")

STEPS = 220
Build = Callable[[Any, Any], Any]


class HalvingScale:
    """A callable-object scale function: CyclicLR's state dict keeps its ``__dict__`` (not a lambda)."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, x: float) -> float:
        return self.base**x


CYCLIC: dict[str, Build] = {
    "cyclic-triangular": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=7),
    "cyclic-triangular-asym-lists": lambda L, o: L.CyclicLR(
        o, [0.01, 0.002], [0.1, 0.05], step_size_up=5, step_size_down=11, base_momentum=[0.8, 0.7]
    ),
    "cyclic-triangular2": lambda L, o: L.CyclicLR(
        o, 0.01, 0.1, step_size_up=6, step_size_down=3, mode="triangular2"
    ),
    "cyclic-exp_range": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=9, mode="exp_range", gamma=0.99),
    "cyclic-scale_fn-cycle": lambda L, o: L.CyclicLR(
        o, 0.01, 0.1, 8, scale_fn=lambda c: 1 / (1 + c), mode="bogus"
    ),
    "cyclic-scale_fn-iterations": lambda L, o: L.CyclicLR(
        o, 0.01, 0.1, 8, scale_fn=HalvingScale(0.995), scale_mode="iterations", max_momentum=[0.95, 0.99]
    ),
    "cyclic-no-momentum": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False),
    "cyclic-step-size-1": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=1),
}

ONE_CYCLE: dict[str, Build] = {
    "one-cycle-cos": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=STEPS),
    "one-cycle-linear-lists": lambda L, o: L.OneCycleLR(
        o,
        [0.1, 0.5],
        total_steps=STEPS,
        anneal_strategy="linear",
        base_momentum=[0.8, 0.85],
        max_momentum=0.97,
    ),
    "one-cycle-three-phase-cos": lambda L, o: L.OneCycleLR(
        o, 0.2, total_steps=STEPS, three_phase=True, pct_start=0.25
    ),
    "one-cycle-three-phase-linear-epochs": lambda L, o: L.OneCycleLR(
        o, 0.2, epochs=11, steps_per_epoch=20, three_phase=True, anneal_strategy="linear"
    ),
    "one-cycle-factors": lambda L, o: L.OneCycleLR(
        o, 1.0, total_steps=STEPS, div_factor=4.0, final_div_factor=100.0
    ),
    "one-cycle-no-momentum": lambda L, o: L.OneCycleLR(
        o, 0.1, total_steps=STEPS, cycle_momentum=False, pct_start=0.5
    ),
    "one-cycle-pct_start-0": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=STEPS, pct_start=0.0),
}

RESTARTS: dict[str, Build] = {
    "restarts-T_mult-1": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10),
    "restarts-T_mult-2-eta_min": lambda L, o: L.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001
    ),
    "restarts-T_mult-3": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3, eta_min=1e-4),
}


def _assert_pair(build: Build, **script: Any) -> float:
    ref, tor = run_pair(build, **script)
    worst = assert_same_history(ref, tor)
    assert_same_state_dict(ref.state_dict, tor.state_dict)
    return worst


# Adam matters only where the momentum (beta1) is cycled; the others run on SGD alone.
NO_BETAS = {"cyclic-no-momentum", "one-cycle-no-momentum", *RESTARTS}
MAIN_CASES = [
    (n, opt)
    for n in [*CYCLIC, *ONE_CYCLE, *RESTARTS]
    for opt in ("SGD", "Adam")
    if not (n in NO_BETAS and opt == "Adam")
]


@pytest.mark.parametrize("name,optimizer", MAIN_CASES)
def test_matches_torch(name, optimizer):
    build = {**CYCLIC, **ONE_CYCLE, **RESTARTS}[name]  # the prefixes keep the names distinct
    _assert_pair(build, steps=STEPS, optimizer=optimizer, reload_at=83)


def test_cyclic_lr_over_an_existing_initial_lr_matches_torch():
    # The constructor's first step uses the groups' existing initial_lr, later steps base_lr.
    build = CYCLIC["cyclic-triangular"]
    _assert_pair(build, steps=30, groups=param_groups((0.1, 0.02), initial_lr=[0.5, 0.3]))


def test_cyclic_lr_step_with_epoch_matches_torch():
    _assert_pair(CYCLIC["cyclic-triangular2"], steps=40, epochs={5: 50, 6: 2, 20: 100})


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_match_torch(T_mult):
    # scheduler.step(epoch + i / iters), the documented recipe, then jumps and interleaved plain steps.
    iters = 7
    epochs = {t: (t - 1) // iters + ((t - 1) % iters) / iters for t in range(1, 150)}
    epochs.update({150: 26, 151: 1.5, 160: 45.25, 170: 45.25})
    build = lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=T_mult, eta_min=0.001)  # noqa: E731
    _assert_pair(build, steps=STEPS, epochs=epochs, reload_at=100)


def test_warm_restarts_log_rounding_at_a_restart_as_torch():
    # math.log(243, 3) = 4.999999999999999: step(242) with T_0=2, T_mult=3 lands at the end of the 4th run
    # (T_cur = T_i = 162, lr = eta_min) instead of the start of the 5th (lr = initial lr). The reference
    # keeps torch's arithmetic (see the module docstring); 728 (log exactly 6.0) restarts as it should.
    build = lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.01)  # noqa: E731
    lrs = _ref_lrs(build, 3, lr=1.0, epochs={1: 80, 2: 242, 3: 728})
    assert list(lrs[1:]) == [1.0, 0.01, 1.0]
    _assert_pair(build, steps=3, epochs={1: 80, 2: 242, 3: 728})


def test_warm_restarts_resume_with_last_epoch_matches_torch():
    # pytorch/pytorch#88791: torch wraps T_cur once on resume; the reference reproduces it.
    build = lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, last_epoch=20)  # noqa: E731
    _assert_pair(build, steps=30, groups=param_groups((0.1, 0.02), initial_lr=[0.1, 0.02]))


# -- ReduceLROnPlateau ----------------------------------------------------------------------------------

# Metric sequences that exercise improvements, plateaus, noise around the threshold and sign changes.
_RNG = np.random.default_rng(7)
METRICS = {
    "decreasing-then-flat": [10.0 / (1 + t) if t < 40 else 0.25 for t in range(STEPS + 1)],
    "noisy": list(1.0 + 0.01 * np.cumsum(_RNG.standard_normal(STEPS + 1))),
    "near-threshold": [1.0 * (1 - 0.9e-4) ** t if t % 3 else 1.0 for t in range(STEPS + 1)],
    "negative": list(-1.0 - 0.001 * np.arange(STEPS + 1) + 0.05 * np.sin(np.arange(STEPS + 1))),
    "increasing": [math.log(2 + t) + 0.2 * (t % 9 == 0) for t in range(STEPS + 1)],
}
PLATEAU_OPTIONS = [
    {},
    {"mode": "max", "patience": 2, "factor": 0.5},
    {"threshold_mode": "abs", "threshold": 0.01, "patience": 0, "cooldown": 3, "min_lr": [0.001, 0.0005]},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.0, "patience": 3, "cooldown": 1, "min_lr": 1e-3},
    {"patience": 1, "factor": 0.9, "eps": 5e-3},
]


# Each option set meets two metric sequences (every sequence meets two option sets): 10 runs, not 25.
PLATEAU_CASES = [
    (m, o) for i, o in enumerate(PLATEAU_OPTIONS) for m in (list(METRICS)[i], list(METRICS)[i - 1])
]


@pytest.mark.parametrize("metrics,options", PLATEAU_CASES, ids=str)
def test_reduce_lr_on_plateau_matches_torch(metrics, options):
    sequence = METRICS[metrics]
    build = lambda L, o: L.ReduceLROnPlateau(o, **options)  # noqa: E731
    step_fn = lambda s, t: s.step(sequence[t])  # noqa: E731
    _assert_pair(build, steps=STEPS, step_fn=step_fn, reload_at=101, optimizer="Adam")


def test_reduce_lr_on_plateau_epoch_argument_matches_torch():
    build = lambda L, o: L.ReduceLROnPlateau(o, patience=1)  # noqa: E731
    _assert_pair(build, steps=20, step_fn=lambda s, t: s.step(1.0, 3 * t))


def _plateau_lrs(metrics: list[float], **options: Any) -> list[float]:
    """Group 0's lr after each ``step(metric)`` of a refimpl ReduceLROnPlateau (lr starts at 1)."""
    sequence = [None, *metrics]
    build = lambda L, o: L.ReduceLROnPlateau(o, **options)  # noqa: E731
    step_fn = lambda s, t: s.step(sequence[t])  # noqa: E731
    history = run(
        ref_optim, ref_sched, build, steps=len(metrics), groups=param_groups((1.0,)), step_fn=step_fn
    )
    return list(history.lrs[1:, 0])


def test_plateau_patience_by_hand():
    # patience 2: the 1st step sets best; steps 2, 3 are bad (count 1, 2); step 4 is the 3rd bad one
    # (count 3 > 2) and reduces; the count restarts, so the next reduction is 3 bad steps later.
    assert _plateau_lrs([5.0] * 8, patience=2, factor=0.5) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_cooldown_by_hand():
    # patience 0, cooldown 2: reduce at step 2; steps 3, 4 are in cooldown (bad epochs ignored); step 5
    # is bad again and reduces.
    assert _plateau_lrs([5.0] * 6, patience=0, cooldown=2, factor=0.5) == [1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_thresholds_by_hand():
    # rel, min: 0.9999 is not below 1 * (1 - 1e-3), so it does not count as an improvement; abs: 0.995
    # is not below 1 - 0.01. Both give a reduction on the second step with patience 0.
    assert _plateau_lrs([1.0, 0.9999], patience=0, threshold=1e-3) == [1, 0.1]
    assert _plateau_lrs([1.0, 0.995], patience=0, threshold=0.01, threshold_mode="abs") == [1, 0.1]
    assert _plateau_lrs([1.0, 0.98], patience=0, threshold=0.01, threshold_mode="abs") == [1, 1]
    assert _plateau_lrs([1.0, 1.002], patience=0, mode="max", threshold=1e-3) == [1, 1]


def test_plateau_min_lr_clamp_and_eps_by_hand():
    # factor 0.1 from 1 with min_lr 0.05: 0.1, then max(0.01, 0.05) = 0.05, then no further change.
    assert _plateau_lrs([1.0] * 4, patience=0, min_lr=0.05) == [1, 0.1, 0.05, 0.05]
    # eps 0.5: a reduction from 1 to 0.9 (by 0.1 < eps) is skipped, every time.
    assert _plateau_lrs([1.0] * 4, patience=0, factor=0.9, eps=0.5) == [1, 1, 1, 1]


def test_plateau_list_min_lr_with_a_new_group_raises_as_torch():
    def reduce_after_adding_a_group(L: Any, optim: Any) -> None:
        opt = make_optimizer(optim, "SGD", param_groups())
        sched = L.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
        as_param = torch.zeros(2) if optim is torch.optim else np.zeros(2)
        opt.add_param_group({"params": [as_param]})
        sched.step(1.0)
        sched.step(1.0)

    expected = raised(lambda: reduce_after_adding_a_group(torch.optim.lr_scheduler, torch.optim))
    assert raised(lambda: reduce_after_adding_a_group(ref_sched, ref_optim)) == expected
    assert expected is not None and expected[0] is RuntimeError


# -- closed forms by hand (no torch) ---------------------------------------------------------------------


def _ref_lrs(build: Build, steps: int, lr: float = 0.5, **script: Any) -> np.ndarray:
    return run(ref_optim, ref_sched, build, steps=steps, groups=param_groups((lr,)), **script).lrs[:, 0]


def test_triangular_by_hand():
    # base 0.1, max 1.0, 4 steps up, 4 down: 0.1 + 0.225 k up to 1.0 at step 4, back to 0.1 at 8.
    lrs = _ref_lrs(lambda L, o: L.CyclicLR(o, 0.1, 1.0, step_size_up=4), 16)
    up = [0.1, 0.325, 0.55, 0.775, 1.0, 0.775, 0.55, 0.325]
    np.testing.assert_allclose(lrs, up + up + [0.1], rtol=1e-15, atol=1e-16)  # one or two roundings each


def test_triangular2_halves_the_amplitude_by_hand():
    lrs = _ref_lrs(lambda L, o: L.CyclicLR(o, 0.1, 0.9, step_size_up=2, mode="triangular2"), 12)
    np.testing.assert_allclose(lrs[[2, 6, 10]], [0.9, 0.5, 0.3], rtol=1e-15)  # peaks 0.1 + 0.8 / 2^(c-1)


def test_cyclic_momentum_is_inverse_by_hand():
    build = lambda L, o: L.CyclicLR(o, 0.1, 1.0, step_size_up=2, base_momentum=0.8, max_momentum=0.9)  # noqa: E731
    groups = run(ref_optim, ref_sched, build, steps=4, groups=param_groups((0.5,))).groups
    np.testing.assert_allclose([g[0]["momentum"] for g in groups], [0.9, 0.85, 0.8, 0.85, 0.9], rtol=1e-15)


def test_one_cycle_endpoints_by_hand():
    # initial_lr = max_lr / div_factor at step 0, max_lr at step pct_start * T - 1, and
    # min_lr = initial_lr / final_div_factor at step T - 1 (cos(0) and cos(pi) are exact).
    T, max_lr = 100, 0.4

    def build(L: Any, o: Any) -> Any:
        return L.OneCycleLR(o, max_lr, total_steps=T, pct_start=0.3, div_factor=20.0, final_div_factor=50.0)

    lrs = _ref_lrs(build, T - 1)
    # end + (start - end) / 2 * 2: three roundings at the start of a phase; exact at its end (cos(pi) + 1 = 0)
    np.testing.assert_allclose(lrs[[0, 29]], [max_lr / 20.0, max_lr], rtol=4e-16 * 3)
    assert lrs[T - 1] == max_lr / 20.0 / 50.0


def test_warm_restarts_by_hand():
    # T_0 = 2, T_mult = 2: runs of 2, 4, 8 epochs starting at epochs 0, 2, 6, 14.
    lrs = _ref_lrs(lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), 20, lr=1.0)
    starts = [0, 2, 6, 14, 30]
    expected = []
    for e in range(21):
        i = max(k for k in range(4) if starts[k] <= e)
        expected.append((1 + math.cos(math.pi * (e - starts[i]) / (starts[i + 1] - starts[i]))) / 2)
    np.testing.assert_allclose(lrs, expected, rtol=1e-14, atol=1e-16)  # one cos + a few roundings each


# -- state dicts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        CYCLIC["cyclic-scale_fn-iterations"],
        CYCLIC["cyclic-exp_range"],
        ONE_CYCLE["one-cycle-three-phase-cos"],
        RESTARTS["restarts-T_mult-2-eta_min"],
    ],
)
def test_resume_equals_uninterrupted(build):
    resumed = run(ref_optim, ref_sched, build, steps=120, optimizer="Adam", reload_at=47)
    assert resumed.groups == run(ref_optim, ref_sched, build, steps=120, optimizer="Adam").groups


def test_cyclic_state_dict_keeps_only_callable_objects():
    opt = make_optimizer(ref_optim, "SGD", param_groups(), momentum=0.9)
    with_object = ref_sched.CyclicLR(opt, 0.01, 0.1, scale_fn=HalvingScale(0.5))
    state = with_object.state_dict()
    assert state["_scale_fn_custom"] == {"base": 0.5} and "_scale_fn_ref" not in state
    assert ref_sched.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0).state_dict()["_scale_fn_custom"] is None
    target = ref_sched.CyclicLR(opt, 0.01, 0.1, scale_fn=HalvingScale(0.9))
    target.load_state_dict(state)
    assert target._scale_fn_custom.base == 0.5


# -- errors ----------------------------------------------------------------------------------------------


def _same_error(build: Build, optimizer: str = "SGD", n_groups: int = 2) -> None:
    groups = param_groups((0.1, 0.02)[:n_groups])
    hyper = {"momentum": 0.9} if optimizer == "SGD" else {}
    expected = raised(
        lambda: build(torch.optim.lr_scheduler, make_optimizer(torch.optim, optimizer, groups, **hyper))
    )
    actual = raised(lambda: build(ref_sched, make_optimizer(ref_optim, optimizer, groups, **hyper)))
    assert actual == expected, f"refimpl raised {actual}, torch raised {expected}"
    assert expected is not None


ERRORS: dict[str, Build] = {
    "cyclic-mode": lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="triangle"),
    "cyclic-base_lr-length": lambda L, o: L.CyclicLR(o, [0.01], 0.1),
    "cyclic-max_lr-length": lambda L, o: L.CyclicLR(o, 0.01, [0.1, 0.2, 0.3]),
    "cyclic-momentum-length": lambda L, o: L.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8], max_momentum=[0.9]),
    "cyclic-not-an-optimizer": lambda L, o: L.CyclicLR(o.param_groups, 0.01, 0.1),
    "one-cycle-total_steps-0": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0),
    "one-cycle-total_steps-float": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10.0),
    "one-cycle-epochs": lambda L, o: L.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=5),
    "one-cycle-steps_per_epoch": lambda L, o: L.OneCycleLR(o, 0.1, epochs=3, steps_per_epoch=-5),
    "one-cycle-no-length": lambda L, o: L.OneCycleLR(o, 0.1, epochs=3),
    "one-cycle-pct_start-high": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
    "one-cycle-pct_start-int": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1),
    "one-cycle-anneal": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
    "one-cycle-max_lr-length": lambda L, o: L.OneCycleLR(o, [0.1], total_steps=10),
    "one-cycle-momentum-length": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, max_momentum=[0.9]),
    "one-cycle-zero-width-phase": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=2, pct_start=0.5),
    "one-cycle-zero-width-three-phase": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=1, pct_start=1.0),
    # steps 1..3 are allowed (step total_steps included), the 4th raises
    "one-cycle-past-the-end": lambda L, o: (lambda s: [s.step() for _ in range(4)])(
        L.OneCycleLR(o, 0.1, total_steps=3)
    ),
    "plateau-factor": lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
    "plateau-factor-before-optimizer": lambda L, o: L.ReduceLROnPlateau(None, factor=2.0),
    "plateau-not-an-optimizer": lambda L, o: L.ReduceLROnPlateau(None),
    "plateau-min_lr-length": lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]),
    "plateau-mode": lambda L, o: L.ReduceLROnPlateau(o, mode="minimum"),
    "plateau-threshold_mode": lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="relative"),
    "restarts-T_0": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0),
    "restarts-T_0-float": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.0),
    "restarts-T_mult": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    "restarts-T_mult-float": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
    "restarts-eta_min": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
    "restarts-negative-epoch": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
}


@pytest.mark.filterwarnings("ignore:Detected call of")  # no optimizer steps in these scripts
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name):
    _same_error(ERRORS[name])


@pytest.mark.parametrize("scheduler", ["CyclicLR", "OneCycleLR"])
def test_cycle_momentum_without_momentum_raises_as_torch(scheduler):
    # Adadelta has neither ``momentum`` nor ``betas``; with SGD(momentum=0) the key exists: no error.
    builds: dict[str, Build] = {
        "OneCycleLR": lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10),
        "CyclicLR": lambda L, o: L.CyclicLR(o, 0.01, 0.1),
    }
    _same_error(builds[scheduler], optimizer="Adadelta")

"""swa_utils: SWA/EMA averages and SWALR against torch, closed forms without torch, the error catalogue."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from differential import normwise_rel_error, raised
from scheduler_differential import RTOL, assert_same_history, param_groups, run

import refimpl.optim as ref_optim
import refimpl.swa_utils as ref_swa
from refimpl.optim import SGD

torch = pytest.importorskip("torch")
import torch.optim.swa_utils as torch_swa  # noqa: E402

# -- averaged models ------------------------------------------------------------------------------------


def _model() -> Any:
    """Linear -> BatchNorm -> Linear in float64: parameters and float *and* integer buffers."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()


def _perturb(model: Any, t: int) -> None:
    """The model's next training state: new params and buffers, reproducible per step.

    ``num_batches_tracked`` grows by 7 per step from 2**30 + 1, so averaging it gives non-integers that
    are truncated, and values that float32 (torch's arithmetic for integer buffers) cannot hold exactly.
    """
    rng = np.random.default_rng(t)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
        for name, b in model.named_buffers():
            if name.endswith("num_batches_tracked"):
                b.fill_(2**30 + 1 + 7 * t)
            else:
                b.copy_(torch.from_numpy(rng.random(tuple(b.shape)) + 0.5))


def _arrays(tensors: Any) -> list[np.ndarray]:
    return [t.detach().numpy().copy() for t in tensors]


# (name, refimpl keyword args, torch keyword args): every averaging path of update_parameters
AVERAGERS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("default-swa", {}, {}),
    ("ema-avg_fn", {"avg_fn": ref_swa.get_ema_avg_fn(0.9)}, {"avg_fn": torch_swa.get_ema_avg_fn(0.9)}),
    (
        "ema-multi",
        {"multi_avg_fn": ref_swa.get_ema_multi_avg_fn(0.7)},
        {"multi_avg_fn": torch_swa.get_ema_multi_avg_fn(0.7)},
    ),
    ("swa-avg_fn", {"avg_fn": ref_swa.get_swa_avg_fn()}, {"avg_fn": torch_swa.get_swa_avg_fn()}),
    (
        "swa-multi",
        {"multi_avg_fn": ref_swa.get_swa_multi_avg_fn()},
        {"multi_avg_fn": torch_swa.get_swa_multi_avg_fn()},
    ),
    (
        "custom-avg_fn",
        {"avg_fn": lambda a, c, n: 0.25 * a + 0.75 * c},
        {"avg_fn": lambda a, c, n: 0.25 * a + 0.75 * c},
    ),
]


def _run_averaged(
    ref_kwargs: dict[str, Any], torch_kwargs: dict[str, Any], use_buffers: bool, updates: int
) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """Params + buffers of both averaged models after every update, and their ``n_averaged``."""
    model = _model()
    torch_avg = torch_swa.AveragedModel(model, use_buffers=use_buffers, **torch_kwargs)
    ref_avg = ref_swa.AveragedModel(
        _arrays(model.parameters()), _arrays(model.buffers()), use_buffers=use_buffers, **ref_kwargs
    )
    ref_hist, torch_hist = [], []
    for t in range(1, updates + 1):
        _perturb(model, t)
        torch_avg.update_parameters(model)
        ref_avg.update_parameters(_arrays(model.parameters()), _arrays(model.buffers()))
        torch_hist.append([*_arrays(torch_avg.module.parameters()), *_arrays(torch_avg.module.buffers())])
        ref_hist.append([a.copy() for a in (*ref_avg.params, *ref_avg.buffers)])
        assert ref_avg.n_averaged == int(torch_avg.n_averaged) == t
    return ref_hist, torch_hist


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("name,ref_kwargs,torch_kwargs", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_averaged_model_matches_torch(name, ref_kwargs, torch_kwargs, use_buffers):
    if name == "swa-multi" and use_buffers:
        pytest.skip("torch rejects integer buffers there; see test_swa_multi_on_integer_buffers_raises")
    if name == "custom-avg_fn" and use_buffers:
        pytest.skip("a user avg_fn computes with its library's promotion rules (NumPy: int64 * float -> f64)")
    ref_hist, torch_hist = _run_averaged(ref_kwargs, torch_kwargs, use_buffers, updates=30)
    for t, (ref_arrays, torch_arrays) in enumerate(zip(ref_hist, torch_hist)):
        for i, (a, e) in enumerate(zip(ref_arrays, torch_arrays)):
            assert a.dtype == e.dtype, f"update {t + 1} array {i}: dtype {a.dtype} != {e.dtype}"
            if a.dtype.kind == "i":  # float32 arithmetic truncated to int64: must match exactly
                np.testing.assert_array_equal(a, e, err_msg=f"update {t + 1} array {i}")
                continue
            # Same operations in the same order on float64; the only difference is ATen's fused
            # multiply-add in lerp (one rounding, ~1e-16) compounding over 30 updates.
            err = normwise_rel_error(a, e)
            assert err <= RTOL, f"update {t + 1} array {i}: rel error {err:.3g}"


def test_integer_buffer_average_is_truncated_float32():
    # num_batches_tracked = 7, 14 with the default average: 7 + (14 - 7) / 2 = 10.5 -> 10 (truncated).
    avg = ref_swa.AveragedModel([np.zeros(1)], [np.array(0, dtype=np.int64)], use_buffers=True)
    for value in (7, 14):
        avg.update_parameters([np.zeros(1)], [np.array(value, dtype=np.int64)])
    assert avg.buffers[0].dtype == np.int64 and int(avg.buffers[0]) == 10


def test_swa_multi_on_integer_buffers_raises_as_torch():
    model = _model()
    torch_avg = torch_swa.AveragedModel(
        model, multi_avg_fn=torch_swa.get_swa_multi_avg_fn(), use_buffers=True
    )
    ref_avg = ref_swa.AveragedModel(
        _arrays(model.parameters()),
        _arrays(model.buffers()),
        multi_avg_fn=ref_swa.get_swa_multi_avg_fn(),
        use_buffers=True,
    )
    for _ in range(1):
        torch_avg.update_parameters(model)
        ref_avg.update_parameters(_arrays(model.parameters()), _arrays(model.buffers()))
    expected = raised(lambda: torch_avg.update_parameters(model))
    actual = raised(lambda: ref_avg.update_parameters(_arrays(model.parameters()), _arrays(model.buffers())))
    assert actual == expected and expected is not None


def test_swa_multi_weight_is_rounded_to_float32():
    # torch's 1 / (n_averaged + 1) with an int64 tensor n is float32: for n = 2 the weight is
    # float32(1/3) = 0.3333333432674408, not 1/3. Averaging 0 and 1 exposes the weight itself.
    avg = [np.zeros(3)]
    ref_swa.get_swa_multi_avg_fn()(avg, [np.ones(3)], 2)
    assert avg[0][0] == float(np.float32(1 / 3)) != 1 / 3


# -- closed forms without torch -------------------------------------------------------------------------


@pytest.mark.parametrize("multi", [False, True])
def test_ema_of_a_constant_input(multi):
    # After the first update copies x, n - 1 updates with a constant c give
    # decay^(n-1) x + (1 - decay^(n-1)) c.
    decay, x, c, n = 0.8, np.array([1.0, -2.0, 4.0]), np.array([3.0, 0.5, -1.0]), 25
    kwargs = {"multi_avg_fn": ref_swa.get_ema_multi_avg_fn(decay)} if multi else {}
    kwargs = kwargs or {"avg_fn": ref_swa.get_ema_avg_fn(decay)}
    avg = ref_swa.AveragedModel([x], **kwargs)
    avg.update_parameters([x])
    for _ in range(n - 1):
        avg.update_parameters([c])
    expected = decay ** (n - 1) * x + (1 - decay ** (n - 1)) * c
    np.testing.assert_allclose(avg.params[0], expected, rtol=1e-14)  # ~n roundings of O(1) values


def test_swa_is_the_arithmetic_mean():
    rng = np.random.default_rng(3)
    samples = rng.standard_normal((40, 2, 3))
    avg = ref_swa.AveragedModel([samples[0]])
    for s in samples:
        avg.update_parameters([s])
    # the running mean rounds once or twice per update on O(1) values: 40 updates stay far below 1e-13
    np.testing.assert_allclose(avg.params[0], samples.mean(axis=0), rtol=0, atol=1e-13)
    assert avg.n_averaged == 40


def test_buffers_are_copied_not_averaged_without_use_buffers():
    avg = ref_swa.AveragedModel([np.zeros(2)], [np.zeros(2)])
    for v in (1.0, 5.0):
        avg.update_parameters([np.full(2, v)], [np.full(2, v)])
    np.testing.assert_array_equal(avg.params[0], [3.0, 3.0])  # mean of 1 and 5
    np.testing.assert_array_equal(avg.buffers[0], [5.0, 5.0])  # the latest model's


# -- SWALR ----------------------------------------------------------------------------------------------

SWALR_CASES = [
    {"swa_lr": 0.05},
    {"swa_lr": [0.05, 0.2], "anneal_strategy": "linear", "anneal_epochs": 7},
    {"swa_lr": 0.01, "anneal_epochs": 0},
    {"swa_lr": [0.02, 0.001], "anneal_epochs": 1, "anneal_strategy": "cos"},
    {"swa_lr": 0.3, "anneal_epochs": 150},
]


def _swalr_pair(kwargs: dict[str, Any], **script: Any) -> tuple[Any, Any]:
    """SWALR's histories in both libraries (``scheduler_differential.run``'s script)."""
    build = lambda lib, opt: lib.SWALR(opt, **kwargs)  # noqa: E731
    return run(ref_optim, ref_swa, build, **script), run(torch.optim, torch_swa, build, **script)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("kwargs", SWALR_CASES, ids=str)
def test_swalr_matches_torch(kwargs, optimizer):
    ref, tor = _swalr_pair(kwargs, steps=220, optimizer=optimizer, reload_at=37)
    assert_same_history(ref, tor)


def test_swalr_step_with_epoch_ignores_it_as_torch():
    # SWALR has no closed form: step(epoch) sets last_epoch but get_lr() reads _step_count only.
    ref, tor = _swalr_pair(
        {"swa_lr": 0.05, "anneal_epochs": 5}, steps=12, epochs={t: 3 * t for t in range(13)}
    )
    assert_same_history(ref, tor)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_closed_form(strategy):
    # eta_s = alpha(t) swa_lr + (1 - alpha(t)) eta_0 with t = min(1, s / anneal_epochs).
    lr0, swa_lr, epochs = 0.1, 0.02, 8
    alpha = (lambda t: (1 - math.cos(math.pi * t)) / 2) if strategy == "cos" else (lambda t: t)
    build = lambda lib, opt: lib.SWALR(opt, swa_lr=swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)  # noqa: E731
    lrs = list(run(ref_optim, ref_swa, build, steps=20, groups=param_groups((lr0,))).lrs[:, 0])
    expected = [alpha(min(1, s / epochs)) * swa_lr + (1 - alpha(min(1, s / epochs))) * lr0 for s in range(21)]
    # the recursive form reconstructs eta_0 each step: a few roundings per step, no growth (alpha < 1)
    np.testing.assert_allclose(lrs, expected, rtol=1e-13)
    assert lrs[epochs:] == [swa_lr] * (21 - epochs)  # alpha = 1 exactly: the swa_lr itself


def test_swalr_state_dict_resume_equals_uninterrupted():
    build = lambda lib, opt: lib.SWALR(opt, swa_lr=[0.05, 0.01], anneal_strategy="linear")  # noqa: E731
    resumed = run(ref_optim, ref_swa, build, steps=30, reload_at=4)
    assert resumed.groups == run(ref_optim, ref_swa, build, steps=30).groups
    assert "anneal_func" not in resumed.state_dict


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", ["get_ema_avg_fn", "get_ema_multi_avg_fn"])
@pytest.mark.parametrize("decay", [-0.1, 1.5, float("nan")])
def test_invalid_decay_raises_as_torch(fn, decay):
    assert raised(lambda: getattr(ref_swa, fn)(decay)) == raised(lambda: getattr(torch_swa, fn)(decay))


def test_both_averaging_functions_raise_as_torch():
    fn = ref_swa.get_swa_avg_fn()
    expected = raised(lambda: torch_swa.AveragedModel(_model(), avg_fn=fn, multi_avg_fn=fn))
    assert raised(lambda: ref_swa.AveragedModel([np.zeros(1)], avg_fn=fn, multi_avg_fn=fn)) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"swa_lr": [0.1]},
        {"swa_lr": 0.1, "anneal_strategy": "exp"},
        {"swa_lr": 0.1, "anneal_epochs": -1},
        {"swa_lr": 0.1, "anneal_epochs": 2.0},
        {"swa_lr": 0.1, "anneal_strategy": "exp", "anneal_epochs": -1},
    ],
    ids=str,
)
def test_swalr_invalid_arguments_raise_as_torch(kwargs):
    ref_opt = SGD(param_groups())
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(2)]}, {"params": [torch.zeros(2)]}])
    assert raised(lambda: ref_swa.SWALR(ref_opt, **kwargs)) == raised(
        lambda: torch_swa.SWALR(torch_opt, **kwargs)
    )


# -- update_bn ------------------------------------------------------------------------------------------


def _bn_models(momentum: float | None, training: bool) -> tuple[Any, Any]:
    """Linear -> BatchNorm -> ReLU -> BatchNorm in both libraries, with the same weights and running stats."""
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    gamma, beta = 0.5 + rng.random(4), rng.standard_normal(4)
    mean, var = rng.standard_normal(4), 0.5 + rng.random(4)
    ref = ref_swa.Sequential(
        ref_swa.Linear(w.copy(), b.copy()),
        ref_swa.BatchNorm(4, 1e-3, momentum, gamma, beta),
        ref_swa.ReLU(),
        ref_swa.BatchNorm(4),
    ).train(training)
    ref.layers[1].running_mean[...], ref.layers[1].running_var[...] = mean, var
    tor = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.BatchNorm1d(4, 1e-3, momentum),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(4),
    ).double()
    with torch.no_grad():
        for t, a in zip([tor[0].weight, tor[0].bias, tor[1].weight, tor[1].bias], [w, b, gamma, beta]):
            t.copy_(torch.from_numpy(a))
        tor[1].running_mean.copy_(torch.from_numpy(mean))
        tor[1].running_var.copy_(torch.from_numpy(var))
    return ref, tor.train(training)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("pairs", [False, True])
def test_update_bn_matches_torch(momentum, training, pairs):
    ref, tor = _bn_models(momentum, training)
    batches = [np.random.default_rng(t).standard_normal((5, 3)) * 2 + 1 for t in range(7)]
    ref_swa.update_bn([(x, 0) for x in batches] if pairs else batches, ref)
    loader = [torch.from_numpy(x) for x in batches]
    torch_swa.update_bn([(x, 0) for x in loader] if pairs else loader, tor)
    for r, t in ((ref.layers[1], tor[1]), (ref.layers[3], tor[3])):
        # the same operations in the same order on float64 over 7 batches: a few roundings each
        np.testing.assert_allclose(r.running_mean, t.running_mean.numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(r.running_var, t.running_var.numpy(), rtol=1e-13)
        assert int(r.num_batches_tracked) == int(t.num_batches_tracked) == 7
        assert r.momentum == t.momentum
    assert ref.training == tor.training == training and ref.layers[1].training == tor[1].training


def test_update_bn_is_the_cumulative_average():
    # One BatchNorm layer: after update_bn, running_mean is the mean of the batch means and running_var the
    # mean of the unbiased batch variances, whatever the momentum and the stats before.
    bn = ref_swa.BatchNorm(2, momentum=0.7)
    bn.running_mean[...], bn.running_var[...] = 5.0, 9.0
    batches = [np.random.default_rng(t).standard_normal((6, 2)) + t for t in range(4)]
    ref_swa.update_bn(batches, ref_swa.Sequential(bn))
    np.testing.assert_allclose(
        bn.running_mean, np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-14
    )
    np.testing.assert_allclose(
        bn.running_var, np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0), rtol=1e-14
    )
    assert bn.momentum == 0.7


def test_update_bn_without_batchnorm_changes_nothing():
    model = ref_swa.Sequential(ref_swa.Linear(np.eye(2)), ref_swa.ReLU()).train(False)
    ref_swa.update_bn([np.ones((3, 2))], model)
    assert model.training is False

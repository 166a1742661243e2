"""refimpl.amp, the GradScaler contract: hand-derived scale sequences, and torch's GradScaler on the same
gradients (its unscale path, bitwise: the reference rounds as torch does).

The conformance checks of a candidate under a GradScaler are conformance/test_api/test_grad_scaler.py.
"""

import numpy as np
import pytest

from refimpl.amp import GradScaler, found_inf, inverse_scale, unscaled
from refimpl.optim import SGD, SparseGrad

torch = pytest.importorskip("torch")

# Iterations: True where a gradient has an inf or NaN.
PATTERN = [False, False, True, False, False, False, True, True, False, False]


def reference_scales(config: dict, pattern: list[bool]) -> tuple[list[float], list[bool]]:
    """The reference's scale after every update and whether each iteration moved the param."""
    p = np.zeros(3)
    opt, scaler, scales, moved = SGD([p], lr=0.1), GradScaler(**config), [], []
    for t, bad in enumerate(pattern):
        g = np.array([1.0, np.inf if bad else 2.0, -3.0 + t]) * scaler.get_scale()
        before = p.copy()
        scaler.step(opt, [g])
        scaler.update()
        scales.append(scaler.get_scale())
        moved.append(not np.array_equal(before, p))
    return scales, moved


def torch_scales(config: dict, pattern: list[bool]) -> tuple[list[float], list[bool]]:
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt, scaler, scales, moved = torch.optim.SGD([p], lr=0.1), torch.amp.GradScaler("cpu", **config), [], []
    for t, bad in enumerate(pattern):
        scaler.scale(torch.ones(()))
        g = torch.tensor([1.0, float("inf") if bad else 2.0, -3.0 + t], dtype=torch.float64)
        p.grad = g * scaler.get_scale()
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        moved.append(not torch.equal(before, p.detach()))
    return scales, moved


def test_scale_sequence_by_hand():
    # Growth every 2 clean iterations (x2), backoff on each bad one (x0.5, tracker reset).
    config = {"init_scale": 8.0, "growth_interval": 2}
    scales, moved = reference_scales(config, PATTERN)
    assert scales == [8.0, 16.0, 8.0, 8.0, 16.0, 16.0, 8.0, 4.0, 4.0, 8.0]
    assert moved == [not bad for bad in PATTERN]


@pytest.mark.parametrize(
    "config",
    [
        {"init_scale": 8.0, "growth_interval": 2},
        # Not powers of two: every update rounds (float32 of the double product), as torch's does.
        {"init_scale": 3.0, "growth_factor": 1.7, "backoff_factor": 0.3, "growth_interval": 1},
        # Growth past float32's range is not applied.
        {"init_scale": 2.0**126, "growth_factor": 8.0, "growth_interval": 1},
    ],
)
def test_scales_and_skips_are_torchs(config):
    assert reference_scales(config, PATTERN) == torch_scales(config, PATTERN)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", [3.0, 2.0**16, 0.7])
def test_unscaled_gradients_are_torchs_bitwise(dtype, scale):
    g = np.random.default_rng(3).standard_normal(50).astype(dtype) * np.float32(scale)
    p = torch.zeros(50, dtype=getattr(torch, dtype), requires_grad=True)
    opt, scaler = torch.optim.SGD([p], lr=0.1), torch.amp.GradScaler("cpu", init_scale=scale)
    scaler.scale(torch.ones(()))
    p.grad = torch.tensor(g)
    scaler.unscale_(opt)
    (expected,) = unscaled([g], scaler.get_scale())
    assert expected.dtype == g.dtype
    np.testing.assert_array_equal(p.grad.numpy(), expected)
    assert inverse_scale(3.0) != 1 / 3.0  # the reciprocal is rounded to float32


def test_found_inf_reads_every_gradient_and_sparse_values():
    assert not found_inf([np.ones(2), None, SparseGrad(np.array([0]), np.ones((1, 2)), (3, 2))])
    assert found_inf([np.ones(2), np.array([np.nan])])
    assert found_inf([SparseGrad(np.array([1]), np.array([[np.inf, 0.0]]), (3, 2))])


def test_a_skipped_step_never_calls_the_optimizer():
    p = np.zeros(2)
    opt, scaler = SGD([p], lr=0.1, momentum=0.9), GradScaler()
    assert scaler.step(opt, [np.array([np.inf, 1.0])]) is None
    assert opt.state == {} and not p.any()


def test_state_dict_is_torchs():
    config = {"init_scale": 3.0, "growth_factor": 1.7, "backoff_factor": 0.3, "growth_interval": 5}
    reference, scaler = GradScaler(**config), torch.amp.GradScaler("cpu", **config)
    assert reference.state_dict() == scaler.state_dict()
    restored = GradScaler()
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"growth_factor": 1.0}, "The growth factor must be > 1.0."), ({"backoff_factor": 1.0}, "backoff")],
)
def test_invalid_factors_raise_as_torch(kwargs, message):
    with pytest.raises(AssertionError, match=message):
        torch.amp.GradScaler("cpu", **kwargs)
    with pytest.raises(AssertionError, match=message):
        GradScaler(**kwargs)


def test_out_of_order_calls_raise_as_torch():
    opt, scaler = SGD([np.zeros(1)], lr=0.1), GradScaler()
    grads = [np.ones(1)]
    scaler.unscale_(opt, grads)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt, grads)
    scaler.step(opt, grads)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt, grads)
    scaler.update()
    with pytest.raises(AssertionError, match="No inf checks"):
        scaler.update()

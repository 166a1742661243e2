"""Adagrad: hand-derived checks, the sparse path, and state created at construction.

The pairwise differential sweep is in test_per_coordinate_optimizers.py; the torch comparisons here are the
cases that sweep cannot express (sparse gradients, ``add_param_group``, a parameter that never steps).
"""

import numpy as np
import pytest
from differential import assert_close, run_pair, to_numpy, to_torch_grad
from test_per_coordinate_optimizers import RTOL

from refimpl.optim import Adagrad, SparseGrad

# The hand-written closed forms take the same few roundings as the update, in another order: a few ULPs of
# O(1) values. 1e-15 admits that and nothing a formula error could produce.
ULPS = 1e-15

torch = pytest.importorskip("torch")

G = np.array([2.0, -0.5, 0.0, 3.0])


def test_first_step_is_lr_times_the_sign():
    # sum_1 = g^2, so theta_1 = -lr g / (|g| + eps).
    theta = np.zeros(4)
    Adagrad([theta], lr=0.1, eps=1e-10).step([G])
    np.testing.assert_allclose(theta, -0.1 * G / (np.abs(G) + 1e-10), rtol=ULPS)


def test_constant_gradient_closed_form():
    # sum_t = tau + t g^2 and gamma~_t = lr / (1 + (t - 1) eta): theta_T = -sum_t gamma~_t g / sqrt(sum_t).
    lr, lr_decay, tau, eps, steps = 0.1, 0.5, 0.25, 1e-10, 6
    theta = np.zeros(4)
    opt = Adagrad([theta], lr=lr, lr_decay=lr_decay, initial_accumulator_value=tau, eps=eps)
    for _ in range(steps):
        opt.step([G])
    t = np.arange(1, steps + 1)[:, None]
    expected = -np.sum(lr / (1 + (t - 1) * lr_decay) * G / (np.sqrt(tau + t * G**2) + eps), axis=0)
    np.testing.assert_allclose(theta, expected, rtol=1e-14)  # six steps of a few roundings each
    assert opt.state[0]["step"] == steps


def test_state_exists_from_construction():
    a, b = np.zeros(2), np.zeros(3, dtype=np.complex128)
    opt = Adagrad([a, b], initial_accumulator_value=0.5)
    assert opt.state_dict()["state"][0]["step"] == 0
    np.testing.assert_array_equal(opt.state[0]["sum"], [0.5, 0.5])
    np.testing.assert_array_equal(opt.state[1]["sum"], [0.5 + 0.5j] * 3)  # both components get tau


def test_sparse_equals_dense_on_real_params():
    # A zero row changes neither sum nor theta, so the sparse update is the dense one of the dense grad.
    rows, values = np.array([3, 0, 3]), np.arange(6.0).reshape(3, 2) - 2
    dense, sparse = np.ones((5, 2)), np.ones((5, 2))
    opt_d = Adagrad([dense], lr=0.3, lr_decay=0.1, initial_accumulator_value=0.1, maximize=True)
    opt_s = Adagrad([sparse], lr=0.3, lr_decay=0.1, initial_accumulator_value=0.1, maximize=True)
    for t in range(3):
        grad = SparseGrad(rows, values * (t + 1), (5, 2))
        opt_d.step([grad.to_dense()])
        opt_s.step([grad])
    np.testing.assert_allclose(sparse, dense, rtol=ULPS)
    np.testing.assert_allclose(opt_s.state[0]["sum"], opt_d.state[0]["sum"], rtol=ULPS)


def test_sparse_complex_follows_the_real_pair_rule():
    # Decision (see adagrad.py): torch's sparse path squares complex values; the reference updates the
    # gradient's rows as real pairs, i.e. exactly as the dense complex update does.
    rows = np.array([0, 2])
    values = np.array([[1 + 2j, 3 - 1j], [0.5j, 1.0]])
    dense, sparse = np.ones((3, 2), complex), np.ones((3, 2), complex)
    grad = SparseGrad(rows, values, (3, 2))
    Adagrad([dense], lr=0.1).step([grad.to_dense()])
    Adagrad([sparse], lr=0.1).step([grad])
    np.testing.assert_allclose(sparse, dense, rtol=ULPS)


@pytest.mark.parametrize(
    "hyper", [{"lr": 0.1}, {"lr": 0.2, "lr_decay": 0.3, "initial_accumulator_value": 0.2, "maximize": True}]
)
def test_sparse_gradients_match_torch(hyper):
    # Repeated rows (summed when coalescing), rows that change per step, and an empty gradient.
    def grad(t, i, p):
        rng = np.random.default_rng([3, t, i])
        rows = rng.integers(0, p.shape[0], size=0 if t == 4 else 5)
        return SparseGrad(rows, rng.standard_normal((len(rows), *p.shape[1:])), p.shape)

    groups = [{"params": [np.zeros((6, 3))]}, {"params": [np.ones((4,))], "lr": 0.05}]
    ref, tor = run_pair("Adagrad", groups, hyper, grad, steps=8, changes={5: [(0, "lr", 0.02)]})
    assert_close(ref, tor, RTOL)


def _assert_same_state(ref_opt, torch_opt):
    expected = to_numpy(torch_opt.state_dict()["state"])
    actual = ref_opt.state_dict()["state"]
    assert actual.keys() == expected.keys()
    for i in expected:
        assert actual[i].keys() == expected[i].keys()
        for key in expected[i]:
            np.testing.assert_allclose(actual[i][key], expected[i][key], rtol=RTOL)


def test_group_initial_accumulator_value_is_ignored_as_in_torch():
    # The constructor's value (defaults) initialises every sum, including those of a group that sets its
    # own value and those of a group added later (created lazily, at its first gradient).
    params = [np.zeros(2), np.zeros(2), np.zeros(2)]
    groups = [{}, {"initial_accumulator_value": 3.0}]
    tensors = [torch.from_numpy(p.copy()) for p in params]
    torch_opt = torch.optim.Adagrad(
        [{"params": [t], **h} for t, h in zip(tensors, groups)], initial_accumulator_value=1.0
    )
    ref_params = [p.copy() for p in params]
    ref_opt = Adagrad(
        [{"params": [p], **h} for p, h in zip(ref_params, groups)], initial_accumulator_value=1.0
    )
    _assert_same_state(ref_opt, torch_opt)
    late = tensors[2]
    torch_opt.add_param_group({"params": [late], "initial_accumulator_value": 5.0})
    ref_opt.add_param_group({"params": [ref_params[2]], "initial_accumulator_value": 5.0})
    _assert_same_state(ref_opt, torch_opt)  # no state yet for the late param, in both
    late.grad = torch.ones(2, dtype=torch.float64)
    torch_opt.step()
    ref_opt.step([None, None, np.ones(2)])
    _assert_same_state(ref_opt, torch_opt)
    np.testing.assert_array_equal(ref_params[2], late.numpy())


def test_sparse_with_weight_decay_fails_after_earlier_params_as_in_torch():
    # torch raises inside its loop over one group: the first param is already updated and the second's
    # step counted when it gets there.
    params = [np.ones(3), np.ones((4, 3))]
    grads = [np.ones(3), SparseGrad(np.array([1]), np.ones((1, 3)), (4, 3))]
    tensors = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    for t, g in zip(tensors, grads):
        t.grad = to_torch_grad(g)
    torch_opt = torch.optim.Adagrad(tensors, weight_decay=0.1)
    ref_params = [p.copy() for p in params]
    ref_opt = Adagrad(ref_params, weight_decay=0.1)
    message = "weight_decay option is not compatible with sparse gradients"
    with pytest.raises(RuntimeError, match=message):
        torch_opt.step()
    with pytest.raises(RuntimeError, match=message):
        ref_opt.step(grads)
    _assert_same_state(ref_opt, torch_opt)
    np.testing.assert_allclose(ref_params[0], tensors[0].detach().numpy(), rtol=RTOL)


def test_torch_sparse_complex_squares_the_values():
    # Records the deviation the reference does not follow (see adagrad.py): torch's sparse path sums g**2
    # as complex numbers. If torch adopts the real-pair rule, this fails and the decision can be revisited.
    rows, values = np.array([0, 2]), np.array([[1 + 2j, 3 - 1j], [0.5j, 1.0]])
    p = torch.zeros((3, 2), dtype=torch.complex128, requires_grad=True)
    p.grad = to_torch_grad(SparseGrad(rows, values, (3, 2)))
    opt = torch.optim.Adagrad([p], lr=0.1)
    opt.step()
    np.testing.assert_allclose(opt.state[p]["sum"].numpy()[rows], values**2, rtol=ULPS)
    ref_opt = Adagrad([np.zeros((3, 2), complex)], lr=0.1)
    ref_opt.step([SparseGrad(rows, values, (3, 2))])
    pairs = ref_opt.state[0]["sum"][rows]
    np.testing.assert_allclose(pairs, values.real**2 + 1j * values.imag**2, rtol=ULPS)

"""Rprop: hand-derived step-size adaptation and clamping; a differential run that hits both bounds.

The pairwise differential sweep is in test_per_coordinate_optimizers.py.
"""

import numpy as np
import pytest
from differential import assert_close, run_pair
from test_per_coordinate_optimizers import RTOL, flipping_grads

from refimpl.optim import Rprop

# The hand-written closed forms take the same few roundings as the update, in another order: a few ULPs of
# O(1) values. 1e-15 admits that and nothing a formula error could produce.
ULPS = 1e-15


def _run(opt: Rprop, theta: np.ndarray, grads: list[float]) -> tuple[list[float], list[float]]:
    """Parameter and step size after each step of a one-element parameter."""
    thetas, sizes = [], []
    for g in grads:
        opt.step([np.array([g])])
        thetas.append(float(theta[0]))
        sizes.append(float(opt.state[0]["step_size"][0]))
    return thetas, sizes


def test_step_size_grows_by_etaplus_until_the_maximum():
    # Same sign every step: eta_t = min(lr * etaplus^(t-1), max); theta moves by -eta_t each step.
    lr, etaplus, max_size = 0.1, 1.5, 0.5
    theta = np.zeros(1)
    thetas, sizes = _run(
        Rprop([theta], lr=lr, etas=(0.5, etaplus), step_sizes=(1e-6, max_size)), theta, [2.0] * 7
    )
    expected = [min(lr * etaplus**t, max_size) for t in range(7)]
    np.testing.assert_allclose(sizes, expected, rtol=ULPS)
    np.testing.assert_allclose(thetas, -np.cumsum(expected), rtol=ULPS)
    assert sizes[-1] == max_size


def test_sign_flip_shrinks_skips_the_step_and_forgets_the_gradient():
    # g: +, +, -, -, +. Step 3 flips: eta shrinks, no move, prev = 0; step 4: product 0, eta kept, moves;
    # step 5 flips again.
    lr, em, ep = 0.1, 0.5, 1.2
    theta = np.zeros(1)
    opt = Rprop([theta], lr=lr, etas=(em, ep))
    thetas, sizes = _run(opt, theta, [1.0, 3.0, -2.0, -1.0, 4.0])
    expected_sizes = [lr, lr * ep, lr * ep * em, lr * ep * em, lr * ep * em * em]
    np.testing.assert_allclose(sizes, expected_sizes, rtol=ULPS)
    t1 = -lr
    t2 = t1 - lr * ep
    t4 = t2 + lr * ep * em
    np.testing.assert_allclose(thetas, [t1, t2, t2, t4, t4], rtol=ULPS)
    assert opt.state[0]["prev"][0] == 0.0


def test_step_size_shrinks_to_the_minimum():
    # Alternating signs: a flip every other step (the step after a flip has product 0).
    theta = np.zeros(1)
    _, sizes = _run(Rprop([theta], lr=0.1, etas=(0.5, 1.2), step_sizes=(0.02, 1.0)), theta, [1.0, -1.0] * 6)
    assert sizes[-1] == 0.02
    np.testing.assert_allclose(sizes[:5], [0.1, 0.05, 0.05, 0.025, 0.025], rtol=ULPS)


def test_lr_outside_the_bounds_is_clamped_on_the_first_step():
    # torch's code clamps every step; its docs would leave eta_1 = lr = 2.
    theta = np.zeros(1)
    thetas, sizes = _run(Rprop([theta], lr=2.0, step_sizes=(1e-6, 0.5)), theta, [1.0])
    assert sizes == [0.5]
    assert thetas == [-0.5]


def test_zero_gradient_does_not_move():
    theta = np.ones(3)
    Rprop([theta]).step([np.array([0.0, 1.0, -1.0])])
    np.testing.assert_allclose(theta, [1.0, 0.99, 1.01], rtol=ULPS)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_differential_run_hits_both_bounds(dtype):
    shape, bounds = (6, 8), (0.02, 0.3)
    groups = [{"params": [np.zeros(shape, dtype=dtype)]}]
    hyper = {"lr": 0.1, "etas": (0.5, 1.5), "step_sizes": bounds}
    ref, tor = run_pair("Rprop", groups, hyper, flipping_grads, steps=20)
    assert_close(ref, tor, RTOL)
    sizes = ref.state[0]["step_size"]
    sizes = np.concatenate([sizes.real.ravel(), sizes.imag.ravel()]) if dtype is np.complex128 else sizes
    assert np.any(sizes == bounds[0])
    assert np.any(sizes == bounds[1])

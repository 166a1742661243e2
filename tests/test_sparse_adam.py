"""SparseAdam: differential tests against torch, hand-derived checks, and the error catalogue."""

import numpy as np
import pytest
from differential import (
    assert_close,
    assert_same_error,
    assert_same_step_error,
    invalid_kwargs,
    pairwise,
    raised,
    run_pair,
    torch,
)

from refimpl.optim import SparseAdam, SparseGrad
from refimpl.optim.sparse_adam import TABLE

# float64 against torch's float64 sparse path: the same operations in the same order on the same rows,
# so the disagreement is a few ULPs (measured max 2.2e-16: only the summation order of three or more
# repeated rows can differ); 1e-12 leaves orders of magnitude for 25 steps and still fails any real
# formula error (those show up at 1e-3 and above).
RTOL = 1e-12

OPTIONS = {
    "lr": [1e-3, 0.1],
    "betas": [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)],
    "eps": [1e-8, 0.5],
    "maximize": [False, True],
}


def embedding_groups(seed: int = 0, **second_group: object) -> list[dict]:
    """Embedding-like tables (rows x features), a 1-D table and a single-row one, in two groups."""
    rng = np.random.default_rng(seed)
    first = [rng.standard_normal((6, 3)), rng.standard_normal(5)]
    second = [rng.standard_normal((10, 4)), rng.standard_normal((1, 2))]
    return [{"params": first}, {"params": second, **second_group}]


def sparse_grads(seed: int = 1) -> object:
    """Row gradients with repeats (summed when coalesced), rows absent on some steps, no stored row at all
    on others (nnz = 0: the step counts, nothing moves), and ``None`` on others."""

    def grad(t: int, i: int, p: np.ndarray) -> SparseGrad | None:
        if (t + i) % 5 == 0 and (t, i) != (0, 0):
            return None
        rng = np.random.default_rng([seed, t, i])
        nnz = 0 if (t + 2 * i) % 7 == 3 else int(rng.integers(1, 2 * len(p) + 1))
        rows = rng.integers(0, len(p), size=nnz)  # repeats whenever nnz > 1 draws collide
        values = rng.standard_normal((nnz, *p.shape[1:])) * 2.0
        return SparseGrad(rows, values, p.shape)

    return grad


@pytest.mark.parametrize(
    "config", pairwise(OPTIONS), ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items())
)
def test_matches_torch(config):
    ref, tor = run_pair(
        "SparseAdam",
        embedding_groups(lr=0.05),
        config,
        sparse_grads(),
        steps=25,
        changes={10: [(0, "lr", 0.02)], 15: [(1, "betas", (0.8, 0.99)), (0, "eps", 1e-3)]},
    )
    assert_close(ref, tor, RTOL)


def test_param_group_keys_are_torchs():
    keys = list(torch.optim.SparseAdam([torch.zeros(2)]).param_groups[0])
    assert list(SparseAdam([np.zeros(2)]).param_groups[0]) == keys


def test_first_step_by_hand():
    # m_1 = (1 - b1) g, v_1 = (1 - b2) g^2 on the present rows, step_size = lr sqrt(1 - b2) / (1 - b1):
    # theta_1[I] = theta_0[I] - lr sqrt(1 - b2) g / (sqrt(1 - b2) |g| + eps); rows 1 and 3 do not move.
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    theta = np.arange(8.0).reshape(4, 2)
    g = np.array([[1.0, -2.0], [0.5, 4.0]])
    opt = SparseAdam([theta], lr=lr, betas=(b1, b2), eps=eps)
    opt.step([SparseGrad(np.array([2, 0]), g, theta.shape)])
    expected = np.arange(8.0).reshape(4, 2)
    expected[[2, 0]] -= lr * np.sqrt(1 - b2) * g / (np.sqrt(1 - b2) * np.abs(g) + eps)
    np.testing.assert_allclose(theta, expected, rtol=1e-15)
    np.testing.assert_array_equal(opt.state[0]["exp_avg"][[1, 3]], 0.0)
    np.testing.assert_allclose(opt.state[0]["exp_avg"][[2, 0]], (1 - b1) * g, rtol=1e-15)


def test_repeated_rows_are_summed():
    # [(1, a), (1, b)] is the gradient (1, a + b): the update is non-linear, so they may not be applied
    # one after the other.
    a, b = np.array([[1.0, 2.0]]), np.array([[-3.0, 0.25]])
    twice, once = np.ones((3, 2)), np.ones((3, 2))
    SparseAdam([twice], lr=0.1).step([SparseGrad(np.array([1, 1]), np.concatenate([a, b]), (3, 2))])
    SparseAdam([once], lr=0.1).step([SparseGrad(np.array([1]), a + b, (3, 2))])
    np.testing.assert_array_equal(twice, once)


def test_a_late_row_gets_the_parameter_steps_bias_correction():
    # Row 1 first appears at step 3, after two steps on row 0: its moments hold one gradient, but the
    # bias correction is step 3's, 1 - beta ** 3 (masked Adam, not per-row Adam).
    lr, b1, b2, eps = 0.1, 0.5, 0.75, 1e-8
    theta = np.zeros((2, 1))
    opt = SparseAdam([theta], lr=lr, betas=(b1, b2), eps=eps)
    for _ in range(2):
        opt.step([SparseGrad(np.array([0]), np.ones((1, 1)), (2, 1))])
    opt.step([SparseGrad(np.array([1]), np.full((1, 1), 2.0), (2, 1))])
    m, v = (1 - b1) * 2.0, (1 - b2) * 4.0
    expected = -lr * np.sqrt(1 - b2**3) / (1 - b1**3) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(theta[1], [expected], rtol=1e-15)
    assert opt.state[0]["step"] == 3


def test_empty_sparse_gradient_counts_the_step_and_moves_nothing():
    theta = np.ones((3, 2))
    opt = SparseAdam([theta])
    opt.step([SparseGrad(np.zeros(0, dtype=np.int64), np.zeros((0, 2)), (3, 2))])
    np.testing.assert_array_equal(theta, 1.0)
    assert opt.state[0]["step"] == 1
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], 0.0)


def test_none_gradient_neither_moves_nor_creates_state():
    a, b = np.ones((2, 3)), np.ones(2)
    opt = SparseAdam([a, b])
    opt.step([SparseGrad(np.array([0]), np.ones((1, 3)), (2, 3)), None])
    np.testing.assert_array_equal(b, [1.0, 1.0])
    assert list(opt.state) == [0]


def test_dense_gradient_raises_as_torch_after_earlier_params_are_counted():
    params = [np.ones((3, 2)), np.ones((3, 2))]
    grads = [SparseGrad(np.array([0]), np.ones((1, 2)), (3, 2)), np.ones((3, 2))]
    assert_same_step_error("SparseAdam", params, grads)


@pytest.mark.parametrize(
    "kwargs",
    [
        *invalid_kwargs(TABLE, {"betas": (0.9, 0.999)}),
        {"lr": 0.0},
        {"eps": 0.0},
        {"betas": (0.0, 0.0)},  # the closed ends are valid
        {"lr": float("nan")},
    ],
    ids=str,
)
def test_invalid_arguments_raise_as_torch(kwargs):
    assert_same_error("SparseAdam", kwargs)


@pytest.mark.parametrize(
    "params",
    [
        [np.zeros(2, dtype=np.complex128)],
        [np.zeros(2), np.zeros((2, 2), dtype=np.complex128), np.zeros(3, dtype=np.complex64)],
    ],
    ids=["one", "several"],
)
def test_complex_params_raise_as_torch(params):
    assert_same_error("SparseAdam", {}, params)


def test_complex_params_in_a_second_group_are_named_by_group():
    groups = [{"params": [np.zeros(2)]}, {"params": [np.zeros(1), np.zeros(2, dtype=np.complex128)]}]
    tor_groups = [{"params": [torch.from_numpy(p) for p in g["params"]]} for g in groups]
    expected = raised(lambda: torch.optim.SparseAdam(tor_groups))
    assert expected is not None and raised(lambda: SparseAdam(groups)) == expected

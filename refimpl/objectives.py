r"""Test objectives with analytic gradients, over lists of NumPy arrays: what a closure evaluates.

Each objective takes the parameters (a list of arrays, any shapes, real or complex) and returns
``(loss, grads)``: the loss as a Python float and one gradient per parameter, with the parameter's shape and
dtype. All parameters are read as one flat real vector :math:`x`, concatenated in list order, a complex
parameter contributing its (real, imag) pairs as ``real_view`` lays them out: the convention of torch's
LBFGS, which optimizes a complex parameter as its real view. A complex gradient is therefore
``d/d(re) + 1j * d/d(im)``, which is also what torch's autograd produces for a real loss.

The objectives are deterministic (no random numbers), so golden vectors computed with them stay valid
across NumPy versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from refimpl.optim.optimizer import real_view


def flatten(params: Sequence[np.ndarray]) -> np.ndarray:
    """All parameters as one real vector (complex as (real, imag) pairs), in list order."""
    if not params:
        return np.zeros(0)
    return np.concatenate([real_view(p).reshape(-1) for p in params])


def unflatten(flat: np.ndarray, params: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Split a real vector laid out as ``flatten(params)`` into arrays shaped and typed like ``params``."""
    out, offset = [], 0
    for p in params:
        g = np.empty_like(p)
        view = real_view(g)
        view[...] = flat[offset : offset + view.size].reshape(view.shape)
        offset += view.size
        out.append(g)
    return out


def rosenbrock(params: Sequence[np.ndarray], a: float = 100.0) -> tuple[float, list[np.ndarray]]:
    r"""The (chained) Rosenbrock function, minimum 0 at :math:`x = (1, \dots, 1)`; needs at least 2 elements.

    .. math:: f(x) = \sum_{i=1}^{n-1} a (x_{i+1} - x_i^2)^2 + (1 - x_i)^2

    For :math:`n = 2` this is the classic banana valley; the chained form is the usual n-dimensional one.
    """
    x = flatten(params)
    head, tail = x[:-1], x[1:]
    valley = tail - head**2
    loss = float(np.sum(a * valley**2 + (1 - head) ** 2))
    grad = np.zeros_like(x)
    grad[:-1] += -4 * a * head * valley - 2 * (1 - head)
    grad[1:] += 2 * a * valley
    return loss, unflatten(grad, params)


def quadratic(params: Sequence[np.ndarray], A: np.ndarray) -> tuple[float, list[np.ndarray]]:
    r""":math:`f(x) = \frac12 x^\top A x` for a symmetric :math:`A`; gradient :math:`A x`, minimum 0 at 0."""
    x = flatten(params)
    Ax = A @ x
    return float(0.5 * (x @ Ax)), unflatten(Ax, params)


@lru_cache(maxsize=16)
def ill_conditioned_spd(n: int, condition: float = 1e4) -> np.ndarray:
    r"""An SPD :math:`n \times n` matrix :math:`Q^\top \Lambda Q` with condition number ``condition``.

    Eigenvalues are spaced geometrically from 1 to ``condition`` (so every scale in between is present);
    :math:`Q` is the orthonormal DCT-II matrix, a fixed rotation that makes :math:`A` dense, so an optimizer
    cannot exploit a diagonal structure. Read-only (cached).
    """
    k, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    Q = np.sqrt(2.0 / n) * np.cos(np.pi * (j + 0.5) * k / n)
    Q[0] /= np.sqrt(2.0)
    eigenvalues = condition ** (np.arange(n) / max(n - 1, 1))
    A = Q.T @ (eigenvalues[:, None] * Q)
    A = 0.5 * (A + A.T)  # exactly symmetric
    A.setflags(write=False)
    return A


def ill_conditioned_quadratic(
    params: Sequence[np.ndarray], condition: float = 1e4
) -> tuple[float, list[np.ndarray]]:
    """``quadratic`` with ``ill_conditioned_spd`` of the parameters' total (real) size."""
    return quadratic(params, ill_conditioned_spd(flatten(params).size, condition))

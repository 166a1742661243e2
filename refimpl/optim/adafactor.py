r"""Adafactor: Adam's second moment without Adam's memory, factored into row and column statistics.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, beta2 decay :math:`\tau`,
epsilons :math:`\epsilon_1, \epsilon_2`, clipping threshold :math:`d`, weight decay :math:`\lambda`); ``G``
of shape ``(..., n, m)`` is factored over its last two dimensions, a ``G`` of fewer than two dimensions is
not::

    G_t = -grad if maximize else grad
    beta2_t = 1 - t ** tau                       (the code keeps 1 - beta2_t = t ** tau)
    rho_t = min(gamma, 1 / sqrt(t))
    alpha_t = max(eps2, RMS(theta_{t-1})) * rho_t
    theta_t = theta_{t-1} - gamma * lambda * theta_{t-1}
    if dim(G_t) >= 2:
        R_t = beta2_t * R_{t-1} + (1 - beta2_t) * mean(G_t * G_t, over the last axis)     shape (..., n, 1)
        C_t = beta2_t * C_{t-1} + (1 - beta2_t) * mean(G_t * G_t, over the axis before)   shape (..., 1, m)
        V_t = (R_t @ C_t) / max(mean(R_t, over the n axis), eps1)
    else:
        V_t = beta2_t * V_{t-1} + (1 - beta2_t) * G_t * G_t                            (the state "variance")
    U_t = G_t / max(sqrt(V_t), eps1)             (computed as G_t * rsqrt(max(V_t, eps1 ** 2)))
    U_t = U_t / max(1, RMS(U_t) / d)
    theta_t = theta_t - alpha_t * U_t

State: ``step`` and either ``row_var`` (R) and ``col_var`` (C), or ``variance`` (V).

Paper: Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost" (2018),
https://arxiv.org/abs/1804.04235 (Algorithms 4 and 5, without the optional first moment). torch's variant,
which the reference follows, differs from the paper as torch's documentation says:

- ``lr`` caps the relative step size (the paper's constant 0.01 in ``rho_t = min(0.01, 1/sqrt(t))``) and
  scales decoupled weight decay, which the paper does not have.
- ``eps1`` is applied to the variance estimate and to the update's denominator, not added to ``G * G``
  before the row and column statistics. Row and column statistics are means, not the paper's sums (the
  ratio ``R C / mean(R)`` equals the paper's ``R C / sum(R)`` with summed statistics).
- A tensor of three or more dimensions is factored over its last two dimensions, batched over the others.
- Defaults: the paper's ``eps1`` is 1e-30; torch's ``eps1=None`` is the dtype's machine epsilon (below).

Where the reference meets torch's code rather than its docs:

- The update uses the beta2 decay exponent directly: ``lerp(R, row_mean, t ** tau)``, i.e. the docs'
  ``1 - beta2_t``. At ``t = 1`` the weight is exactly 1: the statistics start at the first gradient.
- ``RMS(theta)`` and the clipping ``RMS(U)`` are taken through the 2-norm, ``norm(x) / sqrt(numel)``, with
  ``alpha_t`` computed *before* weight decay, as the docs' box says. For an empty parameter the division is
  ``0.0 / 0.0`` and raises ``ZeroDivisionError`` in Python; torch raises the same (after counting the step),
  and so does the reference. No upstream issue acknowledges this as a bug, so it is followed.
- ``mean(G * G)`` is computed as ``norm(G) ** 2 / n``, torch's way of not materialising ``G * G``.
- ``eps1=None`` means ``finfo(dtype).eps``. torch resolves it inside its loop over the group's parameters and
  never resets it, so the *first* parameter with a gradient fixes ``eps1`` for the whole group on that
  step: in a group mixing float32 and float64, the float64 parameters use float32's eps if a float32
  parameter comes first (and the other way round). No upstream issue calls this a bug; the reference
  follows it, and the tests check it against torch.
- The docs' argument list says weight_decay defaults to 1e-2; torch's code (and signature) use 0.0, which
  the reference follows.
- ``step`` is a float (torch: a float32 tensor). A parameter of zero or one dimension keeps ``variance``
  of its own shape; a 0-d parameter is treated as a vector of one element.
- Complex parameters and sparse gradients are rejected at step with torch's ``RuntimeError`` and message.
  As in torch, every parameter of the group is checked and given its (zero) state before any is updated,
  so a rejected step can leave fresh state behind for the parameters checked before the offending one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, lerp

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= lr``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Learning rate should be >= 0 but is: {value}"),
        Bound("beta2_decay", high=0.0, message="beta2_decay should be <= 0 but is: {value}"),
        # eps1 may be None ("derive it from the dtype"), which torch does not range-check.
        Bound("eps", low=0.0, index=0, message="epsilon1 should be >= 0 but is: {value}"),
        Bound("eps", low=0.0, index=1, message="epsilon2 should be >= 0 but is: {value}"),
        Bound("d", low=1.0, message="Clipping threshold d should be >= 1 but is: {value}"),
        Bound("weight_decay", low=0.0, message="weight_decay should be >= 0 but is: {value}"),
    )
)


def _rms(x: np.ndarray) -> float:
    """Root mean square as torch computes it here: ``norm(x) / sqrt(numel)`` in Python floats."""
    return float(np.linalg.norm(x.reshape(-1))) / (x.size**0.5)


class Adafactor(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {"foreach": None}

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    def _init_state(self, indices: list[int], params: list[np.ndarray], grads: list[Any]) -> None:
        """torch's ``_init_group``: reject what Adafactor cannot take, create zero state where missing."""
        for index, theta, grad in zip(indices, params, grads):
            if np.iscomplexobj(theta):
                raise RuntimeError("Adafactor does not support complex parameters")
            if isinstance(grad, SparseGrad):
                raise RuntimeError("Adafactor does not support sparse gradients")
            state = self.state.setdefault(index, {})
            if not state:
                state["step"] = 0.0
                if grad.ndim > 1:
                    state["row_var"] = np.zeros((*grad.shape[:-1], 1), dtype=grad.dtype)
                    state["col_var"] = np.zeros((*grad.shape[:-2], 1, grad.shape[-1]), dtype=grad.dtype)
                else:
                    state["variance"] = np.zeros_like(grad)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        self._init_state(indices, params, grads)
        lr, tau, d, weight_decay = group["lr"], group["beta2_decay"], group["d"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        for index, theta, grad in zip(indices, params, grads):
            state = self.state[index]
            G = -grad if group["maximize"] else grad
            if eps1 is None:  # resolved once per group, by the first parameter (see the module docstring)
                eps1 = float(np.finfo(theta.dtype).eps)
            state["step"] += 1
            t = state["step"]
            one_minus_beta2_t = t**tau
            rho_t = min(lr, 1 / t**0.5)
            alpha_t = max(eps2, _rms(theta)) * rho_t
            if weight_decay != 0:
                theta *= 1 - lr * weight_decay
            if G.ndim > 1:
                row_mean = np.linalg.norm(G, axis=-1, keepdims=True) ** 2 / G.shape[-1]
                col_mean = np.linalg.norm(G, axis=-2, keepdims=True) ** 2 / G.shape[-2]
                R = state["row_var"] = lerp(state["row_var"], row_mean, one_minus_beta2_t)
                C = state["col_var"] = lerp(state["col_var"], col_mean, one_minus_beta2_t)
                V = (R @ C) / np.maximum(R.mean(axis=-2, keepdims=True), eps1)
            else:
                V = state["variance"] = lerp(state["variance"], G * G, one_minus_beta2_t)
            U = (1 / np.sqrt(np.maximum(V, eps1 * eps1))) * G
            denom = max(1.0, float(np.linalg.norm(U.reshape(-1))) / (U.size**0.5 * d))
            theta += (-alpha_t / denom) * U

r"""Adadelta: a per-coordinate step whose units match the parameter's, from running averages of squares.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, decay :math:`\rho`, weight decay
:math:`\lambda`)::

    g_t = -grad if maximize else grad
    if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
    v_t = rho * v_{t-1} + (1 - rho) * g_t**2                          (square_avg)
    delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
    u_t = rho * u_{t-1} + (1 - rho) * delta_t**2                       (acc_delta)
    theta_t = theta_{t-1} - gamma * delta_t

``v`` and ``u`` start at zero. Paper: M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012),
Algorithm 1.

Where the reference meets torch's code rather than its docs:

- ``eps`` is inside both square roots (the paper's RMS[x] = sqrt(E[x^2] + eps)), unlike RMSprop.
- The paper has no learning rate; torch's ``lr`` scales ``delta_t`` when it is applied to the parameter,
  and only there: ``acc_delta`` accumulates the unscaled ``delta_t``.
- ``maximize`` is not in the docs' algorithm box; torch negates the gradient first, as here.
- The state holds ``step``, ``square_avg`` and ``acc_delta``.
- Complex parameters are optimized as (real, imag) pairs (``real_view``).
- Sparse gradients raise torch's ``RuntimeError("Adadelta does not support sparse gradients")`` at step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= x`` (``<= 1.0``): NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
        Bound("rho", low=0.0, high=1.0, message="Invalid rho value: {value}"),
        Bound("eps", low=0.0, message="Invalid epsilon value: {value}"),
        Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}"),
    )
)


class Adadelta(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "maximize": False,
        "capturable": False,
        "foreach": None,
        "differentiable": False,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        if any(isinstance(grad, SparseGrad) for grad in grads):
            raise RuntimeError("Adadelta does not support sparse gradients")
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        for index, theta, grad in zip(indices, params, grads):
            state = self.state.setdefault(index, {})
            if not state:
                state["step"] = 0.0
                state["square_avg"] = np.zeros_like(theta)
                state["acc_delta"] = np.zeros_like(theta)
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            g = real_view(g)
            v, u = real_view(state["square_avg"]), real_view(state["acc_delta"])
            v *= rho
            v += (1 - rho) * g * g
            delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
            u *= rho
            u += (1 - rho) * delta * delta
            theta_r = real_view(theta)
            theta_r -= lr * delta

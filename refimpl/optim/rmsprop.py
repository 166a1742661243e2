r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, smoothing constant :math:`\alpha`,
weight decay :math:`\lambda`, momentum :math:`\mu`)::

    g_t = -grad if maximize else grad
    if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
    v_t = alpha * v_{t-1} + (1 - alpha) * g_t**2                  (square_avg)
    if centered:
        g_ave_t = alpha * g_ave_{t-1} + (1 - alpha) * g_t         (grad_avg)
        avg = sqrt(v_t - g_ave_t**2) + eps
    else:
        avg = sqrt(v_t) + eps
    if mu > 0:
        b_t = mu * b_{t-1} + g_t / avg                            (momentum_buffer)
        theta_t = theta_{t-1} - gamma * b_t
    else:
        theta_t = theta_{t-1} - gamma * g_t / avg

All of ``v``, ``g_ave`` and ``b`` start at zero. Sources: G. Hinton, "Neural Networks for Machine Learning",
lecture 6e (2012); the centered variant is from A. Graves, "Generating Sequences With Recurrent Neural
Networks" (2013), eq. 38-45.

Where the reference meets torch's code rather than its docs:

- ``eps`` is added *outside* the square root (torch's docs say so; TensorFlow adds it inside).
- No bias correction: with ``alpha = 0.99`` the first steps divide by ``sqrt(0.01) * |g|``, i.e. they are
  about ten times larger than later ones. That is torch's (and Hinton's) algorithm, not a bug to fix.
- ``maximize`` is not in the docs' algorithm box; torch negates the gradient first, as here.
- The state holds ``step``, ``square_avg``, and ``momentum_buffer`` only when ``momentum > 0``, ``grad_avg``
  only when ``centered``: which keys exist is decided when the parameter's state is created, from that
  step's group options.
- torch updates ``grad_avg`` with ``lerp`` (``g_ave + (1 - alpha) * (g - g_ave)``), which is the docs'
  formula up to rounding; the reference writes it the way ``lerp`` computes it for ``1 - alpha < 0.5``.
- Complex parameters are optimized as (real, imag) pairs (``real_view``): ``square_avg`` holds the squares
  of each component, not ``|g|**2``.
- Sparse gradients raise torch's ``RuntimeError("RMSprop does not support sparse gradients")`` at step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, lerp, real_view

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= x``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
        Bound("eps", low=0.0, message="Invalid epsilon value: {value}"),
        Bound("momentum", low=0.0, message="Invalid momentum value: {value}"),
        Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}"),
        Bound("alpha", low=0.0, message="Invalid alpha value: {value}"),
    )
)


class RMSprop(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "momentum": 0,
        "centered": False,
        "capturable": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        if any(isinstance(grad, SparseGrad) for grad in grads):
            raise RuntimeError("RMSprop does not support sparse gradients")
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        weight_decay = group["weight_decay"]
        for index, theta, grad in zip(indices, params, grads):
            state = self.state.setdefault(index, {})
            if not state:
                state["step"] = 0.0
                state["square_avg"] = np.zeros_like(theta)
                if mu > 0:
                    state["momentum_buffer"] = np.zeros_like(theta)
                if group["centered"]:
                    state["grad_avg"] = np.zeros_like(theta)
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            g, theta_r = real_view(g), real_view(theta)
            v = real_view(state["square_avg"])
            v *= alpha
            v += (1 - alpha) * g * g
            if group["centered"]:
                g_ave = real_view(state["grad_avg"])
                g_ave[...] = lerp(g_ave, g, 1 - alpha)
                avg = np.sqrt(v - g_ave * g_ave) + eps
            else:
                avg = np.sqrt(v) + eps
            if mu > 0:
                b = real_view(state["momentum_buffer"])
                b *= mu
                b += g / avg
                theta_r -= lr * b
            else:
                theta_r += -lr * g / avg

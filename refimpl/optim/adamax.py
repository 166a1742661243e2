r"""Adamax: Adam with the infinity norm in place of the second moment.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, betas :math:`\beta_1, \beta_2`,
weight decay :math:`\lambda`, eps :math:`\epsilon`)::

    g_t = -grad if maximize else grad
    if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    u_t = max(beta2 * u_{t-1}, |g_t| + epsilon)
    theta_t = theta_{t-1} - (gamma / (1 - beta1**t)) * m_t / u_t

Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (arXiv:1412.6980), section 7.1.

Where the reference meets torch's code rather than the paper:

- eps is added to ``|g_t|`` *inside* the max (the paper has no eps at all: ``u_t = max(beta2 u, |g_t|)``).
  So ``u_t >= epsilon`` always and the first step divides by ``|g_1| + epsilon``: the first update is
  ``gamma * g_1 / (|g_1| + epsilon)``, i.e. ``gamma * sign(g_1)`` when ``|g_1| >> epsilon``.
- The state key for ``u`` is ``exp_inf``; ``m`` is ``exp_avg``. torch multiplies ``exp_inf`` by ``beta2``
  in place and then takes the maximum; the reference does the same.
- NaN propagates through the max (``np.maximum``, like ``torch.maximum``).
- Complex parameters are optimized as (real, imag) pairs: ``u`` holds ``|Re g|`` and ``|Im g|``
  separately, not ``|g|``.
- Weight decay is coupled only (no ``decoupled_weight_decay`` option in torch's Adamax), and there is no
  betas "both floats" check and no ``fused`` flag (unlike Adam).
- Sparse gradients are rejected at ``step`` with torch's ``RuntimeError``. ``foreach``, ``capturable`` and
  ``differentiable`` do not change the math; ``capturable`` failing on CPU tensors in torch is not
  reproduced (the reference has no devices), see ``refimpl.optim.adam``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Table
from refimpl.optim.adam import ADAM_BOUNDS, decayed_gradient, lazy_states, zeros_state
from refimpl.optim.optimizer import Optimizer, lerp, real_view

TABLE = Table(ADAM_BOUNDS)


class Adamax(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        states = lazy_states(
            self,
            group,
            indices,
            params,
            grads,
            "Adamax does not support sparse gradients",
            zeros_state("exp_avg", "exp_inf"),
        )
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for theta, grad, state in zip(params, grads, states):
            state["step"] += 1
            t = state["step"]
            g = real_view(decayed_gradient(theta, grad, group))
            m, u = real_view(state["exp_avg"]), real_view(state["exp_inf"])
            m[...] = lerp(m, g, 1 - beta1)
            u *= beta2
            np.maximum(u, np.abs(g) + eps, out=u)

            clr = lr / (1 - beta1**t)
            theta_r = real_view(theta)
            theta_r -= clr * m / u

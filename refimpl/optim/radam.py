r"""RAdam: Adam with the variance of the adaptive learning rate rectified (a built-in warmup).

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, betas :math:`\beta_1, \beta_2`,
weight decay :math:`\lambda`, eps :math:`\epsilon`)::

    rho_inf = 2 / (1 - beta2) - 1
    g_t = -grad if maximize else grad
    if lambda != 0:
        theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)   if decoupled_weight_decay
        g_t = g_t + lambda * theta_{t-1}                    otherwise
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
    m_hat = m_t / (1 - beta1**t)
    rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
    if rho_t > 5:
        l_t = sqrt(1 - beta2**t) / (sqrt(v_t) + epsilon)
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        theta_t = theta_{t-1} - gamma * m_hat * l_t * r_t
    else:
        theta_t = theta_{t-1} - gamma * m_hat            (SGD with bias-corrected momentum)

Paper: Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond" (ICLR 2020,
arXiv:1908.03265).

Where the reference meets torch's code rather than the paper:

- The threshold is ``rho_t > 5``; the paper's Algorithm 2 says ``rho_t > 4``. torch took 5 from the
  authors' code (the choice is stated in pytorch/pytorch#58968, the PR that added RAdam); the reference
  follows torch. With the default ``beta2 = 0.999`` the first 5 steps are un-adapted momentum steps
  (rho_5 ~ 4.99, rho_6 ~ 5.99).
- eps is added to ``sqrt(v_t)`` (uncorrected) and ``sqrt(1 - beta2**t)`` is in the numerator of ``l_t``:
  the paper has no eps, and ``l_t = sqrt((1 - beta2**t) / v_t)``.
- The update is formed as torch's for-loop forms it, ``((m_hat * gamma) * l_t) * r_t``, then subtracted.
- ``decoupled_weight_decay`` (AdamW-style decay, which the authors' implementation uses) is an option;
  the default is the L2 penalty.
- Complex parameters are optimized as (real, imag) pairs (``real_view``), as in Adam.
- Sparse gradients are rejected at ``step`` with torch's ``RuntimeError``. ``foreach``, ``capturable`` and
  ``differentiable`` do not change the math; see ``refimpl.optim.adam`` for what is not reproduced.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Table
from refimpl.optim.adam import ADAM_BOUNDS, decayed_gradient, lazy_states, update_moments, zeros_state
from refimpl.optim.optimizer import Optimizer, real_view

TABLE = Table(ADAM_BOUNDS)


class RAdam(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "decoupled_weight_decay": False,
        "differentiable": False,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
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
            "RAdam does not support sparse gradients",
            zeros_state("exp_avg", "exp_avg_sq"),
        )
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for theta, grad, state in zip(params, grads, states):
            state["step"] += 1
            t = state["step"]
            g = real_view(decayed_gradient(theta, grad, group, group["decoupled_weight_decay"]))
            m, v = real_view(state["exp_avg"]), real_view(state["exp_avg_sq"])
            update_moments(m, v, g, beta1, beta2)

            bias_correction1 = 1 - beta1**t
            bias_correction2 = 1 - beta2**t
            m_hat = m / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2

            theta_r = real_view(theta)
            if rho_t > 5.0:
                l_t = (bias_correction2**0.5) / (np.sqrt(v) + eps)
                r_t = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                theta_r -= m_hat * lr * l_t * r_t
            else:
                theta_r -= m_hat * lr

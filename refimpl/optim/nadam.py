r"""NAdam: Adam with Nesterov momentum, with Dozat's momentum-decay schedule.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, betas :math:`\beta_1, \beta_2`,
weight decay :math:`\lambda`, momentum decay :math:`\psi`, eps :math:`\epsilon`)::

    g_t = -grad if maximize else grad
    if lambda != 0:
        theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)   if decoupled_weight_decay
        g_t = g_t + lambda * theta_{t-1}                    otherwise
    mu_t     = beta1 * (1 - 0.5 * 0.96**(t * psi))
    mu_{t+1} = beta1 * (1 - 0.5 * 0.96**((t + 1) * psi))
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
    denom = sqrt(v_t / (1 - beta2**t)) + epsilon
    theta_t = theta_{t-1} - gamma * (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g_t / denom
                          - gamma * mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m_t / denom

Paper: Dozat, "Incorporating Nesterov Momentum into Adam" (ICLR 2016 workshop); the ``0.96**(t psi)``
schedule with ``psi = 0.004`` is the paper's (there written ``0.96**(t/250)``).

Where the reference meets torch's code rather than its docs or the paper:

- ``beta1`` in the moment update and ``mu_t`` in the update are different numbers: ``m_t`` is an EMA with
  the constant ``beta1``, while the Nesterov weights use the decayed ``mu_t``. The product
  ``prod_{i<=t} mu_i`` is the state ``mu_product`` (initially 1).
- torch keeps ``mu_product`` as a scalar tensor of its default dtype (float32 unless
  ``torch.set_default_dtype(torch.float64)``), like ``step``, and multiplies it in that dtype every step:
  ``mu_product *= mu`` rounds ``mu`` and the product to float32 by default. That rounding reaches float64
  params at ~1e-9 relative after 30 steps (measured), far above float64 rounding (~1e-16), so the
  reference does the same (``_scalar_product``, in ``refimpl.optim.optimizer.get_default_dtype()``) and
  stores ``mu_product`` as a float holding a value of that dtype.
- ``1 - mu_product`` for the ``mu_{t+1}`` term is computed in float64 from the float32 ``mu_product``
  times ``mu_{t+1}`` (``mu_product_next`` is a Python float in torch's for-loop, never stored).
- The two terms are applied to theta one after the other (two ``addcdiv_``), in torch's order: the
  gradient term first, then the momentum term.
- The docs' box applies the decoupled decay as ``theta_{t-1} - gamma lambda theta_{t-1}``: the same.
- Complex parameters are optimized as (real, imag) pairs (``real_view``), as in Adam.
- Sparse gradients are rejected at ``step`` with torch's ``RuntimeError``. ``foreach``, ``capturable`` and
  ``differentiable`` do not change the math; see ``refimpl.optim.adam`` for what is not reproduced.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.adam import ADAM_BOUNDS, decayed_gradient, lazy_states, update_moments
from refimpl.optim.optimizer import Optimizer, get_default_dtype, real_view

TABLE = Table(
    (
        *ADAM_BOUNDS,
        Bound("momentum_decay", low=0.0, message="Invalid momentum_decay value: {value}"),
    )
)


def _scalar_product(a: float, b: float) -> float:
    """``a * b`` as torch computes ``scalar_tensor *= python_float``: both rounded to the tensor's dtype (the
    default dtype) first."""
    dtype = get_default_dtype()
    return float(dtype(a) * dtype(b))


def _new_state(theta: np.ndarray) -> dict[str, Any]:
    return {
        "step": 0.0,
        "mu_product": 1.0,
        "exp_avg": np.zeros_like(theta),
        "exp_avg_sq": np.zeros_like(theta),
    }


class NAdam(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "decoupled_weight_decay": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
    }
    scalar_state: ClassVar[tuple[str, ...]] = ("step", "mu_product")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        states = lazy_states(
            self, group, indices, params, grads, "NAdam does not support sparse gradients", _new_state
        )
        lr, (beta1, beta2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
        for theta, grad, state in zip(params, grads, states):
            state["step"] += 1
            t = state["step"]
            bias_correction2 = 1 - beta2**t
            g = real_view(decayed_gradient(theta, grad, group, group["decoupled_weight_decay"]))

            mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
            state["mu_product"] = mu_product = _scalar_product(state["mu_product"], mu)
            mu_product_next = mu_product * mu_next

            m, v = real_view(state["exp_avg"]), real_view(state["exp_avg_sq"])
            update_moments(m, v, g, beta1, beta2)
            denom = np.sqrt(v / bias_correction2) + eps

            theta_r = real_view(theta)
            theta_r += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
            theta_r += ((-lr * mu_next) / (1.0 - mu_product_next)) * m / denom

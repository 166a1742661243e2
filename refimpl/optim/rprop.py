r"""Rprop: resilient backpropagation, steps of a per-coordinate size that only the gradient's sign adapts.

Update rule, in the notation of torch's documentation (etas :math:`(\eta_-, \eta_+)`, step sizes
:math:`(\Gamma_{min}, \Gamma_{max})`), per coordinate ``i``; ``g_prev`` (``prev``) starts at zero and the
step size ``eta`` (``step_size``) at ``lr``::

    g_t = -grad if maximize else grad
    if g_prev * g_t > 0:   eta_t = eta_{t-1} * eta_plus
    elif g_prev * g_t < 0: eta_t = eta_{t-1} * eta_minus;  g_t = 0
    else:                  eta_t = eta_{t-1}
    eta_t = clamp(eta_t, Gamma_min, Gamma_max)
    theta_t = theta_{t-1} - eta_t * sign(g_t)
    g_prev = g_t

Paper: M. Riedmiller and H. Braun, "A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP
Algorithm" (1993). Setting the gradient to zero after a sign change (no step this time, and no step-size
change the next time) without reverting the previous step is the variant C. Igel and M. Hüsken call iRprop-
("Improving the Rprop Learning Algorithm", 2000).

Where the reference meets torch's code rather than its docs:

- torch clamps every step size on every step, including when the sign product is zero; its docs only clamp
  when the size grows or shrinks. The difference shows when ``lr`` lies outside ``step_sizes``: the first
  step is then already clamped. (Noted in the review of pytorch/pytorch#63866, which added the docs box.)
- The step sizes are initialised from the group's ``lr`` when the parameter's state is created (its first
  step with a gradient); later changes of ``lr`` have no effect on that parameter.
- ``step_sizes`` is not validated by torch; with ``Gamma_min > Gamma_max`` every step size becomes
  ``Gamma_max`` (clamp applies the minimum, then the maximum), as ``np.clip`` does.
- ``maximize`` is not in the docs' algorithm box; torch negates the gradient first, as here.
- The state holds ``step``, ``prev`` and ``step_size``.
- Complex parameters are optimized as (real, imag) pairs (``real_view``): each component has its own sign
  and step size, both starting at ``lr`` (torch fills with ``complex(lr, lr)``).
- Sparse gradients raise torch's ``RuntimeError("Rprop does not support sparse gradients")`` at step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view

_ETAS_MESSAGE = "Invalid eta values: {etas[0]}, {etas[1]}"

TABLE = Table(
    (
        # torch writes ``if not 0.0 <= lr`` and ``if not 0.0 < etas[0] < 1.0 < etas[1]``: NaN is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
        Bound("etas", low=0.0, high=1.0, low_open=True, high_open=True, index=0, message=_ETAS_MESSAGE),
        Bound("etas", low=1.0, low_open=True, index=1, message=_ETAS_MESSAGE),
    )
)


class Rprop(Optimizer):
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
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)

    @staticmethod
    def _clamp(eta: np.ndarray, direction: np.ndarray, low: float, high: float) -> None:
        """Every step size into ``[low, high]``, whatever the sign product ``direction`` (torch's code; the
        docs clamp only where the size changed: ``refimpl.documented.RpropAsDocumented``)."""
        eta[...] = np.clip(eta, low, high)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        if any(isinstance(grad, SparseGrad) for grad in grads):
            raise RuntimeError("Rprop does not support sparse gradients")
        eta_minus, eta_plus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for index, theta, grad in zip(indices, params, grads):
            state = self.state.setdefault(index, {})
            if not state:
                step_size = np.zeros_like(theta)
                real_view(step_size)[...] = group["lr"]
                state.update(step=0.0, prev=np.zeros_like(theta), step_size=step_size)
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            g, theta_r = real_view(g), real_view(theta)
            prev, eta = real_view(state["prev"]), real_view(state["step_size"])
            direction = np.sign(g * prev)
            factor = np.ones_like(g)
            factor[direction > 0] = eta_plus
            factor[direction < 0] = eta_minus
            eta *= factor
            self._clamp(eta, direction, step_size_min, step_size_max)
            g = np.where(direction < 0, 0, g)
            theta_r -= np.sign(g) * eta
            prev[...] = g

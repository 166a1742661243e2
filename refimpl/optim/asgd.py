r"""ASGD: averaged stochastic gradient descent (Polyak-Ruppert averaging) with a decaying step size.

torch's documentation gives no algorithm box; this is what its for-loop implementation does, in its own
names (lr :math:`\gamma`, decay term :math:`\lambda` = ``lambd``, power :math:`\alpha`, averaging start
:math:`t_0`, weight decay ``wd``). ``eta`` and ``mu`` are per-parameter state, starting at ``eta_0 = gamma``
and ``mu_0 = 1``; ``ax`` (the average) starts at zero::

    g_t = -grad if maximize else grad
    if wd != 0:  g_t = g_t + wd * theta_{t-1}
    theta_t = theta_{t-1} * (1 - lambda * eta_{t-1}) - eta_{t-1} * g_t
    ax_t = theta_t                                       if mu_{t-1} == 1
    ax_t = ax_{t-1} + mu_{t-1} * (theta_t - ax_{t-1})    otherwise
    eta_t = gamma / (1 + lambda * gamma * t) ** alpha
    mu_t = 1 / max(1, t - t0)

So ``ax`` copies the parameter while ``t <= t0 + 2``; for an integer ``t0`` it is then the running mean
``ax_t = mean(theta_{t0+2}, ..., theta_t)`` (the ``k``-th iterate of the mean enters with ``mu = 1/k``). For a
non-integer ``t0``, ``mu`` is ``1 / (t - 1 - t0)``, not ``1/k``: a weighted average, as torch computes it.
The parameter itself is the plain SGD iterate, never the average: a user reads the average from
``state[...]["ax"]``.

Paper: B. T. Polyak and A. B. Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J.
Control Optim. 30(4) (1992); the step-size schedule is L. Bottou's, "Stochastic Gradient Descent Tricks"
(2012), section 5.3 (``eta_t = eta_0 / (1 + lambda eta_0 t)**0.75``).

Where the reference meets torch's code:

- ``eta`` and ``mu`` are computed at the *end* of a step and used by the next one: the first step uses
  ``eta_0 = lr``, and a new ``lr`` set on the param group takes effect one step late (through ``eta_t``).
  ``eta_0`` is the group's ``lr`` when the parameter's state is created (its first step with a gradient).
- The decay ``theta * (1 - lambda * eta)`` is applied before the gradient step, with the same ``eta``.
- torch keeps ``step``, ``eta`` and ``mu`` as scalar tensors of the default dtype, float32: each new
  ``eta`` and ``mu`` is computed in double precision and *stored rounded to float32* (relative error up to
  6e-8), and the rounded value is what the next step uses, whatever the params' dtype. That is torch's
  code under its default settings and no upstream issue calls it a bug, so the spec follows it (as NAdam's
  ``mu_product`` does): ``eta`` and ``mu`` are floats holding float32 values (``scalar``). Under
  ``torch.set_default_dtype(torch.float64)`` torch keeps them in float64, and so does the reference under
  ``refimpl.optim.optimizer.set_default_dtype(np.float64)``.
- ``lambd``, ``alpha`` and ``t0`` are not validated by torch (negative values are accepted); neither are
  they here.
- Complex parameters are optimized as (real, imag) pairs (``real_view``).
- Sparse gradients raise torch's ``RuntimeError("ASGD does not support sparse gradients")`` at step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view, scalar

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= x``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
        Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}"),
    )
)


class ASGD(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }
    scalar_state: ClassVar[tuple[str, ...]] = ("step", "eta", "mu")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
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
        if any(isinstance(grad, SparseGrad) for grad in grads):
            raise RuntimeError("ASGD does not support sparse gradients")
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        weight_decay = group["weight_decay"]
        for index, theta, grad in zip(indices, params, grads):
            state = self.state.setdefault(index, {})
            if not state:
                state.update(step=0.0, eta=scalar(lr), mu=1.0, ax=np.zeros_like(theta))
            g = -grad if group["maximize"] else grad
            g, theta_r, ax = real_view(g), real_view(theta), real_view(state["ax"])
            state["step"] += 1
            if weight_decay != 0:
                g = g + weight_decay * theta_r
            eta, mu = state["eta"], state["mu"]
            theta_r *= 1 - lambd * eta
            theta_r -= eta * g
            if mu != 1:
                ax += (theta_r - ax) * mu
            else:
                ax[...] = theta_r
            t = state["step"]
            state["eta"] = scalar(lr / ((1 + lambd * lr * t) ** alpha))
            state["mu"] = scalar(1 / max(1, t - t0))

r"""SGD: stochastic gradient descent, optionally with (Nesterov) momentum.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, weight decay :math:`\lambda`,
momentum :math:`\mu`, dampening :math:`\tau`)::

    g_t = -grad if maximize else grad
    if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
    if mu != 0:
        b_t = g_t                               if t == 1
        b_t = mu * b_{t-1} + (1 - tau) * g_t    otherwise
        g_t = g_t + mu * b_t                    if nesterov
        g_t = b_t                               otherwise
    theta_t = theta_{t-1} - gamma * g_t

Papers: Sutskever et al., "On the importance of initialization and momentum in deep learning" (2013) for
the Nesterov form; torch's momentum differs from Sutskever's (the lr multiplies the buffer, not the
gradient), as torch's documentation notes.

Where the reference meets torch's code rather than its docs:

- Dampening is not applied on the first step: the buffer starts as the gradient itself (the docs' algorithm
  box shows this too, as ``t > 1``). A "dampening on the first step" implementation is a classic port bug.
- No ``step`` counter is kept: the state holds only ``momentum_buffer``, and only when ``momentum != 0``.
- Sparse gradients (``SparseGrad``): the update equals the dense one with the sparse rows summed. torch keeps
  the momentum buffer sparse; the reference stores it dense (same values). With ``weight_decay != 0``
  torch fails with ``add(sparse, dense)``; the reference raises the same error.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Rule, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad

TABLE = Table(
    (
        # torch writes these as ``if lr < 0.0``: NaN passes.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}", accepts_nan=True),
        Bound("momentum", low=0.0, message="Invalid momentum value: {value}", accepts_nan=True),
        Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}", accepts_nan=True),
        Rule(
            ("nesterov", "momentum", "dampening"),
            lambda h: not (h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0)),
            "Nesterov momentum requires a momentum and zero dampening",
        ),
    )
)


class SGD(Optimizer):
    table = TABLE
    # torch's SGD.__setstate__ fills ``fused`` with False, though its constructor's default is None.
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        TABLE.validate(defaults)
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        super().__init__(params, defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        weight_decay = group["weight_decay"]
        for index, theta, grad in zip(indices, params, grads):
            if isinstance(grad, SparseGrad):
                if weight_decay != 0:
                    raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
                grad = grad.to_dense()
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            if mu != 0:
                state = self.state.setdefault(index, {})
                b = state.get("momentum_buffer")
                if b is None:
                    b = g.copy()
                else:
                    b = mu * b + (1 - tau) * g
                state["momentum_buffer"] = b
                g = g + mu * b if group["nesterov"] else b
            theta -= lr * g

r"""Adagrad: per-coordinate steps scaled by the root of the sum of all past squared gradients.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, lr decay :math:`\eta`, weight
decay :math:`\lambda`, initial accumulator value :math:`\tau`)::

    state_sum_0 = tau
    g_t = -grad if maximize else grad
    gamma~ = gamma / (1 + (t - 1) * eta)
    if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
    state_sum_t = state_sum_{t-1} + g_t**2                          (sum)
    theta_t = theta_{t-1} - gamma~ * g_t / (sqrt(state_sum_t) + eps)

Paper: J. Duchi, E. Hazan, Y. Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization", JMLR 12 (2011), the diagonal variant.

Where the reference meets torch's code rather than its docs:

- State is created in the *constructor*, for every parameter: ``step = 0`` and ``sum = tau``. A parameter
  that never gets a gradient still appears in ``state_dict()["state"]``. Parameters of a group added later
  with ``add_param_group`` get their state lazily, at their first step with a gradient.
- ``tau`` is always the optimizer's ``initial_accumulator_value`` (the constructor argument, i.e.
  ``defaults``): a param group's own ``initial_accumulator_value`` is stored in the group but never used,
  both at construction and for lazily created state.
- ``eps`` is added outside the square root; ``gamma~`` uses the step count after incrementing it, so the
  first step uses ``gamma`` itself.
- ``maximize`` is not in the docs' algorithm box; torch negates the gradient first, as here.
- Complex parameters are optimized as (real, imag) pairs (``real_view``); ``tau`` initialises both
  components (torch fills with ``complex(tau, tau)``).
- Sparse gradients (``SparseGrad``): the gradient is coalesced (repeated rows summed) and only its rows of
  ``sum`` and of the parameter are updated; every other row is left as it is. For a real parameter this is
  exactly the dense update with the sparse gradient made dense (a zero row changes nothing). With
  ``weight_decay != 0`` torch raises ``RuntimeError("weight_decay option is not compatible with sparse
  gradients")`` when it reaches that parameter, after updating the group's earlier parameters and after
  counting the step; so does the reference.
- Sparse gradients of a *complex* parameter: torch's sparse path does not take ``view_as_real`` and squares
  the complex values (``sum`` gets ``g**2``, not the squares of the components), unlike every other path of
  every optimizer. torch's policy is that complex parameters are optimized as real pairs
  (pytorch/pytorch#65711); pytorch/pytorch#66672 added a test recording that Adagrad cannot handle sparse
  complex gradients. The reference follows the intended behaviour: the sparse rows are updated as real
  pairs, exactly as the dense update would update them.
- ``fused=True``: torch checks, at the first step, that the first parameter with a gradient is real
  floating point (message naming torch's fused-kernel devices), then rejects any sparse gradient or complex
  parameter in a group; the reference raises the same errors. The math is unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= x``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
        Bound("lr_decay", low=0.0, message="Invalid lr_decay value: {value}"),
        Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}"),
        Bound(
            "initial_accumulator_value", low=0.0, message="Invalid initial_accumulator_value value: {value}"
        ),
        Bound("eps", low=0.0, message="Invalid epsilon value: {value}"),
    )
)

# torch's ``_get_fused_kernels_supported_devices()``, as it appears in its fused dtype/device error message.
FUSED_DEVICES = ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]


class Adagrad(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "fused": None,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)
        # torch checks these after building the param groups (SGD checks them before).
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        self._fused_check_pending = bool(fused)
        for index, _, theta in self.indexed_params():
            self._init_state(index, theta)

    def _init_state(self, index: int, theta: np.ndarray) -> None:
        state_sum = np.zeros_like(theta)
        real_view(state_sum)[...] = self.defaults["initial_accumulator_value"]
        self.state[index] = {"step": 0.0, "sum": state_sum}

    def _check_fused(self, indices: list[int], params: list[np.ndarray], grads: list[Any]) -> None:
        for index, theta in zip(indices, params):
            if self._fused_check_pending or index not in self.state:
                self._fused_check_pending = False
                if theta.dtype.kind != "f":
                    raise RuntimeError(
                        "`fused=True` requires all the params to be floating point Tensors of "
                        f"supported devices: {FUSED_DEVICES} but torch.{theta.dtype.name} and cpu"
                    )
        if any(isinstance(g, SparseGrad) for g in grads) or any(np.iscomplexobj(p) for p in params):
            raise RuntimeError("`fused` does not support sparse grad or complex param")

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        if group["fused"]:
            self._check_fused(indices, params, grads)
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        for index, theta, grad in zip(indices, params, grads):
            if index not in self.state:
                self._init_state(index, theta)
            state = self.state[index]
            state["step"] += 1
            g = _negative(grad) if group["maximize"] else grad
            if weight_decay != 0:
                if isinstance(g, SparseGrad):
                    raise RuntimeError("weight_decay option is not compatible with sparse gradients")
                g = g + weight_decay * theta
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            state_sum, theta_r = real_view(state["sum"]), real_view(theta)
            if isinstance(g, SparseGrad):
                # Only the gradient's rows (unique after coalescing) of sum and theta change.
                g = g.coalesce()
                rows, g_rows = g.indices, real_view(g.values)
                state_sum[rows] += g_rows * g_rows
                std = np.sqrt(state_sum[rows]) + eps
                theta_r[rows] += -clr * (g_rows / std)
            else:
                g = real_view(g)
                state_sum += g * g
                std = np.sqrt(state_sum) + eps
                theta_r += -clr * g / std


def _negative(grad: np.ndarray | SparseGrad) -> np.ndarray | SparseGrad:
    if isinstance(grad, SparseGrad):
        return SparseGrad(grad.indices, -grad.values, grad.shape)
    return -grad

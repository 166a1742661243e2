r"""SparseAdam: Adam restricted to the rows a sparse gradient names ("masked" Adam).

Update rule, in the notation of torch's documentation for Adam (lr :math:`\gamma`, betas
:math:`\beta_1, \beta_2`, :math:`\epsilon`), applied to the rows ``I`` present in the coalesced sparse
gradient ``g`` at step ``t`` and to no other row of ``m``, ``v`` or ``theta``::

    g_t = -grad if maximize else grad            (rows repeated in grad are summed: coalescing)
    m_t[I] = beta1 * m_{t-1}[I] + (1 - beta1) * g_t[I]
    v_t[I] = beta2 * v_{t-1}[I] + (1 - beta2) * g_t[I] ** 2
    step_size = gamma * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    theta_t[I] = theta_{t-1}[I] - step_size * m_t[I] / (sqrt(v_t[I]) + eps)

State: ``step`` (one counter per parameter, advanced on every step that gives the parameter a gradient,
whichever rows it names), ``exp_avg`` (m) and ``exp_avg_sq`` (v), dense, of the parameter's shape.

Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2014), https://arxiv.org/abs/1412.6980.
The masked variant is torch's; it is not in the paper. It is intended for ``nn.Embedding(sparse=True)``:
gradients given as ``SparseGrad`` (row indices and row values).

Where the reference meets torch's code rather than its docs:

- The moment updates are written as torch writes them, in the "increment" form
  ``m[I] += (g[I] - m[I]) * (1 - beta1)`` and ``v[I] += (g[I] ** 2 - v[I]) * (1 - beta2)``, and the step is
  ``theta[I] += -step_size * (m[I] / (sqrt(v[I]) + eps))`` (quotient first). Algebraically the docs' rule.
- The bias corrections use the parameter's own ``step``, which counts steps in which it had a gradient,
  not the steps in which a given row was present: a row seen for the first time at step 10 gets step 10's
  bias correction applied to a moment that holds one gradient. This is what "masked Adam" means in torch.
- A sparse gradient with no stored values (``nnz == 0``) still counts the step and creates the state, but
  changes nothing else (torch: "Skip update for empty grad").
- ``step`` is a Python int, as in torch (which keeps it an int here, unlike its other optimizers).
- A dense gradient is rejected at step with torch's ``RuntimeError`` and message. As in torch, parameters
  of the same group checked before the offending one have already had their state created and their
  ``step`` counted (and earlier groups have been updated) when the error is raised.
- Complex parameters are rejected at construction with torch's ``ValueError``, naming them by
  ``[group, position]``. torch also rejects sparse *parameters* there; a NumPy array is always dense, and a
  ``SparseGrad`` given as a parameter is refused by the base class as a non-array, so that check has no
  counterpart. Neither check is repeated for groups added later with ``add_param_group``, as in torch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 < lr``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, low_open=True, message="Invalid learning rate: {value}"),
        Bound("eps", low=0.0, low_open=True, message="Invalid epsilon value: {value}"),
        Bound(
            "betas",
            low=0.0,
            high=1.0,
            high_open=True,
            index=0,
            message="Invalid beta parameter at index 0: {value}",
        ),
        Bound(
            "betas",
            low=0.0,
            high=1.0,
            high_open=True,
            index=1,
            message="Invalid beta parameter at index 1: {value}",
        ),
    )
)


class SparseAdam(Optimizer):
    table = TABLE
    scalar_state: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        TABLE.validate(defaults)
        super().__init__(params, defaults)
        complex_params = [
            [g, i]
            for g, group in enumerate(self.param_groups)
            for i, p in enumerate(group["params"])
            if np.iscomplexobj(p)
        ]
        if complex_params:
            raise ValueError(
                f"Complex params at indices {complex_params}: SparseAdam does not support complex parameters"
            )

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        # torch checks each gradient, creates the state and counts the step before any update
        for index, theta, grad in zip(indices, params, grads):
            if not isinstance(grad, SparseGrad):
                raise RuntimeError(
                    "SparseAdam does not support dense gradients, please consider Adam instead"
                )
            state = self.state.setdefault(index, {})
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(theta)
                state["exp_avg_sq"] = np.zeros_like(theta)
            state["step"] += 1
        lr, eps, maximize = group["lr"], group["eps"], group["maximize"]
        beta1, beta2 = group["betas"]
        for index, theta, grad in zip(indices, params, grads):
            if maximize:
                grad = SparseGrad(grad.indices, -grad.values, grad.shape)
            g = grad.coalesce()
            if g.values.size == 0:
                continue
            I = g.indices  # noqa: E741 -- the docs' name for the set of rows
            state = self.state[index]
            m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
            m_update = (g.values - m[I]) * (1 - beta1)
            v_update = (g.values**2 - v[I]) * (1 - beta2)
            m[I] += m_update
            v[I] += v_update
            step_size = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
            theta[I] += -step_size * (m[I] / (np.sqrt(v[I]) + eps))

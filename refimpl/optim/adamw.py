r"""AdamW: Adam with decoupled weight decay, as a thin subclass of ``Adam`` (torch 2.13's structure).

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, weight decay :math:`\lambda`)::

    theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)
    ... then Adam's step, on the decayed theta, with g_t = grad (-grad if maximize), no L2 term

i.e. ``Adam(..., decoupled_weight_decay=True)``; see ``refimpl.optim.adam`` for the Adam step and the
places where torch's code and docs differ.

Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019, arXiv:1711.05101).

Where the reference meets torch's code:

- The decay is ``theta * (1 - lr * weight_decay)``: the paper's schedule multiplier ``eta_t`` is the lr
  itself, so the decay follows lr schedules (the paper decouples it from lr; torch does not).
- The default ``weight_decay`` is ``1e-2`` (Adam's is 0).
- ``param_groups`` carry ``decoupled_weight_decay: True`` (AdamW is Adam with that flag), and it is forced
  back to ``True`` after ``load_state_dict``, as torch's ``AdamW.__setstate__`` does. AdamW's constructor
  has no ``decoupled_weight_decay`` argument.
"""

from __future__ import annotations

from typing import Any

from refimpl.optim.adam import TABLE, Adam

__all__ = ["TABLE", "AdamW"]  # AdamW's checks are Adam's: its constructor is Adam's


class AdamW(Adam):
    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def _setstate(self) -> None:
        super()._setstate()
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

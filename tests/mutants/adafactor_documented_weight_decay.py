"""Adafactor as its documentation's argument list describes it: weight_decay defaults to 1e-2 (torch's code:
0.0). The suite must fail it and say that it follows the documentation (spec note
adafactor-weight-decay-default)."""

from typing import Any

import torch

# A default is read by test_defaults (an API check): the other checks, property examples included, pass
# torch's defaults explicitly where a class has others.
CAUGHT_BY = "api"


class Adafactor(torch.optim.Adafactor):
    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 1e-2,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, beta2_decay, eps, d, weight_decay, foreach=foreach, maximize=maximize)

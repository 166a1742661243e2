"""Classes without some of torch's options, as many libraries' are: SGD without ``dampening``, ``nesterov``
and ``maximize``; Adam without ``amsgrad``. What they have is torch's arithmetic."""

from __future__ import annotations

from typing import Any

import torch


class SGD(torch.optim.SGD):
    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        *,
        foreach: Any = None,
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=foreach)


class Adam(torch.optim.Adam):
    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        foreach: Any = None,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach)

"""Classes without some of torch's options, as many libraries' are: SGD without ``dampening``, ``nesterov``
and ``maximize``; Adam without ``amsgrad``. What they have is torch's arithmetic."""

from __future__ import annotations

from typing import Any

import torch


class SGD(torch.optim.SGD):
    # A wrong port's momentum: the buffer's old value weighted by this times ``momentum``.
    momentum_error = 1.0

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

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if self.momentum_error == 1.0:
            return super().step(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad + group["weight_decay"] * p if group["weight_decay"] else p.grad
                if group["momentum"]:
                    buf = self.state[p].get("momentum_buffer")
                    buf = d.clone() if buf is None else buf * group["momentum"] * self.momentum_error + d
                    self.state[p]["momentum_buffer"] = buf
                    d = buf
                p.add_(d, alpha=-group["lr"])
        return None


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

"""``missing_options`` with SGD's momentum wrong (the old buffer weighted by 1.1 x momentum).

Its own ``step`` (no ``super().step()``: a subclass calling it would run torch's step hooks twice, which the
hook checks rightly flag, and that is not this fake's defect)."""

from __future__ import annotations

from typing import Any

import torch

from fakes import missing_options
from fakes.missing_options import Adam


class SGD(missing_options.SGD):
    # A wrong port's momentum: the buffer's old value weighted by this times ``momentum``.
    momentum_error = 1.1

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
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


__all__ = ["SGD", "Adam"]

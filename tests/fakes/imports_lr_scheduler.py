"""A library that imports torch's ``lr_scheduler`` module (for its base class) and defines its own StepLR
(here a plain re-implementation of torch's); its StepLR, not torch's, must be the one tested."""

from __future__ import annotations

from typing import Any

from torch.optim import SGD, lr_scheduler  # noqa: F401


class StepLR(lr_scheduler.LRScheduler):
    # A wrong port's schedule: decays this many epochs late.
    late = 0

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch = self.last_epoch - self.late
        if epoch <= 0 or epoch % self.step_size:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """What torch's schedulers give when stepped with an epoch (SequentialLR restarts each phase so)."""
        epoch = max(self.last_epoch - self.late, 0)
        return [base_lr * self.gamma ** (epoch // self.step_size) for base_lr in self.base_lrs]

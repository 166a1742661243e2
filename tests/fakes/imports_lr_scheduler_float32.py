"""``imports_lr_scheduler`` whose StepLR computes in float32, as optax's schedules do (its int32 step count
makes JAX's arithmetic float32): torch's lrs within float32 rounding, which a ``[[tolerance]]`` entry
allows."""

from __future__ import annotations

import numpy as np
from torch.optim import SGD, lr_scheduler  # noqa: F401

from fakes import imports_lr_scheduler


class StepLR(imports_lr_scheduler.StepLR):
    def get_lr(self) -> list[float]:
        return [float(np.float32(lr)) for lr in super().get_lr()]

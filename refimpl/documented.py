"""What torch's documentation describes where torch's code does something else: not the spec.

The reference follows torch's code and records each disagreement in its docstring; the harness keeps them
as spec notes (``conformance/spec_notes.toml``). Where the documented behaviour can be run, it is here: a
subclass of the reference class that does what the documentation says, named ``<Class>AsDocumented``. The
harness runs one only after a candidate has failed a case, to tell the user that the candidate follows the
documentation instead of the code. Nothing else uses these classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refimpl.lr_scheduler.constant_lr import ConstantLR
from refimpl.lr_scheduler.cosine_annealing_lr import CosineAnnealingLR
from refimpl.lr_scheduler.reduce_lr_on_plateau import ReduceLROnPlateau
from refimpl.lr_scheduler.scheduler import group_values
from refimpl.optim.adafactor import Adafactor
from refimpl.optim.lbfgs import LBFGS
from refimpl.optim.rprop import Rprop


class AdafactorAsDocumented(Adafactor):
    """The docs' argument list: ``weight_decay`` defaults to 1e-2 (the code: 0.0)."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 1e-2,
        **kwargs: Any,
    ) -> None:
        super().__init__(params, lr, beta2_decay, eps, d, weight_decay, **kwargs)


class LBFGSAsDocumented(LBFGS):
    """The docs: ``max_eval`` defaults to ``max_iter * 1.25`` (the code: ``max_iter * 5 // 4``)."""

    def __init__(self, params: Any, lr: float = 1, max_iter: int = 20, max_eval: Any = None, **kwargs: Any):
        super().__init__(params, lr, max_iter, max_iter * 1.25 if max_eval is None else max_eval, **kwargs)


class RpropAsDocumented(Rprop):
    """The docs' algorithm box: a step size is clamped only when it grows or shrinks (the code clamps every
    step size on every step, so an ``lr`` outside ``step_sizes`` is clamped at the first step)."""

    @staticmethod
    def _clamp(eta: np.ndarray, direction: np.ndarray, low: float, high: float) -> None:
        eta[...] = np.where(direction != 0, np.clip(eta, low, high), eta)


class ConstantLRAsDocumented(ConstantLR):
    """The docs' closed form at ``total_iters = 0``: the factor applies for no epoch, the lr stays
    ``initial_lr`` (the code applies the factor at construction and never undoes it)."""

    def get_lr(self) -> list[float]:
        if self.total_iters == 0:
            return group_values(self.optimizer, "lr")
        return super().get_lr()


class CosineAnnealingLRAsDocumented(CosineAnnealingLR):
    """The closed form ``get_lr``'s docstring quotes, every epoch (the code's recursive form keeps an lr set
    by hand and follows it)."""

    def get_lr(self) -> list[float]:
        return self._get_closed_form_lr()


class ReduceLROnPlateauAsDocumented(ReduceLROnPlateau):
    """The docs' intent for ``threshold_mode="rel"`` ("to only focus on significant changes"): a new value
    must beat ``best`` by ``threshold`` times its magnitude. The code's (and the docs' formula's) ``best * (1
    -/+ threshold)`` moves the threshold the wrong way for a negative ``best``."""

    def _is_better(self, a: float, best: float) -> bool:
        if self.threshold_mode != "rel" or not np.isfinite(best):
            return super()._is_better(a, best)
        margin = abs(best) * self.threshold
        return a < best - margin if self.mode == "min" else a > best + margin

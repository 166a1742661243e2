r"""ReduceLROnPlateau: multiply the lr by ``factor`` when a metric stops improving for ``patience`` steps.

Not a schedule of the step count: each ``step(metrics)`` reads one metric value :math:`a` and keeps
:math:`\text{best}` (initially :math:`+\infty` in ``min`` mode, :math:`-\infty` in ``max``). :math:`a` is
*better* when, with :math:`\tau` = ``threshold``:

======  ===========================================  ====================================
mode    ``rel``                                      ``abs``
======  ===========================================  ====================================
min     :math:`a < \text{best} \cdot (1 - \tau)`     :math:`a < \text{best} - \tau`
max     :math:`a > \text{best} \cdot (1 + \tau)`     :math:`a > \text{best} + \tau`
======  ===========================================  ====================================

Each step, in this order: a better :math:`a` becomes ``best`` and resets ``num_bad_epochs`` to 0,
otherwise ``num_bad_epochs += 1``; during cooldown (``cooldown_counter > 0``) the counter is decremented
and ``num_bad_epochs`` forced to 0; if ``num_bad_epochs > patience``, every group's lr becomes
:math:`\max(\eta \cdot \text{factor}, \eta_{min,i})`, applied only if it lowers the lr by more than
``eps``, and ``cooldown_counter = cooldown``, ``num_bad_epochs = 0``. So with ``patience = p`` the first
reduction comes on the :math:`(p + 1)`-th consecutive non-improving step.

Where the reference follows torch's code:

- torch's ReduceLROnPlateau subclasses LRScheduler but never calls its constructor: no ``initial_lr``,
  no initial step, no ``_step_count``, the optimizer's ``step`` is not wrapped, no step-order warnings;
  ``last_epoch`` starts at 0. ``factor >= 1`` is rejected *before* the optimizer's type is checked.
- ``rel`` mode with a negative ``best`` moves the threshold the wrong way (``best * (1 - tau)`` is
  *above* a negative best in ``min`` mode, so slightly worse values count as improvements):
  pytorch/pytorch#47513 and #38622 (both open). The docs give exactly this formula, but describe the
  threshold as a margin "to only focus on significant changes", which it is not for a negative ``best``
  (spec note ``reducelronplateau-negative-rel-threshold``). The reference keeps torch's formula; use
  ``abs`` mode for metrics that can be negative.
- If param groups are added after construction, a scalar ``min_lr`` is re-broadcast at the next
  reduction; a list ``min_lr`` raises torch's RuntimeError there.
- ``step(metrics, epoch)`` with an explicit epoch (deprecated) warns and sets ``last_epoch``; the epoch
  plays no other part.
- ``load_state_dict`` re-derives ``mode_worse`` from the loaded ``mode`` (``_init_is_better``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, SupportsFloat

from refimpl.lr_scheduler._momentum import check_optimizer
from refimpl.lr_scheduler.scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler, group_values
from refimpl.optim._validation import Bound, Rule, Table
from refimpl.optim.optimizer import Optimizer

# ``if factor >= 1.0``: NaN passes.
FACTOR_TABLE = Table(
    (Bound("factor", high=1.0, high_open=True, message="Factor should be < 1.0.", accepts_nan=True),)
)
# torch builds these messages with ``+`` (a non-string mode is a TypeError there, formatted here).
MODE_TABLE = Table(
    (
        Rule(("mode",), lambda h: h["mode"] in {"min", "max"}, "mode {mode} is unknown!"),
        Rule(
            ("threshold_mode",),
            lambda h: h["threshold_mode"] in {"rel", "abs"},
            "threshold mode {threshold_mode} is unknown!",
        ),
    )
)


class ReduceLROnPlateau(LRScheduler):
    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        FACTOR_TABLE.validate({"factor": factor})
        self.factor = factor
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr: float | None = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = group_values(self.optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        """No best yet (the worst value of the mode), no cooldown, no bad epochs."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat, epoch: int | None = None) -> None:  # type: ignore[override]
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch

        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count

        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch: int) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    "The number of param groups in the `optimizer` "
                    f"({len(self.optimizer.param_groups)}) differs "
                    f"from when `ReduceLROnPlateau` was initialized "
                    f"({len(self.min_lrs)}), usually due to a new "
                    "param group being added to the optimizer. Please "
                    "modify the `min_lrs` field to match the length "
                    "of the `optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        MODE_TABLE.validate({"mode": mode, "threshold_mode": threshold_mode})
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)

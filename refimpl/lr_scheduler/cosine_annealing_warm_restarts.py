r"""CosineAnnealingWarmRestarts: cosine annealing from the initial lr to ``eta_min``, restarted every
:math:`T_i` epochs, with :math:`T_i` growing by ``T_mult`` after each restart (SGDR).

Paper: I. Loshchilov and F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (ICLR 2017).
With :math:`\eta_{max}` the group's ``initial_lr``, :math:`T_{cur}` the epochs since the last restart and
:math:`T_i` the length of the current run:

.. math::
    \eta_t = \eta_{min} + \tfrac{1}{2}(\eta_{max} - \eta_{min})\left(1 + \cos\left(\frac{T_{cur}}{T_i}\pi
    \right)\right)

computed as ``eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` (torch's order).

Bookkeeping, as torch's ``step``:

- ``step()``: ``T_cur += 1``; when ``T_cur >= T_i``: ``T_cur = T_cur % T_i`` and ``T_i *= T_mult``.
  ``last_epoch += 1``. The constructor's initial step sets epoch 0.
- ``step(epoch)`` (may be fractional, e.g. ``epoch + i / iters`` within an epoch): for ``epoch < T_0``,
  ``T_i = T_0`` and ``T_cur = epoch``; otherwise, with ``T_mult == 1``, ``T_cur = epoch % T_0``; with
  ``T_mult > 1`` the restart index :math:`n = \lfloor \log_{T_{mult}}(\text{epoch} / T_0 \cdot (T_{mult}
  - 1) + 1) \rfloor` (the geometric series :math:`T_0 (T_{mult}^n - 1)/(T_{mult} - 1)` of the run lengths
  before it), ``T_cur = epoch - T_0 (T_mult^n - 1) / (T_mult - 1)`` and ``T_i = T_0 T_mult^n``.
  ``last_epoch = floor(epoch)``. A negative epoch raises torch's ValueError.

Where the reference follows torch's code:

- ``step`` is overridden wholesale: it neither counts ``_step_count`` (it stays 0) nor warns about the
  step order, and ``step(epoch)`` does *not* emit the epoch deprecation warning.
- :math:`n` is computed with ``int(math.log(x, T_mult))``: at an exact restart boundary floating point
  may put the log just below the integer, giving the previous run with :math:`T_{cur} = T_i` (lr =
  ``eta_min``) instead of the next run at :math:`T_{cur} = 0`. Example: ``T_0=2, T_mult=3``,
  ``step(242)`` (the 5th restart): ``math.log(243, 3)`` is ``4.999999999999999``, so torch sets
  ``T_cur = T_i = 162`` and the lr to ``eta_min`` where the docs' rule ("when :math:`T_{cur} = 0` after
  restart, set :math:`\eta_t = \eta_{max}`") gives :math:`\eta_{max}`. We found no upstream report;
  the reference uses torch's expression, so it agrees with torch here (spec note
  ``cosineannealingwarmrestarts-restart-rounding``).
- Resuming with ``last_epoch = k >= 0`` starts from ``T_cur = k`` with ``T_i = T_0``: the first step
  wraps ``T_cur`` once, so for ``T_mult > 1`` and :math:`k` past the second restart the position is wrong
  (pytorch/pytorch#88791; the fix proposed in PR #110497 is not in torch 2.13). The reference reproduces
  torch's behaviour; resume through ``state_dict``/``load_state_dict`` instead, which is exact.
"""

from __future__ import annotations

import math

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(
    (
        Rule(
            ("T_0",),
            lambda h: not (h["T_0"] <= 0 or not isinstance(h["T_0"], int)),
            "Expected positive integer T_0, but got {T_0}",
        ),
        Rule(
            ("T_mult",),
            lambda h: not (h["T_mult"] < 1 or not isinstance(h["T_mult"], int)),
            "Expected integer T_mult >= 1, but got {T_mult}",
        ),
        Rule(
            ("eta_min",),
            lambda h: isinstance(h["eta_min"], (float, int)),
            "Expected float or int eta_min, but got {eta_min} of type {eta_min_type}",
        ),
    )
)


class CosineAnnealingWarmRestarts(LRScheduler):
    def __init__(
        self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        TABLE.validate({"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min, "eta_min_type": type(eta_min)})
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base_lr in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** (n)
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)

        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

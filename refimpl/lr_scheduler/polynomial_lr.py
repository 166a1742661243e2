r"""PolynomialLR: decay the lr polynomially to zero over ``total_iters`` epochs.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`T` = ``total_iters``, :math:`p` =
``power``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * (1 - min(T, t) / T) ** p

Recursive form, which ``step()`` follows (ratio of consecutive closed-form factors)::

    eta_t = eta_{t-1} * ((1 - t / T) / (1 - (t - 1) / T)) ** p     for 1 <= t <= T
    eta_t = eta_{t-1}                                              for t > T, and on the constructor's step

Where the reference meets torch's code rather than its docs:

- No validation. ``total_iters = 0``: the recursive form never changes the lr (``t > T`` from the first
  step), the closed form divides by zero (``ZeroDivisionError``).
- At ``t = T`` the factor is ``0 ** p``: the lr becomes exactly 0 for ``p > 0`` and stays 0; for
  ``p = 0`` it is ``0.0 ** 0 = 1``.
- The class docstring in torch lists no ``last_epoch`` argument, but the constructor takes one.
"""

from __future__ import annotations

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(())  # torch validates none of PolynomialLR's arguments


class PolynomialLR(LRScheduler):
    def __init__(
        self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        t, total = self.last_epoch, self.total_iters
        if self._is_initial or t > total:
            return group_values(self.optimizer, "lr")
        decay_factor = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        total = self.total_iters
        return [
            base_lr * (1.0 - min(total, self.last_epoch) / total) ** self.power for base_lr in self.base_lrs
        ]

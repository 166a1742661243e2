r"""ExponentialLR: multiply the lr by ``gamma`` every epoch.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * gamma ** t

Recursive form, which ``step()`` follows::

    eta_t = eta_{t-1} * gamma     (the constructor's step leaves the lr as it is)

Where the reference meets torch's code rather than its docs:

- ``gamma`` is not validated (negative, zero, NaN, > 1 all accepted).
- After ``n`` steps the recursive form has rounded ``n`` products; it need not equal ``gamma ** n`` to the
  last bit, and the closed form (``step(epoch)``) can differ from it by those roundings.
"""

from __future__ import annotations

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(())  # torch validates none of ExponentialLR's arguments


class ExponentialLR(LRScheduler):
    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        # On the constructor's step (also when resuming) the lr is already the one for last_epoch.
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]

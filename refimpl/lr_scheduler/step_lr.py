r"""StepLR: decay the lr by ``gamma`` every ``step_size`` epochs.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`\gamma` = ``gamma``, :math:`s` =
``step_size``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * gamma ** (t // s)

torch computes it recursively, which is what ``step()`` follows::

    eta_t = eta_{t-1} * gamma    if t > 0 and t % s == 0
    eta_t = eta_{t-1}            otherwise

The recursion keeps a user's change to ``group["lr"]`` (and other schedulers' changes); the closed form,
used by the deprecated ``step(epoch)``, does not.

Where the reference meets torch's code rather than its docs:

- No validation: ``step_size = 0`` is accepted and the first ``step()`` after the constructor fails with
  Python's ``ZeroDivisionError: integer modulo by zero`` (the constructor's step short-circuits on
  ``t == 0``). A negative ``step_size`` decays on multiples of ``|s|`` with Python's sign rules for ``%``.
"""

from __future__ import annotations

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(())  # torch validates none of StepLR's arguments


class StepLR(LRScheduler):
    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]

r"""MultiStepLR: decay the lr by ``gamma`` at each milestone epoch.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`t` = ``last_epoch``, milestones
:math:`m_1 \le m_2 \le \dots`, repeats allowed)::

    eta_t = eta_0 * gamma ** #{i : m_i <= t}

Recursive form, which ``step()`` follows (``count(t)`` = how many times ``t`` appears in ``milestones``)::

    eta_t = eta_{t-1} * gamma ** count(t)

Where the reference meets torch's code rather than its docs:

- The docs say milestones "Must be increasing"; torch does not check it. It stores a ``Counter``, so order
  does not matter and a milestone repeated ``n`` times decays by ``gamma ** n`` at once (documented only in
  ``get_lr``'s note). The closed form counts with ``bisect_right`` over the sorted repeated milestones, so
  both forms agree on repeats (spec note ``multisteplr-unsorted-milestones``).
- A milestone at 0 is applied by the constructor's step (``count(0)`` is looked up like any other epoch).
- ``state_dict()["milestones"]`` is the ``Counter`` itself.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(())  # torch validates none of MultiStepLR's arguments


class MultiStepLR(LRScheduler):
    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
        return [
            group["lr"] * self.gamma ** self.milestones[self.last_epoch]
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [
            base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs
        ]

r"""CosineAnnealingLR: anneal the lr from its base value to ``eta_min`` along a cosine, half-period ``T_max``.

Closed form, from SGDR (Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017)
without restarts (docs' notation: :math:`\eta_{max}` = ``initial_lr``, :math:`T_{cur}` = ``last_epoch``)::

    eta_t = eta_min + (eta_max - eta_min) * (1 + cos(pi * T_cur / T_max)) / 2

``step()`` follows torch's recursive form instead, which is what the docs state since
pytorch/pytorch#152081 (the docs showed only the closed form before, and it is still the one quoted in
``get_lr``'s docstring: spec note ``cosineannealinglr-closed-form``)::

    constructor's step:
        eta_t = eta_{t-1}
    _step_count == 1 and t > 0 (*):
        eta_t = eta_min + (eta_max - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (t - 1 - T_max) % (2 T_max) == 0:
        eta_t = eta_{t-1} + (eta_max - eta_min) * (1 - cos(pi / T_max)) / 2
    otherwise:
        eta_t = eta_min + (eta_{t-1} - eta_min) * (1 + cos(pi * t / T_max)) / (1 + cos(pi * (t - 1) / T_max))

The third line is the recursion's escape from 0/0: at ``t - 1 = T_max`` (mod ``2 T_max``) the previous
factor ``1 + cos(pi (t-1)/T_max)`` is zero, so instead of the ratio the lr gets the *additive* increment of
the closed form between ``T_max`` and ``T_max + 1`` (pytorch/pytorch#17913, fixed by #19180).

Consequences of the recursive form, all reproduced:

- Past ``T_max`` the lr does not stay at ``eta_min``: it climbs back along the cosine to ``eta_max`` at
  ``2 T_max`` and keeps oscillating with period ``2 T_max`` (the "without restarts" note in torch's docs;
  pytorch/pytorch#40971 is a user surprised by the values).
- A user's change to ``group["lr"]`` mid-run is *kept*: the recursion scales the distance
  ``eta_{t-1} - eta_min`` from then on, so the changed run follows a different cosine and never returns to
  the closed form, except that the additive step at ``T_max + 1`` uses ``eta_max = base_lr`` again.
- (*) is torch's ``self._step_count == 1 and self.last_epoch > 0`` branch. ``_step_count`` is already 1
  after the constructor's step, so a plain ``step()`` never sees it (it makes ``_step_count`` 2 first);
  it is reached only through code that calls ``get_lr()`` inside ``_update_lr`` without ``step()``. It is
  kept for fidelity.
- ``T_max = 0`` is not validated: the first ``step()`` fails with ``ZeroDivisionError`` (modulo by zero).
"""

from __future__ import annotations

import math

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(())  # torch validates none of CosineAnnealingLR's arguments


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        t, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and t > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / t_max)) / 2
                for base_lr in self.base_lrs
            ]
        groups = self.optimizer.param_groups
        if (t - 1 - t_max) % (2 * t_max) == 0:
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base_lr, group in zip(self.base_lrs, groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * t / t_max))
            / (1 + math.cos(math.pi * (t - 1) / t_max))
            * (group["lr"] - eta_min)
            + eta_min
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        eta_min = self.eta_min
        return [
            eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]

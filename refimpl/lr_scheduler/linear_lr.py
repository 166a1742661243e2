r"""LinearLR: scale the lr by a factor moving linearly from ``start_factor`` to ``end_factor``.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`s, e` = ``start_factor``,
``end_factor``, :math:`T` = ``total_iters``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * (s + (e - s) * min(T, t) / T)

Recursive form, which ``step()`` follows (each step multiplies by the ratio of consecutive factors)::

    eta_0 = eta_{-1} * s
    eta_t = eta_{t-1} * (1 + (e - s) / (T * s + (t - 1) * (e - s)))     for 1 <= t <= T
    eta_t = eta_{t-1}                                                     for t > T

Where the reference meets torch's code rather than its docs:

- ``start_factor`` must lie in ``(0, 1]`` and ``end_factor`` in ``[0, 1]`` (so LinearLR cannot warm *up*
  past the optimizer's lr); NaN passes both checks (``> 1.0 or <= 0`` / ``< 0``).
- ``total_iters`` is not validated.

Known deviation from torch 2.13 (an acknowledged bug, pytorch/pytorch#193682, open, triaged as a silent
correctness bug): with ``T <= 0`` the interpolation window is empty, so the schedule is complete at
``t = 0`` and the factor is ``e`` from then on (a no-op for the default ``e = 1``). torch's recursive form
applies ``s`` at ``t = 0`` and never undoes it (every later ``t`` is ``> T``), so its lr stays at
``eta_0 * s`` for the whole run; its closed form divides by zero for ``T = 0``. The reference follows the
intended schedule in both forms: ``eta_t = eta_0 * e`` for every ``t >= 0`` when ``T <= 0``.
- A resumed scheduler (``last_epoch >= 0``) skips the recursion on its constructor step (``_is_initial``),
  except at ``t = 0``.
"""

from __future__ import annotations

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(
    (
        Bound(
            "start_factor",
            low=0.0,
            high=1.0,
            low_open=True,
            message="Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
            accepts_nan=True,
        ),
        Bound(
            "end_factor",
            low=0.0,
            high=1.0,
            message="Ending multiplicative factor expected to be between 0 and 1.",
            accepts_nan=True,
        ),
    )
)


class LinearLR(LRScheduler):
    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        TABLE.validate({"start_factor": start_factor, "end_factor": end_factor, "total_iters": total_iters})
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        s, e, t = self.start_factor, self.end_factor, self.last_epoch
        if t == 0:
            first = s if self.total_iters > 0 else e  # empty window: already at e (pytorch/pytorch#193682)
            return [group["lr"] * first for group in self.optimizer.param_groups]
        if self._is_initial or t > self.total_iters:
            return group_values(self.optimizer, "lr")
        ratio = 1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, total = self.start_factor, self.end_factor, self.total_iters
        if total <= 0:  # empty window (pytorch/pytorch#193682): torch divides by zero for total == 0
            return [base_lr * e for base_lr in self.base_lrs]
        return [base_lr * (s + (e - s) * min(total, self.last_epoch) / total) for base_lr in self.base_lrs]

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
- ``total_iters`` is not validated. With ``T = 0`` the recursive form applies ``s`` at ``t = 0`` and then
  never changes the lr (``t > T``), so the lr stays at ``eta_0 * s`` and never reaches ``eta_0 * e``; the
  closed form divides by zero (``ZeroDivisionError``).
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
            return [group["lr"] * s for group in self.optimizer.param_groups]
        if self._is_initial or t > self.total_iters:
            return group_values(self.optimizer, "lr")
        ratio = 1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, total = self.start_factor, self.end_factor, self.total_iters
        return [base_lr * (s + (e - s) * min(total, self.last_epoch) / total) for base_lr in self.base_lrs]

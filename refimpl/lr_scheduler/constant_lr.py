r"""ConstantLR: multiply the lr by ``factor`` for the first ``total_iters`` epochs, then restore it.

Closed form (docs' notation: :math:`\eta_0` = ``initial_lr``, :math:`f` = ``factor``, :math:`T` =
``total_iters``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * f      if t < T
    eta_t = eta_0          if t >= T

Recursive form, which ``step()`` follows::

    eta_0 = eta_{-1} * f
    eta_t = eta_{t-1} / f   (computed as eta_{t-1} * (1.0 / f))   if t == T
    eta_t = eta_{t-1}                                               otherwise

Where the reference meets torch's code rather than its docs:

- ``factor`` must lie in ``[0, 1]``; NaN passes the check (torch writes ``factor > 1.0 or factor < 0``).
- ``factor = 0`` is accepted, and the step that reaches ``T`` fails with ``ZeroDivisionError: float
  division by zero`` (``1.0 / factor``).
- ``total_iters = 0`` (not validated): the recursive form applies ``f`` at ``t = 0`` and never undoes it
  (the ``t == T`` test is reached only for ``t >= 1``), so the lr stays at ``eta_0 * f``; the closed form
  (``step(epoch)``) gives ``eta_0`` for every ``t >= 0``. The two forms disagree; ``step()`` follows the
  recursive one, as torch does (spec note ``constantlr-total-iters-zero``).
- The undo multiplies by ``1.0 / f`` rather than dividing by ``f``: ``(x * f) * (1 / f)`` need not equal
  ``x`` in floating point, so the restored lr can be one rounding away from ``eta_0``, exactly as torch's.
"""

from __future__ import annotations

from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(
    (
        Bound(
            "factor",
            low=0.0,
            high=1.0,
            message="Constant multiplicative factor expected to be between 0 and 1.",
            accepts_nan=True,
        ),
    )
)


class ConstantLR(LRScheduler):
    def __init__(
        self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1
    ) -> None:
        TABLE.validate({"factor": factor, "total_iters": total_iters})
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]

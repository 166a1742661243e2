r"""SequentialLR: hand the optimizer from one scheduler to the next at given milestone epochs.

Rule (``m_1, ..., m_{k-1}`` the milestones, ``t`` = ``last_epoch`` after the increment, ``i`` =
``bisect_right(milestones, t)`` the active scheduler)::

    construction: lr = initial_lr in every group; every wrapped scheduler's last_epoch -= 1 (undoing its
                  constructor step, recursively into nested SequentialLR/ChainedScheduler);
                  then schedulers[bisect_right(milestones, 0)] makes its constructor step again
    step():       t += 1
                  if i > 0 and t == m_i:  schedulers[i]._update_lr(0)   (restart: closed form at epoch 0,
                                                                          or get_lr() at last_epoch 0)
                  else:                   schedulers[i].step()

So each scheduler sees epochs 0, 1, 2, ... counted from its own milestone. A scheduler that is restarted
at its milestone continues from the *current* lr when its form is recursive and has no closed form
(MultiplicativeLR), and from its ``base_lrs`` when it has one.

Where the reference meets torch's code rather than its docs:

- Validation, in torch's order: at least one scheduler (``ValueError``); for each scheduler in turn: has an
  ``optimizer`` (``TypeError``), is not ReduceLROnPlateau, shares the optimizer (``ValueError``); then
  ``len(milestones) == len(schedulers) - 1`` (``ValueError``). Milestones are not checked to be sorted or
  positive.
- ``milestones`` containing 0: the scheduler active at epoch 0 is ``bisect_right(milestones, 0)``, so
  schedulers whose milestone is 0 are skipped (torch 2.13 has the fix of pytorch/pytorch#185872).
- The restart uses ``_update_lr(0)`` directly: no deprecation warning and no change to the wrapped
  scheduler's ``_step_count`` (older torch called ``step(0)``).
- ``step()`` takes no ``epoch``. ``last_epoch`` is stored as ``last_epoch + 1`` at construction; the base
  constructor is not called, so there is no ``base_lrs`` or ``_step_count``.
- ``state_dict()`` nests the wrapped schedulers' state dicts under ``_schedulers``.

Where the reference departs from torch's code, for an acknowledged bug (pytorch/pytorch#196243, open and
triaged as silently incorrect): a SequentialLR or ChainedScheduler nested in a SequentialLR, as the
scheduler it starts with, keeps the schedule it has alone. torch 2.13 redoes the nested composite's
constructor step by *stepping* it (``LRScheduler._initial_step`` calls ``step()``), which advances a nested
SequentialLR by an epoch (its milestones come one epoch early) and a ChainedScheduler by a whole step of
every scheduler in it (and warns that ``lr_scheduler.step()`` came before ``optimizer.step()``). The
reference redoes the construction instead (``_initial_step`` of the composites). A composite *restarted*
at a milestone still raises torch's ``NotImplementedError`` (``_update_lr`` on a composite's ``get_lr``).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from refimpl.lr_scheduler._composite import NestedStateDict, validate_schedulers
from refimpl.lr_scheduler.scheduler import LRScheduler
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

EMPTY_RULE = Rule(
    ("schedulers",),
    lambda h: len(h["schedulers"]) >= 1,
    "{name} expects at least one scheduler, but got no scheduler.",
)
MILESTONES_RULE = Rule(
    ("schedulers", "milestones"),
    lambda h: len(h["milestones"]) == len(h["schedulers"]) - 1,
    "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
    "milestone points, but got number of schedulers {n_schedulers} and the number of milestones to be "
    "equal to {n_milestones}",
)
# The per-scheduler checks (refimpl.lr_scheduler._composite.SCHEDULER_TABLE) run between these two.
TABLE = Table((EMPTY_RULE, MILESTONES_RULE))


class SequentialLR(NestedStateDict, LRScheduler):
    def __init__(
        self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int], last_epoch: int = -1
    ) -> None:
        hyper = {
            "name": type(self).__name__,
            "schedulers": schedulers,
            "milestones": milestones,
            "n_schedulers": len(schedulers),
            "n_milestones": len(milestones),
        }
        EMPTY_RULE.check(hyper)
        validate_schedulers(hyper["name"], schedulers, optimizer)
        MILESTONES_RULE.check(hyper)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Take back the constructor step of every wrapped scheduler, descending into composites (whose own
        ``last_epoch``, a nested SequentialLR's, is taken back too: its ``_initial_step`` redoes it)."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
            if scheds is not self and hasattr(scheds, "last_epoch"):
                scheds.last_epoch -= 1
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def _initial_step(self) -> None:
        """Redo the constructor's step, as an outer SequentialLR does to the scheduler it starts with (after
        ``recursive_undo``): the scheduler active at epoch 0 makes its constructor step again, so the
        nested schedule is the one this SequentialLR gives alone (pytorch/pytorch#196243)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def get_lr(self) -> Any:  # pragma: no cover - never called: step() is overridden
        raise NotImplementedError

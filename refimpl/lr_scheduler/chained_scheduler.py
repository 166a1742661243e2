r"""ChainedScheduler: step several schedulers of one optimizer together, in order, with one ``step()``.

Rule: ``step()`` calls ``s.step()`` for every wrapped scheduler ``s`` in the given order; each recursive
("chainable") scheduler multiplies the lr the previous one left, so the factors compose. A closed-form
scheduler in the chain (LambdaLR, or CosineAnnealingLR's absolute steps) overwrites what came before it.
``get_last_lr()`` is the optimizer's lrs after the last one.

Where the reference meets torch's code rather than its docs:

- The constructor does *not* call ``LRScheduler.__init__``: it makes no initial step, sets no
  ``initial_lr``, and has no ``last_epoch``, ``base_lrs`` or ``_step_count``; the wrapped schedulers have
  already made their constructor steps. ``step()`` takes no ``epoch``.
- ``optimizer`` is optional (the first scheduler's, via ``optimizer or schedulers[0].optimizer``: so the
  first scheduler's missing ``optimizer`` attribute raises ``AttributeError`` before the per-scheduler
  ``TypeError`` check can). Each wrapped scheduler must have ``optimizer`` (``TypeError``), must not be a
  ReduceLROnPlateau (``ValueError``) and must share the optimizer (``ValueError``), checked scheduler by
  scheduler. An empty sequence is a ``ValueError``.
- ``state_dict()`` nests the wrapped schedulers' state dicts under ``_schedulers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from refimpl.lr_scheduler._composite import NestedStateDict, validate_schedulers
from refimpl.lr_scheduler.scheduler import LRScheduler, group_values
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(
    (
        Rule(
            ("schedulers",),
            lambda h: len(h["schedulers"]) >= 1,
            "{name} expects at least one scheduler to be chained, but got no scheduler.",
        ),
    )
)


class ChainedScheduler(NestedStateDict, LRScheduler):
    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        name = type(self).__name__
        TABLE.validate({"name": name, "schedulers": schedulers})
        optimizer = optimizer or schedulers[0].optimizer
        validate_schedulers(name, schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    def _initial_step(self) -> None:
        """Redo the construction, as an outer SequentialLR does to the scheduler it starts with (after undoing
        the wrapped schedulers' constructor steps): each makes its constructor step again, in order, so the
        chain's schedule is the one it has alone (pytorch/pytorch#196243; see ``refimpl.lr_scheduler.
        sequential_lr``). torch steps the chain instead, advancing every scheduler in it by one epoch."""
        for scheduler in self._schedulers:
            scheduler._initial_step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    def get_lr(self) -> Any:  # pragma: no cover - never called: step() is overridden
        raise NotImplementedError

r"""OneCycleLR: warm the lr up to ``max_lr``, then anneal it far below where it started (the 1cycle policy).

Paper: L. N. Smith and N. Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
Learning Rates" (2017); the default two-phase form follows fastai. With :math:`T` = ``total_steps`` (or
``epochs * steps_per_epoch``), :math:`p` = ``pct_start``, per group:

.. math::
    \eta_{initial} = \eta_{max} / \text{div\_factor}, \qquad \eta_{min} = \eta_{initial} /
    \text{final\_div\_factor}

Phases, each ending at step ``end_step`` (the previous phase's ``end_step`` is the next one's start, 0 for
the first), and each annealing lr and momentum from its start value to its end value:

============  =====================  ======================  ==================  ==================
phase         end_step               lr                      momentum            (``three_phase``)
============  =====================  ======================  ==================  ==================
1             :math:`pT - 1`         initial -> max          max -> base         both
2             :math:`T - 1`          max -> min              base -> max         two-phase only
2             :math:`2pT - 2`        max -> initial          base -> max         three-phase
3             :math:`T - 1`          initial -> min          max -> max          three-phase
============  =====================  ======================  ==================  ==================

At step :math:`s` (``last_epoch``), in the first phase with :math:`s \le` ``end_step`` (or the last
phase), :math:`\text{pct} = (s - \text{start}) / (\text{end} - \text{start})` and the value is
``cos``: :math:`\text{end} + (\text{start} - \text{end}) / 2 \cdot (\cos(\pi\,\text{pct}) + 1)` or
``linear``: :math:`(\text{end} - \text{start})\,\text{pct} + \text{start}`. The schedule is *not*
chainable: it reads ``initial_lr``/``max_lr``/``min_lr`` (written into the groups at construction) and
never the current lr. Momentum (``momentum``, or beta1 with ``betas``) is cycled when
``cycle_momentum``, as in CyclicLR.

Where the reference follows torch's code:

- Stepping past ``total_steps`` raises ``ValueError("Tried to step {s} times. The specified number of
  total steps is {T}")``; step :math:`T` itself is allowed (``pct > 1`` in the last phase: the cosine
  turns back up, the linear form overshoots below ``min_lr``).
- A zero-width phase (e.g. ``total_steps=2, pct_start=0.5``: ``end_step`` 0 for phase 1 and the start 0)
  divides by zero: torch raises ``ZeroDivisionError`` from the constructor's first step
  (pytorch/pytorch#180187 documents it; no fix upstream). The reference raises the same error.
- ``pct_start`` is validated *after* the phases are built, so a NaN ``pct_start`` passes torch's check
  (``pct_start < 0 or pct_start > 1`` is false for NaN) and gives NaN lrs; the reference does the same.
- ``div_factor`` and ``final_div_factor`` are not validated (0 divides by zero, negatives are accepted).
- pytorch/pytorch#40362 (closed): the two-phase default is not the paper's schedule; ``three_phase=True``
  is. Not a bug: both are documented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from refimpl.lr_scheduler._momentum import check_optimizer, init_momenta, set_momentum
from refimpl.lr_scheduler.scheduler import LRScheduler, per_group
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

# torch's checks, written with torch's expressions (a non-number fails where torch's comparison fails).
TOTAL_STEPS_TABLE = Table(
    (
        Rule(
            ("total_steps",),
            lambda h: not (h["total_steps"] <= 0 or not isinstance(h["total_steps"], int)),
            "Expected positive integer total_steps, but got {total_steps}",
        ),
    )
)
EPOCHS_TABLE = Table(
    (
        Rule(
            ("epochs",),
            lambda h: not (not isinstance(h["epochs"], int) or h["epochs"] <= 0),
            "Expected positive integer epochs, but got {epochs}",
        ),
        Rule(
            ("steps_per_epoch",),
            lambda h: not (not isinstance(h["steps_per_epoch"], int) or h["steps_per_epoch"] <= 0),
            "Expected positive integer steps_per_epoch, but got {steps_per_epoch}",
        ),
    )
)
TABLE = Table(
    (
        Rule(
            ("pct_start",),
            lambda h: not (h["pct_start"] < 0 or h["pct_start"] > 1 or not isinstance(h["pct_start"], float)),
            "Expected float between 0 and 1 pct_start, but got {pct_start}",
        ),
        Rule(
            ("anneal_strategy",),
            lambda h: h["anneal_strategy"] in ("cos", "linear"),
            "anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}",
        ),
    )
)
MISSING_LENGTH_MESSAGE = "You must define either total_steps OR (epochs AND steps_per_epoch)"


def _phase(end_step: float, lr: tuple[str, str], momentum: tuple[str, str]) -> dict[str, Any]:
    """One phase as torch's ``_SchedulePhase``: the group keys it anneals from and to."""
    return {
        "end_step": end_step,
        "start_lr": lr[0],
        "end_lr": lr[1],
        "start_momentum": momentum[0],
        "end_momentum": momentum[1],
    }


class OneCycleLR(LRScheduler):
    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            TOTAL_STEPS_TABLE.validate({"total_steps": total_steps})
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            EPOCHS_TABLE.validate({"epochs": epochs, "steps_per_epoch": steps_per_epoch})
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(MISSING_LENGTH_MESSAGE)

        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(up_end, ("initial_lr", "max_lr"), ("max_momentum", "base_momentum")),
                _phase(
                    float(2 * pct_start * self.total_steps) - 2,
                    ("max_lr", "initial_lr"),
                    ("base_momentum", "max_momentum"),
                ),
                _phase(self.total_steps - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum")),
            ]
        else:
            self._schedule_phases = [
                _phase(up_end, ("initial_lr", "max_lr"), ("max_momentum", "base_momentum")),
                _phase(self.total_steps - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum")),
            ]

        TABLE.validate({"pct_start": pct_start, "anneal_strategy": anneal_strategy})
        self._anneal_func_type = anneal_strategy

        max_lrs = per_group("max_lr", self.optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(self.optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if self.cycle_momentum:
            named = [("max_momentum", max_momentum), ("base_momentum", base_momentum)]
            self.use_beta1, _ = init_momenta(optimizer, named, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        if self._anneal_func_type == "linear":
            return self._annealing_linear(start, end, pct)
        raise ValueError(f"Unknown _anneal_func_type: {self._anneal_func_type}")

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        """Cosine from ``start`` (pct 0) to ``end`` (pct 1)."""
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            phase, pct = self._locate(step_num)
            lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal_func(
                    group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                )
                set_momentum(group, self.use_beta1, momentum)
        return lrs

    def _locate(self, step_num: int) -> tuple[dict[str, Any], float]:
        """The phase ``step_num`` falls in (the last one past the end) and the fraction of it done."""
        start_step = 0.0
        for i, phase in enumerate(self._schedule_phases):
            end_step = phase["end_step"]
            if step_num <= end_step or i == len(self._schedule_phases) - 1:
                return phase, (step_num - start_step) / (end_step - start_step)
            start_step = phase["end_step"]
        raise AssertionError("unreachable: the last phase always matches")

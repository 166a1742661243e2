"""Compact torch implementations of some LR schedulers, with mistakes that can be switched on.

The pattern of ``compact.py``: each class subclasses torch's (so construction, validation, ``state_dict`` and
the stepping protocol are torch's) and re-implements ``get_lr`` (or ReduceLROnPlateau's ``step``) as the plain
formula, in torch's order of operations, so that with no mistake it agrees with torch exactly. ``mistakes``
names the errors a mutant commits; each ``if`` on a mistake shows, next to the right line, the wrong one a
port might write. ``mutant(base, *mistakes)`` from ``compact.py`` makes the mutant classes.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from torch.optim import lr_scheduler


def _lrs(scheduler: Any) -> list[float]:
    return [group["lr"] for group in scheduler.optimizer.param_groups]


def _set_momentum(scheduler: Any, group: dict[str, Any], momentum: float) -> None:
    """The cycled momentum: beta1 of ``betas`` for the Adam family, else ``momentum``."""
    if scheduler.use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CompactStepLR(lr_scheduler.StepLR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def _get_closed_form_lr(self) -> list[float]:
        # Right: step(epoch) jumps to the closed form at that epoch; wrong: a port without it goes on from
        # the current lr.
        if "step_epoch_without_closed_form" in self.mistakes:
            return self.get_lr()
        return super()._get_closed_form_lr()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if "state_dict_without_last_lr" in self.mistakes:  # a loaded scheduler reports its own last lr
            state.pop("_last_lr", None)
        return state

    def get_lr(self) -> list[float]:
        # Right: decay at epochs step_size, 2 step_size, ...; wrong: one epoch after each.
        epoch = self.last_epoch - 1 if "decays_one_epoch_late" in self.mistakes else self.last_epoch
        if epoch <= 0 or epoch % self.step_size != 0:
            return _lrs(self)
        return [lr * self.gamma for lr in _lrs(self)]


class CompactMultiStepLR(lr_scheduler.MultiStepLR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return _lrs(self)
        # Right: gamma once per occurrence of the milestone; wrong: milestones kept as a set (gamma once).
        times = 1 if "milestones_as_set" in self.mistakes else self.milestones[self.last_epoch]
        return [lr * self.gamma**times for lr in _lrs(self)]


class CompactCosineAnnealingLR(lr_scheduler.CosineAnnealingLR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def get_lr(self) -> list[float]:
        # Right: the period is T_max; wrong: T_max + 1 (counting the epochs 0..T_max inclusive).
        t_max = self.T_max + 1 if "t_max_plus_one" in self.mistakes else self.T_max
        t, eta_min = self.last_epoch, self.eta_min
        if self._is_initial:
            return _lrs(self)
        if self._step_count == 1 and t > 0:  # resumed: the closed form once
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / t_max)) / 2 for base in self.base_lrs
            ]
        if (t - 1 - t_max) % (2 * t_max) == 0:  # past the bottom: the climb back's first epoch
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base, lr in zip(self.base_lrs, _lrs(self))
            ]
        return [
            (1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max)) * (lr - eta_min)
            + eta_min
            for lr in _lrs(self)
        ]


class CompactCyclicLR(lr_scheduler.CyclicLR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def _scale(self, cycle: int) -> float:
        # Right: triangular2 halves the amplitude every cycle; wrong: it is treated as triangular.
        if (
            self.mode == "triangular2"
            and self._scale_fn_custom is None
            and "triangular2_no_halving" in self.mistakes
        ):
            return 1.0
        return self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self._scale(cycle)
        lrs = [base + (top - base) * scale_factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            momenta = zip(self.base_momentums, self.max_momentums)
            for group, (low, high) in zip(self.optimizer.param_groups, momenta):
                _set_momentum(self, group, high - (high - low) * scale_factor * scale)
        return lrs


class CompactOneCycleLR(lr_scheduler.OneCycleLR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def _phases(self) -> list[dict[str, Any]]:
        phases = [dict(p) for p in self._schedule_phases]
        if "ignores_three_phase" in self.mistakes and len(phases) == 3:
            # Wrong: the two-phase layout whatever three_phase says (anneal from max_lr straight to min_lr).
            down = {"start_lr": "max_lr", "end_lr": "min_lr"}
            moms = {"start_momentum": "base_momentum", "end_momentum": "max_momentum"}
            phases = [phases[0], {"end_step": phases[2]["end_step"], **down, **moms}]
        return phases

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is {self.total_steps}"
            )
        phases = self._phases()
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(phases):
                if step <= phase["end_step"] or i == len(phases) - 1:
                    pct = (step - start) / (phase["end_step"] - start)
                    lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal_func(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                        _set_momentum(self, group, momentum)
                    break
                start = phase["end_step"]
        return lrs


class CompactReduceLROnPlateau(lr_scheduler.ReduceLROnPlateau):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def step(self, metrics: Any, epoch: Any = None) -> None:
        m = self.mistakes
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        # Right: more than patience bad epochs; wrong: patience of them already.
        if (
            self.num_bad_epochs >= self.patience
            if "patience_ge" in m
            else self.num_bad_epochs > self.patience
        ):
            self._reduce_lr(self.last_epoch)
            # Right: a cooldown after each cut; wrong: none.
            self.cooldown_counter = 0 if "ignores_cooldown" in m else self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self)

"""Compact torch implementations of swa_utils, with mistakes that can be switched on.

The pattern of ``compact.py``: ``CompactSWALR`` subclasses torch's SWALR and re-implements ``get_lr`` in
torch's order of operations; the averaging functions and ``update_bn`` are rewritten as plain functions
that take their ``mistakes``, and ``swa_functions(*mistakes)`` returns them under torch's names (what
``torch:MODULE`` looks up). torch's own ``AveragedModel`` averages with whatever functions it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch.optim import swa_utils


def ema_avg_fn_factory(mistakes: frozenset[str]) -> Callable[..., Any]:
    def get_ema_avg_fn(decay: float = 0.999) -> Callable[..., Any]:
        def ema_update(ema: torch.Tensor, current: torch.Tensor, num_averaged: Any) -> torch.Tensor:
            # Right: the decay weighs the average; wrong: it weighs the new model.
            if "decay_wrong_side" in mistakes:
                return (1 - decay) * ema + decay * current
            return decay * ema + (1 - decay) * current

        return ema_update

    return get_ema_avg_fn


def ema_multi_avg_fn_factory(mistakes: frozenset[str]) -> Callable[..., Any]:
    def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[..., Any]:
        @torch.no_grad()
        def ema_update(ema_params: list[torch.Tensor], current_params: list[torch.Tensor], _: Any) -> None:
            weight = (
                decay if "decay_wrong_side" in mistakes else 1 - decay
            )  # lerp's weight is the new model's
            if torch.is_floating_point(ema_params[0]):
                torch._foreach_lerp_(ema_params, current_params, weight)
            else:
                for ema, current in zip(ema_params, current_params):
                    ema.copy_(ema * (1 - weight) + current * weight)

        return ema_update

    return get_ema_multi_avg_fn


class CompactSWALR(swa_utils.SWALR):
    mistakes: ClassVar[frozenset[str]] = frozenset()

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        # Right: the annealing takes anneal_epochs epochs; wrong: one fewer (a 1-based count of them).
        epochs = self.anneal_epochs - 1 if "anneal_epochs_off_by_one" in self.mistakes else self.anneal_epochs
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]


def update_bn_factory(mistakes: frozenset[str]) -> Callable[..., None]:
    @torch.no_grad()
    def update_bn(loader: Iterable[Any], model: torch.nn.Module, device: Any = None) -> None:
        momenta = {}
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                momenta[module] = module.momentum
        if not momenta:
            return
        was_training = model.training
        model.train()
        # Right: a cumulative average over the batches (momentum None); wrong: the layers' own momentum.
        if "keeps_momentum" not in mistakes:
            for module in momenta:
                module.momentum = None
        for batch in loader:
            model(batch[0] if isinstance(batch, (list, tuple)) else batch)
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)

    return update_bn


def swa_functions(*mistakes: str) -> dict[str, Any]:
    """torch's swa_utils names: its AveragedModel, the compact SWALR, averaging functions and update_bn."""
    m = frozenset(mistakes)
    return {
        "AveragedModel": swa_utils.AveragedModel,
        "SWALR": type("SWALR", (CompactSWALR,), {"mistakes": m, "__module__": __name__}),
        "get_ema_avg_fn": ema_avg_fn_factory(m),
        "get_ema_multi_avg_fn": ema_multi_avg_fn_factory(m),
        "get_swa_avg_fn": swa_utils.get_swa_avg_fn,
        "get_swa_multi_avg_fn": swa_utils.get_swa_multi_avg_fn,
        "update_bn": update_bn_factory(m),
    }

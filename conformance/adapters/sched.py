"""A ``SchedulerRun`` for any library with torch's scheduler API: ``torch.optim.lr_scheduler``, a drop-in
module (``torch:MODULE``), and the reference. The adapters differ only in how they make params and step the
optimizer; building nested specs, stepping, reading groups and checkpointing are the same code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from conformance.adapters.base import NotSupported

# The one scheduler whose step takes the metric.
METRIC_SCHEDULERS = frozenset({"ReduceLROnPlateau"})


def build(spec: Mapping[str, Any], optimizer: Any, classes: Mapping[str, type]) -> Any:
    """Construct ``spec`` on ``optimizer``: nested ``schedulers`` first, in order, then the composite over
    them (every torch scheduler takes ``optimizer`` as a keyword, ChainedScheduler included)."""
    name = spec["scheduler"]
    if name not in classes:
        raise NotSupported(f"no {name}")
    kwargs = dict(spec["kwargs"])
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [build(s, optimizer, classes) for s in kwargs["schedulers"]]
    return classes[name](optimizer=optimizer, **kwargs)


class ApiSchedulerRun:
    """An optimizer and the schedulers of ``specs`` on it (see ``base.SchedulerRun``).

    ``step_optimizer`` steps the optimizer without gradients (the schedule is under test, not the update).
    Checkpoints are deep copies, as ``torch.save``/``torch.load`` would give.
    """

    def __init__(
        self,
        optimizer: Any,
        specs: list[dict[str, Any]],
        classes: Mapping[str, type],
        step_optimizer: Callable[[], Any],
    ) -> None:
        self.optimizer = optimizer
        self.schedulers = [(s["scheduler"], build(s, optimizer, classes)) for s in specs]
        self._step_optimizer = step_optimizer

    def step(self, metric: float | None = None) -> None:
        self._step_optimizer()
        for name, scheduler in self.schedulers:
            if name in METRIC_SCHEDULERS:
                scheduler.step(metric)
            else:
                scheduler.step()

    def group_values(self, key: str) -> list[Any]:
        return [group[key] for group in self.optimizer.param_groups]

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.optimizer.param_groups[group][key] = value

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "optimizer": self.optimizer.state_dict(),
                "schedulers": [s.state_dict() for _, s in self.schedulers],
            }
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = copy.deepcopy(state_dict)
        self.optimizer.load_state_dict(state_dict["optimizer"])
        for (_, scheduler), saved in zip(self.schedulers, state_dict["schedulers"], strict=True):
            scheduler.load_state_dict(saved)

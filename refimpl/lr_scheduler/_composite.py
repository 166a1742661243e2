"""What ChainedScheduler and SequentialLR share: their per-scheduler checks and nested state dicts.

Both validate each wrapped scheduler in turn, all checks for index 0 before index 1 (so the first failing
*scheduler* decides the error, as in torch), and both save the wrapped schedulers' state dicts inside
their own.
"""

from __future__ import annotations

from typing import Any

from refimpl.lr_scheduler.reduce_lr_on_plateau import ReduceLROnPlateau
from refimpl.lr_scheduler.scheduler import load_state_dict_with, state_dict_with
from refimpl.optim._validation import Rule, Table

# Checked for each wrapped scheduler, over {"name", "index", "scheduler", "optimizer"}; the messages read
# attributes through str.format, as torch's f-strings do.
SCHEDULER_TABLE = Table(
    (
        Rule(
            ("schedulers",),
            lambda h: hasattr(h["scheduler"], "optimizer"),
            "{name} at index {index} should have `optimizer` as its attribute.",
            TypeError,
        ),
        Rule(
            ("schedulers",),
            lambda h: not isinstance(h["scheduler"], ReduceLROnPlateau),
            "{name} does not support `ReduceLROnPlateau` scheduler as it "
            "requires additional kwargs to be specified when calling `step`, "
            "but got one at index {index} in the given schedulers sequence.",
        ),
        Rule(
            ("schedulers", "optimizer"),
            lambda h: h["optimizer"] == h["scheduler"].optimizer,
            "{name} expects all schedulers to belong to the same optimizer, but "
            "got scheduler {scheduler.__class__.__name__} at index {index} has {scheduler.optimizer}, "
            "which is different from {optimizer.__class__.__name__}.",
        ),
    )
)


def validate_schedulers(name: str, schedulers: Any, optimizer: Any) -> None:
    for index, scheduler in enumerate(schedulers):
        SCHEDULER_TABLE.validate(
            {"name": name, "index": index, "scheduler": scheduler, "optimizer": optimizer}
        )


class NestedStateDict:
    """``state_dict()`` holds each wrapped scheduler's ``state_dict()`` under ``_schedulers``."""

    def state_dict(self) -> dict[str, Any]:
        return state_dict_with(self, "_schedulers", lambda s: s.state_dict())  # type: ignore[arg-type]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        load_state_dict_with(self, state_dict, "_schedulers", lambda s, saved: s.load_state_dict(saved))  # type: ignore[arg-type]

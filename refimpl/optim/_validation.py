"""Hyperparameter validation as data: one table per optimizer (and scheduler), read by code and by tests.

Each optimizer module declares a ``Table`` listing, in the order torch checks them, the valid range of each
hyperparameter and the exception torch raises outside it. The reference validates its constructor
arguments with it, the error-catalogue tests walk it to build invalid inputs, and the property-based tests
draw valid hyperparameters from it: the ranges exist once.

Why ``accepts_nan``: torch writes most checks as ``if not 0.0 <= lr`` (NaN fails the comparison and is
rejected) but some as ``if lr < 0.0`` (NaN passes). The table records which form torch uses, so the
reference rejects exactly what torch rejects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Bound:
    """The valid interval of one hyperparameter (or of one element of a tuple hyperparameter).

    ``low``/``high`` are ``None`` when unbounded on that side; ``low_open``/``high_open`` make the end
    exclusive. ``message`` is torch's message as a format string over ``value`` (the offending value).
    """

    name: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    index: int | None = None
    message: str = "Invalid {name}: {value}"
    error: type[Exception] = ValueError
    accepts_nan: bool = False

    def value_of(self, hyper: Mapping[str, Any]) -> Any:
        value = hyper[self.name]
        return value if self.index is None else value[self.index]

    def holds(self, value: Any) -> bool:
        if value is None:  # e.g. Adafactor's eps1=None means "derive it"; never range-checked by torch
            return True
        value = float(value)
        if math.isnan(value):
            return self.accepts_nan
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def check(self, hyper: Mapping[str, Any]) -> None:
        value = self.value_of(hyper)
        if not self.holds(value):
            raise self.error(self.message.format(name=self.name, value=value, **hyper))


@dataclass(frozen=True)
class Rule:
    """A constraint that involves several hyperparameters, e.g. Nesterov needs momentum and no dampening."""

    names: tuple[str, ...]
    holds: Callable[[Mapping[str, Any]], bool]
    message: str
    error: type[Exception] = ValueError
    # Whether only a tensor (array) argument can break it: no float, flag or name does, so the harness's
    # derivation of invalid inputs from the tables leaves it to torch's own error inputs.
    tensors_only: bool = False

    def check(self, hyper: Mapping[str, Any]) -> None:
        if not self.holds(hyper):
            raise self.error(self.message.format(**hyper))


def is_tensor(value: Any) -> bool:
    """Whether a hyperparameter was given as a tensor (an array, here): torch's ``isinstance(x, Tensor)``."""
    return isinstance(value, np.ndarray)


# torch checks a tensor lr's size first in every constructor (Adam and AdamW check foreach before it).
ONE_ELEMENT_LR = Rule(
    ("lr",),
    lambda h: not is_tensor(h["lr"]) or h["lr"].size == 1,
    "Tensor lr must be 1-element",
    tensors_only=True,
)


@dataclass(frozen=True)
class Table:
    """The checks of one constructor, in torch's order (the first failing one is the one torch reports).
    ``ONE_ELEMENT_LR`` comes first unless the table places it."""

    checks: tuple[Bound | Rule, ...] = field(default_factory=tuple)

    def validate(self, hyper: Mapping[str, Any]) -> None:
        first = () if ONE_ELEMENT_LR in self.checks or "lr" not in hyper else (ONE_ELEMENT_LR,)
        for check in (*first, *self.checks):
            check.check(hyper)

    def bounds(self) -> dict[tuple[str, int | None], Bound]:
        """The interval checks by (argument, index), for strategies that draw valid values."""
        return {(c.name, c.index): c for c in self.checks if isinstance(c, Bound)}

"""The adapter protocol: the one small interface through which the harness drives any implementation.

An adapter wraps a candidate (torch.optim, a drop-in library, a JAX/MLX/Keras port, a fused kernel) so the
harness can build an optimizer or scheduler from a name and hyperparameters, step it, and read what it
computed, all in NumPy. Anything the candidate does not support is declared in ``capabilities()`` and
reported as "not supported", never as a failure.

A minimal adapter implements ``capabilities`` and ``make_optimizer`` returning an ``OptimizerRun``;
``make_scheduler`` is needed only for the schedulers it declares. See the README's "Plugging in an
implementation" for a complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# An objective evaluated at the candidate's current params: params -> (loss, grads).
Closure = Callable[[list[np.ndarray]], tuple[float, list[np.ndarray]]]


@dataclass(frozen=True)
class Capabilities:
    """What a candidate supports. ``variants[device_type]`` lists the variants runnable on that device type
    (``"cpu"``, ``"cuda"``); a candidate with a single implementation uses ``("default",)``."""

    optimizers: frozenset[str]
    schedulers: frozenset[str] = frozenset()
    dtypes: frozenset[str] = frozenset({"float64", "float32"})
    variants: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"cpu": ("default",)})
    # Optional behaviours, checked only where declared: "state_dict" (read/load optimizer state in torch's
    # layout), "sparse" (SparseGrad gradients), "complex" (complex params).
    features: frozenset[str] = frozenset({"state_dict"})

    def devices(self) -> list[str]:
        return list(self.variants)


class OptimizerRun(Protocol):
    """One live optimizer of the candidate, over params that started as the given NumPy arrays."""

    def step(self, grads: list[Any]) -> None:
        """One step with these gradients (``None``: no gradient; ``SparseGrad``: a sparse one)."""

    def step_closure(self, closure: Closure) -> float:
        """One step of a closure-driven optimizer (LBFGS); returns what its ``step`` returns."""

    def params(self) -> list[np.ndarray]:
        """The current params, in group order, as NumPy arrays (float64 copies are fine)."""

    def state_dict(self) -> dict[str, Any]:
        """The optimizer state in torch's layout: {"state": {index: {key: array}}, "param_groups": [...]}."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict in torch's layout (arrays as NumPy)."""

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        """``param_groups[group][key] = value`` between steps (the dynamic-lr recipe)."""


class SchedulerRun(Protocol):
    """One live scheduler of the candidate, attached to an optimizer of the candidate."""

    def step(self, metric: float | None = None) -> None:
        """One scheduler step (``metric`` for ReduceLROnPlateau)."""

    def group_values(self, key: str) -> list[Any]:
        """``[group[key] for group in optimizer.param_groups]``: lrs, momenta or betas."""


@runtime_checkable
class Adapter(Protocol):
    name: str

    def version(self) -> str: ...

    def capabilities(self) -> Capabilities: ...

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> OptimizerRun:
        """Build optimizer ``name``; ``groups`` are param-group dicts whose ``params`` are NumPy arrays
        (float64 or complex128: the adapter casts them to ``dtype`` on ``device``)."""
        ...


class NotSupported(Exception):
    """Raised by an adapter for a configuration it cannot run; the harness reports "not supported"."""

"""A complete adapter for a candidate that is not torch: SGD written in plain NumPy.

Run it against the suite (from the repository root):

    PYTHONPATH=examples pytest conformance --impl=numpy_sgd_adapter:NumpySGDAdapter

It declares only SGD, and none of the optional features (loading optimizer state, sparse gradients,
complex params), so every other case is reported as "not supported" and the summary shows the denominator.
Like most ports it does not validate its arguments (a negative lr is taken), and says so in its class's
``ClassDeclaration``: the argument-validation checks are "not supported" for it, and its arithmetic is judged
everywhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, ClassDeclaration

DTYPES = {"float64": np.float64, "float32": np.float32}


class NumpySGDRun:
    """One SGD optimizer over copies of the given params, in the requested precision."""

    def __init__(self, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str) -> None:
        defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
        defaults |= {"maximize": False, **hyper}
        _validate(defaults)
        self.groups = [
            {**defaults, **g, "params": [np.array(p, dtype=DTYPES[dtype]) for p in g["params"]]}
            for g in groups
        ]
        self.buffers: dict[int, np.ndarray] = {}

    def step(self, grads: list[np.ndarray | None]) -> None:
        i = 0
        for group in self.groups:
            for p in group["params"]:
                g = grads[i]
                if g is not None:
                    self._update(i, p, np.asarray(g, dtype=p.dtype), group)
                i += 1

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, group: dict[str, Any]) -> None:
        if group["maximize"]:
            g = -g
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if group["momentum"]:
            b = self.buffers.get(i)
            b = g.copy() if b is None else group["momentum"] * b + (1 - group["dampening"]) * g
            self.buffers[i] = b
            g = g + group["momentum"] * b if group["nesterov"] else b
        p -= group["lr"] * g

    def params(self) -> list[np.ndarray]:
        return [p.copy() for group in self.groups for p in group["params"]]

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.groups[group][key] = value


def _validate(options: dict[str, Any]) -> None:
    """Refuse what torch's SGD refuses (the suite checks that a candidate does): torch writes ``x < 0``,
    so NaN passes, as it does here."""
    names = {"lr": "learning rate", "momentum": "momentum value", "weight_decay": "weight_decay value"}
    for key, what in names.items():
        if options[key] < 0:
            raise ValueError(f"Invalid {what}: {options[key]}")
    if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


class NumpySGDAdapter:
    name = "numpy-sgd"

    def version(self) -> str:
        return "numpy-sgd 1.0 (example)"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            optimizers=frozenset({"SGD"}),
            features=frozenset(),
            declarations={"SGD": ClassDeclaration(validates=False)},
        )

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> NumpySGDRun:
        return NumpySGDRun(groups, hyper, dtype)

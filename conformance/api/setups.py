"""What each optimizer runs on in the API checks: hyperparameters, param shapes, and its inputs.

The hyperparameters sit on top of the defaults and are chosen so that every hyperparameter a check changes
shows in the trajectory and every kind of state exists (momentum switched on so dampening and Nesterov
matter, AMSGrad and RMSprop's ``centered`` on so switching them *off* mid-run is safe, weight decay non-zero
so switching its form matters). Params are a non-square matrix, a vector and a 0-d scalar unless the
optimizer takes only matrices (Muon); SparseAdam gets row-sparse gradients (it takes nothing else); LBFGS
is driven by a closure over the Rosenbrock function. Everything is drawn from seeded generators, so a
failure reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import refimpl.objectives
from refimpl.optim import MODULES, SparseGrad

Shape = tuple[int, ...]
Closure = Callable[[list[np.ndarray]], tuple[float, list[Any]]]

# Implementation switches: they select a kernel, not a behaviour, so no check changes them mid-run.
SWITCHES = frozenset({"foreach", "fused", "capturable", "differentiable"})


@dataclass(frozen=True)
class Setup:
    """One optimizer's API-check configuration.

    ``hyper`` is passed to the constructor on top of the defaults. ``sparse``: gradients are row-sparse.
    ``closure``: steps evaluate ``objective`` through a closure instead of taking gradients.
    ``update_rtol``: where the spec computes the update at a coarse precision whatever the params' dtype
    (Muon's bfloat16 Newton-Schulz), the relative error allowed on each step's update.
    """

    name: str
    hyper: Mapping[str, Any] = field(default_factory=dict)
    shapes: tuple[Shape, ...] = ((3, 4), (5,), ())
    sparse: bool = False
    closure: bool = False
    objective: str = "rosenbrock"
    # Relative error the spec allows on each step's update (0: none beyond the dtype's tolerance).
    update_rtol: float = 0.0
    # Keys the checks do not change (``conformance.api.derive``), each for the reason given where it is set.
    unchanged: frozenset[str] = frozenset()
    # Per-dtype tolerance overrides, each with its derivation where it is set.
    rtol: Mapping[str, float] = field(default_factory=dict)

    def without(self, lacks: frozenset[str]) -> Setup:
        """This setup for a class that lacks ``lacks``: those options left at their defaults (not passed)."""
        if not lacks & set(self.hyper):
            return self
        return replace(self, hyper={k: v for k, v in self.hyper.items() if k not in lacks})

    def given(self, options: Mapping[str, Any]) -> Setup:
        """This setup with ``options`` passed too where it leaves them out (torch's defaults a class has
        another default for or none: ``conformance.declarations.derived_explicit``)."""
        return replace(self, hyper={**options, **self.hyper}) if options else self

    def initial(self, *, complex_: bool = False, shapes: tuple[Shape, ...] | None = None) -> list[np.ndarray]:
        """Seeded starting params (complex: a random imaginary part too)."""
        rng = np.random.default_rng([7, len(self.name)])
        out = []
        for shape in shapes if shapes is not None else self.shapes:
            x = rng.standard_normal(shape)
            out.append(x + 1j * rng.standard_normal(shape) if complex_ else x)
        return out

    def groups(self, params: list[np.ndarray], **second: Any) -> list[dict[str, Any]]:
        """Params split into two groups (the first param alone, then the rest; ``second`` overrides the
        second group's hyperparameters); one group for a closure-driven optimizer, which takes no more."""
        if self.closure or len(params) < 2:
            return [{"params": params}]
        return [{"params": params[:1]}, {"params": params[1:], **second}]

    def gradient(self, t: int, i: int, param: np.ndarray, *, zero: bool = False) -> np.ndarray | SparseGrad:
        """The gradient of param ``i`` at step ``t`` (0-based): standard normal, seeded by ``(t, i)``,
        complex for a complex param, row-sparse (some rows repeated, some absent) for a sparse setup."""
        return gradient(t, i, param.shape, np.iscomplexobj(param), self.sparse, zero=zero)

    def gradients(self, t: int, params: list[np.ndarray], *, zero: bool = False) -> list[Any]:
        return [self.gradient(t, i, p, zero=zero) for i, p in enumerate(params)]

    def closure_for(self, calls: list[int] | None = None) -> Closure:
        """``params -> (loss, grads)`` of the objective; appends to ``calls`` on every evaluation."""
        objective = getattr(refimpl.objectives, self.objective)

        def closure(params: list[np.ndarray]) -> tuple[float, list[Any]]:
            if calls is not None:
                calls.append(1)
            return objective([np.asarray(p) for p in params])

        return closure


def gradient(
    t: int, i: int, shape: Shape, complex_: bool = False, sparse: bool = False, *, zero: bool = False
) -> np.ndarray | SparseGrad:
    """A seeded gradient for param ``i`` at step ``t``; ``zero``: all zeros of the same kind."""
    rng = np.random.default_rng([11, t, i])
    if sparse:
        rows = shape[0] if shape else 1
        indices = rng.integers(0, rows, size=rows) if rows else np.zeros(0, dtype=np.int64)
        values = rng.standard_normal((len(indices), *shape[1:]))
        return SparseGrad(indices, np.zeros_like(values) if zero else values, shape)
    g = rng.standard_normal(shape)
    if complex_:
        g = g + 1j * rng.standard_normal(shape)
    return np.zeros_like(g) if zero else g


SETUPS: dict[str, Setup] = {
    s.name: s
    for s in (
        Setup("Adadelta", {"weight_decay": 0.1}),
        Setup("Adafactor", {"weight_decay": 0.1}),
        Setup("Adagrad", {"weight_decay": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
        Setup("Adam", {"amsgrad": True, "weight_decay": 0.1}),
        Setup("AdamW", {"amsgrad": True}),
        Setup("SparseAdam", {}, ((6, 3), (4,)), sparse=True),
        Setup("Adamax", {"weight_decay": 0.1}),
        # t0 small so ASGD's averaging (ax, mu) starts within the few steps a check makes.
        Setup("ASGD", {"t0": 1.0, "weight_decay": 0.1}),
        # float32: every inner iteration amplifies rounding by the problem's conditioning (derivation in
        # conformance/catalogue/optim/lbfgs.py). Measured worst over the API checks, torch 2.13 CPU: 4.8e-4
        # (the two-loop recursion's `al` state), params 7e-5; the override is 10x that, as the catalogue's.
        Setup(
            "LBFGS",
            {"line_search_fn": "strong_wolfe", "max_iter": 4, "history_size": 3},
            closure=True,
            rtol={"float32": 5e-3},
        ),
        # torch runs Muon's Newton-Schulz iteration in bfloat16: tests/test_muon.py bounds the error of the
        # orthogonalised update by 32 bfloat16 unit roundoffs (32 * 2^-8) relative, measured up to 22.8.
        # That bound holds where the quintic converges; other ns_coefficients leave that regime, and there
        # torch's bfloat16 iteration and the float64 reference part by O(1) (measured 0.8 for a 3% change
        # of the first one), so the checks leave them alone. tests/test_muon.py covers other coefficients
        # exactly, with torch's bfloat16 cast removed.
        Setup(
            "Muon", {}, ((3, 4), (4, 2)), update_rtol=32 * 2.0**-8, unchanged=frozenset({"ns_coefficients"})
        ),
        Setup("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
        Setup("RAdam", {"weight_decay": 0.1}),
        Setup("RMSprop", {"momentum": 0.5, "centered": True, "weight_decay": 0.1}),
        Setup("Rprop", {}),
        Setup("SGD", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.1}),
    )
}
assert set(SETUPS) == set(MODULES), "every reference optimizer needs an API setup"

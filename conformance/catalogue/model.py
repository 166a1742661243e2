"""What a conformance case is: a readable, content-addressed description of one run.

A case says which optimizer (or scheduler) runs, with which hyperparameters, on which params and gradients,
for how many steps, and which constructor options it is designed to make observable. The catalogue modules
list cases; ``conformance.generate`` runs them through the reference; ``conformance.vectors`` stores
the result.

Ids are derived from content, never from position, so adding a case never renames another:
``adam/amsgrad-wd0.1-maximize``, ``sgd/mom0.9-nesterov-lr-change``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.catalogue.functions import METRICS, formulas

# The generator of a case with ``inputs="generated"`` (conformance/pinned.py says how it maps bits to values).
PINNED_GENERATOR = "pcg64-raw-uniform"

# Short names used in case ids; any other option appears under its own name.
ABBREVIATIONS = {
    "weight_decay": "wd",
    "momentum": "mom",
    "dampening": "damp",
    "decoupled_weight_decay": "decoupled",
    "momentum_decay": "mdecay",
    "initial_accumulator_value": "init_acc",
    "line_search_fn": "ls",
    "history_size": "hist",
    "tolerance_grad": "tol_grad",
    "tolerance_change": "tol_change",
    # swa_utils: the averaging function's option, its value naming the function (``multi_ema``).
    "avg_fn": "avg_",
    "multi_avg_fn": "multi_",
    # Scheduler options whose value names itself (a function, a mode, nested schedulers): value only.
    "lr_lambda": "",
    "scale_fn": "",
    "mode": "",
    "threshold_mode": "",
    "anneal_strategy": "",
    "schedulers": "",
}


def _format_value(value: Any) -> str:
    if isinstance(value, SchedSpec):
        return value.slug()
    if isinstance(value, (tuple, list)):
        return ",".join(_format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def option_slug(options: Mapping[str, Any]) -> str:
    """``{"amsgrad": True, "weight_decay": 0.1}`` -> ``amsgrad-wd0.1`` (flags by name, values appended)."""
    parts = []
    for name, value in options.items():
        short = ABBREVIATIONS.get(name, name)
        if value is True:
            parts.append(short)
        elif value is False:
            parts.append(f"no_{short}")
        else:
            parts.append(f"{short}{_format_value(value)}")
    return "-".join(parts)


def seed_of(text: str) -> int:
    """A 64-bit seed from a case id: the same case draws the same numbers wherever it is generated."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def jsonable(value: Any) -> Any:
    """Hyperparameters as JSON (tuples become lists; the loader turns optimizer lists back into tuples)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, SchedSpec):
        return value.describe()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Gradients:
    """How a fixed-gradient trajectory's gradients are drawn. They are stored in the vectors, so a candidate
    in any language reads them and never needs this code.

    ``pattern``:
      - ``normal``: N(0, scale^2) per element.
      - ``spike``: one step of gradients 1e3 x scale, then scale x 1e-3 (AMSGrad's max must hold the spike).
      - ``flip``: a fixed magnitude whose sign alternates on most elements (Rprop's step-size shrink/grow).
      - ``sparse``: row-sparse gradients, some rows repeated, some absent (SparseAdam, sparse Adagrad/SGD).
    ``none_every``: param ``i`` has no gradient at step ``t`` when ``(t + i) % none_every == 0`` (never
    param 0 at step 0), so "a param without a gradient is neither moved nor given state" is observable.
    """

    pattern: str = "normal"
    scale: float = 1.0
    none_every: int = 0

    def slug(self) -> list[str]:
        parts = [] if self.pattern == "normal" else [self.pattern]
        if self.scale != 1.0:
            parts.append(f"g{self.scale:g}")
        if self.none_every:
            parts.append(f"none{self.none_every}")
        return parts


@dataclass(frozen=True)
class Group:
    """One param group: the shapes of its params and the hyperparameters it overrides."""

    shapes: tuple[tuple[int, ...], ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)


# The default params: a non-square matrix, a vector and a 0-d scalar (shapes a port tends to get wrong).
DEFAULT_GROUPS = (Group(((3, 4), (5,), ())),)


@dataclass(frozen=True)
class OptimCase:
    """One optimizer trajectory.

    ``observes`` lists the constructor options (``name`` or ``name[i]`` for an element of a tuple option)
    this case is designed to make observable: changing any of them changes the trajectory by far more than
    a float32 tolerance (``tests/test_catalogue.py`` proves it for every case).
    ``objective`` names a function in ``refimpl.objectives``; gradients are then computed at the current
    params (LBFGS always). ``changes[t]`` assigns ``param_groups[g][key] = value`` before step ``t``.
    """

    optimizer: str
    hyper: Mapping[str, Any]
    observes: tuple[str, ...]
    why: str
    groups: tuple[Group, ...] = DEFAULT_GROUPS
    gradients: Gradients = Gradients()
    objective: str | None = None
    steps: int = 30
    changes: Mapping[int, tuple[tuple[int, str, Any], ...]] = field(default_factory=dict)
    dtype: str = "float64"
    tag: str = ""
    # The name random params and gradients are drawn from; empty means the id. The observability test
    # pins it to the unperturbed case's id, so that a perturbed option is the only thing that changes.
    seed: str = ""
    # Tolerance override for a case whose reference cannot be met at the dtype policy's precision, derived
    # where the case is: {"float32": x} for both checks (Muon: torch's bfloat16 Newton-Schulz), or
    # {"float32:trajectory": x} for one check (LBFGS); see conformance/tolerances.py.
    tolerance: Mapping[str, float] | None = None
    # "generated": params and gradients are drawn from a pinned bit stream (``conformance.pinned``) and not
    # stored; the vectors keep their sha256 and a sample of the reference's params (kernel-size cases,
    # whose full arrays would not fit the vectors' budget). Empty: everything stored.
    inputs: str = ""
    # The memory layout of each param (and its gradient), in group order: "contiguous", "transposed" (a
    # 2-D param stored column-major) or "strided" (every other element of a buffer: not dense). Empty: all
    # contiguous.
    layouts: tuple[str, ...] = ()

    @property
    def seed_name(self) -> str:
        return self.seed or self.id

    @property
    def id(self) -> str:
        parts = [option_slug(self.hyper)] if self.hyper else ["default"]
        if self.objective:
            parts.append(self.objective)
        else:
            parts.extend(self.gradients.slug())
        if len(self.groups) > 1:
            parts.append(f"groups{len(self.groups)}")
        if self.changes:
            parts.append("changes")
        if self.dtype != "float64":
            parts.append(self.dtype)
        if self.tag:
            parts.append(self.tag)
        return f"{self.optimizer.lower()}/{'-'.join(parts)}"

    @property
    def checkpoints(self) -> tuple[int, ...]:
        """Steps after which the full optimizer state is stored, for single-step (teacher-forced) checks."""
        return tuple(sorted({1, self.steps // 2, self.steps - 1}))

    def describe(self) -> dict[str, Any]:
        """The case as JSON: what a candidate in any language needs to rebuild the run."""
        return {
            "id": self.id,
            "kind": "optimizer",
            "optimizer": self.optimizer,
            "hyper": jsonable(self.hyper),
            "groups": [
                {"shapes": jsonable(g.shapes), "overrides": jsonable(g.overrides)} for g in self.groups
            ],
            "dtype": self.dtype,
            "steps": self.steps,
            "objective": self.objective,
            "gradients": None if self.objective else jsonable(self.gradients.__dict__),
            "changes": {str(t): jsonable(c) for t, c in sorted(self.changes.items())},
            "checkpoints": list(self.checkpoints),
            "observes": list(self.observes),
            "why": self.why,
        } | (
            ({"tolerance": dict(self.tolerance)} if self.tolerance else {})
            | ({"inputs": {"generator": PINNED_GENERATOR, "seed": self.seed_name}} if self.inputs else {})
            | ({"layouts": list(self.layouts)} if self.layouts else {})
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:16]


# Schedulers that also cycle the momentum (group["momentum"], or beta1 of group["betas"] for the Adam family).
MOMENTUM_CYCLERS = frozenset({"CyclicLR", "OneCycleLR"})
# The group value a momentum-cycling scheduler writes, by optimizer (torch picks beta1 where "betas" exists).
MOMENTUM_KEYS = {
    "SGD": "momentum",
    "RMSprop": "momentum",
    "Adam": "beta1",
    "AdamW": "beta1",
    "NAdam": "beta1",
}


@dataclass(frozen=True)
class SchedSpec:
    """One scheduler: its torch class name and constructor kwargs (without the optimizer). For SequentialLR
    and ChainedScheduler, ``kwargs["schedulers"]`` is a tuple of nested ``SchedSpec``s, built in order on the
    same optimizer before the composite, as a user writes it."""

    scheduler: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def slug(self) -> str:
        """``linearlr(start_factor0.1-total_iters10)``: how a nested scheduler appears in a case id."""
        return f"{self.scheduler.lower()}({option_slug(self.kwargs)})"

    def describe(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler, "kwargs": jsonable(self.kwargs)}

    def classes(self) -> set[str]:
        """Every scheduler class this spec builds, nested ones included."""
        nested = self.kwargs.get("schedulers", ())
        return {self.scheduler}.union(*(s.classes() for s in nested))

    def functions(self) -> dict[str, str]:
        """``{name: formula}`` of the named functions this spec (or a nested one) uses."""
        out = formulas(self.kwargs)
        for nested in self.kwargs.get("schedulers", ()):
            out.update(nested.functions())
        return out


@dataclass(frozen=True)
class SchedCase:
    """One LR-scheduler run: the lr of every param group (and the momentum or beta1 where a scheduler
    cycles it) after construction and after each of ``steps`` epochs.

    The script, per epoch ``t = 1..steps``: apply ``changes[t]`` (``param_groups[g][key] = value``, the
    "set the lr by hand" recipe), step the optimizer, step every scheduler in order (``scheduler`` first, then
    ``also``: several schedulers on one optimizer; ReduceLROnPlateau gets ``metrics[t - 1]``), record. After
    the epoch ``reload_at`` the optimizer and scheduler state dicts are saved, optimizer and schedulers built
    afresh, and the state dicts loaded (torch's documented resume recipe). ``groups`` are the param-group
    keys (``lr``, and ``initial_lr`` etc. to resume with ``last_epoch >= 0``).

    ``observes`` lists the constructor options of ``scheduler`` this case makes observable: a plausible wrong
    value changes some recorded value by >= 1e-3 relative (``tests/test_catalogue.py`` proves it).
    Function-valued options (``lr_lambda``, ``scale_fn``) and ``metrics`` are names from
    ``conformance.catalogue.functions``.
    """

    scheduler: str
    kwargs: Mapping[str, Any]
    observes: tuple[str, ...]
    why: str
    steps: int = 100
    optimizer: str = "SGD"
    optimizer_hyper: Mapping[str, Any] = field(default_factory=lambda: {"momentum": 0.9})
    groups: tuple[Mapping[str, Any], ...] = ({"lr": 0.1}, {"lr": 0.01})
    metrics: str | None = None
    also: tuple[SchedSpec, ...] = ()
    changes: Mapping[int, tuple[tuple[int, str, Any], ...]] = field(default_factory=dict)
    reload_at: int | None = None
    tag: str = ""

    @property
    def specs(self) -> tuple[SchedSpec, ...]:
        """The schedulers built on the optimizer, in construction and stepping order."""
        return (SchedSpec(self.scheduler, self.kwargs), *self.also)

    @property
    def id(self) -> str:
        parts = [(option_slug(self.kwargs) or "default") + "".join(f"+{s.slug()}" for s in self.also)]
        if self.optimizer != "SGD":
            parts.append(self.optimizer.lower())
        if self.metrics:
            parts.append(self.metrics)
        if self.changes:
            parts.append("changes")
        if self.reload_at is not None:
            parts.append(f"reload{self.reload_at}")
        if self.tag:
            parts.append(self.tag)
        return f"{self.scheduler.lower()}/{'-'.join(parts)}"

    @property
    def recorded(self) -> tuple[str, ...]:
        """The group values compared at every step: the lr, and the momentum or beta1 where it is cycled."""
        if not any(s.classes() & MOMENTUM_CYCLERS for s in self.specs):
            return ("lr",)
        if self.optimizer not in MOMENTUM_KEYS:
            raise ValueError(f"{self.id}: no momentum key known for {self.optimizer}")
        return ("lr", MOMENTUM_KEYS[self.optimizer])

    def describe(self) -> dict[str, Any]:
        """The case as JSON: the script a candidate in any language replays (see the class docstring)."""
        return {
            "id": self.id,
            "kind": "scheduler",
            "scheduler": self.scheduler,
            "schedulers": [s.describe() for s in self.specs],
            "optimizer": self.optimizer,
            "optimizer_hyper": jsonable(self.optimizer_hyper),
            "groups": jsonable(self.groups),
            "steps": self.steps,
            "metrics": METRICS[self.metrics].fn(self.steps) if self.metrics else None,
            "metrics_formula": METRICS[self.metrics].formula if self.metrics else None,
            "functions": {k: v for s in self.specs for k, v in s.functions().items()},
            "changes": {str(t): jsonable(c) for t, c in sorted(self.changes.items())},
            "reload_at": self.reload_at,
            "observes": list(self.observes),
            "why": self.why,
        }

"""Run a refimpl LR scheduler and its torch twin side by side; record what a user can observe.

One call, ``run_pair(build, ...)``, drives both libraries through the same script:

    for t in 1..steps:
        apply changes[t] to param_groups        (the "set group['lr'] by hand" recipe)
        optimizer.step(zero grads)
        scheduler.step() or scheduler.step(epochs[t])   (or step_fn(scheduler, t))
        if t == reload_at: save both state dicts, rebuild optimizer + scheduler, load them

``build(lr_scheduler_module, optimizer)`` constructs the scheduler(s) from whichever library it is given,
so one lambda serves both sides and can build composites (``SequentialLR`` over ``LinearLR`` and
``ExponentialLR``) or several schedulers on one optimizer (return a list; all are stepped in order).

What is recorded (``History``), after construction and after every step:

- every param group minus ``params`` (``lr``, ``initial_lr`` and anything a scheduler writes: momenta,
  ``max_lr``...), so a scheduler that writes a wrong or an extra key fails;
- ``get_last_lr()`` of the last scheduler;
- the warnings raised (messages), which must be the same on both sides;
- the last scheduler's ``state_dict()`` at the end.

Optimizer steps use zero gradients: schedulers only need the step to have happened (torch's step-order
warning), and the parameters' values are the optimizer tests' business.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import refimpl.lr_scheduler as ref_sched
import refimpl.optim as ref_optim

torch = __import__("pytest").importorskip("torch")

# Learning rates are Python floats computed by the same formulas in the same order in both libraries; the
# disagreement measured over every run in these tests is 0 (see the test modules' notes). 1e-12 relative
# leaves room for a few roundings accumulated by the recursive forms over hundreds of steps, should an
# operation order ever differ, and still catches any formula error (those show at 1e-6 and above).
RTOL = 1e-12

Build = Callable[[Any, Any], Any]  # (lr_scheduler module, optimizer) -> scheduler or list of schedulers
StepFn = Callable[[Any, int], None]  # (scheduler, t) -> None: a custom step call (e.g. step(metric))
Changes = dict[int, list[tuple[int, str, Any]]]  # t -> [(group index, key, value)], applied before step t


@dataclass
class History:
    """What one side did: ``groups[t]`` / ``last_lr[t]`` after construction (t = 0) and after step t."""

    groups: list[list[dict[str, Any]]] = field(default_factory=list)
    last_lr: list[list[float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    state_dict: dict[str, Any] = field(default_factory=dict)

    @property
    def lrs(self) -> np.ndarray:
        """``lrs[t, i]``: group ``i``'s lr after step ``t`` (row 0: after construction)."""
        return np.array([[g["lr"] for g in groups] for groups in self.groups], dtype=float)


def param_groups(lrs: Sequence[float] = (0.1, 0.02), **extra: Any) -> list[dict[str, Any]]:
    """One small parameter per group with the given lrs; ``extra`` keys (e.g. ``initial_lr`` as a list,
    one per group, or a scalar for all) are set in every group."""
    groups: list[dict[str, Any]] = []
    for i, lr in enumerate(lrs):
        group: dict[str, Any] = {"params": [np.zeros(2)], "lr": lr}
        group.update({k: v[i] if isinstance(v, (list, tuple)) else v for k, v in extra.items()})
        groups.append(group)
    return groups


def make_optimizer(optim: Any, name: str, groups: list[dict[str, Any]], **hyper: Any) -> Any:
    """Optimizer ``name`` of ``optim`` (refimpl.optim or torch.optim) over copies of ``groups``."""
    as_param = torch.from_numpy if optim is torch.optim else np.copy
    return getattr(optim, name)([{**g, "params": [as_param(p.copy()) for p in g["params"]]} for g in groups])


def step_optimizer(optimizer: Any) -> None:
    """One optimizer step with zero gradients, through the optimizer's (possibly wrapped) ``step``."""
    if isinstance(optimizer, torch.optim.Optimizer):
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:  # the optimizers never clear it: set once
                    p.grad = torch.zeros_like(p)
        optimizer.step()
    else:
        optimizer.step([np.zeros_like(p) for g in optimizer.param_groups for p in g["params"]])


def plain(value: Any) -> Any:
    """Tensors to Python numbers, containers recursively, so both sides' records compare directly."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.detach().numpy().copy()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _as_list(scheduler: Any) -> list[Any]:
    return list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]


def run(
    optim: Any,
    lr_scheduler: Any,
    build: Build,
    *,
    steps: int,
    optimizer: str = "SGD",
    groups: list[dict[str, Any]] | None = None,
    opt_hyper: dict[str, Any] | None = None,
    changes: Changes | None = None,
    epochs: dict[int, int] | None = None,
    step_fn: StepFn | None = None,
    reload_at: int | None = None,
) -> History:
    """One side's history (see the module docstring for the script it follows)."""
    groups = groups if groups is not None else param_groups()
    opt_hyper = {"momentum": 0.9} if opt_hyper is None and optimizer == "SGD" else opt_hyper or {}
    changes, epochs = changes or {}, epochs or {}

    def fresh() -> tuple[Any, list[Any]]:
        opt = make_optimizer(optim, optimizer, groups, **opt_hyper)
        return opt, _as_list(build(lr_scheduler, opt))

    history = History()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt, schedulers = fresh()

        def record() -> None:
            history.groups.append(
                [{k: plain(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
            )
            history.last_lr.append(plain(schedulers[-1].get_last_lr()))

        record()
        for t in range(1, steps + 1):
            for i, key, value in changes.get(t, []):
                opt.param_groups[i][key] = value
            step_optimizer(opt)
            for scheduler in schedulers:
                if step_fn is not None:
                    step_fn(scheduler, t)
                elif t in epochs:
                    scheduler.step(epochs[t])
                else:
                    scheduler.step()
            if t == reload_at:
                # torch's documented order: build the scheduler, then load the optimizer, then the scheduler.
                opt_state = copy.deepcopy(opt.state_dict())
                sched_states = [copy.deepcopy(s.state_dict()) for s in schedulers]
                opt, schedulers = fresh()
                opt.load_state_dict(opt_state)
                for scheduler, state in zip(schedulers, sched_states):
                    scheduler.load_state_dict(state)
            record()
        history.state_dict = plain(schedulers[-1].state_dict())
    history.warnings = [str(w.message) for w in caught]
    return history


def run_pair(build: Build, **kwargs: Any) -> tuple[History, History]:
    """refimpl's and torch's histories for the same ``build`` and script (``run``'s keyword arguments)."""
    return (
        run(ref_optim, ref_sched, build, **kwargs),
        run(torch.optim, torch.optim.lr_scheduler, build, **kwargs),
    )


def rel_error(actual: Any, expected: Any) -> float:
    """Relative difference of two recorded values: 0.0 if equal (NaN equals NaN), inf for different kinds."""
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return math.inf
        return max((rel_error(a, e) for a, e in zip(actual, expected)), default=0.0)
    numbers = (int, float, np.floating, np.integer)
    if isinstance(expected, bool) or not isinstance(expected, numbers) or not isinstance(actual, numbers):
        return 0.0 if actual == expected else math.inf
    if actual == expected or (math.isnan(actual) and math.isnan(expected)):
        return 0.0
    if not (math.isfinite(actual) and math.isfinite(expected)):
        return math.inf
    return abs(actual - expected) / abs(expected) if expected != 0 else abs(actual)


def assert_same_history(
    actual: History, expected: History, rtol: float = RTOL, *, same_warnings: bool = True
) -> float:
    """Same group keys and values (within ``rtol``), same ``get_last_lr()``, same warnings, at every step.

    ``same_warnings=False`` for two scripts that legitimately warn differently (a run rebuilt from a state
    dict repeats its constructors' warnings). Returns the largest relative disagreement seen.
    """
    assert len(actual.groups) == len(expected.groups), "different number of steps"
    worst = 0.0
    for t, (a_groups, e_groups) in enumerate(zip(actual.groups, expected.groups)):
        for i, (a, e) in enumerate(zip(a_groups, e_groups, strict=True)):
            assert a.keys() == e.keys(), f"step {t} group {i}: keys {sorted(a)} != torch's {sorted(e)}"
            for key in e:
                err = rel_error(a[key], e[key])
                assert err <= rtol, f"step {t} group {i} {key!r}: {a[key]!r} vs torch {e[key]!r}"
                worst = max(worst, err)
        err = rel_error(actual.last_lr[t], expected.last_lr[t])
        assert err <= rtol, f"step {t} get_last_lr(): {actual.last_lr[t]} vs torch {expected.last_lr[t]}"
    assert not same_warnings or actual.warnings == expected.warnings, (
        f"warnings {actual.warnings} != torch's {expected.warnings}"
    )
    return worst


def assert_same_state_dict(actual: Any, expected: Any, rtol: float = RTOL, path: str = "state_dict") -> None:
    """Same keys (recursively) and values within ``rtol``; callables (lambdas kept by composites) by type."""
    if isinstance(expected, dict):
        keys = sorted(actual) if isinstance(actual, dict) else actual
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), (
            f"{path}: keys {keys} != torch's {sorted(expected)}"
        )
        for key in expected:
            assert_same_state_dict(actual[key], expected[key], rtol, f"{path}[{key!r}]")
    elif isinstance(expected, (list, tuple)) and not all(isinstance(e, (int, float)) for e in expected):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), f"{path}: length differs"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_state_dict(a, e, rtol, f"{path}[{i}]")
    elif callable(expected):
        assert callable(actual), f"{path}: {actual!r} is not callable"
    else:
        assert rel_error(actual, expected) <= rtol, f"{path}: {actual!r} vs torch {expected!r}"

"""Drive a refimpl scheduler and its torch twin side by side; record every param group after every step.

Used by the cyclic/plateau/restart scheduler tests and the SWALR tests. What is compared is the whole
param group (minus ``params``): ``lr`` and everything a scheduler writes there (``initial_lr``, ``max_lr``,
``momentum``, ``betas``, ``swa_lr``...), so a scheduler that writes a wrong or an extra key fails.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import refimpl.optim as ref_optim

torch = __import__("pytest").importorskip("torch")

# Group values are Python floats computed by the same formulas in the same order; the disagreement
# measured over these runs is 0 or one rounding (~2e-16 relative). 1e-12 allows the few roundings that
# accumulate in the recursive (chainable) forms over hundreds of steps and still catches any formula
# error (those show at 1e-4 and above).
RTOL = 1e-12

Factory = Callable[[Any, Any], Any]  # (scheduler class, optimizer) -> scheduler
StepArgs = Callable[[int], tuple[Any, ...]]  # step index (1-based) -> positional args of scheduler.step


def groups(lrs: tuple[float, ...] = (0.1, 0.03), **second: Any) -> list[dict[str, Any]]:
    """One small parameter per group, different lrs; ``second`` overrides hyperparameters of group 2."""
    out: list[dict[str, Any]] = [{"params": [np.zeros(2)], "lr": lr} for lr in lrs]
    out[-1].update(second)
    return out


def make_optimizers(name: str, param_groups: list[dict[str, Any]], **hyper: Any) -> tuple[Any, Any]:
    """refimpl's and torch's optimizer ``name`` over copies of the same groups."""
    ref_groups = [{**g, "params": [p.copy() for p in g["params"]]} for g in param_groups]
    torch_groups = [{**g, "params": [torch.from_numpy(p.copy()) for p in g["params"]]} for g in param_groups]
    return getattr(ref_optim, name)(ref_groups, **hyper), getattr(torch.optim, name)(torch_groups, **hyper)


def snapshot(optimizer: Any) -> list[dict[str, Any]]:
    """Every param group's hyperparameters (not its params), as plain Python values."""
    return [{k: _plain(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def step_optimizer(optimizer: Any) -> None:
    """One optimizer step with zero gradients (the schedulers only need the step to have happened)."""
    if isinstance(optimizer, torch.optim.Optimizer):
        for g in optimizer.param_groups:
            for p in g["params"]:
                p.grad = torch.zeros_like(p)
        optimizer.step()
    else:
        optimizer.step([np.zeros_like(p) for g in optimizer.param_groups for p in g["params"]])


def run(
    optimizer: Any, scheduler: Any, steps: int, step_args: StepArgs | None = None
) -> list[list[dict[str, Any]]]:
    """Groups after construction and after each of ``steps`` (optimizer step, scheduler step) rounds."""
    history = [snapshot(optimizer)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) deprecation: the same warning in both libraries
        for t in range(1, steps + 1):
            step_optimizer(optimizer)
            scheduler.step(*(step_args(t) if step_args else ()))
            history.append(snapshot(optimizer))
    return history


def run_pair(
    ref_lib: Any,
    torch_lib: Any,
    name: str,
    factory: Factory,
    optimizer: str,
    param_groups: list[dict[str, Any]],
    steps: int,
    step_args: StepArgs | None = None,
    **opt_hyper: Any,
) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    """Histories of refimpl's and torch's scheduler ``name`` (from ``ref_lib``/``torch_lib``)."""
    ref_opt, torch_opt = make_optimizers(optimizer, param_groups, **opt_hyper)
    ref_sched = factory(getattr(ref_lib, name), ref_opt)
    torch_sched = factory(getattr(torch_lib, name), torch_opt)
    return run(ref_opt, ref_sched, steps, step_args), run(torch_opt, torch_sched, steps, step_args)


def max_rel_error(a: Any, e: Any) -> float:
    """Relative difference of two group values (0.0 when equal; inf when of different kinds)."""
    if isinstance(e, tuple):
        if not isinstance(a, tuple) or len(a) != len(e):
            return math.inf
        return max((max_rel_error(x, y) for x, y in zip(a, e)), default=0.0)
    if isinstance(e, bool) or not isinstance(e, (int, float)) or not isinstance(a, (int, float)):
        return 0.0 if a == e else math.inf
    if a == e:
        return 0.0
    return abs(a - e) / abs(e) if e != 0 else abs(a)


def assert_histories_close(actual: list, expected: list, rtol: float = RTOL) -> float:
    """Same keys in every group at every step, values within ``rtol``; returns the largest disagreement."""
    assert len(actual) == len(expected)
    worst = 0.0
    for t, (a_groups, e_groups) in enumerate(zip(actual, expected)):
        for i, (a, e) in enumerate(zip(a_groups, e_groups)):
            assert a.keys() == e.keys(), f"step {t} group {i}: keys {sorted(a)} != torch's {sorted(e)}"
            for key in e:
                err = max_rel_error(a[key], e[key])
                assert err <= rtol, f"step {t} group {i} {key}: {a[key]!r} vs torch {e[key]!r}"
                worst = max(worst, err)
    return worst


def resumed_history(
    make: Callable[[], tuple[Any, Any]], steps: int, save_at: int, step_args: StepArgs | None = None
) -> list[list[dict[str, Any]]]:
    """Run ``save_at`` steps, save optimizer + scheduler, rebuild both from ``make()``, load, continue.

    The rebuild follows torch's documented order: construct the scheduler, *then* load the optimizer's
    state (constructing a scheduler overwrites the groups' lrs), then the scheduler's.
    """
    optimizer, scheduler = make()
    first = run(optimizer, scheduler, save_at, step_args)
    opt_state = copy.deepcopy(optimizer.state_dict())
    sched_state = copy.deepcopy(scheduler.state_dict())
    optimizer, scheduler = make()
    optimizer.load_state_dict(opt_state)
    scheduler.load_state_dict(sched_state)
    rest = run(
        optimizer, scheduler, steps - save_at, (lambda t: step_args(t + save_at)) if step_args else None
    )
    return first + rest[1:]

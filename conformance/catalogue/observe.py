"""Proof that a case makes an option observable: perturb the option, rerun the reference, measure the change.

A golden vector can only catch a wrong option if getting that option wrong changes the expected output by
far more than any tolerance. ``observed_change`` measures exactly that, and ``tests/test_catalogue.py``
demands it for every option every case claims to observe.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from conformance.catalogue.functions import FUNCTION_OPTIONS
from conformance.catalogue.model import OptimCase, SchedCase
from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from conformance.generate import run_optim_case, run_sched_case, run_swa_case
from conformance.metrics import normwise_error
from conformance.runner import CandidateError
from conformance.schedules import values_change

# Constructor arguments that select an implementation and never change the math (torch's own docs say
# so); no case needs to make them observable.
IMPLEMENTATION_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})

# String-valued (or None-able) options have no numeric neighbour: their alternatives are listed.
ALTERNATIVES: dict[str, list[Any]] = {
    "line_search_fn": [None, "strong_wolfe"],
    "adjust_lr_fn": [None, "match_rms_adamw"],
    "eps[0]": [None, 1e-3],  # Adafactor's eps1: None means "derive from the dtype"
    # AveragedModel's averaging function: the other kind of average ("swa" and no function are one average)
    "avg_fn": ["ema", "swa"],
    "multi_avg_fn": ["ema", "swa"],
}


def candidates(option: str, value: Any) -> list[Any]:
    """Values to try in place of ``value``, nearest plausible mistake first."""
    if option in ALTERNATIVES:
        return [v for v in ALTERNATIVES[option] if v != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value * 2, value + 1] if value else [1]
    if isinstance(value, float):
        if value == 0.0:
            return [0.1]
        if 0 < value < 1:
            return [math.sqrt(value), value * 2, value / 2]
        return [value * 2, value / 2]
    raise TypeError(f"no perturbation for option {option} = {value!r}")


def _get(hyper: dict[str, Any], option: str, defaults: dict[str, Any]) -> Any:
    name, _, index = option.partition("[")
    value = hyper.get(name, defaults[name])
    return value[int(index[:-1])] if index else value


def _set(hyper: dict[str, Any], option: str, value: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    name, _, index = option.partition("[")
    out = dict(hyper)
    if index:
        items = list(hyper.get(name, defaults[name]))
        items[int(index[:-1])] = value
        out[name] = tuple(items)
    else:
        out[name] = value
    return out


def _compared(key: str, arrays: dict[str, Any], base: dict[str, Any]) -> bool:
    """What the harness compares: params after every step, and state at checkpoints (same key, same shape)."""
    if key.startswith("params/"):
        return True
    return key.startswith("state/") and key in arrays and arrays[key].shape == base[key].shape


def observed_change(case: OptimCase, option: str, defaults: dict[str, Any]) -> float:
    """The smallest change (norm-wise relative, over the params after every step and the state at every
    checkpoint) among the plausible wrong values of ``option``: every one of them must be visible.

    Values the constructor rejects are not plausible mistakes and are skipped, and so are values whose run
    blows up to NaN/inf (a divergence is visible, but says nothing about the case's sensitivity). Returns
    0.0 if no candidate value is left. The perturbed runs draw the same params and gradients as the case
    itself (``seed``), so the option is the only difference.
    """
    base = run_optim_case(case).arrays
    value = _get(dict(case.hyper), option, defaults)
    changes = []
    for wrong in candidates(option, value):
        mutated = replace(case, hyper=_set(dict(case.hyper), option, wrong, defaults), seed=case.seed_name)
        try:
            with np.errstate(
                all="ignore"
            ):  # a blow-up is expected for some wrong values; it is skipped below
                arrays = run_optim_case(mutated).arrays
        except (ValueError, RuntimeError, TypeError):
            continue  # not a valid value of this option here
        compared = [k for k in base if _compared(k, arrays, base)]
        if not all(np.all(np.isfinite(arrays[k])) for k in compared if k.startswith("params/")):
            continue  # a blow-up; state that merely differs in which slots exist (LBFGS's al) still counts
        changes.append(max(normwise_error(arrays[k], base[k]) for k in compared))
    return min(changes, default=0.0)


# Scheduler options with a fixed set of values: every other one is a plausible mistake.
SCHED_CHOICES: dict[str, list[str]] = {
    "mode": ["min", "max", "triangular", "triangular2", "exp_range"],  # ReduceLROnPlateau's, CyclicLR's
    "threshold_mode": ["rel", "abs"],
    "anneal_strategy": ["cos", "linear"],
    "scale_mode": ["cycle", "iterations"],
}


def sched_candidates(scheduler: str, option: str, value: Any) -> list[Any]:
    """Values to try in place of scheduler option ``value``: the other choices of an enumerated or
    function-valued option; for lists (milestones, per-group values) each entry moved; for nested schedulers,
    one left out (or, in SequentialLR, the order swapped); numbers as for optimizers. Values another class
    rejects are skipped by the caller."""
    if option in FUNCTION_OPTIONS:
        names: list[Any] = list(FUNCTION_OPTIONS[option]) + ([None] if option == "scale_fn" else [])
        if isinstance(value, (list, tuple)):  # one function per group: a port that uses the first for all
            return [v for v in ([value[0]] * len(value), [value[-1]] * len(value)) if v != list(value)]
        return [n for n in names if n != value]
    if option in SCHED_CHOICES:
        return [v for v in SCHED_CHOICES[option] if v != value]
    if option == "schedulers":
        dropped = [value[:i] + value[i + 1 :] for i in range(len(value))] if len(value) > 1 else []
        return dropped + ([tuple(reversed(value))] if scheduler == "SequentialLR" else [])
    if option == "milestones":
        moved = [[m + 1 for m in value], [2 * m for m in value]]
        return moved + ([sorted(set(value))] if len(set(value)) < len(value) else [])
    if isinstance(value, (list, tuple)):
        return [[v * 2 for v in value], [v / 2 for v in value]]
    return candidates(option, value)


def observed_schedule_change(case: SchedCase, option: str, defaults: dict[str, Any]) -> float:
    """The smallest change, among the plausible wrong values of scheduler option ``option``, of the values
    the harness compares (relative, value by value). Values the reference rejects, at construction or while
    stepping, are skipped; 0.0 if none is left."""
    base = run_sched_case(case)["expected"]
    value = case.kwargs.get(option, defaults.get(option))
    changes = []
    for wrong in sched_candidates(case.scheduler, option, value):
        mutated = replace(case, kwargs={**case.kwargs, option: wrong})
        try:
            expected = run_sched_case(mutated)["expected"]
        except CandidateError:
            continue  # not a valid value of this option here
        changes.append(values_change(base, expected))
    return min(changes, default=0.0)


# AveragedModel's options that have a default (torch's), for perturbing a case that leaves them out.
AVERAGED_DEFAULTS = {"use_buffers": False}


def observed_swa_change(case: AveragedCase | UpdateBnCase, option: str) -> float:
    """The smallest change, among the plausible wrong values of ``option`` (an AveragedModel option, or an
    update_bn case's field such as ``batches``), of the expected values the harness compares (averaged
    params and buffers after every update, or the BatchNorm statistics), with the case's own random draws.
    Values the reference rejects are skipped; 0.0 if none is left."""
    base = run_swa_case(case).arrays
    averaged = isinstance(case, AveragedCase)
    value = case.options.get(option, AVERAGED_DEFAULTS.get(option)) if averaged else getattr(case, option)
    changes = []
    for wrong in candidates(option, value):
        if averaged:
            mutated = replace(case, options={**case.options, option: wrong}, seed=case.seed_name)
        else:
            mutated = replace(case, seed=case.seed_name, **{option: wrong})
        try:
            arrays = run_swa_case(mutated).arrays
        except (ValueError, RuntimeError, CandidateError):
            continue  # not a valid value of this option here
        compared = [
            k
            for k in base
            if k.startswith(("avg/", "expected/")) and k in arrays and arrays[k].shape == base[k].shape
        ]
        changes.append(max(normwise_error(arrays[k], base[k]) for k in compared))
    return min(changes, default=0.0)

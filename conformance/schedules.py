"""Play an LR-scheduler case's script and compare what a candidate records with the vectors.

``play`` is the one implementation of the script ``SchedCase`` describes (hand changes, optimizer and
scheduler steps, metrics, a checkpoint round trip): ``conformance.generate`` plays it on the reference to
record the expected values, and ``run_schedule`` plays it on a candidate, so the two can never drift apart.

What is compared: every group's lr (and momentum or beta1 where a scheduler cycles it) after construction
(epoch 0) and after every epoch, value by value, relative to the expected value.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported, SchedulerRun
from conformance.catalogue.functions import resolve
from conformance.metrics import normwise_error, trajectory_divergence
from conformance.runner import CandidateError, CheckResult, _call
from conformance.tolerances import EPS
from conformance.vectors import VERIFY_HINT, VectorError, Vectors

# torch and the reference compute lrs as Python floats (float64) with the same formulas in the same order:
# they agree exactly over the whole catalogue (measured: max relative difference 0.0, as in the
# differential tests of tests/scheduler_differential.py). 1e-12 relative leaves room for a few roundings,
# should a candidate order an operation differently (the recursive forms accumulate them over hundreds of
# epochs: ~1e-16 each), and is nine orders of magnitude below the >= 1e-3 change that every catalogued
# option causes when it is wrong (tests/test_catalogue.py).
SCHEDULE_RTOL = 1e-12
# Zero and tiny expected values (LinearLR with end_factor=0, a cosine down to eta_min=0): relative error is
# meaningless there (0 against 1e-17 is "100 %"). Every scheduled value is computed from the group's base
# value by a few multiplications and additions, so a value that cancels towards 0 still carries the absolute
# rounding of those operations at the schedule's scale: a few eps x the largest value the column holds.
# Errors are therefore measured against max(|expected|, FLOOR x that scale), FLOOR chosen so the absolute
# tolerance there is 16 eps x the scale (16: the policy's GROWTH, a generous count of roundings): 3.6e-3.
# A wrong schedule still fails: a value below the floor that is wrong by more than 16 eps of the scale (e.g.
# 1e-12 of a base lr of 0.1) is beyond tolerance, and every catalogued option moves the values by >= 1e-3.
FLOOR = 16 * EPS["float64"] / SCHEDULE_RTOL
# Every param group holds one small param: the schedule never reads it, the optimizer needs one.
PARAM_SHAPE = (2,)


@dataclass
class LoadedSchedule:
    """A scheduler case from the vectors: its description, with the expected values under ``expected``."""

    id: str
    meta: dict[str, Any]

    @classmethod
    def load(cls, vectors: Vectors, case_id: str) -> LoadedSchedule:
        """The case, its scheduler specs checked first: a function name this harness does not know (vectors
        from a newer catalogue) or a malformed spec is a one-line ``VectorError``, not a candidate failure.
        The description is a copy: nothing a check or a candidate does to it reaches later checks."""
        meta = copy.deepcopy(vectors.describe(case_id))
        try:
            for spec in meta["schedulers"]:
                resolved(spec)
        except (ValueError, KeyError, TypeError) as e:
            where = vectors.directory / vectors.case_file[case_id]
            raise VectorError(
                f"{where} (case {case_id}): unusable scheduler spec ({e}); {VERIFY_HINT}"
            ) from None
        return cls(case_id, meta)


def scheduler_classes(meta: dict[str, Any]) -> set[str]:
    """Every scheduler class a case builds, nested ones included: what the candidate must support."""

    def classes(spec: dict[str, Any]) -> set[str]:
        return {spec["scheduler"]}.union(*(classes(s) for s in spec["kwargs"].get("schedulers", [])))

    return set().union(*(classes(s) for s in meta["schedulers"]))


def resolved(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec with function names replaced by the functions, nested specs too (what adapters receive)."""
    kwargs = resolve(spec["kwargs"])
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [resolved(s) for s in kwargs["schedulers"]]
    return {"scheduler": spec["scheduler"], "kwargs": kwargs}


def make_run(adapter: Any, meta: dict[str, Any], device: str) -> SchedulerRun:
    """The candidate's optimizer with the case's schedulers on it, fresh."""
    if not callable(getattr(adapter, "make_scheduler", None)):
        raise NotSupported(f"{getattr(adapter, 'name', 'the candidate')} has no make_scheduler")
    return adapter.make_scheduler(
        [resolved(s) for s in meta["schedulers"]],
        optimizer=meta["optimizer"],
        groups=[{"params": [np.zeros(PARAM_SHAPE)], **g} for g in meta["groups"]],
        hyper=dict(meta["optimizer_hyper"]),
        device=device,
    )


def read(run: SchedulerRun, key: str) -> list[float]:
    """One recorded value per group: ``lr``, ``momentum``, or ``beta1`` (``betas[0]``)."""
    if key == "beta1":
        return [float(betas[0]) for betas in run.group_values("betas")]
    return [float(v) for v in run.group_values(key)]


def play(
    meta: dict[str, Any], make: Callable[[], SchedulerRun], keys: list[str]
) -> dict[str, list[list[float]]]:
    """Run the case's script on runs from ``make``; ``{key: rows}``, row ``t`` the groups' values after epoch
    ``t`` (row 0: after construction). What the candidate raises or returns wrong is a ``CandidateError``
    naming the epoch."""
    n_groups = len(meta["groups"])
    rows: dict[str, list[list[float]]] = {k: [] for k in keys}
    run = _call("building the optimizer and schedulers", make)

    def record(when: str) -> None:
        for key in keys:
            values = _call(f"reading the groups' {key!r} {when}", read, run, key)
            if len(values) != n_groups:
                raise CandidateError(f"{when}: {len(values)} param groups, expected {n_groups}")
            rows[key].append(values)

    record("after construction")
    for t in range(1, meta["steps"] + 1):
        for group, key, value in meta["changes"].get(str(t), []):
            _call(
                f"setting param_groups[{group}][{key!r}] before epoch {t}",
                run.set_hyperparameter,
                group,
                key,
                value,
            )
        metric = meta["metrics"][t - 1] if meta["metrics"] else None
        _call(f"epoch {t}", run.step, metric)
        if t == meta["reload_at"]:
            saved = _call(f"saving the state dicts after epoch {t}", run.state_dict)
            run = _call(f"rebuilding the optimizer and schedulers after epoch {t}", make)
            _call(f"loading the state dicts after epoch {t}", run.load_state_dict, saved)
        record(f"after epoch {t}")
    return rows


def values_change(a: dict[str, list[list[float]]], b: dict[str, list[list[float]]]) -> float:
    """The largest relative difference between two records of ``play`` (value by value, as the harness
    compares them); ``inf`` if they record different keys, epochs or groups."""
    if a.keys() != b.keys() or any(np.shape(a[k]) != np.shape(b[k]) for k in a):
        return math.inf
    return max(
        (
            normwise_error(np.float64(x), np.float64(y))
            for k in a
            for x, y in zip(np.ravel(a[k]), np.ravel(b[k]))
        ),
        default=0.0,
    )


def floored(rows: list[list[Any]]) -> list[list[float]]:
    """The scale each value's error is measured against: its own magnitude, or ``FLOOR`` times the largest
    magnitude its column (one key of one group) reaches over the schedule, whichever is larger."""
    columns = [max(abs(float(row[i])) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [[max(abs(float(v)), FLOOR * c) for v, c in zip(row, columns, strict=True)] for row in rows]


def run_schedule(adapter: Any, case: LoadedSchedule, dtype: str, device: str, variant: str) -> CheckResult:
    """Play the case on the candidate and compare every recorded value. ``dtype`` and ``variant`` do not
    apply (lrs are Python floats, whatever the params are) and are ignored: the check signature is shared
    with the optimizer checks. ``first_bad_step`` is the epoch (0: right after construction)."""
    start = time.perf_counter()
    meta = case.meta
    expected = meta["expected"]
    got = play(meta, lambda: make_run(adapter, meta, device), list(expected))
    steps = meta["steps"] + 1
    actual_rows = [[np.float64(v) for key in expected for v in got[key][t]] for t in range(steps)]
    expected_rows = [[np.float64(v) for key in expected for v in expected[key][t]] for t in range(steps)]
    rtol = float((meta.get("tolerance") or {}).get("float64", SCHEDULE_RTOL))
    d = trajectory_divergence(
        actual_rows, expected_rows, [rtol] * steps, EPS["float64"], floored(expected_rows)
    )
    # Rows are epochs 0..steps; the metrics count them from 1.
    d.first_bad_step = None if d.first_bad_step is None else d.first_bad_step - 1
    d.worst_step = None if d.worst_step is None else d.worst_step - 1
    bad = d.first_bad_step
    return CheckResult(
        bad is None and not d.non_finite,
        d,
        [rtol] * steps,
        time.perf_counter() - start,
        meta["steps"],
        checked_steps=list(range(steps)),  # the rows are epochs 0..steps
        details=[
            f"at epoch {bad}: {key} {got[key][bad]}, expected {expected[key][bad]}"
            for key in expected
            if bad is not None and got[key][bad] != expected[key][bad]
        ],
    )

"""``optconf vectors verify``: the stored vectors are intact and still what the reference computes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from conformance.catalogue import optimizer_cases, scheduler_cases
from conformance.generate import scheduler_files, vector_files
from conformance.metrics import normwise_error
from conformance.schedules import values_change
from conformance.vectors import VectorError, Vectors

# A fresh generation on another machine may differ from the stored one by a few ULPs per operation (numpy's
# SIMD kernels and libm differ between platforms); over at most a few hundred float64 steps that stays below
# 1e-12 relative, while an edited value or a changed reference differs by many orders of magnitude more.
REGENERATION_RTOL = 1e-12


def verify(directory: Path) -> list[str]:
    """One line per problem; an empty list means the vectors are intact and reproducible."""
    try:
        vectors = Vectors(directory)
    except VectorError as e:
        return [str(e)]
    problems = []
    listed = set(vectors.manifest["files"])
    for path in sorted(listed):
        try:
            vectors._checked_bytes(path)
        except VectorError as e:
            problems.append(str(e))
    present = {str(p.relative_to(directory)) for p in Path(directory).rglob("*") if p.is_file()}
    problems += [
        f"{Path(directory) / p}: not listed in manifest.json"
        for p in sorted(present - listed - {"manifest.json"})
    ]
    if problems:
        return problems
    for fresh in vector_files(optimizer_cases()) + scheduler_files(scheduler_cases()):
        problems += _compare_file(vectors, fresh.path, fresh.data, fresh.cases)
    stale = set(vectors.case_ids()) - {c.id for c in optimizer_cases() + scheduler_cases()}
    problems += [
        f"{directory}/{vectors.case_file[c]}: case {c} is no longer in the catalogue" for c in sorted(stale)
    ]
    return problems


def _compare_file(vectors: Vectors, path: str, data: bytes, cases: list[str]) -> list[str]:
    where = vectors.directory / path
    problems = []
    for case in cases:
        if case not in vectors.case_file:
            problems.append(f"{where}: case {case} is missing (new in the catalogue)")
            continue
        if path.endswith(".json"):
            problems += _compare_description(where, case, json.loads(data)[case], vectors.describe(case))
            continue
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            fresh = {k[len(case) + 1 :]: npz[k] for k in npz.files if k.startswith(case + "/")}
        stored = vectors.arrays(case)
        if fresh.keys() != stored.keys():
            problems.append(
                f"{where}: case {case} arrays {sorted(set(fresh) ^ set(stored))} differ in presence"
            )
            continue
        worst = max(
            (normwise_error(stored[k], fresh[k]) for k in fresh if stored[k].shape == fresh[k].shape),
            default=0.0,
        )
        if any(stored[k].shape != fresh[k].shape for k in fresh) or worst > REGENERATION_RTOL:
            problems.append(f"{where}: case {case} differs from a fresh generation (rel error {worst:.3g})")
    return problems


def _compare_description(where: Path, case: str, fresh: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The description must be the same; a scheduler case's expected values (under ``expected``) may differ
    by ``REGENERATION_RTOL``, as arrays may."""
    fresh, stored = dict(fresh), dict(stored)
    fresh_values, stored_values = fresh.pop("expected", {}), stored.pop("expected", {})
    if fresh != stored:
        return [f"{where}: case {case} description differs from a fresh generation"]
    worst = values_change(fresh_values, stored_values)
    if worst > REGENERATION_RTOL:
        return [
            f"{where}: case {case} expected values differ from a fresh generation (rel error {worst:.3g})"
        ]
    return []

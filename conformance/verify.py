"""``optconf vectors verify``: the stored vectors are intact and still what the reference computes."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from conformance.catalogue import optimizer_cases, scheduler_cases, swa_cases
from conformance.generate import all_files
from conformance.metrics import normwise_error
from conformance.schedules import values_change
from conformance.vectors import TORCH_VERSION, VectorError, VectorFile, Vectors

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
    made_for = vectors.manifest["torch_version"]
    if made_for != TORCH_VERSION:
        problems.append(
            f"{Path(directory) / 'manifest.json'}: made for torch {made_for}, but this reference specifies "
            f"torch {TORCH_VERSION}; regenerate with `optconf vectors generate --dir {directory}`"
        )
    listed = set(vectors.manifest["files"])
    catalogue = optimizer_cases(), scheduler_cases(), swa_cases()
    fresh_files = {f.path: f for f in all_files(*catalogue)}
    for path in sorted(listed):
        try:
            vectors._checked_bytes(path)
        except VectorError as e:
            problems.append(f"{e}; {_damage(Path(directory) / path, fresh_files.get(path))}")
    present = {str(p.relative_to(directory)) for p in Path(directory).rglob("*") if p.is_file()}
    problems += [
        f"{Path(directory) / p}: not listed in manifest.json"
        for p in sorted(present - listed - {"manifest.json"})
    ]
    if problems:
        return problems
    for fresh in fresh_files.values():
        problems += _compare_file(vectors, fresh.path, fresh.data, fresh.cases)
    stale = set(vectors.case_ids()) - {c.id for cases in catalogue for c in cases}
    problems += [
        f"{directory}/{vectors.case_file[c]}: case {c} is no longer in the catalogue" for c in sorted(stale)
    ]
    return problems


def _damage(full: Path, fresh: VectorFile | None) -> str:
    """Which cases of a file whose hash is wrong differ from a fresh generation (read as data only: JSON, or
    the zip members' bytes, never unpickled)."""
    if fresh is None or not full.is_file():
        return f"cases: {', '.join(fresh.cases) if fresh else 'none in the catalogue'}"
    stored = full.read_bytes()
    try:
        if full.suffix == ".json":
            a, b = json.loads(stored), json.loads(fresh.data)
            bad = [c for c in fresh.cases if a.get(c) != b.get(c)]
        else:
            with zipfile.ZipFile(io.BytesIO(stored)) as za, zipfile.ZipFile(io.BytesIO(fresh.data)) as zb:
                bad = [c for c in fresh.cases if _members(za, c) != _members(zb, c)]
    except (ValueError, zipfile.BadZipFile, OSError):
        return f"unreadable; it holds cases {', '.join(fresh.cases)}"
    return f"case(s) {', '.join(bad) or '(none: only metadata)'} differ from a fresh generation"


def _members(archive: zipfile.ZipFile, case: str) -> dict[str, bytes | None]:
    """A case's members in a vector zip, by name; ``None`` for a member that fails its CRC check."""
    out: dict[str, bytes | None] = {}
    for name in archive.namelist():
        if name.startswith(case + "/"):
            try:
                out[name] = archive.read(name)
            except (zipfile.BadZipFile, OSError, zlib.error):
                out[name] = None
    return out


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

"""Comparisons of what the candidate and the reference hold: params, state dicts, param groups.

Each function returns the differences as readable lines (empty: they agree), so a check can report all of
what is wrong at once. Numbers are compared norm-wise (``conformance.metrics.normwise_error``) within the
check's tolerance; ``rtol=0`` asks for bitwise equality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from conformance.adapters.base import TORCH_LAYOUT, ClassDeclaration
from conformance.metrics import normwise_error
from conformance.schedules import FLOOR, SCHEDULE_RTOL
from conformance.state import as_torch, compared_keys


def plain(value: Any) -> Any:
    """NumPy scalars/0-d arrays to Python numbers and tuples to lists, so values compare across libraries
    (torch's ``step`` is a float32 tensor, the reference's a float; JSON-ish lists vs tuples)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def max_abs(x: Any) -> float:
    """The max-norm of an array (complex as (real, imag) pairs), 0 for an empty one."""
    return float(np.max(np.abs(np.asarray(x)), initial=0.0))


def array_error(actual: Any, expected: Any, floor: float = 0.0) -> float:
    """Norm-wise relative error of two arrays over their finite entries; inf for a shape mismatch or where
    the non-finite entries differ (NaN where the reference has NaN is agreement: both broke down).

    ``floor``: the smallest scale the error is measured against (``ApiContext.floors``), for an expected
    value that is zero or has cancelled far below the magnitudes it was computed from. Without one, an
    all-zero expected array is compared by the absolute error."""
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return float("inf")
    finite_a, finite_e = np.isfinite(a), np.isfinite(e)
    if not np.array_equal(finite_a, finite_e) or not np.array_equal(
        a[~finite_a], e[~finite_e], equal_nan=True
    ):
        return float("inf")
    a, e = np.where(finite_a, a, 0), np.where(finite_e, e, 0)
    return normwise_error(a, e, max(max_abs(e), floor) if floor > 0 else None)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, complex, np.ndarray)) and not isinstance(value, bool)


def _same(actual: Any, expected: Any, rtol: float, floor: float = 0.0) -> bool:
    actual, expected = plain(actual), plain(expected)
    if isinstance(expected, list) or isinstance(actual, list):
        return (
            isinstance(actual, list)
            and isinstance(expected, list)
            and len(actual) == len(expected)
            and all(_same(a, e, rtol, floor) for a, e in zip(actual, expected))
        )
    if _number(actual) and _number(expected):
        if rtol == 0:
            return np.array_equal(np.asarray(actual), np.asarray(expected), equal_nan=True)
        return array_error(actual, expected, floor) <= rtol
    return actual == expected


def params(
    actual: Sequence[Any],
    expected: Sequence[Any],
    rtol: float | Sequence[float],
    what: str = "",
    floors: Sequence[float] | None = None,
) -> list[str]:
    """Differences between two lists of params (``what``: e.g. "after step 3"); ``rtol`` per param or one
    for all; ``floors``: per param, the smallest scale its error is measured against (``array_error``)."""
    if len(actual) != len(expected):
        return [f"{len(actual)} params {what}, the reference has {len(expected)}"]
    rtols = [rtol] * len(expected) if isinstance(rtol, (int, float)) else list(rtol)
    floors = list(floors) if floors is not None else [0.0] * len(expected)
    out = []
    for i, (a, e, tol, floor) in enumerate(zip(actual, expected, rtols, floors)):
        if np.shape(a) != np.shape(e):
            out.append(f"param {i} {what} has shape {np.shape(a)}, the reference's {np.shape(e)}")
        elif not _same(np.asarray(a), np.asarray(e), tol, floor):
            err = array_error(a, e, floor)
            bound = "bitwise equality" if tol == 0 else f"tolerance {tol:.3g}"
            out.append(f"param {i} {what}: max rel error {err:.3g} (needs {bound})")
    return out


def state_dicts(
    actual: Mapping[str, Any],
    expected: Mapping[str, Any],
    rtol: float,
    switches: frozenset[str] = frozenset(),
    declared: ClassDeclaration = TORCH_LAYOUT,
    strict: bool = True,
) -> list[str]:
    """Differences between two state dicts in torch's layout: which params have state, the state keys and
    values, and the param groups (indices, keys, values; ``switches``: keys whose values are not compared,
    the implementation switches a variant sets).

    ``declared``: the class's declaration -- its state is read through its key map (``conformance.state``),
    the options it lacks are not expected in its groups. ``strict``: the layout itself is under test (keys
    the candidate lacks are differences); otherwise only the state it keeps in torch's layout is compared,
    and a check about something else is not failed for a layout the structure check already names. Keys
    the candidate has beyond torch's (a library's own options) are never differences.
    """
    out = []
    got, want = as_torch(actual.get("state", {}), declared), expected.get("state", {})
    if strict and sorted(got) != sorted(want):
        out.append(f"state for params {sorted(got)}, the reference has state for {sorted(want)}")
    for index in sorted(set(got) & set(want)):
        held = compared_keys(declared, set(want[index]))
        wanted = {k: v for k, v in want[index].items() if k in held and (strict or k in got[index])}
        out += _entries(f"state[{index}]", got[index], wanted, rtol)
    groups, ref_groups = actual.get("param_groups", []), expected.get("param_groups", [])
    if len(groups) != len(ref_groups):
        out.append(f"{len(groups)} param groups, the reference has {len(ref_groups)}")
    for g, (group, ref_group) in enumerate(zip(groups, ref_groups)):
        # Options the class lacks are not expected; nor are torch's implementation switches (foreach...) of a
        # candidate without them: they select a kernel, not a behaviour.
        ref_group = {
            k: v
            for k, v in ref_group.items()
            if k not in declared.lacks and not (k in switches and k not in group)
        }
        if not strict:  # keys the candidate keeps elsewhere are the structure check's to name
            ref_group = {k: v for k, v in ref_group.items() if k in group}
        out += _entries(f"param_groups[{g}]", group, ref_group, rtol, switches)
    return out


def _entries(
    where: str,
    got: Mapping[str, Any],
    want: Mapping[str, Any],
    rtol: float,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    out = []
    missing = sorted(set(want) - set(got))
    if missing:
        out.append(f"{where} lacks {', '.join(map(repr, missing))}")
    for key in [k for k in want if k in got and k not in skip]:
        if not _same(got[key], want[key], rtol):
            out.append(f"{where}[{key!r}] = {_short(got[key])}, the reference's is {_short(want[key])}")
    return out


def _short(value: Any) -> str:
    value = plain(value)
    if isinstance(value, np.ndarray):
        return f"array{value.shape} max |x| {np.max(np.abs(value), initial=0.0):.6g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def same_values(actual: Any, expected: Any, rtol: float = 0.0) -> bool:
    """Whether two values (numbers, arrays, tuples/lists of them) agree within ``rtol``."""
    return _same(actual, expected, rtol)


def same_lrs(actual: Sequence[Any], expected: Sequence[Any], groups: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the candidate's lrs (one per group) are the reference's (``groups``: the reference's param
    groups) within the schedule tolerance. Each is measured against at least ``FLOOR`` times its group's
    scale, its initial lr or its lr now where larger: a scheduled lr that reaches or cancels towards 0
    (LinearLR to ``end_factor=0``) carries the rounding of the base lr it was computed from, as scheduled
    values do in the vector check (``conformance.schedules.FLOOR``, where the floor is derived)."""
    if len(actual) != len(expected) or len(expected) != len(groups):
        return False
    return all(
        _same(a, e, SCHEDULE_RTOL, FLOOR * max(abs(float(g.get("initial_lr", 0.0))), abs(float(e))))
        for a, e, g in zip(actual, expected, groups)
    )


def mapping(
    where: str,
    actual: Mapping[str, Any],
    expected: Mapping[str, Any],
    rtol: float = 0.0,
    lacks: frozenset[str] = frozenset(),
) -> list[str]:
    """Differences between two mappings of hyperparameters (missing keys, differing values; ``lacks``: the
    options the candidate's class declares it lacks, not expected; keys beyond the reference's are a
    library's own options, not differences)."""
    return _entries(where, actual, {k: v for k, v in expected.items() if k not in lacks}, rtol)

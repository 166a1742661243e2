"""The candidate's optimizer state next to torch's: which of it can be compared, under which names.

The state is compared where the candidate keeps it in torch's layout (``state_dict()["state"][i]`` with
torch's keys), or through the key map its class declares (``ClassDeclaration.state_keys``, e.g.
``{"exp_avg": "mu"}``). Anything else is "state: not comparable", said in the record, and never hides the
params' verdict: a library with another layout still learns whether its arithmetic is torch's. Whether the
layout itself is torch's is the job of one check (``test_state_dict_structure``), which names the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.adapters.base import ClassDeclaration

NOT_COMPARABLE = "state: not comparable"


def as_torch(state: Mapping[Any, Mapping[str, Any]], declared: ClassDeclaration) -> dict[Any, dict[str, Any]]:
    """The candidate's per-param state under torch's key names: as it is for torch's layout, the mapped
    keys only (renamed) for a declared map, nothing for an empty map."""
    keys = declared.state_keys
    if keys is None:
        return {i: dict(s) for i, s in state.items()}
    return {i: {k: s[v] for k, v in keys.items() if v in s} for i, s in state.items()}


def as_candidate(
    state: Mapping[Any, Mapping[str, Any]], declared: ClassDeclaration
) -> dict[Any, dict[str, Any]]:
    """torch's per-param state under the candidate's key names (the inverse of ``as_torch``): what teacher
    forcing loads into a candidate with a declared map."""
    keys = declared.state_keys
    if keys is None:
        return {i: dict(s) for i, s in state.items()}
    return {i: {keys[k]: v for k, v in s.items() if k in keys} for i, s in state.items()}


def compared_keys(declared: ClassDeclaration, reference_keys: set[str]) -> set[str]:
    """The reference's keys a candidate is held to: all of them for torch's layout, the mapped ones for a
    declared map."""
    keys = declared.state_keys
    return set(reference_keys) if keys is None else set(reference_keys) & set(keys)


def missing_note(missing: Mapping[str, set[Any]], reference_keys: set[str], held: set[str]) -> str:
    """ "state: not comparable ..." for the reference's keys the candidate does not keep (by param)."""
    if not held - set(missing):
        return f"{NOT_COMPARABLE} (the candidate keeps none of torch's keys {sorted(reference_keys)})"
    parts = [f"{k!r} (params {sorted(missing[k])})" for k in sorted(missing)]
    return f"{NOT_COMPARABLE} for {', '.join(parts)}: the candidate does not keep them in torch's layout"


def layout_problem(
    candidate: Mapping[Any, Mapping[str, Any]],
    reference: Mapping[Any, Mapping[str, Any]],
    declared: ClassDeclaration,
) -> str | None:
    """Why the reference's state cannot be loaded into the candidate (teacher forcing), or ``None``: every
    key it is held to must be there, under its name, for every param both have state for."""
    if declared.state_keys is not None and not declared.state_keys:
        return f"{NOT_COMPARABLE} (the candidate declares an empty state-key map)"
    mine = as_torch(candidate, declared)
    missing: dict[str, set[Any]] = {}
    held: set[str] = set()
    for index, entries in reference.items():
        if index not in mine:
            continue
        wanted = compared_keys(declared, set(entries))
        held |= wanted
        for key in wanted - set(mine[index]):
            missing.setdefault(key, set()).add(index)
    if not missing:
        return None
    keys = sorted({k for s in reference.values() for k in s})
    return (
        missing_note(missing, set(keys), held)
        + " (teacher forcing loads torch's state; declare a state-key map)"
    )

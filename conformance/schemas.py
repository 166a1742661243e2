"""The shapes of the files a run reads, checked before anything is run: a malformed file is one line naming
the file, the entry and what is wrong (with the valid keys or values), never a traceback and never silently
ignored.

- known-deviations files (``[[deviation]]`` and ``[[tolerance]]`` entries): a misspelt condition key
  (``dtyp = "float32"``) would otherwise be ignored, and the entry would turn every dtype's failure into an
  expected one;
- ``manifest.json`` and the case descriptions of a vectors directory;
- a case's arrays against its description: a wrong shape is the vectors' fault, not the candidate's.

JSON Schema (``jsonschema``) does the checking; this module turns its findings into one-line messages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
import numpy as np
from packaging.specifiers import InvalidSpecifier, SpecifierSet

# Every dtype the harness can run a candidate in (conformance.tolerances.EPS has one epsilon for each).
DTYPES = ("float64", "float32", "bfloat16", "float16")
DEVICE_TYPES = ("cpu", "cuda")

_STRING = {"type": "string", "minLength": 1}
_PATTERNS = {"oneOf": [_STRING, {"type": "array", "items": _STRING, "minItems": 1}]}

# What an entry selects tests by: test-id patterns, the classes and the options a test is about
# (conformance.known_deviations.Item); an entry needs at least one of them.
_SELECTOR_KEYS = ("test", "class", "option")
_SELECTED = {"anyOf": [{"required": [key]} for key in _SELECTOR_KEYS]}
_SELECTORS = {
    "test": _PATTERNS,
    "class": _PATTERNS,
    "option": _PATTERNS,
    "device": {"enum": list(DEVICE_TYPES)},
    "variant": _STRING,
    "torch": _STRING,
}
DEVIATION = {
    "type": "object",
    "required": ["reason", "upstream"],
    **_SELECTED,
    "additionalProperties": False,
    "properties": {**_SELECTORS, "dtype": {"enum": list(DTYPES)}, "reason": _STRING, "upstream": _STRING},
}
TOLERANCE = {
    "type": "object",
    "required": ["reason"],
    **_SELECTED,
    "additionalProperties": False,
    "properties": {**_SELECTORS, "reason": _STRING},
    # how an error message names the keys patternProperties allows
    "x-keys": [*DTYPES, "DTYPE:trajectory", "DTYPE:single_step"],
    # float32 = 1e-4, or "float32:trajectory" / "float32:single_step" for one check only
    "patternProperties": {
        rf"^({'|'.join(DTYPES)})(:(trajectory|single_step))?$": {"type": "number", "exclusiveMinimum": 0}
    },
}
DEVIATIONS_FILE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "extends": _STRING,
        "deviation": {"type": "array", "items": DEVIATION},
        "tolerance": {"type": "array", "items": TOLERANCE},
    },
}

MANIFEST = {
    "type": "object",
    "required": ["format_version", "torch_version", "files"],
    "properties": {
        "format_version": {"type": "integer"},
        "torch_version": _STRING,
        "files": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["sha256", "cases"],
                "properties": {
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "cases": {"type": "array", "items": _STRING},
                },
            },
        },
    },
}

_INT = {"type": "integer", "minimum": 0}
_CHANGES = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {"type": "array", "prefixItems": [_INT, _STRING, {}], "minItems": 3, "maxItems": 3},
    },
}
_COMMON = {
    "id": _STRING,
    "optimizer": _STRING,
    "steps": {"type": "integer", "minimum": 1},
    "changes": _CHANGES,
    "observes": {"type": "array", "items": {"type": "string"}},
    "why": {"type": "string"},
}
OPTIMIZER_CASE = {
    "type": "object",
    "required": [*_COMMON, "kind", "hyper", "groups", "dtype", "objective", "gradients", "checkpoints"],
    "properties": {
        **_COMMON,
        "kind": {"const": "optimizer"},
        "hyper": {"type": "object"},
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["shapes", "overrides"],
                "properties": {
                    "shapes": {"type": "array", "items": {"type": "array", "items": _INT}},
                    "overrides": {"type": "object"},
                },
            },
        },
        "dtype": {"enum": ["float64", "complex128"]},
        "objective": {"type": ["string", "null"]},
        "gradients": {"type": ["object", "null"]},
        "checkpoints": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        "checkpoint_param_groups": {"type": "object"},
        "tolerance": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
        "reload_at": {"type": ["integer", "null"]},
    },
}
_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["scheduler", "kwargs"],
    "properties": {"scheduler": _STRING, "kwargs": {"type": "object"}},
}
SCHEDULER_CASE = {
    "type": "object",
    "required": [*_COMMON, "kind", "scheduler", "schedulers", "optimizer_hyper", "groups", "expected"],
    "properties": {
        **_COMMON,
        "kind": {"const": "scheduler"},
        "scheduler": _STRING,
        "schedulers": {"type": "array", "minItems": 1, "items": _SPEC},
        "optimizer_hyper": {"type": "object"},
        "groups": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "metrics": {"type": ["array", "null"]},
        "functions": {"type": "object"},
        "reload_at": {"type": ["integer", "null"]},
        "expected": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "array"},
        },
    },
}


_SWA_COMMON = {
    "id": _STRING,
    "swa": _STRING,
    "functions": {"type": "array", "items": _STRING},
    "observes": {"type": "array", "items": {"type": "string"}},
    "why": {"type": "string"},
}
_SHAPE = {"type": "array", "items": _INT}
AVERAGED_MODEL_CASE = {
    "type": "object",
    "required": [*_SWA_COMMON, "kind", "params", "buffers", "options", "updates"],
    "properties": {
        **_SWA_COMMON,
        "kind": {"const": "averaged_model"},
        "params": {"type": "array", "items": _SHAPE},
        "buffers": {
            "type": "array",
            "items": {"type": "object", "required": ["dtype", "shape"], "properties": {"shape": _SHAPE}},
        },
        "options": {"type": "object"},
        "updates": {"type": "integer", "minimum": 1},
    },
}
UPDATE_BN_CASE = {
    "type": "object",
    "required": [*_SWA_COMMON, "kind", "layers", "batches", "batch_shape", "pairs", "training"],
    "properties": {
        **_SWA_COMMON,
        "kind": {"const": "update_bn"},
        "layers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["layer"]}},
        "batches": {"type": "integer", "minimum": 1},
        "batch_shape": _SHAPE,
        "pairs": {"type": "boolean"},
        "training": {"type": "boolean"},
    },
}
# A case description's schema by its "kind" (an optimizer case may predate the key).
CASE_SCHEMAS = {
    "optimizer": OPTIMIZER_CASE,
    "scheduler": SCHEDULER_CASE,
    "averaged_model": AVERAGED_MODEL_CASE,
    "update_bn": UPDATE_BN_CASE,
}


# One validator per schema (all module-level constants), built on first use: building one per case would
# double the time a run spends checking its vectors.
_validators: dict[int, jsonschema.Draft202012Validator] = {}


def problem(data: Any, schema: Mapping[str, Any]) -> str | None:
    """What is wrong with ``data`` (the most relevant of its problems, in one line), or ``None``."""
    if id(schema) not in _validators:
        _validators[id(schema)] = jsonschema.Draft202012Validator(schema)
    validator = _validators[id(schema)]
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"{where or 'top level'}: {_message(error)}"


def _message(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        unknown = sorted(
            k for k in error.instance if k not in known and not any(re.fullmatch(p, k) for p in patterns)
        )
        valid = sorted(known) + schema.get("x-keys", [])
        hints = [
            f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, valid, 1)) else repr(k)
            for k in unknown
        ]
        return f"unknown key {', '.join(hints)}; valid keys: {', '.join(valid)}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "anyOf" and error.validator_value is _SELECTED["anyOf"]:
        return f"selects nothing: give {', '.join(_SELECTOR_KEYS[:-1])} or {_SELECTOR_KEYS[-1]}"
    if error.validator == "oneOf" and error.schema is _PATTERNS:
        return f"{error.instance!r} is not a test pattern (a string) or a list of them"
    return error.message


def version_problem(specifier: str) -> str | None:
    """Why ``specifier`` is not a PEP 440 version specifier (``">=2.11,<2.14"``), or ``None``."""
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        return f"{specifier!r} is not a version specifier such as '>=2.11,<2.14' (PEP 440)"
    return None


def deviations_problem(data: Any) -> str | None:
    """The first problem of a parsed known-deviations file, naming the entry (``deviation #2: ...``)."""
    found = problem(data, DEVIATIONS_FILE)
    if found is None:
        for table in ("deviation", "tolerance"):
            for n, entry in enumerate(data.get(table, []), 1):
                if "torch" in entry and (bad := version_problem(entry["torch"])):
                    return f"{table} #{n}: torch: {bad}"
        return None
    # "deviation[1].dtyp: ..." -> "deviation #2: ...": entries are counted from 1, as a reader counts them
    head, _, rest = found.partition(": ")
    table, _, index = head.partition("[")
    if index:
        number, _, key = index.partition("]")
        return f"{table} #{int(number) + 1}{': ' + key.lstrip('.') if key else ''}: {rest}"
    return found


def array_problem(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str | None:
    """Why an optimizer case's arrays do not fit its description (shapes against ``groups`` and ``steps``),
    or ``None``: the candidate would otherwise be blamed for the vectors' inconsistency."""
    shapes = [tuple(s) for g in meta["groups"] for s in g["shapes"]]
    steps = meta["steps"]
    wanted: dict[str, tuple[int, ...]] = {}
    for i, shape in enumerate(shapes):
        wanted[f"init/{i}"] = shape
        wanted[f"params/{i}"] = (steps, *shape)
        if f"grads/{i}" in arrays:
            wanted[f"grads/{i}"] = (steps, *shape)
    if not meta.get("objective") or "has_grad" in arrays:
        wanted["has_grad"] = (steps, len(shapes))
    for name, shape in wanted.items():
        if name not in arrays:
            return f"array {name} is missing"
        if arrays[name].shape != shape:
            return f"array {name} has shape {arrays[name].shape}, the case's description implies {shape}"
    return None

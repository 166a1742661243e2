"""Known deviations: documented, linked disagreements of an implementation with the spec.

One TOML file per implementation, ``conformance/known_deviations/<impl>.toml`` (``torch.toml`` for
``--impl=torch``; ``torch:MODULE`` candidates use ``<MODULE>.toml`` if present)::

    [[deviation]]
    test = "test_trajectory[nadam/*-float32-*]"   # pattern over the test id: * and ? are wildcards
                                                  # (or a list of patterns: one cause, several tests)
    reason = "what differs and why"
    upstream = "https://github.com/pytorch/pytorch/issues/NNNN"
    device = "cuda"                 # optional conditions: device type, dtype, variant,
    dtype = "bfloat16"              # and the candidate's torch version (a PEP 440-style
    variant = "fused"               # specifier such as ">=2.11,<2.14")
    torch = ">=2.11"

    [[tolerance]]                   # per-implementation tolerance overrides, by test pattern
    test = "test_trajectory[lbfgs/*-float32-*]"
    float32 = 1e-4
    reason = "why this implementation needs more room, and why it is still tight enough"

A matching test becomes a *strict* xfail: if it starts passing, the run fails, so a fixed bug is noticed
and its entry removed. Entries that match no test are listed at the end of the run.

A file may start with ``extends = "torch.toml"``: that file's entries first (a candidate built on torch
inherits torch's deviations). Inherited entries are non-strict xfails (a wrapper may route around torch's bug)
and are not listed when they match none of its tests.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

DIRECTORY = Path(__file__).parent / "known_deviations"
CONDITIONS = ("device", "dtype", "variant")


@dataclass
class Deviation:
    test: str | list[str]
    reason: str
    upstream: str
    conditions: dict[str, str] = field(default_factory=dict)
    torch: str | None = None
    matched: int = 0
    inherited: bool = False

    @property
    def unused(self) -> bool:
        """Matched no test: listed at the end of the run (not for entries inherited through ``extends``)."""
        return not self.matched and not self.inherited

    def matches(self, test_id: str, params: dict[str, str], torch_version: str | None) -> bool:
        patterns = [self.test] if isinstance(self.test, str) else self.test
        if not any(pattern_matches(pattern, test_id) for pattern in patterns):
            return False
        for key, wanted in self.conditions.items():
            value = params.get(key, "")
            if (value.split(":")[0] if key == "device" else value) != wanted:
                return False
        return self.torch is None or (
            torch_version is not None and version_matches(torch_version, self.torch)
        )


def pattern_matches(pattern: str, test_id: str) -> bool:
    """Shell-style ``*`` and ``?`` wildcards only: unlike ``fnmatch``, brackets are literal, since every
    parametrized test id contains ``[...]``."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, test_id) is not None


def version_matches(version: str, specifier: str) -> bool:
    """``"2.13.0+cpu"`` against ``">=2.11,<2.14"`` (comparison operators on numeric release parts)."""

    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("+")[0].split(".") if x.isdigit())

    have = parts(version)
    for clause in specifier.split(","):
        clause = clause.strip()
        op = next(o for o in (">=", "<=", "==", "!=", ">", "<") if clause.startswith(o))
        want = parts(clause[len(op) :])
        n = max(len(have), len(want))
        a, b = have + (0,) * (n - len(have)), want + (0,) * (n - len(want))
        if not {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b}[op]:
            return False
    return True


class KnownDeviationError(Exception):
    """A malformed known-deviations file (one line naming the file and entry)."""


def load(impl: str, path: Path | None = None) -> tuple[list[Deviation], list[dict[str, Any]], Path | None]:
    """The deviations and the ``[[tolerance]]`` overrides of ``impl`` (from ``path`` if given, else the
    project's file for ``impl``); no project file means none, a missing explicit file is an error."""
    if path is not None:
        if not Path(path).is_file():
            raise KnownDeviationError(f"--known-deviations {path}: no such file")
        path = Path(path)
    else:
        stem = impl.split(":", 1)[1] if impl.startswith("torch:") else impl
        path = DIRECTORY / f"{stem}.toml"
        if not path.is_file():
            return [], [], None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise KnownDeviationError(f"{path}: invalid TOML ({e})") from None
    deviations, tolerances = [], []
    if data.get("extends"):
        base = path.parent / data["extends"]
        if not base.is_file():
            raise KnownDeviationError(f"{path}: extends {data['extends']}, which does not exist")
        deviations, tolerances, _ = load(impl, base)
        for deviation in deviations:
            deviation.inherited = True
    for n, entry in enumerate(data.get("deviation", []), 1):
        missing = [k for k in ("test", "reason", "upstream") if not entry.get(k)]
        if missing:
            raise KnownDeviationError(f"{path}: deviation #{n} lacks {', '.join(missing)}")
        conditions = {k: entry[k] for k in CONDITIONS if k in entry}
        deviations.append(
            Deviation(entry["test"], entry["reason"], entry["upstream"], conditions, entry.get("torch"))
        )
    for n, entry in enumerate(data.get("tolerance", []), 1):
        if not entry.get("test") or not entry.get("reason"):
            raise KnownDeviationError(f"{path}: tolerance #{n} needs a test pattern and a reason")
        tolerances.append(entry)
    return deviations, tolerances, path


def tolerance_override(tolerances: list[dict[str, Any]], test_id: str) -> dict[str, float]:
    """The per-dtype overrides of the first ``[[tolerance]]`` entry matching ``test_id``."""
    for entry in tolerances:
        if pattern_matches(entry["test"], test_id):
            return {k: float(v) for k, v in entry.items() if k not in ("test", "reason")}
    return {}

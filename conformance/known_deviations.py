"""Known deviations: documented, linked disagreements of an implementation with the spec.

One TOML file per implementation, ``conformance/known_deviations/<impl>.toml`` (``torch.toml`` for
``--impl=torch``). A ``torch:MODULE`` candidate uses ``<MODULE>.toml`` if present, else the file named after
the distribution that installs MODULE's top-level package (``--impl=torch:optimi`` finds
``torch-optimi.toml``, ``--impl=torch:pytorch_optimizer`` ``pytorch-optimizer.toml``: the names its report
folder and ``pip install`` use)::

    [[deviation]]
    test = "test_trajectory[nadam/*-float32-*]"   # pattern over the test id: * and ? are wildcards
                                                  # (or a list of patterns: one cause, several tests)
    reason = "what differs and why"
    upstream = "https://github.com/pytorch/pytorch/issues/NNNN"
    device = "cuda"                 # optional conditions: device type, dtype, variant,
    dtype = "bfloat16"              # and the candidate's torch version (a PEP 440-style
    variant = "fused"               # specifier such as ">=2.11,<2.14")
    torch = ">=2.11"

    [[deviation]]                   # or by class, option and dtype instead of (or as well as) test ids:
    class = "Adam"                  # the class the test is about (a list for several)
    option = "amsgrad"              # a check that sets this option away from its default (or a list)
    dtype = "float32"
    reason = "..."
    upstream = "..."

    Any other key, a value of the wrong type, a dtype or device type that does not exist, or a version
    specifier that does not parse is an error naming the entry (``conformance.schemas``).

    [[tolerance]]                   # per-implementation tolerance overrides, for every check kind (vector
    test = "test_trajectory[lbfgs/*-float32-*]"   # cases, API checks, property tests), selected as
    float32 = 1e-4                  # deviations are (test, class, option, device, variant, torch)
    reason = "why this implementation needs more room, and why it is still tight enough"

A matching test becomes a *strict* xfail: if it starts passing, the run fails, so a fixed bug is noticed
and its entry removed. Entries that match no test are listed at the end of the run. ``option`` matches the
checks known to set it when they are collected (vector cases and API checks); a property test draws its
options, so it is matched by test id or class only, and its examples leave an entry's option at its default
(``explained_options``): the entry explains those examples, the rest of the class is still judged.

A candidate's class that *is* torch's own class (``torch:MODULE`` re-exporting it) carries ``torch.toml``'s
entries automatically (``conformance.plugin``), and only that class: the candidate's own classes of the same
names are never judged by torch's deviations.

A file may start with ``extends = "torch.toml"``: that file's entries first (a candidate built on torch
inherits torch's deviations). Inherited entries are non-strict xfails (a wrapper may route around torch's bug)
and are not listed when they match none of its tests.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conformance.schemas import deviations_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

DIRECTORY = Path(__file__).parent / "known_deviations"
CONDITIONS = ("device", "dtype", "variant")
# The keys of an entry that say which tests it is for (the rest of a [[tolerance]] entry are its values).
SELECTORS = ("test", "class", "option", *CONDITIONS, "torch")


@dataclass(frozen=True)
class Item:
    """What an entry is matched against: a test's id, its device/dtype/variant, the classes it is about and
    the options it sets away from their defaults (where known when collected), and the candidate's torch."""

    test_id: str
    fields: dict[str, str] = field(default_factory=dict)
    classes: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    torch_version: str | None = None


@dataclass
class Selector:
    """Which tests an entry is for: every given part must hold (test patterns, classes and options: any of
    each list)."""

    test: str | list[str] = ""
    conditions: dict[str, str] = field(default_factory=dict)
    torch: str | None = None
    classes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def selects(self, item: Item) -> bool:
        patterns = [self.test] if isinstance(self.test, str) else self.test
        patterns = [p for p in patterns if p]
        if patterns and not any(pattern_matches(pattern, item.test_id) for pattern in patterns):
            return False
        if self.classes and not set(self.classes) & item.classes:
            return False
        if self.options and not set(self.options) & item.options:
            return False
        for key, wanted in self.conditions.items():
            value = item.fields.get(key, "")
            if (value.split(":")[0] if key == "device" else value) != wanted:
                return False
        return self.torch is None or (
            item.torch_version is not None and version_matches(item.torch_version, self.torch)
        )


@dataclass
class Deviation(Selector):
    reason: str = ""
    upstream: str = ""
    matched: int = 0
    inherited: bool = False

    @property
    def unused(self) -> bool:
        """Matched no test: listed at the end of the run (not for entries inherited through ``extends``)."""
        return not self.matched and not self.inherited

    def matches(self, item: Item) -> bool:
        return self.selects(item)


@dataclass
class Tolerance(Selector):
    """A ``[[tolerance]]`` entry: per-dtype (or ``"<dtype>:<check>"``) tolerances for the tests it selects."""

    values: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def pattern_matches(pattern: str, test_id: str) -> bool:
    """Shell-style ``*`` and ``?`` wildcards only: unlike ``fnmatch``, brackets are literal, since every
    parametrized test id contains ``[...]``."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, test_id) is not None


def version_matches(version: str, specifier: str) -> bool:
    """``"2.13.0+cpu"`` against a PEP 440 specifier such as ``">=2.11,<2.14"`` (pre-releases and nightly
    builds included: a nightly has the bugs of the release it leads to)."""
    return SpecifierSet(specifier).contains(Version(version), prereleases=True)


class KnownDeviationError(Exception):
    """A malformed known-deviations file (one line naming the file and entry)."""


def _listed(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


def _selector(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "test": entry.get("test", ""),
        "conditions": {k: entry[k] for k in CONDITIONS if k in entry},
        "torch": entry.get("torch"),
        "classes": _listed(entry.get("class")),
        "options": _listed(entry.get("option")),
    }


def distribution_names(module: str) -> list[str]:
    """The normalized names (PEP 503: ``pytorch_optimizer`` -> ``pytorch-optimizer``) of the distributions
    that install ``module``'s top-level package."""
    found = packages_distributions().get(module.split(".")[0], [])
    return [re.sub(r"[-_.]+", "-", name).lower() for name in found]


def candidate_files(impl: str) -> list[Path]:
    """Where ``impl``'s known deviations may be, in order (see the module docstring)."""
    if not impl.startswith("torch:"):
        return [DIRECTORY / f"{impl}.toml"]
    module = impl.split(":", 1)[1]
    return [DIRECTORY / f"{stem}.toml" for stem in (module, *distribution_names(module))]


def load(impl: str, path: Path | None = None) -> tuple[list[Deviation], list[Tolerance], Path | None]:
    """The deviations and the ``[[tolerance]]`` overrides of ``impl`` (from ``path`` if given, else the
    project's file for ``impl``); no project file means none, a missing explicit file is an error."""
    if path is not None:
        if not Path(path).is_file():
            raise KnownDeviationError(f"--known-deviations {path}: no such file")
        path = Path(path)
    else:
        path = next((p for p in candidate_files(impl) if p.is_file()), None)
        if path is None:
            return [], [], None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise KnownDeviationError(f"{path}: invalid TOML ({e})") from None
    if bad := deviations_problem(data):
        raise KnownDeviationError(f"{path}: {bad}")
    deviations, tolerances = [], []
    if data.get("extends"):
        base = path.parent / data["extends"]
        if not base.is_file():
            raise KnownDeviationError(f"{path}: extends {data['extends']}, which does not exist")
        deviations, tolerances, _ = load(impl, base)
        for deviation in deviations:
            deviation.inherited = True
    deviations += [
        Deviation(**_selector(entry), reason=entry["reason"], upstream=entry["upstream"])
        for entry in data.get("deviation", [])
    ]
    tolerances += [
        Tolerance(
            **_selector(entry),
            values={k: float(v) for k, v in entry.items() if k not in (*SELECTORS, "reason")},
            reason=entry["reason"],
        )
        for entry in data.get("tolerance", [])
    ]
    return deviations, tolerances, path


def explained_options(entries: list[Deviation], item: Item) -> dict[str, Deviation]:
    """The options that, set by ``item`` (a test that draws its options: a property test), would make an
    entry match it, each with its entry: the property layer's examples leave them at their defaults."""
    found: dict[str, Deviation] = {}
    for entry in entries:
        for option in entry.options:
            if option not in found and entry.matches(replace(item, options=item.options | {option})):
                found[option] = entry
    return found


def tolerance_override(tolerances: list[Tolerance], item: Item) -> dict[str, float]:
    """The per-dtype overrides of the first ``[[tolerance]]`` entry selecting ``item``."""
    return next((dict(t.values) for t in tolerances if t.selects(item)), {})

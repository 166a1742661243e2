"""What a candidate declares about its classes (``conformance.adapters.base.ClassDeclaration``), applied.

A library that differs from torch on purpose must get a verdict on what it does implement: a class without
``amsgrad`` is "not supported: amsgrad" for the checks that need it, never a failure, and is never handed the
option; its arithmetic is still checked everywhere else. This module holds that logic once, for the vector
checks, the API checks and the property layer:

- ``reference_defaults``: torch's constructor options of a class and their defaults (the reference's
  signature, without the implementation switches that variants set);
- ``derived_lacks``: the options a torch-API class lacks, read off its constructor signature;
- ``options_used`` / ``lacking``: which options a check sets away from their defaults, and why the
  candidate cannot run it;
- ``DeclaredAdapter``: the candidate's adapter, with the options it lacks removed from every
  ``make_optimizer`` call where they sit at their defaults (and a ``NotSupported`` where they do not).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import numpy as np

import refimpl.optim
from conformance.adapters.base import TORCH_LAYOUT, ClassDeclaration, NotSupported

# torch's implementation switches: a variant sets them, they are not options a class can lack.
SWITCHES = frozenset({"foreach", "fused", "capturable", "differentiable"})


@cache
def reference_defaults(name: str) -> dict[str, Any]:
    """torch's options of optimizer ``name`` and their defaults (the reference's constructor signature)."""
    cls = getattr(refimpl.optim, name)
    return {
        k: p.default
        for k, p in inspect.signature(cls.__init__).parameters.items()
        if k not in ("self", "params", *SWITCHES) and p.kind is not p.VAR_KEYWORD
    }


@cache  # read for every check and every property example: a signature is read once per class
def derived_lacks(name: str, cls: type) -> frozenset[str]:
    """The options of torch's ``name`` that ``cls``'s constructor does not take (none if it takes
    ``**kwargs``: it may take anything, so nothing can be said to be missing)."""
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # a builtin or C-extension class without a readable signature
        return frozenset()
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return frozenset()
    return frozenset(k for k in reference_defaults(name) if k not in parameters)


@cache
def _signature_defaults(cls: type) -> dict[str, Any] | None:
    """``cls``'s constructor arguments and their defaults (``inspect.Parameter.empty`` where required);
    ``None`` where the signature cannot be read."""
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    return {k: p.default for k, p in parameters.items() if p.kind is not p.VAR_KEYWORD}


def derived_explicit(name: str, cls: type) -> dict[str, Any]:
    """torch's defaults of the options ``cls`` takes with another default or none (optimi's Adam requires
    ``lr`` and defaults to betas (0.9, 0.99), eps 1e-6). The harness passes these explicitly wherever a check
    leaves an option at torch's default, so every check judges the arithmetic of the options it means; the
    different defaults themselves are ``test_defaults``' finding, which constructs without them."""
    own = _signature_defaults(cls) or {}
    return {k: v for k, v in reference_defaults(name).items() if k in own and not same(own[k], v)}


def derived_required(name: str, cls: type) -> frozenset[str]:
    """torch's options that ``cls``'s constructor requires (no default): no check can leave them out."""
    own = _signature_defaults(cls) or {}
    return frozenset(k for k in reference_defaults(name) if own.get(k, None) is inspect.Parameter.empty)


def declaration(adapter: Any, name: str) -> ClassDeclaration:
    """Class ``name``'s declaration (torch's behaviour where the candidate declares nothing)."""
    capabilities = adapter.capabilities()
    declared = getattr(capabilities, "declaration", None)
    return declared(name) if declared else TORCH_LAYOUT


def same(a: Any, b: Any) -> bool:
    """Whether an option's value equals a default (tuples and lists alike; NaN never does)."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple))
            and isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) or isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def options_used(
    name: str,
    hyper: Mapping[str, Any],
    overrides: Iterable[Mapping[str, Any]] = (),
    changed: Iterable[str] = (),
) -> set[str]:
    """The options a check sets away from torch's defaults: in the constructor, in a group's overrides, or
    by changing them between steps (``changed``: those keys, whatever their values)."""
    defaults = reference_defaults(name)
    used = {k for k, v in hyper.items() if k in defaults and not same(v, defaults[k])}
    used |= {k for o in overrides for k, v in o.items() if k in defaults and not same(v, defaults[k])}
    return used | {k for k in changed if k in defaults}


def case_options(meta: Mapping[str, Any]) -> set[str]:
    """``options_used`` of a vector case (its constructor options, group overrides and changes)."""
    changed = {c[1] for changes in (meta.get("changes") or {}).values() for c in changes}
    overrides = [g.get("overrides") or {} for g in meta.get("groups") or []]
    return options_used(meta["optimizer"], meta.get("hyper") or {}, overrides, changed)


def lacking(impl: str, name: str, declared: ClassDeclaration, used: Iterable[str]) -> str | None:
    """The "not supported" reason of a check that needs options class ``name`` declares it lacks."""
    missing = sorted(set(used) & declared.lacks)
    if not missing:
        return None
    return f"not supported: {', '.join(missing)} ({impl}'s {name} has no such option)"


def strip(name: str, options: Mapping[str, Any], lacks: frozenset[str]) -> dict[str, Any]:
    """``options`` without the lacked ones that sit at torch's default (passing them would be refused for
    nothing); ``NotSupported`` for a lacked one set to anything else."""
    defaults = reference_defaults(name)
    out = {}
    for key, value in options.items():
        if key not in lacks:
            out[key] = value
        elif not (key in defaults and same(value, defaults[key])):
            raise NotSupported(f"{key}={value!r} (the candidate's {name} has no {key} option)")
    return out


class DeclaredAdapter:
    """The candidate's adapter, with what its classes declare applied to every ``make_optimizer`` call:
    lacked options at their defaults are left out (of the constructor's options and of every group's), any
    other value of one is ``NotSupported``. Everything else is the adapter's own (attribute access passes
    through), so the checks see the candidate as it is."""

    def __init__(self, adapter: Any) -> None:
        self.wrapped = adapter

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)

    def make_optimizer(
        self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], **where: Any
    ) -> Any:
        lacks = declaration(self.wrapped, name).lacks
        if lacks:
            hyper = strip(name, hyper, lacks)
            groups = [
                {"params": g["params"], **strip(name, {k: v for k, v in g.items() if k != "params"}, lacks)}
                for g in groups
            ]
        return self.wrapped.make_optimizer(name, groups, hyper, **where)

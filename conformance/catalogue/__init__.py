"""The case catalogue: every optimizer and scheduler case, gathered from the per-algorithm modules."""

from __future__ import annotations

from importlib import import_module

from conformance.catalogue.model import OptimCase
from refimpl.optim import MODULES as OPTIM_MODULES


def optimizer_cases(name_filter: str = "") -> list[OptimCase]:
    """All optimizer cases (those whose id contains ``name_filter``), checked for unique ids."""
    cases: list[OptimCase] = []
    for module in OPTIM_MODULES.values():
        try:
            cases.extend(import_module(f"conformance.catalogue.optim.{module}").CASES)
        except ModuleNotFoundError as e:
            if e.name != f"conformance.catalogue.optim.{module}":
                raise
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case ids in the catalogue: {duplicates}")
    return [c for c in cases if name_filter in c.id]

"""The case catalogue: every optimizer and scheduler case, gathered from the per-algorithm modules."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from conformance.catalogue.model import OptimCase, SchedCase
from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from refimpl.lr_scheduler import MODULES as SCHED_MODULES
from refimpl.optim import MODULES as OPTIM_MODULES

# Every scheduler class the catalogue covers -> its catalogue module (and vector file stem): torch.optim's
# lr_scheduler classes and swa_utils' SWALR.
SCHEDULER_MODULES = {**SCHED_MODULES, "SWALR": "swalr"}
# The swa_utils cases other than SWALR's: kind -> catalogue module (and vector file stem).
SWA_MODULES = {"averaged_model": "averaged_model", "update_bn": "update_bn"}


def _gather(package: str, modules: dict[str, str], name_filter: str) -> list[Any]:
    """The ``CASES`` of every ``conformance.catalogue.<package>.<module>`` that exists, checked for unique
    ids, filtered to those whose id contains ``name_filter``."""
    cases: list[Any] = []
    for module in dict.fromkeys(modules.values()):
        try:
            cases.extend(import_module(f"conformance.catalogue.{package}.{module}").CASES)
        except ModuleNotFoundError as e:
            if e.name != f"conformance.catalogue.{package}.{module}":
                raise
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case ids in the catalogue: {duplicates}")
    return [c for c in cases if name_filter in c.id]


def optimizer_cases(name_filter: str = "") -> list[OptimCase]:
    """All optimizer cases (those whose id contains ``name_filter``), checked for unique ids."""
    return _gather("optim", OPTIM_MODULES, name_filter)


def scheduler_cases(name_filter: str = "") -> list[SchedCase]:
    """All LR-scheduler cases (those whose id contains ``name_filter``), checked for unique ids."""
    return _gather("sched", SCHEDULER_MODULES, name_filter)


def swa_cases(name_filter: str = "") -> list[AveragedCase | UpdateBnCase]:
    """All AveragedModel and update_bn cases (those whose id contains ``name_filter``)."""
    return _gather("swa", SWA_MODULES, name_filter)

"""The property-based layer's swa_utils check: a drawn ``AveragedCase`` or ``UpdateBnCase``, recorded by the
live reference with the code that writes the swa_utils vectors (``conformance.swa``) and checked on the
candidate by the vectors' own checks (``run_averaged_model``, ``run_update_bn``), at the dtype's tolerance.

The examples are drawn by ``conformance.strategies.swa``. One whose float32 run of the reference itself
misses the tolerance cannot be decided in that dtype and is rejected.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Any

import numpy as np

from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from conformance.properties import Rejected
from conformance.repro import print_result
from conformance.runner import CandidateError, CheckResult
from conformance.swa import (
    LoadedSwa,
    averaged_arrays,
    averaged_inputs,
    run_averaged_model,
    run_update_bn,
    update_bn_arrays,
    update_bn_inputs,
)

SWA_SUBJECTS = ("AveragedModel", "update_bn")


def reference(case: AveragedCase | UpdateBnCase) -> LoadedSwa:
    """The reference's record of the example, as a loaded vector case."""
    meta = case.describe()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(case, AveragedCase):
            arrays = averaged_arrays(meta, averaged_inputs(case), RefimplAdapter())
        else:
            arrays = update_bn_arrays(meta, update_bn_inputs(case), RefimplAdapter())
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise Rejected("non-finite in the reference")
    return LoadedSwa(meta["id"], meta, arrays)


def _run(adapter: Any, loaded: LoadedSwa, dtype: str, device: str) -> CheckResult:
    run = run_averaged_model if loaded.meta["kind"] == "averaged_model" else run_update_bn
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(adapter, loaded, dtype, device, "")


def check(adapter: Any, loaded: LoadedSwa, dtype: str, device: str) -> CheckResult:
    """The candidate on the example; ``Rejected`` first where the reference itself, computing in float32,
    misses the float32 tolerance (a batch whose variance is ~0 amplifies rounding beyond any tolerance)."""
    if dtype == "float32":
        try:
            probe = _run(RefimplAdapter(), loaded, "float32", "cpu")
        except CandidateError:
            raise Rejected("ill-conditioned in float32") from None
        if not probe.passed:
            raise Rejected("ill-conditioned in float32")
    return _run(adapter, loaded, dtype, device)


def to_dict(case: AveragedCase | UpdateBnCase) -> dict[str, Any]:
    """The example as data (what ``replay`` takes)."""
    return {"kind": "averaged_model" if isinstance(case, AveragedCase) else "update_bn", **asdict(case)}


def from_dict(example: dict[str, Any]) -> AveragedCase | UpdateBnCase:
    fields = {k: v for k, v in example.items() if k != "kind"}
    return AveragedCase(**fields) if example["kind"] == "averaged_model" else UpdateBnCase(**fields)


def summary(case: AveragedCase | UpdateBnCase) -> str:
    if isinstance(case, AveragedCase):
        return (
            f"AveragedModel({case.options or 'default'}) over params {list(case.params)} and buffers "
            f"{list(case.buffers)}, {case.updates} updates (snapshots from seed {case.seed!r})"
        )
    return (
        f"update_bn over {list(case.layers)}, {case.batches} batches of {case.batch_shape}"
        f"{' as pairs' if case.pairs else ''}, model in {'training' if case.training else 'eval'} mode"
    )


def reproduction(impl: str, case: AveragedCase | UpdateBnCase, dtype: str, device: str) -> str:
    call = f"replay({impl!r}, {to_dict(case)!r}, {dtype!r}, {device!r})"
    return f"from conformance.swa_properties import replay\n{call}"


def replay(impl: str, example: dict[str, Any], dtype: str = "float64", device: str = "cpu") -> None:
    """Rerun a swa_utils example (as a failure prints it) on a candidate; print where it diverges."""
    from conformance.adapters import resolve

    case = from_dict(example)
    result = _run(resolve(impl), reference(case), dtype, device)
    unit = "update" if isinstance(case, AveragedCase) else "pass"
    print_result(f"{summary(case)} on {impl} ({dtype}, {device})", result, unit)

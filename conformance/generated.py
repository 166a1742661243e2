"""The arrays of a generated case (``inputs="generated"``: the kernel-size cases), rebuilt at load time.

Their vectors hold the description, the sha256 of the inputs and the reference's params at a sample of
positions; the inputs are drawn again from the pinned generator (``conformance.pinned``) and the expected
values computed by the reference, as ``optconf vectors generate`` did. Anything that would make them other
numbers than the vectors' (a drifted generator, a changed reference, a catalogue that no longer has the
case) is a ``VectorError`` naming the case, never a comparison against different numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance import pinned
from conformance.catalogue import optimizer_cases
from conformance.generate import run_optim_case
from conformance.metrics import normwise_error
from conformance.vectors import VERIFY_HINT, VectorError, Vectors

# Regenerated values may differ from the stored sample by platform rounding only (conformance/verify.py).
SAMPLE_RTOL = 1e-12


def arrays(vectors: Vectors, case_id: str) -> dict[str, np.ndarray]:
    """Every array the case would store, rebuilt and checked against the vectors (cached per vectors)."""
    if case_id not in vectors.generated:
        vectors.generated[case_id] = _rebuild(vectors, case_id)
    return vectors.generated[case_id]


def _rebuild(vectors: Vectors, case_id: str) -> dict[str, np.ndarray]:
    where = f"{vectors.directory / vectors.case_file[case_id]} (case {case_id})"
    stored: dict[str, Any] = dict(vectors.describe(case_id))
    case = next((c for c in optimizer_cases() if c.id == case_id), None)
    if case is None:
        raise VectorError(f"{where}: a generated case this catalogue does not have; {VERIFY_HINT}")
    record = run_optim_case(case)
    fresh = dict(record.meta)
    if fresh.pop("inputs")["sha256"] != stored.pop("inputs")["sha256"]:
        raise VectorError(f"{where}: the pinned generator draws other inputs here (numpy {np.__version__})")
    if fresh != stored:
        raise VectorError(f"{where}: the catalogue describes the case otherwise; {VERIFY_HINT}")
    for name, sample in vectors.arrays(case_id).items():
        full = record.arrays[name.removeprefix("spot/")].reshape(-1)
        error = normwise_error(sample, full[pinned.spot_indices(full.size)])
        if error > SAMPLE_RTOL:
            raise VectorError(f"{where}: the reference computes other {name} ({error:.3g} relative)")
    return record.arrays

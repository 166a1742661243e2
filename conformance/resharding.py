"""The resharded-resume check of a distributed candidate (``test_resume_resharded``).

A sharded optimizer's checkpoint is gathered from N ranks and loaded on however many the next job has.
The check runs the case's trajectory on world size N, saves the gathered state dict mid-run, builds a fresh
optimizer on world size 1, loads it and runs on; then the same from world size 1 to N. Both resumed
trajectories (params after every step, full state at every checkpoint) must match the golden vectors, which
the uninterrupted run matches too (``test_trajectory``): a resume that loses a shard's moments, or loads
them into the wrong params, shows at the next checkpoint or step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.adapters.base import NotSupported
from conformance.runner import CheckResult, LoadedCase, run_trajectory


def resume_step(case: LoadedCase) -> int:
    """Where to resume: the case's own reload point, else half way."""
    return case.meta.get("reload_at") or case.meta["steps"] // 2


def run_resharded(adapter: Any, case: LoadedCase, dtype: str, device: str, variant: str) -> CheckResult:
    from conformance.adapters.distributed.adapter import Resharded

    n, k = adapter.world_size, resume_step(case)
    if n == 1:
        raise NotSupported("--world-size 1: there is no other world size to resume on")
    if k < 1:
        raise NotSupported("a one-step case has no step to resume after")
    resumed = replace(case, meta={**case.meta, "reload_at": k})
    results = [
        (before, after, run_trajectory(Resharded(adapter, before, after), resumed, dtype, device, variant))
        for before, after in ((n, 1), (1, n))
    ]
    failed = [r for r in results if not r[2].passed]
    before, after, worst = (failed or sorted(results, key=lambda r: r[2].divergence.max_rel))[-1]
    lines = [
        f"resumed after step {k}: world size {b} -> {a}: "
        + ("conforms" if r.passed else f"first step beyond tolerance {r.divergence.first_bad_step}")
        for b, a, r in results
    ]
    return replace(
        worst,
        passed=not failed,
        seconds=sum(r.seconds for _, _, r in results),
        details=[*lines, f"metrics above: world size {before} -> {after}"],
    )

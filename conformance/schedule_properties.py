"""The property-based layer's scheduler check: one drawn scheduler script, played on the live reference and
on the candidate with ``conformance.schedules.play`` (the code that writes and checks the scheduler vectors),
compared by ``conformance.schedules.run_schedule`` at the schedule tolerance."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

from conformance.adapters.base import NotSupported
from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.properties import Rejected
from conformance.repro import print_result
from conformance.runner import CandidateError, CheckResult
from conformance.schedules import LoadedSchedule, make_run, play, run_schedule, scheduler_classes


def reference_schedule(meta: dict[str, Any]) -> LoadedSchedule:
    """The script with the reference's values under ``expected``; ``Rejected`` where the reference refuses
    it (torch's error for the configuration) or computes a non-finite value."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = play(meta, lambda: make_run(RefimplAdapter(), meta, "cpu"), meta["recorded"])
    except (CandidateError, NotSupported, OverflowError, ZeroDivisionError) as e:
        raise Rejected("refused by the reference") from e
    if not all(math.isfinite(v) for rows in expected.values() for row in rows for v in row):
        raise Rejected("non-finite in the reference")
    return LoadedSchedule(meta["id"], {**meta, "expected": expected})


def check_schedule(adapter: Any, loaded: LoadedSchedule, device: str) -> CheckResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's step-order and deprecation warnings are not under test
        return run_schedule(adapter, loaded, "", device, "")


def summary(meta: dict[str, Any]) -> str:
    """One line: the schedulers, the groups' lrs, the epochs and what else the script does."""
    specs = json.dumps(meta["schedulers"], sort_keys=True)
    extra = [f"lr changes before epochs {sorted(int(t) for t in meta['changes'])}"] if meta["changes"] else []
    extra += [f"checkpoint round trip after epoch {meta['reload_at']}"] if meta["reload_at"] else []
    extra += [f"metrics {meta['metrics']}"] if meta["metrics"] else []
    lrs = [g["lr"] for g in meta["groups"]]
    return f"{specs} on {meta['optimizer']} groups with lr {lrs}, {meta['steps']} epochs" + "".join(
        f", {e}" for e in extra
    )


def _simple(meta: dict[str, Any]) -> bool:
    (spec,) = meta["schedulers"]
    return not (meta["changes"] or meta["reload_at"] or meta["functions"] or "schedulers" in spec["kwargs"])


def reproduction(impl: str, adapter: Any, meta: dict[str, Any], first_bad: int | None) -> str:
    """Plain torch lines for a single scheduler without named functions, hand changes or checkpoint (the
    candidate's module where it has torch's API), else a replay of the script through the harness."""
    module = getattr(adapter, "module_name", None)
    if impl.startswith("torch") and module and _simple(meta):
        (spec,) = meta["schedulers"]
        epochs = meta["steps"] if first_bad is None else first_bad
        path = adapter.scheduler_path(spec["scheduler"])
        hyper = "".join(f", {k}={v!r}" for k, v in meta["optimizer_hyper"].items())
        kwargs = "".join(f", {k}={v!r}" for k, v in spec["kwargs"].items())
        step = "sched.step(metrics[epoch])" if meta["metrics"] else "sched.step()"
        key = meta["recorded"][-1]
        read = "g['betas'][0]" if key == "beta1" else f"g[{key!r}]"
        return "\n".join(
            [
                f"import torch, {module}, {path.rpartition('.')[0]}",
                f"opt = torch.optim.{meta['optimizer']}([{{'params': [torch.zeros(2)], **g}} for g in "
                f"{meta['groups']!r}]{hyper})",
                f"sched = {path}(opt{kwargs})",
                *([f"metrics = {meta['metrics']!r}"] if meta["metrics"] else []),
                f"for epoch in range({epochs}):",
                "    opt.step()",
                f"    {step}",
                f"print([{read} for g in opt.param_groups])",
                f"print({meta['expected'][key][epochs]!r})  # the reference after epoch {epochs}",
            ]
        )
    script = {k: v for k, v in meta.items() if k != "expected"}
    return f"from conformance.schedule_properties import replay\nreplay({impl!r}, {script!r})"


def replay(impl: str, script: dict[str, Any], device: str = "cpu") -> None:
    """Rerun a scheduler script (as a failure prints it) on a candidate; print where it diverges."""
    from conformance.adapters import resolve

    result = check_schedule(resolve(impl), reference_schedule(script), device)
    print_result(f"{summary(script)} on {impl} ({device})", result, "epoch")


__all__ = ["check_schedule", "reference_schedule", "replay", "reproduction", "scheduler_classes", "summary"]

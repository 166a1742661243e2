"""Short, self-contained reproductions to paste into a bug report.

For torch-API candidates the snippet drives the candidate's own classes on the case's stored params and
gradients (the vectors ship with the project); for other adapters it replays the case through the adapter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.adapters import resolve
from conformance.resharding import run_resharded
from conformance.runner import LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule
from conformance.vectors import Vectors


def reproduction(
    impl: str, adapter: Any, case: LoadedCase, param: Any, check: str, first_bad: int | None
) -> str:
    if case.meta.get("kind") == "scheduler":
        return _schedule_snippet(adapter, case, first_bad) or _replay_line(impl, case, param, check)
    steps = first_bad or case.meta["steps"]
    simple = (
        (impl == "torch" or impl.startswith("torch:"))
        and case.meta["optimizer"] != "LBFGS"
        and not case.meta["objective"]
        and not case.meta["changes"]
        and (case.meta.get("gradients") or {}).get("pattern") != "sparse"
        and not case.meta["dtype"].startswith("complex")
        and check == "test_trajectory"
    )
    if not simple:
        return _replay_line(impl, case, param, check)
    module = getattr(adapter, "module_name", "torch.optim")
    constructor = adapter.repro(case.meta["optimizer"], case.hyper, param.variant)
    return "\n".join(
        [
            f"import numpy as np, torch, {module}",
            "from conformance.runner import LoadedCase",
            "from conformance.vectors import Vectors",
            f"case = LoadedCase.load(Vectors(), {case.id!r})",
            f"params = [torch.tensor(p, dtype=torch.{param.dtype}, device={param.device!r},",
            "                        requires_grad=True) for p in case.initial()]",
            "groups = case.groups(params)",
            f"opt = {constructor}",
            f"for t in range({steps}):",
            "    for p, g in zip(params, case.gradients(t)):",
            "        p.grad = None if g is None else torch.tensor(g, dtype=p.dtype, device=p.device)",
            "    opt.step()",
            f"for p, e in zip(params, case.expected({steps})):",
            "    print(np.abs(p.detach().float().cpu().numpy() - e).max())  # expected: ~0",
        ]
    )


def _replay_line(impl: str, case: Any, param: Any, check: str) -> str:
    """The generic reproduction: rerun the case through the adapter (dtype and variant where they apply)."""
    where = {"dtype": param.dtype, "device": param.device, "variant": param.variant}
    args = "".join(f", {k}={v!r}" for k, v in where.items() if v)
    return (
        "from conformance.repro import replay\n"
        f"replay({impl!r}, {case.id!r}{args}, check={check.removeprefix('test_')!r})"
    )


def _schedule_snippet(adapter: Any, case: Any, first_bad: int | None) -> str | None:
    """A torch snippet for a scheduler case with one scheduler, no named functions, no hand changes,
    metrics or checkpoint; ``None`` for any other case (or a non-torch candidate)."""
    meta = case.meta
    (spec,) = meta["schedulers"] if len(meta["schedulers"]) == 1 else (None,)
    module = getattr(adapter, "module", None)
    if spec is None or module is None or meta["changes"] or meta["metrics"] or meta["reload_at"]:
        return None
    if meta["functions"] or "schedulers" in spec["kwargs"]:
        return None
    epochs = meta["steps"] if first_bad is None else first_bad
    source = adapter.module_name + (".lr_scheduler" if hasattr(module, "lr_scheduler") else "")
    optimizer = (
        f"{adapter.module_name}.{meta['optimizer']}"
        if meta["optimizer"] in adapter.classes()
        else (f"torch.optim.{meta['optimizer']}")
    )
    hyper = "".join(f", {k}={v!r}" for k, v in meta["optimizer_hyper"].items())
    kwargs = ", ".join(f"{k}={v!r}" for k, v in spec["kwargs"].items())
    key = next(iter(meta["expected"]))
    return "\n".join(
        [
            f"import torch, {adapter.module_name}",
            "from conformance.schedules import LoadedSchedule",
            "from conformance.vectors import Vectors",
            f"case = LoadedSchedule.load(Vectors(), {case.id!r})",
            f"opt = {optimizer}([{{'params': [torch.zeros(2)], **g}} for g in case.meta['groups']]{hyper})",
            f"sched = {source}.{spec['scheduler']}(opt, {kwargs})",
            f"for epoch in range({epochs}):",
            "    opt.step()",
            "    sched.step()",
            f"print([g[{key!r}] for g in opt.param_groups])  # expected: equal to the next line",
            f"print(case.meta['expected'][{key!r}][{epochs}])",
        ]
    )


def replay(
    impl: str,
    case_id: str,
    *,
    dtype: str = "float64",
    device: str = "cpu",
    variant: str = "default",
    check: str = "trajectory",
    vectors: str | None = None,
) -> None:
    """Rerun one case on a candidate and print its divergence per step (or per checkpoint, or per epoch of a
    scheduler case: ``check="schedule"``)."""
    loader = LoadedSchedule if check == "schedule" else LoadedCase
    case = loader.load(Vectors(vectors) if vectors else Vectors(), case_id)
    run = {
        "trajectory": run_trajectory,
        "single_step": run_single_steps,
        "schedule": run_schedule,
        "resume_resharded": run_resharded,
    }[check]
    result = run(resolve(impl), case, dtype, device, variant)
    unit, run_on = ("epoch", device) if check == "schedule" else ("step", f"{dtype}, {device}, {variant}")
    print_result(f"{case_id} on {impl} ({run_on})", result, unit)


def print_result(what: str, result: Any, unit: str) -> None:
    """A replay's verdict: whether ``what`` conforms, from which step (or epoch) not, and by how much."""
    d = result.divergence
    verdict = "conforms" if result.passed else f"diverges from {unit} {d.first_bad_step}"
    print(f"{what}: {verdict}")
    print(
        f"max rel {d.max_rel:.3g} at {unit} {d.worst_step}, max abs {d.max_abs:.3g}, {d.max_ulp:.3g} ULPs,"
        f" non-finite: {d.non_finite}; tolerance {np.max(result.rtol):.3g}"
    )
    for line in result.details:
        print(line)

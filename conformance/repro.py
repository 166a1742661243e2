"""Short, self-contained reproductions to paste into a bug report.

For torch-API candidates the snippet drives the candidate's own classes on the case's stored params and
gradients (the vectors ship with the project); for other adapters it replays the case through the adapter.
Every snippet reads the vectors the run read (``--vectors``), and ``replay`` reruns any check kind: a
vector case (``check="trajectory"``, ``"single_step"``, ``"schedule"``) or an API check
(``check="api:test_resume"``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import conformance
from conformance.adapters import resolve
from conformance.resharding import run_resharded
from conformance.runner import LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule
from conformance.swa import SWA_CHECKS, LoadedSwa
from conformance.vectors import DEFAULT_DIR, Vectors


def vectors_arg(directory: Any) -> str | None:
    """The ``--vectors`` of a run, where it is not the packaged default (snippets must read the same)."""
    if directory is None or Path(directory).resolve() == Path(DEFAULT_DIR).resolve():
        return None
    return str(directory)


def _vectors_call(vectors: str | None) -> str:
    return f"Vectors({vectors!r})" if vectors else "Vectors()"


def reproduction(
    impl: str,
    adapter: Any,
    case: LoadedCase,
    param: Any,
    check: str,
    first_bad: int | None,
    vectors: str | None = None,
) -> str:
    """The snippet; ``vectors`` names the vectors directory of a run given ``--vectors`` (``None``: the
    project's own), so the snippet loads the vectors the run used."""
    if case.meta.get("kind") == "scheduler":
        return _schedule_snippet(adapter, case, first_bad, vectors) or replay_line(
            impl, case.id, check, param, vectors
        )
    if check in SWA_CHECKS:
        return replay_line(impl, case.id, check, param, vectors)
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
        return replay_line(impl, case.id, check, param, vectors)
    module = getattr(adapter, "module_name", "torch.optim")
    constructor = adapter.repro(case.meta["optimizer"], case.hyper, param.variant)
    return "\n".join(
        [
            f"import numpy as np, torch, {module}",
            "from conformance.runner import LoadedCase",
            "from conformance.vectors import Vectors",
            f"case = LoadedCase.load({_vectors_call(vectors)}, {case.id!r})",
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


def replay_line(impl: str, case_id: str, check: str, param: Any, vectors: str | None = None) -> str:
    """The generic reproduction: rerun the case (dtype and variant where they apply) or the API check
    (``check``: ``"api:<test function>"``) on the candidate, from the run's vectors."""
    where = {"dtype": param.dtype, "device": param.device, "variant": param.variant}
    if check.startswith("api:"):
        where = {"device": param.device if param.device != "cpu" else ""}
    where["vectors"] = vectors or ""
    args = "".join(f", {k}={v!r}" for k, v in where.items() if v)
    return (
        "from conformance.repro import replay\n"
        f"replay({impl!r}, {case_id!r}{args}, check={check.removeprefix('test_')!r})"
    )


def _schedule_snippet(adapter: Any, case: Any, first_bad: int | None, vectors: str | None) -> str | None:
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
    path = adapter.scheduler_path(spec["scheduler"])
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
            f"import torch, {adapter.module_name}, {path.rpartition('.')[0]}",
            "from conformance.schedules import LoadedSchedule",
            "from conformance.vectors import Vectors",
            f"case = LoadedSchedule.load({_vectors_call(vectors)}, {case.id!r})",
            f"opt = {optimizer}([{{'params': [torch.zeros(2)], **g}} for g in case.meta['groups']]{hyper})",
            f"sched = {path}(opt, {kwargs})",
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
    scheduler case: ``check="schedule"``, or per update of ``check="averaged_model"``, or ``"update_bn"``);
    or rerun one API check (``check="api:<test function>"``, ``case_id`` its case, e.g. ``"Adam-forloop"``)
    and print its verdict."""
    if check.startswith("api:"):
        _replay_api(impl, case_id, check.removeprefix("api:"), device, vectors)
        return
    swa = SWA_CHECKS.get(f"test_{check}")
    loader = LoadedSchedule if check == "schedule" else LoadedSwa if swa else LoadedCase
    case = loader.load(Vectors(vectors) if vectors else Vectors(), case_id)
    checks = {
        "trajectory": run_trajectory,
        "single_step": run_single_steps,
        "schedule": run_schedule,
        "resume_resharded": run_resharded,
    }
    run = swa[0] if swa else checks[check]
    result = run(resolve(impl), case, dtype, device, variant)
    unit, run_on = ("epoch", device) if check == "schedule" else ("step", f"{dtype}, {device}, {variant}")
    if swa:
        unit, run_on = swa[1], f"{dtype}, {device}"
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


def _replay_api(impl: str, case_id: str, test: str, device: str, vectors: str | None) -> None:
    """Run the one API check ``test[case_id]`` with pytest, from the installed package, as the run did."""
    import pytest

    package = Path(conformance.__file__).parent
    test = test if test.startswith("test_") else f"test_{test}"
    module = next(
        (f for f in sorted((package / "test_api").glob("test_*.py")) if f"def {test}(" in f.read_text()), None
    )
    if module is None:
        raise ValueError(f"no API check named {test}")
    with tempfile.TemporaryDirectory() as reports:
        args = [f"{module}::{test}[{case_id}]", f"--impl={impl}", f"--device={device}", "-q"]
        args += ["-p", "no:cacheprovider", "--rootdir", str(package.parent), "--report-dir", reports]
        pytest.main([*args, *(["--vectors", vectors] if vectors else [])])

"""Short, self-contained reproductions to paste into a bug report.

For torch-API candidates the snippet drives the candidate's own classes on the case's stored params and
gradients (the vectors ship with the project); for other adapters it replays the case through the adapter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.adapters import resolve
from conformance.runner import LoadedCase, run_single_steps, run_trajectory
from conformance.vectors import Vectors


def reproduction(
    impl: str, adapter: Any, case: LoadedCase, param: Any, check: str, first_bad: int | None
) -> str:
    steps = first_bad or case.meta["steps"]
    simple = (
        impl.startswith("torch")
        and case.meta["optimizer"] != "LBFGS"
        and not case.meta["objective"]
        and not case.meta["changes"]
        and (case.meta.get("gradients") or {}).get("pattern") != "sparse"
        and not case.meta["dtype"].startswith("complex")
        and check == "test_trajectory"
    )
    if not simple:
        return (
            "from conformance.repro import replay\n"
            f"replay({impl!r}, {case.id!r}, dtype={param.dtype!r}, device={param.device!r}, "
            f"variant={param.variant!r}, check={check.removeprefix('test_')!r})"
        )
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
    """Rerun one case on a candidate and print its divergence per step (or per checkpoint)."""
    case = LoadedCase.load(Vectors(vectors) if vectors else Vectors(), case_id)
    run = run_trajectory if check == "trajectory" else run_single_steps
    result = run(resolve(impl), case, dtype, device, variant)
    d = result.divergence
    verdict = "conforms" if result.passed else f"diverges from step {d.first_bad_step}"
    print(f"{case_id} on {impl} ({dtype}, {device}, {variant}): {verdict}")
    print(
        f"max rel {d.max_rel:.3g} at step {d.worst_step}, max abs {d.max_abs:.3g}, {d.max_ulp:.3g} ULPs,"
        f" non-finite: {d.non_finite}; tolerance {np.max(result.rtol):.3g}"
    )

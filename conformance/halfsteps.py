"""The single-step check of a bfloat16 or float16 candidate: every step teacher-forced from the candidate's
own params and state, against the reference's model of torch's half-precision kernels
(``conformance.lowprec``), in ULPs of the storage dtype."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from conformance import lowprec
from conformance.adapters.base import NotSupported
from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.metrics import Divergence, normwise_error

# Cases the model does not cover, with the reason: the check reports them "not supported".
UNMODELLED = {
    "LBFGS": "LBFGS's line search and history are not a per-element kernel",
    "Muon": "torch's Muon runs its Newton-Schulz iteration in bfloat16 whatever the params' dtype",
}


class Undecidable(NotSupported):
    """The case cannot be decided in the half dtype (values outside its range, a reference step that cannot
    be computed in float32): "not supported" in the catalogue, a rejected example in the property layer."""


def require_decidable(case: Any, dtype: str) -> None:
    """Undecidable for a case whose hyperparameters or stored gradients leave ``dtype``'s range."""
    if case.meta["objective"]:  # the objective's gradients at the initial params
        from conformance.runner import _objective_closure

        gradients = _objective_closure(case)(case.initial())[1]
    else:
        steps = range(case.meta["steps"])
        gradients = [g for t in steps for g in case.gradients(t) if isinstance(g, np.ndarray)]
    overrides = {k: v for g in case.meta["groups"] for k, v in g["overrides"].items()}
    if reason := lowprec.out_of_range({**case.hyper, **overrides}, gradients, dtype):
        raise Undecidable(f"not decidable in {dtype}: {reason}")


def _stepped(models: list[Any], grads: list[Any], dtype: str, t: int) -> list[Any]:
    """The models that could take step ``t + 1``: the first (the hyperparameters as given) must, else the
    step cannot be computed in float32 and the case is undecidable; the second (rounded to ``dtype``) is
    dropped where rounding made it meaningless (a beta rounded to 1: a bias correction of 0)."""
    out = []
    for i, model in enumerate(models):
        try:
            with np.errstate(all="ignore"):
                model.step(grads)
        except (ArithmeticError, ValueError) as e:
            if i == 0:
                why = f"{type(e).__name__}: {e}"
                raise Undecidable(f"the reference's float32 step {t + 1} raised {why}") from e
            continue
        out.append(model)
    return out


def _rounded_groups(groups: list[dict[str, Any]], dtype: str) -> list[dict[str, Any]]:
    return [{k: lowprec.rounded_hyper(v, dtype) for k, v in g.items()} for g in groups]


def unmodelled(meta: dict[str, Any], dtype: str, variant: str) -> str | None:
    """Why the half-precision model does not cover a case (``meta``: its optimizer, params' dtype and gradient
    pattern) run by ``variant``, or None. Every half-precision check uses it: the teacher-forced single
    steps, the catalogue's trajectories and the property layer, so a variant is either held to the model
    everywhere or reported "not supported" everywhere, with this reason."""
    if variant not in lowprec.MODELLED:
        return (
            f"the {dtype} model is the fused kernels' arithmetic (float32, rounded on store); the op-by-op "
            f"rounding of {variant} is not modelled (conformance/lowprec.py)"
        )
    if meta["optimizer"] in UNMODELLED:
        return f"the {dtype} model: {UNMODELLED[meta['optimizer']]}"
    if meta["dtype"].startswith("complex"):
        return f"the {dtype} model is for real params"
    if (meta.get("gradients") or {}).get("pattern") == "sparse":
        return f"the {dtype} model is for dense gradients"
    return None


def run_half_steps(adapter: Any, case: Any, dtype: str, device: str, variant: str) -> Any:
    from conformance.runner import CandidateError, CheckResult, _call, _objective_closure, _params, _resumed

    name = case.meta["optimizer"]
    if reason := unmodelled(case.meta, dtype, variant):
        raise NotSupported(reason)
    if "state_dict" not in adapter.capabilities().features:
        raise NotSupported("teacher forcing reads the candidate's optimizer state")
    require_decidable(case, dtype)
    start = time.perf_counter()

    def grid(arrays: list[Any]) -> list[Any]:
        return [
            None if a is None else case.laid_out(i, lowprec.to_grid(a, dtype).astype(np.float64))
            for i, a in enumerate(arrays)
        ]

    run = adapter.make_optimizer(
        name, case.groups(grid(case.initial())), case.hyper, dtype=dtype, device=device, variant=variant
    )
    closure = _objective_closure(case) if case.meta["objective"] else None
    # ULPs of the storage dtype per step, measured over the catalogue with margin (derived in lowprec.py)
    tol = lowprec.TOLERANCE_ULPS
    d, worst_at, matched_non_finite = Divergence(), "", False
    carried = None  # the state before a resume, which the next step must start from
    for t in range(case.meta["steps"]):
        for group, key, value in case.changes(t):
            _call(f"setting param_groups[{group}][{key!r}]", run.set_hyperparameter, group, key, value)
        before = _params(run, case, f"before step {t + 1}")
        saved = _call(f"reading the state before step {t + 1}", run.state_dict)
        if carried is not None:  # resumed: the model steps from the state saved, as the uninterrupted run
            saved, carried = {**saved, "state": carried}, None
        # Two models of the step: the hyperparameters as given, and rounded to the storage dtype (kernels that
        # convert their scalar arguments to it); an element may match either.
        models = []
        for groups in (saved["param_groups"], _rounded_groups(saved["param_groups"], dtype)):
            model = RefimplAdapter().make_optimizer(
                name,
                case.groups([p.astype(np.float32) for p in before]),
                case.hyper,
                dtype="float32",
                device="cpu",
                variant="default",
            )
            model.load_state_dict({**saved, "param_groups": groups})
            models.append(model)
        grads = closure(before)[1] if closure else case.gradients(t)
        grads = grid(grads)
        _call(f"step {t + 1}", run.step, grads)
        models = _stepped(models, grads, dtype, t)
        after = _params(run, case, f"after step {t + 1}")
        state = _call(f"reading the state after step {t + 1}", run.state_dict)["state"]
        entries = [
            (f"param {i}", a, [lowprec.to_grid(m.params()[i], dtype) for m in models], b, dtype)
            for i, (a, b) in enumerate(zip(after, before, strict=True))
        ]
        states = [m.state_dict()["state"] for m in models]
        for index, values in states[0].items():
            for key, value in values.items():
                if not isinstance(value, np.ndarray):
                    continue
                if key not in state.get(index, {}):
                    raise CandidateError(f"after step {t + 1}: the state of param {index} has no {key!r}")
                mine = np.asarray(state[index][key])
                old = saved["state"].get(index, {}).get(key, 0.0)
                storage = lowprec.storage_dtype(mine, dtype)
                expected = [lowprec.to_grid(s[index][key], storage) for s in states]
                entries.append((f"state[{index}][{key!r}]", mine, expected, old, storage))
        d.step_rel.append(0.0)
        for label, mine, expected, old, storage in entries:
            if np.shape(mine) != np.shape(expected[0]):
                raise CandidateError(
                    f"after step {t + 1}: {label} has shape {np.shape(mine)}, "
                    f"expected {np.shape(expected[0])}"
                )
            error = lowprec.ulps(mine, expected, old, storage)
            # A non-finite value no model has is an unbounded error; one a model has is that model's step
            # (float16 Adagrad's vectorised loop rounds eps = 1e-10 to 0: a zero accumulator gives 0/0).
            if not np.all(np.isfinite(mine)):
                if error == np.inf:
                    d.non_finite = True
                else:
                    matched_non_finite = True
            d.step_rel[t] = max(d.step_rel[t], error)
            if error > d.max_ulp:
                d.max_ulp, d.worst_step, worst_at = error, t + 1, f"{label} ({storage})"
            d.max_rel = max(d.max_rel, normwise_error(mine, expected[0]))
            d.max_abs = max(
                d.max_abs, float(np.max(np.abs(np.asarray(mine, np.float64) - expected[0]), initial=0.0))
            )
            if error > tol and d.first_bad_step is None:
                d.first_bad_step = t + 1
        if t + 1 == case.meta.get("reload_at"):  # torch's resume recipe, as the trajectory check runs it
            run, carried = _resumed(adapter, run, case, t + 1, dtype, device, variant), state
    details = [
        f"teacher-forced from its own {dtype} params and state at every step, against the reference's step "
        f"in float32 rounded to {dtype} (conformance/lowprec.py); worst: {d.max_ulp:.3g} ULPs in {worst_at} "
        f"after step {d.worst_step} (tolerance {tol:g} ULPs for {variant})"
    ]
    if matched_non_finite:
        details.append(
            f"non-finite values where the reference's step with the hyperparameters rounded to {dtype} has "
            "the same ones (a hyperparameter such as eps that the dtype rounds to 0)"
        )
    steps = case.meta["steps"]
    return CheckResult(
        d.first_bad_step is None and not d.non_finite,
        d,
        [tol] * steps,
        time.perf_counter() - start,
        steps,
        details=details,
    )

"""Tolerances for a candidate that keeps its scalar hyperparameters in a coarser precision than its params.

Keras (and ports like it) store ``lr``, ``betas``, ``eps`` and ``weight_decay`` as float32 scalars and
compute the scalar part of an update (bias corrections, ``lr / (1 - beta1**t)``) in float32 whatever the
params' dtype; a float64 run of such a candidate is then not torch's float64 arithmetic, by design. Its
class declares ``ClassDeclaration.scalar_dtype``, and a check in a finer dtype is given what that precision
can move -- not a blanket tolerance, a derived one:

1. What a rounding of the scalars does to this very case is *measured* on the reference: it runs the check
   (trajectory, or one step from each checkpoint) twice more in float64, once with every float hyperparameter
   rounded to ``scalar_dtype`` (the inputs the candidate really computes with), once with every one moved by
   one unit roundoff of ``scalar_dtype`` (``h * (1 + u)``: the size of one rounding made in the scalar
   arithmetic). Their errors against the exact run, after each step, carry the case's own amplification (``1 -
   beta2**t`` near ``beta2 = 1`` turns a 3e-8 change of ``beta2`` into 3e-5 of the update at step 1), which no
   fixed factor could.
2. The candidate gets ``MARGIN`` times the larger of the two (its running maximum up to each step: an
   error made stays in the params), on top of the dtype's own tolerance.

``MARGIN`` = 4: the scalar arithmetic of one step rounds a handful of times (each beta's power, ``1 - x``,
the square root, the quotient ``lr / bias``), each at most one unit roundoff and each of the size the second
probe measures. The Keras-style port in ``tests/fakes/numpy_port.py`` reaches at most 1.6 x the probe's
running maximum (measured over the Adam catalogue, trajectories and single steps, float64 and float32), so
4 leaves a margin of 2.5. A real difference is still caught: every catalogued option moves the outputs by
>= 1e-3 (``tests/test_catalogue.py``), and the widened tolerance stays below 2.5e-4 for every Adam case
(the largest probe, ``betas=(0.9, 0.999)`` after the first steps, is 6e-5).

The API checks drive their own scripts, so ``api_probe`` measures the same two moves on the class's API
setup (its hyperparameters, and with every derived change applied at once), and the check's tolerance gets
``MARGIN`` times the largest error.

The derivation is carried into the check's result (``describe``) and shown in its record and the report.
"""

from __future__ import annotations

import copy
from functools import cache, partial
from typing import Any

import numpy as np

from conformance.declarations import reference_defaults
from conformance.tolerances import EPS

MARGIN = 4.0
NUMPY = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


def _moved(value: Any, move: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (float, list, tuple)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_moved(v, move) for v in value)
    return float(move(value))


def _with_scalars(meta: dict[str, Any], move: Any) -> dict[str, Any]:
    """``meta`` with every float hyperparameter -- constructor (the defaults it leaves out included: the
    candidate keeps those in its precision too), group overrides, changes -- moved."""
    meta = copy.deepcopy(meta)
    defaults = {k: v for k, v in reference_defaults(meta["optimizer"]).items() if _moved(v, move) is not v}
    meta["hyper"] = {k: _moved(v, move) for k, v in {**defaults, **meta["hyper"]}.items()}
    for group in meta["groups"]:
        group["overrides"] = {k: _moved(v, move) for k, v in group["overrides"].items()}
    meta["changes"] = {t: [[g, k, _moved(v, move)] for g, k, v in c] for t, c in meta["changes"].items()}
    # the param groups a checkpoint's state dict carries (loaded by one step from the checkpoint)
    meta["checkpoint_param_groups"] = {
        k: [{key: _moved(v, move) for key, v in g.items()} for g in groups]
        for k, groups in (meta.get("checkpoint_param_groups") or {}).items()
    }
    return meta


def probe(case: Any, scalar_dtype: str, check: Any) -> list[float]:
    """Per compared step of ``check`` (``run_trajectory`` or ``run_single_steps``: one step from each loaded
    checkpoint mixes the exact state with the moved scalars, so it is probed as itself), the larger error
    of the two probed runs (module docstring) against the exact run."""
    from conformance.adapters.refimpl_adapter import RefimplAdapter
    from conformance.runner import CandidateError, LoadedCase

    unit = EPS[scalar_dtype] / 2
    kind = NUMPY.get(scalar_dtype, np.float32)

    def run(move: Any) -> list[float]:
        moved = LoadedCase(case.id, _with_scalars(case.meta, move), case.arrays)
        moved.meta["tolerance"] = {"float64": np.inf}
        with np.errstate(all="ignore"):
            return check(RefimplAdapter(), moved, "float64", "cpu", "default").divergence.step_rel

    errors = [run(lambda x: kind(x))]
    try:
        errors.append(run(lambda x: x * (1 + unit)))
    except CandidateError:  # a value at the top of its domain (Adadelta's rho = 1): one roundoff down
        errors.append(run(lambda x: x * (1 - unit)))
    return [max(a, b) for a, b in zip(*errors, strict=True)]


def widened(rtol: list[float], extra: list[float]) -> list[float]:
    """``rtol`` plus ``MARGIN`` times the running maximum of ``extra``."""
    out, worst = [], 0.0
    for r, e in zip(rtol, extra, strict=True):
        worst = max(worst, e)
        out.append(r + MARGIN * worst)
    return out


def describe(scalar_dtype: str, extra: list[float]) -> str:
    """The derivation, for the record and the report."""
    return (
        f"tolerance widened for {scalar_dtype} scalar hyperparameters (declared): {MARGIN:g} x the "
        f"reference's own error with its scalars rounded to {scalar_dtype} or moved by one unit roundoff, "
        f"up to {max(extra, default=0.0):.3g} (conformance/scalars.py)"
    )


def applies(scalar_dtype: str | None, dtype: str) -> bool:
    """Whether a declared scalar precision is no finer than the check's dtype (a float32 run of a candidate
    computing its scalars in float32 differs from torch's, whose scalars are Python floats)."""
    return scalar_dtype is not None and EPS.get(scalar_dtype, 0.0) >= EPS.get(dtype, 0.0)


def _array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, float)) and not isinstance(value, bool)


@cache
def api_probe(name: str, scalar_dtype: str, lacks: frozenset[str]) -> float:
    """The largest error, over five seeded steps of the API setup of optimizer ``name`` (as is, and with every
    derived change at once), of the reference's params and state with its scalars moved as ``probe`` moves
    them."""
    import refimpl.optim
    from conformance.api import derive
    from conformance.api.setups import SETUPS
    from conformance.metrics import normwise_error

    setup = SETUPS[name].without(lacks)
    unit = EPS[scalar_dtype] / 2
    kind = NUMPY.get(scalar_dtype, np.float32)
    # Only the constructor's options: a derived change may be a group key the constructor does not take
    # (AdamW's decoupled_weight_decay, which the API checks flip in param_groups).
    taken = reference_defaults(name)
    overrides = derive.overrides(name).items()
    changed = {**setup.hyper, **{k: v for k, v in overrides if k not in lacks and k in taken}}
    worst = 0.0
    for hyper in (dict(setup.hyper), changed):
        runs = []
        defaults = {**reference_defaults(name), **hyper}
        for move in (None, lambda x: kind(x), lambda x: x * (1 + unit)):
            options = defaults if move is None else {k: _moved(v, move) for k, v in defaults.items()}
            optimizer = getattr(refimpl.optim, name)(setup.groups(setup.initial()), **options)
            live = [p for g in optimizer.param_groups for p in g["params"]]
            trajectory = []
            objective = setup.closure_for()
            with np.errstate(all="ignore"):
                for t in range(5):
                    optimizer.step(partial(objective, live) if setup.closure else setup.gradients(t, live))
                    state = optimizer.state_dict()["state"]
                    arrays = [np.asarray(v) for i in sorted(state) for v in state[i].values() if _array(v)]
                    trajectory.append([p.copy() for p in live] + arrays)
            runs.append(trajectory)
        for moved in runs[1:]:
            for exact_t, moved_t in zip(runs[0], moved):
                worst = max(worst, *(normwise_error(m, e) for m, e in zip(moved_t, exact_t)))
    return worst

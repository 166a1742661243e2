"""The property-based layer's check: one drawn example, run by the live reference and by the candidate.

The reference runs the example through ``conformance.generate.run_optim_case`` (the code that writes the
golden vectors) and the candidate is checked by ``conformance.runner.run_trajectory`` (the golden
vectors' trajectory check: every step's params and the full optimizer state, the dtype's tolerance of
``conformance.tolerances``), so the two layers differ only in where the inputs come from. Errors are
measured against each array's running scale (``conformance.metrics.running_scales``): drawn examples
include steps that cancel, which the catalogue's O(1) cases avoid.

An example the reference itself refuses (it raises torch's error, e.g. sparse gradients with Adagrad's
weight decay) or whose exact values leave the candidate dtype's finite range (no float32 implementation
can represent them) is not a conformance question; ``reference`` returns ``None`` and the test rejects it.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np

import refimpl.optim
from conformance.catalogue.optim.lbfgs import MARGIN as LBFGS_FLOAT32_MARGIN
from conformance.conditioning import well_conditioned
from conformance.generate import build_groups, run_optim_case
from conformance.halfsteps import Undecidable, run_half_steps, unmodelled
from conformance.lowprec import HALF
from conformance.repro import print_result
from conformance.runner import CandidateError, CheckResult, LoadedCase, run_trajectory
from conformance.strategies.arrays import INPUT_DTYPES
from conformance.strategies.hyper import constructor_defaults, table_of
from conformance.strategies.optimizers import OptimizerExample
from conformance.tolerances import EPS, GROWTH, TINY, trajectory_rtol
from refimpl.optim import SparseGrad

# Defaults torch derives from the params' dtype, which the float64 reference would derive from float64:
# (optimizer, argument, tuple index) -> the value for the candidate's dtype. Adafactor's eps1=None is
# torch.finfo(dtype).eps (``conformance.tolerances.EPS`` holds the same numbers).
DTYPE_DEFAULTS = {("Adafactor", "eps", 0): lambda dtype: EPS[dtype]}


def _for_reference(example: OptimizerExample, dtype: str) -> OptimizerExample:
    """``example`` with the dtype-derived defaults (``DTYPE_DEFAULTS``) resolved for ``dtype``."""
    hyper, overrides = dict(example.hyper), [dict(o) for o in example.overrides]
    for (optimizer, name, index), value in DTYPE_DEFAULTS.items():
        if optimizer != example.optimizer:
            continue
        for options in (hyper, *overrides):
            current = options.get(name, constructor_defaults(optimizer)[name] if options is hyper else None)
            if current is not None and current[index] is None:
                options[name] = (*current[:index], value(dtype), *current[index + 1 :])
    return replace(example, hyper=hyper, overrides=tuple(overrides))


class Rejected(Exception):
    """The example is not a conformance question; the message is the reason (counted in the record)."""


class Refused(Exception):
    """The reference refuses to construct the optimizer for the example (torch's error for the arguments):
    the candidate must refuse it too. ``error`` is the reference's exception."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def reference(example: OptimizerExample, dtype: str) -> LoadedCase:
    """The reference's run of ``example`` as a loaded case. The case's hyperparameters are the example's as
    drawn (what the candidate gets), also where the reference was given a dtype-derived default.

    Raises ``Refused`` where the reference's constructor raises; ``Rejected`` where the spec refuses the
    example later (torch's error for a combination, e.g. sparse gradients with Adagrad's weight decay) or
    the exact values leave ``dtype``'s finite range (no implementation in ``dtype`` can represent them).
    """
    resolved = _for_reference(example, dtype)
    case = resolved.case()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(refimpl.optim, example.optimizer)(build_groups(case, list(example.params)), **case.hyper)
        except Exception as e:  # the constructor's validation: torch's exception and message
            raise Refused(e) from e
        try:
            record = run_optim_case(case, list(example.params), example.gradient)
        except Exception as e:
            raise Rejected("refused by the reference") from e
    described = example.case().describe()
    record.meta.update(hyper=described["hyper"], groups=described["groups"], reload_at=example.reload_at)
    if "evals" in record.arrays and dtype != "float64":
        # The policy's GROWTH * eps * t counts updates; an LBFGS step makes up to max_iter of them, one per
        # function evaluation after the first (as the catalogue's LBFGS cases count them).
        updates = int(np.sum(record.arrays["evals"]))
        record.meta["tolerance"] = {f"{dtype}:trajectory": GROWTH * EPS[dtype] * max(updates, 1)}
    if any(0 < abs(x) < TINY[dtype] for x in _floats(example)):
        raise Rejected(f"a hyperparameter below the normal range of {dtype}")  # it would round to 0 there
    if not _valid_in(example, dtype):
        raise Rejected(f"a hyperparameter out of its bounds once rounded to {dtype}")
    limit = float(np.finfo(INPUT_DTYPES[dtype]).max)
    for name, values in record.arrays.items():
        if name.startswith(("params/", "state/", "loss")) and np.asarray(values).dtype.kind in "fc":
            magnitude = np.abs(np.asarray(values))
            if not np.all(np.isfinite(magnitude)) or np.any(magnitude > limit):
                raise Rejected(f"beyond the range of {dtype}")
    return LoadedCase(case.id, record.meta, record.arrays)


def _valid_in(example: OptimizerExample, dtype: str) -> bool:
    """Whether every group's options still satisfy the table's bounds once rounded to ``dtype``: Rprop's
    ``etas[0] = 1 - 2e-16`` is 1.0 in float32, which torch's foreach Rprop takes for "no sign change"."""
    defaults, rounding = constructor_defaults(example.optimizer), INPUT_DTYPES[dtype]

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return float(rounding(value))
        return tuple(rounded(v) for v in value) if isinstance(value, tuple) else value

    bounds = [b for b in table_of(example.optimizer).checks if hasattr(b, "low")]
    for overrides in example.overrides:
        options = {k: rounded(v) for k, v in {**defaults, **example.hyper, **overrides}.items()}
        if not all(b.holds(b.value_of(options)) for b in bounds if b.name in options):
            return False
    return True


def _floats(example: OptimizerExample) -> list[float]:
    """Every float hyperparameter of ``example``: constructor, group overrides, changes between steps."""
    values = [*example.hyper.values(), *(v for o in example.overrides for v in o.values())]
    values += [value for changes in example.changes.values() for _, _, value in changes]
    flat = [x for v in values for x in (v if isinstance(v, tuple) else (v,))]
    return [x for x in flat if isinstance(x, float)]


def check(
    adapter: Any,
    loaded: LoadedCase,
    dtype: str,
    device: str,
    variant: str,
    tolerance: dict[str, float] | None = None,
) -> CheckResult:
    """The trajectory check of one example (``tolerance``: a per-dtype override from known deviations).

    In bfloat16 and float16 the example is checked as the catalogue's half-precision single steps are
    (``conformance.halfsteps``): every step teacher-forced from the candidate's own values against the
    model of torch's fused kernels, in ULPs of the storage dtype. A float64 trajectory is no reference for
    a half run over drawn examples: a moment that the half dtype cannot hold (float16's (1 - beta2) * g^2
    below 2^-24 stores 0) sends a correct kernel's next steps far from it, where the model, rounding the
    state as the kernel stores it, follows. ``tolerance`` (relative, per dtype) does not apply there."""
    if dtype in HALF:
        if reason := unmodelled(loaded.meta, dtype, variant):
            raise Rejected(reason)
        try:
            return run_half_steps(adapter, loaded, dtype, device, variant)
        except Undecidable as e:  # values the dtype cannot hold: not a conformance question in it
            raise Rejected(str(e)) from None
    if tolerance:
        loaded.meta["tolerance"] = {**loaded.meta.get("tolerance", {}), **tolerance}
    return run_trajectory(adapter, loaded, dtype, device, variant, running_scale=True)


# The float64 check's margin: how many more roundings a float64 candidate may make than the reference does
# in float32 (the policy's measured GROWTH of torch's float32 variants over the reference's arithmetic).
PROBE_MARGIN = GROWTH
LBFGS_MARGIN = LBFGS_FLOAT32_MARGIN


def require_conditioned(loaded: LoadedCase, dtype: str, tolerance: dict[str, float] | None = None) -> None:
    """Raise ``Rejected`` unless the example can be decided in ``dtype``: where it amplifies rounding beyond
    the dtype's tolerance, no implementation computing in ``dtype`` can be held to the tolerance, so the
    example says nothing about conformance. The probe is the reference itself computing in float32 (NumPy
    in float32, Python scalars in float64):

    - float32: the probe must pass the float32 tolerance. This finds the spec's own formulas amplifying
      float32 rounding (a cancellation in SparseAdam's moment update, LBFGS's line search on an
      ill-conditioned objective, a decision that a rounding flips);
    - float64: the probe's error after each step, scaled to float64 rounding (times eps64 / eps32, times
      ``PROBE_MARGIN``), must stay within the float64 tolerance: an amplification that float32 shows at
      its scale is there in float64 at its own (a lerp that cancels when a moment's weight is near 1, an
      update of a gradient that weight decay nearly cancels).

    Singular points that the reference's arithmetic hits exactly are in ``conformance.conditioning``. The
    tolerance and its policy are untouched; only examples on which the policy cannot hold are dropped.
    """
    from conformance.adapters.refimpl_adapter import RefimplAdapter

    if tolerance:
        loaded.meta["tolerance"] = {**loaded.meta.get("tolerance", {}), **tolerance}
    if dtype not in ("float64", "float32"):
        return  # no probe finer than the dtype (bfloat16, float16): the check is not possible
    scale = 1.0 if dtype == "float32" else EPS["float64"] / EPS["float32"] * PROBE_MARGIN
    rtol = trajectory_rtol(dtype, loaded.meta["steps"], loaded.meta.get("tolerance"))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            probe = check(RefimplAdapter(), loaded, "float32", "cpu", "default").divergence
        except CandidateError:  # the reference raised computing in float32 (an overflow made an error)
            raise Rejected("ill-conditioned in " + dtype) from None
    if probe.non_finite or any(e * scale > r for e, r in zip(probe.step_rel, rtol, strict=True)):
        raise Rejected("ill-conditioned in " + dtype)
    if loaded.meta["optimizer"] == "LBFGS" and dtype == "float32":
        # LBFGS amplifies an iterate's rounding by the objective's condition in its next direction, and a
        # float32 candidate's line search rounds its scalars where the probe's are Python floats: as the
        # catalogue's LBFGS cases (conformance/catalogue/optim/lbfgs.py), the candidate gets MARGIN times
        # the measured float32 error, measured here on the probe.
        measured = LBFGS_MARGIN * max(probe.step_rel, default=0.0)
        key = f"{dtype}:trajectory"
        loaded.meta["tolerance"] = {key: max(measured, rtol[-1]), **(tolerance or {})}
    if not well_conditioned(loaded, dtype):
        raise Rejected("near a singular point")


def summary(example: OptimizerExample) -> str:
    """One line: the constructor call, the shapes per group and the steps."""
    args = ", ".join(f"{k}={v!r}" for k, v in example.hyper.items())
    shapes, start = [], 0
    for size, overrides in zip(example.group_sizes, example.overrides, strict=True):
        group = [tuple(p.shape) for p in example.params[start : start + size]]
        shapes.append(f"{group}" + (f" with {overrides}" if overrides else ""))
        start += size
    changes = f", lr changes before steps {sorted(t + 1 for t in example.changes)}" if example.changes else ""
    driven = f", minimizing {example.objective}" if example.objective else ""
    resumed = f", resumed from its state dict after step {example.reload_at}" if example.reload_at else ""
    return (
        f"{example.optimizer}({args}) on groups {'; '.join(shapes)}, {example.n_steps} steps"
        f"{changes}{resumed}{driven}"
    )


def _literal(value: Any) -> str:
    """An exact Python literal: float64 reprs round-trip, so the pasted arrays are the drawn ones."""
    if isinstance(value, np.ndarray):
        return f"array({value.tolist()!r})"
    return repr(value)


def _torch_snippet(
    adapter: Any, example: OptimizerExample, loaded: LoadedCase | None, dtype: str, variant: str, steps: int
) -> str:
    """A few lines of plain torch that build the candidate's optimizer on the example and print its params
    after ``steps`` steps next to the reference's."""
    groups, start = [], 0
    for size, overrides in zip(example.group_sizes, example.overrides, strict=True):
        extra = "".join(f", {k!r}: {v!r}" for k, v in overrides.items())
        groups.append(f"{{'params': params[{start}:{start + size}]{extra}}}")
        start += size
    # the adapter's constructor line over "groups", with the groups written out
    constructor = adapter.repro(example.optimizer, example.hyper, variant)
    constructor = constructor.replace("(groups", "([" + ", ".join(groups) + "]", 1)
    values = ", ".join(_literal(p) for p in example.params)
    grads = ", ".join("[" + ", ".join(_literal(g) for g in step) + "]" for step in example.grads[:steps])
    changes = {t: list(c) for t, c in example.changes.items() if t < steps}
    head = [
        f"import torch, {adapter.module_name}",
        "from numpy import array",
        f"params = [torch.tensor(p, dtype=torch.{dtype}, requires_grad=True) for p in [{values}]]",
        f"opt = {constructor}",
    ]
    if loaded is None:  # the reference refuses the arguments
        return "\n".join([*head[:-1], f"{head[-1]}  # the reference raises here"])
    expected = [p.tolist() for p in loaded.expected(steps)]
    return "\n".join(
        [
            *head,
            f"grads = [{grads}]  # grads[t][i]: param i's gradient at step t + 1",
            f"changes = {changes!r}  # param_groups[g][key] = value before step t + 1",
            "for t, step in enumerate(grads):",
            "    for g, key, value in changes.get(t, []):",
            "        opt.param_groups[g][key] = value",
            "    for p, grad in zip(params, step):",
            "        p.grad = None if grad is None else torch.tensor(grad, dtype=p.dtype)",
            "    opt.step()",
            *(
                [
                    f"    if t + 1 == {example.reload_at}:  # torch's resume recipe",
                    f"        saved = opt.state_dict(); opt = {constructor}; opt.load_state_dict(saved)",
                ]
                if example.reload_at and example.reload_at < steps
                else []
            ),
            "print([p.tolist() for p in params])",
            f"print({expected!r})  # the reference after step {steps}",
        ]
    )


def reproduction(
    impl: str,
    adapter: Any,
    example: OptimizerExample,
    loaded: LoadedCase | None,
    dtype: str,
    device: str,
    variant: str,
    first_bad: int | None,
) -> str:
    """Pasteable lines that show the failure: plain torch where the candidate has torch's API and the
    example is dense and gradient-driven, else a replay through the harness (any adapter)."""
    simple = (
        impl.startswith("torch")
        and hasattr(adapter, "repro")
        and not example.objective
        and not example.sparse
    )
    if simple:
        return _torch_snippet(adapter, example, loaded, dtype, variant, first_bad or example.n_steps)
    return "\n".join(
        [
            "from conformance.properties import replay",
            f"replay({impl!r}, {example.to_dict()!r},",
            f"       dtype={dtype!r}, device={device!r}, variant={variant!r})",
        ]
    )


def replay(
    impl: str,
    example: dict[str, Any],
    *,
    dtype: str = "float64",
    device: str = "cpu",
    variant: str = "default",
) -> None:
    """Rerun an example (``OptimizerExample.to_dict()``, as a failure prints it) on a candidate and print
    whether it conforms, and by how much it does not."""
    from conformance.adapters import resolve

    adapter, drawn = resolve(impl), OptimizerExample.from_dict(example)
    what = f"{summary(drawn)} on {impl} ({dtype}, {device}, {variant})"
    try:
        loaded = reference(drawn, dtype)
    except Refused as refused:
        print(f"{what}: not a property example: the reference refuses its arguments ({refused})")
        return
    except Rejected as e:
        print(f"{what}: not a conformance question ({e})")
        return
    print_result(what, check(adapter, loaded, dtype, device, variant), "step")


__all__ = ["SparseGrad", "check", "reference", "replay", "reproduction", "summary"]

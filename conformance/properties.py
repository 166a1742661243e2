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

from conformance.conditioning import well_conditioned
from conformance.generate import run_optim_case
from conformance.runner import CandidateError, CheckResult, LoadedCase, run_trajectory
from conformance.strategies.arrays import INPUT_DTYPES
from conformance.strategies.hyper import constructor_defaults
from conformance.strategies.optimizers import OptimizerExample
from conformance.tolerances import EPS
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


def reference(example: OptimizerExample, dtype: str) -> LoadedCase:
    """The reference's run of ``example`` as a loaded case. The case's hyperparameters are the example's as
    drawn (what the candidate gets), also where the reference was given a dtype-derived default.

    Raises ``Rejected`` where the spec refuses the example (it raises torch's error for the combination) or
    the exact values leave ``dtype``'s finite range (no implementation in ``dtype`` can represent them).
    """
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resolved = _for_reference(example, dtype)
            record = run_optim_case(resolved.case(), list(example.params), example.gradient)
    except Exception as e:  # the spec's own error for an invalid combination
        raise Rejected("refused by the reference") from e
    case = example.case()
    record.meta.update(hyper=case.describe()["hyper"], groups=case.describe()["groups"])
    limit = float(np.finfo(INPUT_DTYPES[dtype]).max)
    for name, values in record.arrays.items():
        if name.startswith(("params/", "state/", "loss")) and np.asarray(values).dtype.kind in "fc":
            magnitude = np.abs(np.asarray(values))
            if not np.all(np.isfinite(magnitude)) or np.any(magnitude > limit):
                raise Rejected(f"beyond the range of {dtype}")
    return LoadedCase(case.id, record.meta, record.arrays)


def check(
    adapter: Any,
    loaded: LoadedCase,
    dtype: str,
    device: str,
    variant: str,
    tolerance: dict[str, float] | None = None,
) -> CheckResult:
    """The trajectory check of one example (``tolerance``: a per-dtype override from known deviations)."""
    if tolerance:
        loaded.meta["tolerance"] = {**loaded.meta.get("tolerance", {}), **tolerance}
    return run_trajectory(adapter, loaded, dtype, device, variant, running_scale=True)


# The inputs of a loaded case that a perturbation moves: initial params and dense or sparse gradients.
_INPUTS = ("init/", "grads/", "grad/")


def _perturbed(loaded: LoadedCase, eps: float) -> LoadedCase:
    """``loaded`` with every input value and float hyperparameter moved by up to one rounding of a dtype
    whose machine epsilon is ``eps`` (relatively, from a fixed seed), the expected values unchanged."""
    rng = np.random.default_rng(0)

    def nudge(x: Any) -> Any:
        if isinstance(x, float):
            return x * (1 + eps * rng.uniform(-0.5, 0.5))
        if isinstance(x, (tuple, list)):
            return type(x)(nudge(v) for v in x)
        return x

    arrays = {
        k: v * (1 + eps * rng.uniform(-0.5, 0.5, np.shape(v)))
        if k.startswith(_INPUTS) and not k.endswith("indices") and np.asarray(v).dtype.kind == "f"
        else v
        for k, v in loaded.arrays.items()
    }
    meta = {**loaded.meta, "hyper": {k: nudge(v) for k, v in loaded.meta["hyper"].items()}}
    meta["groups"] = [
        {**g, "overrides": {k: nudge(v) for k, v in g["overrides"].items()}} for g in meta["groups"]
    ]
    return LoadedCase(loaded.id, meta, arrays)


def require_conditioned(loaded: LoadedCase, dtype: str, tolerance: dict[str, float] | None = None) -> None:
    """Raise ``Rejected`` unless the reference itself, as a candidate, passes the example in ``dtype``.

    A conforming implementation in ``dtype`` rounds; where the example amplifies one rounding beyond the
    dtype's tolerance, no implementation can be held to it, so the example says nothing about conformance:
    - float32 and the like: the reference computing in that dtype (NumPy in float32) must pass. This finds
      the spec's own formulas amplifying float32 rounding (a cancellation in torch's and the reference's
      SparseAdam moment update, LBFGS's line search on an ill-conditioned objective);
    - float64, where that run is the reference itself: the reference on inputs (params, gradients, float
      hyperparameters) each moved by half a float64 rounding must pass, which finds examples that turn a
      rounding into a different trajectory (a line-search branch, a sign test at zero).
    Singular points that the reference's arithmetic hits exactly are in ``conformance.conditioning``. The
    tolerance and its policy are untouched; only examples on which the policy cannot hold are dropped.
    """
    from conformance.adapters.refimpl_adapter import DTYPES, RefimplAdapter

    if tolerance:
        loaded.meta["tolerance"] = {**loaded.meta.get("tolerance", {}), **tolerance}
    if dtype == "float64":
        candidate = _perturbed(loaded, EPS["float64"])
    elif dtype in DTYPES:
        candidate = loaded
    else:
        return  # no NumPy dtype to compute in (bfloat16): the check is not possible
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            passed = check(RefimplAdapter(), candidate, dtype, "cpu", "default", tolerance).passed
        except CandidateError:  # the reference raised computing in dtype (an overflow made an error)
            passed = False
    if not passed:
        raise Rejected("ill-conditioned in " + dtype)
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
    return (
        f"{example.optimizer}({args}) on groups {'; '.join(shapes)}, {example.n_steps} steps{changes}{driven}"
    )


def _literal(value: Any) -> str:
    """An exact Python literal: float64 reprs round-trip, so the pasted arrays are the drawn ones."""
    if isinstance(value, np.ndarray):
        return f"array({value.tolist()!r})"
    return repr(value)


def _torch_snippet(
    adapter: Any, example: OptimizerExample, loaded: LoadedCase, dtype: str, variant: str, steps: int
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
    expected = [p.tolist() for p in loaded.expected(steps)]
    return "\n".join(
        [
            f"import torch, {adapter.module_name}",
            "from numpy import array",
            f"params = [torch.tensor(p, dtype=torch.{dtype}, requires_grad=True) for p in [{values}]]",
            f"opt = {constructor}",
            f"grads = [{grads}]  # grads[t][i]: param i's gradient at step t + 1",
            f"changes = {changes!r}  # param_groups[g][key] = value before step t + 1",
            "for t, step in enumerate(grads):",
            "    for g, key, value in changes.get(t, []):",
            "        opt.param_groups[g][key] = value",
            "    for p, grad in zip(params, step):",
            "        p.grad = None if grad is None else torch.tensor(grad, dtype=p.dtype)",
            "    opt.step()",
            "print([p.tolist() for p in params])",
            f"print({expected!r})  # the reference after step {steps}",
        ]
    )


def reproduction(
    impl: str,
    adapter: Any,
    example: OptimizerExample,
    loaded: LoadedCase,
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
    its divergence from the reference."""
    from conformance.adapters import resolve

    drawn = OptimizerExample.from_dict(example)
    loaded = reference(drawn, dtype)
    if loaded is None:
        print("the reference refuses this example (or it leaves the dtype's range): nothing to compare")
        return
    result = check(resolve(impl), loaded, dtype, device, variant)
    d = result.divergence
    verdict = "conforms" if result.passed else f"diverges from step {d.first_bad_step}"
    print(f"{summary(drawn)} on {impl} ({dtype}, {device}, {variant}): {verdict}")
    print(
        f"max rel {d.max_rel:.3g} at step {d.worst_step}, max abs {d.max_abs:.3g}, non-finite: {d.non_finite}"
    )


__all__ = ["SparseGrad", "check", "reference", "replay", "reproduction", "summary"]

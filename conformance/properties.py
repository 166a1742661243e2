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
from conformance.adapters.base import NotSupported
from conformance.conditioning import well_conditioned
from conformance.generate import build_groups, run_optim_case
from conformance.repro import print_result
from conformance.runner import CandidateError, CheckResult, LoadedCase, run_trajectory
from conformance.strategies.arrays import INPUT_DTYPES
from conformance.strategies.hyper import constructor_defaults
from conformance.strategies.optimizers import OptimizerExample
from conformance.tolerances import EPS, TINY
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
    if any(0 < abs(x) < TINY[dtype] for x in _floats(example)):
        raise Rejected(f"a hyperparameter below the normal range of {dtype}")  # it would round to 0 there
    limit = float(np.finfo(INPUT_DTYPES[dtype]).max)
    for name, values in record.arrays.items():
        if name.startswith(("params/", "state/", "loss")) and np.asarray(values).dtype.kind in "fc":
            magnitude = np.abs(np.asarray(values))
            if not np.all(np.isfinite(magnitude)) or np.any(magnitude > limit):
                raise Rejected(f"beyond the range of {dtype}")
    return LoadedCase(case.id, record.meta, record.arrays)


def _floats(example: OptimizerExample) -> list[float]:
    """Every float hyperparameter of ``example``: constructor, group overrides, changes between steps."""
    values = [*example.hyper.values(), *(v for o in example.overrides for v in o.values())]
    values += [value for changes in example.changes.values() for _, _, value in changes]
    flat = [x for v in values for x in (v if isinstance(v, tuple) else (v,))]
    return [x for x in flat if isinstance(x, float)]


def require_refusal(
    adapter: Any, example: OptimizerExample, refused: Refused, dtype: str, device: str, variant: str
) -> None:
    """The candidate's constructor must raise where the reference's does: the same exception type for a
    candidate with torch's API ("torch_api"), any exception for others (a port's errors are its own)."""
    same_type = "torch_api" in adapter.capabilities().features
    groups = example.case()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adapter.make_optimizer(
                example.optimizer,
                build_groups(groups, list(example.params)),
                example.hyper,
                dtype=dtype,
                device=device,
                variant=variant,
            )
    except NotSupported:
        raise
    except Exception as e:
        if same_type and type(e) is not type(refused.error):
            raise CandidateError(
                f"construction raised {type(e).__name__}: {e}; the reference raises {refused}"
            ) from None
        return
    raise CandidateError(f"construction succeeded; the reference refuses these arguments with {refused}")


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
        try:
            require_refusal(adapter, drawn, refused, dtype, device, variant)
            print(f"{what}: refused, as the reference refuses it ({refused})")
        except CandidateError as e:
            print(f"{what}: {e}")
        return
    except Rejected as e:
        print(f"{what}: not a conformance question ({e})")
        return
    print_result(what, check(adapter, loaded, dtype, device, variant), "step")


__all__ = ["SparseGrad", "check", "reference", "replay", "reproduction", "require_refusal", "summary"]

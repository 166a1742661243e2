"""API conformance: the LR-scheduler API around the schedules -- the deprecated ``step(epoch)`` and its
warning, ``get_last_lr()`` after ``load_state_dict``, every invalid argument the reference's tables imply
(torch's exception and message), and composite schedulers nested in each other (SequentialLR in
SequentialLR, ChainedScheduler in SequentialLR and the reverse).

Ids name the optimizer the schedulers drive, then the scheduler: ``[SGD:StepLR]``, ``[SGD:StepLR:gamma=...]``.
Each check runs for the schedulers the candidate has (a nested case: the composites it nests); where it
has none of them, torch's would be checked instead of the candidate's, so the case is not made.

Like the recipes (``test_schedulers.py``), these run on the candidate's optimizer with its schedulers (torch's
where it has none) and on the reference's, and compare lrs, warnings and errors. Part of the API checks
(``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache, partial
from typing import Any

import refimpl.lr_scheduler
import refimpl.optim
from conformance.api import compare
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, scheduled
from conformance.api.context import ApiContext
from conformance.api.setups import SETUPS
from conformance.invalid_inputs import invalid_kwargs, raised, rule_violations
from conformance.test_api.test_schedulers import inverse_epoch
from refimpl.optim._validation import Table

EPOCHS = 8


def decay(epoch: int) -> float:
    """MultiplicativeLR's factor (no closed form: ``step(epoch)`` falls back to the recursive one)."""
    return 0.9


# Valid arguments for each scheduler (its required ones, and small periods so a few epochs show them).
BASE: dict[str, dict[str, Any]] = {
    "LambdaLR": {"lr_lambda": inverse_epoch},
    "MultiplicativeLR": {"lr_lambda": decay},
    "StepLR": {"step_size": 3, "gamma": 0.5},
    "MultiStepLR": {"milestones": [2, 5], "gamma": 0.5},
    "ConstantLR": {"factor": 0.5, "total_iters": 3},
    "LinearLR": {"start_factor": 0.25, "total_iters": 4},
    "ExponentialLR": {"gamma": 0.9},
    "PolynomialLR": {"total_iters": 6, "power": 2.0},
    "CosineAnnealingLR": {"T_max": 6},
    "CosineAnnealingWarmRestarts": {"T_0": 3},
    "CyclicLR": {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2},
    "OneCycleLR": {"max_lr": 0.1, "total_steps": 20},
    "ReduceLROnPlateau": {},
}
# The schedulers whose lr depends on the epoch alone (closed form or recursive), for step(epoch).
EPOCH_JUMPS = [3, 3, 6, 1, 4]


def own(session: Any) -> set[str]:
    """The scheduler classes the candidate itself provides."""
    return set(getattr(session.adapter, "scheduler_classes", dict)())


def classes(api: ApiContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The candidate's scheduler classes (torch's where it has none) and the reference's."""
    return ts.scheduler_classes(api), {
        n: getattr(refimpl.lr_scheduler, n) for n in refimpl.lr_scheduler.MODULES
    }


def optimizers(api: ApiContext) -> tuple[Any, Any]:
    """The candidate's optimizer and the reference's, over the setup's params and groups."""
    hyper = dict(api.setup.hyper)
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    return ts.construct(api, api.setup.groups(tensors), hyper), ts.reference(
        api, api.setup.groups(tensors), hyper
    )


def lrs(optimizer: Any) -> list[float]:
    return [float(g["lr"]) for g in optimizer.param_groups]


def expect_lrs(api: ApiContext, candidate: Any, reference: Any, when: str) -> None:
    if not compare.same_lrs(lrs(candidate), lrs(reference), reference.param_groups):
        api.fail(f"{when} the groups' lrs are {lrs(candidate)}, the reference's {lrs(reference)}")


# -- step(epoch) ---------------------------------------------------------------------------------------------


def epoch_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    skipped = ("CyclicLR", "OneCycleLR", "ReduceLROnPlateau")  # no step(epoch): batch-wise or metric-driven
    return [(s, s) for s in BASE if s not in skipped and s in own(session)]


@check(needs=TORCH_API, applies=scheduled, details=epoch_cases)
def test_scheduler_step_epoch(api: ApiContext, api_case: ApiCase) -> None:
    """The deprecated scheduler.step(epoch), with repeated and backward jumps: torch's deprecation warning
    and the reference's lrs (the closed form where the scheduler has one, else the recursive form)."""
    name, kwargs = api_case.payload, BASE[api_case.payload]
    (candidate_classes, reference_classes), (opt, ref) = classes(api), optimizers(api)
    schedulers = candidate_classes[name](opt, **kwargs), reference_classes[name](ref, **kwargs)
    api.script.add(f"scheduler = {name}(opt, **{kwargs!r})")
    for epoch in EPOCH_JUMPS:
        api.script.add(f"opt.step(); scheduler.step({epoch})")
        ts.step_both(api, opt, ref, 0)
        got = ts.recorded_warnings(partial(schedulers[0].step, epoch))
        want = ts.recorded_warnings(partial(schedulers[1].step, epoch))
        if got != want:
            api.fail(
                f"step({epoch}) warns otherwise than the reference", f"candidate: {got}", f"reference: {want}"
            )
        expect_lrs(api, opt, ref, f"after step({epoch})")
        if not compare.same_lrs(schedulers[0].get_last_lr(), schedulers[1].get_last_lr(), ref.param_groups):
            api.fail(
                f"after step({epoch}) get_last_lr() is {schedulers[0].get_last_lr()}, not the reference's"
            )


# -- get_last_lr() after load_state_dict ---------------------------------------------------------------------


def resumable(name: str, session: Any) -> list[tuple[str, Any]]:
    return [(s, s) for s in BASE if s != "ReduceLROnPlateau" and s in own(session)]


@check(needs=TORCH_API, applies=scheduled, details=resumable)
def test_scheduler_last_lr_after_load(api: ApiContext, api_case: ApiCase) -> None:
    """A fresh scheduler that loads a state dict saved after some epochs reports the saved scheduler's
    get_last_lr() (the reference's), and goes on with its lrs."""
    name, kwargs = api_case.payload, BASE[api_case.payload]
    (candidate_classes, reference_classes), (opt, ref) = classes(api), optimizers(api)
    saved = candidate_classes[name](opt, **kwargs), reference_classes[name](ref, **kwargs)
    api.script.add(f"scheduler = {name}(opt, **{kwargs!r}); (opt.step(); scheduler.step()) x4")
    for t in range(4):
        ts.step_both(api, opt, ref, t)
        for scheduler in saved:
            scheduler.step()
    api.script.add(f"fresh = {name}(<a fresh optimizer>, ...); fresh.load_state_dict(scheduler.state_dict())")
    (fresh_opt, fresh_ref) = optimizers(api)
    fresh = candidate_classes[name](fresh_opt, **kwargs), reference_classes[name](fresh_ref, **kwargs)
    for scheduler, state in zip(fresh, (s.state_dict() for s in saved)):
        scheduler.load_state_dict(state)
    got, want = fresh[0].get_last_lr(), fresh[1].get_last_lr()
    if not compare.same_lrs([float(x) for x in got], want, fresh_ref.param_groups):
        api.fail(f"get_last_lr() after load_state_dict is {got}, the reference's {want}")
    if not compare.same_values(want, saved[1].get_last_lr(), 0.0):  # the spec itself: a suite bug if not
        api.fail("the reference's get_last_lr() after load_state_dict is not the saved one's (a suite bug)")


# -- invalid arguments ---------------------------------------------------------------------------------------


def tables(name: str) -> list[Table]:
    module = importlib.import_module(f"refimpl.lr_scheduler.{refimpl.lr_scheduler.MODULES[name]}")
    return [v for k, v in vars(module).items() if k.endswith("TABLE") and isinstance(v, Table)]


@cache
def invalid_scheduler_calls() -> list[tuple[str, Any]]:
    """Every invalid argument the reference's scheduler tables imply (each bound's value just outside its
    range, each rule broken), with the scheduler's other arguments valid; only those the reference refuses
    (a derived change that the reference accepts is not an invalid input)."""
    setup = SETUPS["SGD"]
    out = []
    for name, base in BASE.items():
        cls = getattr(refimpl.lr_scheduler, name)
        signature = inspect.signature(cls.__init__).parameters
        defaults = {k: p.default for k, p in signature.items() if p.default is not inspect.Parameter.empty}
        defaults = {**defaults, **base}
        calls = [
            kw
            for table in tables(name)
            for kw in (*invalid_kwargs(table, defaults), *rule_violations(table, defaults))
        ]
        for kwargs in calls:
            full = {**base, **kwargs}
            make = partial(cls, refimpl.optim.SGD(setup.groups(setup.initial()), **setup.hyper), **full)
            if raised(make) is not None:
                detail = ",".join(f"{k}={v!r}".replace(" ", "") for k, v in kwargs.items())
                out.append((f"{name}:{detail}", (name, full)))
    return out


def invalid_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    return [(detail, call) for detail, call in invalid_scheduler_calls() if call[0] in own(session)]


@check(needs=TORCH_API, applies=scheduled, details=invalid_cases)
def test_scheduler_invalid_argument(api: ApiContext, api_case: ApiCase) -> None:
    """An invalid scheduler argument raises the reference's exception, type and message (torch's)."""
    name, kwargs = api_case.payload
    (candidate_classes, reference_classes), (opt, ref) = classes(api), optimizers(api)
    api.script.add(f"{name}(opt, **{kwargs!r})")
    api.same_outcome(
        f"{name}(opt, **{kwargs!r})",
        lambda: candidate_classes[name](opt, **kwargs),
        lambda: reference_classes[name](ref, **kwargs),
    )


# -- nested composites ---------------------------------------------------------------------------------------

Spec = tuple[str, Any]  # (class name, kwargs), "schedulers" holding nested specs

SEQUENTIAL = (
    "SequentialLR",
    {
        "schedulers": [("ConstantLR", {"factor": 0.5, "total_iters": 2}), ("ExponentialLR", {"gamma": 0.8})],
        "milestones": [3],
    },
)
CHAINED = (
    "ChainedScheduler",
    {
        "schedulers": [("ConstantLR", {"factor": 0.5, "total_iters": 2}), ("ExponentialLR", {"gamma": 0.9})],
    },
)
NESTED: dict[str, Spec] = {
    "SequentialLR-in-SequentialLR": ("SequentialLR", {"schedulers": [SEQUENTIAL], "milestones": []}),
    "ChainedScheduler-in-SequentialLR": ("SequentialLR", {"schedulers": [CHAINED], "milestones": []}),
    "SequentialLR-in-ChainedScheduler": (
        "ChainedScheduler",
        {"schedulers": [SEQUENTIAL, ("StepLR", {"step_size": 3, "gamma": 0.5})]},
    ),
}


def build(spec: Spec, optimizer: Any, available: dict[str, Any]) -> Any:
    """The scheduler ``spec`` describes, its nested schedulers built first (as a user writes them)."""
    name, kwargs = spec
    kwargs = dict(kwargs)
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [build(s, optimizer, available) for s in kwargs["schedulers"]]
    if name == "ChainedScheduler":
        return available[name](kwargs["schedulers"], optimizer=optimizer)
    return available[name](optimizer, **kwargs)


def describe(spec: Spec) -> str:
    name, kwargs = spec
    args = [
        f"[{', '.join(describe(s) for s in v)}]" if k == "schedulers" else f"{k}={v!r}"
        for k, v in kwargs.items()
    ]
    return f"{name}({', '.join(['opt', *args])})"


def composites(spec: Spec) -> set[str]:
    name, kwargs = spec
    inner = {c for s in kwargs.get("schedulers", ()) for c in composites(s)}
    return inner | ({name} if "schedulers" in kwargs else set())


def nested_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    return [(k, spec) for k, spec in NESTED.items() if composites(spec) <= own(session)]


@check(needs=TORCH_API, applies=scheduled, details=nested_cases)
def test_scheduler_nested(api: ApiContext, api_case: ApiCase) -> None:
    """A composite scheduler nested in another gives the reference's lrs every epoch (a SequentialLR that
    wraps one composite with no milestones is transparent: the spec follows pytorch/pytorch#196243), and
    warns as the reference does."""
    (candidate_classes, reference_classes), (opt, ref) = classes(api), optimizers(api)
    api.script.add(f"scheduler = {describe(api_case.payload)}")
    warned: list[list[str]] = [[], []]
    built: list[Any] = [None, None]
    for i, (optimizer, available) in enumerate(((opt, candidate_classes), (ref, reference_classes))):
        warned[i] = ts.recorded_warnings(
            lambda i=i, o=optimizer, a=available: built.__setitem__(i, build(api_case.payload, o, a))
        )
    if warned[0] != warned[1]:
        api.fail(
            "constructing the nested schedulers warns otherwise than the reference",
            f"candidate: {warned[0]}",
            f"reference: {warned[1]}",
        )
    expect_lrs(api, opt, ref, "after construction")
    api.script.add(f"for epoch in range({EPOCHS}): opt.step(); scheduler.step()")
    for t in range(EPOCHS):
        ts.step_both(api, opt, ref, t)
        for scheduler in built:
            scheduler.step()
        expect_lrs(api, opt, ref, f"after epoch {t + 1}")

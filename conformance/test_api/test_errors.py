"""API conformance: the error catalogue and the closure protocol -- every invalid constructor argument the
reference's validation table implies raises the reference's exception (type and message), torch's own error
inputs (``conformance.api.torch_errors``) raise or warn as torch's tests expect, and LBFGS calls its closure
as the reference does and refuses several param groups.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import refimpl.optim
from conformance.api import compare, derive, torch_errors
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, closure_driven
from conformance.api.context import ApiContext
from conformance.api.twin import Twin


def _construct(api: ApiContext, param: Any, kwargs: dict[str, Any]) -> Any:
    """The candidate's constructor on one param: its own class for a torch-API candidate, else the
    adapter's ``make_optimizer``."""
    if "torch_api" in api.features:
        return api.cls([ts.tensor(api, param, requires_grad=True)], **{**api.required, **kwargs})
    return api.make([{"params": [param.copy()]}], kwargs)


@check(validation=True, details=lambda name, session: derive.invalid_calls(name), uses=lambda kwargs: kwargs)
def test_invalid_argument(api: ApiContext, api_case: ApiCase) -> None:
    """An invalid constructor argument is refused as the reference refuses it: with its exception, type and
    message (torch's), for a torch-API candidate; with any exception for another adapter. A class that
    declares it validates nothing is not supported here, and is judged on valid arguments everywhere else."""
    kwargs, param = api_case.payload, api.setup.initial()[0]
    api.script.add(f"{api.name}([p], **{kwargs!r})")
    raised_both = api.same_outcome(
        f"{api.name}(params, **{kwargs!r})",
        lambda: _construct(api, param, kwargs),
        lambda: getattr(refimpl.optim, api.name)([param.copy()], **kwargs),
    )
    if not raised_both:
        api.fail(f"the reference accepts {kwargs!r}: the derived invalid input is not invalid (a suite bug)")


@check(applies=closure_driven)
def test_lbfgs_rejects_groups(api: ApiContext) -> None:
    """A closure-driven optimizer (LBFGS) takes one param group: two are refused with the reference's
    error."""
    params, hyper = api.setup.initial(), dict(api.setup.hyper)
    groups = [{"params": params[:1]}, {"params": params[1:]}]
    api.script.add(f"{api.name}([{{'params': [p0]}}, {{'params': [p1, p2]}}])")
    if not api.same_outcome(
        "the constructor with two param groups",
        lambda: api.make(groups, hyper),
        lambda: api.make_reference(groups, hyper),
    ):
        api.fail("the reference accepts two param groups: this check no longer applies (a suite bug)")


LINE_SEARCHES = [("no_line_search", None), ("strong_wolfe", "strong_wolfe")]


@check(applies=closure_driven, details=lambda name, session: LINE_SEARCHES)
def test_lbfgs_closure_calls(api: ApiContext, api_case: ApiCase) -> None:
    """LBFGS evaluates the closure as many times per step as the reference (with and without line search),
    returns the closure's first loss, and lands on the reference's params."""
    hyper = {**api.setup.hyper, "line_search_fn": api_case.payload}
    twin = Twin(api, api.setup.groups(api.setup.initial()), hyper)
    for _ in range(3):
        twin.step(check="the params after an LBFGS step are not the reference's")
        if twin.stopped:
            return
        got, want = len(twin.calls[0]), len(twin.calls[1])
        if got != want:
            api.fail(f"step {twin.t} evaluated the closure {got} times, the reference {want} times")
        loss, ref_loss = float(twin.returned["candidate"]), float(twin.returned["reference"])
        if not compare.same_values(loss, ref_loss, api.rtol):
            api.fail(f"step {twin.t} returned loss {loss!r}, the reference {ref_loss!r}")


def error_params(kind: str, make: Callable[[tuple[int, ...], bool], Any]) -> Any:
    """The params of a torch error input (``conformance.api.torch_errors``), from ``make(shape, complex)``;
    ``None`` where ``make`` cannot build them (a sparse-layout param for the reference)."""
    if kind in ("sparse", "sparse_in_group"):
        sparse = make((-3,), False)  # a negative shape: the sparse-layout param of torch's input
        if sparse is None:
            return None
        return [sparse] if kind == "sparse" else [{"params": [sparse]}]
    p, p2 = make((1, 1), False), make((1, 1), False)
    return {
        "default": [p],
        "bare": p,
        "duplicate": [p, p],
        "duplicate_across_groups": [{"params": p}, {"params": p}],
        "named_and_unnamed": [("weight", p), p2],
        "named_and_unnamed_groups": [{"params": [p], "lr": 1e-2}, {"params": [("weight", p2)]}],
        "complex": [make((2, 3), True)],
        "non_2d": [make((2, 3, 4), False)],
    }[kind]


def outcome(action: Callable[[], Any]) -> list[tuple[str, str]]:
    """What ``action`` raised, and the warnings it gave, as (type name, message) pairs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            action()
        except Exception as e:  # the error is what is compared
            return [(type(e).__name__, str(e))]
    return [(w.category.__name__, str(w.message)) for w in caught]


def torch_error_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    return [(entry.id, entry) for entry in torch_errors.error_inputs(name)]


@check(needs=TORCH_API, details=torch_error_cases)
def test_torch_error_input(api: ApiContext, api_case: ApiCase) -> None:
    """torch's own error inputs for the class (its test suite's common_optimizers.py, listed as data): the
    constructor (or the first step) raises, or warns, with torch's exception type and a message matching
    torch's pattern, as the reference does."""
    entry: torch_errors.ErrorInput = api_case.payload
    torch_ = ts.torch
    dtype = getattr(torch_, api.dtype)

    def tensor(shape: tuple[int, ...], complex_: bool) -> Any:
        if shape[0] < 0:
            return torch_.zeros(-shape[0], layout=torch_.sparse_coo, dtype=dtype)
        kind = torch_.complex64 if complex_ else dtype
        return torch_.rand(shape, dtype=kind).requires_grad_(not complex_)

    def array(shape: tuple[int, ...], complex_: bool) -> Any:
        if shape[0] < 0:
            return None
        rng = np.random.default_rng(0)
        return rng.random(shape).astype(np.complex64 if complex_ else np.float64)

    def kwargs(convert: Callable[[Any], Any]) -> dict[str, Any]:
        def value(v: Any) -> Any:
            if isinstance(v, torch_errors.Tensor):
                return convert(v.value)
            return tuple(value(x) for x in v) if isinstance(v, tuple) else v

        return {k: value(v) for k, v in entry.kwargs.items()}

    def candidate() -> None:
        opt = api.cls(error_params(entry.params, tensor), **{**api.required, **kwargs(torch_.tensor)})
        if entry.on_step:
            for p in (p for g in opt.param_groups for p in g["params"]):
                p.grad = torch_.rand_like(p)
            opt.step()

    def reference() -> None:
        params = error_params(entry.params, array)
        opt = getattr(refimpl.optim, api.name)(params, **kwargs(np.asarray))
        if entry.on_step:
            opt.step([np.ones_like(p) for g in opt.param_groups for p in g["params"]])

    step = "; opt.step()" if entry.on_step else ""
    api.script.add(f"{api.name}(<params: {entry.params}>, **{entry.kwargs!r}){step}")
    pattern = re.compile(entry.regex)

    def matches(events: list[tuple[str, str]]) -> bool:
        return any(kind == entry.error and pattern.search(message) for kind, message in events)

    got = outcome(candidate)
    if not matches(got):
        api.fail(
            f"torch's error input {entry.desc!r} does not give torch's {entry.error}",
            f"expected: {entry.error} matching {entry.regex!r} (torch's test suite, {torch_errors.SOURCE})",
            f"candidate: {got[:3]!r:.300}" if got else "candidate: no error and no warning",
        )
    if error_params(entry.params, array) is not None and not matches(want := outcome(reference)):
        headline = f"the reference does not give torch's {entry.error} for {entry.desc!r} (a suite bug)"
        api.fail(headline, repr(want))

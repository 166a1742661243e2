"""API conformance: the error catalogue and the closure protocol -- every invalid constructor argument the
reference's validation table implies raises the reference's exception (type and message), and LBFGS calls
its closure as the reference does and refuses several param groups.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

import refimpl.optim
from conformance.api import compare, derive
from conformance.api import torch_side as ts
from conformance.api.cases import ApiCase, check, closure_driven
from conformance.api.context import ApiContext
from conformance.api.twin import Twin


def _construct(api: ApiContext, param: Any, kwargs: dict[str, Any]) -> Any:
    """The candidate's constructor on one param: its own class for a torch-API candidate, else the
    adapter's ``make_optimizer``."""
    if "torch_api" in api.features:
        return api.cls([ts.tensor(api, param, requires_grad=True)], **kwargs)
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

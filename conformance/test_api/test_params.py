"""API conformance: what params and gradients may be -- a one-element tensor lr, complex params (and their
``view_as_real`` twins), sparse gradients, 0-d and empty params, non-contiguous params and gradients.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.api import compare, derive
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, steps_on_gradients, variants_of
from conformance.api.context import ApiContext
from conformance.api.setups import SETUPS, gradient
from conformance.api.twin import Twin
from refimpl.optim import real_view


@check(needs=TORCH_API)
def test_tensor_lr(api: ApiContext) -> None:
    """A one-element tensor lr gives the float lr's trajectory (the reference's, with the float); run on the
    for-loop, which torch documents as taking a tensor lr without capturable or fused."""
    hyper, lr = dict(api.setup.hyper), derive.group_value(api.name, "lr")
    variant = "forloop" if "forloop" in variants_of(api.session, api.name) else ""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt = ts.construct(
        api, api.setup.groups(tensors), {**hyper, "lr": ts.tensor(api, np.float64(lr))}, variant
    )
    ref = ts.reference(api, api.setup.groups(tensors), hyper)
    api.script.add(f"opt = {api.name}(..., lr=torch.tensor({lr!r}, dtype=torch.{api.dtype}), **{hyper!r})")
    for t in range(3):
        api.script.add("opt.step()")
        ts.expect_step(api, opt, ref, None, "a tensor lr does not act as the float lr", t)


@check(per_variant=True, needs=("complex",), limits={"dtype": "complex128"})
def test_complex(api: ApiContext) -> None:
    """Complex params step as the reference's (as (real, imag) pairs) -- or are refused with its error --
    and, where the reference's complex run equals its run on the view_as_real twins, so does the
    candidate's."""
    setup = api.setup
    initial = setup.initial(complex_=True)
    twin = Twin(api, setup.groups(initial))
    twin.steps(3, check="complex params do not step as the reference's")
    if twin.stopped:
        return
    pairs = [np.ascontiguousarray(real_view(p)) for p in initial]
    candidate = api.make(setup.groups(pairs), dict(setup.hyper))
    reference = api.make_reference(setup.groups(pairs), dict(setup.hyper))
    for t in range(3):
        grads = (
            None
            if setup.closure
            else [np.ascontiguousarray(real_view(g)) for g in setup.gradients(t, initial)]
        )
        twin.drive(candidate, grads)
        twin.drive(reference, grads)
    if compare.params([real_view(p) for p in twin.reference.params()], reference.params(), api.rtol):
        return  # the reference's twins part from its complex run: nothing to demand of the candidate's
    api.script.add("twin = <the same on view_as_real of each param, with view_as_real gradients>")
    got = [real_view(p) for p in twin.candidate.params()]
    headline = "complex params do not step as their view_as_real twins"
    api.expect_params(got, candidate.params(), headline, "after step 3", run="view_as_real")


@check(
    per_variant=True,
    needs=("sparse",),
    applies=steps_on_gradients,
    limits={"gradients": {"pattern": "sparse"}},
)
def test_sparse_gradients(api: ApiContext) -> None:
    """Row-sparse gradients (repeated rows summed): the reference's update where it takes them, its error
    where it does not (and dense gradients for an optimizer that takes only sparse ones). Without weight
    decay, which torch's sparse paths refuse."""
    setup = api.setup
    initial = setup.initial(shapes=((6, 3), (4,)))
    hyper = {k: 0.0 if k == "weight_decay" else v for k, v in setup.hyper.items()}
    twin = Twin(api, setup.groups(initial), hyper)
    for t in range(3):
        grads = [gradient(t, i, p.shape, sparse=not setup.sparse) for i, p in enumerate(initial)]
        twin.step(grads, check="a step on sparse gradients is not the reference's")


SHAPES = {"0d": ((), ()), "empty": ((0,), (3, 0))}


def shape_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    """0-d and empty params (no 0-d for sparse gradients, which need rows)."""
    return [(k, v) for k, v in SHAPES.items() if not (SETUPS[name].sparse and k == "0d")]


@check(per_variant=True, details=shape_cases, applies=steps_on_gradients)
def test_param_shapes(api: ApiContext, api_case: ApiCase) -> None:
    """0-d and empty params step as the reference's, or are refused with its error."""
    twin = Twin(api, api.setup.groups(api.setup.initial(shapes=api_case.payload)))
    twin.steps(3, check=f"{api_case.detail} params do not step as the reference's")


@check(per_variant=True, needs=TORCH_API)
def test_non_contiguous(api: ApiContext) -> None:
    """Non-contiguous params and gradients (transposed and every-other-element views) step as the
    reference's."""
    hyper, initial = dict(api.setup.hyper), api.setup.initial()
    tensors = [ts.strided(api, p, requires_grad=True) for p in initial]
    opt = ts.construct(api, api.setup.groups(tensors), hyper, api.case.variant)
    ref = ts.reference(api, api.setup.groups(tensors), hyper)
    api.script.add(f"opt = {api.name}(<transposed / every-other-element views of the params>, **{hyper!r})")
    for t in range(3):
        api.script.add("opt.step()  # gradients: transposed / every-other-element views too")
        grads = None if api.setup.closure else api.setup.gradients(t, initial)
        for p, g in zip(tensors, grads or []):
            p.grad = ts.grad_tensor(api, g, p) if api.setup.sparse else ts.strided(api, g)
        ts.expect_step(api, opt, ref, grads, "non-contiguous params do not step as the reference's", t)

"""API conformance: what an optimizer is made of -- named params (``named_parameters()``: ``param_names`` in
the groups and the state dict), params of mixed dtypes in one optimizer, ``copy.deepcopy``, ``repr``, and the
dtype of scalar state under ``torch.set_default_dtype(torch.float64)``.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np

import refimpl.optim
import refimpl.optim.optimizer as reference_optimizer
from conformance.api import compare
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, check, steps_on_gradients
from conformance.api.context import ApiContext
from conformance.api.twin import Twin
from conformance.tolerances import trajectory_rtol

STEPS = 3


def both(api: ApiContext, groups: list[dict[str, Any]], variant: str = "") -> tuple[Any, Any]:
    """The candidate's optimizer over ``groups`` (tensors) and the reference's over copies."""
    hyper = dict(api.setup.hyper)
    return ts.construct(api, groups, hyper, variant), ts.reference(api, groups, hyper)


def named_groups(api: ApiContext, tensors: list[Any]) -> list[dict[str, Any]]:
    """The setup's groups with each param as a ``(name, param)`` pair, as ``named_parameters()`` has them."""
    return [
        {**g, "params": [(f"layer{i}.weight{j}", p) for j, p in enumerate(g["params"])]}
        for i, g in enumerate(api.setup.groups(tensors))
    ]


def unnamed(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**g, "params": [p for _, p in g["params"]]} for g in groups]


@check(needs=TORCH_API)
def test_named_params(api: ApiContext) -> None:
    """Params given as (name, param) pairs: each group keeps their names as 'param_names', the state dict
    carries them, a fresh named optimizer loads it, and the steps are the reference's."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    groups = named_groups(api, tensors)
    # Built before the candidate's: torch's constructor unpacks the pairs in the dicts it is given.
    ref = getattr(refimpl.optim, api.name)(
        [{**g, "params": [(n, ts.to_numpy(p).astype(np.float64)) for n, p in g["params"]]} for g in groups],
        **api.setup.hyper,
    )
    opt = ts.construct(api, groups, dict(api.setup.hyper))
    api.script.add(f"opt = {api.name}(<groups of (name, param) pairs, as named_parameters() gives>)")
    api.observe("opt", ts.params_of(ref))
    for t in range(STEPS):
        ts.expect_step(api, opt, ref, None, "named params do not step as the reference's", t)
    names = [g.get("param_names") for g in opt.param_groups]
    want = [g.get("param_names") for g in ref.param_groups]
    if names != want:
        api.fail(f"the groups' param_names are {names}, the reference's {want}")
    saved = opt.state_dict()
    got = [g.get("param_names") for g in saved["param_groups"]]
    if got != want:
        api.fail(f"state_dict()'s param_groups hold param_names {got}, the reference's {want}")
    api.script.add("fresh = <the same, named>; fresh.load_state_dict(opt.state_dict())")
    fresh = ts.construct(api, named_groups(api, [t.detach().clone() for t in tensors]), dict(api.setup.hyper))
    fresh.load_state_dict(saved)
    loaded = [g.get("param_names") for g in fresh.param_groups]
    if loaded != want:
        api.fail(f"after load_state_dict the groups' param_names are {loaded}, the reference's {want}")


@check(needs=TORCH_API)
def test_repr(api: ApiContext) -> None:
    """repr(optimizer) is torch's: the class name, then each group's hyperparameters, sorted."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt, ref = both(api, api.setup.groups(tensors))
    api.script.add(f"repr({api.name}(<the setup's groups>, **{dict(api.setup.hyper)!r}))")
    # The first word is the class's own name (a drop-in class may be named otherwise, e.g. FusedAdam).
    want = repr(ref).replace(type(ref).__name__, type(opt).__name__, 1)
    if repr(opt) != want:
        api.fail(
            "repr() is not the reference's",
            f"candidate: {repr(opt)!r:.400}",
            f"reference: {repr(ref)!r:.400}",
        )


def public(obj: Any) -> set[str]:
    return {k for k in vars(obj) if not k.startswith("_")}


@check(needs=TORCH_API, applies=steps_on_gradients)
def test_deepcopy(api: ApiContext) -> None:
    """copy.deepcopy of a stepped optimizer has every public attribute of the original, its own copy of the
    state, and steps as the original (with the reference's params) without moving the original."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt, ref = both(api, api.setup.groups(tensors))
    for t in range(2):
        ts.step_both(api, opt, ref, t)
    api.script.add(f"opt = {api.name}(...); opt.step() x2; twin = copy.deepcopy(opt); twin.step()")
    twin = copy.deepcopy(opt)
    if public(twin) != public(opt):
        api.fail(
            f"the copy's public attributes are {sorted(public(twin))}, the original's {sorted(public(opt))}"
        )
    differences = compare.state_dicts(ts.to_numpy(twin.state_dict()), ts.to_numpy(opt.state_dict()), 0.0)
    api.expect(differences, "the copy's state dict is not the original's")
    before = ts.params_of(opt)
    ts.step_torch(api, twin, 2)
    ref.step(api.setup.gradients(2, before))
    api.expect(
        compare.params(ts.params_of(opt), before, 0.0, "of the original"),
        "stepping the copy moved the original",
    )
    api.expect_params(
        ts.params_of(twin), ts.params_of(ref), "the copy does not step as the reference", "after step 3"
    )


@check(needs=TORCH_API, applies=steps_on_gradients)
def test_mixed_dtypes(api: ApiContext) -> None:
    """float64 and float32 params in one optimizer: each steps as the reference's param of its dtype, each
    within its dtype's tolerance."""
    initial = api.setup.initial()
    dtypes = ["float64" if i % 2 == 0 else "float32" for i in range(len(initial))]
    tensors = [
        ts.torch.tensor(p, dtype=getattr(ts.torch, d), device=api.device, requires_grad=True)
        for p, d in zip(initial, dtypes)
    ]
    groups = api.setup.groups(tensors)
    opt = ts.construct(api, groups, dict(api.setup.hyper))
    ref_groups = [{**g, "params": [ts.to_numpy(p) for p in g["params"]]} for g in groups]
    ref = getattr(refimpl.optim, api.name)(ref_groups, **api.setup.hyper)
    api.script.add(f"opt = {api.name}(<params in {dtypes}>, **{dict(api.setup.hyper)!r})")
    api.observe("opt", ts.params_of(ref))
    for t in range(STEPS):
        ts.step_both(api, opt, ref, t)
        # The check's tolerance per param (with the setup's update rounding), float32's where it is one.
        base = api.tolerances("opt", ts.params_of(ref))
        rtols = [b + (trajectory_rtol(d, t + 1)[-1] if d == "float32" else 0.0) for b, d in zip(base, dtypes)]
        problems = compare.params(ts.params_of(opt), ts.params_of(ref), rtols, f"after step {t + 1}")
        api.expect(problems, "params of mixed dtypes do not step as the reference's")


@contextlib.contextmanager
def default_dtype_float64() -> Iterator[None]:
    """torch's and the reference's default dtype float64 for the block."""
    torch_default = ts.torch.get_default_dtype()
    reference_default = reference_optimizer.get_default_dtype()
    ts.torch.set_default_dtype(ts.torch.float64)
    reference_optimizer.set_default_dtype(np.float64)
    try:
        yield
    finally:
        ts.torch.set_default_dtype(torch_default)
        reference_optimizer.set_default_dtype(reference_default)


@check(per_variant=True, needs=TORCH_API)
def test_default_dtype_float64(api: ApiContext) -> None:
    """Under torch.set_default_dtype(torch.float64) the scalar state torch keeps as tensors of the default
    dtype (step; ASGD's eta and mu; NAdam's mu_product: the reference's ``scalar_state``) is float64 (not
    asked of fused kernels: torch's keep step in float32, ``_get_scalar_dtype(is_fused=True)``), and
    the run is the reference's run under a float64 default (ASGD's eta, NAdam's mu_product unrounded)."""
    api.script.add("torch.set_default_dtype(torch.float64)")
    with default_dtype_float64():
        twin = Twin(api, api.setup.groups(api.setup.initial()))
        twin.steps(STEPS, check="under a float64 default dtype the run is not the reference's")
        if twin.stopped:
            return
        optimizer = getattr(twin.candidate, "optimizer", None)
        if optimizer is None:
            return
        if api.variant == "fused":  # torch's fused kernels keep step in float32; the docs say nothing
            return
        want = "float64"
        keys = getattr(refimpl.optim, api.name).scalar_state
        found = [
            f"state[{i}][{key!r}] is {ts.to_numpy(value).dtype}, torch keeps it in {want}"
            for i, state in enumerate(optimizer.state.values())
            for key, value in state.items()
            if key in keys and ts.torch.is_tensor(value) and str(value.dtype) != f"torch.{want}"
        ]
        api.expect(found, "the scalar state is not in the default dtype")

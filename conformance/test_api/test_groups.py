"""API conformance: param groups -- their keys and defaults, per-group hyperparameters, ``add_param_group``,
groups built per layer, and hyperparameters changed between steps (the dynamic-lr recipe).

Part of the API checks; see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import refimpl.documented
import refimpl.optim
from conformance import spec_notes
from conformance.api import compare, derive
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, steps_on_gradients, trains_a_model
from conformance.api.context import ApiContext
from conformance.api.setups import SETUPS
from conformance.api.twin import Twin


def group_items(group: dict) -> dict:
    """A param group's hyperparameters (tensors as NumPy), without its params."""
    return {k: ts.to_numpy(v) for k, v in group.items() if k != "params"}


@check(needs=TORCH_API)
def test_param_group_keys(api: ApiContext) -> None:
    """param_groups[0] of a default-constructed optimizer has the reference's (torch 2.13's) keys and
    values, and holds the param given."""
    param = api.setup.initial()[0]
    required = api.required  # what the class cannot be built without (optimi's lr), at torch's default
    api.script.add(f"opt = {api.name}([p], **{required!r})  # p: shape {param.shape}")
    opt = api.cls([ts.tensor(api, param, requires_grad=True)], **required)
    ref = getattr(refimpl.optim, api.name)([param.copy()], **required)
    got, want = group_items(opt.param_groups[0]), group_items(ref.param_groups[0])
    lacks = api.declared.lacks
    api.expect(
        compare.mapping("param_groups[0]", got, want, lacks=lacks), "param_groups[0] is not the reference's"
    )
    if len(opt.param_groups[0]["params"]) != 1:
        api.fail("param_groups[0]['params'] does not hold the one param given")


@check(needs=TORCH_API)
def test_defaults(api: ApiContext) -> None:
    """optimizer.defaults holds the reference's defaults: built with nothing but what the class requires
    (every default compared: the other checks pass torch's defaults where a class has others, so this check
    alone names such a difference), and with the constructor's arguments in place. A class whose defaults
    are those torch's documentation gives instead of its code is told so (``conformance/spec_notes.toml``)."""
    param = api.setup.initial()[0]
    problems: list[str] = []
    for hyper in ({**api.required}, {**api.required, **SETUPS[api.name].without(api.declared.lacks).hyper}):
        api.script.add(f"opt = {api.name}([p], **{hyper!r}); opt.defaults")
        opt = api.cls([ts.tensor(api, param, requires_grad=True)], **hyper)
        defaults = ts.to_numpy(opt.defaults)
        ref = getattr(refimpl.optim, api.name)([param.copy()], **hyper)
        found = compare.mapping("defaults", defaults, ref.defaults, lacks=api.declared.lacks)
        problems += [p for p in found if p not in problems]
        for note in _documented_defaults(api, defaults, param, hyper) if found else ():
            api.record["spec_note"] = note.id
            problems.append(note.message())
    api.expect(problems, "defaults differ")


def _documented_defaults(
    api: ApiContext, defaults: dict[str, Any], param: np.ndarray, hyper: dict[str, Any]
) -> list[spec_notes.SpecNote]:
    """The spec notes of this class whose documented variant has exactly the candidate's defaults."""
    out = []
    for note in spec_notes.load():
        if note.subject != api.name or note.variant is None:
            continue
        documented = getattr(refimpl.documented, note.variant)([param.copy()], **hyper)
        if not compare.mapping("defaults", defaults, documented.defaults, lacks=api.declared.lacks):
            out.append(note)
    return out


@check(per_variant=True, applies=steps_on_gradients)
def test_group_overrides(api: ApiContext) -> None:
    """Hyperparameters given for one param group (every one, derived from the reference's table) override
    the defaults in that group and nowhere else."""
    overrides = api.overrides()
    twin = Twin(api, api.setup.groups(api.setup.initial(), **overrides))
    twin.steps(3, check="a param group's own hyperparameters do not act as in the reference")
    if "state_dict" in api.features:
        twin.check_state("the param groups or state do not match the reference's")


@check(needs=TORCH_API, applies=steps_on_gradients)
def test_add_param_group(api: ApiContext) -> None:
    """add_param_group mid-run: the new group takes the defaults it does not set and its own lr, and steps as
    the reference's; a param already optimized is refused with the reference's error."""
    hyper, lr = dict(api.setup.hyper), derive.overrides(api.name)["lr"]
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt = ts.construct(api, [{"params": tensors[:1]}], hyper)
    ref = ts.reference(api, [{"params": tensors[:1]}], hyper)
    api.script.add(f"opt = {api.name}([p0], **{hyper!r}); opt.step(); opt.step()")
    for t in range(2):
        ts.step_both(api, opt, ref, t)
    api.script.add(f"opt.add_param_group({{'params': [p1, p2], 'lr': {lr!r}}}); opt.step()  # x3")
    opt.add_param_group({"params": tensors[1:], "lr": lr})
    ref.add_param_group({"params": [ts.to_numpy(p).astype(np.float64) for p in tensors[1:]], "lr": lr})
    api.observe("opt", ts.params_of(ref))
    got, want = group_items(opt.param_groups[1]), group_items(ref.param_groups[1])
    problems = compare.mapping("param_groups[1]", got, want, lacks=api.declared.lacks)
    api.expect(problems, "the added group is not the reference's")
    for t in range(2, 5):
        ts.expect_step(api, opt, ref, None, "the added group does not step as the reference's", t)
    api.script.add("opt.add_param_group({'params': [p0]})  # p0 is already in group 0")
    api.same_outcome(
        "add_param_group with a param already optimized",
        lambda: opt.add_param_group({"params": tensors[:1]}),
        lambda: ref.add_param_group({"params": [ref.param_groups[0]["params"][0]]}),
    )


@check(needs=TORCH_API, applies=trains_a_model)
def test_layer_groups(api: ApiContext) -> None:
    """The per-layer recipe: groups built from an nn.Sequential's layer objects (the chosen layer's params by
    id, the rest as the base group) with a 10x lr for the chosen layer; zero_grad/backward/step as the
    reference steps with the same gradients."""
    net = ts.model(api)
    special = {id(p) for p in net[2].parameters()}
    base = [p for p in net.parameters() if id(p) not in special]
    lr, hyper = 10 * derive.group_value(api.name, "lr"), dict(api.setup.hyper)
    groups = [{"params": base}, {"params": list(net[2].parameters()), "lr": lr}]
    opt, ref = ts.construct(api, groups, hyper), ts.reference(api, groups, hyper)
    api.script.add(f"net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))  # seeded, {api.dtype}")
    api.script.add("special = {id(p) for p in net[2].parameters()}")
    api.script.add(
        f"opt = {api.name}([{{'params': <the others>}}, {{'params': net[2].parameters(), 'lr': {lr!r}}}])"
    )
    for t in range(3):
        ts.train_step(api, opt, ref, net, t, "per-layer param groups do not step as the reference's")


@check(
    per_variant=True,
    details=lambda name, session: [(c.id, c) for c in derive.changes(name)],
    uses=lambda change: {change.key},
)
def test_hyperparameter_change(api: ApiContext, api_case: ApiCase) -> None:
    """A hyperparameter changed in param_groups between steps (the dynamic-lr recipe, for every key of the
    reference's group) takes effect on the next step, in that group only -- on the params and on the
    state (some act on the state alone, as ASGD's t0 on its average)."""
    change = api_case.payload
    twin = Twin(api, api.setup.groups(api.setup.initial()))
    twin.steps(2, check="the params differ from the reference's before any change")
    twin.set(0, change.key, change.value)
    headline = f"param_groups[0][{change.key!r}] changed between steps does not act as in the reference"
    twin.steps(3, check=headline)
    if "state_dict" in api.features:
        twin.check_state(headline)

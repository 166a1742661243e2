"""API conformance: gradients -- ``None`` gradients, all-zero gradients with and without weight decay,
``zero_grad()`` (``set_to_none=True`` by default, and the ``False`` path, which zeroes each ``.grad`` in
place), ``step()`` leaving every ``.grad`` as it was (the same tensor, the same values; for a closure, those
it set last), and a layer frozen mid-run.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.api import compare, derive
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, steps_on_gradients, trains_a_model
from conformance.api.context import ApiContext
from conformance.api.twin import Twin


@check(per_variant=True, applies=steps_on_gradients)
def test_none_grad(api: ApiContext) -> None:
    """A param whose gradient is None is neither moved nor given state; one that skips a step goes on."""
    initial = api.setup.initial()
    twin = Twin(api, api.setup.groups(initial))
    if twin.stopped:
        return
    never = len(initial) - 1
    before = twin.candidate.params()[never]
    for t in range(3):
        grads = api.setup.gradients(t, initial)
        grads[never] = None
        if t == 1:
            grads[0] = None
        twin.step(grads, check="a step with some gradients None does not act as in the reference")
    after = twin.candidate.params()[never]
    if not np.array_equal(after, before):
        api.fail(f"param {never}, which never had a gradient, moved", *compare.params([after], [before], 0.0))
    if "state_dict" in api.features:  # no state for it, unless the reference makes some (Adagrad's at init)
        twin.check_state("the state after steps with None gradients is not the reference's")


def weight_decays(name: str, session: Any) -> list[tuple[str, Any]]:
    """Without weight decay, and (where the optimizer has it) with."""
    if "weight_decay" not in dict(derive.reference_group(name)):
        return [("no_wd", None)]
    return [("no_wd", 0.0), ("wd", derive.overrides(name)["weight_decay"])]


@check(
    per_variant=True,
    details=weight_decays,
    applies=steps_on_gradients,
    uses=lambda decay: {"weight_decay"} if decay else (),
)
def test_zero_gradients(api: ApiContext, api_case: ApiCase) -> None:
    """All-zero gradients, before and after a real step, with and without weight decay: the reference's
    update (without weight decay most optimizers do not move; with it, the decay alone moves the params)."""
    hyper = dict(api.setup.hyper)
    if api_case.payload is not None:
        hyper["weight_decay"] = api_case.payload
    twin = Twin(api, api.setup.groups(api.setup.initial()), hyper)
    headline = "a step on all-zero gradients does not act as in the reference"
    twin.steps(2, zero=True, check=headline)
    twin.step(check="a step on normal gradients after zero ones does not act as in the reference")
    twin.steps(2, zero=True, check=headline)


@check(needs=TORCH_API)
def test_zero_grad(api: ApiContext) -> None:
    """zero_grad() sets every .grad to None: set_to_none=True is the default."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt = ts.construct(api, api.setup.groups(tensors), dict(api.setup.hyper))
    ts.step_torch(api, opt, 0)
    api.script.add(f"opt = {api.name}(...); opt.step(); opt.zero_grad()")
    opt.zero_grad()
    left = [i for i, p in enumerate(tensors) if p.grad is not None]
    if left:
        api.fail(f"zero_grad() left .grad set on params {left} (torch's default is set_to_none=True)")


@check(needs=TORCH_API, applies=steps_on_gradients)
def test_zero_grad_keeps_zeros(api: ApiContext) -> None:
    """zero_grad(set_to_none=False) leaves zero tensors of the params' shapes, and a step on them is the
    reference's step on zero gradients."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    hyper = dict(api.setup.hyper)
    opt = ts.construct(api, api.setup.groups(tensors), hyper)
    ref = ts.reference(api, api.setup.groups(tensors), hyper)
    api.script.add(f"opt = {api.name}(...); opt.step(); opt.zero_grad(set_to_none=False); opt.step()")
    ts.step_both(api, opt, ref, 0)
    before = [p.grad for p in tensors]
    opt.zero_grad(set_to_none=False)
    for i, p in enumerate(tensors):
        if p.grad is None or p.grad.shape != p.shape or bool((p.grad.to_dense() != 0).any()):
            api.fail(f"zero_grad(set_to_none=False) did not leave zeros in param {i}'s .grad: {p.grad!r:.60}")
    replaced = [i for i, (p, g) in enumerate(zip(tensors, before)) if p.grad is not g]
    if replaced:  # torch zeroes in place: a .grad someone holds (a hook, a gradient buffer) sees the zeros
        api.fail(f"zero_grad(set_to_none=False) replaced the .grad of params {replaced}, not zeroing it")
    headline = "a step after zero_grad(set_to_none=False) is not the reference's"
    ts.expect_step(api, opt, ref, ts.grads_of(opt), headline, 1)


@check(needs=TORCH_API, applies=trains_a_model)
def test_frozen_mid_run(api: ApiContext) -> None:
    """A layer frozen mid-run (requires_grad_(False), then zero_grad/backward/step as usual) keeps its
    values, and the others step as the reference's."""
    net, hyper = ts.model(api), dict(api.setup.hyper)
    groups = [{"params": list(net.parameters())}]
    opt, ref = ts.construct(api, groups, hyper), ts.reference(api, groups, hyper)
    api.script.add("net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))  # seeded")
    api.script.add(f"opt = {api.name}(net.parameters(), **{hyper!r})")
    frozen: list[Any] = []
    for t in range(5):
        if t == 2:
            api.script.add("net[0].requires_grad_(False)")
            net[0].requires_grad_(False)
            frozen = [ts.to_numpy(p) for p in net[0].parameters()]
        ts.train_step(api, opt, ref, net, t, "training with a frozen layer is not the reference's")
    now = [ts.to_numpy(p) for p in net[0].parameters()]
    api.expect(compare.params(now, frozen, 0.0, "of the frozen layer"), "a frozen layer moved")


def grad_snapshot(tensors: list[Any]) -> list[tuple[Any, Any]]:
    """Each param's ``.grad`` (the object) and a copy of its values."""
    return [(p.grad, None if p.grad is None else p.grad.detach().clone()) for p in tensors]


def changed_grads(tensors: list[Any], snapshot: list[tuple[Any, Any]]) -> list[str]:
    """How each param's ``.grad`` differs from the snapshot: another tensor, or other values."""
    out = []
    for i, (p, (grad, values)) in enumerate(zip(tensors, snapshot)):
        if p.grad is not grad:
            out.append(f"param {i}'s .grad is another tensor than the one it had before step()")
        elif grad is not None and not torch_equal(grad, values):
            out.append(f"param {i}'s .grad was changed in place by step()")
    return out


def torch_equal(a: Any, b: Any) -> bool:
    return bool(ts.torch.equal(a.to_dense(), b.to_dense()))


@check(per_variant=True, needs=TORCH_API)
def test_grads_untouched(api: ApiContext) -> None:
    """step() leaves every .grad as it found it: the same tensor with the same values (a closure's: those
    it set last), so gradient clipping, logging or accumulation after step() sees the gradients."""
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt = ts.construct(api, api.setup.groups(tensors), dict(api.setup.hyper), api.case.variant)
    api.script.add(f"opt = {api.name}(...); grads = [p.grad.clone() for p in params]; opt.step()")
    api.script.add("assert all(p.grad is g0 and torch.equal(p.grad, g) ...)  # g0: the .grad before step")
    last: list[tuple[Any, Any]] = []  # what the closure set, as it last set it
    objective = api.setup.closure_for()

    def closure() -> Any:
        loss, grads = objective([ts.to_numpy(p) for p in tensors])
        ts.set_grads(api, opt, grads)
        last[:] = grad_snapshot(tensors)
        return ts.torch.tensor(loss, dtype=ts.torch.float64)

    for t in range(3):
        if api.setup.closure:
            opt.step(closure)
            snapshot = last
        else:
            ts.set_grads(api, opt, api.setup.gradients(t, [ts.to_numpy(p) for p in tensors]))
            snapshot = grad_snapshot(tensors)
            opt.step()
        api.expect(changed_grads(tensors, snapshot), f"step {t + 1} did not leave the gradients untouched")

"""API conformance: hooks -- ``register_step_pre_hook``/``register_step_post_hook``, the global
``register_optimizer_step_pre_hook``/``post_hook``, ``register_state_dict_pre_hook``/``post_hook`` and
``register_load_state_dict_pre_hook``/``post_hook``: when each runs, in which order, with which arguments,
what a returned value replaces, and that a removed hook no longer runs.

Each recipe registers recording hooks on the candidate and on the reference (``refimpl.optim`` has torch's
hook API) and compares the two event logs and the params. A hook records only what both sides can show:
its name, whether it got the optimizer itself, whether the params had moved yet, the lr it saw. Part of the
API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import refimpl.optim.optimizer as reference_hooks
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check
from conformance.api.context import ApiContext

try:
    import torch.optim.optimizer as torch_hooks
except ImportError:  # only torch-API candidates reach the checks
    torch_hooks = None

Event = tuple[Any, ...]


@dataclass
class Side:
    """One optimizer (candidate or reference) with what the recipes do to it, and the log its hooks write."""

    optimizer: Any
    stepper: Callable[[Any, int], Any]
    hooks: Any  # the module with the global ``register_optimizer_step_pre_hook``/``post_hook``
    log: list[Event] = field(default_factory=list)
    t: int = 0

    def params(self) -> list[np.ndarray]:
        return [np.array(p) for p in ts.params_of(self.optimizer)]  # copies: the reference's are live

    def step(self) -> None:
        self.stepper(self.optimizer, self.t)
        self.t += 1

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # Recording hooks, one per signature; ``name`` tells them apart in the log.

    def step_hook(self, name: str, before: list[Any]) -> Callable[..., None]:
        def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
            moved = any(not np.array_equal(a, b) for a, b in zip(self.params(), before))
            self.log.append((name, optimizer is self.optimizer, args[0] is self.optimizer, moved, self.lr()))

        return hook

    def optimizer_hook(self, name: str) -> Callable[..., None]:
        def hook(optimizer: Any, *state_dict: Any) -> None:
            self.log.append((name, optimizer is self.optimizer, self.lr()))

        return hook


def global_hooks(module: Any) -> Any:
    """Where the candidate's global step hooks are registered: its ``optimizer`` module where that has
    torch's registration functions (``torch.optim.optimizer`` for torch.optim), else torch's, which every
    ``torch.optim.Optimizer`` subclass runs (pytorch_optimizer's ``optimizer`` is a package of classes)."""
    own = getattr(module, "optimizer", None)
    return own if callable(getattr(own, "register_optimizer_step_pre_hook", None)) else torch_hooks


def sides(api: ApiContext) -> tuple[Side, Side]:
    """The candidate's optimizer and the reference's, over the same params (one group each, so a hook's lr
    is the run's)."""
    hyper = dict(api.setup.hyper)
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    candidate = ts.construct(api, [{"params": tensors}], hyper)
    reference = ts.reference(api, [{"params": tensors}], hyper)
    return (
        Side(candidate, lambda o, t: ts.step_torch(api, o, t), global_hooks(api.module)),
        Side(reference, lambda o, t: ts.step_reference(api, o, t), reference_hooks),
    )


def halve_lr_once(side: Side) -> Callable[..., None]:
    """A pre hook that changes the lr the step it runs before uses (its effect shows in the params)."""

    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        optimizer.param_groups[0]["lr"] = side.lr() / 2

    return hook


def step_recipe(side: Side, global_hooks: bool) -> None:
    """Pre and post hooks (the optimizer's, or global and the optimizer's together), a step, one hook
    removed, another step: the log shows order, arguments and timing; the lr halved by a pre hook shows in
    the params."""
    before = side.params()
    handles = []
    try:
        if global_hooks:
            hooks = side.hooks
            handles.append(hooks.register_optimizer_step_pre_hook(side.step_hook("global pre", before)))
            handles.append(hooks.register_optimizer_step_post_hook(side.step_hook("global post", before)))
        opt = side.optimizer
        handles.append(opt.register_step_pre_hook(side.step_hook("pre", before)))
        halving = opt.register_step_pre_hook(halve_lr_once(side))
        handles.append(opt.register_step_post_hook(side.step_hook("post", before)))
        side.step()
        halving.remove()
        handles.pop().remove()  # the optimizer's post hook
        before[:] = side.params()
        side.step()
    finally:
        for handle in handles:
            handle.remove()
    side.step()  # no hook left: nothing logged


def state_dict_recipe(side: Side) -> None:
    """state_dict pre and post hooks (one prepended, one returning a replacement dict), removed after use."""
    opt = side.optimizer
    side.step()
    pre = opt.register_state_dict_pre_hook(side.optimizer_hook("pre"))
    opt.register_state_dict_pre_hook(side.optimizer_hook("pre, prepended"), prepend=True)

    def replace(optimizer: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        side.log.append(("post", optimizer is opt, sorted(state_dict)))
        return {**state_dict, "extra": "added by a post hook"}

    opt.register_state_dict_post_hook(replace)
    returned = opt.state_dict()
    side.log.append(("returned keys", sorted(returned)))
    pre.remove()
    side.log.append(("keys after removing a pre hook", sorted(opt.state_dict())))


def load_state_dict_recipe(side: Side) -> None:
    """load_state_dict pre hooks (one returning a dict with another lr, which is what gets loaded) and
    post hooks (which see the loaded state), one prepended; then removed."""
    opt = side.optimizer
    side.step()
    saved = opt.state_dict()
    lr = side.lr()

    def replace(optimizer: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        side.log.append(("pre", optimizer is opt, float(state_dict["param_groups"][0]["lr"])))
        groups = [{**g, "lr": lr * 3} for g in state_dict["param_groups"]]
        return {**state_dict, "param_groups": groups}

    handles = [
        opt.register_load_state_dict_pre_hook(replace),
        opt.register_load_state_dict_pre_hook(side.optimizer_hook("pre, prepended"), prepend=True),
        opt.register_load_state_dict_post_hook(side.optimizer_hook("post")),
        opt.register_load_state_dict_post_hook(side.optimizer_hook("post, prepended"), prepend=True),
    ]
    opt.load_state_dict(saved)
    side.log.append(("lr after loading", side.lr()))
    for handle in handles:
        handle.remove()
    opt.load_state_dict(saved)
    side.log.append(("lr after loading without hooks", side.lr()))
    side.step()


RECIPES: dict[str, Callable[[Side], None]] = {
    "step": lambda side: step_recipe(side, global_hooks=False),
    "global_step": lambda side: step_recipe(side, global_hooks=True),
    "state_dict": state_dict_recipe,
    "load_state_dict": load_state_dict_recipe,
}
SCRIPTS = {
    "step": "opt.register_step_pre_hook(record); opt.register_step_pre_hook(halve_lr); "
    "opt.register_step_post_hook(record); opt.step(); <remove halve_lr, the post hook>; opt.step(); "
    "<remove all>; opt.step()",
    "global_step": "torch.optim.optimizer.register_optimizer_step_pre_hook(record) and _post_hook(record), "
    "then as the 'step' recipe",
    "state_dict": "opt.step(); register_state_dict_pre_hook(record), (record, prepend=True); "
    "register_state_dict_post_hook(returns {**state_dict, 'extra': ...}); opt.state_dict(); "
    "<remove the first pre hook>; opt.state_dict()",
    "load_state_dict": "opt.step(); saved = opt.state_dict(); register_load_state_dict_pre_hook(returns "
    "saved with lr * 3), (record, prepend=True); register_load_state_dict_post_hook(record), (record, "
    "prepend=True); opt.load_state_dict(saved); <remove all>; opt.load_state_dict(saved); opt.step()",
}


def hook_recipes(name: str, session: Any) -> list[tuple[str, Any]]:
    return [(key, key) for key in RECIPES]


@check(needs=TORCH_API, details=hook_recipes)
def test_hooks(api: ApiContext, api_case: ApiCase) -> None:
    """Step, state_dict and load_state_dict hooks run when, in the order and with the arguments the
    reference's do; a returned value replaces what the reference's replaces; a removed hook stops; the
    params after the steps are the reference's."""
    candidate, reference = sides(api)
    api.script.add(f"opt = {api.name}(params, **{dict(api.setup.hyper)!r})")
    api.script.add(SCRIPTS[api_case.payload])
    RECIPES[api_case.payload](candidate)
    RECIPES[api_case.payload](reference)
    if candidate.log != reference.log:
        api.fail(
            "the hooks did not run as the reference's: their calls in order, (name, got the optimizer, "
            "args[0] is the optimizer, params already moved, lr seen) for step hooks",
            f"candidate: {candidate.log!r:.900}",
            f"reference: {reference.log!r:.900}",
        )
    headline = "the params after the hooked steps are not the reference's"
    api.expect_params(candidate.params(), reference.params(), headline, "at the end")

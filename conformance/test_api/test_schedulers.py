"""API conformance: the candidate's optimizer under LR schedulers -- the tutorials' recipes (StepLR,
MultiStepLR, ExponentialLR, LambdaLR, two schedulers on one optimizer), resuming them (``state_dict`` and
``torch.save``, or rebuilt with ``last_epoch``), and torch's warning for ``scheduler.step()`` called before
``optimizer.step()``.

The schedulers are the candidate's where it has them, torch's otherwise (a drop-in optimizer is used with
torch's schedulers); their own schedules are checked against the vectors (``conformance/test_schedulers.py``).
Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from conformance.api import compare
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, scheduled
from conformance.api.context import ApiContext

Recipe = list[tuple[str, dict[str, Any]]]


def inverse_epoch(epoch: int) -> float:
    """The tutorial's LambdaLR factor, 1 / (epoch + 1)."""
    return 1.0 / (epoch + 1)


# The tutorial's schedulers (with its arguments), and two on one optimizer.
RECIPES: dict[str, Recipe] = {
    "StepLR": [("StepLR", {"step_size": 3, "gamma": 0.1})],
    "MultiStepLR": [("MultiStepLR", {"milestones": [3, 9], "gamma": 0.1})],
    "ExponentialLR": [("ExponentialLR", {"gamma": 0.9})],
    "LambdaLR": [("LambdaLR", {"lr_lambda": inverse_epoch})],
    "ExponentialLR+MultiStepLR": [("ExponentialLR", {"gamma": 0.9}), ("MultiStepLR", {"milestones": [3, 9]})],
}
EPOCHS, RESUME_AT = 10, 4


@dataclass
class Scheduled:
    """An optimizer and the recipe's schedulers on it, stepped as the tutorial does; ``stepper(optimizer, t)``
    makes the optimizer's step ``t`` (the candidate's with tensors, the reference's with arrays)."""

    optimizer: Any
    schedulers: list[Any]
    stepper: Callable[[Any, int], Any]

    @classmethod
    def build(
        cls, classes: Any, optimizer: Any, recipe: Recipe, stepper: Callable[[Any, int], Any], **extra: Any
    ) -> Scheduled:
        return cls(
            optimizer, [classes[name](optimizer, **kwargs, **extra) for name, kwargs in recipe], stepper
        )

    def epoch(self, t: int) -> None:
        """``optimizer.step()`` with step ``t``'s inputs, then every scheduler's ``step()``."""
        self.stepper(self.optimizer, t)
        for scheduler in self.schedulers:
            scheduler.step()

    def lrs(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]


def recipe_cases(name: str, session: Any) -> list[tuple[str, Any]]:
    return list(RECIPES.items())


def build(
    api: ApiContext, recipe: Recipe, candidate: Any, reference: Any, **extra: Any
) -> tuple[Scheduled, Scheduled]:
    """The recipe's schedulers on the candidate's optimizer (the candidate's schedulers or torch's) and on
    the reference's (the reference's schedulers)."""
    ref_classes = ts.reference_schedulers([n for n, _ in recipe])
    return (
        Scheduled.build(ts.scheduler_classes(api), candidate, recipe, partial(ts.step_torch, api), **extra),
        Scheduled.build(ref_classes, reference, recipe, partial(ts.step_reference, api), **extra),
    )


def runs(api: ApiContext, recipe: Recipe, *, describe: bool = True) -> tuple[Scheduled, Scheduled]:
    """Fresh optimizers of the candidate and the reference over the same params, with the recipe's
    schedulers."""
    hyper = dict(api.setup.hyper)
    tensors = [ts.tensor(api, p, requires_grad=True) for p in api.setup.initial()]
    opt = ts.construct(api, api.setup.groups(tensors), hyper)
    ref = ts.reference(api, api.setup.groups(tensors), hyper)
    if describe:
        schedulers = ", ".join(f"{n}(opt, **{k!r})" for n, k in recipe)
        api.script.add(f"opt = {api.name}(<2 groups>, **{hyper!r}); schedulers: {schedulers}")
    return build(api, recipe, opt, ref)


def epochs(api: ApiContext, candidate: Scheduled, reference: Scheduled, first: int, last: int) -> None:
    """The tutorial loop over epochs ``first..last-1`` on both; the lrs (within the schedule tolerance) and
    params (within the check's) compared after each epoch."""
    api.script.add(f"for epoch in range({first}, {last}): opt.step(); scheduler.step()")
    for epoch in range(first, last):
        candidate.epoch(epoch)
        reference.epoch(epoch)
        when = f"after epoch {epoch + 1}"
        if not compare.same_lrs(candidate.lrs(), reference.lrs(), reference.optimizer.param_groups):
            api.fail(f"{when} the groups' lrs are {candidate.lrs()}, the reference's {reference.lrs()}")
        got, want = ts.params_of(candidate.optimizer), ts.params_of(reference.optimizer)
        api.expect_params(got, want, "a scheduled run is not the reference's", when)


@check(needs=TORCH_API, applies=scheduled, details=recipe_cases)
def test_scheduler_recipe(api: ApiContext, api_case: ApiCase) -> None:
    """The tutorial loop (step, then scheduler.step(), every epoch) with the candidate's optimizer: its lrs
    and params are the reference's."""
    epochs(api, *runs(api, api_case.payload), 0, EPOCHS)


@check(needs=TORCH_API, applies=scheduled, details=recipe_cases)
def test_scheduler_resume(api: ApiContext, api_case: ApiCase) -> None:
    """Optimizer and schedulers saved with torch.save after epoch 4 and loaded into fresh ones go on exactly
    as the uninterrupted run; rebuilt with last_epoch=4 instead (the tutorial's resume), they go on as the
    reference does the same."""
    recipe = api_case.payload
    candidate, reference = runs(api, recipe)
    epochs(api, candidate, reference, 0, RESUME_AT)
    saved = {
        "optimizer": candidate.optimizer.state_dict(),
        "schedulers": [s.state_dict() for s in candidate.schedulers],
    }
    blob, ref_state, at_resume = (
        ts.checkpoint(saved),
        reference.optimizer.state_dict(),
        ts.params_of(candidate.optimizer),
    )
    api.script.add(
        "torch.save({'optimizer': ..., 'schedulers': [...]}, f); saved = torch.load(f, weights_only=True)"
    )
    api.script.add("resumed: fresh optimizer and schedulers, each .load_state_dict(saved[...]); both go on")
    resumed, _ = runs(api, recipe, describe=False)
    ts.copy_params(resumed.optimizer, at_resume)
    resumed.optimizer.load_state_dict(ts.restore(blob)["optimizer"])
    for scheduler, state in zip(resumed.schedulers, ts.restore(blob)["schedulers"]):
        scheduler.load_state_dict(state)
    for epoch in range(RESUME_AT, EPOCHS):
        candidate.epoch(epoch)
        resumed.epoch(epoch)
        when = f"after epoch {epoch + 1}"
        if resumed.lrs() != candidate.lrs():
            api.fail(f"{when} the resumed lrs are {resumed.lrs()}, the uninterrupted {candidate.lrs()}")
        got, want = ts.params_of(resumed.optimizer), ts.params_of(candidate.optimizer)
        api.expect_params(
            got, want, "the resumed run departs from the uninterrupted one", when, rtol=api.resume_rtol
        )
    # The tutorial's resume: fresh optimizers loaded from the checkpoint, schedulers rebuilt with last_epoch.
    api.script.add("opt = <fresh>; opt.load_state_dict(saved['optimizer'])")
    api.script.add(f"<the schedulers>(opt, ..., last_epoch={RESUME_AT})")
    fresh, ref_fresh = (run.optimizer for run in runs(api, [], describe=False))
    for optimizer, state in ((fresh, ts.restore(blob)["optimizer"]), (ref_fresh, ref_state)):
        ts.copy_params(optimizer, at_resume)
        optimizer.load_state_dict(state)
    api.observe("opt", ts.params_of(ref_fresh))
    epochs(api, *build(api, recipe, fresh, ref_fresh, last_epoch=RESUME_AT), RESUME_AT, EPOCHS)


def step_order_script(run: Scheduled, scheduler_first: bool) -> None:
    """``scheduler.step()`` (if first), then two epochs of ``optimizer.step(); scheduler.step()``."""
    if scheduler_first:
        run.schedulers[0].step()
    for t in range(2):
        run.epoch(t)


@check(needs=TORCH_API)
def test_scheduler_step_order(api: ApiContext) -> None:
    """scheduler.step() before optimizer.step() warns as torch does (the reference's warning); the right
    order does not warn."""
    for scheduler_first in (True, False):
        order = "scheduler.step() first" if scheduler_first else "optimizer.step() first"
        candidate, reference = runs(api, [("StepLR", {"step_size": 1})])
        api.script.add(f"# {order}, then opt.step(); scheduler.step() twice")
        got = ts.recorded_warnings(partial(step_order_script, candidate, scheduler_first))
        want = ts.recorded_warnings(partial(step_order_script, reference, scheduler_first))
        if got != want:
            api.fail(
                f"with {order}, the warnings are not the reference's",
                f"candidate: {got}",
                f"reference: {want}",
            )

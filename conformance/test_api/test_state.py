"""API conformance: state dicts -- their structure, saving and resuming (bitwise on CPU), across variants
(foreach <-> forloop <-> fused), through ``torch.save`` / ``torch.load(weights_only=True)``, from an older
torch's state dict (without the flags added since, ``step`` a Python number), and between Adam with
``decoupled_weight_decay=True`` and AdamW.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

import copy
from typing import Any

import refimpl.optim
from conformance.adapters.torch_adapter import VARIANT_FLAGS
from conformance.api import compare
from conformance.api import torch_side as ts
from conformance.api.cases import TORCH_API, ApiCase, check, variants_of
from conformance.api.context import ApiContext
from conformance.api.twin import Transfer, Twin

STATE = ("state_dict",)


@check(per_variant=True, needs=STATE)
def test_state_dict_structure(api: ApiContext) -> None:
    """state_dict() has torch's layout: state by param index (none for a param without gradient), the
    reference's state keys (or those of the class's declared key map) and values, param groups with param
    indices and every hyperparameter the class has."""
    initial = api.setup.initial()
    twin = Twin(api, api.setup.groups(initial))
    for t in range(2):
        grads = None if api.setup.closure else api.setup.gradients(t, initial)
        if grads is not None:
            grads[-1] = None
        twin.step(grads)
    twin.check_state("state_dict() is not the reference's", strict=True)


def check_resume(
    api: ApiContext,
    headline: str,
    rtol: float,
    variants: tuple[str, str] | None = None,
    transfer: Transfer | None = None,
    transform: Any = None,
) -> None:
    """Three steps, save the state, load it into fresh optimizers (of ``variants[1]`` if given, through
    ``transfer`` if given), three more steps of both: the resumed candidate equals the uninterrupted one
    within ``rtol`` -- unless the reference's own resume is not exact (torch rounds some state as it loads,
    and the spec follows it): then it equals the reference's resumed run within the check's tolerance."""
    saver, loader = variants or (None, None)
    twin = Twin(api, api.setup.groups(api.setup.initial()), variant=saver)
    twin.steps(3)
    if twin.stopped:
        return
    candidate, reference = twin.resumed(variant=loader, transfer=transfer, transform=transform)
    for _ in range(3):
        twin.step()
        when = f"after step {twin.t}"
        if not compare.params(reference.params(), twin.reference.params(), 0.0, when):
            api.expect_params(candidate.params(), twin.candidate.params(), headline, when, rtol=rtol)
        else:
            note = " (the reference's own resume is not exact here: compared with its resumed run)"
            api.expect_params(candidate.params(), reference.params(), headline + note, when, run="resumed")


@check(per_variant=True, needs=STATE)
def test_resume(api: ApiContext) -> None:
    """A state dict saved after step 3 and loaded into a fresh optimizer over the same params goes on
    exactly as the uninterrupted run (bitwise on CPU), as the reference's does."""
    check_resume(api, "the resumed run departs from the uninterrupted one", api.resume_rtol)


def variant_pairs(name: str, session: Any) -> list[tuple[str, Any]]:
    """Every ordered pair of the class's variants (foreach -> forloop, forloop -> fused, ...)."""
    offered = variants_of(session, name)
    return [(f"{a}-to-{b}", (a, b)) for a in offered for b in offered if a != b]


@check(needs=STATE, details=variant_pairs, runs=lambda pair: pair)
def test_resume_across_variants(api: ApiContext, api_case: ApiCase) -> None:
    """A state dict saved by one variant loads into another, which goes on as the saving one does (within
    the tolerance: the kernels round differently)."""
    saver, loader = api_case.payload
    check_resume(api, f"a state dict of {saver} does not resume in {loader}", api.rtol, (saver, loader))


def through_torch_save(saved: Any, fresh: Any) -> None:
    """``torch.save(opt.state_dict(), f)``, ``torch.load(f, weights_only=True)``, ``load_state_dict``."""
    fresh.optimizer.load_state_dict(ts.restore(ts.checkpoint(saved.optimizer.state_dict())))


@check(needs=TORCH_API)
def test_torch_save_load(api: ApiContext) -> None:
    """A state dict through torch.save and torch.load(weights_only=True) resumes a fresh optimizer exactly
    as the uninterrupted run (bitwise on CPU), as the reference's does."""
    api.script.add("# the state dict goes through torch.save(state, f) and torch.load(f, weights_only=True)")
    headline = "the run resumed from torch.load departs from the uninterrupted one"
    check_resume(api, headline, api.resume_rtol, transfer=through_torch_save)


def added_keys(name: str, variant: str) -> list[str]:
    """The param-group keys the class added since older torch versions (the reference's ``legacy_defaults``,
    the keys torch's ``__setstate__`` fills), but the variant's own switch: without it the resumed run
    would silently change kernels, which is not what an old checkpoint is about."""
    switch = VARIANT_FLAGS.get(variant, {})
    return sorted(k for k in getattr(refimpl.optim, name).legacy_defaults if k not in switch)


def older_torch(added: list[str]) -> Any:
    """A state dict as an older torch saved it: without the ``added`` param-group keys and with ``step`` a
    Python number (an int, as torch before 1.12 counted it)."""

    def transform(state_dict: dict[str, Any]) -> dict[str, Any]:
        old = copy.deepcopy(state_dict)
        for group in old["param_groups"]:
            for key in added:
                group.pop(key, None)
        for state in old["state"].values():
            if "step" in state:
                state["step"] = int(compare.plain(state["step"]))
        return old

    return transform


@check(per_variant=True, needs=STATE)
def test_resume_older_checkpoint(api: ApiContext) -> None:
    """A state dict from an older torch -- without the flags added since (foreach, fused, capturable,
    differentiable, maximize, decoupled_weight_decay, ...) and with step a Python number -- loads, and the run
    goes on as the uninterrupted one (or, where the flags' old defaults change the run, as the reference's
    resumed run)."""
    added = added_keys(api.name, api.variant)
    api.script.add(f"# the saved state dict loses its groups' {added} and its step becomes a Python int")
    headline = "a state dict of an older torch does not resume"
    check_resume(api, headline, api.resume_rtol, transform=older_torch(added))


def adam_pair(setup: Any, classes: frozenset[str]) -> bool:
    return setup.name in ("Adam", "AdamW") and {"Adam", "AdamW"} <= classes


@check(needs=STATE, applies=adam_pair)
def test_resume_adam_adamw(api: ApiContext) -> None:
    """Adam with decoupled_weight_decay=True saved and loaded into AdamW (and AdamW's state into Adam) goes
    on exactly as the uninterrupted run: the two are one algorithm, and the loaded groups say which."""
    other = "AdamW" if api.name == "Adam" else "Adam"
    hyper = {**api.setup.hyper, "weight_decay": 0.1}
    if api.name == "Adam":
        hyper["decoupled_weight_decay"] = True
    twin = Twin(api, api.setup.groups(api.setup.initial()), hyper)
    twin.steps(3)
    if twin.stopped:
        return
    api.script.add(f"moved = {other}(<the same params>); moved.load_state_dict(opt.state_dict())")
    groups = twin._regroup(twin.candidate.params())
    moved = api.adapter.make_optimizer(
        other, groups, {}, dtype=api.dtype, device=api.device, variant=api.variant
    )
    moved.load_state_dict(twin.candidate.state_dict())
    twin.followers.append(moved)
    for _ in range(3):
        twin.step(check=f"{api.name} does not step as the reference's")
        headline = f"the {api.name} state loaded into {other} departs from the uninterrupted run"
        api.expect_params(moved.params(), twin.candidate.params(), headline, f"after step {twin.t}", rtol=0.0)

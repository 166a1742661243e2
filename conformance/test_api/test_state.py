"""API conformance: state dicts -- their structure, saving and resuming (bitwise on CPU), across variants
(foreach <-> forloop <-> fused), and through ``torch.save`` / ``torch.load(weights_only=True)``.

Part of the API checks (``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

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
    candidate, reference = twin.resumed(variant=loader, transfer=transfer)
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


@check(needs=STATE, details=variant_pairs)
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

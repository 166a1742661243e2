"""API conformance: the optimizer under ``torch.amp.GradScaler`` -- an iteration skipped for an inf or NaN
gradient leaves params and every state tensor (``step`` included) exactly as they were, the real steps
around it equal the same optimizer's run that never saw it (bitwise on CPU) and the reference's, the
gradients ``scaler.step()`` leaves are unscaled, the scale follows the reference's updates, and a scheduler
stepped after a skipped step warns and schedules as the reference's.

Every variant runs, fused included: torch's fused Adam, AdamW, SGD and Adagrad are *amp-aware*
(``_step_supports_amp_scaling``): the scaler hands them ``grad_scale`` and ``found_inf`` and their kernels
unscale and skip (``refimpl/amp.py`` documents both paths). The scaler is the candidate module's
``GradScaler`` where it has one, else torch's (``conformance.api.scaling``). Part of the API checks
(``conformance/api``); see ``conformance/test_api/conftest.py`` for ids and skips.
"""

from __future__ import annotations

from typing import Any

from conformance.api.cases import TORCH_API, check, scheduled, steps_on_gradients, variants_of
from conformance.api.context import ApiContext
from conformance.api.scaling import EXACT, ROUNDING, ScaledRuns
from conformance.api.setups import SETUPS


@check(needs=TORCH_API, per_variant=True, applies=steps_on_gradients)
def test_grad_scaler_skipped_steps(api: ApiContext) -> None:
    """Two real steps (the scale grows), a step skipped for an inf gradient, a real step, one skipped for
    a NaN, a real step: the skipped steps change nothing, the real ones equal the run without the skipped
    ones (bitwise on CPU) and the reference's, and the scale is the reference's after every update."""
    runs = ScaledRuns(api, EXACT)
    for t, poison in enumerate((None, None, "inf", None, "nan", None)):
        runs.iteration(t, poison)


@check(needs=TORCH_API, per_variant=True, applies=steps_on_gradients)
def test_grad_scaler_first_step_skipped(api: ApiContext) -> None:
    """The first iteration skipped for an inf gradient (routine while the scale calibrates) leaves the
    optimizer as it was -- no state created -- and the two real steps after it equal the run that never
    saw it."""
    runs = ScaledRuns(api, EXACT)
    for t, poison in enumerate(("inf", None, None)):
        runs.iteration(t, poison)


def unscaling(name: str, session: Any) -> list[tuple[str, Any]]:
    """Where unscaling is the class's own: its fused variant (amp-aware kernels unscale the gradients
    themselves). Elsewhere the scaler unscales, the same for every class: the scheduled class covers it."""
    classes = frozenset(session.adapter.capabilities().optimizers)
    own = "fused" in variants_of(session, name) or scheduled(SETUPS[name], classes)
    return [("", None)] if own else []


@check(needs=TORCH_API, per_variant=True, applies=steps_on_gradients, details=unscaling)
def test_grad_scaler_unscale(api: ApiContext) -> None:
    """With a scale and factors that are not powers of two (3.0, growth 1.5, backoff 0.3, growth every
    iteration), the gradients scaler.step() leaves are the unscaled ones and the scale follows the
    reference's updates, rounded as torch rounds them."""
    runs = ScaledRuns(api, ROUNDING)
    for t, poison in enumerate((None, "inf", None)):
        runs.iteration(t, poison, exact=False)


@check(needs=TORCH_API, per_variant=True, applies=scheduled)
def test_grad_scaler_scheduler(api: ApiContext) -> None:
    """The AMP loop with a StepLR stepped after every scaler.update(), the first and third iterations
    skipped: the scheduler warns (or not) as the reference's -- the step-order warning once, after the
    skipped first step, as torch's for-loop does -- and the lrs and params are the reference's."""
    runs = ScaledRuns(api, EXACT, [("StepLR", {"step_size": 1, "gamma": 0.5})])
    for t, poison in enumerate(("inf", None, "nan", None)):
        got, want = runs.iteration(t, poison)
        if got != want:
            api.fail(
                f"after iteration {t} ({poison or 'a real step'}), scheduler.step() did not warn as the "
                "reference's",
                f"candidate: {got}",
                f"reference: {want}",
            )
        lrs = [float(g["lr"]) for g in runs.optimizer.param_groups]
        ref_lrs = [float(g["lr"]) for g in runs.reference.param_groups]
        if lrs != ref_lrs:
            api.fail(f"after iteration {t} the groups' lrs are {lrs}, the reference's {ref_lrs}")

"""The GradScaler checks' runs: the candidate's optimizer under a GradScaler next to the reference's
(``refimpl.amp``), iteration by iteration of torch's AMP loop, with inf/NaN gradients injected.

Each iteration gives the params the setup's seeded gradients times the current scale (what
``scaler.scale(loss).backward()`` leaves), one element replaced by inf or NaN on a poisoned iteration, then
runs ``scaler.step(opt); scaler.update()`` (and any schedulers' ``step()``) on both sides. A third run, the
*plain* one, is the candidate's same class and variant without a scaler, given the unscaled gradients of
the clean iterations only: the run that never saw the skipped iterations.

The scaler is the candidate module's own ``GradScaler`` (``MODULE.GradScaler`` or ``MODULE.amp.GradScaler``)
where it has one, else torch's ``torch.amp.GradScaler``: a drop-in optimizer is used with torch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import refimpl.amp
import refimpl.lr_scheduler
from conformance.adapters.base import NotSupported
from conformance.adapters.torch_adapter import to_numpy
from conformance.api import compare
from conformance.api import torch_side as ts
from conformance.api.context import ApiContext
from conformance.tolerances import EPS
from refimpl.optim import SparseGrad

try:
    import torch
except ImportError:  # only torch-API candidates reach this module's functions
    torch = None

# Powers of two throughout (torch's defaults are too: 2^16, 2, 0.5): unscaling is then exact in every
# implementation -- torch's unscale path multiplies by a float32 reciprocal, its fused kernels divide --
# so the scaled run must equal the plain run bitwise and the reference within the check's tolerance. A growth
# interval of 2 makes the scale grow within a few iterations.
EXACT = {"init_scale": 2.0**10, "growth_factor": 2.0, "backoff_factor": 0.25, "growth_interval": 2}
# Factors and a scale that are not powers of two: unscaling and every scale update round.
ROUNDING = {"init_scale": 3.0, "growth_factor": 1.5, "backoff_factor": 0.3, "growth_interval": 1}

# Unscaled gradients against the reference's (relative, norm-wise): torch's unscale path multiplies by
# float32(1 / scale) (one rounding, at most 2^-24 relative: refimpl.amp.inverse_scale), an amp-aware fused
# kernel divides by the scale exactly; each side then rounds its result once to the dtype (half an epsilon
# each). So 2^-24 + eps covers both paths; a gradient left scaled, or unscaled twice, is off by the scale
# (a factor of 3 or more here).
UNSCALE_RTOL = {dtype: 2.0**-24 + eps for dtype, eps in EPS.items()}
# The scale after each update against the reference's float32(float64(scale) * factor): a scaler computing
# in float32 rounds the factor and the product (2^-24 each) where the reference rounds once, so 3 * 2^-24 per
# update, added up over the updates made.
SCALE_RTOL_PER_UPDATE = 3 * 2.0**-24

POISONS = {"inf": float("inf"), "nan": float("nan")}


def scaler_class(ctx: ApiContext) -> type:
    """The candidate module's ``GradScaler`` where it has one, else torch's."""
    module = ctx.module
    own = getattr(module, "GradScaler", None) or getattr(getattr(module, "amp", None), "GradScaler", None)
    return own or torch.amp.GradScaler


def poisoned(grads: list[Any], poison: str | None) -> tuple[list[Any], str]:
    """``grads`` with one element replaced by inf (the first param's first element) or NaN (the last
    param's), and the script's note on it."""
    if poison is None:
        return grads, "seeded gradients"
    index = 0 if poison == "inf" else len(grads) - 1
    grads = list(grads)
    grad = grads[index]
    values = np.array(grad.values if isinstance(grad, SparseGrad) else grad, dtype=np.float64)
    values.reshape(-1)[0] = POISONS[poison]
    grads[index] = SparseGrad(grad.indices, values, grad.shape) if isinstance(grad, SparseGrad) else values
    return grads, f"seeded gradients, param {index}'s first element {poison}"


def times(grads: Sequence[Any], scale: float) -> list[Any]:
    """Every gradient times ``scale`` (what backward of the scaled loss leaves)."""
    return [
        SparseGrad(g.indices, g.values * scale, g.shape)
        if isinstance(g, SparseGrad)
        else np.asarray(g) * scale
        for g in grads
    ]


def dense(grads: Sequence[Any]) -> list[Any]:
    return [g.to_dense() if isinstance(g, SparseGrad) else g for g in grads]


def snapshot(optimizer: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Copies of an optimizer's params and state dict."""
    return ts.params_of(optimizer), to_numpy(optimizer.state_dict())


def changes(before: tuple[list[Any], dict[str, Any]], after: tuple[list[Any], dict[str, Any]]) -> list[str]:
    """What differs, bitwise, between two snapshots: params, which params have state, state keys, values."""
    out = [
        f"param {i} moved (max rel change {compare.array_error(a, b):.3g})"
        for i, (b, a) in enumerate(zip(before[0], after[0]))
        if not compare.same_values(a, b)
    ]
    was, now = before[1]["state"], after[1]["state"]
    if sorted(was) != sorted(now):
        out.append(f"state for params {sorted(now)}, before the step {sorted(was)}")
    for index in sorted(set(was) & set(now)):
        if sorted(was[index]) != sorted(now[index]):
            out.append(f"state[{index}] has keys {sorted(now[index])}, before the step {sorted(was[index])}")
        for key in sorted(set(was[index]) & set(now[index])):
            old, new = compare.plain(was[index][key]), compare.plain(now[index][key])
            if not compare.same_values(new, old):
                shown = f"{old} -> {new}" if np.ndim(new) == 0 else "values changed"
                out.append(f"state[{index}][{key!r}]: {shown}")
    return out


class ScaledRuns:
    """The candidate's optimizer and the reference's, each under a GradScaler built with ``config``, and the
    candidate's plain run; ``schedulers``: ``(name, kwargs)`` of schedulers stepped after every update."""

    def __init__(
        self, ctx: ApiContext, config: dict[str, Any], schedulers: Sequence[tuple[str, dict[str, Any]]] = ()
    ) -> None:
        if ctx.dtype == "float16":  # torch.amp.GradScaler.unscale_ refuses them (grad_scaler.py line 275)
            raise NotSupported("GradScaler does not unscale float16 gradients (AMP keeps params in float32)")
        self.ctx, self.config = ctx, config
        hyper = dict(ctx.setup.hyper)
        self.initial = ctx.setup.initial()
        tensors = [ts.tensor(ctx, p, requires_grad=True) for p in self.initial]
        plain = [ts.tensor(ctx, p, requires_grad=True) for p in self.initial]
        self.optimizer = ts.construct(ctx, ctx.setup.groups(tensors), hyper, ctx.case.variant)
        self.reference = ts.reference(ctx, ctx.setup.groups(tensors), hyper)
        self.plain = ts.construct(ctx, ctx.setup.groups(plain), hyper, ctx.case.variant)
        self.scaler = scaler_class(ctx)(ctx.device.split(":")[0], **config)
        self.ref_scaler = refimpl.amp.GradScaler(**config)
        classes = ts.scheduler_classes(ctx)
        self.schedulers = [classes[n](self.optimizer, **k) for n, k in schedulers]
        self.ref_schedulers = [getattr(refimpl.lr_scheduler, n)(self.reference, **k) for n, k in schedulers]
        # The plain run's schedulers step every iteration too, so its lrs stay the scaled run's.
        self.plain_schedulers = [classes[n](self.plain, **k) for n, k in schedulers]
        self.updates = 0
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        ctx.script.add(f"opt = {ctx.constructor(ctx.setup.groups(self.initial), hyper, ctx.case.variant)}")
        ctx.script.add(f"scaler = GradScaler({ctx.device.split(':')[0]!r}, {args})")
        for name, kwargs in schedulers:
            ctx.script.add(f"scheduler = {name}(opt, **{kwargs!r})")

    def iteration(self, t: int, poison: str | None, *, exact: bool = True) -> tuple[list[str], list[str]]:
        """Iteration ``t`` of the AMP loop on every run, checked; returns the warnings the schedulers'
        ``step()`` raised (candidate's, reference's)."""
        ctx = self.ctx
        grads, note = poisoned(ctx.setup.gradients(t, self.initial), poison)
        self.scaler.scale(torch.ones((), device=ctx.device))  # creates the scale, as scale(loss) does
        scale = self.scaler.get_scale()
        scaled = times(grads, scale)
        stepping = "scheduler.step()" if self.schedulers else ""
        ctx.script.add(f"# iteration {t}: .grad = ({note}) * scaler.get_scale()  # = {scale!r}")
        ctx.script.add(f"scaler.step(opt); scaler.update(); {stepping}".rstrip("; "))
        ts.set_grads(ctx, self.optimizer, scaled)
        before = snapshot(self.optimizer) if poison else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        got = [m for s in self.schedulers for m in ts.recorded_warnings(s.step)]
        unscaled = self.ref_scaler.unscale_(self.reference, scaled)
        self.ref_scaler.step(self.reference, unscaled)
        self.ref_scaler.update()
        want = [m for s in self.ref_schedulers for m in ts.recorded_warnings(s.step)]
        if poison is None and exact:
            ts.set_grads(ctx, self.plain, unscaled)
            self.plain.step()
        self.updates += 1
        when = f"after iteration {t} ({'skipped: ' + poison if poison else 'a real step'})"
        if before is not None:
            headline = f"a step skipped for an {poison} gradient changed the optimizer (it must not)"
            ctx.expect(changes(before, snapshot(self.optimizer)), headline)
        else:
            self.check_real_step(unscaled, when, exact)
        for scheduler in self.plain_schedulers:
            ts.recorded_warnings(scheduler.step)  # its warnings are not under test
        self.check_scale(when)
        return got, want

    def check_real_step(self, unscaled: list[Any], when: str, exact: bool) -> None:
        """After a clean iteration: ``.grad`` holds the unscaled gradients; with an ``exact`` scale the params
        equal the plain run's (bitwise on CPU) and the reference's (within the check's tolerance)."""
        ctx = self.ctx
        got = dense(ts.grads_of(self.optimizer))
        problems = compare.params(got, dense(unscaled), UNSCALE_RTOL[ctx.dtype], when)
        ctx.expect(problems, "the gradients scaler.step() leaves are not the unscaled gradients")
        if not exact:
            return
        got = ts.params_of(self.optimizer)
        headline = "the scaled run departs from the same optimizer never given the skipped iterations"
        # the same operations on the same values: bitwise on CPU (resume_rtol, derived in api/context.py)
        ctx.expect_params(got, ts.params_of(self.plain), headline, when, rtol=ctx.resume_rtol)
        ctx.expect_params(got, ts.params_of(self.reference), "the scaled run is not the reference's", when)

    def check_scale(self, when: str) -> None:
        got, want = self.scaler.get_scale(), self.ref_scaler.get_scale()
        if abs(got - want) > self.updates * SCALE_RTOL_PER_UPDATE * abs(want):
            self.ctx.fail(f"{when} the scale is {got!r}, the reference's {want!r}", f"scaler: {self.config}")
        tracker = getattr(self.scaler, "state_dict", dict)().get("_growth_tracker")
        if tracker is not None and tracker != self.ref_scaler.state_dict()["_growth_tracker"]:
            self.ctx.fail(
                f"{when} the growth tracker is {tracker}, the reference's "
                f"{self.ref_scaler.state_dict()['_growth_tracker']}",
                f"scaler: {self.config}",
            )

r"""Gradient scaling: ``torch.amp.GradScaler``'s contract with an optimizer.

Mixed-precision training multiplies the loss by a *scale* ``s`` so that small float16 gradients do not
underflow; the gradients that backward leaves are then ``s * g``. Every iteration of the documented loop
(``scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()``) does, for one optimizer::

    found_inf = any(not isfinite(x) for x in every scaled gradient of the optimizer's params)
    g = scaled_g / s                                  # "unscale"
    if not found_inf: optimizer.step()                # the update sees the unscaled gradients
    # else: the step is *skipped*: params and optimizer state stay exactly as they were
    update():
        if found_inf: s = s * backoff_factor;  tracker = 0
        else:
            tracker += 1
            if tracker == growth_interval:
                if isfinite(s * growth_factor): s = s * growth_factor
                tracker = 0

So a skipped iteration is, for the optimizer, an iteration that did not happen: the next real step equals the
step of a run that never saw the bad gradients. As torch 2.13 implements it (``torch/amp/grad_scaler.py``):

- The scale lives in a float32 tensor (``_lazy_init_scale_growth_tracker``, lines 173-179), created by the
  first ``scale()``; the growth tracker in an int32 one. The class docstring (lines 89-105) states the skip:
  "If infs/NaNs are found, ``scaler.step(optimizer)`` skips the underlying ``optimizer.step()`` (so the params
  themselves remain uncorrupted) and ``update()`` multiplies the scale by ``backoff_factor``", and that this
  happens routinely "for the first few iterations" while the scale calibrates.
- ``unscale_`` (lines 302-361) multiplies every gradient by ``inv_scale = float32(1 / float64(s))`` (lines
  348-355: the reciprocal is taken in double, then rounded to float32) through
  ``torch._amp_foreach_non_finite_check_and_unscale_`` (``_unscale_grads_``, lines 246-300), which sets
  ``found_inf = 1`` where a *scaled* value is not finite. Gradients are unscaled in place even when the step
  is then skipped; a sparse gradient's values are what is checked and unscaled; float16 gradients are refused
  ("Attempting to unscale FP16 gradients.", line 275). Calling ``unscale_`` twice before ``update()`` raises.
- ``step`` (lines 375-482) unscales unless ``unscale_`` was called this iteration, then calls
  ``optimizer.step()`` only if no device found an inf (``_maybe_opt_step``, lines 363-373). A closure is
  refused (lines 402-405).
- An *amp-aware* optimizer -- one whose ``_step_supports_amp_scaling`` is true: torch's ``fused=True`` Adam,
  AdamW (adam.py lines 104-107), SGD (sgd.py lines 67-68) and Adagrad (adagrad.py lines 76-78) -- is handled
  differently (lines 418-470): the scaler only checks for infs (``_check_inf_per_device``, lines 701-711,
  with ``inv_scale`` 1), sets ``optimizer.grad_scale`` (the scale tensor) and ``optimizer.found_inf`` (1.0 or
  0.0) as attributes, calls ``optimizer.step()`` *always*, and deletes the attributes after. The optimizer
  passes them to its kernel (adam.py lines 267-268), which divides the gradients by ``grad_scale`` (writing
  the unscaled gradients back to ``.grad``) and, when ``found_inf`` is set, updates nothing; the ``step``
  counters it incremented before the kernel are decremented by ``found_inf`` after it (adam.py lines 896-899,
  adagrad.py lines 623-627). The contract is the same as the unscale path's: after a skipped iteration the
  params and the state are those before it.
- ``update`` (lines 484-559) runs ``torch._amp_update_scale_``: the scale times a factor is computed in
  double and rounded to float32 (``float32(float64(s) * factor)``; measured on torch 2.13 CPU with a backoff
  of 0.3), and growth that would overflow float32 is not applied. ``update(new_scale)`` sets the scale.
  ``update`` clears every optimizer's per-iteration record.

Where torch's code and its documentation disagree (the spec follows the documentation; the suite records
torch's behaviour as known deviations, ``conformance/known_deviations/torch.toml``):

- The amp-aware path calls ``optimizer.step()`` on a skipped iteration, so the optimizer's lazily created
  state appears: after a *first* iteration skipped, torch's fused Adam/AdamW/Adagrad hold zero moments and
  ``step == 0``, and fused SGD with momentum holds a momentum buffer made by ``torch.empty_like`` that the
  kernel never writes (sgd.py lines 506-511), which the next real step then uses as if it were momentum.
  The documented skip -- and torch's own unscale path -- leave no state at all.
- Because the amp-aware path calls ``optimizer.step()``, a learning-rate scheduler stepped after a skipped
  first iteration does not warn. On the unscale path ``optimizer.step()`` is not called, so the scheduler
  wrapper's ``_opt_called`` (lr_scheduler.py lines 150-172) is never set and the scheduler's first real
  ``step()`` warns "Detected call of `lr_scheduler.step()` before `optimizer.step()`" (lines 255-277), as the
  documentation of both implies: the optimizer's step *was* skipped (pytorch/pytorch#44511, #55585). A
  skipped iteration after the first never warns (the check runs once, at ``_step_count == 1``), and the
  scheduler advances the lr on every ``step()``: it does not know an optimizer step was skipped.

The reference's optimizers take their gradients as an argument (``refimpl.optim.optimizer``), so here the
scaled gradients are passed in and ``unscale_`` returns the unscaled ones instead of writing ``.grad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from refimpl.optim.optimizer import Optimizer, SparseGrad

READY, UNSCALED, STEPPED = "ready", "unscaled", "stepped"


def _values(grad: Any) -> np.ndarray:
    return np.asarray(grad.values if isinstance(grad, SparseGrad) else grad)


def found_inf(grads: Sequence[Any]) -> bool:
    """Whether any element of any gradient (a sparse one's values) is inf or NaN; ``None`` entries: none."""
    return any(not np.all(np.isfinite(_values(g))) for g in grads if g is not None)


def inverse_scale(scale: float) -> float:
    """torch's ``inv_scale``: the reciprocal taken in double, rounded to float32 (grad_scaler.py 351-355)."""
    return float(np.float32(1.0 / float(scale)))


def unscaled(grads: Sequence[Any], scale: float) -> list[Any]:
    """Every gradient times ``inverse_scale(scale)``, in its own dtype (``None`` stays ``None``)."""
    inv = inverse_scale(scale)

    def one(g: Any) -> Any:
        if g is None:
            return None
        if isinstance(g, SparseGrad):
            return SparseGrad(g.indices, g.values * g.values.dtype.type(inv), g.shape)
        g = np.asarray(g)
        return g * g.dtype.type(inv)

    return [one(g) for g in grads]


def rescaled(scale: float, factor: float) -> float:
    """``scale * factor`` as ``torch._amp_update_scale_`` stores it: in double, rounded to float32 (inf past
    float32's range, which ``update`` then declines)."""
    with np.errstate(over="ignore"):
        return float(np.float32(float(scale) * factor))


class GradScaler:
    """``torch.amp.GradScaler`` for reference optimizers, with torch's arguments and defaults."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._enabled = enabled
        if enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._scale = float(np.float32(init_scale))
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        # Per optimizer (by id) this iteration: its stage and whether its gradients had an inf or NaN.
        self._iteration: dict[int, dict[str, Any]] = {}

    def _record(self, optimizer: Optimizer) -> dict[str, Any]:
        return self._iteration.setdefault(id(optimizer), {"stage": READY, "found_inf": None})

    def scale(self, outputs: Any) -> Any:
        """``outputs`` times the scale (a number or an array; unchanged when disabled)."""
        return outputs * self._scale if self._enabled else outputs

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def unscale_(self, optimizer: Optimizer, grads: Sequence[Any]) -> list[Any]:
        """The unscaled ``grads`` of ``optimizer``'s params (torch unscales ``.grad`` in place), recording
        whether the scaled ones had an inf or NaN."""
        if not self._enabled:
            return list(grads)
        record = self._record(optimizer)
        if record["stage"] == UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if record["stage"] == STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        record["found_inf"] = found_inf(grads)
        record["stage"] = UNSCALED
        return unscaled(grads, self._scale)

    def step(self, optimizer: Optimizer, grads: Sequence[Any]) -> Any:
        """Unscale ``grads`` (unless ``unscale_`` ran this iteration: then they are the unscaled ones) and
        step the optimizer with them, unless the scaled gradients had an inf or NaN: then the step is skipped
        and ``None`` returned."""
        if not self._enabled:
            return optimizer.step(grads)
        record = self._record(optimizer)
        if record["stage"] == STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if record["stage"] == READY:
            grads = self.unscale_(optimizer, grads)
        record["stage"] = STEPPED
        return None if record["found_inf"] else optimizer.step(grads)

    def update(self, new_scale: float | None = None) -> None:
        """Back off after an iteration with an inf/NaN in any optimizer's gradients; grow after
        ``growth_interval`` clean iterations in a row (see the module docstring); or set ``new_scale``."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(np.float32(new_scale))
        else:
            if not self._iteration:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(r["found_inf"] for r in self._iteration.values()):
                self._scale = rescaled(self._scale, self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = rescaled(self._scale, self._growth_factor)
                self._scale = grown if np.isfinite(grown) else self._scale
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._iteration = {}

    def state_dict(self) -> dict[str, Any]:
        """torch's five entries (empty when disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._scale = float(np.float32(state_dict["scale"]))
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = state_dict["_growth_tracker"]

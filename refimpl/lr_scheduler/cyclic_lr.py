r"""CyclicLR: the lr cycles between ``base_lr`` and ``max_lr``, the momentum inversely (Smith 2017).

Paper: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017); torch's code is
adapted from bckenstler/CLR. With :math:`S` = ``step_size_up + step_size_down`` (floats), the up-ratio
:math:`r = \text{step\_size\_up} / S` and :math:`e` = ``last_epoch`` (the index of the last *batch*):

.. math::
    c = \lfloor 1 + e / S \rfloor, \qquad x = 1 + e / S - c \in [0, 1), \qquad
    h = \begin{cases} x / r & x \le r \\ (x - 1) / (r - 1) & x > r \end{cases}

    \eta = \eta_{base} + (\eta_{max} - \eta_{base})\, h\, f(z), \qquad
    m = m_{max} - (m_{max} - m_{base})\, h\, f(z)

where :math:`z = c` (``scale_mode='cycle'``) or :math:`z = e` (``'iterations'``) and :math:`f` is the
scale function: ``triangular`` :math:`f = 1`; ``triangular2`` :math:`f(c) = 1 / 2^{c - 1}` (amplitude
halved each cycle); ``exp_range`` :math:`f(e) = \gamma^e`; or a user ``scale_fn`` (then ``mode`` is
ignored and ``scale_mode`` is the user's; the built-in modes force their own ``scale_mode``).

The momentum :math:`m` (``momentum``, or beta1 for optimizers with ``betas``) is written into the groups
as a side effect of computing the lrs, when ``cycle_momentum`` (the default: an optimizer with neither
key raises torch's ValueError).

Where the reference follows torch's code:

- Construction sets every group's lr to ``base_lr`` (fresh start only); the base class then records
  ``initial_lr`` with ``setdefault``, and the constructor's initial step computes the first lr from
  ``base_lrs`` = the groups' ``initial_lr``. Only *after* that step are ``base_lrs`` replaced by the
  ``base_lr`` argument. So on an optimizer that already holds ``initial_lr`` (e.g. from an earlier
  scheduler), the lr after construction is that ``initial_lr``, not ``base_lr``; later steps use
  ``base_lr``.
- ``state_dict()`` drops the built-in scale function and stores a custom ``scale_fn`` only if it is a
  callable *object* (its ``__dict__``); a plain function or lambda is saved as ``None``, and
  ``load_state_dict`` keeps the scheduler's current one. ``load_state_dict`` pops ``_scale_fn_custom``
  from the dict it is given, as torch's does.
- ``step(epoch)`` (deprecated) sets ``last_epoch = epoch`` and evaluates the same formula (no closed form).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from refimpl.lr_scheduler._momentum import check_optimizer, init_momenta, set_momentum
from refimpl.lr_scheduler.scheduler import LRScheduler, per_group
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

TABLE = Table(
    (
        Rule(
            ("mode", "scale_fn"),
            lambda h: h["mode"] in ("triangular", "triangular2", "exp_range") or h["scale_fn"] is not None,
            "mode is invalid and scale_fn is None",
        ),
    )
)


class CyclicLR(LRScheduler):
    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        TABLE.validate({"mode": mode, "scale_fn": scale_fn})
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            named = [("base_momentum", base_momentum), ("max_momentum", max_momentum)]
            self.use_beta1, momenta = init_momenta(optimizer, named, last_epoch)
            self.base_momentums = momenta["base_momentum"]
            self.max_momentums = momenta["max_momentum"]
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    # -- scale functions ------------------------------------------------------------------------------------

    def _init_scale_fn(self) -> None:
        """The built-in mode's scale function and the ``scale_mode`` it implies (none with a custom one)."""
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref: Callable[[float], float] = self._triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = self._triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: float) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: float) -> float:
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: float) -> float:
        return gamma**x

    # -- schedule -------------------------------------------------------------------------------------------

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        z = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [
            base_lr + (max_lr - base_lr) * scale_factor * self.scale_fn(z)
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            momenta = [
                max_m - (max_m - base_m) * scale_factor * self.scale_fn(z)
                for base_m, max_m in zip(self.base_momentums, self.max_momentums, strict=True)
            ]
            for group, momentum in zip(self.optimizer.param_groups, momenta, strict=True):
                set_momentum(group, self.use_beta1, momentum)
        return lrs

    # -- state dicts ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The base's, without the built-in scale function; a custom one only as a callable object's dict."""
        state = super().state_dict()
        state.pop("_scale_fn_ref", None)
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, types.FunctionType):
            state["_scale_fn_custom"] = fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        fn = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)  # type: ignore[union-attr]
        self._init_scale_fn()

"""torch's LR schedulers as optax schedules, driven as an optax user drives them.

An optax schedule is a function of the update count, passed as ``learning_rate`` (``inject_hyperparams``
evaluates it at its state's count, then counts the update). The lr torch shows in ``param_groups`` after
epoch ``t`` is the lr its next step uses; the optax counterpart is the schedule at the count, which is what
the next ``update`` uses (see ``OptaxSchedulerRun``). Each param group gets its own schedule (base lr: the
group's ``initial_lr`` if it has one, else its ``lr``), as ``optax.partition`` gives a user. The mapping
(torch -> optax):

=========================== ==========================================================================
StepLR(step_size, gamma)    ``exponential_decay(lr, transition_steps=step_size, decay_rate=gamma,
                            staircase=True)``
ExponentialLR(gamma)        ``exponential_decay(lr, transition_steps=1, decay_rate=gamma)``
MultiStepLR(milestones, g)  ``piecewise_constant_schedule(lr, {m: g ** (times m is listed)})``
ConstantLR(factor, total)   ``join_schedules([constant(lr * factor), constant(lr)], [total])``
LinearLR(start, end, total) ``linear_schedule(lr * start, lr * end, transition_steps=total)``
PolynomialLR(total, power)  ``polynomial_schedule(lr, 0, power, transition_steps=total)`` (under
                            ``jax.jit`` XLA computes ``1 - count / total`` as ``1 - count * (1 / total)``,
                            ``-1.5e-8`` at ``count = total = 20``: a fractional ``power`` then makes
                            the lr NaN from there on, ``jax.jit(optax.polynomial_schedule(0.1, 0, 1.5,
                            20))(20)``; evaluated op by op, as here, it is 0)
CosineAnnealingLR(T, min)   ``cosine_decay_schedule(lr, decay_steps=T, alpha=min / lr)``
CosineAnnealingWarmRestarts ``sgdr_schedule`` of cosine cycles ``T_0, T_0 T_mult, ...`` from lr to eta_min
OneCycleLR                  ``cosine_onecycle_schedule(total_steps, max_lr, pct_start, div_factor,
                            final_div_factor)``; ``anneal_strategy="linear"`` with ``three_phase`` ->
                            ``linear_onecycle_schedule(..., pct_final=2 * pct_start)``; momentum is not
                            cycled (optax's one-cycle schedules are lr schedules)
SequentialLR(s, milestones) ``join_schedules([...], boundaries=milestones)``
ReduceLROnPlateau           ``optax.contrib.reduce_on_plateau(factor, patience, rtol, atol, cooldown,
                            min_scale=min_lr / lr)`` after the optimizer, fed ``value=metric``; the lr is
                            lr * its scale; ``threshold_mode="rel"`` -> ``rtol``, ``"abs"`` -> ``atol``;
                            ``mode="max"``: the metric negated (optax minimises)
=========================== ==========================================================================

``last_epoch=N`` (resuming): the count starts at ``N + 1``, where torch's constructor leaves its epoch.
Not available in optax: LambdaLR, MultiplicativeLR (any Python function is a schedule, but optax ships
none of these), CyclicLR, ChainedScheduler; several schedulers on one optimizer (torch multiplies them,
optax takes one schedule), and an lr set by hand between epochs (a schedule overwrites it) are "not
supported".
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax.contrib import reduce_on_plateau

from conformance.adapters.base import NotSupported
from conformance.adapters.jax_support import CLOSED_FORM_SCHEDULERS
from conformance.adapters.optax_adapter.optimizers import port

SCHEDULERS = (*CLOSED_FORM_SCHEDULERS, "OneCycleLR", "SequentialLR", "ReduceLROnPlateau")
# The fewest counts a run's lr table holds: one shape (XLA compiles each op per shape) for the property
# layer's examples (up to 30 epochs) and the vectors' (up to 110 epochs, resumed at counts up to 41).
TABLE_MIN = 256
# sgdr_schedule takes a finite list of cycles and evaluates every cycle at each count (T_0=1: one cycle
# per count): the cycles built cover the counts a run has read, rounded up to a power of two, at least
# HORIZON_MIN (the property layer's examples); only one where the spec is merely checked.
HORIZON_MIN = 32
SGDR_CYCLES = 1
# What ReduceLROnPlateau's transformation is initialised on and scales (its state does not depend on it):
# NumPy float64, which JAX keeps float64 once the adapter has set jax_enable_x64.
PLATEAU_PARAMS = np.zeros(2)


def _per_group(value: Any, group: int) -> Any:
    """torch's scheduler arguments that may be one value or one per group (max_lr, min_lr)."""
    return value[group] if isinstance(value, list | tuple) else value


def schedule(spec: dict[str, Any], lr: float, group: int, horizon: int) -> Any:
    """The optax schedule of one torch scheduler spec, for a group whose base lr is ``lr``, exact at counts
    below ``horizon`` (warm restarts build the cycles that start there)."""
    name, k = spec["scheduler"], spec["kwargs"]
    if name == "StepLR":
        return optax.exponential_decay(lr, k["step_size"], k.get("gamma", 0.1), staircase=True)
    if name == "ExponentialLR":
        return optax.exponential_decay(lr, 1, k["gamma"])
    if name == "MultiStepLR":
        gamma = k.get("gamma", 0.1)
        return optax.piecewise_constant_schedule(
            lr, {m: gamma**n for m, n in Counter(k["milestones"]).items()}
        )
    if name == "ConstantLR":
        factor = k.get("factor", 1 / 3)
        return optax.join_schedules(
            [optax.constant_schedule(lr * factor), optax.constant_schedule(lr)], [k.get("total_iters", 5)]
        )
    if name == "LinearLR":
        start, end = k.get("start_factor", 1 / 3), k.get("end_factor", 1.0)
        return optax.linear_schedule(lr * start, lr * end, k.get("total_iters", 5))
    if name == "PolynomialLR":
        return optax.polynomial_schedule(lr, 0.0, k.get("power", 1.0), k.get("total_iters", 5))
    if name == "CosineAnnealingLR":
        return optax.cosine_decay_schedule(lr, k["T_max"], alpha=k.get("eta_min", 0.0) / lr)
    if name == "CosineAnnealingWarmRestarts":
        return _warm_restarts(lr, k["T_0"], k.get("T_mult", 1), k.get("eta_min", 0.0), horizon)
    if name == "OneCycleLR":
        return _one_cycle(k, group)
    if name == "SequentialLR":
        nested = [schedule(s, lr, group, horizon) for s in k["schedulers"]]
        return optax.join_schedules(nested, list(k["milestones"]))
    raise NotSupported(f"optax has no counterpart of {name}")


def _warm_restarts(lr: float, t0: int, t_mult: int, eta_min: float, horizon: int) -> Any:
    cycles, length, total = [], t0, 0
    while total < horizon:
        cycles.append(
            {
                "init_value": lr,
                "peak_value": lr,
                "warmup_steps": 0,
                "decay_steps": length,
                "end_value": eta_min,
            }
        )
        total += length
        length *= t_mult
    return optax.sgdr_schedule(cycles)


def _one_cycle(k: dict[str, Any], group: int) -> Any:
    total = k.get("total_steps") or k["epochs"] * k["steps_per_epoch"]
    peak = _per_group(k["max_lr"], group)
    pct = k.get("pct_start", 0.3)
    args = {"div_factor": k.get("div_factor", 25.0), "final_div_factor": k.get("final_div_factor", 1e4)}
    if k.get("anneal_strategy", "cos") == "linear":
        if not k.get("three_phase"):
            raise NotSupported(
                "OneCycleLR(anneal_strategy='linear') in two phases: optax's linear one-cycle has three"
            )
        return optax.linear_onecycle_schedule(total, peak, pct_start=pct, pct_final=2 * pct, **args)
    if k.get("three_phase"):
        raise NotSupported(
            "OneCycleLR(three_phase=True) with cosine annealing: optax's cosine one-cycle has two phases"
        )
    return optax.cosine_onecycle_schedule(total, peak, pct_start=pct, **args)


def _plateau(k: dict[str, Any], lr: float, group: int) -> Any:
    if k.get("eps", 1e-8) != 1e-8:
        raise NotSupported(f"ReduceLROnPlateau(eps={k['eps']}): optax's reduce_on_plateau has no eps")
    threshold = k.get("threshold", 1e-4)
    rel = k.get("threshold_mode", "rel") == "rel"
    return reduce_on_plateau(
        factor=k.get("factor", 0.1),
        patience=k.get("patience", 10),
        # Not tolerances: torch's threshold mapped to optax's (threshold_mode "rel" is optax's rtol,
        # "abs" its atol).
        rtol=threshold if rel else 0.0,
        atol=0.0 if rel else threshold,
        cooldown=k.get("cooldown", 0),
        min_scale=_per_group(k.get("min_lr", 0.0), group) / lr,
    )


def _plateau_step(tx: Any, state: Any, value: Any) -> Any:
    """``tx.update`` of ``reduce_on_plateau`` with the metric as ``value``; its new state. Run op by op with
    ``jax.disable_jit`` (its ``lax.cond`` then runs the branch the predicate picks, in Python): dispatched
    as is, the ``lax.cond`` is traced and compiled anew at every call (0.3 s an epoch); under ``jax.jit`` a
    run's compilation (its arguments are the program's constants) costs as much as 30 epochs op by op. The
    same operations either way, on scalars."""
    with jax.disable_jit():
        return tx.update(jnp.asarray(PLATEAU_PARAMS), state, value=value)[1]


class OptaxSchedulerRun:
    """The case's schedule per param group, at the count ``inject_hyperparams`` would hold.

    The scheduler checks give the optimizer no gradients (``conformance.adapters.base.SchedulerRun``): only
    the lr the next update would use is observed, and for a schedule that is ``schedule(count)``, a pure
    function of the update count (``inject_hyperparams`` evaluates it at its count, then increments the
    count by one per update). So an epoch increments the count, and the lrs are read from the schedule
    evaluated at once over the counts ``0..n-1`` (``jax.vmap`` of optax's own schedule, executed by XLA as
    a call at each count would be): one evaluation per run instead of one op-by-op JAX dispatch per epoch,
    which made the suite's scheduler checks take minutes. ``tests/test_jax_adapters.py`` checks that these
    lrs are the ones a real ``inject_hyperparams`` update loop uses.

    ReduceLROnPlateau depends on the metrics, so it is stepped: its transformation's ``update`` with the
    metric as ``value`` (its state depends on nothing else; chained after the optimizer, it multiplies the
    updates by its scale, and the lr is the base lr times that scale).
    """

    def __init__(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict
    ) -> None:
        if len(specs) != 1:
            raise NotSupported(f"{len(specs)} schedulers on one optimizer: optax takes one schedule")
        self.spec = specs[0]
        kwargs = self.spec["kwargs"]
        self.plateau = self.spec["scheduler"] == "ReduceLROnPlateau"
        self.sign = -1.0 if kwargs.get("mode", "min") == "max" else 1.0
        self.base = [float(g.get("initial_lr", g.get("lr", hyper.get("lr", 1e-3)))) for g in groups]
        # The optimizer's optax hyperparameters (betas, momentum): injected constants, read back as given.
        own = [{k: v for k, v in g.items() if k not in ("params", "initial_lr")} for g in groups]
        self.hyper = [port(optimizer, {**hyper, **o}).hyper for o in own]
        self.tables: list[np.ndarray] = []
        self.horizon = 0
        if self.plateau:
            self.plateaus = [_plateau(kwargs, self.base[i], i) for i in range(len(groups))]
            self.state: Any = [p.init(jnp.asarray(PLATEAU_PARAMS)) for p in self.plateaus]
        else:
            for i in range(len(groups)):  # refused here, as optax refuses it when the schedule is built
                schedule(self.spec, self.base[i], i, SGDR_CYCLES)
            # resuming with last_epoch=N: the count starts where torch's constructor leaves its epoch
            self.state = kwargs.get("last_epoch", -1) + 1

    def step(self, metric: float | None = None) -> None:
        if not self.plateau:
            self.state += 1
            return
        value = jnp.asarray(self.sign * metric, jnp.float64)
        self.state = [_plateau_step(p, s, value) for p, s in zip(self.plateaus, self.state, strict=True)]

    def group_values(self, key: str) -> list[Any]:
        if key == "lr":
            if self.plateau:
                return [base * float(s.scale) for base, s in zip(self.base, self.state, strict=True)]
            return [float(table[self.state]) for table in self._tables(self.state + 1)]
        if key == "betas" and "b1" in self.hyper[0]:
            return [(h["b1"], h["b2"]) for h in self.hyper]
        if key == "momentum" and "momentum" in self.hyper[0]:
            return [h["momentum"] for h in self.hyper]
        raise NotSupported(f"reading {key!r}: the optax port of this optimizer has no such hyperparameter")

    def _tables(self, length: int) -> list[np.ndarray]:
        """Each group's schedule, exact at counts ``0..length-1`` at least: built for a horizon of the next
        power of two (warm restarts build the cycles that start before it), evaluated over ``TABLE_MIN``
        counts or the horizon (one shape for most runs: XLA compiles each op per shape)."""
        if length > self.horizon:
            self.horizon = max(HORIZON_MIN, 1 << (length - 1).bit_length())
            counts = jnp.arange(max(TABLE_MIN, self.horizon), dtype=jnp.int32)  # optax's count is int32
            self.tables = [
                np.asarray(jax.vmap(schedule(self.spec, base, i, self.horizon))(counts), dtype=np.float64)
                for i, base in enumerate(self.base)
            ]
        return self.tables

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        raise NotSupported(
            f"setting {key} by hand between epochs: an optax schedule is a function of the step count"
        )

    def state_dict(self) -> Any:
        return copy.deepcopy(self.state)

    def load_state_dict(self, state_dict: Any) -> None:
        self.state = copy.deepcopy(state_dict)

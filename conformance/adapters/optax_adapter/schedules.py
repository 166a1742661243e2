"""torch's LR schedulers as optax schedules, driven as an optax user drives them.

An optax schedule is a function of the update count passed as ``learning_rate``; here through
``optax.inject_hyperparams``, whose state holds the count. The lr torch shows in ``param_groups`` after
epoch ``t`` is the lr its next step uses; the optax counterpart is the schedule at the state's count, which
is what the next ``update`` uses. Each param group gets its own schedule (base lr: the group's
``initial_lr`` if it has one, else its ``lr``) through ``optax.partition``. The mapping (torch -> optax):

=========================== ==========================================================================
StepLR(step_size, gamma)    ``exponential_decay(lr, transition_steps=step_size, decay_rate=gamma,
                            staircase=True)``
ExponentialLR(gamma)        ``exponential_decay(lr, transition_steps=1, decay_rate=gamma)``
MultiStepLR(milestones, g)  ``piecewise_constant_schedule(lr, {m: g ** (times m is listed)})``
ConstantLR(factor, total)   ``join_schedules([constant(lr * factor), constant(lr)], [total])``
LinearLR(start, end, total) ``linear_schedule(lr * start, lr * end, transition_steps=total)``
PolynomialLR(total, power)  ``polynomial_schedule(lr, 0, power, transition_steps=total)``
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

import jax.numpy as jnp
import numpy as np
import optax
from optax.contrib import reduce_on_plateau

from conformance.adapters.base import NotSupported
from conformance.adapters.optax_adapter.optimizers import port

SCHEDULERS = (
    "StepLR",
    "ExponentialLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "SequentialLR",
    "ReduceLROnPlateau",
)
# Epochs of warm-restart cycles built (sgdr_schedule takes a finite list and evaluates every cycle's
# schedule at each call): the suite's scheduler cases run a few hundred epochs at most; past the horizon the
# schedule holds its last value, which a longer case would show as a difference.
SGDR_HORIZON = 1_000


def _per_group(value: Any, group: int) -> Any:
    """torch's scheduler arguments that may be one value or one per group (max_lr, min_lr)."""
    return value[group] if isinstance(value, list | tuple) else value


def schedule(spec: dict[str, Any], lr: float, group: int) -> Any:
    """The optax schedule of one torch scheduler spec, for a group whose base lr is ``lr``."""
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
        return _warm_restarts(lr, k["T_0"], k.get("T_mult", 1), k.get("eta_min", 0.0))
    if name == "OneCycleLR":
        return _one_cycle(k, group)
    if name == "SequentialLR":
        return optax.join_schedules([schedule(s, lr, group) for s in k["schedulers"]], list(k["milestones"]))
    raise NotSupported(f"optax has no counterpart of {name}")


def _warm_restarts(lr: float, t0: int, t_mult: int, eta_min: float) -> Any:
    cycles, length, total = [], t0, 0
    while total < SGDR_HORIZON:
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
        rtol=threshold if rel else 0.0,
        atol=0.0 if rel else threshold,
        cooldown=k.get("cooldown", 0),
        min_scale=_per_group(k.get("min_lr", 0.0), group) / lr,
    )


class OptaxSchedulerRun:
    """The case's optimizer (its optax port, see ``optimizers``) with the case's schedule as its lr."""

    def __init__(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict
    ) -> None:
        if len(specs) != 1:
            raise NotSupported(f"{len(specs)} schedulers on one optimizer: optax takes one schedule")
        spec = specs[0]
        self.plateau = spec["scheduler"] == "ReduceLROnPlateau"
        self.sign = -1.0 if spec["kwargs"].get("mode", "min") == "max" else 1.0
        self.n_groups = len(groups)
        self.base = [float(g.get("initial_lr", g.get("lr", hyper.get("lr", 1e-3)))) for g in groups]
        transforms, self.ports = {}, []
        for i, g in enumerate(groups):
            options = {**hyper, **{k: v for k, v in g.items() if k not in ("params", "initial_lr")}}
            p = port(optimizer, options)
            self.ports.append(p)
            inject = optax.inject_hyperparams(p.factory, static_args=tuple(p.static))
            if self.plateau:
                tx = optax.chain(inject(**p.hyper, **p.static), _plateau(spec["kwargs"], self.base[i], i))
            else:
                tx = inject(**{**p.hyper, "learning_rate": schedule(spec, self.base[i], i)}, **p.static)
            transforms[f"group{i}"] = tx
        self.params = [jnp.zeros(np.shape(p), dtype=jnp.float64) for g in groups for p in g["params"]]
        labels = [f"group{i}" for i, g in enumerate(groups) for _ in g["params"]]
        self.tx = optax.partition(transforms, labels)
        self.state = self.tx.init(self.params)
        last_epoch = spec["kwargs"].get("last_epoch", -1)
        if last_epoch >= 0:
            self.state = self._with_count(last_epoch + 1)
        self._schedules = [
            None if self.plateau else schedule(spec, self.base[i], i) for i in range(len(groups))
        ]

    def _with_count(self, count: int) -> Any:
        inner = {
            label: s._replace(inner_state=s.inner_state._replace(count=jnp.asarray(count, jnp.int32)))
            for label, s in self.state.inner_states.items()
        }
        return self.state._replace(inner_states=inner)

    def _inject(self, group: int) -> Any:
        inner = self.state.inner_states[f"group{group}"].inner_state
        return inner[0] if self.plateau else inner

    def step(self, metric: float | None = None) -> None:
        zeros = [jnp.zeros_like(p) for p in self.params]
        extra = {"value": jnp.asarray(self.sign * metric, jnp.float64)} if self.plateau else {}
        _, self.state = self.tx.update(zeros, self.state, self.params, **extra)

    def group_values(self, key: str) -> list[Any]:
        if key == "lr":
            return [self._lr(i) for i in range(self.n_groups)]
        hyperparams = [self._inject(i).hyperparams for i in range(self.n_groups)]
        if key == "betas":
            return [(float(h["b1"]), float(h["b2"])) for h in hyperparams]
        if key == "momentum" and "momentum" in hyperparams[0]:
            return [float(h["momentum"]) for h in hyperparams]
        raise NotSupported(f"reading {key!r}: the optax port of this optimizer has no such hyperparameter")

    def _lr(self, group: int) -> float:
        if self.plateau:
            scale = self.state.inner_states[f"group{group}"].inner_state[1].scale
            return self.base[group] * float(scale)
        return float(self._schedules[group](self._inject(group).count))

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        raise NotSupported(
            f"setting {key} by hand between epochs: an optax schedule is a function of the step count"
        )

    def state_dict(self) -> Any:
        return copy.deepcopy(self.state)

    def load_state_dict(self, state_dict: Any) -> None:
        self.state = copy.deepcopy(state_dict)

"""torch's LR schedulers as ``keras.optimizers.schedules``, passed as the optimizer's ``learning_rate``.

Keras evaluates the schedule at the optimizer's ``iterations`` (the steps taken so far): the lr its next
step uses, which is what torch's ``param_groups[i]["lr"]`` shows after an epoch. Each param group's
optimizer gets its own schedule (base lr: the group's ``initial_lr`` if it has one, else its ``lr``).
The mapping (torch -> Keras):

=========================== ==========================================================================
StepLR(step_size, gamma)    ``ExponentialDecay(lr, decay_steps=step_size, decay_rate=gamma, staircase=True)``
ExponentialLR(gamma)        ``ExponentialDecay(lr, decay_steps=1, decay_rate=gamma)``
MultiStepLR(milestones, g)  ``PiecewiseConstantDecay(boundaries, [lr, lr g, lr g^2, ...])``
ConstantLR(factor, total)   ``PiecewiseConstantDecay([total], [lr * factor, lr])``
LinearLR(start, end, total) ``PolynomialDecay(lr * start, total, end_learning_rate=lr * end, power=1)``
PolynomialLR(total, power)  ``PolynomialDecay(lr, total, end_learning_rate=0, power=power)``
CosineAnnealingLR(T, min)   ``CosineDecay(lr, decay_steps=T, alpha=min / lr)``
CosineAnnealingWarmRestarts ``CosineDecayRestarts(lr, first_decay_steps=T_0, t_mul=T_mult, m_mul=1,
                            alpha=eta_min / lr)``
=========================== ==========================================================================

``last_epoch=N``: ``iterations`` starts at ``N + 1``. Not available in Keras' schedules: LambdaLR,
MultiplicativeLR, SequentialLR, ChainedScheduler, CyclicLR, OneCycleLR, and ReduceLROnPlateau (Keras has it
as a ``fit`` callback on a ``Model``, not as a schedule); an lr set by hand between epochs (a schedule
overwrites it) is "not supported".
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported
from conformance.adapters.jax_support import CLOSED_FORM_SCHEDULERS
from conformance.adapters.keras_adapter.optimizers import keras_port

# The closed forms Keras ships for torch's schedulers: those optax has too.
SCHEDULERS = CLOSED_FORM_SCHEDULERS


def schedule(keras: Any, spec: dict[str, Any], lr: float) -> Any:
    s = keras.optimizers.schedules
    name, k = spec["scheduler"], spec["kwargs"]
    if name == "StepLR":
        return s.ExponentialDecay(lr, k["step_size"], k.get("gamma", 0.1), staircase=True)
    if name == "ExponentialLR":
        return s.ExponentialDecay(lr, 1, k["gamma"])
    if name == "MultiStepLR":
        gamma, counts = k.get("gamma", 0.1), sorted(Counter(k["milestones"]).items())
        values, value = [lr], lr
        for _, n in counts:
            value *= gamma**n
            values.append(value)
        return s.PiecewiseConstantDecay([m for m, _ in counts], values)
    if name == "ConstantLR":
        return s.PiecewiseConstantDecay([k.get("total_iters", 5)], [lr * k.get("factor", 1 / 3), lr])
    if name == "LinearLR":
        start, end = k.get("start_factor", 1 / 3), k.get("end_factor", 1.0)
        return s.PolynomialDecay(lr * start, k.get("total_iters", 5), end_learning_rate=lr * end, power=1.0)
    if name == "PolynomialLR":
        return s.PolynomialDecay(
            lr, k.get("total_iters", 5), end_learning_rate=0.0, power=k.get("power", 1.0)
        )
    if name == "CosineAnnealingLR":
        return s.CosineDecay(lr, k["T_max"], alpha=k.get("eta_min", 0.0) / lr)
    if name == "CosineAnnealingWarmRestarts":
        return s.CosineDecayRestarts(
            lr, k["T_0"], t_mul=float(k.get("T_mult", 1)), m_mul=1.0, alpha=k.get("eta_min", 0.0) / lr
        )
    raise NotSupported(f"Keras has no schedule counterpart of {name}")


class KerasSchedulerRun:
    """One Keras optimizer per group (its port of the case's optimizer) with the schedule as its lr."""

    def __init__(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict
    ) -> None:
        from conformance.adapters.keras_adapter import import_keras

        keras = import_keras()
        if len(specs) != 1:
            raise NotSupported(f"{len(specs)} schedulers on one optimizer: Keras takes one schedule")
        spec = specs[0]
        import jax

        self.optimizers, self.variables, self.rates = [], [], []
        for g in groups:
            options = {**hyper, **{k: v for k, v in g.items() if k not in ("params", "initial_lr")}}
            port = keras_port(optimizer, options)
            base = float(g.get("initial_lr", g.get("lr", hyper.get("lr", 1e-3))))
            # The lr is all a schedule check reads: one variable of one element per group (the params'
            # shapes would cost JAX a compile per new shape and say nothing about the lr).
            variables = [keras.Variable(np.zeros(1), dtype="float64")]
            rate = schedule(keras, spec, base)
            opt = getattr(keras.optimizers, port.cls)(**{**port.kwargs, "learning_rate": rate})
            opt.build(variables)
            self.optimizers.append(opt)
            self.variables.append(variables)
            # What optimizer.learning_rate computes (the schedule at the optimizer's iteration count),
            # compiled once: called eagerly, JAX compiles a schedule's lax.cond (CosineDecayRestarts, ...)
            # anew on every call, which took minutes per property test.
            self.rates.append(jax.jit(rate.__call__))
        last_epoch = spec["kwargs"].get("last_epoch", -1)
        if last_epoch >= 0:
            for opt in self.optimizers:
                opt.iterations.assign(last_epoch + 1)

    def step(self, metric: float | None = None) -> None:
        """What ``apply_gradients`` does to the lr: the optimizer's iteration count advances by one (an eager
        update would evaluate the schedule eagerly, compiling it on every step: see ``__init__``)."""
        for opt in self.optimizers:
            opt.iterations.assign(opt.iterations + 1)

    def group_values(self, key: str) -> list[Any]:
        if key == "lr":
            return [
                float(np.asarray(rate(opt.iterations.value)))
                for rate, opt in zip(self.rates, self.optimizers, strict=True)
            ]
        if key == "betas":
            return [(float(opt.beta_1), float(opt.beta_2)) for opt in self.optimizers]
        if key == "momentum" and hasattr(self.optimizers[0], "momentum"):
            return [float(opt.momentum) for opt in self.optimizers]
        raise NotSupported(f"reading {key!r}: this Keras optimizer has no such hyperparameter")

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        raise NotSupported(
            f"setting {key} by hand between epochs: a Keras schedule is a function of the step count"
        )

    def state_dict(self) -> Any:
        return copy.deepcopy([[np.asarray(v.numpy()) for v in opt.variables] for opt in self.optimizers])

    def load_state_dict(self, state_dict: Any) -> None:
        for opt, values in zip(self.optimizers, state_dict, strict=True):
            for variable, value in zip(opt.variables, values, strict=True):
                variable.assign(value)

"""Each torch optimizer Keras 3 has a counterpart for, built as a Keras user builds it.

``keras_port(name, options)`` takes torch's class name and options (torch's defaults filled in) and returns
the Keras class, its constructor arguments, and where torch's state entries live among the optimizer's
variables. An option without a counterpart raises ``NotSupported`` naming it. The mapping (torch -> Keras):

========== ==================================================================================================
SGD        ``SGD(learning_rate=lr, momentum, nesterov)``; ``dampening``, (coupled) ``weight_decay``: none
Adam       ``Adam(learning_rate=lr, beta_1, beta_2, epsilon=eps, amsgrad)``; ``decoupled_weight_decay`` ->
           Keras' ``weight_decay`` (decoupled: ``p -= p * wd * lr`` before the step, as torch's AdamW);
           coupled (L2) ``weight_decay``: none
AdamW      ``AdamW(learning_rate=lr, weight_decay, beta_1, beta_2, epsilon, amsgrad)``
Adamax     ``Adamax(learning_rate=lr, beta_1, beta_2, epsilon)``
NAdam      ``Nadam(learning_rate=lr, beta_1, beta_2, epsilon)`` (decoupled decay -> ``weight_decay``);
           ``momentum_decay``: Keras' momentum schedule is fixed (see the known deviation)
RMSprop    ``RMSprop(learning_rate=lr, rho=alpha, momentum, epsilon=eps, centered)``
Adagrad    ``Adagrad(learning_rate=lr, initial_accumulator_value, epsilon=eps)``; ``lr_decay``: none
Adadelta   ``Adadelta(learning_rate=lr, rho, epsilon=eps)``
========== ==================================================================================================

``maximize=True``: the gradients are negated before ``apply_gradients`` (Keras minimises; its users negate
the loss). Not available in Keras: SparseAdam, ASGD, Rprop, LBFGS, RAdam; Muon and Adafactor exist but with
other algorithms' hyperparameters (Keras' Muon runs AdamW on some variables and scales by ``rms_rate``;
its Adafactor has ``relative_step``) and are not mapped here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import refimpl.optim
from conformance.adapters.base import NotSupported
from conformance.adapters.jax_support import LACKS as JAX_LACKS
from conformance.adapters.jax_support import TORCH_STATE_KEYS


@dataclass(frozen=True)
class KerasPort:
    cls: str
    kwargs: dict[str, Any]
    # torch state key -> the optimizer attribute holding one variable per param ("iterations": the count)
    state: dict[str, str] = field(default_factory=dict)
    # keys Keras holds as lr x torch's (momentum folded with the lr): the factor's sign per key
    lr_scaled: dict[str, float] = field(default_factory=dict)


def defaults(name: str) -> dict[str, Any]:
    params = inspect.signature(getattr(refimpl.optim, name).__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _no(name: str, option: str, value: Any, why: str) -> NotSupported:
    return NotSupported(f"Keras has no counterpart of {name}'s {option}={value!r}: {why}")


def _coupled_decay(name: str, o: dict[str, Any], decoupled: bool) -> dict[str, Any]:
    if not o.get("weight_decay"):
        return {}
    if not decoupled:
        raise _no(name, "weight_decay", o["weight_decay"], "Keras' weight_decay is decoupled (AdamW's)")
    return {"weight_decay": float(o["weight_decay"])}


def _betas(o: dict[str, Any]) -> dict[str, float]:
    return {"beta_1": float(o["betas"][0]), "beta_2": float(o["betas"][1])}


ADAM_STATE = {"step": "iterations", "exp_avg": "_momentums", "exp_avg_sq": "_velocities"}


def keras_port(name: str, options: dict[str, Any]) -> KerasPort:
    if name not in PORTED:
        raise NotSupported(f"Keras has no {name}")
    o = {**defaults(name), **options}
    lr = {"learning_rate": float(o["lr"])}
    if name == "SGD":
        if o["dampening"]:
            raise _no(name, "dampening", o["dampening"], "Keras' momentum has no dampening")
        kwargs = {**lr, "momentum": float(o["momentum"]), "nesterov": bool(o["nesterov"])}
        # Keras' momentum variable is m = mu m - lr g: -lr x torch's buffer while the lr is constant
        state, scaled = {"momentum_buffer": "momentums"}, {"momentum_buffer": -1.0}
        return KerasPort("SGD", {**kwargs, **_coupled_decay(name, o, False)}, state, scaled)
    if name in ("Adam", "AdamW"):
        decoupled = bool(o.get("decoupled_weight_decay", name == "AdamW"))
        kwargs = {**lr, **_betas(o), "epsilon": float(o["eps"]), "amsgrad": bool(o["amsgrad"])}
        state = {**ADAM_STATE, "max_exp_avg_sq": "_velocity_hats"} if o["amsgrad"] else ADAM_STATE
        cls = "AdamW" if decoupled and name == "AdamW" else "Adam"
        if cls == "AdamW":
            return KerasPort(cls, {**kwargs, "weight_decay": float(o["weight_decay"])}, state)
        return KerasPort(cls, {**kwargs, **_coupled_decay(name, o, decoupled)}, state)
    if name == "Adamax":
        kwargs = {**lr, **_betas(o), "epsilon": float(o["eps"]), **_coupled_decay(name, o, False)}
        return KerasPort("Adamax", kwargs, {"step": "iterations", "exp_avg": "_m", "exp_inf": "_u"})
    if name == "NAdam":
        decoupled = bool(o["decoupled_weight_decay"])
        kwargs = {**lr, **_betas(o), "epsilon": float(o["eps"]), **_coupled_decay(name, o, decoupled)}
        # Keras' u_product is torch's mu_product (one per optimizer, the same for every param of the group):
        # without it a resumed run would restart the momentum schedule's product.
        return KerasPort("Nadam", kwargs, {**ADAM_STATE, "mu_product": "_u_product"})
    if name == "RMSprop":
        kwargs = {
            **lr,
            "rho": float(o["alpha"]),
            "momentum": float(o["momentum"]),
            "epsilon": float(o["eps"]),
            "centered": bool(o["centered"]),
            **_coupled_decay(name, o, False),
        }
        state = {"step": "iterations", "square_avg": "_velocities"}
        if o["centered"]:
            state["grad_avg"] = "_average_gradients"
        if o["momentum"]:
            state["momentum_buffer"] = "_momentums"
        # Keras' momentum accumulates lr * g / denominator: lr x torch's buffer while the lr is constant
        return KerasPort("RMSprop", kwargs, state, {"momentum_buffer": 1.0})
    if name == "Adagrad":
        if o["lr_decay"]:
            raise _no(name, "lr_decay", o["lr_decay"], "Keras' Adagrad takes a constant lr or a schedule")
        kwargs = {
            **lr,
            "initial_accumulator_value": float(o["initial_accumulator_value"]),
            "epsilon": float(o["eps"]),
            **_coupled_decay(name, o, False),
        }
        return KerasPort("Adagrad", kwargs, {"step": "iterations", "sum": "_accumulators"})
    # Adadelta
    kwargs = {**lr, "rho": float(o["rho"]), "epsilon": float(o["eps"]), **_coupled_decay(name, o, False)}
    state = {"step": "iterations", "square_avg": "_accumulated_grads", "acc_delta": "_accumulated_delta_vars"}
    return KerasPort("Adadelta", kwargs, state)


PORTED = ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RMSprop", "Adagrad", "Adadelta")
# Options Keras has no counterpart for at all (a check setting one is "not supported: <option>"): those
# optax lacks too (jax_support.LACKS); coupled weight decay is refused where it is asked for (Adam's
# decoupled one is Keras' weight_decay).
LACKS = JAX_LACKS
# torch's state entries the ports keep (jax_support.TORCH_STATE_KEYS), and NAdam's mu_product, which Keras
# keeps as its momentum-schedule product.
STATE_KEYS = {
    **{name: TORCH_STATE_KEYS[name] for name in PORTED},
    "NAdam": (*TORCH_STATE_KEYS["NAdam"], "mu_product"),
}

"""Each torch optimizer that optax has a counterpart for, written as an optax user writes it.

``port(name, options)`` takes a torch class name and its options (torch's defaults filled in) and returns a
``Port``: the optax factory, its float hyperparameters (injected with ``optax.inject_hyperparams``, so they
can change between steps as ``param_groups[i][key] = value`` does in torch), the arguments that fix the
transformation's structure, and where torch's state entries live in optax's state. An option optax has no
counterpart for raises ``NotSupported`` naming it; an option the counterpart has no use for (``foreach``,
``capturable``...) is ignored. The mapping, per class (torch name -> optax):

========== ==================================================================================================
SGD        ``optax.sgd(lr, momentum or None, nesterov)``; ``weight_decay`` -> ``add_decayed_weights`` first
           (torch adds ``wd * p`` to the gradient); ``dampening`` != 0: not supported (``trace`` has none)
Adam       ``optax.adam(lr, b1, b2, eps)``; ``amsgrad`` -> ``optax.amsgrad``; ``weight_decay`` (coupled L2)
           -> ``add_decayed_weights`` first; ``decoupled_weight_decay`` -> ``optax.adamw(weight_decay=wd)``
           (with amsgrad: ``chain(scale_by_amsgrad, add_decayed_weights, scale_by_learning_rate)``)
AdamW      as Adam with ``decoupled_weight_decay=True``
Adamax     ``optax.adamax(lr, b1, b2, eps)``, coupled ``weight_decay`` as Adam's
NAdam      ``optax.nadam(lr, b1, b2, eps)`` (``nadamw`` when decoupled); ``momentum_decay`` has no counterpart
           (optax's NAdam has no momentum schedule: see the known deviation)
RAdam      ``optax.radam(lr, b1, b2, eps, threshold=5)``; decoupled: ``chain(scale_by_radam,
           add_decayed_weights, scale_by_learning_rate)``
RMSprop    ``optax.rmsprop(lr, decay=alpha, eps, eps_in_sqrt=False, centered, momentum or None)`` (torch adds
           eps outside the root)
Adagrad    ``optax.adagrad(lr, initial_accumulator_value, eps)``; ``lr_decay`` != 0: not supported
Adadelta   ``optax.adadelta(lr, rho, eps, weight_decay)``
Rprop      ``optax.rprop(lr, eta_minus, eta_plus, min_step_size, max_step_size)`` (``etas``, ``step_sizes``)
LBFGS      ``optax.lbfgs(lr, memory_size=history_size, linesearch=None)``, one torch step = up to
           ``max_iter`` optax updates (see ``run.OptaxRun.step_closure``); ``line_search_fn``: not supported
           (optax's zoom line search differentiates the objective with JAX; the suite's objectives are NumPy)
Muon       ``optax.contrib.muon(lr, ns_coeffs, ns_steps, beta=momentum, eps, weight_decay, nesterov)``;
           ``adjust_lr_fn="match_rms_adamw"`` -> ``consistent_rms=0.2``
========== ==================================================================================================

Every class: ``maximize=True`` -> ``optax.scale(-1.0)`` first (optax minimises; its users negate the
loss, which negates the gradient before anything else, as torch's ``maximize`` does). Not available in
optax: ASGD, SparseAdam, and Adafactor in torch's form (optax's ``adafactor`` is the paper's algorithm with
other hyperparameters and no ``beta2_decay``/``d`` counterpart we could map without changing its meaning).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import optax
from optax.contrib import muon as optax_muon

import refimpl.optim
from conformance.adapters.base import NotSupported
from conformance.adapters.jax_support import LACKS as JAX_LACKS
from conformance.adapters.jax_support import TORCH_STATE_KEYS

# A torch state entry -> the (optax state class name, field) pairs holding it: read from the first, written
# to all on loading. "step" is always the update count of ``inject_hyperparams``' state too.
StateMap = dict[str, list[tuple[str, str]]]
STEP = ("InjectHyperparamsState", "count")
# torch options that choose an implementation, not the arithmetic.
IMPLEMENTATION_OPTIONS = frozenset({"foreach", "fused", "capturable", "differentiable"})


@dataclass(frozen=True)
class Port:
    """A torch optimizer as optax builds it: ``factory(**hyper, **static)`` is the transformation."""

    factory: Any
    hyper: dict[str, float]
    static: dict[str, Any] = field(default_factory=dict)
    state: StateMap = field(default_factory=dict)
    # Entries optax holds as -lr x torch's (a momentum trace taken after scale_by_learning_rate, which
    # multiplies by -lr): converted with the current lr both ways, exact while the lr is constant.
    lr_scaled: frozenset[str] = frozenset()
    # Entries a torch checkpoint loads into but that cannot be read back as torch's quantity.
    load_only: frozenset[str] = frozenset()


def defaults(name: str) -> dict[str, Any]:
    """torch's defaults for ``name``, from the reference's signature (which mirrors torch's)."""
    params = inspect.signature(getattr(refimpl.optim, name).__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _prefix(maximize: bool, l2: float | None) -> list[Any]:
    """What comes before the optimizer: the sign flip of ``maximize``, then coupled (L2) weight decay, in
    torch's order (the gradient is negated first, then ``wd * p`` is added)."""
    out = [optax.scale(-1.0)] if maximize else []
    return [*out, optax.add_decayed_weights(l2)] if l2 is not None else out


def _sgd(learning_rate, momentum, weight_decay, *, maximize, nesterov, use_momentum, l2):
    core = optax.sgd(learning_rate, momentum if use_momentum else None, nesterov=nesterov)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _adam(learning_rate, b1, b2, eps, weight_decay, *, maximize, amsgrad, decoupled, l2):
    if decoupled and amsgrad:
        core = optax.chain(
            optax.scale_by_amsgrad(b1, b2, eps),
            optax.add_decayed_weights(weight_decay),
            optax.scale_by_learning_rate(learning_rate),
        )
    elif decoupled:
        core = optax.adamw(learning_rate, b1, b2, eps, weight_decay=weight_decay)
    elif amsgrad:
        core = optax.amsgrad(learning_rate, b1, b2, eps)
    else:
        core = optax.adam(learning_rate, b1, b2, eps)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _adamax(learning_rate, b1, b2, eps, weight_decay, *, maximize, l2):
    core = optax.adamax(learning_rate, b1, b2, eps)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _nadam(learning_rate, b1, b2, eps, weight_decay, *, maximize, decoupled, l2):
    if decoupled:
        core = optax.nadamw(learning_rate, b1, b2, eps, weight_decay=weight_decay)
    else:
        core = optax.nadam(learning_rate, b1, b2, eps)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _radam(learning_rate, b1, b2, eps, weight_decay, *, maximize, decoupled, l2):
    if decoupled:
        core = optax.chain(
            optax.scale_by_radam(b1, b2, eps, threshold=5.0),
            optax.add_decayed_weights(weight_decay),
            optax.scale_by_learning_rate(learning_rate),
        )
    else:
        core = optax.radam(learning_rate, b1, b2, eps, threshold=5.0)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _rmsprop(learning_rate, decay, eps, momentum, weight_decay, *, maximize, centered, use_momentum, l2):
    core = optax.rmsprop(
        learning_rate,
        decay=decay,
        eps=eps,
        eps_in_sqrt=False,
        centered=centered,
        momentum=momentum if use_momentum else None,
    )
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _adagrad(learning_rate, initial_accumulator_value, eps, weight_decay, *, maximize, l2):
    core = optax.adagrad(learning_rate, initial_accumulator_value, eps)
    return optax.chain(*_prefix(maximize, weight_decay if l2 else None), core)


def _adadelta(learning_rate, rho, eps, weight_decay, *, maximize):
    return optax.chain(*_prefix(maximize, None), optax.adadelta(learning_rate, rho, eps, weight_decay))


def _rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size, *, maximize):
    core = optax.rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return optax.chain(*_prefix(maximize, None), core)


def _lbfgs(learning_rate, *, memory_size):
    return optax.lbfgs(learning_rate, memory_size=memory_size, linesearch=None)


def _muon(learning_rate, beta, eps, weight_decay, *, ns_coeffs, ns_steps, nesterov, consistent_rms):
    return optax_muon(
        learning_rate,
        ns_coeffs=ns_coeffs,
        ns_steps=ns_steps,
        beta=beta,
        eps=eps,
        weight_decay=weight_decay,
        nesterov=nesterov,
        consistent_rms=consistent_rms,
    )


def _unsupported(name: str, option: str, value: Any, why: str) -> NotSupported:
    return NotSupported(f"optax has no counterpart of {name}'s {option}={value!r}: {why}")


def _adam_state(amsgrad: bool) -> StateMap:
    cls = "ScaleByAmsgradState" if amsgrad else "ScaleByAdamState"
    state: StateMap = {"step": [(cls, "count"), STEP], "exp_avg": [(cls, "mu")], "exp_avg_sq": [(cls, "nu")]}
    return {**state, "max_exp_avg_sq": [(cls, "nu_max")]} if amsgrad else state


def port(name: str, options: dict[str, Any]) -> Port:
    """The optax port of torch's ``name`` with ``options`` (torch's names; missing ones take torch's
    defaults). Raises ``NotSupported`` for a class or option optax has no counterpart for."""
    o = {**defaults(name), **options} if name in PORTS else options
    if name not in PORTS:
        raise NotSupported(f"optax has no {name}")
    return PORTS[name](name, o)


def _betas(o: dict[str, Any]) -> dict[str, float]:
    return {"b1": float(o["betas"][0]), "b2": float(o["betas"][1])}


def _sgd_port(name: str, o: dict[str, Any]) -> Port:
    if o["dampening"]:
        raise _unsupported(name, "dampening", o["dampening"], "optax.trace has no dampening")
    hyper = {
        "learning_rate": float(o["lr"]),
        "momentum": float(o["momentum"]),
        "weight_decay": float(o["weight_decay"]),
    }
    static = {
        "maximize": bool(o["maximize"]),
        "nesterov": bool(o["nesterov"]),
        "use_momentum": bool(o["momentum"]),
        "l2": bool(o["weight_decay"]),
    }
    return Port(_sgd, hyper, static, {"momentum_buffer": [("TraceState", "trace")]})


def _adam_port(name: str, o: dict[str, Any]) -> Port:
    # torch's AdamW is Adam with decoupled_weight_decay=True (a group may still set it False)
    decoupled = bool(o.get("decoupled_weight_decay", name == "AdamW"))
    hyper = {
        "learning_rate": float(o["lr"]),
        **_betas(o),
        "eps": float(o["eps"]),
        "weight_decay": float(o["weight_decay"]),
    }
    static = {
        "maximize": bool(o["maximize"]),
        "amsgrad": bool(o["amsgrad"]),
        "decoupled": decoupled,
        "l2": bool(o["weight_decay"]) and not decoupled,
    }
    return Port(_adam, hyper, static, _adam_state(bool(o["amsgrad"])))


def _adamax_port(name: str, o: dict[str, Any]) -> Port:
    hyper = {
        "learning_rate": float(o["lr"]),
        **_betas(o),
        "eps": float(o["eps"]),
        "weight_decay": float(o["weight_decay"]),
    }
    static = {"maximize": bool(o["maximize"]), "l2": bool(o["weight_decay"])}
    cls = "ScaleByAdamState"
    state = {"step": [(cls, "count"), STEP], "exp_avg": [(cls, "mu")], "exp_inf": [(cls, "nu")]}
    return Port(_adamax, hyper, static, state)


def _decoupled_port(factory: Any) -> Any:
    """NAdam's and RAdam's ports: Adam's hyperparameters, weight decay decoupled or coupled (L2) as the
    group's ``decoupled_weight_decay`` says, Adam's state."""

    def make(name: str, o: dict[str, Any]) -> Port:
        decoupled = bool(o["decoupled_weight_decay"])
        hyper = {
            "learning_rate": float(o["lr"]),
            **_betas(o),
            "eps": float(o["eps"]),
            "weight_decay": float(o["weight_decay"]),
        }
        static = {
            "maximize": bool(o["maximize"]),
            "decoupled": decoupled,
            "l2": bool(o["weight_decay"]) and not decoupled,
        }
        return Port(factory, hyper, static, _adam_state(False))

    return make


def _rmsprop_port(name: str, o: dict[str, Any]) -> Port:
    hyper = {
        "learning_rate": float(o["lr"]),
        "decay": float(o["alpha"]),
        "eps": float(o["eps"]),
        "momentum": float(o["momentum"]),
        "weight_decay": float(o["weight_decay"]),
    }
    centered = bool(o["centered"])
    static = {
        "maximize": bool(o["maximize"]),
        "centered": centered,
        "use_momentum": bool(o["momentum"]),
        "l2": bool(o["weight_decay"]),
    }
    cls = "ScaleByRStdDevState" if centered else "ScaleByRmsState"
    state: StateMap = {
        "step": [STEP],
        "square_avg": [(cls, "nu")],
        "momentum_buffer": [("TraceState", "trace")],
    }
    if centered:
        state["grad_avg"] = [(cls, "mu")]
    # optax's momentum trace runs after scale_by_learning_rate: it holds -lr * torch's momentum_buffer
    return Port(_rmsprop, hyper, static, state, lr_scaled=frozenset({"momentum_buffer"}))


def _adagrad_port(name: str, o: dict[str, Any]) -> Port:
    if o["lr_decay"]:
        raise _unsupported(name, "lr_decay", o["lr_decay"], "optax.adagrad takes a constant lr or a schedule")
    hyper = {
        "learning_rate": float(o["lr"]),
        "initial_accumulator_value": float(o["initial_accumulator_value"]),
        "eps": float(o["eps"]),
        "weight_decay": float(o["weight_decay"]),
    }
    static = {"maximize": bool(o["maximize"]), "l2": bool(o["weight_decay"])}
    return Port(_adagrad, hyper, static, {"step": [STEP], "sum": [("ScaleByRssState", "sum_of_squares")]})


def _adadelta_port(name: str, o: dict[str, Any]) -> Port:
    hyper = {
        "learning_rate": float(o["lr"]),
        "rho": float(o["rho"]),
        "eps": float(o["eps"]),
        "weight_decay": float(o["weight_decay"]),
    }
    cls = "ScaleByAdaDeltaState"
    state = {"step": [STEP], "square_avg": [(cls, "e_g")], "acc_delta": [(cls, "e_x")]}
    return Port(_adadelta, hyper, {"maximize": bool(o["maximize"])}, state)


def _rprop_port(name: str, o: dict[str, Any]) -> Port:
    hyper = {
        "learning_rate": float(o["lr"]),
        "eta_minus": float(o["etas"][0]),
        "eta_plus": float(o["etas"][1]),
        "min_step_size": float(o["step_sizes"][0]),
        "max_step_size": float(o["step_sizes"][1]),
    }
    # optax's prev_updates is step_size * sign(previous gradient), torch's prev the previous gradient itself:
    # only their signs are used, so a torch checkpoint loads (its signs are right), but they do not compare.
    state = {
        "step": [STEP],
        "step_size": [("ScaleByRpropState", "step_sizes")],
        "prev": [("ScaleByRpropState", "prev_updates")],
    }
    return Port(_rprop, hyper, {"maximize": bool(o["maximize"])}, state, load_only=frozenset({"prev"}))


def _lbfgs_port(name: str, o: dict[str, Any]) -> Port:
    if o["line_search_fn"] is not None:
        raise _unsupported(
            name,
            "line_search_fn",
            o["line_search_fn"],
            "optax's zoom line search differentiates the objective with JAX; the suite's are NumPy",
        )
    return Port(_lbfgs, {"learning_rate": float(o["lr"])}, {"memory_size": int(o["history_size"])})


def _muon_port(name: str, o: dict[str, Any]) -> Port:
    adjust = o["adjust_lr_fn"]
    if adjust not in (None, "original", "match_rms_adamw"):
        raise _unsupported(name, "adjust_lr_fn", adjust, "optax scales by width or by consistent_rms only")
    hyper = {
        "learning_rate": float(o["lr"]),
        "beta": float(o["momentum"]),
        "eps": float(o["eps"]),
        "weight_decay": float(o["weight_decay"]),
    }
    static = {
        "ns_coeffs": tuple(float(c) for c in o["ns_coefficients"]),
        "ns_steps": int(o["ns_steps"]),
        "nesterov": bool(o["nesterov"]),
        "consistent_rms": 0.2 if adjust == "match_rms_adamw" else None,
    }
    return Port(_muon, hyper, static, {"momentum_buffer": [("MuonState", "mu")]})


PORTS = {
    "SGD": _sgd_port,
    "Adam": _adam_port,
    "AdamW": _adam_port,
    "Adamax": _adamax_port,
    "NAdam": _decoupled_port(_nadam),
    "RAdam": _decoupled_port(_radam),
    "RMSprop": _rmsprop_port,
    "Adagrad": _adagrad_port,
    "Adadelta": _adadelta_port,
    "Rprop": _rprop_port,
    "LBFGS": _lbfgs_port,
    "Muon": _muon_port,
}


# What each class declares to the harness (conformance.adapters.base.ClassDeclaration): the torch options
# optax has no counterpart for (checks setting them are "not supported: <option>"), and the torch state
# entries the port holds (compared under torch's names; none for LBFGS: its state is optax's own).
LACKS = {**JAX_LACKS, "LBFGS": frozenset({"line_search_fn", "tolerance_change"})}
STATE_KEYS = {**TORCH_STATE_KEYS, "LBFGS": ()}

"""One optax optimizer over the suite's param groups, driven as an optax user drives it.

Param groups become ``optax.partition``: a label per param (``"group0"``, ``"group1"``...) and one
transformation per label, each ``optax.inject_hyperparams(factory)(...)`` so that its float hyperparameters
can be changed between steps through ``opt_state.inner_states[label].inner_state.hyperparams`` (optax's
documented way; torch's is ``param_groups[i][key] = value``). A step is ``tx.update(grads, state, params)``
then ``optax.apply_updates``, under ``jax.jit`` as a training loop runs it.

The optimizer state is translated to and from torch's layout where the two hold the same quantity (the
``Port.state`` map): optax keeps one update count per transformation, torch one ``step`` per param, and
the moments are per-param arrays in both.
"""

from __future__ import annotations

import copy
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from conformance.adapters.base import Closure, NotSupported
from conformance.adapters.jax_support import DTYPES, cast
from conformance.adapters.optax_adapter.optimizers import Port, defaults, port

LR = "learning_rate"
# The suffix of a state entry holding optax's own value where torch's differs in meaning (Port.lr_scaled,
# Port.load_only): a state dict of this adapter resumes exactly; a torch checkpoint loads through torch's.
RAW = "@optax"
WHOLE = "state" + RAW
_COMPILED: dict[Any, Any] = {}
NO_GRADIENT = (
    "a param without a gradient: optax has no such thing (a JAX gradient has an array for every param, and a "
    "zero gradient still advances the param's state, where torch skips the param)"
)


def _label(group: int) -> str:
    return f"group{group}"


def _find(tree: Any, cls: str) -> Any:
    """The first NamedTuple of class ``cls`` in an optax state tree (depth first), or None."""
    if type(tree).__name__ == cls:
        return tree
    if isinstance(tree, dict):
        children = list(tree.values())
    elif isinstance(tree, tuple | list):
        children = list(tree)
    else:
        return None
    for child in children:
        found = _find(child, cls)
        if found is not None:
            return found
    return None


def _replace(tree: Any, cls: str, fields: dict[str, Any]) -> Any:
    """``tree`` with the given fields of every ``cls`` NamedTuple replaced (optax states are immutable)."""
    if type(tree).__name__ == cls:
        return tree._replace(**fields)
    if isinstance(tree, dict):
        return {k: _replace(v, cls, fields) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_replace(v, cls, fields) for v in tree))
    if isinstance(tree, tuple | list):
        return type(tree)(_replace(v, cls, fields) for v in tree)
    return tree


class OptaxRun:
    """See the module docstring; ``name`` is torch's class name, ``groups`` and ``hyper`` torch's options."""

    def __init__(self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str) -> None:
        self.name, self.dtype = name, dtype
        self.real = DTYPES[dtype][0]
        self.options = [{**hyper, **{k: v for k, v in g.items() if k != "params"}} for g in groups]
        self.ports: list[Port] = [port(name, o) for o in self.options]
        self._params: list[jax.Array] = [jnp.asarray(cast(p, dtype)) for g in groups for p in g["params"]]
        self.labels = [_label(i) for i, g in enumerate(groups) for _ in g["params"]]
        self.tx = self._build()
        self.state = self.tx.init(self._params)

    def _transformation(self, p: Port) -> Any:
        """``inject_hyperparams`` over the lr only, as optax's docs use it: the other float hyperparameters
        stay Python floats (weakly typed, so a float32 run computes ``1 - b2 ** t`` from the exact 0.999,
        not from 0.999 rounded to float32, which alone moves Adam's first step by 1.3e-5 relative)."""
        static = {**p.static, **{k: v for k, v in p.hyper.items() if k != LR}}
        injected = optax.inject_hyperparams(p.factory, static_args=tuple(static), hyperparam_dtype=self.real)
        return injected(**{LR: p.hyper[LR]}, **static)

    def _build(self) -> Any:
        return optax.partition(
            {_label(i): self._transformation(p) for i, p in enumerate(self.ports)}, self.labels
        )

    def _group_state(self, group: int) -> Any:
        """The group's ``InjectHyperparamsState`` (inside the partition's ``MaskedState``)."""
        return self.state.inner_states[_label(group)].inner_state

    # The run protocol (conformance/adapters/base.py).

    def step(self, grads: list[Any]) -> None:
        if any(g is None for g in grads):
            raise NotSupported(NO_GRADIENT)
        g = [jnp.asarray(np.asarray(x), dtype=p.dtype) for x, p in zip(grads, self._params, strict=True)]
        self._params, self.state = self._compiled()(self._params, self.state, g)

    def _compiled(self) -> Any:
        """``update`` then ``apply_updates`` under ``jax.jit``, as a training loop runs them; compiled once
        per structure (class, options but the injected lr, groups, shapes, dtypes) and shared by the runs
        that have it: the suite builds thousands of runs of a few hundred structures."""
        key = (
            self.name,
            tuple((p.factory, tuple(sorted({**p.static, **p.hyper, LR: None}.items()))) for p in self.ports),
            tuple(self.labels),
            tuple((x.shape, str(x.dtype)) for x in self._params),
        )
        if key not in _COMPILED:
            tx = self.tx

            def step(params: Any, state: Any, grads: Any) -> Any:
                updates, state = tx.update(grads, state, params)
                return optax.apply_updates(params, updates), state

            _COMPILED[key] = jax.jit(step)
        return _COMPILED[key]

    def step_closure(self, closure: Closure) -> float:
        """One torch LBFGS step: up to ``max_iter`` optax L-BFGS updates, each with the objective's gradient
        at the current params, as an optax user's loop runs them; stopping where torch's first test does
        (the largest gradient element at most ``tolerance_grad``) or when ``max_eval`` evaluations are spent.
        Returns the loss at the step's start, as torch's ``step(closure)`` does."""
        o = self.options[0]
        max_iter = int(o.get("max_iter", 20))
        max_eval = o.get("max_eval") or max_iter * 5 // 4
        tolerance_grad = float(o.get("tolerance_grad", 1e-7))
        first = None
        for evaluations in range(1, max_iter + 1):
            loss, grads = closure(self.params())
            first = float(loss) if first is None else first
            if max(float(np.max(np.abs(g))) for g in grads) <= tolerance_grad or evaluations > max_eval:
                break
            self.step(grads)
        return float(first)

    def params(self) -> list[np.ndarray]:
        return [np.asarray(p) for p in self._params]

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        options = {**self.options[group], key: value}
        new = port(self.name, options)
        if new.static != self.ports[group].static or new.hyper.keys() != self.ports[group].hyper.keys():
            raise NotSupported(
                f"setting {key}={value!r} between steps: it changes the structure of optax's transformation, "
                "which inject_hyperparams cannot"
            )
        # The lr through inject_hyperparams' state, as optax's docs do; the others are rebuilt into the
        # transformation (its state keeps its structure: the same static arguments).
        self._group_state(group).hyperparams[LR] = jnp.asarray(new.hyper[LR], dtype=self.real)
        self.options[group], self.ports[group] = options, new
        self.tx = self._build()

    def state_dict(self) -> dict[str, Any]:
        """torch's layout, with the entries optax holds the same quantity for (``Port.state``)."""
        state: dict[int, dict[str, Any]] = {}
        for i, label in enumerate(self.labels):
            group = int(label[len("group") :])
            inner = self._group_state(group)
            entry = {}
            p = self.ports[group]
            for key, places in p.state.items():
                cls, name = places[0]
                holder = inner if cls == "InjectHyperparamsState" else _find(inner.inner_state, cls)
                if holder is None:
                    continue
                value = getattr(holder, name)
                raw = np.asarray(value[i] if isinstance(value, list | tuple) else value)
                if key in p.lr_scaled or key in p.load_only:
                    # optax's own value too, so that resuming from this state dict is exact (extra keys
                    # are the candidate's own business: the harness compares torch's keys only)
                    entry[key + RAW] = raw
                if key not in p.load_only:
                    entry[key] = raw / -float(inner.hyperparams[LR]) if key in p.lr_scaled else raw
            if self.ports[group].state:
                state[i] = copy.deepcopy(entry)
        # The groups' options in torch's layout: torch's defaults, then what the group was built with.
        groups = [
            {
                **defaults(self.name),
                **o,
                "params": [i for i, lab in enumerate(self.labels) if lab == _label(g)],
            }
            for g, o in enumerate(self.options)
        ]
        # optax's whole state as well, so that resuming from this state dict is exact for every port (LBFGS's
        # and Muon's counts have no torch entry); a torch checkpoint has none and loads entry by entry
        # (in the first group: a library's own group keys are never differences)
        groups[0][WHOLE] = copy.deepcopy(self.state)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A torch-layout state dict: the mapped entries into optax's state, the groups' hyperparameters into
        ``inject_hyperparams``' (as torch's ``load_state_dict`` restores ``param_groups``). A torch entry this
        port cannot hold makes the checkpoint unloadable, which is "not supported"."""
        saved = state_dict["state"]
        whole = (state_dict["param_groups"] or [{}])[0].get(WHOLE)
        torch_defaults = defaults(self.name)
        for group, saved_group in enumerate(state_dict["param_groups"]):
            for key in (
                "lr",
                "betas",
                "eps",
                "weight_decay",
                "momentum",
                "alpha",
                "rho",
                "etas",
                "step_sizes",
                "centered",
                "nesterov",
                "amsgrad",
                "maximize",
                "decoupled_weight_decay",
            ):
                # torch fills a key an older checkpoint lacks with its default (Optimizer.__setstate__)
                value = saved_group.get(key, torch_defaults.get(key))
                if key in torch_defaults and value != self.options[group].get(key, torch_defaults[key]):
                    self.set_hyperparameter(group, key, value)
            members = [i for i, lab in enumerate(self.labels) if lab == _label(group)]
            known = self.ports[group].state
            unknown = sorted(
                {k for i in members for k in saved.get(i, {}) if k.removesuffix(RAW) not in known} - {"step"}
            )
            if unknown and any(saved.get(i) for i in members):
                raise NotSupported(
                    f"loading {self.name}'s {', '.join(unknown)}: optax's state has no counterpart"
                )
            if whole is not None:
                continue
            inner = self._group_state(group)
            # a trace after scale_by_learning_rate holds -lr x torch's buffer (Port.lr_scaled)
            lr = float(inner.hyperparams[LR])
            for key, places in known.items():
                scale = -lr if key in self.ports[group].lr_scaled else 1.0
                for cls, name in places:
                    inner = self._load(inner, cls, name, key, members, saved, scale)
            self.state.inner_states[_label(group)] = self.state.inner_states[_label(group)]._replace(
                inner_state=inner
            )
        if whole is not None:
            self.state = copy.deepcopy(whole)

    def _load(
        self, inner: Any, cls: str, name: str, key: str, members: list[int], saved: dict, scale: float
    ) -> Any:
        holder = inner if cls == "InjectHyperparamsState" else _find(inner.inner_state, cls)
        if holder is None or not any(
            key in saved.get(i, {}) or key + RAW in saved.get(i, {}) for i in members
        ):
            return inner
        current = getattr(holder, name)
        if not isinstance(
            current, list | tuple
        ):  # one count for the group: torch's steps agree without missing gradients
            value = jnp.asarray(int(np.asarray(saved[members[0]][key])), dtype=current.dtype)
        else:
            value = list(current)
            for i in members:
                mine = saved[i].get(key + RAW)
                array = np.asarray(saved[i][key]) * scale if mine is None else np.asarray(mine)
                value[i] = jnp.asarray(array, dtype=current[i].dtype)
        if cls == "InjectHyperparamsState":
            return inner._replace(**{name: value})
        return inner._replace(inner_state=_replace(inner.inner_state, cls, {name: value}))

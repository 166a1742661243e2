"""Keras 3 (JAX backend) as a candidate: ``pytest conformance --impl=keras`` (extra ``[keras]``).

Keras optimizers are driven as a Keras user drives them outside ``fit``: ``keras.Variable`` params,
``optimizer.apply_gradients(zip(grads, variables))``, ``optimizer.learning_rate = value`` between steps,
and a ``keras.optimizers.schedules`` object as the learning rate. A torch param group is one Keras
optimizer over that group's variables (Keras optimizers have no param groups). The mapping of names and
meanings is in the docstrings of ``optimizers`` and ``schedules``; what Keras computes differently is in
``conformance/known_deviations/keras.toml``.

Keras keeps ``learning_rate`` as a float32 variable whatever the params' dtype (and its other
hyperparameters as Python floats), so each class declares ``scalar_dtype="float32"``: the float64
tolerances then allow for the lr's rounding, and nothing more.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, NotSupported
from conformance.adapters.jax_support import JaxAdapter, cast, import_jax
from conformance.adapters.keras_adapter.optimizers import (
    LACKS,
    PORTED,
    STATE_KEYS,
    KerasPort,
    defaults,
    keras_port,
)

NO_GRADIENT = (
    "a param without a gradient: Keras' apply_gradients skips a None gradient, but its optimizer's step "
    "count (bias corrections) still advances for every variable, where torch's per-param step does not"
)


def import_keras() -> Any:
    """``keras`` on the JAX backend, float64 enabled; ``NotSupported`` (one line) otherwise."""
    import_jax()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as e:
        raise NotSupported(f"Keras is not installed ({e}): pip install 'optim-conformance[keras]'") from None
    if keras.backend.backend() != "jax":
        raise NotSupported(f"Keras runs on its {keras.backend.backend()} backend here; set KERAS_BACKEND=jax")
    return keras


def bucket(size: int) -> int:
    """The padded length of a param of ``size`` elements: the next power of two."""
    return 1 << max(0, size - 1).bit_length()


def flat(array: Any) -> np.ndarray:
    """``array`` as a flat vector zero-padded to its ``bucket`` (see ``KerasRun``)."""
    vector = np.ravel(np.asarray(array))
    return np.pad(vector, (0, bucket(vector.size) - vector.size))


def unflat(vector: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of ``flat``: the first ``prod(shape)`` elements, in ``shape``."""
    return np.asarray(vector)[: int(np.prod(shape, dtype=np.int64))].reshape(shape)


class KerasRun:
    """One Keras optimizer per torch param group, over ``keras.Variable`` copies of the params.

    Keras on JAX runs an update eagerly, and JAX compiles each primitive of it for every new shape: 3 to 9 s
    per new set of param shapes on the development machine, which made the property layer (a new shape per
    example) take most of an hour. Every ported class is elementwise (``optimizers.PORTED``), so each param
    runs as a flat vector zero-padded to the next power of two (``flat``): a run compiles once per size
    bucket. The padding stays exactly zero under every ported update (zero gradient, zero moments:
    m / (sqrt(v) + eps) = 0, weight decay of 0 is 0) and is cut off (``unflat``) before params or state are
    compared.
    """

    def __init__(self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str) -> None:
        self.keras = import_keras()
        self.name, self.dtype = name, dtype
        self.options = [{**hyper, **{k: v for k, v in g.items() if k != "params"}} for g in groups]
        self.ports = [keras_port(name, o) for o in self.options]
        if any(np.iscomplexobj(p) for g in groups for p in g["params"]):
            raise NotSupported("complex params: Keras variables are real")
        self.shapes = [np.shape(p) for g in groups for p in g["params"]]
        self.variables = [
            [self.keras.Variable(cast(flat(p), dtype), dtype=dtype) for p in g["params"]] for g in groups
        ]
        self.optimizers = [self._build(p, v) for p, v in zip(self.ports, self.variables, strict=True)]

    def _build(self, port: KerasPort, variables: list[Any], learning_rate: Any = None) -> Any:
        kwargs = dict(port.kwargs)
        if learning_rate is not None:
            kwargs["learning_rate"] = learning_rate
        optimizer = getattr(self.keras.optimizers, port.cls)(**kwargs)
        optimizer.build(variables)
        return optimizer

    def step(self, grads: list[Any]) -> None:
        if any(g is None for g in grads):
            raise NotSupported(NO_GRADIENT)
        grads = iter(grads)
        for group, (optimizer, variables) in enumerate(zip(self.optimizers, self.variables, strict=True)):
            sign = -1.0 if self.options[group].get("maximize") else 1.0
            g = [cast(sign * flat(next(grads)), self.dtype) for _ in variables]
            optimizer.apply_gradients(zip(g, variables, strict=True))

    def params(self) -> list[np.ndarray]:
        values = [v.numpy() for vs in self.variables for v in vs]
        return [unflat(v, shape) for v, shape in zip(values, self.shapes, strict=True)]

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        options = {**self.options[group], key: value}
        new = keras_port(self.name, options)
        if new.cls != self.ports[group].cls or new.state != self.ports[group].state:
            raise NotSupported(f"setting {key}={value!r} between steps changes which Keras optimizer it is")
        optimizer = self.optimizers[group]
        for k, v in new.kwargs.items():
            if k == "learning_rate":
                optimizer.learning_rate = v  # assigns Keras' float32 lr variable
            elif v != self.ports[group].kwargs.get(k):
                setattr(optimizer, k, v)
        self.options[group], self.ports[group] = options, new

    def _slots(self, group: int, key: str) -> Any:
        # A key this port does not keep (AdamW's state loaded into Adam: torch's keys of the other's options)
        # is not loaded, as torch ignores it.
        name = self.ports[group].state.get(key)
        return getattr(self.optimizers[group], name, None) if name else None

    def state_dict(self) -> dict[str, Any]:
        state: dict[int, dict[str, Any]] = {}
        index = 0
        for group, variables in enumerate(self.variables):
            lr = float(np.asarray(self.optimizers[group].learning_rate))
            for j in range(len(variables)):
                entry = {}
                for key in self.ports[group].state:
                    slots = self._slots(group, key)
                    if slots is None or (isinstance(slots, list) and not slots):
                        continue
                    value = np.asarray((slots[j] if isinstance(slots, list) else slots).numpy())
                    if isinstance(slots, list):  # a per-param slot, padded as its param
                        value = unflat(value, self.shapes[index])
                    factor = self.ports[group].lr_scaled.get(key)
                    entry[key] = value / (factor * lr) if factor else value
                state[index] = entry
                index += 1
        # The groups' options in torch's layout: torch's defaults, then what the group was built with.
        groups, start = [], 0
        for o, variables in zip(self.options, self.variables, strict=True):
            groups.append({**defaults(self.name), **o, "params": list(range(start, start + len(variables)))})
            start += len(variables)
        return {"state": copy.deepcopy(state), "param_groups": copy.deepcopy(groups)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["state"]
        index = 0
        for group, variables in enumerate(self.variables):
            for key in ("lr",):
                if key in state_dict["param_groups"][group]:
                    self.set_hyperparameter(group, key, state_dict["param_groups"][group][key])
            lr = float(np.asarray(self.optimizers[group].learning_rate))
            for j in range(len(variables)):
                for key, value in saved.get(index + j, {}).items():
                    slots = self._slots(group, key)
                    if slots is None:
                        continue
                    target = slots[j] if isinstance(slots, list) else slots
                    factor = self.ports[group].lr_scaled.get(key)
                    array = np.asarray(value, dtype=np.float64) * (factor * lr if factor else 1.0)
                    if isinstance(slots, list):
                        array = flat(array)
                    target.assign(np.asarray(array, dtype=target.dtype))
            index += len(variables)


class KerasAdapter(JaxAdapter):
    name = "keras"
    dists = ("keras", "jax", "jaxlib")

    def __init__(self) -> None:
        self.keras = import_keras()

    def version(self) -> str:
        return super().version() + f" (backend {self.keras.backend.backend()})"

    def capabilities(self) -> Capabilities:
        from conformance.adapters.keras_adapter.schedules import SCHEDULERS

        # Keras keeps its hyperparameters as float32 variables: tolerances derive from that (issue 12).
        ported, features = frozenset(PORTED), frozenset({"state_dict"})
        return self.declared(
            ported, frozenset(SCHEDULERS), LACKS, STATE_KEYS, features, scalar_dtype="float32"
        )

    def optimizer_run(
        self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str
    ) -> KerasRun:
        return KerasRun(name, groups, hyper, dtype)

    def scheduler_run(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict[str, Any]
    ) -> Any:
        from conformance.adapters.keras_adapter.schedules import KerasSchedulerRun

        return KerasSchedulerRun(specs, optimizer, groups, hyper)

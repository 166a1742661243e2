"""NumPy ports of Adam behind adapters, as JAX, Keras and MLX ports are: no argument validation, no
``amsgrad``/``maximize``/``decoupled_weight_decay``, their own state keys (``m``, ``v``, ``t``), and (Keras)
scalar hyperparameters kept as float32. Each situation has a correct adapter and a deliberately wrong twin:

- ``UnvalidatedAdam``: validates nothing and declares it; ``UndeclaredUnvalidatedAdam``: the same without
  the declaration (its validation row fails, its arithmetic still passes); ``UnvalidatedAdamWrong``: eps
  inside the square root;
- ``Float32ScalarsAdam``: Keras-style float32 scalars, declared; ``Float32ScalarsUndeclared``: the same
  without the declaration (float64 checks fail); ``Float32ScalarsWrong``: declared, but the bias correction
  of the second moment uses ``t - 1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, ClassDeclaration

DTYPES = {"float64": np.float64, "float32": np.float32}
DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
STATE_KEYS = {"exp_avg": "m", "exp_avg_sq": "v", "step": "t"}
LACKS = frozenset({"amsgrad", "maximize", "decoupled_weight_decay"})


class AdamRun:
    """Adam over copies of the params, with torch's update order (docs' algorithm box)."""

    def __init__(self, port: Any, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str) -> None:
        self.port = port
        self.groups = [
            {**DEFAULTS, **hyper, **g, "params": [np.array(p, dtype=DTYPES[dtype]) for p in g["params"]]}
            for g in groups
        ]
        self.state: dict[int, dict[str, Any]] = {}

    def _scalar(self, value: float) -> Any:
        return self.port.scalar(value)

    def step(self, grads: list[Any]) -> None:
        i = 0
        for group in self.groups:
            lr, eps, wd = (self._scalar(group[k]) for k in ("lr", "eps", "weight_decay"))
            beta1, beta2 = (self._scalar(b) for b in group["betas"])
            for p in group["params"]:
                g = grads[i]
                if g is not None:
                    g = np.asarray(g, dtype=p.dtype)
                    g = g + wd * p if group["weight_decay"] else g
                    s = self.state.setdefault(i, {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": 0.0})
                    s["t"] += 1.0
                    t = s["t"]
                    s["m"] = s["m"] + (1 - beta1) * (g - s["m"])
                    s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
                    bias1, bias2 = 1 - beta1**t, 1 - beta2 ** (t - self.port.bias_lag)
                    p -= lr / bias1 * s["m"] / self.port.denominator(s["v"], bias2, eps)
                i += 1

    def params(self) -> list[np.ndarray]:
        return [p.copy() for g in self.groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        groups, start = [], 0
        for g in self.groups:
            groups.append(
                {
                    **{k: v for k, v in g.items() if k != "params"},
                    "params": list(range(start, start + len(g["params"]))),
                }
            )
            start += len(g["params"])
        state = {i: {k: np.array(v) for k, v in s.items()} for i, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.state = {
            int(i): {"m": np.array(s["m"]), "v": np.array(s["v"]), "t": float(s["t"])}
            for i, s in state_dict["state"].items()
        }
        for group, saved in zip(self.groups, state_dict["param_groups"], strict=True):
            group.update({k: v for k, v in saved.items() if k in DEFAULTS})

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.groups[group][key] = value


class UnvalidatedAdam:
    """Validates no argument (a negative lr is taken), and declares so."""

    name = "numpy-port"
    declaration = ClassDeclaration(lacks=LACKS, state_keys=STATE_KEYS, validates=False)
    bias_lag = 0

    def scalar(self, value: float) -> Any:
        return value

    def denominator(self, v: np.ndarray, bias2: Any, eps: Any) -> np.ndarray:
        return np.sqrt(v) / np.sqrt(bias2) + eps

    def version(self) -> str:
        return "numpy-port 0.1 (a fake for the suite's tests)"

    def capabilities(self) -> Capabilities:
        return Capabilities(optimizers=frozenset({"Adam"}), declarations={"Adam": self.declaration})

    def make_optimizer(
        self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], *, dtype: str, **where: Any
    ) -> AdamRun:
        return AdamRun(self, groups, hyper, dtype)


class UndeclaredUnvalidatedAdam(UnvalidatedAdam):
    declaration = ClassDeclaration(lacks=LACKS, state_keys=STATE_KEYS)


class UnvalidatedAdamWrong(UnvalidatedAdam):
    def denominator(self, v: np.ndarray, bias2: Any, eps: Any) -> np.ndarray:
        return np.sqrt(v / bias2 + eps)


class Float32ScalarsAdam(UnvalidatedAdam):
    """Keeps lr, betas, eps and weight decay as float32 scalars whatever the params' dtype (as Keras does),
    and computes the bias corrections in float32, and declares so."""

    declaration = ClassDeclaration(
        lacks=LACKS, state_keys=STATE_KEYS, validates=False, scalar_dtype="float32"
    )

    def scalar(self, value: float) -> Any:
        return np.float32(value)


class Float32ScalarsUndeclared(Float32ScalarsAdam):
    declaration = ClassDeclaration(lacks=LACKS, state_keys=STATE_KEYS, validates=False)


class Float32ScalarsWrong(Float32ScalarsAdam):
    bias_lag = 1  # 1 - beta2 ** (t - 1): zero at the first step

    def denominator(self, v: np.ndarray, bias2: Any, eps: Any) -> np.ndarray:
        return np.sqrt(v) / np.sqrt(bias2 if bias2 else np.float32(1.0)) + eps

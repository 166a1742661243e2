"""What a ``swa_utils`` case is: an ``AveragedModel`` run or an ``update_bn`` pass, described as data.

``SWALR`` is a scheduler and its cases are ``SchedCase``s (``conformance/catalogue/sched/swalr.py``); the two
kinds here have params and buffers of their own and are checked per dtype:

- ``AveragedCase``: a model given as arrays (params, float and integer buffers) is averaged over ``updates``
  snapshots drawn from the case id; the vectors hold every snapshot and the averaged params and buffers (and
  ``n_averaged``) after every ``update_parameters``.
- ``UpdateBnCase``: a small ``Sequential`` of ``Linear``, ``ReLU`` and ``BatchNorm`` layers with seeded
  weights and non-default running statistics, and seeded batches; the vectors hold the running statistics
  after ``update_bn``, the momenta it must restore and the training mode it must restore.

Options are named as torch names them (``avg_fn``, ``multi_avg_fn``, ``decay``, ``use_buffers``); a
function option's value names the function: ``"ema"`` is ``get_ema_avg_fn(decay)`` (or
``get_ema_multi_avg_fn(decay)``), ``"swa"`` is ``get_swa_avg_fn()`` (``get_swa_multi_avg_fn()``), and
neither option means torch's default equal-weight average.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance.catalogue.model import jsonable, option_slug

# The averaging functions a case may name, per option, as torch's factory names them.
AVERAGING = {
    ("avg_fn", "ema"): "get_ema_avg_fn",
    ("avg_fn", "swa"): "get_swa_avg_fn",
    ("multi_avg_fn", "ema"): "get_ema_multi_avg_fn",
    ("multi_avg_fn", "swa"): "get_swa_multi_avg_fn",
}
# The params and buffers of an averaged model: a non-square matrix, a vector and a 0-d scalar; a float
# buffer and an integer one (BatchNorm's ``num_batches_tracked``: averaged in float32 and truncated).
DEFAULT_PARAMS = ((3, 4), (5,), ())
DEFAULT_BUFFERS = (((4,), "float64"), ((), "int64"))


def _fingerprint(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def functions_of(options: Mapping[str, Any]) -> list[str]:
    """The candidate functions an averaging configuration calls: ``AveragedModel`` and its factory."""
    names = ["AveragedModel"]
    for key in ("avg_fn", "multi_avg_fn"):
        if options.get(key) is not None:
            names.append(AVERAGING[key, options[key]])
    return names


@dataclass(frozen=True)
class AveragedCase:
    """``AveragedModel(model, **options)`` and ``updates`` calls of ``update_parameters``.

    ``observes`` lists the options a plausible wrong value of which moves some averaged value by >= 1e-3
    relative (``tests/test_catalogue.py`` proves it).
    """

    options: Mapping[str, Any]
    observes: tuple[str, ...]
    why: str
    updates: int = 20
    params: tuple[tuple[int, ...], ...] = DEFAULT_PARAMS
    buffers: tuple[tuple[tuple[int, ...], str], ...] = DEFAULT_BUFFERS
    tag: str = ""
    # The name random snapshots are drawn from; empty means the id (the observability test pins it).
    seed: str = ""
    tolerance: Mapping[str, float] | None = None

    @property
    def seed_name(self) -> str:
        return self.seed or self.id

    @property
    def id(self) -> str:
        parts = [option_slug(self.options) or "default"] + ([self.tag] if self.tag else [])
        return f"averagedmodel/{'-'.join(parts)}"

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "averaged_model",
            "swa": "AveragedModel",
            "options": jsonable(self.options),
            "functions": functions_of(self.options),
            "params": jsonable(self.params),
            "buffers": [{"shape": list(shape), "dtype": dtype} for shape, dtype in self.buffers],
            "updates": self.updates,
            "observes": list(self.observes),
            "why": self.why,
        } | ({"tolerance": dict(self.tolerance)} if self.tolerance else {})

    def fingerprint(self) -> str:
        return _fingerprint(self.describe())


@dataclass(frozen=True)
class UpdateBnCase:
    """``update_bn(loader, model)`` over ``batches`` seeded batches of ``batch_shape``.

    ``layers`` is the model, in order: ``{"layer": "Linear", "in": n, "out": m, "bias": bool}``,
    ``{"layer": "ReLU"}`` or ``{"layer": "BatchNorm", "num_features": c, "eps": e, "momentum": m}`` (torch's
    BatchNorm1d/2d/3d by the input's rank; ``momentum`` may be ``None``). ``pairs``: the loader yields
    ``(input, target)`` tuples; ``training``: the model's mode before the call (update_bn must restore it).
    """

    layers: tuple[Mapping[str, Any], ...]
    batch_shape: tuple[int, ...]
    observes: tuple[str, ...]
    why: str
    batches: int = 6
    pairs: bool = False
    training: bool = False
    tag: str = ""
    # The name random weights and batches are drawn from; empty means the id (the observability test pins it).
    seed: str = ""

    @property
    def seed_name(self) -> str:
        return self.seed or self.id

    @property
    def id(self) -> str:
        names = [
            {"Linear": "linear", "ReLU": "relu", "BatchNorm": "bn"}[layer["layer"]] for layer in self.layers
        ]
        parts = ["-".join(names), "x".join(map(str, self.batch_shape)), f"batches{self.batches}"]
        parts += ["pairs"] if self.pairs else []
        parts += ["train"] if self.training else []
        parts += [self.tag] if self.tag else []
        return f"update_bn/{'-'.join(parts)}"

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "update_bn",
            "swa": "update_bn",
            "functions": ["update_bn"],
            "layers": jsonable(self.layers),
            "batch_shape": list(self.batch_shape),
            "batches": self.batches,
            "pairs": self.pairs,
            "training": self.training,
            "observes": list(self.observes),
            "why": self.why,
        }

    def fingerprint(self) -> str:
        return _fingerprint(self.describe())

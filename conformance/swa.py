"""Play a ``swa_utils`` case (``AveragedModel`` or ``update_bn``) and compare a candidate with the vectors.

As ``conformance.schedules`` does for schedulers, one function plays each kind of case on any adapter:
``conformance.generate`` plays it on the reference to record the expected values, and the checks play it on
the candidate, so the two can never drift apart.

- ``AveragedModel``: build the averaged model over the initial model, feed it every stored snapshot with
  ``update_parameters``, and compare after every update the averaged params, the averaged (or copied)
  buffers and ``n_averaged``.
- ``update_bn``: build the model (stored weights and running statistics), run ``update_bn`` over the stored
  batches, and compare every BatchNorm layer's ``running_mean``, ``running_var`` and ``num_batches_tracked``,
  and the momenta and the training mode that ``update_bn`` must restore.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported
from conformance.catalogue.model import seed_of
from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from conformance.metrics import normwise_error, trajectory_divergence
from conformance.runner import CandidateError, CheckResult, _call
from conformance.tolerances import EPS, trajectory_rtol
from conformance.vectors import Vectors

# The statistics update_bn recomputes, per BatchNorm layer, in the order they are compared.
BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


@dataclass
class LoadedSwa:
    """A swa_utils case from the vectors: its description and its arrays (keyed without the case id)."""

    id: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @classmethod
    def load(cls, vectors: Vectors, case_id: str) -> LoadedSwa:
        return cls(case_id, vectors.describe(case_id), vectors.arrays(case_id))


def _in_dtype(array: np.ndarray, dtype: str) -> np.ndarray:
    """Float arrays in the candidate's dtype (float32 for bfloat16/float16: NumPy has neither); integer
    arrays (BatchNorm's ``num_batches_tracked``) as they are."""
    if array.dtype.kind != "f":
        return array.copy()
    return array.astype(np.float64 if dtype == "float64" else np.float32)


def _require(what: str, arrays: list[Any], expected: list[np.ndarray]) -> list[np.ndarray]:
    if len(arrays) != len(expected):
        raise CandidateError(f"{what}: candidate returned {len(arrays)} arrays, expected {len(expected)}")
    out = []
    for i, (a, e) in enumerate(zip(arrays, expected, strict=True)):
        if np.shape(a) != e.shape:
            raise CandidateError(f"{what}: array {i} has shape {np.shape(a)}, expected {e.shape}")
        out.append(np.asarray(a))
    return out


# -- AveragedModel ---------------------------------------------------------------------------------------


def averaged_inputs(case: AveragedCase) -> dict[str, np.ndarray]:
    """The initial model and every snapshot, drawn from the case's seed: params ``N(0, 1)`` (each snapshot
    a step of a random walk, so averages differ from the latest model), float buffers in ``[0.5, 1.5)``,
    integer buffers growing by 7 per update from 3 (so averages are non-integers that truncate)."""
    rng = np.random.default_rng(seed_of(case.seed_name + "/snapshots"))
    out: dict[str, np.ndarray] = {}
    for i, shape in enumerate(case.params):
        start = rng.standard_normal(shape)
        walk = start + np.cumsum(rng.standard_normal((case.updates, *shape)), axis=0)
        out[f"init/params/{i}"], out[f"model/params/{i}"] = start, walk
    for j, (shape, dtype) in enumerate(case.buffers):
        if dtype.startswith("int"):
            grow = 3 + 7 * np.arange(case.updates + 1).reshape(-1, *([1] * len(shape)))
            values = np.broadcast_to(grow, (case.updates + 1, *shape)).astype(dtype)
        else:
            values = 0.5 + rng.random((case.updates + 1, *shape))
        out[f"init/buffers/{j}"], out[f"model/buffers/{j}"] = values[0], values[1:]
    return out


def play_averaged(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], adapter: Any, dtype: str, device: str
) -> list[list[np.ndarray]]:
    """Run the case on ``adapter``; one row per update: the averaged params, then the buffers, then
    ``n_averaged`` (a 0-d float64 array)."""
    n_params, n_buffers = len(meta["params"]), len(meta["buffers"])

    def model(prefix: str, t: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        def pick(kind: str, i: int) -> np.ndarray:
            stored = arrays[f"{prefix}/{kind}/{i}"]
            return _in_dtype(stored if t is None else stored[t], dtype)

        return [pick("params", i) for i in range(n_params)], [pick("buffers", j) for j in range(n_buffers)]

    make = getattr(adapter, "make_averaged_model", None)
    if not callable(make):
        raise NotSupported(f"{getattr(adapter, 'name', 'the candidate')} has no make_averaged_model")
    params, buffers = model("init", None)
    run = _call("building the AveragedModel", make, params, buffers, dict(meta["options"]), dtype, device)
    rows = []
    for t in range(meta["updates"]):
        params, buffers = model("model", t)
        _call(f"update {t + 1} (update_parameters)", run.update_parameters, params, buffers)
        got_params = _require(f"after update {t + 1}: params", _call("reading params", run.params), params)
        got_buffers = _require(
            f"after update {t + 1}: buffers", _call("reading buffers", run.buffers), buffers
        )
        rows.append([*got_params, *got_buffers, np.float64(_call("reading n_averaged", run.n_averaged))])
    return rows


def averaged_labels(meta: dict[str, Any]) -> list[str]:
    """The name of each entry of a ``play_averaged`` row, for failure messages."""
    params = [f"averaged param {i} {tuple(s)}" for i, s in enumerate(meta["params"])]
    buffers = [f"buffer {j} ({b['dtype']})" for j, b in enumerate(meta["buffers"])]
    return [*params, *buffers, "n_averaged"]


def averaged_expected(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """The stored rows: what ``play_averaged`` recorded on the reference."""
    n_params, n_buffers = len(meta["params"]), len(meta["buffers"])
    return [
        [
            *(arrays[f"avg/params/{i}"][t] for i in range(n_params)),
            *(arrays[f"avg/buffers/{j}"][t] for j in range(n_buffers)),
            np.float64(arrays["n_averaged"][t]),
        ]
        for t in range(meta["updates"])
    ]


def averaged_arrays(meta: dict[str, Any], inputs: dict[str, np.ndarray], adapter: Any) -> dict[str, Any]:
    """The vectors' arrays of an AveragedModel case: its inputs and the reference's rows, stacked."""
    rows = play_averaged(meta, inputs, adapter, "float64", "cpu")
    n_params = len(meta["params"])
    out = dict(inputs)
    for i in range(len(rows[0]) - 1):
        key = f"avg/params/{i}" if i < n_params else f"avg/buffers/{i - n_params}"
        out[key] = np.stack([row[i] for row in rows])
    out["n_averaged"] = np.array([int(row[-1]) for row in rows], dtype=np.int64)
    return out


# -- update_bn -------------------------------------------------------------------------------------------


def update_bn_inputs(case: UpdateBnCase) -> dict[str, np.ndarray]:
    """Seeded weights (``N(0, 1)``; BatchNorm affine weights in ``[0.5, 1.5)``), non-default running
    statistics (update_bn must reset them) and batches (``N(0.3, 1.5^2)``: a mean the statistics must
    find)."""
    rng = np.random.default_rng(seed_of(case.seed_name + "/inputs"))
    out: dict[str, np.ndarray] = {}
    for k, layer in enumerate(case.layers):
        if layer["layer"] == "Linear":
            out[f"layer/{k}/weight"] = rng.standard_normal((layer["out"], layer["in"]))
            if layer["bias"]:
                out[f"layer/{k}/bias"] = rng.standard_normal(layer["out"])
        elif layer["layer"] == "BatchNorm":
            c = layer["num_features"]
            out[f"layer/{k}/weight"] = 0.5 + rng.random(c)
            out[f"layer/{k}/bias"] = rng.standard_normal(c)
            out[f"layer/{k}/running_mean"] = rng.standard_normal(c)
            out[f"layer/{k}/running_var"] = 0.5 + rng.random(c)
            out[f"layer/{k}/num_batches_tracked"] = np.array(17, dtype=np.int64)
    for b in range(case.batches):
        out[f"batch/{b}"] = 0.3 + 1.5 * rng.standard_normal(case.batch_shape)
    return out


def bn_layers(meta: dict[str, Any]) -> list[int]:
    """The indices of the model's BatchNorm layers."""
    return [k for k, layer in enumerate(meta["layers"]) if layer["layer"] == "BatchNorm"]


def play_update_bn(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], adapter: Any, dtype: str, device: str
) -> dict[str, Any]:
    """Run ``update_bn`` on ``adapter``; the statistics (``BN_STATS``, one array per BatchNorm layer), the
    layers' ``momentum`` and the model's ``training`` mode afterwards."""
    fn = getattr(adapter, "update_bn", None)
    if not callable(fn):
        raise NotSupported(f"{getattr(adapter, 'name', 'the candidate')} has no update_bn")
    layers = []
    for k, layer in enumerate(meta["layers"]):
        prefix = f"layer/{k}/"
        stored = {key[len(prefix) :]: v for key, v in arrays.items() if key.startswith(prefix)}
        # A Linear's "bias" flag becomes its bias array, or no "bias" key at all.
        spec = {k: v for k, v in layer.items() if not (k == "bias" and layer["layer"] == "Linear")}
        layers.append({**spec, **{key: _in_dtype(v, dtype) for key, v in stored.items()}})
    batches = [_in_dtype(arrays[f"batch/{b}"], dtype) for b in range(meta["batches"])]
    options = {"pairs": meta["pairs"], "training": meta["training"], "dtype": dtype, "device": device}
    result = _call("update_bn", lambda: fn(layers, batches, **options))
    n_bn = len(bn_layers(meta))
    for key in (*BN_STATS, "momentum"):
        if len(result.get(key, ())) != n_bn:
            raise CandidateError(
                f"update_bn: the candidate reported {key!r} for {len(result.get(key, ()))} "
                f"BatchNorm layers, expected {n_bn}"
            )
    return result


def update_bn_arrays(meta: dict[str, Any], inputs: dict[str, np.ndarray], adapter: Any) -> dict[str, Any]:
    """The vectors' arrays of an update_bn case: its inputs and the reference's statistics."""
    result = play_update_bn(meta, inputs, adapter, "float64", "cpu")
    out = dict(inputs)
    for n, k in enumerate(bn_layers(meta)):
        for key in BN_STATS:
            out[f"expected/{k}/{key}"] = np.asarray(result[key][n])
    return out


# -- the checks ------------------------------------------------------------------------------------------


def _details(
    labels: list[str], actual: list[np.ndarray], expected: list[np.ndarray], rtol: float
) -> list[str]:
    """The entries beyond tolerance at one row, by name, with their error."""
    out = []
    for label, a, e in zip(labels, actual, expected, strict=True):
        err = normwise_error(np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64))
        if err > rtol:
            shown = np.array2string(np.ravel(a)[:4], precision=6) + (" ..." if np.size(a) > 4 else "")
            wanted = np.array2string(np.ravel(e)[:4], precision=6) + (" ..." if np.size(e) > 4 else "")
            out.append(f"{label}: rel error {err:.3g}; got {shown}, expected {wanted}")
    return out


def run_averaged_model(adapter: Any, case: LoadedSwa, dtype: str, device: str, variant: str) -> CheckResult:
    """Every update's averaged params, buffers and ``n_averaged`` against the vectors (``variant`` does not
    apply: torch's AveragedModel has no implementation switch)."""
    start = time.perf_counter()
    meta = case.meta
    actual = play_averaged(meta, case.arrays, adapter, dtype, device)
    expected = averaged_expected(meta, case.arrays)
    rtol = trajectory_rtol(dtype, meta["updates"], meta.get("tolerance"))
    d = trajectory_divergence(actual, expected, rtol, EPS[dtype])
    bad = d.first_bad_step
    details = []
    if bad is not None:
        details = [
            f"after update {bad}: " + line
            for line in _details(averaged_labels(meta), actual[bad - 1], expected[bad - 1], rtol[bad - 1])
        ]
    return CheckResult(
        bad is None and not d.non_finite,
        d,
        rtol,
        time.perf_counter() - start,
        meta["updates"],
        details=details,
    )


def run_update_bn(adapter: Any, case: LoadedSwa, dtype: str, device: str, variant: str) -> CheckResult:
    """The BatchNorm statistics after ``update_bn`` (one row: the tolerance of one step per batch), then the
    restored momenta and training mode, which must be exact."""
    start = time.perf_counter()
    meta = case.meta
    result = play_update_bn(meta, case.arrays, adapter, dtype, device)
    labels, actual, expected = [], [], []
    for n, k in enumerate(bn_layers(meta)):
        for key in BN_STATS:
            labels.append(f"layer {k} (BatchNorm) {key}")
            actual.append(np.asarray(result[key][n]))
            expected.append(case.arrays[f"expected/{k}/{key}"])
    # Each batch updates the statistics once (a mean, a variance, the blend): the rounding of one optimizer
    # step per batch, accumulated over the batches, and through the layers before (their output is this
    # layer's input), which the trajectory tolerance's margin covers.
    rtol = trajectory_rtol(dtype, meta["batches"], meta.get("tolerance"))[-1:]
    d = trajectory_divergence([actual], [expected], rtol, EPS[dtype])
    details = _details(labels, actual, expected, rtol[0]) if d.first_bad_step else []
    for n, k in enumerate(bn_layers(meta)):
        wanted = meta["layers"][k]["momentum"]
        if result["momentum"][n] != wanted:
            details.append(
                f"layer {k} (BatchNorm): momentum after update_bn is {result['momentum'][n]!r}, "
                f"expected {wanted!r} (update_bn must restore it)"
            )
    if bool(result["training"]) != meta["training"]:
        details.append(
            f"the model's training mode after update_bn is {result['training']}, expected "
            f"{meta['training']} (update_bn must restore it)"
        )
    passed = d.first_bad_step is None and not d.non_finite and not details
    if not passed and d.first_bad_step is None:
        d.first_bad_step = 1  # a mode or momentum not restored: the one row is the first bad one
    return CheckResult(passed, d, rtol, time.perf_counter() - start, 1, details=details)


# check name -> (the function, the unit a failure message counts in)
SWA_CHECKS: dict[str, tuple[Callable[..., CheckResult], str]] = {
    "test_averaged_model": (run_averaged_model, "update"),
    "test_update_bn": (run_update_bn, "pass"),
}
# case kind -> the check that runs it
KIND_CHECKS = {"averaged_model": "test_averaged_model", "update_bn": "test_update_bn"}

"""Run catalogue cases through the reference and collect what the vectors store.

Everything a candidate needs is recorded: initial params, the gradient of every param at every step (or the
objective, for objective-driven cases), params after every step, and the full optimizer state at each
checkpoint. Random numbers are drawn from a generator seeded by the case id, so a case's numbers do not
depend on which other cases exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import refimpl
import refimpl.objectives
import refimpl.optim
from conformance import pinned
from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.catalogue import SCHEDULER_MODULES, SWA_MODULES
from conformance.catalogue.model import Gradients, OptimCase, SchedCase, jsonable, seed_of
from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from conformance.schedules import make_run, play
from conformance.swa import averaged_arrays, averaged_inputs, update_bn_arrays, update_bn_inputs
from conformance.vectors import TORCH_VERSION, VectorFile, json_bytes, npz_bytes
from refimpl.optim import SparseGrad

# The gradient of param ``i`` at step ``t`` (0-based), given the param's current value.
GradientSource = Callable[[int, int, np.ndarray], "np.ndarray | SparseGrad | None"]


@dataclass
class OptimRecord:
    """The reference's run of one case: arrays (for the .npz) and JSON-able metadata."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def initial_params(case: OptimCase) -> list[np.ndarray]:
    if case.inputs:
        shapes = [shape for group in case.groups for shape in group.shapes]
        return [pinned.uniform(f"{case.seed_name}/init/{i}", shape) for i, shape in enumerate(shapes)]
    rng = np.random.default_rng(seed_of(case.seed_name + "/init"))
    params = []
    for group in case.groups:
        for shape in group.shapes:
            x = rng.standard_normal(shape)
            if case.dtype.startswith("complex"):
                x = x + 1j * rng.standard_normal(shape)
            params.append(np.asarray(x, dtype=case.dtype))
    return params


def draw_gradient(case: OptimCase, t: int, i: int, param: np.ndarray) -> np.ndarray | SparseGrad | None:
    """The fixed gradient of param ``i`` at step ``t`` (see ``Gradients`` for the patterns)."""
    spec: Gradients = case.gradients
    if spec.none_every and (t + i) % spec.none_every == 0 and (t, i) != (0, 0):
        return None
    if case.inputs:
        return pinned.uniform(f"{case.seed_name}/grad/{t}/{i}", param.shape) * spec.scale
    rng = np.random.default_rng([seed_of(case.seed_name + "/grad"), t, i])

    def normal(shape: tuple[int, ...]) -> np.ndarray:
        g = rng.standard_normal(shape)
        if np.iscomplexobj(param):
            g = g + 1j * rng.standard_normal(shape)
        return g

    if spec.pattern == "normal":
        g = normal(param.shape) * spec.scale
    elif spec.pattern == "spike":
        g = normal(param.shape) * spec.scale * (1e3 if t == 0 else 1e-3)
    elif spec.pattern == "flip":
        # Magnitudes in [0.5, 1.5); about four in five elements flip sign every step, the rest keep theirs,
        # so Rprop's step sizes both shrink (to the lower bound) and grow (to the upper bound).
        magnitude = 0.5 + rng.random(param.shape)
        keep = np.random.default_rng([seed_of(case.seed_name + "/keep"), i]).random(param.shape) < 0.2
        sign = np.where(keep, 1.0, (-1.0) ** t)
        g = magnitude * sign * spec.scale
    elif spec.pattern == "sparse":
        rows = param.shape[0]
        n = max(1, rows // 2)
        indices = rng.integers(0, rows, size=n + 1)  # n+1 draws from < 2n rows: repeats are likely
        values = normal((len(indices), *param.shape[1:])) * spec.scale
        return SparseGrad(indices, np.asarray(values, dtype=param.dtype), param.shape)
    else:
        raise ValueError(f"unknown gradient pattern {spec.pattern!r}")
    return np.asarray(g, dtype=param.dtype)


def build_groups(case: OptimCase, params: list[np.ndarray]) -> list[dict[str, Any]]:
    groups, start = [], 0
    for group in case.groups:
        groups.append({"params": params[start : start + len(group.shapes)], **group.overrides})
        start += len(group.shapes)
    return groups


def state_arrays(prefix: str, state: dict[int, dict[str, Any]]) -> dict[str, np.ndarray]:
    """Flatten ``state_dict()["state"]`` into npz entries ``{prefix}/{param}/{key}``.

    Scalars become 0-d float64 arrays; lists (LBFGS's history) become stacked arrays under ``{key}[list]``;
    ``None`` entries are left out (their absence is the record of them).
    """
    out = {}
    for index, entries in state.items():
        for key, value in entries.items():
            name = f"{prefix}/{index}/{key}"
            if value is None:
                continue
            if isinstance(value, list):
                out[name + "[list]"] = np.asarray(value, dtype=np.float64) if value else np.zeros((0,))
            else:
                out[name] = np.asarray(value)
    return out


def grad_arrays(
    steps: list[list[np.ndarray | SparseGrad | None]], params: list[np.ndarray]
) -> dict[str, np.ndarray]:
    """Gradients as npz entries: ``has_grad`` (steps x params, False where the gradient was ``None``),
    ``grads/{i}`` (steps x param shape, zeros where absent) for dense gradients, and
    ``grad/{t}/{i}/indices|values`` for sparse ones (their row count varies by step)."""
    out = {"has_grad": np.array([[g is not None for g in step] for step in steps], dtype=bool)}
    for i, p in enumerate(params):
        dense = [g for step in steps if not isinstance(g := step[i], SparseGrad)]
        if len(dense) == len(steps):
            out[f"grads/{i}"] = np.stack([np.zeros_like(p) if g is None else g for g in dense])
        for t, step in enumerate(steps):
            if isinstance(step[i], SparseGrad):
                out[f"grad/{t}/{i}/indices"] = np.asarray(step[i].indices, dtype=np.int64)
                out[f"grad/{t}/{i}/values"] = step[i].values
    return out


def run_optim_case(
    case: OptimCase,
    params: list[np.ndarray] | None = None,
    gradient: GradientSource | None = None,
    optimizer_class: type | None = None,
) -> OptimRecord:
    """The reference's run of ``case``. ``params`` and ``gradient(t, i, param)`` replace the case's seeded
    draws where given: the property-based layer runs the examples Hypothesis draws through this same code.
    ``optimizer_class`` replaces the reference's class (a spec note's documented variant)."""
    params = initial_params(case) if params is None else [p.copy() for p in params]
    cls = optimizer_class or getattr(refimpl.optim, case.optimizer)
    opt = cls(build_groups(case, [p.copy() for p in params]), **case.hyper)
    live = [p for _, _, p in opt.indexed_params()]
    record = OptimRecord(meta=case.describe())
    arrays = record.arrays
    for i, p in enumerate(params):
        arrays[f"init/{i}"] = p
    trajectory: list[list[np.ndarray]] = [[] for _ in params]
    losses, evals, checkpoint_groups, all_grads = [], [], {}, []
    objective = getattr(refimpl.objectives, case.objective) if case.objective else None
    for t in range(case.steps):
        for group, key, value in case.changes.get(t, ()):
            opt.param_groups[group][key] = value
        if case.optimizer == "LBFGS":
            calls = 0

            def closure() -> tuple[float, list[np.ndarray]]:
                nonlocal calls
                calls += 1
                return objective(live)

            losses.append(float(opt.step(closure)))
            evals.append(calls)
        else:
            if objective is not None:
                loss, grads = objective(live)
                losses.append(float(loss))
            else:
                draw = gradient or (lambda t, i, p: draw_gradient(case, t, i, p))
                grads = [draw(t, i, p) for i, p in enumerate(live)]
            all_grads.append(grads)
            opt.step(grads)
        for i, p in enumerate(live):
            trajectory[i].append(p.copy())
        if t + 1 in case.checkpoints:
            sd = opt.state_dict()
            arrays.update(state_arrays(f"state/{t + 1}", sd["state"]))
            checkpoint_groups[str(t + 1)] = jsonable(
                [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]]
            )
    for i, steps in enumerate(trajectory):
        arrays[f"params/{i}"] = np.stack(steps)
    if all_grads:
        arrays.update(grad_arrays(all_grads, params))
    if losses:
        arrays["loss"] = np.asarray(losses)
    if evals:
        arrays["evals"] = np.asarray(evals, dtype=np.int64)
    record.meta["checkpoint_param_groups"] = checkpoint_groups
    if case.inputs:
        inputs = {k: v for k, v in arrays.items() if k.startswith(("init/", "grads/"))}
        record.meta["inputs"]["sha256"] = pinned.digest(inputs)
    return record


def stored_arrays(record: OptimRecord) -> dict[str, np.ndarray]:
    """What the vectors keep of a case: every array, or for a generated case (its inputs drawn again from
    the pinned generator, its expected values computed by the reference at load time) the params after
    every step at the positions ``pinned.spot_indices`` picks: a check that the reference still computes
    what it computed when the vectors were made."""
    if "inputs" not in record.meta:
        return record.arrays
    return {
        f"spot/{k}": v.reshape(-1)[pinned.spot_indices(v.size)]
        for k, v in record.arrays.items()
        if k.startswith("params/")
    }


def versions() -> dict[str, str]:
    return {
        "torch_version": TORCH_VERSION,
        "refimpl_version": refimpl.__version__,
        "numpy_version": np.__version__,
    }


def vector_files(cases: list[OptimCase]) -> list[VectorFile]:
    """One ``.npz`` and one ``.json`` per optimizer, holding all of its cases."""
    by_file: dict[str, list[OptimRecord]] = {}
    for case in cases:
        by_file.setdefault(f"optim/{refimpl.optim.MODULES[case.optimizer]}", []).append(run_optim_case(case))
    return _array_files(by_file)


def _array_files(by_file: dict[str, list[OptimRecord]]) -> list[VectorFile]:
    """``<stem>.npz`` (every record's arrays, keyed ``<case id>/<name>``) and ``<stem>.json`` (their
    descriptions) for each stem."""
    files = []
    for stem, records in sorted(by_file.items()):
        ids = [r.meta["id"] for r in records]
        arrays = {f"{r.meta['id']}/{k}": v for r in records for k, v in stored_arrays(r).items()}
        files.append(VectorFile(f"{stem}.npz", npz_bytes(arrays), ids))
        files.append(VectorFile(f"{stem}.json", json_bytes({r.meta["id"]: r.meta for r in records}), ids))
    return files


def run_sched_case(case: SchedCase, adapter: RefimplAdapter | None = None) -> dict[str, Any]:
    """The case's description with the reference's values under ``expected``: ``{key: rows}``, row ``t``
    the groups' values after epoch ``t`` (row 0: after construction). ``adapter`` replaces the reference
    (one with a spec note's documented variant)."""
    meta = case.describe()
    adapter = adapter or RefimplAdapter()
    meta["expected"] = play(meta, lambda: make_run(adapter, meta, "cpu"), list(case.recorded))
    return meta


def scheduler_files(cases: list[SchedCase]) -> list[VectorFile]:
    """One ``sched/<module>.json`` per scheduler class, holding its cases with their expected values."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        by_file.setdefault(SCHEDULER_MODULES[case.scheduler], []).append(run_sched_case(case))
    return [
        VectorFile(
            f"sched/{module}.json",
            json_bytes({m["id"]: m for m in metas}, compact_rows=True),
            [m["id"] for m in metas],
        )
        for module, metas in sorted(by_file.items())
    ]


def run_swa_case(case: AveragedCase | UpdateBnCase) -> OptimRecord:
    """The reference's run of a swa_utils case: its inputs and expected values (arrays), its description."""
    meta = case.describe()
    if isinstance(case, AveragedCase):
        return OptimRecord(averaged_arrays(meta, averaged_inputs(case), RefimplAdapter()), meta)
    return OptimRecord(update_bn_arrays(meta, update_bn_inputs(case), RefimplAdapter()), meta)


def swa_files(cases: list[AveragedCase | UpdateBnCase]) -> list[VectorFile]:
    """One ``swa/<kind>.npz`` and ``.json`` per kind (averaged_model, update_bn), holding its cases."""
    by_file: dict[str, list[OptimRecord]] = {}
    for case in cases:
        by_file.setdefault(f"swa/{SWA_MODULES[case.describe()['kind']]}", []).append(run_swa_case(case))
    return _array_files(by_file)


def all_files(
    cases: list[OptimCase], schedules: list[SchedCase], swa: list[AveragedCase | UpdateBnCase]
) -> list[VectorFile]:
    """Every vector file of a generation: optimizer, scheduler and swa_utils cases."""
    return vector_files(cases) + scheduler_files(schedules) + swa_files(swa)

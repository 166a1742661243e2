"""Run one vector case on a candidate and measure how far it lands from the reference.

Two checks per optimizer case:

- **trajectory**: start from the stored initial params, apply every step (stored gradients, or the named
  objective evaluated at the candidate's own params), compare the params after every step and the whole
  optimizer state at every stored checkpoint.
- **single step** (teacher forcing): for each stored checkpoint, load the reference's params and optimizer
  state into a fresh candidate optimizer, apply one step, compare. Accumulated rounding can neither hide a
  bug nor fake one, and the failing step is pinned exactly.

Any exception from the candidate (its constructor included), a NaN where the reference has a number, or a
wrong shape, becomes a ``CandidateError`` whose message says what happened and at which step; the harness
reports it as a failure of that case and goes on.

The optimizer state is compared as ``conformance.state`` says: in torch's layout or through the class's
declared key map, and where the candidate keeps it otherwise the check says "state: not comparable" in its
``notes`` and judges the params alone.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import refimpl.objectives
from conformance import scalars
from conformance.adapters.base import NotSupported
from conformance.declarations import declaration
from conformance.halfsteps import require_decidable, run_half_steps, unmodelled
from conformance.lowprec import HALF
from conformance.metrics import Divergence, normwise_error, running_scales, trajectory_divergence
from conformance.schemas import array_problem
from conformance.state import (
    NOT_COMPARABLE,
    as_candidate,
    as_torch,
    compared_keys,
    layout_problem,
    missing_note,
)
from conformance.tolerances import EPS, TINY, single_step_rtol, trajectory_rtol
from conformance.vectors import VERIFY_HINT, VectorError, Vectors
from refimpl.optim import SparseGrad

# The optimizer hyperparameters that torch takes as tuples; JSON stores them as lists.
TUPLE_OPTIONS = {"betas", "etas", "step_sizes", "eps", "ns_coefficients"}


class CandidateError(Exception):
    """The candidate raised, or returned something unusable (wrong shape, wrong count)."""


class SuiteError(Exception):
    """The suite itself could not check (a broken vector, a search that found no example to run): reported
    as the suite's error, never as the candidate's failure."""


@dataclass
class LoadedCase:
    """A vector case, with its arrays and description, and the conversions the checks need."""

    id: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @classmethod
    def load(cls, vectors: Vectors, case_id: str) -> LoadedCase:
        """The case, its arrays checked against its description (a wrong shape is a ``VectorError``: the
        vectors' fault, not the candidate's). The description is a copy: a check may adjust it (a tolerance
        override) without changing it for later checks."""
        meta = copy.deepcopy(vectors.describe(case_id))
        if "inputs" in meta:  # a kernel-size case: inputs drawn again, expected values from the reference
            from conformance.generated import arrays as generated_arrays

            return cls(case_id, meta, generated_arrays(vectors, case_id))
        arrays = vectors.arrays(case_id)
        if bad := array_problem(meta, arrays):
            where = vectors.directory / vectors.case_file[case_id]
            raise VectorError(f"{where} (case {case_id}): {bad}; {VERIFY_HINT}")
        return cls(case_id, meta, arrays)

    @property
    def n_params(self) -> int:
        return sum(len(g["shapes"]) for g in self.meta["groups"])

    @property
    def hyper(self) -> dict[str, Any]:
        return {
            k: tuple(v) if k in TUPLE_OPTIONS and isinstance(v, list) else v
            for k, v in self.meta["hyper"].items()
        }

    def laid_out(self, i: int, array: Any) -> Any:
        """``array`` (param ``i`` or its gradient) in the case's memory layout for param ``i``."""
        layouts = self.meta.get("layouts") or []
        return lay_out(array, layouts[i]) if i < len(layouts) and isinstance(array, np.ndarray) else array

    def groups(self, params: list[np.ndarray]) -> list[dict[str, Any]]:
        params = [self.laid_out(i, p) for i, p in enumerate(params)]
        out, start = [], 0
        for g in self.meta["groups"]:
            n = len(g["shapes"])
            overrides = {
                k: tuple(v) if k in TUPLE_OPTIONS and isinstance(v, list) else v
                for k, v in g["overrides"].items()
            }
            out.append({"params": params[start : start + n], **overrides})
            start += n
        return out

    def initial(self) -> list[np.ndarray]:
        """Fresh copies: what a candidate does to them can never reach the vectors or another check."""
        return [self.arrays[f"init/{i}"].copy() for i in range(self.n_params)]

    def expected(self, t: int) -> list[np.ndarray]:
        """Params after step ``t`` (1-based), as fresh copies (single steps start a candidate from them)."""
        return [self.arrays[f"params/{i}"][t - 1].copy() for i in range(self.n_params)]

    def gradients(self, t: int) -> list[np.ndarray | SparseGrad | None]:
        """The stored gradients of step ``t`` (0-based), as copies (a candidate may scale them in place)."""
        grads: list[np.ndarray | SparseGrad | None] = []
        for i in range(self.n_params):
            if not self.arrays["has_grad"][t, i]:
                grads.append(None)
            elif f"grads/{i}" in self.arrays:
                grads.append(self.laid_out(i, self.arrays[f"grads/{i}"][t].copy()))
            else:
                shape = tuple(self.arrays[f"init/{i}"].shape)
                indices, values = self.arrays[f"grad/{t}/{i}/indices"], self.arrays[f"grad/{t}/{i}/values"]
                grads.append(SparseGrad(indices.copy(), values.copy(), shape))
        return grads

    def changes(self, t: int) -> list[tuple[int, str, Any]]:
        return [tuple(c) for c in self.meta["changes"].get(str(t), [])]

    def state_dict(self, k: int) -> dict[str, Any]:
        """The reference's optimizer state dict after step ``k``, in torch's layout (fresh copies)."""
        state: dict[int, dict[str, Any]] = {}
        prefix = f"state/{k}/"
        for name, stored in self.arrays.items():
            if name.startswith(prefix):
                index, key = name[len(prefix) :].split("/", 1)
                value = stored.copy()
                if key.endswith("[list]"):
                    key, value = key[: -len("[list]")], list(value)
                state.setdefault(int(index), {})[key] = value
        groups, start = [], 0
        for g, spec in zip(self.meta["checkpoint_param_groups"][str(k)], self.meta["groups"], strict=True):
            groups.append({**g, "params": list(range(start, start + len(spec["shapes"])))})
            start += len(spec["shapes"])
        groups = [
            {kk: tuple(v) if kk in TUPLE_OPTIONS and isinstance(v, list) else v for kk, v in g.items()}
            for g in copy.deepcopy(groups)
        ]
        return {"state": state, "param_groups": groups}


def lay_out(array: np.ndarray, layout: str) -> np.ndarray:
    """``array``'s values in ``layout`` (see ``OptimCase.layouts``): "transposed" is column-major (a dense
    but non-contiguous 2-D param), "strided" every other element of a buffer twice as long in the last
    dimension (not dense)."""
    if layout == "transposed":
        return np.asfortranarray(array)
    if layout == "strided":
        buffer = np.zeros((*array.shape[:-1], 2 * array.shape[-1]), dtype=array.dtype)
        view = buffer[..., ::2]
        view[...] = array
        return view
    return array


@dataclass
class CheckResult:
    passed: bool
    divergence: Divergence
    rtol: list[float]
    seconds: float
    steps_run: int
    step_seconds: list[float] = field(default_factory=list)
    # The step number each compared entry checked (single steps: checkpoint + 1); empty means 1, 2, ...
    checked_steps: list[int] = field(default_factory=list)
    # Lines the failure message adds after the metrics (a scheduler check: the values at the first bad epoch).
    details: list[str] = field(default_factory=list)
    # What the check could not look at, said in every record (e.g. "state: not comparable ...").
    notes: list[str] = field(default_factory=list)

    def per_step(self) -> dict[str, list[float]]:
        """Error and tolerance after each checked step, to 3 significant digits (a plot needs no more), for
        the report's error-against-step plot of a failing case."""
        errors = self.divergence.step_rel
        return {
            "steps": self.checked_steps or list(range(1, len(errors) + 1)),
            "max_rel": [float(f"{e:.3g}") for e in errors],
            "rtol": [float(f"{r:.3g}") for r in self.rtol],
        }


def _call(what: str, func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except NotSupported:
        raise
    except Exception as e:  # any failure of the candidate is reported, with where it happened
        raise CandidateError(f"{what}: candidate raised {type(e).__name__}: {e}".splitlines()[0]) from e


def _build(adapter: Any, case: LoadedCase, params: list[np.ndarray], when: str, **where: Any) -> Any:
    """The candidate's optimizer for ``case`` over ``params``; what its constructor raises is the
    candidate's failure (``NotSupported`` stays "not supported")."""
    return _call(
        f"building {case.meta['optimizer']}({_options(case.hyper)}) {when}",
        lambda: adapter.make_optimizer(case.meta["optimizer"], case.groups(params), case.hyper, **where),
    )


def _options(hyper: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in hyper.items())


def _params(run: Any, case: LoadedCase, when: str) -> list[np.ndarray]:
    params = _call(f"reading params {when}", run.params)
    if len(params) != case.n_params:
        raise CandidateError(f"{when}: candidate returned {len(params)} params, expected {case.n_params}")
    for i, (p, e) in enumerate(zip(params, case.initial(), strict=True)):
        if np.shape(p) != e.shape:
            raise CandidateError(f"{when}: param {i} has shape {np.shape(p)}, expected {e.shape}")
    # Copies: a candidate returning its live arrays must not change what was recorded for an earlier step.
    return [np.array(p) for p in params]


def _objective_closure(case: LoadedCase) -> Any:
    objective = getattr(refimpl.objectives, case.meta["objective"])

    def closure(params: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
        # The objective is evaluated in float64 at the candidate's params (cast up), so only the
        # candidate's optimizer arithmetic is under test.
        targets = case.initial()
        loss, grads = objective([np.asarray(p).astype(t.dtype) for p, t in zip(params, targets, strict=True)])
        return loss, grads

    return closure


def _set_changes(run: Any, case: LoadedCase, t: int) -> None:
    """The case's hyperparameter changes before step ``t + 1``."""
    for group, key, value in case.changes(t):
        where = f"setting param_groups[{group}][{key!r}] before step {t + 1}"
        _call(where, run.set_hyperparameter, group, key, value)


def _step(run: Any, case: LoadedCase, t: int, closure: Any) -> None:
    """Step ``t + 1`` of the case: its stored gradients, or its objective at the candidate's params."""
    if case.meta["optimizer"] == "LBFGS":
        _call(f"step {t + 1}", run.step_closure, closure)
    else:
        grads = closure(_params(run, case, f"before step {t + 1}"))[1] if closure else case.gradients(t)
        _call(f"step {t + 1}", run.step, grads)


def run_trajectory(
    adapter: Any, case: LoadedCase, dtype: str, device: str, variant: str, running_scale: bool = False
) -> CheckResult:
    """The trajectory check. ``running_scale`` measures each array's error against the largest magnitude
    it has had so far (``conformance.metrics.running_scales``), for examples whose steps may cancel."""
    name, steps = case.meta["optimizer"], case.meta["steps"]
    if dtype in HALF:
        if reason := unmodelled(case.meta, dtype, variant):
            # The half bound (GROWTH * eps * t from the float64 trajectory) assumes each step rounds its
            # results once, as the model does; a step rounding its intermediates too leaves it while correct
            # (torch's float16 for-loop AdamW, lr 0.05: 670 ULPs at step 35, 0/0 where eps underflows).
            raise NotSupported(f"{reason}; its {dtype} trajectory has no bound to be held to")
        require_decidable(case, dtype)
        if "inputs" in case.meta:
            raise NotSupported(
                f"a kernel-size case's drawn inputs are not on the {dtype} grid, so its float64 trajectory "
                f"is no {dtype} reference: the teacher-forced {dtype} check (test_single_step) covers it"
            )
    start = time.perf_counter()
    run = _build(adapter, case, case.initial(), "", dtype=dtype, device=device, variant=variant)
    closure = _objective_closure(case) if case.meta["objective"] else None
    actual: list[list[np.ndarray]] = []
    expected: list[list[np.ndarray]] = []
    names: list[list[str]] = []
    step_seconds: list[float] = []
    compare_state = "state_dict" in adapter.capabilities().features
    notes: set[str] = set()
    if not compare_state:
        notes.add(f"{NOT_COMPARABLE} (the candidate does not declare the 'state_dict' feature)")
    for t in range(steps):
        _set_changes(run, case, t)
        tick = time.perf_counter()
        _step(run, case, t, closure)
        step_seconds.append(time.perf_counter() - tick)
        actual.append(_params(run, case, f"after step {t + 1}"))
        expected.append(case.expected(t + 1))
        names.append([f"param {i}" for i in range(case.n_params)])
        if t + 1 in case.meta["checkpoints"] and compare_state:
            labels, got, want = _state_pairs(run, case, t + 1, notes, declaration(adapter, name))
            actual[-1] += got
            expected[-1] += want
            names[-1] += labels
        if t + 1 == case.meta.get("reload_at") and compare_state:
            run = _resumed(adapter, run, case, t + 1, dtype, device, variant)
    rtol = _scalar_widened(
        trajectory_rtol(dtype, steps, case.meta.get("tolerance")), adapter, case, dtype, notes, run_trajectory
    )
    initial = {f"param {i}": p for i, p in enumerate(case.initial())}
    # A kernel-size case's small params are drawn, not designed: one of one element may pass near zero,
    # where its own magnitude is no scale for the error of a step computed at its earlier magnitude.
    running_scale = running_scale or "inputs" in case.meta
    scales = running_scales(names, expected, initial, TINY[dtype]) if running_scale else None
    d = trajectory_divergence(actual, expected, rtol, EPS[dtype], scales)
    return CheckResult(
        d.first_bad_step is None and not d.non_finite,
        d,
        rtol,
        time.perf_counter() - start,
        steps,
        step_seconds,
        details=_beyond(d.first_bad_step, names, actual, expected, rtol, scales),
        notes=sorted(notes),
    )


def _beyond(
    first: int | None,
    names: list[list[str]],
    actual: list[list[np.ndarray]],
    expected: list[list[np.ndarray]],
    rtol: list[float],
    scales: list[list[float]] | None,
) -> list[str]:
    """Which arrays (params, state entries) are beyond tolerance at the first bad step: what is wrong."""
    if first is None:
        return []
    t = first - 1
    bad = [
        f"{name} ({normwise_error(a, e, None if scales is None else scales[t][i]):.3g})"
        for i, (name, a, e) in enumerate(zip(names[t], actual[t], expected[t], strict=True))
        if normwise_error(a, e, None if scales is None else scales[t][i]) > rtol[t]
    ]
    return [f"beyond tolerance after step {first}: {', '.join(bad)}"] if bad else []


def _resumed(adapter: Any, run: Any, case: LoadedCase, k: int, dtype: str, device: str, variant: str) -> Any:
    """torch's resume recipe after step ``k``: the state dict saved, a fresh optimizer built over the
    current params, the state dict loaded. The rest of the trajectory must be the uninterrupted one's."""
    saved = _call(f"saving the state dict after step {k}", run.state_dict)
    params = _params(run, case, f"after step {k}")
    fresh = _build(
        adapter, case, params, f"afresh after step {k}", dtype=dtype, device=device, variant=variant
    )
    _call(f"loading the state dict saved after step {k}", fresh.load_state_dict, saved)
    return fresh


def _state_pairs(
    run: Any, case: LoadedCase, k: int, notes: set[str], declared: Any
) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The candidate's optimizer state after step ``k`` next to the reference's, entry by entry, with each
    entry's name (``state[0]['exp_avg']``, ``state[0]['old_dirs'][2]``).

    Compared alongside the params, so state that never feeds back into the params (ASGD's average ``ax``)
    is checked too, and a wrong state is caught at the checkpoint where it first shows. Keys the candidate
    does not keep in torch's layout (or under its declared names) are left out and named in ``notes``.
    """
    try:
        state = _call(f"reading the optimizer state after step {k}", run.state_dict)["state"]
    except NotSupported as e:
        notes.add(f"{NOT_COMPARABLE} (the candidate's state_dict: {e})")
        return [], [], []
    reference = case.state_dict(k)["state"]
    if declared.state_keys is None:
        # torch makes a param's state at its first gradient, never for a param without one (an empty
        # entry, or one of None values, is no state: torch's SGD without momentum leaves such entries)
        extra = sorted(
            i for i, s in state.items() if i not in reference and any(v is not None for v in s.values())
        )
        if extra:
            raise CandidateError(f"after step {k}: params {extra} have state but have had no gradient")
    state = as_torch(state, declared)
    labels: list[str] = []
    got, want = [], []
    missing: dict[str, set[Any]] = {}
    held: set[str] = set()
    for index, entries in reference.items():
        wanted = compared_keys(declared, set(entries))
        held |= wanted
        for key, value in entries.items():
            if key not in wanted:
                continue
            if index not in state or key not in state[index]:
                missing.setdefault(key, set()).add(index)
                continue
            mine = state[index][key]
            if isinstance(value, list):
                if len(mine) != len(value):
                    raise CandidateError(
                        f"after step {k}: param {index} state {key!r} has {len(mine)} entries, "
                        f"expected {len(value)}"
                    )
                pairs = [
                    (j, np.array(m), np.asarray(v))
                    for j, (m, v) in enumerate(zip(mine, value, strict=True))
                    # a slot never written (LBFGS's al): None in the state, NaN in the vectors
                    if not (m is None and np.all(np.isnan(v)))
                ]
                if pairs and all(m.ndim == v.ndim == 0 for _, m, v in pairs):
                    # a list of scalars (LBFGS's al, ro) is one vector: an entry that cancels to ~0 is
                    # measured against the list's scale, not its own
                    labels.append(f"state[{index}][{key!r}]")
                    got.append(np.stack([m.astype(np.float64) for _, m, _ in pairs]))
                    want.append(np.stack([v for _, _, v in pairs]))
                    continue
                for j, m, v in pairs:
                    labels.append(f"state[{index}][{key!r}][{j}]")
                    got.append(m)
                    want.append(v)
            else:
                if np.shape(mine) != np.shape(value):
                    raise CandidateError(
                        f"after step {k}: param {index} state {key!r} has shape {np.shape(mine)}, "
                        f"expected {np.shape(value)}"
                    )
                labels.append(f"state[{index}][{key!r}]")
                got.append(np.array(mine))
                want.append(np.asarray(value))
    if declared.state_keys is not None and not declared.state_keys:
        notes.add(f"{NOT_COMPARABLE} (the candidate declares an empty state-key map)")
    elif missing:
        notes.add(missing_note(missing, {key for s in reference.values() for key in s}, held))
    return labels, got, want


def run_single_steps(adapter: Any, case: LoadedCase, dtype: str, device: str, variant: str) -> CheckResult:
    """One step from every checkpoint ``k`` (after step k, before step k + 1) that has a next step; in
    bfloat16 and float16, every step from the candidate's own values (``conformance.halfsteps``)."""
    if dtype in HALF:
        return run_half_steps(adapter, case, dtype, device, variant)
    name = case.meta["optimizer"]
    start = time.perf_counter()
    actual, expected, rtols = [], [], []
    checkpoints = [k for k in case.meta["checkpoints"] if k < case.meta["steps"]]
    declared = declaration(adapter, name)
    where = {"dtype": dtype, "device": device, "variant": variant}
    if checkpoints:
        _require_layout(adapter, case, checkpoints[0], declared, where)
    for k in checkpoints:
        run = _build(adapter, case, case.expected(k), f"over the params after step {k}", **where)
        reference = _state_in_dtype(case.state_dict(k), dtype)
        reference["state"] = as_candidate(reference["state"], declared)
        _call(f"loading the state after step {k}", run.load_state_dict, reference)
        _set_changes(run, case, k)
        # From a checkpoint, the stored gradients (LBFGS: its objective, at the loaded params).
        _step(run, case, k, _objective_closure(case) if name == "LBFGS" else None)
        actual.append(_params(run, case, f"after step {k + 1} from the checkpoint"))
        expected.append(case.expected(k + 1))
        rtols.append(single_step_rtol(dtype, case.meta.get("tolerance")))
    notes: set[str] = set()
    rtols = _scalar_widened(rtols, adapter, case, dtype, notes, run_single_steps)
    d = trajectory_divergence(actual, expected, rtols, EPS[dtype])
    # The metrics count checkpoints; report the step each one checked instead.
    d.first_bad_step = None if d.first_bad_step is None else checkpoints[d.first_bad_step - 1] + 1
    d.worst_step = None if d.worst_step is None else checkpoints[d.worst_step - 1] + 1
    return CheckResult(
        d.first_bad_step is None and not d.non_finite,
        d,
        rtols,
        time.perf_counter() - start,
        len(actual),
        checked_steps=[k + 1 for k in checkpoints],
        notes=sorted(notes),
    )


def _scalar_widened(
    rtol: list[float], adapter: Any, case: LoadedCase, dtype: str, notes: set[str], check: Any
) -> list[float]:
    """``rtol`` (one per compared step of ``check``) widened as ``conformance.scalars`` derives for a class
    declaring scalar hyperparameters no finer than ``dtype``; the derivation goes into ``notes``."""
    scalar_dtype = declaration(adapter, case.meta["optimizer"]).scalar_dtype
    if not scalars.applies(scalar_dtype, dtype) or not rtol:
        return rtol
    extra = scalars.probe(case, scalar_dtype, check)
    notes.add(scalars.describe(scalar_dtype, extra))
    return scalars.widened(rtol, extra)


def _require_layout(adapter: Any, case: LoadedCase, k: int, declared: Any, where: dict[str, Any]) -> None:
    """Teacher forcing loads the reference's state: ``NotSupported`` ("state: not comparable") unless the
    candidate keeps the state it is held to under the names it is loaded with. Probed by running the case
    to checkpoint ``k`` and reading the candidate's own state there."""
    if declared.state_keys is not None and not declared.state_keys:
        raise NotSupported(f"{NOT_COMPARABLE} (the candidate declares an empty state-key map)")
    run = _build(adapter, case, case.initial(), "", **where)
    closure = _objective_closure(case) if case.meta["objective"] else None
    for t in range(k):
        _set_changes(run, case, t)
        _step(run, case, t, closure)
    state = _call(f"reading the optimizer state after step {k}", run.state_dict)["state"]
    problem = layout_problem(state, case.state_dict(k)["state"], declared)
    if problem:
        raise NotSupported(problem)


def _state_in_dtype(state_dict: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The reference's float64 state cast to the candidate's precision (``step`` stays as stored); NumPy has
    no bfloat16, so those runs get float32 and the candidate rounds further as it loads."""
    real = {"float64": np.float64, "float16": np.float16}.get(dtype, np.float32)
    cplx = np.complex128 if dtype == "float64" else np.complex64

    def cast(key: str, value: Any) -> Any:
        if isinstance(value, list):
            return [cast(key, v) for v in value]
        if key == "step" or not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
            return value
        return value.astype(cplx if value.dtype.kind == "c" else real)

    state = {i: {k: cast(k, v) for k, v in s.items()} for i, s in state_dict["state"].items()}
    return {"state": state, "param_groups": state_dict["param_groups"]}

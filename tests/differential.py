"""Run a refimpl optimizer and its torch twin side by side on the same params and gradients.

The project's differential tests all go through ``run_pair``: one place decides how param groups, ``None``
gradients, sparse gradients, complex params and mid-run hyperparameter changes map onto torch, so each
optimizer's test file only lists its cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import refimpl.optim as ref

# The invalid-input derivation is shared with the conformance suite's error catalogue; re-exported here.
from conformance.invalid_inputs import invalid_kwargs, invalid_values, raised  # noqa: F401
from refimpl.optim import SparseGrad

torch = __import__("pytest").importorskip("torch")

GradFn = Callable[[int, int, np.ndarray], "np.ndarray | SparseGrad | None"]


@dataclass
class Trajectory:
    """Params after every step (``params[t][i]``) and the final state dict, as NumPy."""

    params: list[list[np.ndarray]] = field(default_factory=list)
    state: dict[int, dict[str, Any]] = field(default_factory=dict)
    param_groups: list[dict[str, Any]] = field(default_factory=list)


def to_numpy(value: Any) -> Any:
    """torch tensors (dense or sparse) to NumPy arrays; containers recursively; other values as they are."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.is_sparse:
            value = value.to_dense()
        return value.cpu().numpy().copy()
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def to_torch_grad(grad: np.ndarray | SparseGrad) -> Any:
    if isinstance(grad, SparseGrad):
        return torch.sparse_coo_tensor(
            torch.from_numpy(np.asarray(grad.indices, dtype=np.int64)[None, :]),
            torch.from_numpy(grad.values.copy()),
            grad.shape,
        )
    return torch.from_numpy(grad.copy())


def run_pair(
    name: str,
    groups: list[dict[str, Any]],
    hyper: dict[str, Any],
    grad_fn: GradFn,
    steps: int,
    changes: dict[int, list[tuple[int, str, Any]]] | None = None,
) -> tuple[Trajectory, Trajectory]:
    """Step refimpl's and torch's ``name`` optimizers ``steps`` times; return both trajectories.

    ``groups``: param-group dicts whose ``params`` are NumPy arrays (copied, never modified).
    ``grad_fn(t, i, param)``: the gradient of parameter ``i`` at step ``t`` (0-based), given the reference's
    current value of that param; ``None`` means no gradient this step.
    ``changes[t]``: ``(group, key, value)`` assignments made to ``param_groups`` before step ``t``, the
    "change lr in a loop over optimizer.param_groups" recipe.
    """
    changes = changes or {}
    ref_groups = [{**g, "params": [p.copy() for p in g["params"]]} for g in groups]
    torch_groups = [
        {**g, "params": [torch.from_numpy(p.copy()).requires_grad_(True) for p in g["params"]]}
        for g in groups
    ]
    ref_opt = getattr(ref, name)(ref_groups, **hyper)
    torch_opt = getattr(torch.optim, name)(torch_groups, **hyper)
    ref_params = [p for g in ref_opt.param_groups for p in g["params"]]
    torch_params = [p for g in torch_opt.param_groups for p in g["params"]]
    ref_traj, torch_traj = Trajectory(), Trajectory()
    for t in range(steps):
        for group, key, value in changes.get(t, []):
            ref_opt.param_groups[group][key] = value
            torch_opt.param_groups[group][key] = value
        grads = [grad_fn(t, i, p) for i, p in enumerate(ref_params)]
        for p, g in zip(torch_params, grads):
            p.grad = None if g is None else to_torch_grad(g)
        ref_opt.step(grads)
        torch_opt.step()
        ref_traj.params.append([p.copy() for p in ref_params])
        torch_traj.params.append([to_numpy(p) for p in torch_params])
    for traj, opt in ((ref_traj, ref_opt), (torch_traj, torch_opt)):
        sd = opt.state_dict()
        traj.state = to_numpy(sd["state"])
        traj.param_groups = to_numpy(sd["param_groups"])
    return ref_traj, torch_traj


def normwise_rel_error(actual: Any, expected: Any) -> float:
    """max |actual - expected| / max |expected| (complex compared as real pairs).

    Norm-wise rather than element-wise: an element that crosses zero has an unbounded element-wise relative
    error from one rounding, which says nothing about the implementation. The max-norm of the whole array
    is the scale against which one rounding error of the computation is measured.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"shape {a.shape} != expected shape {e.shape}")
    a, e = ref.real_view(a.astype(np.result_type(a, e))), ref.real_view(e.astype(np.result_type(a, e)))
    if e.size == 0:
        return 0.0
    if not np.array_equal(np.isfinite(a), np.isfinite(e)):
        return float("inf")
    finite = np.isfinite(e)
    scale = float(np.max(np.abs(e[finite]), initial=0.0))
    diff = float(np.max(np.abs(a[finite] - e[finite]), initial=0.0))
    if not np.array_equal(a[~finite], e[~finite]):
        return float("inf")
    return diff / scale if scale > 0 else diff


def assert_close(ref_traj: Trajectory, torch_traj: Trajectory, rtol: float, *, state: bool = True) -> None:
    """Every param after every step, and (optionally) every state entry at the end, within ``rtol``."""
    for t, (ref_ps, torch_ps) in enumerate(zip(ref_traj.params, torch_traj.params)):
        for i, (a, e) in enumerate(zip(ref_ps, torch_ps)):
            err = normwise_rel_error(a, e)
            assert err <= rtol, f"param {i} after step {t + 1}: rel error {err:.3g} > {rtol:.3g}"
    if not state:
        return
    assert ref_traj.state.keys() == torch_traj.state.keys(), (
        f"state for params {sorted(ref_traj.state)} != torch's {sorted(torch_traj.state)}"
    )
    for i, torch_state in torch_traj.state.items():
        ref_state = ref_traj.state[i]
        assert ref_state.keys() == torch_state.keys(), (
            f"param {i} state keys {sorted(ref_state)} != torch's {sorted(torch_state)}"
        )
        for key, expected in torch_state.items():
            if expected is None or ref_state[key] is None:
                assert expected is None and ref_state[key] is None, f"param {i} state {key!r}"
                continue
            err = normwise_rel_error(ref_state[key], expected)
            assert err <= rtol, f"param {i} state {key!r}: rel error {err:.3g} > {rtol:.3g}"


def pairwise(options: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """A small set of configurations in which every pair of values of every two options appears together.

    Greedy all-pairs: far fewer runs than the full product, and interaction bugs between two options (e.g.
    weight decay with maximize) are almost always pairwise.
    """
    names = list(options)
    uncovered = {
        (a, va, b, vb)
        for ia, a in enumerate(names)
        for b in names[ia + 1 :]
        for va in range(len(options[a]))
        for vb in range(len(options[b]))
    }
    rng = np.random.default_rng(0)
    configs: list[dict[str, Any]] = []
    while uncovered:
        best, best_cover = None, -1
        for _ in range(50):
            choice = {n: int(rng.integers(len(options[n]))) for n in names}
            a, va, b, vb = min(uncovered)  # sorted, not set order: the same configurations every run
            choice[a], choice[b] = va, vb
            cover = sum(
                1
                for ia, x in enumerate(names)
                for y in names[ia + 1 :]
                if (x, choice[x], y, choice[y]) in uncovered
            )
            if cover > best_cover:
                best, best_cover = choice, cover
        assert best is not None
        uncovered -= {(x, best[x], y, best[y]) for ia, x in enumerate(names) for y in names[ia + 1 :]}
        configs.append({n: options[n][best[n]] for n in names})
    return configs


def standard_groups(
    dtype: Any = np.float64,
    seed: int = 0,
    shapes: tuple[tuple[int, ...], ...] | None = None,
    **second_group: Any,
) -> list[dict[str, Any]]:
    """Two param groups over shapes a port gets wrong: 0-d, one element, empty, 2-D non-square, 3-D.

    ``second_group`` holds hyperparameters that override the optimizer's for the second group only (the
    "different lr per layer" recipe).
    """
    rng = np.random.default_rng(seed)
    shapes = shapes or ((), (1,), (0,), (3, 5), (2, 3, 4))

    def make(shape: tuple[int, ...]) -> np.ndarray:
        x = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            x = x + 1j * rng.standard_normal(shape)
        return np.asarray(x, dtype=dtype)

    first = [make(s) for s in shapes[: len(shapes) // 2 + 1]]
    second = [make(s) for s in shapes[len(shapes) // 2 + 1 :]]
    groups = [{"params": first}]
    if second:
        groups.append({"params": second, **second_group})
    return groups


def random_grads(seed: int = 1, none_every: int = 0, scale: float = 1.0) -> GradFn:
    """Gaussian gradients, reproducible per (step, param); ``None`` for param ``i`` at step ``t`` when
    ``none_every`` and ``(t + i) % none_every == 0`` (a param that skips a step must neither move nor get
    state), never on the first step of param 0 so some state exists."""

    def grad(t: int, i: int, p: np.ndarray) -> np.ndarray | None:
        if none_every and (t + i) % none_every == 0 and (t, i) != (0, 0):
            return None
        rng = np.random.default_rng([seed, t, i])
        g = rng.standard_normal(p.shape) * scale
        if p.dtype.kind == "c":
            g = g + 1j * rng.standard_normal(p.shape) * scale
        return np.asarray(g, dtype=p.dtype)

    return grad


def assert_same_error(name: str, kwargs: dict[str, Any], params: list[np.ndarray] | None = None) -> None:
    """refimpl's ``name(params, **kwargs)`` raises what torch's does: same type, same message (or neither)."""
    params = params if params is not None else [np.zeros((2, 3))]
    expected = raised(
        lambda: getattr(torch.optim, name)([torch.from_numpy(p.copy()) for p in params], **kwargs)
    )
    actual = raised(lambda: getattr(ref, name)([p.copy() for p in params], **kwargs))
    # torch formats float('nan') the same way Python does, so messages compare as strings.
    assert actual == expected, f"{name}({kwargs}): refimpl raised {actual}, torch raised {expected}"


def assert_same_step_error(
    name: str,
    params: list[np.ndarray],
    grads: list[Any],
    hyper: dict[str, Any] | None = None,
    added: list[np.ndarray] | None = None,
    rtol: float = 1e-12,
) -> None:
    """One ``step`` of refimpl's and torch's ``name`` raises the same exception (type and message), and both
    leave the same state behind (the state torch creates before it raises, within ``rtol``).

    For the checks torch makes at step time (complex params, sparse or dense gradients, shapes). ``added``
    params go in a second group through ``add_param_group``, which skips checks some constructors make.
    ``grads`` covers ``params`` then ``added``.
    """
    hyper, added = hyper or {}, added or []
    ref_opt = getattr(ref, name)([p.copy() for p in params], **hyper)
    torch_params = [torch.from_numpy(p.copy()) for p in params + added]
    torch_opt = getattr(torch.optim, name)(torch_params[: len(params)], **hyper)
    if added:
        ref_opt.add_param_group({"params": [p.copy() for p in added]})
        torch_opt.add_param_group({"params": torch_params[len(params) :]})
    for p, g in zip(torch_params, grads):
        p.grad = None if g is None else to_torch_grad(g)
    expected = raised(torch_opt.step)
    assert expected is not None, f"{name}: torch did not raise"
    actual = raised(lambda: ref_opt.step(grads))
    assert actual == expected, f"{name}: refimpl raised {actual}, torch raised {expected}"
    ref_traj = Trajectory(state=to_numpy(ref_opt.state_dict()["state"]))
    assert_close(ref_traj, Trajectory(state=to_numpy(torch_opt.state_dict()["state"])), rtol)

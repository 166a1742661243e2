"""The optimizer base class: param groups, per-parameter state and state dicts, as torch.optim has them.

The reference's optimizers differ from torch's in one deliberate way: gradients are not stored on the
parameters (NumPy arrays have no ``.grad``), so ``step`` takes them as an argument, one entry per parameter
in group order, with ``None`` for a parameter that has no gradient. Everything else a user can observe
(``param_groups`` and their keys, ``defaults``, ``state`` and its keys, ``state_dict()``) has torch's shape.

State is keyed by the parameter's *index*: its position counting through the param groups in order, which is
exactly the key torch's ``state_dict()`` uses. NumPy arrays are not hashable, and an index is what a reader
of a state dict sees anyway.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from refimpl.optim._validation import Table


@dataclass(frozen=True)
class SparseGrad:
    """A sparse (row-wise) gradient: what ``torch.sparse_coo_tensor`` with one sparse dimension holds.

    ``indices`` has shape ``(nnz,)`` and names rows of a parameter of shape ``shape``; ``values`` has shape
    ``(nnz, *shape[1:])``. Indices may repeat; as torch does when it coalesces, repeated rows are summed.
    This is the layout ``nn.Embedding(sparse=True)`` produces, the case SparseAdam exists for.
    """

    indices: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...]

    def coalesce(self) -> SparseGrad:
        """Sorted, unique row indices with repeated rows summed (torch's ``Tensor.coalesce``)."""
        rows, inverse = np.unique(np.asarray(self.indices, dtype=np.int64), return_inverse=True)
        values = np.zeros((len(rows), *self.shape[1:]), dtype=self.values.dtype)
        np.add.at(values, inverse.reshape(-1), self.values)
        return SparseGrad(rows, values, tuple(self.shape))

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        np.add.at(dense, np.asarray(self.indices, dtype=np.int64), self.values)
        return dense


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch's ``start.lerp(end, weight)``: ``start + weight * (end - start)`` for ``|weight| < 0.5``, else
    ``end - (end - start) * (1 - weight)``. The two forms are the same number up to rounding; torch's choice
    is exact at weight 1 (a moment with beta = 0 is exactly the gradient), where the first form cancels."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def real_view(x: np.ndarray) -> np.ndarray:
    """A complex array as a real array with a trailing axis of 2 (torch's ``view_as_real``); reals unchanged.

    torch optimizes a complex parameter as the pair (real, imag): element-wise statistics such as Adam's
    second moment are kept per component, not as ``|g|**2``. The view shares memory, so in-place updates
    through it update the complex parameter.
    """
    if np.iscomplexobj(x):
        return x[..., None].view(x.real.dtype)
    return x


class _Required:
    """Marks a default that every param group must set (torch's ``torch.optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class. Subclasses set ``hyperparameters`` (their validation table) and implement ``_step_group``.

    Subclasses validate their constructor arguments against their module's table, then call
    ``super().__init__(params, defaults)`` exactly as torch's optimizers do.
    """

    table: Table

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, np.ndarray):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got numpy.ndarray"
            )
        self.state: dict[int, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    # -- param groups -------------------------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group; missing hyperparameters come from ``defaults``, as in torch."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, np.ndarray):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list instead."
            )
        param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, np.ndarray):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}"
                )
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def indexed_params(self) -> Iterator[tuple[int, dict[str, Any], np.ndarray]]:
        """``(index, group, param)`` for every parameter, indices as in ``state_dict()``."""
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield index, group, p
                index += 1

    # -- stepping -------------------------------------------------------------------------------------------

    def step(self, grads: Sequence[Any]) -> None:
        """One update. ``grads[i]`` is the gradient of parameter ``i`` (group order), ``None`` for none.

        A parameter whose gradient is ``None`` is skipped entirely: not moved, and no state is created for
        it, which is what torch does for a parameter whose ``.grad`` is ``None``.
        """
        grads = list(grads)
        n_params = sum(len(g["params"]) for g in self.param_groups)
        if len(grads) != n_params:
            raise ValueError(f"step() got {len(grads)} gradients for {n_params} parameters")
        for group_params in self._grouped(grads):
            group, indices, params, group_grads = group_params
            if params:
                self._step_group(group, indices, params, group_grads)

    def _grouped(
        self, grads: list[Any]
    ) -> Iterator[tuple[dict[str, Any], list[int], list[np.ndarray], list[Any]]]:
        """Per group, the parameters that have a gradient, with their indices and gradients."""
        for group in self.param_groups:
            indices, params, group_grads = [], [], []
            for index, g, p in self.indexed_params():
                if g is group and grads[index] is not None:
                    indices.append(index)
                    params.append(p)
                    group_grads.append(grads[index])
            yield group, indices, params, group_grads

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        raise NotImplementedError

    # -- state dicts ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as torch returns it.

        The arrays in ``state`` are copies, so a saved dict does not change as the optimizer goes on.
        """
        groups = []
        index = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            index += len(group["params"])
            groups.append(packed)
        state = {i: copy.deepcopy(s) for i, s in sorted(self.state.items())}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyperparameters saved by ``state_dict()``; torch's checks and messages."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group "
                "that doesn't match the size of optimizer's group"
            )
        saved_ids = [i for s in saved_groups for i in s["params"]]
        id_map = dict(zip(saved_ids, range(len(saved_ids))))
        params = [p for _, _, p in self.indexed_params()]
        self.state = {}
        for key, value in state_dict["state"].items():
            if key in id_map:
                self.state[id_map[key]] = _cast_state(copy.deepcopy(value), params[id_map[key]])
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            group.clear()
            group.update(saved)


def _cast_state(value: dict[str, Any], param: np.ndarray) -> dict[str, Any]:
    """torch casts loaded floating-point state to a floating parameter's dtype, except ``step``."""
    return {
        k: v.astype(param.dtype)
        if k != "step" and isinstance(v, np.ndarray) and v.dtype.kind == "f" and param.dtype.kind == "f"
        else v
        for k, v in value.items()
    }

"""The optimizer base class: param groups, per-parameter state and state dicts, as torch.optim has them.

The reference's optimizers differ from torch's in one deliberate way: gradients are not stored on the
parameters (NumPy arrays have no ``.grad``), so ``step`` takes them as an argument, one entry per parameter
in group order, with ``None`` for a parameter that has no gradient. Everything else a user can observe
(``param_groups`` and their keys, ``defaults``, ``state`` and its keys, ``state_dict()``) has torch's shape.

State is keyed by the parameter's *index*: its position counting through the param groups in order, which is
exactly the key torch's ``state_dict()`` uses. NumPy arrays are not hashable, and an index is what a reader
of a state dict sees anyway.

Around the update, the base class has torch's API: step hooks (per optimizer and global, called in torch's
order: global pre hooks, the optimizer's pre hooks, the step, the optimizer's post hooks, global post
hooks; a pre hook may return ``(args, kwargs)`` to replace the step's arguments, ``args`` starting with the
optimizer itself), ``state_dict``/``load_state_dict`` pre and post hooks (a ``state_dict`` post hook or a
``load_state_dict`` pre hook that returns a dict replaces the one in flight; ``prepend=True`` puts a hook
first), removal handles, named params (``(name, param)`` pairs: ``param_names`` in the group and the state
dict), ``__repr__``, and the default dtype of scalar state (``set_default_dtype``, torch's
``torch.set_default_dtype``: torch keeps ``step`` and a few other scalars as tensors of the default dtype).
"""

from __future__ import annotations

import copy
import functools
import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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

# -- the default dtype of scalar state -----------------------------------------------------------------------

_default_dtype: type = np.float32


def set_default_dtype(dtype: Any) -> None:
    """torch's ``torch.set_default_dtype`` as the optimizers see it: the dtype torch keeps scalar state in
    (``step``; ASGD's ``eta`` and ``mu``; NAdam's ``mu_product``), float32 unless set to float64. A value
    stored in such a state is rounded to it (``scalar``)."""
    global _default_dtype
    dtype = np.dtype(dtype).type
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {dtype.__name__}")
    _default_dtype = dtype


def get_default_dtype() -> type:
    return _default_dtype


def scalar(x: float) -> float:
    """``x`` rounded to the default dtype, as torch stores it in a scalar state tensor (a Python float)."""
    return float(_default_dtype(x))


# -- hooks ---------------------------------------------------------------------------------------------------

_handle_ids = itertools.count()


class RemovableHandle:
    """What registering a hook returns (torch's ``torch.utils.hooks.RemovableHandle``): ``remove()`` takes
    the hook out of its registry; usable as a context manager."""

    def __init__(self, registry: dict[int, Callable[..., Any]]) -> None:
        self.registry, self.id = registry, next(_handle_ids)

    def remove(self) -> None:
        self.registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _register(
    registry: dict[int, Callable[..., Any]], hook: Callable[..., Any], prepend: bool = False
) -> RemovableHandle:
    handle = RemovableHandle(registry)
    registry[handle.id] = hook
    if prepend:  # dicts keep insertion order: rebuild with the new hook first
        items = [(handle.id, hook), *((k, v) for k, v in registry.items() if k != handle.id)]
        registry.clear()
        registry.update(items)
    return handle


_global_step_pre_hooks: dict[int, Callable[..., Any]] = {}
_global_step_post_hooks: dict[int, Callable[..., Any]] = {}


def register_optimizer_step_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A pre hook of every optimizer's step: ``hook(optimizer, args, kwargs) -> None or (args, kwargs)``."""
    return _register(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A post hook of every optimizer's step: ``hook(optimizer, args, kwargs) -> None``."""
    return _register(_global_step_post_hooks, hook)


def hooked_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` with the hooks around it, in torch's order (``Optimizer.profile_hook_step``)."""

    @functools.wraps(step)
    def run(*args: Any, **kwargs: Any) -> Any:
        optimizer = args[0]
        for hook in [*_global_step_pre_hooks.values(), *optimizer.step_hooks[0].values()]:
            result = hook(optimizer, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), but got {result}."
                    )
                args, kwargs = result
        out = step(*args, **kwargs)
        for hook in [*optimizer.step_hooks[1].values(), *_global_step_post_hooks.values()]:
            hook(optimizer, args, kwargs)
        return out

    run.hooked = True  # type: ignore[attr-defined]
    return run


class Optimizer:
    """Base class. Subclasses set ``hyperparameters`` (their validation table) and implement ``_step_group``.

    Subclasses validate their constructor arguments against their module's table, then call
    ``super().__init__(params, defaults)`` exactly as torch's optimizers do.
    """

    table: Table
    # Keys torch's ``__setstate__`` fills, with these values, in param groups loaded from older versions'
    # state dicts (keys added to the class since), each class its own.
    legacy_defaults: ClassVar[dict[str, Any]] = {}
    # State kept as a scalar of the default dtype (``set_default_dtype``), as torch keeps it in a tensor.
    scalar_state: ClassVar[tuple[str, ...]] = ("step",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = hooked_step(step)  # type: ignore[method-assign]

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        # (pre, post) hooks of step, state_dict and load_state_dict.
        self.step_hooks: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        self.state_dict_hooks: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        self.load_state_dict_hooks: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
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
        # Named params: ``(name, param)`` pairs, all or none of them (``named_parameters()``).
        names = [p[0] for p in param_group["params"] if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p for p in param_group["params"]]
        if names:
            if len(names) != len(param_group["params"]):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names
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
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
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

    @hooked_step
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
        Pre hooks see the optimizer; post hooks the dict too, and one that returns a dict replaces it.
        """
        for hook in list(self.state_dict_hooks[0].values()):
            hook(self)
        groups = []
        index = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            index += len(group["params"])
            groups.append(packed)
        state = {i: copy.deepcopy(s) for i, s in sorted(self.state.items())}
        state_dict = {"state": state, "param_groups": groups}
        for hook in list(self.state_dict_hooks[1].values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyperparameters saved by ``state_dict()``; torch's checks and messages.

        Pre hooks get a shallow copy of the dict (one that returns a dict replaces it); keys missing from
        the loaded groups that the class added since older versions get ``legacy_defaults``; then the post
        hooks run. Loaded ``param_names`` replace the group's; without them the group keeps its own.
        """
        state_dict = dict(state_dict)
        for hook in list(self.load_state_dict_hooks[0].values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
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
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            group.clear()
            group.update(saved)
        self._setstate()
        for hook in list(self.load_state_dict_hooks[1].values()):
            hook(self)

    def _setstate(self) -> None:
        """What torch's ``__setstate__`` does at the end of ``load_state_dict``: the keys added to the class
        since older versions, in groups that lack them (a ``step`` saved as a Python number needs nothing:
        the reference's is one)."""
        for group in self.param_groups:
            for key, value in self.legacy_defaults.items():
                group.setdefault(key, value)

    # -- hooks ----------------------------------------------------------------------------------------------

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before every step."""
        return _register(self.step_hooks[0], hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None`` after every step."""
        return _register(self.step_hooks[1], hook)

    def register_state_dict_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """``hook(optimizer) -> None`` before ``state_dict()`` builds the dict."""
        return _register(self.state_dict_hooks[0], hook, prepend)

    def register_state_dict_post_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None`` on the dict ``state_dict()`` returns."""
        return _register(self.state_dict_hooks[1], hook, prepend)

    def register_load_state_dict_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None`` on the dict being loaded."""
        return _register(self.load_state_dict_hooks[0], hook, prepend)

    def register_load_state_dict_post_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """``hook(optimizer) -> None`` once the state is loaded."""
        return _register(self.load_state_dict_hooks[1], hook, prepend)

    def __repr__(self) -> str:
        """torch's: the class name, then each group's keys (sorted, without ``params``) and values."""
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines += [""] * (i > 0) + [f"Parameter Group {i}"]
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


def _cast_state(value: dict[str, Any], param: np.ndarray) -> dict[str, Any]:
    """torch casts loaded floating-point state to a floating parameter's dtype, except ``step``."""
    return {
        k: v.astype(param.dtype)
        if k != "step" and isinstance(v, np.ndarray) and v.dtype.kind == "f" and param.dtype.kind == "f"
        else v
        for k, v in value.items()
    }

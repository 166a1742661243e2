"""What a rank runs: a torch optimizer sharded by ZeroRedundancyOptimizer or by FSDP2, driven like
``TorchOptimizerRun`` (zero_grad, gradients, step), with the state dict gathered in torch's layout.

Every rank receives the whole of every gradient (as data-parallel ranks hold the same all-reduced gradient).
ZeRO broadcasts each rank's updated params to the others, so every rank holds them all, and the harness
compares each rank's with rank 0's after every step; FSDP2's ranks hold a shard of rows each, which the
harness puts together.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint import state_dict as checkpoint
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.distributed.tensor import DTensor, Shard, distribute_tensor

from conformance.adapters.torch_adapter import TorchOptimizerRun, to_numpy


@dataclass(frozen=True)
class Spec:
    """What to build: ``engine`` ("zero", "fsdp"), the candidate module providing the sharding API (None:
    torch's), the torch.optim class and its arguments, and the world size the run uses (ranks 0..size-1)."""

    engine: str
    module: str | None
    optimizer: str
    groups: list[dict[str, Any]]
    hyper: dict[str, Any]
    dtype: str
    size: int


def _api(module: str | None, name: str, default: Callable[[], Any]) -> Any:
    """The candidate module's ``name`` if it has one, else torch's."""
    if module is not None:
        candidate = importlib.import_module(module)
        if hasattr(candidate, name):
            return getattr(candidate, name)
    return default()


class ZeroRun(TorchOptimizerRun):
    """``ZeroRedundancyOptimizer(params, optimizer_class=torch.optim.<name>, process_group=...)``: each
    param's state on one rank; ``consolidate_state_dict`` gathers it on rank 0 in torch's layout."""

    def __init__(self, spec: Spec, group: Any) -> None:
        wrapper = _api(spec.module, "ZeroRedundancyOptimizer", lambda: ZeroRedundancyOptimizer)
        cls = functools.partial(
            wrapper, optimizer_class=getattr(torch.optim, spec.optimizer), process_group=group
        )
        super().__init__(cls, spec.groups, spec.hyper, spec.dtype, "cpu")
        self.group = group

    def state_dict(self) -> dict[str, Any] | None:
        self.optimizer.consolidate_state_dict(to=0)
        return to_numpy(self.optimizer.state_dict()) if dist.get_rank() == 0 else None


class FsdpRun(TorchOptimizerRun):
    """FSDP2: the params in an ``nn.Module`` (an ``nn.ParameterList``, in group order), ``fully_shard`` on a
    mesh of the run's ranks, the optimizer over the sharded (DTensor) params; the state through
    ``torch.distributed.checkpoint.state_dict`` as a full state dict, keyed by the params' names there
    (``params.3``) and translated to and from torch.optim's indices (3).

    ``fully_shard`` rejects 0-d params ("Change 0 to a 1D tensor with numel equal to 1", its error says): a
    0-d param is held as a one-element vector, as a user of FSDP2 must, and its gradients, values and
    param-shaped state are reshaped at the boundary, so the harness compares them as the reference has them.
    """

    def __init__(self, spec: Spec, group: Any) -> None:
        torch_api = {"fully_shard": fully_shard, **vars(checkpoint)}
        self.fully_shard, self.get_state, self.set_state = (
            _api(spec.module, n, lambda n=n: torch_api[n])
            for n in ("fully_shard", "get_optimizer_state_dict", "set_optimizer_state_dict")
        )
        self.options = checkpoint.StateDictOptions(full_state_dict=True)
        self.mesh = DeviceMesh.from_group(group, "cpu")

        self.shapes = [np.shape(p) for g in spec.groups for p in g["params"]]

        def build(torch_groups: list[dict[str, Any]], **hyper: Any) -> Any:
            self.module = nn.Module()
            self.module.params = nn.ParameterList(
                [nn.Parameter(p.detach().reshape(p.shape or (1,))) for g in torch_groups for p in g["params"]]
            )
            self.fully_shard(self.module, mesh=self.mesh)
            sharded = iter(self.module.params)
            groups = [{**g, "params": [next(sharded) for _ in g["params"]]} for g in torch_groups]
            return getattr(torch.optim, spec.optimizer)(groups, **hyper)

        super().__init__(build, spec.groups, spec.hyper, spec.dtype, "cpu")

    def _grad(self, grad: Any, param: Any) -> Any:
        if grad is None:
            return None
        full = torch.tensor(np.asarray(grad), dtype=param.dtype).reshape(param.shape)
        if tuple(param.placements) != (Shard(0),):  # a module's own fully_shard, sharding otherwise
            return distribute_tensor(full, param.device_mesh, param.placements)
        # This rank's rows, cut here rather than scattered by a collective (every rank has the whole).
        start, end = shard_rows(full.shape[0], self.mesh.size(), self.mesh.get_local_rank())
        local = full[start:end].contiguous()
        return DTensor.from_local(
            local,
            param.device_mesh,
            param.placements,
            run_check=False,
            shape=full.shape,
            stride=full.stride(),
        )

    def params(self) -> list[np.ndarray]:
        """This rank's shard of each param (the harness puts the shards together: a gather without
        collectives, which also tells which rank holds a wrong row)."""
        return [to_numpy(p.to_local()) for p in self._params]

    def _reshaped(self, state: dict[int, dict[str, Any]], held: bool) -> dict[int, dict[str, Any]]:
        """The param-shaped state of 0-d params as FSDP2 holds it (``held``: one element) or as the
        reference has it (0-d)."""
        out = {}
        for i, entries in state.items():
            if self.shapes[i] == ():
                entries = {
                    k: _reshape(v, (1,) if held else ()) if k not in SCALAR_STATE else v
                    for k, v in entries.items()
                }
            out[i] = entries
        return out

    def state_dict(self) -> dict[str, Any]:
        full = self.get_state(self.module, self.optimizer, options=self.options)
        index = {f"params.{i}": i for i in range(len(self._params))}
        groups = [{**g, "params": [index[n] for n in g["params"]]} for g in full["param_groups"]]
        state = self._reshaped({index[n]: s for n, s in full["state"].items()}, held=False)
        return to_numpy({"state": state, "param_groups": groups})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        named = self._to_torch(state_dict)
        named = {
            "state": {f"params.{i}": s for i, s in self._reshaped(named["state"], held=True).items()},
            "param_groups": [
                {**g, "params": [f"params.{i}" for i in g["params"]]} for g in named["param_groups"]
            ],
        }
        with self.switches_kept():
            self.set_state(self.module, self.optimizer, optim_state_dict=named, options=self.options)


def shard_rows(rows: int, ranks: int, rank: int) -> tuple[int, int]:
    """The rows of dim 0 that ``Shard(0)`` gives ``rank`` (``torch.chunk``'s split: ceil(rows / ranks) each,
    the last ranks short or empty)."""
    size = -(-rows // ranks)
    start = min(rank * size, rows)
    return start, min(start + size, rows)


# Per-param state that is 0-d whatever the param's shape (torch's ``step``, ASGD's ``eta`` and ``mu``,
# NAdam's ``mu_product``).
SCALAR_STATE = frozenset({"step", "eta", "mu", "mu_product"})


def _reshape(value: Any, shape: tuple[int, ...]) -> Any:
    return value.reshape(shape) if isinstance(value, torch.Tensor) and value.numel() == 1 else value


ENGINES = {"zero": ZeroRun, "fsdp": FsdpRun}


def _make(
    runs: dict[int, Any], groups: dict[int, Any], rank: int, run_id: int, spec: Spec, keep: list[int]
) -> None:
    for stale in set(runs) - set(keep):  # runs the harness no longer holds
        del runs[stale]
    runs[run_id] = ENGINES[spec.engine](spec, groups[spec.size]) if rank < spec.size else None


def _on(method: str) -> Callable[..., Any]:
    """An op that calls ``method`` of the run (``None`` on a rank outside the run's group)."""

    def op(runs: dict[int, Any], groups: dict[int, Any], rank: int, run_id: int, *args: Any) -> Any:
        run = runs[run_id]
        return None if run is None else getattr(run, method)(*args)

    return op


def _step_and_params(
    runs: dict[int, Any], groups: dict[int, Any], rank: int, run_id: int, grads: list[Any]
) -> Any:
    """A step, answered with this rank's params after it: the harness reads them after every step, and one
    round trip to the ranks instead of two halves the pipe traffic of a trajectory."""
    run = runs[run_id]
    if run is None:
        return None
    run.step(grads)
    return run.params()


OPS: dict[str, Callable[..., Any]] = {
    "make": _make,
    "step_and_params": _step_and_params,
    **{m: _on(m) for m in ("params", "state_dict", "load_state_dict", "set_hyperparameter")},
}

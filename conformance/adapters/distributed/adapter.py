"""Sharded torch optimizers as candidates: ``--impl=torch-zero`` and ``--impl=torch-fsdp``.

The adapter lives in the harness process and drives a ``WorkerPool`` of ``--world-size`` ranks on ``gloo``
(127.0.0.1 only). Each run it returns is one sharded optimizer on every rank; the harness's checks see an
ordinary ``OptimizerRun``: params after every step (each rank's, which must equal rank 0's bit for bit:
they are the same broadcast or gathered values), the state dict gathered in torch's layout, and loading one.
``torch-zero:MODULE`` / ``torch-fsdp:MODULE`` take ``ZeroRedundancyOptimizer`` (or ``fully_shard``,
``get_optimizer_state_dict``, ``set_optimizer_state_dict``) from ``MODULE`` where it has them: a user's
own sharding wrapper with torch's API, or one of the project's mutants.
"""

from __future__ import annotations

import importlib
import itertools
import weakref
from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, Closure, NotSupported
from conformance.adapters.distributed.pool import RankFault, WorkerPool
from conformance.adapters.torch_adapter import DTYPES, OPT_IN, VARIANT_FLAGS, TorchAdapter

BACKEND = "gloo"
DEFAULT_WORLD_SIZE = 2
# How long every rank may take to answer one command (a step, a state dict) before it counts as hung. A step
# of the catalogue's cases takes well under 10 ms per rank here and start-up is timed separately
# (pool.START_TIMEOUT_S); 60 s is thousands of times a normal answer, enough for a loaded 2-core machine
# whose processes are descheduled for seconds, and bounds a hung check to about a minute.
DEFAULT_TIMEOUT_S = 60.0

ENGINES = {
    "torch-zero": ("zero", "torch.distributed.optim.ZeroRedundancyOptimizer"),
    "torch-fsdp": ("fsdp", "torch.distributed.fsdp.fully_shard (FSDP2)"),
}
# Optimizers a sharding scheme cannot run, with the reason the report gives.
UNSUPPORTED = {
    "zero": {
        "LBFGS": "LBFGS takes one param group and a closure over the whole model; ZeroRedundancyOptimizer "
        "runs a separate LBFGS on each rank's shard, and torch rejects its param groups",
    },
    "fsdp": {
        "LBFGS": "LBFGS computes its direction from the flat vector of all params; over FSDP2's sharded "
        "params it is a different algorithm (and reads the closure's loss on every rank)",
        "SparseAdam": "FSDP2 shards params as DTensors, which take no sparse gradients",
        # Measured with torch 2.13: the step raises on the sharded params.
        "Adafactor": "its factored second moment reduces over whole rows and columns, and DTensor refuses "
        "the in-place ops on a Shard(0) param (RuntimeError: aten.pow_.Scalar / aten.mul.Tensor: in-place "
        "operations that require placement changes are not supported)",
        "Rprop": "DTensor has no sharding strategy for its ops (NotImplementedError: aten._foreach_copy_ "
        "does not have a sharding strategy registered; forloop: aten.index_put_ in-place operations that "
        "require placement changes are not supported)",
    },
}
# fused kernels without a DTensor sharding strategy in torch 2.13 (Adam's and AdamW's have one).
FSDP_UNFUSED = {"SGD": "aten._fused_sgd_", "Adagrad": "aten._fused_adagrad_"}


class DistributedRun:
    """One sharded optimizer on every rank of the pool, as an ``OptimizerRun``."""

    def __init__(self, adapter: DistributedAdapter, spec: Any) -> None:
        self.adapter, self.pool, self.size = adapter, adapter.pool, spec.size
        self.id = next(adapter.ids)
        self.steps = 0
        self.sharded = spec.engine == "fsdp"
        self.shapes = [np.shape(p) for g in spec.groups for p in g["params"]]
        # every rank's params as the last step left them (its answer carries them), until another command
        self.stepped: list[Any] | None = None
        adapter.live[self.id] = self
        self._call("building the optimizer", "make", spec, sorted(adapter.live))

    def _call(self, what: str, op: str, *args: Any) -> list[Any]:
        on = f"{what} (world size {self.size})" if self.size != self.adapter.world_size else what
        self.stepped = None  # any command may change the params (loading a state dict with FSDP2 steps)
        return self.pool.call(on, op, self.id, *args)[: self.size]

    def step(self, grads: list[Any]) -> None:
        self.steps += 1
        self.stepped = self._call(f"step {self.steps}", "step_and_params", grads)

    def step_closure(self, closure: Closure) -> float:
        raise NotSupported("closure-driven steps on a sharded optimizer")

    def params(self) -> list[np.ndarray]:
        ranks = self.stepped or self._call(f"gathering the params after step {self.steps}", "params")
        if self.sharded:  # FSDP2: each rank's rows of every param, in rank order
            return [np.concatenate(rows).reshape(shape) for rows, shape in zip(zip(*ranks), self.shapes)]
        for rank, params in enumerate(ranks[1:], 1):
            for i, (mine, theirs) in enumerate(zip(params, ranks[0], strict=True)):
                if not np.array_equal(mine, theirs, equal_nan=True):
                    gap = np.max(np.abs(np.asarray(mine, float) - np.asarray(theirs, float)), initial=0.0)
                    raise RankFault(
                        f"rank {rank} of {self.size} diverged from rank 0 after step {self.steps}: "
                        f"param {i} differs by up to {gap:.3g}"
                    )
        return ranks[0]

    def state_dict(self) -> dict[str, Any]:
        return self._call(f"gathering the state dict after step {self.steps}", "state_dict")[0]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._call(f"loading a state dict after step {self.steps}", "load_state_dict", state_dict)

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self._call(
            f"setting param_groups[{group}][{key!r}] after step {self.steps}",
            "set_hyperparameter",
            group,
            key,
            value,
        )


class DistributedAdapter:
    """``torch-zero`` or ``torch-fsdp`` (``kind``), optionally with a candidate ``module``."""

    def __init__(self, kind: str, module: str | None = None) -> None:
        self.kind = kind
        self.engine, self.wraps = ENGINES[kind]
        if module is not None:  # here, so that a typo is one line at start-up, not a failure per check
            importlib.import_module(module)
        self.module = module
        self.name = kind if module is None else f"{kind}:{module}"
        self.torch = TorchAdapter()
        self.world_size, self.timeout_s = DEFAULT_WORLD_SIZE, DEFAULT_TIMEOUT_S
        self.pool = WorkerPool(self.world_size, BACKEND, self.timeout_s)
        self.ids = itertools.count()
        self.live: weakref.WeakValueDictionary[int, DistributedRun] = weakref.WeakValueDictionary()

    def configure(self, option: Any) -> None:
        """The pytest options: ``--world-size``, and the timeout (``--dist-timeout``, else issue 16's
        ``--check-timeout`` where that option exists and is set)."""
        self.world_size = option("--world-size", DEFAULT_WORLD_SIZE)
        if self.world_size < 1:
            raise NotSupported(f"--world-size must be at least 1, got {self.world_size}")
        timeout = option("--dist-timeout") or option("--check-timeout")
        self.timeout_s = float(timeout) if timeout else DEFAULT_TIMEOUT_S
        self.pool.close()
        self.pool = WorkerPool(self.world_size, BACKEND, self.timeout_s)

    def close(self) -> None:
        self.pool.close()

    def version(self) -> str:
        import torch

        return f"torch {torch.__version__}, {self.wraps}" + (f" from {self.module}" if self.module else "")

    def environment(self) -> dict[str, Any]:
        """The distributed set-up, for results.json and the report."""
        return {
            "sharding": self.wraps,
            "world_size": self.world_size,
            "backend": BACKEND,
            "resharded_resume": [f"{self.world_size} -> 1", f"1 -> {self.world_size}"],
            "timeout_s": self.timeout_s,
            "rendezvous_ports": list(self.pool.ports),
            "start_s": [round(s, 1) for s in self.pool.start_seconds],
        }

    def capabilities(self) -> Capabilities:
        torch_caps = self.torch.capabilities()
        features = {"state_dict", "complex"} | ({"sparse"} if self.engine == "zero" else set())
        return Capabilities(
            optimizers=torch_caps.optimizers,
            dtypes=frozenset(DTYPES),
            variants={"cpu": tuple(v for v in torch_caps.variants["cpu"] if v not in OPT_IN)},
            features=frozenset(features),
        )

    def variants_of(self, name: str, device: str) -> tuple[str, ...]:
        """torch's kernel variants (the opt-in modes, differentiable/compile/capturable, are not sharded)."""
        return tuple(v for v in self.torch.variants_of(name, device) if v not in OPT_IN)

    def unsupported(self, meta: dict[str, Any], dtype: str, device: str, variant: str) -> str | None:
        name = meta.get("optimizer")  # the API checks' limits name no optimizer
        if name in UNSUPPORTED[self.engine]:
            return f"not supported: {name} under {self.kind}: {UNSUPPORTED[self.engine][name]}"
        if self.engine == "fsdp" and variant == "fused" and name in FSDP_UNFUSED:
            return (
                f"not supported: {name}'s fused kernel under FSDP2 (NotImplementedError: Operator "
                f"{FSDP_UNFUSED[name]}.default does not have a sharding strategy registered)"
            )
        if self.engine == "fsdp" and any(layout != "contiguous" for layout in meta.get("layouts") or []):
            # fully_shard refuses them (torch 2.13: "NotImplementedError: FSDP does not support
            # non-contiguous parameters yet"): FSDP2's limit, not a conformance question.
            return "not supported: non-contiguous params under FSDP2 (fully_shard refuses them)"
        return self.torch.unsupported(meta, dtype, device, variant)

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
        size: int | None = None,
    ) -> DistributedRun:
        from conformance.adapters.distributed.engines import Spec

        if device != "cpu":
            raise NotSupported(f"{self.kind} runs on CPU (gloo) only")
        if variant not in self.variants_of(name, "cpu"):
            raise NotSupported(f"{name} has no {variant} variant")
        hyper = {**hyper, **VARIANT_FLAGS.get(variant, {})}
        spec = Spec(self.engine, self.module, name, groups, hyper, dtype, size or self.world_size)
        return DistributedRun(self, spec)


class Resharded:
    """The adapter seen by a resumed trajectory: its first optimizer on world size ``before``, every later
    one (the one the checkpoint is loaded into) on ``after``."""

    def __init__(self, adapter: DistributedAdapter, before: int, after: int) -> None:
        self.adapter, self.sizes = adapter, [before, after]
        self.name = adapter.name

    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities()

    def make_optimizer(self, *args: Any, **kwargs: Any) -> DistributedRun:
        size = self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]
        return self.adapter.make_optimizer(*args, size=size, **kwargs)

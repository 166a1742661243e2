"""The reference itself as a candidate: ``--impl=refimpl``. It must pass everything (a self-check of the
harness and the vectors), in float64 and float32 (NumPy computes in the arrays' dtype)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import refimpl
import refimpl.lr_scheduler
import refimpl.optim
import refimpl.swa_utils
from conformance.adapters.base import Capabilities, Closure, NotSupported
from conformance.adapters.sched import ApiSchedulerRun
from conformance.adapters.swa import SWA_NAMES, RefimplAveragedRun, refimpl_update_bn

DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64)}
# Every scheduler but the abstract base class, which no case builds.
SCHEDULERS = {n: getattr(refimpl.lr_scheduler, n) for n in refimpl.lr_scheduler.MODULES if n != "LRScheduler"}
SCHEDULERS["SWALR"] = refimpl.swa_utils.SWALR
SWA_FUNCTIONS = {n: getattr(refimpl.swa_utils, n) for n in SWA_NAMES if n != "SWALR"}


class RefimplOptimizerRun:
    def __init__(self, cls: type, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str) -> None:
        real, cplx = DTYPES[dtype]
        self.groups = [
            {**g, "params": [np.array(p, dtype=cplx if np.iscomplexobj(p) else real) for p in g["params"]]}
            for g in groups
        ]
        self.optimizer = cls(self.groups, **hyper)
        self._params = [p for _, _, p in self.optimizer.indexed_params()]

    def _cast(self, grad: Any, param: np.ndarray) -> Any:
        if isinstance(grad, np.ndarray):
            return grad.astype(param.dtype)
        if isinstance(grad, refimpl.optim.SparseGrad):
            return refimpl.optim.SparseGrad(grad.indices, grad.values.astype(param.dtype), grad.shape)
        return grad

    def step(self, grads: list[Any]) -> None:
        self.optimizer.step([self._cast(g, p) for g, p in zip(grads, self._params, strict=True)])

    def step_closure(self, closure: Closure) -> float:
        def cast_closure() -> tuple[float, list[np.ndarray]]:
            loss, grads = closure(self.params())
            # The loss in the params' precision too, as a candidate computing in that dtype gets it (LBFGS
            # compares losses in its line search and stopping tests).
            loss = float(np.asarray(loss, dtype=self._params[0].real.dtype)) if self._params else loss
            return loss, [self._cast(g, p) for g, p in zip(grads, self._params, strict=True)]

        return float(self.optimizer.step(cast_closure))

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self._params]

    def set_params(self, arrays: list[np.ndarray]) -> None:
        for p, a in zip(self._params, arrays, strict=True):
            p[...] = a

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.optimizer.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.optimizer.param_groups[group][key] = value


class RefimplAdapter:
    name = "refimpl"
    # The scheduler classes ``make_scheduler`` builds (a spec note's documented variant may replace one).
    schedulers: dict[str, type] = SCHEDULERS

    def version(self) -> str:
        return f"refimpl {refimpl.__version__}"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            optimizers=frozenset(refimpl.optim.MODULES),
            schedulers=frozenset(SCHEDULERS),
            dtypes=frozenset(DTYPES),
            variants={"cpu": ("default",)},
            features=frozenset({"state_dict", "sparse", "complex"}),
            swa=frozenset(SWA_FUNCTIONS),
        )

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> RefimplOptimizerRun:
        if dtype not in DTYPES:
            raise NotSupported(f"refimpl computes in NumPy dtypes; {dtype} is not one")
        return RefimplOptimizerRun(getattr(refimpl.optim, name), groups, hyper, dtype)

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> ApiSchedulerRun:
        opt = getattr(refimpl.optim, optimizer)(
            [{**g, "params": [np.array(p, dtype=np.float64) for p in g["params"]]} for g in groups], **hyper
        )
        n_params = sum(len(g["params"]) for g in groups)
        # Looked up at each call: the schedulers wrap ``opt.step`` to record that it ran.
        return ApiSchedulerRun(opt, specs, self.schedulers, lambda: opt.step([None] * n_params))

    def make_averaged_model(
        self,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: dict[str, Any],
        dtype: str,
        device: str,
    ) -> RefimplAveragedRun:
        return RefimplAveragedRun(SWA_FUNCTIONS, params, buffers, options, dtype, device)

    def update_bn(
        self, layers: list[dict[str, Any]], batches: list[np.ndarray], **kwargs: Any
    ) -> dict[str, Any]:
        return refimpl_update_bn(refimpl.swa_utils, layers, batches, **kwargs)

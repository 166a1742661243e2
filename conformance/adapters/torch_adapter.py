"""The torch adapter: ``torch.optim`` itself, or any module with torch.optim's class names and API.

``--impl=torch`` runs ``torch.optim``; ``--impl=torch:MODULE`` runs the classes of ``MODULE`` (a drop-in
library, or one of the project's mutants) through the same code. Variants are torch's implementation
switches: ``forloop`` (``foreach=False``), ``foreach`` (``foreach=True``) and ``fused`` (``fused=True``), each
offered only where the class has the switch and the device supports it.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, Closure, NotSupported
from conformance.adapters.sched import ApiSchedulerRun
from conformance.adapters.swa import SWA_NAMES, SwaMethods, TorchAveragedRun, torch_update_bn
from refimpl.lr_scheduler import MODULES as SCHEDULER_MODULES
from refimpl.optim import MODULES as OPTIMIZERS
from refimpl.optim import SparseGrad

try:
    import torch
except ImportError:  # the adapter is only usable with torch installed
    torch = None

DTYPES = {"float64", "float32", "bfloat16", "float16"}
# Every torch scheduler but the abstract base class, which no case builds.
SCHEDULERS = [name for name in SCHEDULER_MODULES if name != "LRScheduler"]
# torch's fused kernels exist for these optimizers on CPU too (torch >= 2.4) and on CUDA.
VARIANT_FLAGS = {"forloop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def torch_dtype(dtype: str, complex_: bool) -> Any:
    if complex_:
        return {"float64": torch.complex128, "float32": torch.complex64, "float16": torch.complex32}.get(
            dtype
        )
    return getattr(torch, dtype)


class TorchOptimizerRun:
    def __init__(
        self, cls: type, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str, device: str
    ):
        self.device, self.dtype = device, dtype
        torch_groups = []
        for g in groups:
            params = []
            for p in g["params"]:
                target = torch_dtype(dtype, np.iscomplexobj(p))
                if target is None:
                    raise NotSupported(f"complex params in {dtype}")
                params.append(torch.tensor(p, dtype=target, device=device, requires_grad=True))
            torch_groups.append({**g, "params": params})
        self.optimizer = cls(torch_groups, **hyper)
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]]

    def _tensor(self, array: np.ndarray, like: Any) -> Any:
        return torch.tensor(np.asarray(array), dtype=like.dtype, device=like.device)

    def _grad(self, grad: Any, param: Any) -> Any:
        if grad is None:
            return None
        if isinstance(grad, SparseGrad):
            indices = torch.tensor(np.asarray(grad.indices, dtype=np.int64)[None, :], device=param.device)
            return torch.sparse_coo_tensor(indices, self._tensor(grad.values, param), tuple(grad.shape))
        return self._tensor(grad, param)

    def step(self, grads: list[Any]) -> None:
        # As a training loop does: zero_grad() (torch's default leaves every .grad None), then the gradients
        # of the params that have one; a param without one keeps what zero_grad() left it.
        self.optimizer.zero_grad()
        for p, g in zip(self._params, grads, strict=True):
            if g is not None:
                p.grad = self._grad(g, p)
        self.optimizer.step()

    def step_closure(self, closure: Closure) -> float:
        def torch_closure() -> Any:
            loss, grads = closure(self.params())
            for p, g in zip(self._params, grads, strict=True):
                p.grad = self._grad(g, p)
            return torch.tensor(loss, dtype=self._params[0].dtype)

        return float(self.optimizer.step(torch_closure))

    def params(self) -> list[np.ndarray]:
        return [to_numpy(p) for p in self._params]

    def state_dict(self) -> dict[str, Any]:
        return to_numpy(self.optimizer.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(self._to_torch(state_dict))

    def _to_torch(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
            # A plain int in torch's state (SparseAdam's ``step``): as a tensor it would turn ``beta ** step``
            # into float32 tensor arithmetic.
            return int(value)
        if isinstance(value, np.ndarray):
            return torch.tensor(value, device=self.device)
        if isinstance(value, dict):
            return {k: self._to_torch(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._to_torch(v) for v in value]
        return value

    def set_params(self, arrays: list[np.ndarray]) -> None:
        with torch.no_grad():
            for p, a in zip(self._params, arrays, strict=True):
                p.copy_(self._tensor(a, p))

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.optimizer.param_groups[group][key] = value


def to_numpy(value: Any) -> Any:
    """Tensors (dense or sparse, any dtype) to NumPy; containers recursively; bf16/fp16 via float32."""
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach()
        if value.is_sparse:
            value = value.to_dense()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        elif value.dtype == torch.complex32:
            value = value.to(torch.complex64)
        return value.cpu().numpy().copy()
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


class TorchAdapter(SwaMethods):
    """torch.optim (``module=None``) or a torch.optim-compatible module (``torch:MODULE``)."""

    averaged_run = TorchAveragedRun
    bn_pass = staticmethod(torch_update_bn)

    def __init__(self, module: str | None = None) -> None:
        if torch is None:
            raise NotSupported("torch is not installed: pip install 'optim-conformance[torch]'")
        self.module_name = module or "torch.optim"
        self.module = importlib.import_module(self.module_name)
        self.name = "torch" if module is None else f"torch:{module}"

    def version(self) -> str:
        own = getattr(self.module, "__version__", None)
        return f"torch {torch.__version__}" + (f", {self.module_name} {own}" if own else "")

    def classes(self) -> dict[str, type]:
        return {
            n: getattr(self.module, n) for n in OPTIMIZERS if inspect.isclass(getattr(self.module, n, None))
        }

    def missing(self) -> list[str]:
        """torch.optim classes this module lacks (they are skipped and listed)."""
        return sorted(set(OPTIMIZERS) - set(self.classes()))

    def scheduler_classes(self) -> dict[str, type]:
        """The module's schedulers: those of its ``lr_scheduler`` submodule (as ``torch.optim`` has it), else
        its own classes with torch's scheduler names."""
        source = getattr(self.module, "lr_scheduler", self.module)
        classes = {n: getattr(source, n) for n in SCHEDULERS if inspect.isclass(getattr(source, n, None))}
        return classes | {n: f for n, f in self.swa_functions().items() if n == "SWALR"}

    def swa_functions(self) -> dict[str, Any]:
        """The module's swa_utils: those of its ``swa_utils`` submodule (as ``torch.optim`` has it), else its
        own classes and functions with torch's swa_utils names."""
        source = getattr(self.module, "swa_utils", self.module)
        return {n: getattr(source, n) for n in SWA_NAMES if callable(getattr(source, n, None))}

    def variants_of(self, name: str, device: str) -> tuple[str, ...]:
        cls = self.classes()[name]
        parameters = inspect.signature(cls.__init__).parameters
        out = ["forloop"] if "foreach" in parameters or "fused" in parameters else ["default"]
        if "foreach" in parameters and name != "Muon":  # Muon's foreach raises "not supported yet"
            out.append("foreach")
        if "fused" in parameters:
            out.append("fused")
        return tuple(out)

    def capabilities(self) -> Capabilities:
        devices = {"cpu": ("forloop", "foreach", "fused", "default")}
        if torch.cuda.is_available():
            devices["cuda"] = ("forloop", "foreach", "fused", "default")
        return Capabilities(
            optimizers=frozenset(self.classes()),
            schedulers=frozenset(self.scheduler_classes()),
            dtypes=frozenset(DTYPES),
            variants=devices,
            features=frozenset({"state_dict", "sparse", "complex", "torch_api"}),
            swa=frozenset(self.swa_functions()) - {"SWALR"},
        )

    def unsupported(self, meta: dict[str, Any], dtype: str, device: str, variant: str) -> str | None:
        """Limits torch documents for its fused kernels: real floating-point params, dense gradients."""
        if variant == "fused" and meta["dtype"].startswith("complex"):
            return "not supported: torch's fused kernels take real floating-point params only"
        if variant == "fused" and (meta.get("gradients") or {}).get("pattern") == "sparse":
            return "not supported: torch's fused kernels do not take sparse gradients"
        return None

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> TorchOptimizerRun:
        if variant not in self.variants_of(name, device.split(":")[0]):
            raise NotSupported(f"{name} has no {variant} variant")
        return TorchOptimizerRun(
            self.classes()[name], groups, {**hyper, **VARIANT_FLAGS.get(variant, {})}, dtype, device
        )

    def repro(self, name: str, hyper: dict[str, Any], variant: str) -> str:
        """The constructor line of a reproduction snippet."""
        args = ", ".join(f"{k}={v!r}" for k, v in {**hyper, **VARIANT_FLAGS.get(variant, {})}.items())
        return f"{self.module_name}.{name}(groups, {args})"

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> ApiSchedulerRun:
        """The module's schedulers on its own ``optimizer`` class, or torch.optim's if it has none (a module
        of schedulers only): lrs are the same Python floats whichever optimizer holds them."""
        cls = self.classes().get(optimizer) or getattr(torch.optim, optimizer)
        params = [
            {**g, "params": [torch.tensor(p, dtype=torch.float64, device=device) for p in g["params"]]}
            for g in groups
        ]
        opt = cls(params, **hyper)
        # Looked up at each call: the schedulers wrap ``opt.step`` to record that it ran.
        return ApiSchedulerRun(opt, specs, self.scheduler_classes(), lambda: opt.step())

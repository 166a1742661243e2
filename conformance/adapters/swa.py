"""swa_utils through the adapter protocol, for libraries with torch's API and for the reference: an
``AveragedModel`` over a model given as arrays, and ``update_bn`` over a model given as layer specs (see
``base.SwaAdapter``). The two sides differ only in the module classes they build; the averaging options
are mapped to the library's own factory functions by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported
from conformance.catalogue.swa_model import AVERAGING

# The swa_utils names a candidate may provide (those it lacks make the cases that need them "not supported").
SWA_NAMES = (
    "AveragedModel",
    "SWALR",
    "update_bn",
    "get_ema_avg_fn",
    "get_swa_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
)


def averaging_kwargs(options: Mapping[str, Any], functions: Mapping[str, Any]) -> dict[str, Any]:
    """``AveragedModel``'s keyword arguments for a case's options: the named factory of ``functions`` called
    (with ``decay`` for the EMA ones, where the case gives it), and ``use_buffers``."""
    kwargs: dict[str, Any] = {"use_buffers": bool(options.get("use_buffers", False))}
    for key in ("avg_fn", "multi_avg_fn"):
        if options.get(key) is None:
            continue
        name = AVERAGING[key, options[key]]
        if name not in functions:
            raise NotSupported(f"no {name}")
        decay = options.get("decay")
        kwargs[key] = functions[name](decay) if "ema" in name and decay is not None else functions[name]()
    return kwargs


def _lookup(functions: Mapping[str, Any], name: str) -> Any:
    if name not in functions:
        raise NotSupported(f"no {name}")
    return functions[name]


# -- a library with torch's API ------------------------------------------------------------------------


class TorchAveragedRun:
    """``AveragedModel`` over an ``nn.Module`` holding the arrays as parameters and buffers, in order."""

    def __init__(
        self,
        functions: Mapping[str, Any],
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: Mapping[str, Any],
        dtype: str,
        device: str,
    ) -> None:
        import torch

        self.torch = torch
        self.model = torch.nn.Module()
        for i, p in enumerate(params):
            self.model.register_parameter(f"p{i}", torch.nn.Parameter(self._tensor(p, dtype, device)))
        for j, b in enumerate(buffers):
            self.model.register_buffer(f"b{j}", self._tensor(b, dtype, device))
        cls = _lookup(functions, "AveragedModel")
        self.averaged = cls(self.model, **averaging_kwargs(options, functions))

    def _tensor(self, array: np.ndarray, dtype: str, device: str) -> Any:
        target = getattr(self.torch, dtype) if array.dtype.kind == "f" else None
        return self.torch.tensor(array, dtype=target, device=device)

    def update_parameters(self, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
        with self.torch.no_grad():
            for t, a in zip(
                [*self.model.parameters(), *self.model.buffers()], [*params, *buffers], strict=True
            ):
                t.copy_(self.torch.tensor(a, dtype=t.dtype, device=t.device))
        self.averaged.update_parameters(self.model)

    def params(self) -> list[np.ndarray]:
        return [_numpy(p) for p in self.averaged.module.parameters()]

    def buffers(self) -> list[np.ndarray]:
        return [_numpy(b) for b in self.averaged.module.buffers()]

    def n_averaged(self) -> int:
        return int(self.averaged.n_averaged)


def _numpy(tensor: Any) -> np.ndarray:
    tensor = tensor.detach().cpu()
    return (
        (tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor)
        .numpy()
        .copy()
    )


def torch_update_bn(
    functions: Mapping[str, Any],
    layers: list[dict[str, Any]],
    batches: list[np.ndarray],
    *,
    pairs: bool,
    training: bool,
    dtype: str,
    device: str,
) -> dict[str, Any]:
    """``update_bn(loader, model)`` on an ``nn.Sequential`` built from ``layers`` (BatchNorm1d/2d/3d by the
    batches' rank), in ``dtype`` on ``device``."""
    import torch

    update_bn = _lookup(functions, "update_bn")
    rank = batches[0].ndim
    batch_norm = {
        2: torch.nn.BatchNorm1d,
        3: torch.nn.BatchNorm1d,
        4: torch.nn.BatchNorm2d,
        5: torch.nn.BatchNorm3d,
    }[rank]
    modules = []
    for spec in layers:
        if spec["layer"] == "Linear":
            module = torch.nn.Linear(spec["in"], spec["out"], bias="bias" in spec)
        elif spec["layer"] == "BatchNorm":
            module = batch_norm(spec["num_features"], eps=spec["eps"], momentum=spec["momentum"])
        else:
            module = torch.nn.ReLU()
        modules.append(module)
    model = torch.nn.Sequential(*modules).to(device=device, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for module, spec in zip(modules, layers, strict=True):
            for key, value in spec.items():
                if isinstance(value, np.ndarray):
                    getattr(module, key).copy_(torch.tensor(value, device=device))
    model.train(training)
    inputs = [torch.tensor(b, dtype=getattr(torch, dtype), device=device) for b in batches]
    update_bn([(x, torch.zeros(len(x))) for x in inputs] if pairs else inputs, model)
    norms = [m for m in modules if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return {
        "running_mean": [_numpy(m.running_mean) for m in norms],
        "running_var": [_numpy(m.running_var) for m in norms],
        "num_batches_tracked": [_numpy(m.num_batches_tracked) for m in norms],
        "momentum": [m.momentum for m in norms],
        "training": model.training,
    }


# -- the reference ---------------------------------------------------------------------------------------


class RefimplAveragedRun:
    """``refimpl.swa_utils.AveragedModel`` over the arrays (it keeps its own copies)."""

    def __init__(
        self,
        functions: Mapping[str, Any],
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: Mapping[str, Any],
        dtype: str,
        device: str,
    ) -> None:
        self.averaged = functions["AveragedModel"](params, buffers, **averaging_kwargs(options, functions))

    def update_parameters(self, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
        self.averaged.update_parameters(params, buffers)

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.averaged.params]

    def buffers(self) -> list[np.ndarray]:
        return [b.copy() for b in self.averaged.buffers]

    def n_averaged(self) -> int:
        return self.averaged.n_averaged


def refimpl_update_bn(
    swa_utils: Any,
    layers: list[dict[str, Any]],
    batches: list[np.ndarray],
    *,
    pairs: bool,
    training: bool,
    dtype: str,
    device: str,
) -> dict[str, Any]:
    """``refimpl.swa_utils.update_bn`` on its ``Sequential`` built from ``layers``."""
    modules: list[Any] = []
    for spec in layers:
        if spec["layer"] == "Linear":
            modules.append(swa_utils.Linear(spec["weight"], spec.get("bias")))
        elif spec["layer"] == "BatchNorm":
            norm = swa_utils.BatchNorm(
                spec["num_features"],
                spec["eps"],
                spec["momentum"],
                spec["weight"],
                spec["bias"],
                dtype=spec["weight"].dtype,
            )
            for key in ("running_mean", "running_var", "num_batches_tracked"):
                getattr(norm, key)[...] = spec[key]
            modules.append(norm)
        else:
            modules.append(swa_utils.ReLU())
    model = swa_utils.Sequential(*modules).train(training)
    swa_utils.update_bn([(b, np.zeros(len(b))) for b in batches] if pairs else batches, model)
    norms = [m for m in modules if isinstance(m, swa_utils.BatchNorm)]
    return {
        "running_mean": [m.running_mean.copy() for m in norms],
        "running_var": [m.running_var.copy() for m in norms],
        "num_batches_tracked": [m.num_batches_tracked.copy() for m in norms],
        "momentum": [m.momentum for m in norms],
        "training": model.training,
    }

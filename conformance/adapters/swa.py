"""swa_utils through the adapter protocol, for libraries with torch's API and for the reference: an
``AveragedModel`` over a model given as arrays, and ``update_bn`` over a model given as layer specs (see
``base.SwaAdapter``). The two sides differ only in the module classes they build; the averaging options
are mapped to the library's own factory functions by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import refimpl.swa_utils as swa_utils
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


class AveragedRun:
    """An ``AveragedModel`` run (``base.AveragedModelRun``): the library's class built over the arrays by
    ``_build`` with the case's averaging options; subclasses read the averaged arrays back."""

    def __init__(
        self,
        functions: Mapping[str, Any],
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: Mapping[str, Any],
        dtype: str,
        device: str,
    ) -> None:
        cls = _lookup(functions, "AveragedModel")
        self.averaged = self._build(cls, params, buffers, averaging_kwargs(options, functions), dtype, device)

    def _build(
        self,
        cls: Any,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        kwargs: dict[str, Any],
        dtype: str,
        device: str,
    ) -> Any:
        raise NotImplementedError

    def n_averaged(self) -> int:
        return int(self.averaged.n_averaged)


class SwaMethods:
    """``make_averaged_model`` and ``update_bn`` of a ``base.SwaAdapter``, for an adapter whose
    ``swa_functions()`` gives its library's swa_utils by torch's names: ``averaged_run`` and ``bn_pass`` are
    the library's side (``TorchAveragedRun``/``torch_update_bn`` or the reference's)."""

    averaged_run: type[AveragedRun]
    bn_pass: Any

    def swa_functions(self) -> dict[str, Any]:
        raise NotImplementedError

    def make_averaged_model(
        self,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: dict[str, Any],
        dtype: str,
        device: str,
    ) -> AveragedRun:
        return self.averaged_run(self.swa_functions(), params, buffers, options, dtype, device)

    def update_bn(
        self, layers: list[dict[str, Any]], batches: list[np.ndarray], **kwargs: Any
    ) -> dict[str, Any]:
        return type(self).bn_pass(self.swa_functions(), layers, batches, **kwargs)


# -- a library with torch's API ------------------------------------------------------------------------


class TorchAveragedRun(AveragedRun):
    """``AveragedModel`` over an ``nn.Module`` holding the arrays as parameters and buffers, in order."""

    def _build(
        self,
        cls: Any,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        kwargs: dict[str, Any],
        dtype: str,
        device: str,
    ) -> Any:
        import torch

        self.torch = torch
        self.model = torch.nn.Module()
        for i, p in enumerate(params):
            self.model.register_parameter(f"p{i}", torch.nn.Parameter(self._tensor(p, dtype, device)))
        for j, b in enumerate(buffers):
            self.model.register_buffer(f"b{j}", self._tensor(b, dtype, device))
        return cls(self.model, **kwargs)

    def _tensor(self, array: np.ndarray, dtype: str, device: str) -> Any:
        target = getattr(self.torch, dtype) if array.dtype.kind == "f" else None
        return self.torch.tensor(array, dtype=target, device=device)

    def update_parameters(self, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
        with self.torch.no_grad():
            tensors = [*self.model.parameters(), *self.model.buffers()]
            for t, a in zip(tensors, [*params, *buffers], strict=True):
                t.copy_(self.torch.tensor(a, dtype=t.dtype, device=t.device))
        self.averaged.update_parameters(self.model)

    def params(self) -> list[np.ndarray]:
        return [_numpy(p) for p in self.averaged.module.parameters()]

    def buffers(self) -> list[np.ndarray]:
        return [_numpy(b) for b in self.averaged.module.buffers()]


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
    where = {"device": device, "dtype": getattr(torch, dtype)}
    modules = _modules(
        layers,
        linear=lambda spec: torch.nn.Linear(spec["in"], spec["out"], bias="bias" in spec, **where),
        batch_norm=lambda spec: batch_norm(
            spec["num_features"], eps=spec["eps"], momentum=spec["momentum"], **where
        ),
        relu=torch.nn.ReLU,
    )
    model = torch.nn.Sequential(*modules)
    with torch.no_grad():
        for module, spec in zip(modules, layers, strict=True):
            for key, value in spec.items():
                if isinstance(value, np.ndarray):
                    getattr(module, key).copy_(torch.tensor(value, device=device))
    model.train(training)
    inputs = [torch.tensor(b, dtype=getattr(torch, dtype), device=device) for b in batches]
    # One CPU thread for these tiny batches, as the benchmarks time them: torch's multi-threaded batch_norm
    # waits for a descheduled worker on a busy machine (measured: 15 ms a call with 2 threads on this
    # project's loaded 2-core machine, 0.02 ms with one). The statistics are per channel either way.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        update_bn([(x, torch.zeros(len(x))) for x in inputs] if pairs else inputs, model)
    finally:
        torch.set_num_threads(threads)
    norms = [m for m in modules if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return _statistics(norms, model.training, _numpy)


# -- the reference ---------------------------------------------------------------------------------------


class RefimplAveragedRun(AveragedRun):
    """``refimpl.swa_utils.AveragedModel`` over the arrays (it keeps its own copies)."""

    def _build(
        self,
        cls: Any,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        kwargs: dict[str, Any],
        dtype: str,
        device: str,
    ) -> Any:
        return cls(params, buffers, **kwargs)

    def update_parameters(self, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
        self.averaged.update_parameters(params, buffers)

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.averaged.params]

    def buffers(self) -> list[np.ndarray]:
        return [b.copy() for b in self.averaged.buffers]


def refimpl_update_bn(
    functions: Mapping[str, Any],
    layers: list[dict[str, Any]],
    batches: list[np.ndarray],
    *,
    pairs: bool,
    training: bool,
    dtype: str,
    device: str,
) -> dict[str, Any]:
    """``refimpl.swa_utils.update_bn`` on its ``Sequential`` built from ``layers``."""

    def batch_norm(spec: dict[str, Any]) -> Any:
        norm = swa_utils.BatchNorm(
            spec["num_features"],
            spec["eps"],
            spec["momentum"],
            spec["weight"],
            spec["bias"],
            dtype=spec["weight"].dtype,
        )
        for key in STATISTICS:
            getattr(norm, key)[...] = spec[key]
        return norm

    modules = _modules(
        layers,
        linear=lambda spec: swa_utils.Linear(spec["weight"], spec.get("bias")),
        batch_norm=batch_norm,
        relu=swa_utils.ReLU,
    )
    model = swa_utils.Sequential(*modules).train(training)
    functions["update_bn"]([(b, np.zeros(len(b))) for b in batches] if pairs else batches, model)
    norms = [m for m in modules if isinstance(m, swa_utils.BatchNorm)]
    return _statistics(norms, model.training, np.copy)


# -- shared by both sides -----------------------------------------------------------------------------------

# What update_bn recomputes in every BatchNorm layer.
STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def _modules(
    layers: list[dict[str, Any]],
    *,
    linear: Callable[[dict[str, Any]], Any],
    batch_norm: Callable[[dict[str, Any]], Any],
    relu: Callable[[], Any],
) -> list[Any]:
    """The layers of a case's model (``catalogue.swa_model``), each built by its side's constructor."""
    built = {"Linear": linear, "BatchNorm": batch_norm}
    return [built[spec["layer"]](spec) if spec["layer"] in built else relu() for spec in layers]


def _statistics(norms: list[Any], training: bool, read: Callable[[Any], np.ndarray]) -> dict[str, Any]:
    """What the update_bn checks compare: each BatchNorm's statistics (as arrays, by ``read``), its
    momentum, and the model's training mode after the call."""
    out: dict[str, Any] = {key: [read(getattr(m, key)) for m in norms] for key in STATISTICS}
    return {**out, "momentum": [m.momentum for m in norms], "training": training}

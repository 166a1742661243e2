"""Finding the candidate that ``--impl`` names.

- ``torch``: torch.optim; ``refimpl``: the reference itself;
- ``torch:MODULE``: any module whose classes carry torch.optim's names and API;
- ``torch-zero``, ``torch-fsdp`` (``:MODULE`` for a module's own sharding API): torch.optim sharded over
  processes by ZeroRedundancyOptimizer or FSDP2 (``conformance.adapters.distributed``);
- ``MODULE:ATTR``: an adapter object (or a class, instantiated without arguments);
- any name registered in the entry-point group ``optim_conformance.adapters``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from conformance.adapters.base import Adapter, Capabilities, ClassDeclaration, NotSupported

__all__ = [
    "Adapter",
    "Capabilities",
    "ClassDeclaration",
    "NotSupported",
    "UnknownImplementation",
    "available",
    "resolve",
]

ENTRY_POINT_GROUP = "optim_conformance.adapters"
DISTRIBUTED = ("torch-zero", "torch-fsdp")


class UnknownImplementation(Exception):
    """``--impl`` names nothing that can be loaded; the message lists what can."""


# The adapters shipped with the suite (each needs its extra installed): registered as entry points by the
# project's own metadata, and known here too so that a source checkout finds them.
SHIPPED = {
    "optax": "conformance.adapters.optax_adapter:OptaxAdapter",
    "keras": "conformance.adapters.keras_adapter:KerasAdapter",
}


def _registered() -> dict[str, Any]:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    shipped = {name: EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in SHIPPED.items()}
    return {**shipped, **found}


def available() -> list[str]:
    return ["torch", "refimpl", "torch:MODULE", *DISTRIBUTED, "MODULE:ATTR", *sorted(_registered())]


def _unknown(spec: str, why: str) -> UnknownImplementation:
    return UnknownImplementation(f"--impl={spec}: {why}; available: {', '.join(available())}")


def resolve(spec: str) -> Adapter:
    """The adapter ``spec`` names, with what its classes declare applied to every call
    (``conformance.declarations.DeclaredAdapter``: lacked options never reach the candidate)."""
    from conformance.declarations import DeclaredAdapter

    return DeclaredAdapter(_resolve(spec))


def _resolve(spec: str) -> Adapter:
    if spec == "torch":
        from conformance.adapters.torch_adapter import TorchAdapter

        return TorchAdapter()
    if spec == "refimpl":
        from conformance.adapters.refimpl_adapter import RefimplAdapter

        return RefimplAdapter()
    kind, _, module = spec.partition(":")
    if kind in DISTRIBUTED:
        from conformance.adapters.distributed.adapter import DistributedAdapter

        try:
            return DistributedAdapter(kind, module or None)
        except ImportError as e:
            raise _unknown(spec, f"cannot import {module} ({e})") from None
    registered = _registered()
    if spec in registered:
        return _instantiate(spec, registered[spec].load())
    if ":" not in spec:
        raise _unknown(spec, "unknown implementation")
    module_name, attr = spec.split(":", 1)
    if module_name == "torch":
        from conformance.adapters.torch_adapter import TorchAdapter

        try:
            return TorchAdapter(attr)
        except ImportError as e:
            raise _unknown(spec, f"cannot import {attr} ({e})") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise _unknown(spec, f"cannot import {module_name} ({e})") from None
    if not hasattr(module, attr):
        raise _unknown(spec, f"{module_name} has no attribute {attr}")
    return _instantiate(spec, getattr(module, attr))


def _instantiate(spec: str, obj: Any) -> Adapter:
    adapter = obj() if isinstance(obj, type) else obj
    missing = [
        m for m in ("capabilities", "make_optimizer", "version") if not callable(getattr(adapter, m, None))
    ]
    if missing or not isinstance(getattr(adapter, "name", None), str):
        raise _unknown(spec, f"not an adapter (needs name, {', '.join(missing) or 'capabilities...'})")
    return adapter

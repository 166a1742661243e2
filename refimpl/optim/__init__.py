"""Reference optimizers, one module per algorithm, with torch.optim's names, arguments and defaults.

``from refimpl.optim import Adam`` works as with torch. Each class is imported from its own module on
first use, so reading one algorithm never needs the others.
"""

from importlib import import_module
from typing import Any

from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view, required

# class name -> module, in torch.optim's documentation order
MODULES = {
    "Adadelta": "adadelta",
    "Adafactor": "adafactor",
    "Adagrad": "adagrad",
    "Adam": "adam",
    "AdamW": "adamw",
    "SparseAdam": "sparse_adam",
    "Adamax": "adamax",
    "ASGD": "asgd",
    "LBFGS": "lbfgs",
    "Muon": "muon",
    "NAdam": "nadam",
    "RAdam": "radam",
    "RMSprop": "rmsprop",
    "Rprop": "rprop",
    "SGD": "sgd",
}

__all__ = [*MODULES, "Optimizer", "SparseGrad", "real_view", "required"]


def __getattr__(name: str) -> Any:
    if name in MODULES:
        return getattr(import_module(f"refimpl.optim.{MODULES[name]}"), name)
    raise AttributeError(f"module 'refimpl.optim' has no attribute {name!r}")

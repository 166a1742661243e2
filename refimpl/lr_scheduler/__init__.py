"""Reference LR schedulers, one module per class, with torch.optim.lr_scheduler's names, arguments, defaults.

They drive ``refimpl.optim`` optimizers through ``optimizer.param_groups`` exactly as torch's drive torch's.
Each class is imported from its own module on first use.
"""

from importlib import import_module
from typing import Any

# class name -> module, in torch.optim.lr_scheduler's documentation order
MODULES = {
    "LRScheduler": "scheduler",
    "LambdaLR": "lambda_lr",
    "MultiplicativeLR": "multiplicative_lr",
    "StepLR": "step_lr",
    "MultiStepLR": "multi_step_lr",
    "ConstantLR": "constant_lr",
    "LinearLR": "linear_lr",
    "ExponentialLR": "exponential_lr",
    "PolynomialLR": "polynomial_lr",
    "CosineAnnealingLR": "cosine_annealing_lr",
    "ChainedScheduler": "chained_scheduler",
    "SequentialLR": "sequential_lr",
    "ReduceLROnPlateau": "reduce_lr_on_plateau",
    "CyclicLR": "cyclic_lr",
    "OneCycleLR": "one_cycle_lr",
    "CosineAnnealingWarmRestarts": "cosine_annealing_warm_restarts",
}

__all__ = list(MODULES)


def __getattr__(name: str) -> Any:
    if name in MODULES:
        return getattr(import_module(f"refimpl.lr_scheduler.{MODULES[name]}"), name)
    raise AttributeError(f"module 'refimpl.lr_scheduler' has no attribute {name!r}")

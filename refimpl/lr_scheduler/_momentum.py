"""What CyclicLR and OneCycleLR share: the optimizer check they make first, and momentum cycling.

Both cycle the momentum inversely to the lr between ``base_momentum`` and ``max_momentum``. "Momentum" is
``group["momentum"]`` for optimizers that have it (SGD, RMSprop) and beta1 (``group["betas"][0]``) for the
Adam family, chosen by which key the optimizer's *defaults* hold: ``betas`` wins when both exist.
"""

from __future__ import annotations

from typing import Any

from refimpl.lr_scheduler.scheduler import per_group
from refimpl.optim.optimizer import Optimizer

NO_MOMENTUM_MESSAGE = "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"


def check_optimizer(optimizer: Any) -> None:
    """torch checks the type before anything else in these constructors (the base checks it later)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def uses_beta1(optimizer: Optimizer) -> bool:
    """True for an Adam-family optimizer; ValueError (torch's) when there is no momentum to cycle."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(NO_MOMENTUM_MESSAGE)
    return "betas" in optimizer.defaults


def set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    """Write the cycled momentum: ``betas = (value, beta2)`` or ``momentum = value``."""
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def init_momenta(
    optimizer: Optimizer, named_momenta: list[tuple[str, Any]], last_epoch: int
) -> tuple[bool, dict[str, list[Any]]]:
    """Format ``base_momentum``/``max_momentum`` per group (in torch's order, which decides which length
    error comes first) and, on a fresh start, start every group at ``max_momentum``.

    Returns ``use_beta1`` and the per-group lists by name.
    """
    use_beta1 = uses_beta1(optimizer)
    momenta = {name: per_group(name, optimizer, value) for name, value in named_momenta}
    if last_epoch == -1:
        for m_momentum, b_momentum, group in zip(
            momenta["max_momentum"], momenta["base_momentum"], optimizer.param_groups, strict=True
        ):
            set_momentum(group, use_beta1, m_momentum)
            group["max_momentum"] = m_momentum
            group["base_momentum"] = b_momentum
    return use_beta1, momenta

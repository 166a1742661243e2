"""PolynomialLR cases: lr = base_lr * (1 - t / total_iters) ** power, applied recursively, constant after."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "PolynomialLR",
        {"total_iters": 80, "power": 2.0},
        ("total_iters", "power"),
        "quadratic decay to 0 at epoch 80, then the lr stays 0",
    ),
    SchedCase(
        "PolynomialLR",
        {"total_iters": 60, "power": 0.5, "last_epoch": 10},
        ("total_iters", "power", "last_epoch"),
        "resuming with last_epoch=10 from the groups' lrs; an lr set by hand is scaled by the remaining "
        "ratios",
        groups=({"lr": 0.09, "initial_lr": 0.1}, {"lr": 0.009, "initial_lr": 0.01}),
        changes={30: ((0, "lr", 0.05),)},
    ),
]

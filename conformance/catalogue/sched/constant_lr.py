"""ConstantLR cases: lr * factor until total_iters, then divided back (recursive: a hand-set lr is kept)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "ConstantLR",
        {"factor": 0.25, "total_iters": 20},
        ("factor", "total_iters"),
        "the factor from construction (epoch 0) through epoch 19, the base lr from epoch 20 on",
    ),
    SchedCase(
        "ConstantLR",
        {"factor": 0.5, "total_iters": 40},
        ("factor", "total_iters"),
        "an lr set by hand inside the window is divided by the factor at total_iters, not reset",
        changes={15: ((1, "lr", 0.02),)},
    ),
    SchedCase(
        "ConstantLR",
        {"factor": 0.5, "total_iters": 10, "last_epoch": 3},
        ("factor", "total_iters", "last_epoch"),
        "resuming with last_epoch=3 inside the window: the groups' lrs are kept until epoch 10",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
    ),
    SchedCase(
        "ConstantLR",
        {"factor": 0.5, "total_iters": 0},
        ("factor",),
        "total_iters=0: step() applies the factor at construction and never undoes it, the lr stays halved "
        "(spec note constantlr-total-iters-zero: the docs' closed form never applies it)",
    ),
]

"""MultiplicativeLR cases: lr *= lr_lambda(epoch) from epoch 1 on (recursive: a hand-set lr is kept)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "MultiplicativeLR",
        {"lr_lambda": "shrink0.97"},
        ("lr_lambda",),
        "a constant factor per epoch; lambda(0) is never applied (the constructor's step keeps the lr)",
    ),
    SchedCase(
        "MultiplicativeLR",
        {"lr_lambda": ["halve_every10", "shrink0.97"]},
        ("lr_lambda",),
        "one lambda per group; an lr set by hand mid-run is kept and multiplied from there",
        changes={35: ((0, "lr", 0.2),), 72: ((1, "lr", 0.004),)},
    ),
    SchedCase(
        "MultiplicativeLR",
        {"lr_lambda": "halve_every10", "last_epoch": 14},
        ("lr_lambda", "last_epoch"),
        "resuming with last_epoch=14: the halvings fall on epochs 20, 30, ... counted from there",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
    ),
]

"""LambdaLR cases: lr = base_lr * lr_lambda(epoch), a closed form (a hand-set lr would last no epoch)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "LambdaLR",
        {"lr_lambda": "warmup10_rsqrt"},
        ("lr_lambda",),
        "linear warmup over 10 epochs then 1/sqrt decay, applied to each group's own initial lr",
    ),
    SchedCase(
        "LambdaLR",
        {"lr_lambda": ["warmup10", "decay0.95"]},
        ("lr_lambda",),
        "a list gives one lambda per group, in group order",
    ),
    SchedCase(
        "LambdaLR",
        {"lr_lambda": "decay0.95", "last_epoch": 20},
        ("lr_lambda", "last_epoch"),
        "resuming with last_epoch=20: the first lr is initial_lr * lambda(21), whatever the groups' lr is",
        groups=({"lr": 0.5, "initial_lr": 0.1}, {"lr": 0.5, "initial_lr": 0.01}),
    ),
]

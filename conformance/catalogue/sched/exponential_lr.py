"""ExponentialLR cases: lr *= gamma every epoch (recursive: a hand-set lr is kept)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase("ExponentialLR", {"gamma": 0.97}, ("gamma",), "one gamma per epoch from epoch 1 on"),
    SchedCase(
        "ExponentialLR",
        {"gamma": 0.95, "last_epoch": 10},
        ("gamma",),
        "resuming with last_epoch=10 starts from the groups' current lrs, not initial_lr * gamma**11; an "
        "lr set by hand mid-run is kept and decayed from",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
        changes={40: ((1, "lr", 0.01),)},
    ),
]

"""StepLR cases: the lr is multiplied by gamma every step_size epochs (recursive: a hand-set lr is kept)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "StepLR",
        {"step_size": 3, "gamma": 0.8},
        ("step_size", "gamma"),
        "decay at epochs 3, 6, 9, ... (not at 0, not one epoch late); each group from its own base lr",
    ),
    SchedCase(
        "StepLR",
        {"step_size": 10, "gamma": 0.5},
        ("step_size", "gamma"),
        "an lr set by hand mid-run is kept and decayed from at the next multiple of step_size",
        changes={25: ((0, "lr", 0.3),), 61: ((1, "lr", 0.001),)},
    ),
    SchedCase(
        "StepLR",
        {"step_size": 7, "gamma": 0.9, "last_epoch": 11},
        ("step_size", "gamma", "last_epoch"),
        "resuming with last_epoch=11 (initial_lr in the groups): the constructor's step is epoch 12, the "
        "decays fall on multiples of 7 from the groups' current lrs",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
    ),
]

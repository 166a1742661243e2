"""MultiStepLR cases: gamma at each milestone, once per occurrence (a repeated milestone decays twice)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "MultiStepLR",
        {"milestones": [10, 30, 30, 60], "gamma": 0.5},
        ("milestones", "gamma"),
        "milestone 30 appears twice, so the lr is multiplied by gamma**2 there (a set would lose one)",
    ),
    SchedCase(
        "MultiStepLR",
        {"milestones": [15, 40, 70], "gamma": 0.3, "last_epoch": 20},
        ("milestones", "gamma", "last_epoch"),
        "resuming with last_epoch=20 from the groups' current lrs; an lr set by hand at epoch 50 is kept "
        "and decayed at milestone 70",
        groups=({"lr": 0.03, "initial_lr": 0.1}, {"lr": 0.003, "initial_lr": 0.01}),
        changes={50: ((0, "lr", 0.02),)},
    ),
]

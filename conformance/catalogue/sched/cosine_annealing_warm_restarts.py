"""CosineAnnealingWarmRestarts cases: closed-form cosine within each period, periods growing by T_mult."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "CosineAnnealingWarmRestarts",
        {"T_0": 10, "T_mult": 2, "eta_min": 0.001},
        ("T_0", "T_mult", "eta_min"),
        "restarts at epochs 10, 30, 70: periods of 10, 20, 40 epochs",
    ),
    SchedCase(
        "CosineAnnealingWarmRestarts",
        {"T_0": 15, "last_epoch": 20},
        ("T_0", "last_epoch"),
        "resuming with last_epoch=20: T_cur continues from 20, wrapped into the period",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
    ),
]

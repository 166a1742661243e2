"""ReduceLROnPlateau cases: the lr is cut by factor when the metric stops improving for patience epochs."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "ReduceLROnPlateau",
        {"factor": 0.7, "patience": 3, "threshold": 0.01, "cooldown": 2, "min_lr": [0.01, 0.0002]},
        ("mode", "factor", "patience", "threshold", "cooldown", "min_lr"),
        "a loss with stalls: a cut after more than patience bad epochs, none during the cooldown, relative "
        "threshold, per-group floors",
        metrics="plateaus",
    ),
    SchedCase(
        "ReduceLROnPlateau",
        {
            "mode": "max",
            "factor": 0.5,
            "patience": 2,
            "threshold": 0.005,
            "threshold_mode": "abs",
            "eps": 0.01,
        },
        ("mode", "threshold", "threshold_mode", "eps"),
        "an accuracy (mode max) with an absolute threshold; eps skips cuts smaller than 0.01; saved and "
        "restored at epoch 50",
        metrics="accuracy",
        reload_at=50,
    ),
    SchedCase(
        "ReduceLROnPlateau",
        {"factor": 0.5, "patience": 2, "threshold": 0.01},
        ("factor", "patience", "threshold"),
        "a negative loss with the relative threshold: torch's best * (1 - threshold) lies above a negative "
        "best, so slightly worse values count as improvements (spec note "
        "reducelronplateau-negative-rel-threshold)",
        metrics="negative_plateaus",
    ),
]

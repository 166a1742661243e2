"""CosineAnnealingLR cases: torch's recursive cosine, which keeps going past T_max (back up, then down)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "CosineAnnealingLR",
        {"T_max": 30, "eta_min": 0.001},
        ("T_max", "eta_min"),
        "down to eta_min at epoch 30, back up to the base lr at 60, down again: the recursive form's "
        "periodic branch at (t - 1 - T_max) % (2 T_max) == 0",
    ),
    SchedCase(
        "CosineAnnealingLR",
        {"T_max": 100},
        ("T_max", "eta_min"),
        "an lr set by hand mid-run is kept and annealed toward eta_min from there",
        changes={50: ((0, "lr", 0.2),)},
    ),
    SchedCase(
        "CosineAnnealingLR",
        {"T_max": 40, "last_epoch": 15},
        ("T_max", "last_epoch"),
        "resuming with last_epoch=15: the first step after construction uses the closed form from "
        "initial_lr, the rest the recursive form",
        groups=({"lr": 0.08, "initial_lr": 0.1}, {"lr": 0.008, "initial_lr": 0.01}),
    ),
]

"""SWALR cases: anneal each group's lr to swa_lr over anneal_epochs, then hold it (recursive: it starts
from the current lr, so it chains with other schedulers and hand changes)."""

from conformance.catalogue.model import SchedCase, SchedSpec

CASES = [
    SchedCase(
        "SWALR",
        {"swa_lr": 0.05, "anneal_epochs": 10, "anneal_strategy": "cos"},
        ("swa_lr", "anneal_epochs", "anneal_strategy"),
        "cosine annealing from each group's lr to swa_lr, reached exactly at epoch anneal_epochs (not one "
        "earlier or later) and held",
    ),
    SchedCase(
        "SWALR",
        {"swa_lr": [0.02, 0.05], "anneal_epochs": 7, "anneal_strategy": "linear"},
        ("swa_lr", "anneal_epochs", "anneal_strategy"),
        "linear annealing to a swa_lr per group; saved and restored through state dicts at epoch 4, "
        "mid-annealing",
        reload_at=4,
    ),
    SchedCase(
        "SWALR",
        {"swa_lr": 0.2, "anneal_epochs": 0},
        ("swa_lr", "anneal_epochs"),
        "anneal_epochs=0: swa_lr from the first step on (the constructor's step leaves the lr)",
    ),
    SchedCase(
        "SWALR",
        {"swa_lr": 0.01, "anneal_epochs": 20, "anneal_strategy": "linear"},
        ("swa_lr", "anneal_epochs", "anneal_strategy"),
        "an lr set by hand mid-annealing: SWALR reconstructs its start from the current lr",
        changes={6: ((0, "lr", 0.3),), 40: ((1, "lr", 0.5),)},
    ),
    SchedCase(
        "SWALR",
        {"swa_lr": 0.02, "anneal_epochs": 15, "anneal_strategy": "cos"},
        ("swa_lr", "anneal_epochs", "anneal_strategy"),
        "stepped together with StepLR on one optimizer: each epoch SWALR anneals from what StepLR left",
        also=(SchedSpec("StepLR", {"step_size": 5, "gamma": 0.5}),),
    ),
]

# The docs' SWA recipe: one scheduler until swa_start, SWALR after it (SequentialLR switches at the
# milestone; SWALR restarts from the lr the first one left). Filed with SequentialLR's vectors.
CASES.append(
    SchedCase(
        "SequentialLR",
        {
            "schedulers": (
                SchedSpec("CosineAnnealingLR", {"T_max": 80}),
                SchedSpec("SWALR", {"swa_lr": 0.03, "anneal_epochs": 5}),
            ),
            "milestones": [60],
        },
        ("schedulers", "milestones"),
        "the docs' SWA recipe: cosine annealing, then SWALR from epoch 60, annealing from the lr the cosine "
        "left",
    )
)

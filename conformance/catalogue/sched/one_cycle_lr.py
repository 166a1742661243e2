"""OneCycleLR cases: warmup to max_lr, anneal to min_lr (two phases, or three), momentum cycled inversely."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "OneCycleLR",
        {
            "max_lr": [0.1, 0.01],
            "total_steps": 100,
            "pct_start": 0.25,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        (
            "max_lr",
            "total_steps",
            "pct_start",
            "anneal_strategy",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
            "div_factor",
            "final_div_factor",
        ),
        "cosine up to max_lr by epoch 24 (pct_start * total_steps - 1), down to max_lr / div / final_div "
        "at epoch 99; the last epoch (100) extrapolates the last phase",
    ),
    SchedCase(
        "OneCycleLR",
        {
            "max_lr": 0.1,
            "epochs": 10,
            "steps_per_epoch": 11,
            "pct_start": 0.3,
            "anneal_strategy": "linear",
            "three_phase": True,
        },
        ("max_lr", "epochs", "steps_per_epoch", "pct_start", "anneal_strategy", "three_phase"),
        "three linear phases over epochs * steps_per_epoch = 110 steps; saved and restored at epoch 60",
        steps=110,
        reload_at=60,
    ),
    SchedCase(
        "OneCycleLR",
        {"max_lr": 0.01, "total_steps": 120, "base_momentum": 0.8, "max_momentum": 0.9},
        ("max_lr", "base_momentum", "max_momentum"),
        "with Adam, beta1 is cycled (beta2 kept)",
        optimizer="Adam",
        optimizer_hyper={},
    ),
    SchedCase(
        "OneCycleLR",
        {"max_lr": [0.1, 0.01], "total_steps": 200, "last_epoch": 40},
        ("total_steps", "last_epoch"),
        "resuming with last_epoch=40: initial_lr, max_lr, min_lr and the momenta come from the groups (the "
        "max_lr argument is not used)",
        groups=(
            {
                "lr": 0.05,
                "initial_lr": 0.004,
                "max_lr": 0.1,
                "min_lr": 4e-7,
                "max_momentum": 0.95,
                "base_momentum": 0.85,
            },
            {
                "lr": 0.005,
                "initial_lr": 0.0004,
                "max_lr": 0.01,
                "min_lr": 4e-8,
                "max_momentum": 0.95,
                "base_momentum": 0.85,
            },
        ),
    ),
]

"""CyclicLR cases: triangular cycles between base_lr and max_lr, momentum cycled inversely (SGD's momentum,
or beta1 of Adam)."""

from conformance.catalogue.model import SchedCase

CASES = [
    SchedCase(
        "CyclicLR",
        {
            "base_lr": [0.01, 0.001],
            "max_lr": [0.1, 0.01],
            "step_size_up": 10,
            "step_size_down": 15,
            "gamma": 0.99,
        },
        (
            "base_lr",
            "max_lr",
            "step_size_up",
            "step_size_down",
            "mode",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
        ),
        "asymmetric triangles (10 up, 15 down) per group; momentum from max_momentum down to base_momentum "
        "and back (gamma only matters in exp_range)",
    ),
    SchedCase(
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 8, "mode": "triangular2"},
        ("base_lr", "max_lr", "step_size_up", "mode"),
        "triangular2 halves the amplitude every cycle (step_size_down defaults to step_size_up)",
    ),
    SchedCase(
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 12, "mode": "exp_range", "gamma": 0.98},
        ("mode", "gamma"),
        "exp_range scales the amplitude by gamma ** iteration",
    ),
    SchedCase(
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 10,
            "scale_fn": "halve_per_cycle",
            "cycle_momentum": False,
        },
        ("scale_fn", "scale_mode", "cycle_momentum"),
        "a custom scale_fn evaluated on the cycle number (scale_mode defaults to 'cycle'); "
        "cycle_momentum=False leaves the momentum alone",
    ),
    SchedCase(
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 10,
            "scale_fn": "decay0.99",
            "scale_mode": "iterations",
        },
        ("scale_fn", "scale_mode"),
        "a custom scale_fn evaluated on the iteration",
    ),
    SchedCase(
        "CyclicLR",
        {"base_lr": 0.001, "max_lr": 0.006, "step_size_up": 20, "base_momentum": 0.85, "max_momentum": 0.95},
        ("base_lr", "max_lr", "base_momentum", "max_momentum"),
        "with Adam, beta1 is cycled (beta2 kept)",
        optimizer="Adam",
        optimizer_hyper={},
    ),
    SchedCase(
        "CyclicLR",
        {"base_lr": [0.01, 0.001], "max_lr": [0.1, 0.01], "step_size_up": 10, "last_epoch": 25},
        ("base_lr", "max_lr", "step_size_up", "last_epoch"),
        "resuming with last_epoch=25 (initial_lr and momentum in the groups): the cycle position continues",
        groups=({"lr": 0.05, "initial_lr": 0.01}, {"lr": 0.005, "initial_lr": 0.001}),
        reload_at=60,
    ),
]

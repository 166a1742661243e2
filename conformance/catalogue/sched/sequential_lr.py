"""SequentialLR cases: one scheduler at a time, switching at the milestones (each restarts from epoch 0)."""

from conformance.catalogue.model import SchedCase, SchedSpec

CASES = [
    SchedCase(
        "SequentialLR",
        {
            "schedulers": (
                SchedSpec("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
                SchedSpec("CosineAnnealingLR", {"T_max": 90}),
            ),
            "milestones": [10],
        },
        ("schedulers", "milestones"),
        "warmup then cosine: at the milestone the second scheduler starts at its epoch 0",
    ),
    SchedCase(
        "SequentialLR",
        {
            "schedulers": (
                SchedSpec("ConstantLR", {"factor": 0.1, "total_iters": 5}),
                SchedSpec("ExponentialLR", {"gamma": 0.95}),
                SchedSpec("StepLR", {"step_size": 10, "gamma": 0.5}),
            ),
            "milestones": [5, 40],
        },
        ("schedulers", "milestones"),
        "three phases; saved and restored through state dicts at epoch 50 (nested state dicts)",
        reload_at=50,
    ),
    SchedCase(
        "SequentialLR",
        {
            "schedulers": (
                SchedSpec("ExponentialLR", {"gamma": 0.9}),
                SchedSpec("LambdaLR", {"lr_lambda": "warmup10"}),
            ),
            "milestones": [20],
            "last_epoch": 6,
        },
        ("schedulers", "milestones", "last_epoch"),
        "last_epoch=6 shifts the milestone: the switch comes 14 epochs after construction",
    ),
]

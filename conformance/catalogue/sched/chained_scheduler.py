"""ChainedScheduler cases: every wrapped scheduler steps each epoch, their factors compose."""

from conformance.catalogue.model import SchedCase, SchedSpec

CASES = [
    SchedCase(
        "ChainedScheduler",
        {
            "schedulers": (
                SchedSpec("ConstantLR", {"factor": 0.5, "total_iters": 10}),
                SchedSpec("ExponentialLR", {"gamma": 0.97}),
            )
        },
        ("schedulers",),
        "a constant warmup factor and an exponential decay at once",
    ),
    SchedCase(
        "ChainedScheduler",
        {
            "schedulers": (
                SchedSpec("LinearLR", {"start_factor": 0.2, "total_iters": 10}),
                SchedSpec("StepLR", {"step_size": 20, "gamma": 0.5}),
                SchedSpec("MultiplicativeLR", {"lr_lambda": "shrink0.97"}),
            )
        },
        ("schedulers",),
        "three schedulers; saved and restored through state dicts at epoch 45 (nested state dicts)",
        reload_at=45,
    ),
]

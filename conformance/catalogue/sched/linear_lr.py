"""LinearLR cases: the factor moves linearly from start_factor to end_factor over total_iters epochs,
applied recursively (a hand-set lr is kept and scaled)."""

from conformance.catalogue.model import SchedCase, SchedSpec

CASES = [
    SchedCase(
        "LinearLR",
        {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 20},
        ("start_factor", "end_factor", "total_iters"),
        "a warmup: the ratio of consecutive factors, not the factor, is applied at each epoch",
    ),
    SchedCase(
        "LinearLR",
        {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 60},
        ("end_factor", "total_iters"),
        "a linear decay; an lr set by hand mid-window is scaled by the remaining ratios",
        changes={30: ((0, "lr", 0.08),)},
    ),
    SchedCase(
        "LinearLR",
        {"start_factor": 0.1, "total_iters": 10},
        ("start_factor", "total_iters"),
        "two schedulers on one optimizer: a warmup and an exponential decay, stepped in order, compose",
        also=(SchedSpec("ExponentialLR", {"gamma": 0.98}),),
    ),
    SchedCase(
        "LinearLR",
        {"start_factor": 0.2, "total_iters": 12, "last_epoch": 4},
        ("start_factor", "total_iters", "last_epoch"),
        "resuming with last_epoch=4 inside the warmup: ratios from epoch 6 on, from the groups' lrs",
        groups=({"lr": 0.05, "initial_lr": 0.1}, {"lr": 0.005, "initial_lr": 0.01}),
    ),
    SchedCase(
        "LinearLR",
        {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 0},
        ("end_factor",),
        "an empty window (total_iters=0): the lr is base_lr * end_factor from epoch 0 on (the intended "
        "behaviour; torch applies start_factor and never undoes it, pytorch/pytorch#193682)",
    ),
]

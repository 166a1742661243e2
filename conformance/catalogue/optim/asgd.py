"""ASGD cases. The params follow SGD with a decaying step ``eta_t = lr / (1 + lambd lr t)^alpha`` (computed
at the end of a step, used by the next) and a decay term ``theta (1 - lambd eta)``; the Polyak average ``ax``
(state only: it never feeds back into the params) starts averaging after ``t0`` steps."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "ASGD",
        {"lr": 0.05, "lambd": 0.5, "alpha": 0.75},
        ("lr", "lambd", "alpha"),
        "theta = theta (1 - lambd eta) - eta g, with eta_t = lr / (1 + lambd lr t)^alpha computed after the "
        "step: the first step uses lr itself",
    ),
    OptimCase(
        "ASGD",
        {"lr": 0.05, "lambd": 0.5, "alpha": 0.75, "t0": 5.0},
        ("lambd", "t0"),
        "a small t0: ax copies the param up to step t0 + 2, then is the running mean of the iterates from "
        "there on (step t uses mu = 1 / (t - 1 - t0), stored as a float32 value); ax never feeds back into "
        "the params, so only the checkpointed state shows it",
    ),
    OptimCase(
        "ASGD",
        {"lr": 0.05, "lambd": 0.1, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "weight decay is added after the gradient is negated for maximize; the decay term lambd eta theta "
        "is applied besides it",
    ),
    OptimCase(
        "ASGD",
        {"lr": 0.05, "lambd": 0.5, "alpha": 0.75, "t0": 10.0},
        ("lr", "lambd"),
        "per-layer hyperparameters (second group: lr 0.2, alpha 1, t0 3) and lr changed mid-run through "
        "param_groups, which takes effect one step late (through eta); params without a gradient on some "
        "steps are neither moved nor given state (eta starts from the group's lr at their first gradient)",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.2, "alpha": 1.0, "t0": 3.0})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.01),), 20: ((1, "lambd", 0.0),)},
    ),
    OptimCase(
        "ASGD",
        {"lr": 0.05, "lambd": 0.5, "t0": 5.0, "weight_decay": 0.1},
        ("lambd", "weight_decay"),
        "complex params are updated as (real, imag) pairs, ax included",
        dtype="complex128",
    ),
    OptimCase(
        "ASGD",
        {"lr": 1e-3, "lambd": 5.0, "t0": 20.0},
        ("lr", "lambd"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    *kernel_cases("ASGD", {"lr": 0.01, "t0": 1.0, "weight_decay": 0.1}),
]

"""SGD cases. Momentum's options (dampening, nesterov) only show from the second step on, with momentum."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase("SGD", {"lr": 0.1}, ("lr",), "plain gradient descent: theta -= lr * g"),
    OptimCase(
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
        ("lr", "momentum", "dampening"),
        "heavy-ball buffer, dampened from step 2 on (not on step 1: the buffer starts as g)",
    ),
    OptimCase(
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        ("momentum", "nesterov"),
        "Nesterov: the step uses g + momentum * b instead of b",
    ),
    OptimCase(
        "SGD",
        {"lr": 0.1, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "weight decay is added after the gradient is negated for maximize",
    ),
    OptimCase(
        "SGD",
        {"lr": 0.1, "momentum": 0.5},
        ("lr", "momentum"),
        "per-layer lrs (second group 10x) and lr changed mid-run through param_groups; "
        "params without a gradient on some steps are neither moved nor given state",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 1.0})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.01),), 20: ((1, "momentum", 0.0),)},
    ),
    OptimCase(
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
        ("momentum", "weight_decay"),
        "complex params are updated as (real, imag) pairs",
        dtype="complex128",
    ),
    OptimCase(
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        ("momentum",),
        "row-sparse gradients: repeated rows summed, absent rows still move through the momentum buffer",
        groups=(Group(((6, 3),)),),
        gradients=Gradients("sparse"),
    ),
    OptimCase(
        "SGD",
        {"lr": 1e-3, "momentum": 0.9},
        ("lr", "momentum"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=100,
    ),
    *kernel_cases("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
]

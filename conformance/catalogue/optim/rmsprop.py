"""RMSprop cases. No bias correction: the first steps divide by ``sqrt(1 - alpha) * |g|``, so ``alpha`` shows
from step 1; ``eps`` (outside the root) only where the root is tiny, i.e. with tiny gradients."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9},
        ("lr", "alpha"),
        "square_avg v = alpha v + (1 - alpha) g^2 from zero, no bias correction; "
        "theta -= lr g / (sqrt(v) + eps)",
    ),
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-7},
        ("eps",),
        "gradients of ~1e-7 make sqrt(v) ~ 1e-7, so eps (added outside the root) is a large part of the "
        "denominator: eps inside the root, or a wrong eps, changes every step",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "centered": True},
        ("alpha", "momentum", "centered"),
        "centered: the root of v - grad_avg^2 (grad_avg a running mean of g); momentum buffers g / avg and "
        "the step is lr * buffer",
    ),
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "weight decay is added after the gradient is negated for maximize, before it enters square_avg",
    ),
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.5},
        ("lr", "alpha", "momentum"),
        "per-layer hyperparameters (second group: 5x lr, centered, alpha 0.99) and lr changed mid-run "
        "through param_groups; params without a gradient on some steps are neither moved nor given state",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.05, "centered": True, "alpha": 0.99})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.002),), 20: ((1, "momentum", 0.0),)},
    ),
    OptimCase(
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True},
        ("alpha", "momentum", "centered"),
        "complex params are updated as (real, imag) pairs: square_avg holds the squares of each component, "
        "not |g|^2",
        dtype="complex128",
    ),
    OptimCase(
        "RMSprop",
        {"lr": 1e-3, "alpha": 0.9},
        ("lr", "alpha"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    # No weight decay here: with 75,000 drawn elements some g + wd * p nearly cancel, and centered RMSprop's
    # g / sqrt(v - m^2) then magnifies float32's rounding of that sum beyond the float32 tolerance (measured
    # 2e-5 on a 65,537-element param) -- a property of the input, not of a kernel.
    *kernel_cases("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
]

"""Rprop cases. Step sizes start at ``lr``, grow by ``etas[1]`` while a gradient keeps its sign and shrink by
``etas[0]`` when it flips (that step is skipped, and the next one neither grows nor shrinks), clamped to
``step_sizes`` on every step; flipping gradients with a few elements that keep their sign hit both bounds."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "Rprop",
        {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-3, 0.05)},
        ("lr", "etas[0]", "etas[1]", "step_sizes[0]", "step_sizes[1]"),
        "sign flips shrink step sizes to the lower bound (after four flips), kept signs grow them to the "
        "upper bound (within ten steps); a flipped gradient is zeroed, so that step does not move the "
        "element and the next one neither grows nor shrinks its step size",
        gradients=Gradients("flip"),
    ),
    OptimCase(
        "Rprop",
        {"lr": 0.01, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.1), "maximize": True},
        ("etas[0]", "etas[1]", "step_sizes[0]", "step_sizes[1]", "maximize"),
        "maximize negates the gradient before the sign comparison: steps go uphill, the bounds are hit alike",
        gradients=Gradients("flip"),
    ),
    OptimCase(
        "Rprop",
        {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-3, 0.05)},
        ("lr", "etas[1]"),
        "per-layer hyperparameters (second group: lr 0.05, etas (0.7, 1.1), step_sizes (1e-4, 1)); an lr "
        "changed mid-run is ignored (step sizes start from the lr at state creation); params without a "
        "gradient on some steps are neither moved nor given state",
        groups=(
            Group(((3, 4), ())),
            Group(((5,), (2, 2)), {"lr": 0.05, "etas": (0.7, 1.1), "step_sizes": (1e-4, 1.0)}),
        ),
        gradients=Gradients("flip", none_every=3),
        changes={10: ((0, "lr", 0.5),), 20: ((1, "etas", (0.5, 1.5)),)},
    ),
    OptimCase(
        "Rprop",
        {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-3, 0.05)},
        ("lr", "etas[0]", "etas[1]"),
        "complex params are updated as (real, imag) pairs: each component has its own sign and step size",
        dtype="complex128",
    ),
    OptimCase(
        "Rprop",
        {"lr": 0.05},
        ("lr", "etas[0]", "etas[1]"),
        "torch's default etas and step_sizes on the Rosenbrock function: gradients (and their signs) depend "
        "on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=40,
    ),
    *kernel_cases("Rprop", {"lr": 0.01}, steps=4),
    OptimCase(
        "Rprop",
        {"lr": 0.2, "etas": (0.5, 1.2), "step_sizes": (1e-3, 0.05)},
        ("etas[0]", "step_sizes[1]"),  # every growth is clamped at the largest step size: etas[1] never shows
        "an lr above the largest step size: torch clamps every step size on every step, so the first step is "
        "0.05, not the lr (spec note rprop-clamp-every-step: the docs clamp only a size that changed)",
        gradients=Gradients("flip"),
        tag="lr_above_max",
    ),
]

"""Adamax cases. The infinity norm u = max(beta2 * u, |g| + eps) only shows beta2 when a past gradient
outweighs the present one (a spike), and eps only when gradients are as small as eps."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "Adamax",
        {"lr": 0.02},
        ("lr", "betas[0]", "betas[1]"),
        "the Adamax step: m / u with only m bias-corrected (lr / (1 - beta1^t)), u the decayed max of |g|",
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.02, "eps": 1e-7},
        ("eps",),
        "gradients of ~1e-7: eps is added to |g| inside the max (not to u after it), so u >= eps always "
        "and eps changes every step's size",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.05, "betas": (0.9, 0.9)},
        ("betas[1]", "lr"),
        "a 1e3 gradient then 1e-3 ones: u holds the spike and decays by beta2 per step until it no longer "
        "dominates (uncorrected: Adamax has no bias correction of u)",
        gradients=Gradients("spike"),
        steps=60,
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.02, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "coupled (L2) weight decay is added to the gradient after it is negated for maximize, and enters u",
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.02, "betas": (0.8, 0.99)},
        ("lr", "betas[0]"),
        "per-layer lr and betas (second group overrides them), lr changed mid-run through param_groups; "
        "params without a gradient on some steps are neither moved nor given state, and their step counts "
        "(bias correction) fall behind the others'",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.1, "betas": (0.5, 0.9)})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.005),), 20: ((1, "lr", 0.02),)},
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.02, "weight_decay": 0.1},
        ("lr", "weight_decay", "betas[1]"),
        "complex params are updated as (real, imag) pairs: u holds |Re g| and |Im g| separately, not |g|",
        dtype="complex128",
    ),
    OptimCase(
        "Adamax",
        {"lr": 0.05},
        ("lr", "betas[0]", "betas[1]"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    *kernel_cases("Adamax", {"lr": 0.01, "weight_decay": 0.1}),
]

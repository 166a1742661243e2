"""RAdam cases. Every case runs well past the rectification threshold (rho_t > 5 from step 6 with the
default beta2), so both the un-adapted momentum steps and the rectified adaptive ones are in the vectors."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "RAdam",
        {"lr": 0.02},
        ("lr", "betas[0]", "betas[1]"),
        "steps 1-5 are SGD with bias-corrected momentum (rho_t <= 5), steps 6-30 rectified Adam steps: "
        "the threshold (5, not the paper's 4), rho_t and r_t all show",
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.1, "eps": 1e-8},
        ("eps",),
        "gradients of ~1e-7: eps is added to the uncorrected sqrt(v) (~1e-8 here), not to sqrt(v_hat)",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.02, "betas": (0.9, 0.9)},
        ("betas[1]", "betas[0]"),
        "a small beta2: rho_inf = 19, so rho_t and the rectification term r_t approach their limits within "
        "the run (with beta2 = 0.999 r_t stays small for thousands of steps)",
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.02, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "coupled (L2) weight decay is added to the gradient after it is negated for maximize",
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.02, "weight_decay": 0.2, "decoupled_weight_decay": True},
        ("decoupled_weight_decay", "weight_decay"),
        "decoupled decay: theta scaled by 1 - lr * weight_decay before the step, the gradient untouched",
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.02, "betas": (0.8, 0.99)},
        ("lr", "betas[0]", "betas[1]"),
        "per-layer lr and betas (second group overrides them), lr changed mid-run through param_groups; "
        "params without a gradient on some steps are neither moved nor given state, and their step counts "
        "fall behind, so they cross the rectification threshold at a later global step",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.1, "betas": (0.5, 0.999)})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.005),), 20: ((1, "lr", 0.02),)},
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.02, "weight_decay": 0.1},
        ("lr", "weight_decay"),
        "complex params are updated as (real, imag) pairs: v holds Re(g)^2 and Im(g)^2 separately",
        dtype="complex128",
    ),
    OptimCase(
        "RAdam",
        {"lr": 0.002, "betas": (0.9, 0.99)},
        ("lr", "betas[0]", "betas[1]"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory (a small lr: "
        "the first five steps are lr * m_hat, un-normalized, on gradients in the hundreds)",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    *kernel_cases("RAdam", {"lr": 0.01, "weight_decay": 0.1}, steps=7),
]

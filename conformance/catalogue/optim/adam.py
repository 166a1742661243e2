"""Adam cases. eps shows only when sqrt(v) is tiny, AMSGrad only when v shrinks after a large gradient, and
decoupled weight decay only against the coupled (L2) form with the same weight_decay."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "Adam",
        {"lr": 0.01},
        ("lr", "betas[0]", "betas[1]"),
        "the Adam step with both bias corrections: m_hat / (sqrt(v_hat) + eps), betas as given",
    ),
    OptimCase(
        "Adam",
        {"lr": 0.01, "eps": 1e-8},
        ("eps", "betas[1]"),
        "gradients of ~1e-7: sqrt(v_hat) is comparable to eps, so where eps is added (to the bias-corrected "
        "sqrt(v), not inside the sqrt or to the uncorrected one) changes every step",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "Adam",
        {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True},
        ("amsgrad", "betas[1]"),
        "a 1e3 gradient then 1e-3 ones: AMSGrad's max_exp_avg_sq holds the spike while exp_avg_sq decays, "
        "and the maximum is taken of the uncorrected v before bias correction",
        gradients=Gradients("spike"),
    ),
    OptimCase(
        "Adam",
        {"lr": 0.01, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "coupled (L2) weight decay is added to the gradient after it is negated for maximize",
    ),
    OptimCase(
        "Adam",
        {"lr": 0.02, "weight_decay": 0.2, "decoupled_weight_decay": True},
        ("decoupled_weight_decay", "weight_decay", "lr"),
        "decoupled (AdamW) decay: theta scaled by 1 - lr * weight_decay before the step, the gradient "
        "untouched",
    ),
    OptimCase(
        "Adam",
        {"lr": 0.01, "betas": (0.8, 0.99)},
        ("lr", "betas[0]", "betas[1]"),
        "per-layer lr and betas (second group overrides them), lr changed mid-run in each group through "
        "param_groups; params without a gradient on some steps are neither moved nor given state, and "
        "their step counts (bias corrections) fall behind the others'",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.05, "betas": (0.5, 0.9)})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.002),), 20: ((1, "lr", 0.01),)},
    ),
    OptimCase(
        "Adam",
        {"lr": 0.05, "betas": (0.9, 0.9), "weight_decay": 0.1, "amsgrad": True},
        ("lr", "weight_decay", "amsgrad"),
        "complex params are updated as (real, imag) pairs: v and AMSGrad's maximum hold Re(g)^2 and Im(g)^2 "
        "separately, not |g|^2; weight decay is added to the complex gradient",
        gradients=Gradients("spike"),
        dtype="complex128",
    ),
    OptimCase(
        "Adam",
        {"lr": 0.05},
        ("lr", "betas[0]", "betas[1]"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    *kernel_cases("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]

"""AdamW cases. The decay is decoupled and scaled by the group's lr (torch's form, not the paper's fixed
schedule), so it is observable with a large weight_decay, with maximize, and when lr changes mid-run."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "AdamW",
        {"lr": 0.05},
        ("lr", "betas[0]", "betas[1]", "weight_decay"),
        "the default weight_decay 0.01 (not Adam's 0): theta scaled by 1 - lr * 0.01, then the Adam step",
        steps=40,
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.03, "eps": 1e-8},
        ("eps",),
        "gradients of ~1e-7: sqrt(v_hat) is comparable to eps, so where eps is added changes every step",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True},
        ("amsgrad", "betas[1]"),
        "a 1e3 gradient then 1e-3 ones: AMSGrad's max_exp_avg_sq holds the spike while exp_avg_sq decays",
        gradients=Gradients("spike"),
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.02, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize", "lr"),
        "maximize negates the gradient only: the decoupled decay still shrinks theta (by 1 - lr * wd)",
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.01, "weight_decay": 0.1},
        ("lr", "weight_decay", "betas[0]"),
        "per-layer lr and weight_decay (second group overrides them), lr changed mid-run through "
        "param_groups, which changes the decay factor too; params without a gradient on some steps are "
        "neither moved nor decayed",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.05, "weight_decay": 1.0})),
        gradients=Gradients(none_every=3),
        changes={10: ((1, "lr", 0.2),), 20: ((0, "weight_decay", 2.0),)},
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.02, "weight_decay": 0.5},
        ("lr", "weight_decay"),
        "complex params: decayed as complex values, then updated as (real, imag) pairs",
        dtype="complex128",
    ),
    OptimCase(
        "AdamW",
        {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.5},
        ("lr", "betas[0]", "betas[1]", "weight_decay"),
        "descent on an ill-conditioned quadratic: gradients depend on the candidate's own trajectory",
        objective="ill_conditioned_quadratic",
        steps=40,
    ),
    *kernel_cases("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
]

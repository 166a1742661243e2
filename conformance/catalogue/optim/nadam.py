"""NAdam cases. The momentum-decay schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)) moves slowly with the
default psi = 0.004, so psi is made observable over many steps and with a larger psi; beta1 enters both the
moment average and the schedule."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "NAdam",
        {"lr": 0.02},
        ("lr", "betas[0]", "betas[1]"),
        "the Nesterov step: a gradient term weighted by (1 - mu_t) / (1 - prod mu) and a momentum term "
        "weighted by mu_{t+1} / (1 - prod mu * mu_{t+1}), with the default (slow) momentum_decay",
        steps=60,
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.05, "momentum_decay": 0.5},
        ("momentum_decay", "betas[0]"),
        "a fast momentum-decay schedule: mu_t goes from beta1 / 2 to 0.7 beta1 within the run (the default "
        "0.004 would take thousands of steps), and the float32 product mu_product (stored state) follows it",
        steps=40,
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.02, "eps": 1e-8},
        ("eps",),
        "gradients of ~1e-7: sqrt(v_hat) is comparable to eps, added after the bias-corrected sqrt",
        gradients=Gradients(scale=1e-7),
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.02, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "coupled (L2) weight decay is added to the gradient after it is negated for maximize",
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.02, "weight_decay": 0.2, "decoupled_weight_decay": True},
        ("decoupled_weight_decay", "weight_decay"),
        "decoupled decay: theta scaled by 1 - lr * weight_decay before the step, the gradient untouched",
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.02, "betas": (0.8, 0.99)},
        ("lr", "betas[0]", "betas[1]"),
        "per-layer lr and betas (second group overrides them), lr changed mid-run through param_groups; "
        "params without a gradient on some steps are neither moved nor given state, and their step counts "
        "(mu_t, bias correction) and mu_product fall behind the others'",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 0.1, "momentum_decay": 0.05})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.005),), 20: ((1, "lr", 0.02),)},
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.05, "weight_decay": 0.1, "momentum_decay": 0.3},
        ("lr", "weight_decay", "momentum_decay"),
        "complex params are updated as (real, imag) pairs: v holds Re(g)^2 and Im(g)^2 separately",
        dtype="complex128",
    ),
    OptimCase(
        "NAdam",
        {"lr": 0.05},
        ("lr", "betas[0]", "betas[1]"),
        "descent on the Rosenbrock function: gradients depend on the candidate's own trajectory",
        groups=(Group(((2,),)),),
        objective="rosenbrock",
        steps=60,
    ),
    *kernel_cases("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
]

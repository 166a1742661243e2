"""Adadelta cases. ``acc_delta`` starts at zero, so the first steps have size ~``sqrt(eps)``: ``eps`` (inside
both roots) is observable with ordinary gradients; ``lr`` only scales the applied step, never acc_delta."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "Adadelta",
        {"lr": 1.0, "rho": 0.9, "eps": 1e-3},
        ("lr", "rho", "eps"),
        "delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g, acc_delta accumulating the unscaled "
        "delta: eps sets the size of the first steps and rho how fast they grow",
    ),
    OptimCase(
        "Adadelta",
        {"lr": 0.5, "rho": 0.5, "eps": 1e-6},
        ("lr", "rho", "eps"),
        "torch's defaults for eps: steps start at ~sqrt(1e-6) and grow through acc_delta; a small rho lets "
        "both averages forget fast",
        steps=60,
    ),
    OptimCase(
        "Adadelta",
        {"lr": 1.0, "eps": 1e-3, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "weight decay is added after the gradient is negated for maximize, before it enters square_avg",
    ),
    OptimCase(
        "Adadelta",
        {"lr": 1.0, "rho": 0.9, "eps": 1e-3},
        ("lr", "rho"),
        "per-layer hyperparameters (second group: lr 2, rho 0.5) and lr changed mid-run through "
        "param_groups; params without a gradient on some steps are neither moved nor given state",
        groups=(Group(((3, 4), ())), Group(((5,), (2, 2)), {"lr": 2.0, "rho": 0.5})),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.2),), 20: ((1, "rho", 0.9),)},
    ),
    OptimCase(
        "Adadelta",
        {"lr": 1.0, "rho": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        ("rho", "eps", "weight_decay"),
        "complex params are updated as (real, imag) pairs: both averages hold the squares of each component",
        dtype="complex128",
    ),
    OptimCase(
        "Adadelta",
        {"lr": 0.1, "rho": 0.9, "eps": 1e-3},
        ("lr", "rho", "eps"),
        "descent on an ill-conditioned quadratic: gradients depend on the candidate's own trajectory",
        groups=(Group(((4,), (2, 2))),),
        objective="ill_conditioned_quadratic",
        steps=60,
    ),
    *kernel_cases("Adadelta", {"lr": 1.0, "rho": 0.9, "weight_decay": 0.1}),
]

"""Adafactor cases. A param of two or more dimensions keeps row and column statistics of ``G * G`` (over its
last two axes, batched over the others), a vector or scalar keeps the full ``variance``; the relative step
``max(eps2, RMS(theta)) * min(lr, 1/sqrt(t))`` scales ``U = G / sqrt(V)``, which is first clipped to RMS
``d``. With gradients of unit scale, ``RMS(U)`` exceeds 1 on many steps, so the default ``d = 1`` clips
(measured: 51 of the first case's 120 param-steps).

``eps1 = None`` means the params' dtype's eps: 2.2e-16 in the float64 vectors, 1.2e-7 for a float32
candidate. Every case that leaves it None keeps ``V`` and ``mean(R)`` (gradients of unit scale) far above
both, so the float32 runs compute the same thing; the case that makes eps1 matter sets it to 1e-3."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

# A non-square matrix (factored), a vector and a scalar (full variance), a 3-D tensor (factored over its last
# two axes, batched over the first)
SHAPES = ((3, 4), (5,), (), (2, 3, 4))

CASES = [
    OptimCase(
        "Adafactor",
        {"lr": 0.05},
        ("lr", "beta2_decay", "d"),
        "factored statistics R (rows) and C (columns) for the matrix and the 3-D tensor, V = R C / mean(R); "
        "full variance for the vector and the scalar; 1 - beta2_t = t^beta2_decay (exactly 1 at t = 1); "
        "the update is clipped to RMS d = 1 on 51 of the 120 param-steps",
        groups=(Group(SHAPES),),
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.05, "beta2_decay": -0.5, "d": 1.25},
        ("beta2_decay", "d"),
        "a slower decay exponent, and a clipping threshold that 8 of the 120 param-steps exceed",
        groups=(Group(SHAPES),),
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.05, "eps": (1e-3, 1e-3), "d": 4.0},
        ("eps[0]",),
        "gradients of ~1e-3 make V ~ 1e-6 ~ eps1^2 and mean(R) ~ eps1: eps1 floors the variance of the "
        "smaller elements and the factored denominator; the clipping threshold is loose enough not to clip, "
        "so eps1 shows in the step size too",
        groups=(Group(SHAPES),),
        gradients=Gradients(scale=1e-3),
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.1, "eps": (None, 0.1), "weight_decay": 2.0},
        ("weight_decay", "eps[1]"),
        "decoupled weight decay (theta *= 1 - lr * weight_decay, after alpha_t is taken) shrinks the params "
        "by a fifth every step until RMS(theta) falls below eps2 = 0.1, which then floors the step size",
        groups=(Group(SHAPES),),
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.05, "weight_decay": 0.5, "maximize": True},
        ("lr", "weight_decay", "maximize"),
        "maximize negates the gradient (the statistics of G * G are unchanged, the step goes uphill); weight "
        "decay still shrinks the params",
        groups=(Group(SHAPES),),
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.02},
        ("lr", "beta2_decay"),
        "per-layer hyperparameters (second group: lr 0.2, beta2_decay -0.6, d 2, weight decay); lr changed "
        "mid-run through param_groups, the second group's to 0.5 so that min(lr, 1/sqrt(t)) is 1/sqrt(t); "
        "params without a gradient on some steps are neither moved nor given state, and their step count "
        "lags",
        groups=(
            Group(((3, 4), ())),
            Group(((5,), (4, 2)), {"lr": 0.2, "beta2_decay": -0.6, "d": 2.0, "weight_decay": 0.1}),
        ),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.05),), 15: ((1, "lr", 0.5),)},
    ),
    OptimCase(
        "Adafactor",
        {"lr": 0.05},
        ("lr", "beta2_decay"),
        "descent on an ill-conditioned quadratic: gradients depend on the candidate's own trajectory",
        groups=(Group(((4, 3), (3,))),),
        objective="ill_conditioned_quadratic",
        steps=40,
    ),
    *kernel_cases("Adafactor", {"lr": 0.01}),
]

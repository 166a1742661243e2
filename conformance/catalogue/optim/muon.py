"""Muon cases. 2-D params only: a wide, a tall (transposed inside the Newton-Schulz iteration) and a square
matrix, whose lr adjustments all differ between ``adjust_lr_fn`` None (``sqrt(max(1, A/B))``) and
``"match_rms_adamw"`` (``0.2 sqrt(max(A, B))``).

Every case carries a tolerance override, because torch runs the Newton-Schulz iteration in bfloat16 while
the reference specifies it in the arrays' dtype (``refimpl/optim/muon.py``). Derivation:

- bfloat16's unit roundoff is u = 2^-8. ``tests/test_muon.py`` bounds torch's error on the orthogonalised
  update ``O_t`` by 32u relative (max-norm) per step: 2 + 3 * ns_steps first-order roundings, times two
  for the steep part of the polynomial; measured up to 22.8u.
- Everything else (momentum, weight decay, lr adjustment) is computed in the candidate's dtype, so the
  float64 and float32 runs of torch are off by the same bfloat16 amount (measured: equal to 2 digits).
- The gradients are fixed, so param errors do not feed back: after t steps the param error is at most
  ``sum_s AdjustLR * 32u * max|O_s|``, linear in t. For these cases (AdjustLR <= 0.028, max|O| < 1, t = 20,
  max|theta| ~ 2) that worst case is ~3e-2 relative. The roundings of successive steps partly cancel: the
  measured worst relative error over the trajectory and the single steps, float64 and float32, is 1.3e-4
  to 2.3e-3 depending on the case (torch 2.13, CPU), each case's own number written next to it.
- Measured per step, torch's ``O_t`` is off by a median of 1.3u to 5.4u and a 90th percentile of 2.3u to
  9.1u, depending on the case (one step of the defaults case reaches 36u, past test_muon's 32u: a small
  singular value on the polynomial's steep part). Another platform's bfloat16 products may round worse: one
  whose every step reached 32u would be off by 32u / 9.1u = 3.5 times more. A case's override is
  ``MARGIN = 3.5`` times its measured worst, still below the linear worst case.
- ``tests/test_catalogue.py`` demands that every option a case observes changes its output by at least 10
  times the override (35 times the measured error), so a wrong option is still caught with room to spare:
  bfloat16 costs Muon resolution, not coverage.
"""

from conformance.catalogue.model import Gradients, Group, OptimCase

# wide, tall (transposed inside the Newton-Schulz iteration), square
SHAPES = ((3, 5), (6, 3), (4, 4))

MARGIN = 3.5


def bf16(measured: float) -> dict[str, float]:
    """The override for a case whose torch run was measured ``measured`` away (relative) at worst."""
    return {"float64": MARGIN * measured, "float32": MARGIN * measured}


CASES = [
    OptimCase(
        "Muon",
        {"lr": 0.02},
        ("lr", "momentum"),
        "torch's defaults (weight decay 0.1, momentum 0.95 with Nesterov, 5 Newton-Schulz steps of Keller "
        "Jordan's quintic): the momentum is an EMA, B = mu B + (1 - mu) g, the iteration orthogonalises "
        "(1 - mu) g + mu B; the step is lr * sqrt(max(1, A/B)) * O",
        groups=(Group(SHAPES),),
        steps=20,
        tolerance=bf16(2.3e-3),
    ),
    OptimCase(
        "Muon",
        {"lr": 0.02, "momentum": 0.9, "nesterov": False},
        ("momentum", "nesterov"),
        "without Nesterov the iteration orthogonalises the buffer B itself",
        groups=(Group(SHAPES),),
        steps=20,
        tolerance=bf16(7.0e-4),
    ),
    OptimCase(
        "Muon",
        {"lr": 0.05, "weight_decay": 1.0, "adjust_lr_fn": "match_rms_adamw"},
        ("lr", "weight_decay", "adjust_lr_fn"),
        "Moonshot's lr adjustment 0.2 sqrt(max(A, B)), applied to the orthogonalised step only; decoupled "
        "weight decay theta *= 1 - lr * weight_decay with the unadjusted lr",
        groups=(Group(SHAPES),),
        steps=20,
        tolerance=bf16(1.6e-3),
    ),
    OptimCase(
        "Muon",
        {"lr": 0.02, "ns_steps": 3},
        ("ns_coefficients[0]", "ns_coefficients[1]", "ns_coefficients[2]", "ns_steps"),
        "three Newton-Schulz steps leave the small singular values short of 1, so the count and every "
        "coefficient of X <- a X + (b A + c A^2) X, A = X X^T, show",
        groups=(Group(SHAPES),),
        steps=20,
        tolerance=bf16(6.9e-4),
    ),
    OptimCase(
        "Muon",
        {"lr": 0.02},
        ("eps",),
        "gradients of ~1e-10 make ||(1 - mu) g + mu B||_F ~ 1e-10 < eps = 1e-7: the iteration's input is "
        "divided by eps, not by its norm, and its singular values stay where the polynomial is nearly linear",
        groups=(Group(SHAPES),),
        gradients=Gradients(scale=1e-10),
        steps=20,
        tolerance=bf16(1.3e-4),
    ),
    OptimCase(
        "Muon",
        {"lr": 0.02},
        ("lr", "momentum"),
        "per-layer hyperparameters (second group: lr 0.05, match_rms_adamw, 4 Newton-Schulz steps, weight "
        "decay 0.05) and hyperparameters changed mid-run through param_groups (the second group's lr and "
        "momentum); params without a gradient on some steps are neither moved nor given state",
        groups=(
            Group(((3, 5), (6, 3))),
            Group(
                ((4, 4), (2, 6)),
                {"lr": 0.05, "adjust_lr_fn": "match_rms_adamw", "ns_steps": 4, "weight_decay": 0.05},
            ),
        ),
        gradients=Gradients(none_every=3),
        changes={10: ((1, "lr", 0.01),), 15: ((1, "momentum", 0.8),)},
        steps=20,
        tolerance=bf16(1.4e-3),
    ),
]

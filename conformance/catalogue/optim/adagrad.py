"""Adagrad cases. The accumulator ``sum`` starts at ``initial_accumulator_value`` (created in the
constructor, from the optimizer's defaults only); ``eps`` is outside the root, so it shows with tiny
gradients; ``lr_decay`` divides lr by ``1 + (step - 1) * lr_decay``."""

from conformance.catalogue.kernel import kernel_cases
from conformance.catalogue.model import Gradients, Group, OptimCase

CASES = [
    OptimCase(
        "Adagrad",
        {"lr": 0.1},
        ("lr",),
        "sum += g^2 from zero; theta -= lr g / (sqrt(sum) + eps): the first step has size lr per element",
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5},
        ("lr", "lr_decay", "initial_accumulator_value"),
        "lr / (1 + (step - 1) lr_decay), with the step counted before the decay (step 1 uses lr itself); "
        "sum starts at initial_accumulator_value instead of zero",
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "eps": 1e-9},
        ("eps",),
        "gradients of ~1e-9 make sqrt(sum) ~ 1e-9, so eps (added outside the root) is a large part of the "
        "denominator",
        gradients=Gradients(scale=1e-9),
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "weight_decay": 0.5, "maximize": True},
        ("weight_decay", "maximize"),
        "weight decay is added after the gradient is negated for maximize, before it enters sum",
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1},
        ("lr", "lr_decay", "initial_accumulator_value"),
        "per-layer hyperparameters (second group: lr 0.5, no lr_decay, and its own "
        "initial_accumulator_value, which torch stores but never uses: sum starts from the optimizer's "
        "value) and lr changed mid-run "
        "through param_groups; params without a gradient on some steps are not moved, though their state "
        "exists from the constructor on and their step count does not advance",
        groups=(
            Group(((3, 4), ())),
            Group(((5,), (2, 2)), {"lr": 0.5, "lr_decay": 0.0, "initial_accumulator_value": 3.0}),
        ),
        gradients=Gradients(none_every=3),
        changes={10: ((0, "lr", 0.02),), 20: ((1, "lr_decay", 0.5),)},
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.1, "maximize": True},
        ("lr", "lr_decay", "maximize"),
        "row-sparse gradients: repeated rows are summed before squaring, only the rows present update sum "
        "and the param (absent rows are left as they are)",
        groups=(Group(((6, 3),)),),
        gradients=Gradients("sparse"),
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.1},
        ("initial_accumulator_value", "weight_decay"),
        "complex params are updated as (real, imag) pairs: initial_accumulator_value fills both components "
        "and sum holds the squares of each component",
        dtype="complex128",
    ),
    OptimCase(
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01},
        ("lr", "lr_decay"),
        "descent on an ill-conditioned quadratic: gradients depend on the candidate's own trajectory",
        groups=(Group(((4,), (2, 2))),),
        objective="ill_conditioned_quadratic",
        steps=60,
    ),
    *kernel_cases("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
]

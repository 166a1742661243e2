"""SparseAdam cases: row-sparse gradients only (embedding-like 2-D params). Only the rows a gradient names
move, their moments are the only ones updated, and the bias corrections use the parameter's step count,
not the row's."""

from conformance.catalogue.model import Gradients, Group, OptimCase

EMBEDDINGS = (Group(((8, 3), (6, 2))),)

CASES = [
    OptimCase(
        "SparseAdam",
        {"lr": 0.02},
        ("lr", "betas[0]", "betas[1]"),
        "masked Adam: repeated rows are summed (coalesced), absent rows keep their params and moments, and "
        "a row first seen late gets the parameter's (late) bias corrections",
        groups=EMBEDDINGS,
        gradients=Gradients("sparse"),
    ),
    OptimCase(
        "SparseAdam",
        {"lr": 0.02, "eps": 1e-8},
        ("eps",),
        "gradients of ~1e-7: sqrt(v) is comparable to eps, added to the uncorrected sqrt(v) (the bias "
        "correction of v is folded into the step size)",
        groups=EMBEDDINGS,
        gradients=Gradients("sparse", scale=1e-7),
    ),
    OptimCase(
        "SparseAdam",
        {"lr": 0.02, "betas": (0.8, 0.9), "maximize": True},
        ("maximize", "betas[0]", "betas[1]"),
        "maximize negates the sparse gradient's values; small betas make the moments forget within the run",
        groups=EMBEDDINGS,
        gradients=Gradients("sparse"),
    ),
    OptimCase(
        "SparseAdam",
        {"lr": 0.02},
        ("lr", "betas[0]"),
        "per-layer lr and betas (second group overrides them), lr changed mid-run through param_groups; a "
        "param without a gradient on a step is not moved and its step count (bias corrections) falls behind",
        groups=(Group(((8, 3),)), Group(((6, 2), (5, 4)), {"lr": 0.1, "betas": (0.5, 0.9)})),
        gradients=Gradients("sparse", none_every=3),
        changes={10: ((0, "lr", 0.005),), 20: ((1, "lr", 0.02),)},
        steps=40,
    ),
]

"""update_bn cases: BatchNorm statistics recomputed from one pass over the data, as torch recomputes them."""

from conformance.catalogue.swa_model import UpdateBnCase

LINEAR_BN = (
    {"layer": "Linear", "in": 3, "out": 4, "bias": True},
    {"layer": "BatchNorm", "num_features": 4, "eps": 1e-3, "momentum": 0.3},
    {"layer": "ReLU"},
    {"layer": "Linear", "in": 4, "out": 2, "bias": False},
    {"layer": "BatchNorm", "num_features": 2, "eps": 1e-5, "momentum": 0.1},
)

CASES = [
    UpdateBnCase(
        LINEAR_BN,
        (8, 3),
        ("batches",),
        "reset, then the cumulative average over every batch (momentum None: factor 1/k), not the layers' "
        "momentum; the second BatchNorm sees the first one's training-mode output; momenta and eval mode "
        "restored",
    ),
    UpdateBnCase(
        LINEAR_BN,
        (5, 3),
        ("batches",),
        "a loader of (input, target) pairs (the model gets the first element), model in training mode",
        batches=4,
        pairs=True,
        training=True,
    ),
    UpdateBnCase(
        (
            {"layer": "BatchNorm", "num_features": 3, "eps": 1e-5, "momentum": None},
            {"layer": "ReLU"},
            {"layer": "BatchNorm", "num_features": 3, "eps": 1e-2, "momentum": 0.5},
        ),
        (4, 3, 5),
        ("batches",),
        "BatchNorm over (N, C, L) inputs: statistics over the batch and length axes, unbiased variance with "
        "n = N * L; a layer whose momentum is None keeps None",
    ),
]

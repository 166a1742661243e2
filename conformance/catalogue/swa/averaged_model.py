"""AveragedModel cases: every averaging path of ``update_parameters``, with and without ``use_buffers``."""

from conformance.catalogue.swa_model import AveragedCase

CASES = [
    AveragedCase(
        {},
        ("use_buffers",),
        "torch's default equal-weight average (SWA): the first update copies the model, the n-th folds it in "
        "with weight 1/n; buffers are copied from the latest model, not averaged",
    ),
    AveragedCase(
        {"use_buffers": True},
        ("use_buffers",),
        "SWA of the params and the buffers (the integer buffer averaged in float32 and truncated, as torch)",
    ),
    AveragedCase(
        {"multi_avg_fn": "ema", "decay": 0.9},
        ("multi_avg_fn", "decay", "use_buffers"),
        "EMA through get_ema_multi_avg_fn: ema = decay * ema + (1 - decay) * current (the decay on the "
        "average's side, not the new model's)",
    ),
    AveragedCase(
        {"multi_avg_fn": "ema", "decay": 0.8, "use_buffers": True},
        ("decay", "use_buffers"),  # get_swa_multi_avg_fn, the other function, refuses integer buffers
        "EMA of params and buffers (the docs' recipe for BatchNorm statistics without update_bn)",
    ),
    AveragedCase(
        {"avg_fn": "ema", "decay": 0.95},
        ("avg_fn", "decay"),
        "EMA through the per-tensor get_ema_avg_fn",
    ),
    AveragedCase(
        {"multi_avg_fn": "swa"},
        ("multi_avg_fn",),
        "equal weights through get_swa_multi_avg_fn: a lerp with weight 1 / (n + 1) rounded to float32",
        # torch rounds the lerp weight to float32 (refimpl/swa_utils.py): a float64 candidate computing it
        # exactly differs by up to ~3e-8 relative in the weight and ~1e-9 in the average, which is not what
        # this case is about; 1e-7 keeps six orders below the >= 1e-3 change of a wrong weight.
        tolerance={"float64": 1e-7},
    ),
    AveragedCase(
        {"avg_fn": "swa", "use_buffers": True},
        ("avg_fn", "use_buffers"),
        "equal weights through the per-tensor get_swa_avg_fn, buffers averaged too",
    ),
]

"""swa_utils examples: AveragedModel configurations and update_bn models, as catalogue cases.

Drawn: for AveragedModel, the averaging (torch's default, ``avg_fn`` or ``multi_avg_fn``, EMA or SWA),
``decay`` inside the reference's table (``refimpl.swa_utils.DECAY_TABLE``, ends included), ``use_buffers``,
0-d to 2-D params, float and integer buffers, 1 to 12 updates; for update_bn, 1 to 3 BatchNorm layers
(``momentum`` a number in (0, 1] or ``None``, ``eps`` from 1e-5 to 0.1) after Linear or ReLU layers, (N, C)
or (N, C, L) batches of 2 to 8 rows (BatchNorm needs two values per channel), 1 to 6 of them, as tensors
or ``(input, target)`` pairs, the model in training or evaluation mode. ``get_swa_multi_avg_fn`` with an
integer buffer averaged (torch's RuntimeError, and the reference's) is not drawn.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.catalogue.swa_model import AveragedCase, UpdateBnCase
from conformance.strategies.hyper import bounded_floats
from refimpl.swa_utils import DECAY_TABLE

_SHAPES = st.sampled_from(((), (1,), (4,), (2, 3), (3, 1)))
_AVERAGING = st.sampled_from(
    ({}, {"avg_fn": "ema"}, {"avg_fn": "swa"}, {"multi_avg_fn": "ema"}, {"multi_avg_fn": "swa"})
)
(_DECAY_BOUND,) = DECAY_TABLE.checks
_DECAY = bounded_floats(_DECAY_BOUND, 0.999)


@st.composite
def averaged_examples(draw: Any) -> AveragedCase:
    options = dict(draw(_AVERAGING))
    if "ema" in options.values() and draw(st.booleans()):
        options["decay"] = draw(_DECAY)
    if draw(st.booleans()):
        options["use_buffers"] = draw(st.booleans())
    buffers = [((draw(_SHAPES)), "float64")] if draw(st.booleans()) else []
    # torch refuses get_swa_multi_avg_fn on integer buffers (the reference too): not drawn
    if draw(st.booleans()) and not (options.get("multi_avg_fn") == "swa" and options.get("use_buffers")):
        buffers.append(((), "int64"))
    return AveragedCase(
        options,
        (),
        "a property-based example drawn by Hypothesis",
        updates=draw(st.integers(1, 12)),
        params=tuple(draw(st.lists(_SHAPES, min_size=1, max_size=3))),
        buffers=tuple(buffers),
        tag="property",
        seed=f"property/{draw(st.integers(0, 2**32 - 1))}",
    )


@st.composite
def _layers(draw: Any, channels: int, flat: bool) -> tuple[dict[str, Any], ...]:
    """1 to 3 BatchNorm layers, each after a Linear (2-D inputs only) or ReLU, or none."""
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        before = draw(st.sampled_from(("Linear", "ReLU", None) if flat else ("ReLU", None)))
        if before == "Linear":
            out = draw(st.integers(1, 4))
            layers.append({"layer": "Linear", "in": channels, "out": out, "bias": draw(st.booleans())})
            channels = out
        elif before == "ReLU":
            layers.append({"layer": "ReLU"})
        momentum = draw(st.one_of(st.none(), st.sampled_from((0.1, 1.0)), st.floats(0.01, 1.0)))
        eps = draw(st.sampled_from((1e-5, 1e-3, 0.1)))
        layers.append({"layer": "BatchNorm", "num_features": channels, "eps": eps, "momentum": momentum})
    return tuple(layers)


@st.composite
def update_bn_examples(draw: Any) -> UpdateBnCase:
    flat = draw(st.booleans())
    channels = draw(st.integers(1, 4))
    shape = (draw(st.integers(2, 8)), channels) + (() if flat else (draw(st.integers(1, 4)),))
    return UpdateBnCase(
        draw(_layers(channels, flat)),
        shape,
        (),
        "a property-based example drawn by Hypothesis",
        batches=draw(st.integers(1, 6)),
        pairs=draw(st.booleans()),
        training=draw(st.booleans()),
        tag="property",
        seed=f"property/{draw(st.integers(0, 2**32 - 1))}",
    )


def swa_examples(subject: str) -> st.SearchStrategy[Any]:
    """The examples of ``subject``: ``"AveragedModel"`` or ``"update_bn"``."""
    return averaged_examples() if subject == "AveragedModel" else update_bn_examples()

"""The named functions scheduler cases use: LambdaLR/MultiplicativeLR lambdas, CyclicLR scale functions, and
ReduceLROnPlateau's metric sequences.

Vectors hold data, never code, so a case names its function (``lr_lambda="warmup10"``) and both the
generator and the harness look the name up here. Each entry carries its formula as text; the vectors store
it next to the name, so a candidate outside Python can rebuild the function from the vector file alone.
Metric sequences are data: the vectors store their values, and the formula only documents their origin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Named:
    """A function and its formula, as text in Python syntax over the argument ``t`` (or ``x``, ``n``)."""

    formula: str
    fn: Callable[..., Any]


# LambdaLR multiplies base_lr by lr_lambda(epoch); MultiplicativeLR multiplies the current lr by it.
LR_LAMBDAS: dict[str, Named] = {
    "warmup10": Named("min(1.0, (t + 1) / 10)", lambda t: min(1.0, (t + 1) / 10)),
    "warmup10_rsqrt": Named(
        "(t + 1) / 10 if t < 10 else (10 / (t + 1)) ** 0.5",
        lambda t: (t + 1) / 10 if t < 10 else (10 / (t + 1)) ** 0.5,
    ),
    "decay0.95": Named("0.95 ** t", lambda t: 0.95**t),
    "shrink0.97": Named("0.97", lambda t: 0.97),
    "halve_every10": Named("0.5 if t % 10 == 0 else 1.0", lambda t: 0.5 if t % 10 == 0 else 1.0),
}

# CyclicLR's scale_fn(x), x the cycle number (scale_mode "cycle") or the iteration ("iterations").
SCALE_FNS: dict[str, Named] = {
    "halve_per_cycle": Named("0.5 ** (x - 1)", lambda x: 0.5 ** (x - 1)),
    "decay0.99": Named("0.99 ** x", lambda x: 0.99**x),
}


def _plateaus(n: int) -> list[float]:
    """A validation loss: fast progress, then stalls broken by small improvements, with a wobble."""
    return [
        round(1.0 / (1.0 + 0.3 * math.floor(t / 12) + 0.002 * t) + 0.01 * math.sin(t), 12) for t in range(n)
    ]


def _accuracy(n: int) -> list[float]:
    """A validation accuracy (mode "max"): ``1 - plateaus``."""
    return [round(1.0 - v, 12) for v in _plateaus(n)]


def _negative_plateaus(n: int) -> list[float]:
    """``plateaus - 1.2``: the same stalls, below zero (from -0.19 down)."""
    return [round(v - 1.2, 12) for v in _plateaus(n)]


# ReduceLROnPlateau's metric before scheduler step t + 1 is sequence[t].
METRICS: dict[str, Named] = {
    "plateaus": Named(
        "round(1 / (1 + 0.3 * floor(t / 12) + 0.002 * t) + 0.01 * sin(t), 12) for t in range(n)", _plateaus
    ),
    "accuracy": Named("round(1 - plateaus[t], 12) for t in range(n)", _accuracy),
    # a loss that is negative throughout (a log-likelihood's negative, a reward): rel thresholds flip there
    "negative_plateaus": Named("round(plateaus[t] - 1.2, 12) for t in range(n)", _negative_plateaus),
}

# Scheduler options whose value is a function name (or a list of names, one per group), and their tables.
FUNCTION_OPTIONS: dict[str, dict[str, Named]] = {"lr_lambda": LR_LAMBDAS, "scale_fn": SCALE_FNS}


def lookup(option: str, name: str) -> Named:
    """The named function of ``option``; an unknown name is a one-line ValueError listing the known ones."""
    table = FUNCTION_OPTIONS[option]
    if name not in table:
        raise ValueError(f"unknown {option} function {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def resolve(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Scheduler kwargs with function names replaced by the functions (lists element by element)."""
    out = dict(kwargs)
    for option in FUNCTION_OPTIONS:
        value = out.get(option)
        if isinstance(value, str):
            out[option] = lookup(option, value).fn
        elif isinstance(value, (list, tuple)):
            out[option] = [lookup(option, v).fn for v in value]
    return out


def formulas(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """``{name: formula}`` of every function named in ``kwargs``: what the vectors store for a candidate
    in another language."""
    out = {}
    for option in FUNCTION_OPTIONS:
        value = kwargs.get(option)
        names = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
        out.update({name: lookup(option, name).formula for name in names})
    return out

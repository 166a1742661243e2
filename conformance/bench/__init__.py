"""``--bench``: how fast the candidate's ``step()`` is, next to torch's for-loop and the device's copy
bandwidth. See :mod:`conformance.bench.suite` for what is measured and :mod:`conformance.bench.traffic` for
the bytes each algorithm moves."""

from __future__ import annotations

from typing import Any

from conformance.bench.suite import (
    DEFAULT_REPEATS,
    DEFAULT_SIZES,
    BenchConfig,
    BenchConfigError,
    parse_sizes,
    run_bench,
)

__all__ = ["BenchConfig", "BenchConfigError", "config_from", "run_bench"]


def config_from(option: Any, device: str, variants: list[str] | None) -> BenchConfig | None:
    """The benchmark configuration the command line asks for, or None without ``--bench``. ``option(name,
    default)`` reads one option (the options themselves are declared in :mod:`conformance.options`)."""
    if not option("--bench", False):
        return None
    return BenchConfig(
        sizes=parse_sizes(option("--bench-sizes", DEFAULT_SIZES)),
        repeats=option("--bench-repeats", DEFAULT_REPEATS),
        dtype=option("--bench-dtype", "float32"),
        device=device,
        variants=tuple(variants) if variants else None,
        threads=option("--bench-threads", 1),
    )

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

__all__ = ["BenchConfig", "BenchConfigError", "add_options", "config_from", "run_bench"]


def add_options(group: Any) -> None:
    """The plugin's ``--bench*`` options."""
    group.addoption("--bench", action="store_true", help="also time step() per optimizer x variant x size")
    group.addoption(
        "--bench-sizes",
        default=DEFAULT_SIZES,
        help="TOTAL (one tensor) or TOTAL/COUNT (over COUNT tensors), comma-separated (default: %(default)s)",
    )
    group.addoption("--bench-repeats", type=int, default=DEFAULT_REPEATS, help="timed samples per row")
    group.addoption("--bench-dtype", default="float32", help="dtype of the benchmark (default: float32)")
    group.addoption(
        "--bench-threads",
        type=int,
        default=1,
        help="CPU threads for torch while timing; 0: torch's default (default: %(default)s)",
    )


def config_from(getoption: Any, device: str, variants: list[str] | None) -> BenchConfig | None:
    """The benchmark configuration the command line asks for, or None without ``--bench``."""
    if not getoption("--bench"):
        return None
    return BenchConfig(
        sizes=parse_sizes(getoption("--bench-sizes")),
        repeats=getoption("--bench-repeats"),
        dtype=getoption("--bench-dtype"),
        device=device,
        variants=tuple(variants) if variants else None,
        threads=getoption("--bench-threads"),
    )

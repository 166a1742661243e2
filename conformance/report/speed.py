"""The speed section of a report, from ``results.json``'s ``bench``: one table and one step-time-against-size
chart per optimizer, the bytes-per-element table, and the copy bandwidth they are measured against."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from conformance.report.svg import Series

HEADERS = ("implementation", "size", "ms/step", "IQR ms", "elements/s", "GB/s", "of copy", "vs forloop")
TRAFFIC_HEADERS = ("optimizer", "reads", "writes", "bytes/element", "what is moved")


def implementation(row: dict[str, Any]) -> str:
    """The row's label: the candidate's variant, or torch's for-loop when it is the separate baseline."""
    return (
        f"{row['variant']}" if row.get("role") == "candidate" else f"torch.optim {row['variant']} (baseline)"
    )


def _ratio(value: Any, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _cells(row: dict[str, Any]) -> list[str]:
    size = row["label"] + (" (tensors)" if row.get("tensors", 1) > 1 else "")
    return [
        implementation(row) + (" *" if row.get("includes_conversion") else ""),
        size,
        f"{row['median'] * 1e3:.3g}",
        f"{row['iqr'] * 1e3:.2g}",
        f"{row['elements_per_s']:.3g}",
        f"{row['bandwidth'] / 1e9:.3g}",
        _ratio(row.get("roofline"), ".0%"),
        _ratio(row.get("speedup"), ".2f", "x"),
    ]


@dataclass
class SpeedTable:
    """One optimizer's rows (formatted) and its chart's series (median seconds against elements)."""

    optimizer: str
    rows: list[list[str]]
    series: list[Series]


def tables(bench: dict[str, Any]) -> list[SpeedTable]:
    by_optimizer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in bench.get("rows", []):
        by_optimizer[row["optimizer"]].append(row)
    out = []
    for name, rows in sorted(by_optimizer.items()):
        rows = sorted(
            rows, key=lambda r: (r.get("role") != "candidate", r["variant"], r["tensors"] > 1, r["size"])
        )
        lines: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            lines[(implementation(r), r["tensors"] > 1)].append(r)
        series = [
            Series(
                label + (" (many tensors)" if many else ""),
                [r["size"] for r in line],
                [r["median"] for r in line],
                dashed=many,
                group=label,
            )
            for (label, many), line in lines.items()
        ]
        out.append(SpeedTable(name, [_cells(r) for r in rows], series))
    return out


def traffic_rows(bench: dict[str, Any]) -> list[list[Any]]:
    return [
        [name, t["reads"], t["writes"], t["bytes_per_element"], t["why"]]
        for name, t in sorted(bench.get("traffic", {}).items())
    ]


def copy_text(bench: dict[str, Any]) -> str:
    copy, config = bench.get("copy") or {}, bench.get("config") or {}
    if not copy:
        return "no copy bandwidth measured"
    return (
        f"copy bandwidth {copy['bandwidth'] / 1e9:.3g} GB/s ({copy.get('how', 'copy')} of "
        f"{copy.get('label', copy['numel'])} "
        f"{config.get('dtype', '')} elements on {config.get('device', '?')}, bytes = 2 x size; median of "
        f"{copy.get('samples', '?')}, IQR {copy.get('iqr', 0) * 1e3:.2g} ms)"
    )


NOTES = (
    "ms/step: median over the samples; IQR: interquartile range of the samples. GB/s: the bytes the "
    "algorithm must move per element (table below) times the elements, per second. of copy: that bandwidth "
    "as a fraction of the copy bandwidth measured in the same run (above 100% is possible: a copy pays for "
    "its write allocation too). vs forloop: torch.optim's for-loop time divided by this time (above 1 is "
    "faster). * the adapter has no step_again(): the time includes its array conversion."
)


def speed_lines(bench: dict[str, Any]) -> list[str]:
    """The terminal's figures: each optimizer at the largest one-tensor and many-tensor sizes."""
    rows = bench.get("rows", [])
    largest = {}
    for r in rows:
        key = r["tensors"] > 1
        largest[key] = max(largest.get(key, 0), r["size"])
    shown = [_cells(r) for r in rows if r["size"] == largest[r["tensors"] > 1]]
    names = [r["optimizer"] for r in rows if r["size"] == largest[r["tensors"] > 1]]
    lines = [f"speed ({bench.get('seconds', 0):.0f} s): {copy_text(bench)}"]
    if shown:
        table = tabulate([[n, *c] for n, c in zip(names, shown)], headers=["optimizer", *HEADERS])
        lines += table.splitlines()
    lines += [f"not benchmarked: {line}" for line in skipped_lines(bench)]
    return lines


def skipped_lines(bench: dict[str, Any]) -> list[str]:
    """ "LBFGS: why" for an optimizer never benchmarked, "SGD fused 1e7: why" for one configuration."""
    out = []
    for s in bench.get("skipped", []):
        what = " ".join(str(s.get(k) or "") for k in ("optimizer", "variant", "size")).split()
        out.append(f"{' '.join(what)}: {s.get('reason', '')}")
    return out

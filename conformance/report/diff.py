"""What changed between two runs (two torch versions, CPU against CUDA, two commits of a candidate).

Checks are matched by (check, case, dtype, variant), not by test id, so runs on different devices compare.
Three kinds of change are listed:

- outcomes that flipped (pass to FAIL is a regression; the reverse a fix);
- coverage lost: checks that passed in A and were not looked at in B (not supported, skipped, or absent).
  A candidate that stops declaring what it used to pass is not "no regression": the comparison fails
  unless the caller allows it (``--allow-coverage-loss``);
- divergences that grew (or shrank) by more than ``factor``: errors under one machine epsilon of the dtype
  count as one epsilon, because below that the ratio of two rounding residues means nothing;
- speed: each benchmarked configuration's time in B over its time in A, flagged beyond ``speed_factor``.
  Timings are noisy, so speed never makes the comparison fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from conformance.report.model import LABELS, max_rel, outcome
from conformance.tolerances import EPS

BAD = ("failed", "xpassed")
# Outcomes of a check that did not look at the candidate.
NOT_LOOKED = ("unsupported", "skipped")
DEFAULT_FACTOR = 10.0
DEFAULT_SPEED_FACTOR = 1.25

Key = tuple[str, str, str, str]


def key(record: dict[str, Any]) -> Key:
    return tuple(str(record.get(k, "-")) for k in ("check", "case", "dtype", "variant"))  # type: ignore[return-value]


def _name(k: Key) -> str:
    check, case, dtype, variant = k
    return f"{check.removeprefix('test_')} {case} {dtype} {variant}"


@dataclass
class Diff:
    factor: float
    speed_factor: float
    flipped: list[tuple[Key, str, str]] = field(default_factory=list)
    only_a: list[Key] = field(default_factory=list)
    only_b: list[Key] = field(default_factory=list)
    grown: list[tuple[Key, float, float, float]] = field(default_factory=list)
    shrunk: list[tuple[Key, float, float, float]] = field(default_factory=list)
    speed: list[dict[str, Any]] = field(default_factory=list)
    # Checks that passed in A and were not run in B: (key, B's outcome, or "absent").
    coverage_lost: list[tuple[Key, str]] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        """Checks that got worse: a pass that no longer passes, or a divergence that grew."""
        worse = [f for f in self.flipped if f[1] not in BAD and f[2] in BAD]
        return len(worse) + len(self.grown)


def _growth(a: float, b: float, dtype: str) -> float:
    floor = EPS.get(dtype, 0.0)
    low, high = max(a, floor), max(b, floor)
    if math.isinf(high) and math.isinf(low):
        return 1.0
    return high / low if low > 0 else (math.inf if high > 0 else 1.0)


def compare(
    a: dict[str, Any],
    b: dict[str, Any],
    factor: float = DEFAULT_FACTOR,
    speed_factor: float = DEFAULT_SPEED_FACTOR,
) -> Diff:
    diff = Diff(factor, speed_factor)
    records_a = {key(r): r for r in a["records"]}
    records_b = {key(r): r for r in b["records"]}
    diff.only_a = sorted(set(records_a) - set(records_b))
    diff.only_b = sorted(set(records_b) - set(records_a))
    diff.coverage_lost = [(k, "absent") for k in diff.only_a if outcome(records_a[k]) == "passed"]
    for k in sorted(set(records_a) & set(records_b)):
        ra, rb = records_a[k], records_b[k]
        if outcome(ra) != outcome(rb):
            diff.flipped.append((k, outcome(ra), outcome(rb)))
            if outcome(ra) == "passed" and outcome(rb) in NOT_LOOKED:
                diff.coverage_lost.append((k, outcome(rb)))
        ea, eb = max_rel(ra), max_rel(rb)
        if ea is None or eb is None:
            continue
        growth = _growth(ea, eb, k[2])
        if growth > factor:
            diff.grown.append((k, ea, eb, growth))
        elif growth < 1 / factor:
            diff.shrunk.append((k, ea, eb, growth))
    rows_a = {_bench_key(r): r for r in (a.get("bench") or {}).get("rows", [])}
    for r in (b.get("bench") or {}).get("rows", []):
        ra = rows_a.get(_bench_key(r))
        if ra and ra["median"] > 0:
            ratio = r["median"] / ra["median"]
            verdict = "slower" if ratio > speed_factor else "faster" if ratio < 1 / speed_factor else ""
            diff.speed.append({"a": ra, "b": r, "ratio": ratio, "verdict": verdict})
    return diff


def _bench_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row.get("role"), row.get("optimizer"), row.get("variant"), row.get("size"), row.get("tensors"))


def _who(data: dict[str, Any]) -> str:
    env = data["environment"]
    details = ", ".join(str(env.get(k, "?")) for k in ("candidate_version", "device", "date"))
    return f"{env.get('candidate', '?')} ({details})"


def render(diff: Diff, a: dict[str, Any], b: dict[str, Any]) -> str:
    """The comparison as markdown."""
    lines = ["# What changed", "", f"- A: {_who(a)}", f"- B: {_who(b)}", ""]
    lines.append(
        f"{diff.regressions} regression(s): checks that passed in A and do not in B, and divergences "
        f"that grew by more than x{diff.factor:g} (errors under one machine epsilon count as one epsilon)."
    )
    lines.append("")
    lines.append(
        f"{len(diff.coverage_lost)} check(s) lost coverage: passed in A, not looked at in B (not supported, "
        "skipped or absent)."
    )
    for title, status in (("A", a.get("status")), ("B", b.get("status"))):
        if isinstance(status, dict) and status.get("complete") is False:
            lines.append(f"Run {title} is incomplete: {status.get('message', 'interrupted')}.")
    if diff.coverage_lost:
        lines += ["", f"## Coverage lost ({len(diff.coverage_lost)})", ""]
        lines.append(
            tabulate(
                [[_name(k), LABELS.get(b_outcome, b_outcome)] for k, b_outcome in diff.coverage_lost],
                headers=["check (passed in A)", "B"],
                tablefmt="github",
            )
        )
    lines += ["", f"## Outcomes that flipped ({len(diff.flipped)})", ""]
    if diff.flipped:
        lines.append(
            tabulate(
                [[_name(k), LABELS[x], LABELS[y]] for k, x, y in diff.flipped],
                headers=["check", "A", "B"],
                tablefmt="github",
            )
        )
    for title, rows in (
        (f"Divergences that grew by more than x{diff.factor:g}", diff.grown),
        (f"Divergences that shrank by more than x{diff.factor:g}", diff.shrunk),
    ):
        lines += ["", f"## {title} ({len(rows)})", ""]
        if rows:
            table = [[_name(k), f"{x:.3g}", f"{y:.3g}", f"x{g:.3g}"] for k, x, y, g in rows]
            lines.append(
                tabulate(table, headers=["check", "max rel A", "max rel B", "B / A"], tablefmt="github")
            )
    if diff.only_a or diff.only_b:
        lines += [
            "",
            f"## Checks in one run only ({len(diff.only_a)} only in A, {len(diff.only_b)} only in B)",
            "",
        ]
        lines += [f"- only in A: {_name(k)}" for k in diff.only_a[:50]]
        lines += [f"- only in B: {_name(k)}" for k in diff.only_b[:50]]
    lines += ["", f"## Speed ({len(diff.speed)} configurations in both runs)", ""]
    if diff.speed:
        lines.append(
            f"Time in B / time in A; flagged beyond x{diff.speed_factor:g} either way (timings are noisy)."
        )
        lines.append("")
        rows = [
            [
                s["b"]["optimizer"],
                s["b"]["variant"] + ("" if s["b"].get("role") == "candidate" else " (baseline)"),
                s["b"]["label"],
                f"{s['a']['median'] * 1e3:.3g}",
                f"{s['b']['median'] * 1e3:.3g}",
                f"{s['ratio']:.2f}",
                s["verdict"],
            ]
            for s in diff.speed
        ]
        headers = ["optimizer", "variant", "size", "A ms", "B ms", "B / A", ""]
        lines.append(tabulate(rows, headers=headers, tablefmt="github"))
    else:
        lines.append("No benchmark present in both runs (run each with --bench).")
    return "\n".join(lines) + "\n"

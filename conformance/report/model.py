"""What every rendering of a run shows, computed once from ``results.json``: the header, the matrix of
algorithms x variant x dtype with totals, and the failing cases. The markdown and HTML renderers only lay
these out, so the two can never disagree.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# results.json versions this code reads; a newer harness that changes the format bumps the number.
SUPPORTED_FORMATS = (1,)
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "unsupported", "skipped")
LABELS = {
    "passed": "pass",
    "failed": "FAIL",
    "xfailed": "known dev.",
    "xpassed": "XPASS",
    "unsupported": "n/s",
    "skipped": "skipped",
}
# The cell's colour: the worst outcome in it, in this order of severity.
SEVERITY = ("failed", "xpassed", "xfailed", "skipped", "passed", "unsupported")
# Outcomes that get a section of their own: failures, known deviations that now pass, known deviations.
DETAILED = ("failed", "xpassed", "xfailed")
HEADER_KEYS = (
    ("candidate", "candidate"),
    ("candidate_version", "candidate version"),
    ("torch", "torch"),
    ("numpy", "numpy"),
    ("python", "python"),
    ("device", "device"),
    ("device_name", "device name"),
    ("platform", "platform"),
    ("dtypes", "dtypes"),
    ("variants", "variants"),
    ("vectors_torch_version", "vectors made with torch"),
    ("known_deviations_file", "known deviations file"),
    ("date", "date"),
    ("command", "command line"),
)


class ResultsError(Exception):
    """A results file that cannot be rendered; the message is one line naming the file and the problem."""


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check ``results.json``: valid JSON, a format this code knows, records that carry outcomes."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: not valid JSON ({e})") from None
    return check_results(data, str(path))


def check_results(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or "format_version" not in data:
        raise ResultsError(f"{where}: not a results.json of optim-conformance (no format_version)")
    version = data["format_version"]
    if version not in SUPPORTED_FORMATS:
        raise ResultsError(
            f"{where}: results format {version!r} is unknown to this optconf (it reads "
            f"{', '.join(map(str, SUPPORTED_FORMATS))}); use the optim-conformance that wrote it"
        )
    for key, kind in (("environment", dict), ("records", list)):
        if not isinstance(data.get(key), kind):
            raise ResultsError(f"{where}: '{key}' is missing or not a {kind.__name__}")
    for i, record in enumerate(data["records"]):
        if not isinstance(record, dict) or record.get("outcome") not in OUTCOMES:
            raise ResultsError(f"{where}: record {i} has no known outcome (one of {', '.join(OUTCOMES)})")
    return data


def outcome(record: dict[str, Any]) -> str:
    """The record's outcome, with a "not supported" found only at run time counted as such."""
    if record["outcome"] == "skipped" and record.get("unsupported"):
        return "unsupported"
    return record["outcome"]


def algorithm(record: dict[str, Any]) -> tuple[str, str]:
    """(section, row): optimizers and schedulers get separate matrices."""
    if record.get("scheduler"):
        return "Schedulers", str(record["scheduler"])
    # A record without its optimizer (a check skipped before it ran) is filed under its case id's first
    # word: "adam/lr0.1" and "Adam-fused" both name the class.
    name = record.get("optimizer") or re.split(r"[/-]", str(record.get("case") or "?"))[0]
    return "Optimizers", str(name)


def column(record: dict[str, Any]) -> tuple[str, str]:
    """(variant, dtype); "-" for what a check does not have (scheduler checks have neither)."""
    return str(record.get("variant") or "-"), str(record.get("dtype") or "-")


def max_rel(record: dict[str, Any]) -> float | None:
    value = (record.get("metrics") or {}).get("max_rel")
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class Cell:
    """Outcome counts of some records, their total (the denominator) and their worst divergence."""

    counts: Counter[str] = field(default_factory=Counter)
    worst: float | None = None

    def add(self, record: dict[str, Any]) -> None:
        self.counts[outcome(record)] += 1
        rel = max_rel(record)
        if rel is not None and outcome(record) != "unsupported":
            self.worst = rel if self.worst is None else max(self.worst, rel)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        return next((o for o in SEVERITY if self.counts[o]), "empty")

    @property
    def text(self) -> str:
        """ "3 pass, 1 FAIL / 4": each outcome's count, then the number of checks in the cell."""
        if not self.total:
            return ""
        parts = [f"{self.counts[o]} {LABELS[o]}" for o in OUTCOMES if self.counts[o]]
        return ", ".join(parts) + f" / {self.total}"

    @property
    def worst_text(self) -> str:
        return "" if self.worst is None else f"worst {self.worst:.1e}"


@dataclass
class Matrix:
    """One table: rows are algorithms, columns (variant, dtype); every row and column has a total."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[tuple[str, list[Cell], Cell]]
    column_totals: list[Cell]
    total: Cell


def matrices(records: list[dict[str, Any]]) -> list[Matrix]:
    """The optimizer matrix, then the scheduler matrix (each only if the run has such records)."""
    by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_section[algorithm(r)[0]].append(r)
    out = []
    for title in ("Optimizers", "Schedulers"):
        section = by_section.get(title)
        if not section:
            continue
        columns = sorted({column(r) for r in section})
        cells: dict[str, dict[tuple[str, str], Cell]] = defaultdict(lambda: defaultdict(Cell))
        column_totals = {c: Cell() for c in columns}
        row_totals: dict[str, Cell] = defaultdict(Cell)
        total = Cell()
        for r in section:
            name, where = algorithm(r)[1], column(r)
            for cell in (cells[name][where], column_totals[where], row_totals[name], total):
                cell.add(r)
        rows = [(n, [cells[n].get(c, Cell()) for c in columns], row_totals[n]) for n in sorted(cells)]
        out.append(Matrix(title, columns, rows, [column_totals[c] for c in columns], total))
    return out


def totals(records: list[dict[str, Any]]) -> Cell:
    cell = Cell()
    for r in records:
        cell.add(r)
    return cell


def upstream_url(upstream: str) -> str | None:
    """A link for a deviation's upstream reference: an http(s) URL as is, ``owner/repo#N`` as the GitHub
    issue; anything else (a ``javascript:`` URL included) gets no link."""
    upstream = upstream.strip()
    if re.fullmatch(r"https?://[^\s\"'<>]+", upstream):
        return upstream
    match = re.fullmatch(r"([\w.-]+/[\w.-]+)#(\d+)", upstream)
    return f"https://github.com/{match[1]}/issues/{match[2]}" if match else None


REPRODUCE_MARK = "\n  reproduce:\n"


def split_message(record: dict[str, Any], candidate: str) -> tuple[str, str]:
    """(what went wrong, how to reproduce it): the harness's message ends with a reproduction; a record
    without one gets the generic ``replay`` call built from its own fields."""
    message = str(record.get("message", "")).strip("\n")
    head, mark, tail = message.partition(REPRODUCE_MARK)
    if mark:
        return head, textwrap.dedent(tail)
    args = ", ".join(
        f"{k}={record[k]!r}" for k in ("dtype", "device", "variant") if isinstance(record.get(k), str)
    )
    check = str(record.get("check", "test_trajectory")).removeprefix("test_")
    replay = (
        "from conformance.repro import replay\n"
        f"replay({candidate!r}, {record.get('case', '?')!r}, {args}, check={check!r})"
    )
    return message, replay


@dataclass
class Detail:
    """One failing case (or known deviation) with everything its section shows."""

    anchor: str
    record: dict[str, Any]
    title: str
    outcome: str
    first_step: str
    worst: str
    message: str
    reproduction: str
    metrics: list[tuple[str, str]]
    deviation: dict[str, Any] | None
    link: str | None


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def details(data: dict[str, Any]) -> list[Detail]:
    """Failures first, then known deviations that now pass, then known deviations, each in run order."""
    candidate = str(data["environment"].get("candidate", "?"))
    chosen = [r for o in DETAILED for r in data["records"] if outcome(r) == o]
    out = []
    for i, r in enumerate(chosen):
        message, reproduction = split_message(r, candidate)
        metrics = dict(r.get("metrics") or {})
        shown = [
            ("first step beyond tolerance", metrics.get("first_bad_step")),
            ("max rel error", metrics.get("max_rel")),
            ("at step", metrics.get("worst_step")),
            ("max abs error", metrics.get("max_abs")),
            ("max ULPs", metrics.get("max_ulp")),
            ("non-finite values", metrics.get("non_finite")),
            ("tolerance at the last step", r.get("rtol_final")),
            ("steps run", r.get("steps")),
        ]
        deviation = None
        if isinstance(r.get("deviation"), dict):
            deviation = {k: str(r["deviation"].get(k, "")) for k in ("reason", "upstream")}
        out.append(
            Detail(
                anchor=f"case-{i}",
                record=r,
                title=str(r.get("test") or r.get("case") or "?"),
                outcome=outcome(r),
                first_step=_format(metrics.get("first_bad_step")),
                worst=_format(metrics.get("max_rel")),
                message=message,
                reproduction=reproduction,
                metrics=[(k, _format(v)) for k, v in shown if v is not None] if metrics else [],
                deviation=deviation,
                link=upstream_url(deviation["upstream"]) if deviation else None,
            )
        )
    return out


def header(env: dict[str, Any]) -> list[tuple[str, str]]:
    """The environment as (label, value) rows: known keys in a fixed order, then any others."""
    known = {k for k, _ in HEADER_KEYS}
    rows = [(label, env[k]) for k, label in HEADER_KEYS if k in env]
    # (a distributed candidate's set-up has a section of its own: conformance/report/distributed.py)
    rows += [(k, v) for k, v in env.items() if k not in known and k != "distributed"]
    return [(label, ", ".join(map(str, v)) if isinstance(v, list) else _format(v)) for label, v in rows]

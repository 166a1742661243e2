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
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "unsupported", "skipped", "error")
LABELS = {
    "passed": "pass",
    "failed": "FAIL",
    "xfailed": "known dev.",
    "xpassed": "XPASS",
    "unsupported": "n/s",
    "skipped": "skipped",
    "error": "suite error",
}
# The totals' words: those of pytest's own summary line (``conformance.plugin.PYTEST_WORDS``), so the
# terminal, summary.md and index.html give one set of totals.
TOTAL_LABELS = {
    "passed": "passed",
    "failed": "failed",
    "xfailed": "xfailed (known deviation)",
    "xpassed": "xpassed",
    "unsupported": "not supported",
    "skipped": "skipped",
    "error": "error (of the suite, not the candidate)",
}
# The cell's colour: the worst outcome in it, in this order of severity.
SEVERITY = ("failed", "error", "xpassed", "xfailed", "skipped", "passed", "unsupported")
# Outcomes that get a section of their own: failures, suite errors, known deviations that now pass, known
# deviations.
DETAILED = ("failed", "error", "xpassed", "xfailed")
HEADER_KEYS = (
    ("candidate", "candidate"),
    ("candidate_version", "candidate version"),
    ("package_version", "optim-conformance"),
    ("torch", "torch"),
    ("numpy", "numpy"),
    ("python", "python"),
    ("device", "device"),
    ("device_name", "device name"),
    ("platform", "platform"),
    ("dtypes", "dtypes"),
    ("variants", "variants"),
    ("vectors", "vectors"),
    ("vectors_option", "--vectors"),
    ("vectors_format_version", "vectors format"),
    ("vectors_manifest_sha256", "vectors manifest sha256"),
    ("vectors_torch_version", "vectors made with torch"),
    ("known_deviations_file", "known deviations file"),
    ("torch_own", "torch's own classes (re-exported)"),
    ("date", "date"),
    ("command", "command line"),
)


SPEC_NOTES_TEXT = (
    "The spec is torch's behaviour: where its code and its documentation disagree, the reference follows the "
    "code. A candidate that follows the documentation instead fails those cases, with a message naming the "
    "note; the last column counts such failures in this run."
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


def banner(data: dict[str, Any]) -> str | None:
    """The warning every rendering puts first when the run did not go through every check it selected
    (``status`` in results.json; results files of older harnesses have none and were complete)."""
    status = data.get("status")
    if isinstance(status, dict) and status.get("complete") is False:
        message = status.get("message") or "interrupted"
        return f"INCOMPLETE RUN: {message}. The counts cover only the checks that ran."
    return None


def outcome(record: dict[str, Any]) -> str:
    """The record's outcome, with a "not supported" found only at run time counted as such."""
    if record["outcome"] == "skipped" and str(record.get("unsupported", "")).startswith("not supported"):
        return "unsupported"  # results.json of an older harness
    return record["outcome"]


def algorithm(record: dict[str, Any]) -> tuple[str, str]:
    """(section, row): optimizers, schedulers and the swa_utils (AveragedModel, update_bn) get separate
    matrices."""
    if record.get("scheduler"):
        return "Schedulers", str(record["scheduler"])
    if record.get("swa"):
        return "SWA utilities", str(record["swa"])
    # A record without its optimizer (a check skipped before it ran) is filed under its case id's first
    # word: "adam/lr0.1", "Adam-fused" and "Adam:lr=-1.0" all name the class.
    name = record.get("optimizer") or re.split(r"[/:\[-]", str(record.get("case") or "?"))[0]
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
    """The optimizer matrix, the scheduler matrix, then the swa_utils matrix (each only if the run has such
    records)."""
    by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_section[algorithm(r)[0]].append(r)
    out = []
    for title in ("Optimizers", "Schedulers", "SWA utilities"):
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


NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?(?!\w)")
BEYOND = re.compile(r"beyond tolerance after step \d+: (.*)")
VECTOR_CHECKS = ("test_trajectory", "test_single_step", "test_schedule")
REPRODUCE_MARK = "\n  reproduce:\n"


def split_message(record: dict[str, Any], candidate: str, vectors: str | None = None) -> tuple[str, str]:
    """(what went wrong, how to reproduce it): the harness's message ends with a reproduction; a record
    without one gets the generic ``replay`` call built from its own fields, reading the vectors the run
    read (``vectors``: the run's ``--vectors``, None for the packaged ones)."""
    message = str(record.get("message", "")).strip("\n")
    head, mark, tail = message.partition(REPRODUCE_MARK)
    if mark:
        return head, textwrap.dedent(tail)
    check = str(record.get("check", "test_trajectory"))
    keys = ("dtype", "device", "variant") if check in VECTOR_CHECKS else ("device",)
    args = ", ".join(f"{k}={record[k]!r}" for k in keys if isinstance(record.get(k), str) and record[k])
    if vectors:
        args += f"{', ' if args else ''}vectors={vectors!r}"
    # A vector case reruns by its case id; an API check by its case and the check's name.
    check = check.removeprefix("test_") if check in VECTOR_CHECKS else f"api:{check}"
    replay = (
        "from conformance.repro import replay\n"
        f"replay({candidate!r}, {record.get('case', '?')!r}, {args + ', ' if args else ''}check={check!r})"
    )
    return message, replay


def cause(record: dict[str, Any]) -> str:
    """What went wrong, with what differs between checks of one cause left out (case ids, steps, numbers,
    variants): failures of one root cause across checks share it. The class, then the candidate's error if
    it raised, else what the message says is wrong (the arrays beyond tolerance of a vector case, the
    headline of an API check)."""
    message = str(record.get("message") or "")
    head = message.splitlines()[0] if message else ""
    subject, _, rest = head.partition(" does not conform")
    subject = subject or str(record.get("optimizer") or record.get("scheduler") or "?")
    if record.get("check") in VECTOR_CHECKS or record.get("layer") == "property":
        found = BEYOND.search(message)
        names = re.sub(r" \([^)]*\)", "", found[1]).split(", ") if found else []
        arrays = ", ".join(dict.fromkeys(NUMBER.sub("N", n) for n in names))
        what = f"diverges from the reference ({arrays})" if arrays else "diverges from the reference"
    else:
        what = rest.removeprefix(":").strip() or head or "failed"
    if record.get("error"):
        what = str(record["error"])
    if not what.startswith("diverges"):
        for _ in range(3):  # the arguments of a call, innermost first: one cause whatever the values
            what = re.sub(r"\{[^{}]*\}", "{...}", re.sub(r"\([^()]*\)", "(...)", what))
    return f"{subject}: {NUMBER.sub('N', what)}"


@dataclass
class Cause:
    """Failures of one root cause: the cause, and every check that shows it."""

    text: str
    outcome: str
    tests: list[str]
    anchor: str


def causes(data: dict[str, Any]) -> list[Cause]:
    """Failures and suite errors grouped by ``cause``, the most frequent first."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in data["records"]:
        if outcome(r) in ("failed", "error", "xpassed"):
            groups[(outcome(r), cause(r))].append(str(r.get("test") or r.get("case") or "?"))
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [Cause(text, kind, tests, f"cause-{i}") for i, ((kind, text), tests) in enumerate(ordered)]


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
    """Failures first, then suite errors, known deviations that now pass and known deviations; within each,
    the first check of every root cause (``causes``) before the rest, so a capped list still shows every
    cause, then run order."""
    candidate = str(data["environment"].get("candidate", "?"))
    vectors = data["environment"].get("vectors_option")
    seen: set[str] = set()
    first_of_cause = set()
    for i, r in enumerate(data["records"]):
        if cause(r) not in seen:
            seen.add(cause(r))
            first_of_cause.add(i)
    chosen = [
        r
        for o in DETAILED
        for _, i, r in sorted(
            (i not in first_of_cause, i, r) for i, r in enumerate(data["records"]) if outcome(r) == o
        )
    ]
    out = []
    for i, r in enumerate(chosen):
        message, reproduction = split_message(r, candidate, vectors if isinstance(vectors, str) else None)
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


@dataclass
class SpecNoteRow:
    """A spec note as the report lists it, with the failing checks whose candidate followed its
    documentation (records carrying its id)."""

    note: dict[str, Any]
    tests: list[str]
    source_link: str | None
    docs_link: str | None


def spec_note_rows(data: dict[str, Any]) -> list[SpecNoteRow]:
    """Every spec note of the run (``results.json``'s ``spec_notes``), in file order."""
    rows = []
    for note in data.get("spec_notes") or []:
        if not isinstance(note, dict):
            continue
        tests = [str(r.get("test")) for r in data["records"] if r.get("spec_note") == note.get("id")]
        links = [upstream_url(str(note.get(k, ""))) for k in ("source", "docs")]
        rows.append(SpecNoteRow(note, tests, *links))
    return rows

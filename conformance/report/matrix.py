"""The cross-library conformance matrix: ``optconf report --matrix reports/*/results.json``.

Rows are torch's optimizers, its LR schedulers and the ``swa_utils`` pieces (the reference's lists, so a
row never goes missing because no library had it); columns are the runs given, one per library (and
version); each cell is computed from that run's records of that algorithm (a scheduler's API checks, run
through an optimizer, count for the scheduler they name):

- **conforms**: the candidate's values were compared with the reference's (vector cases: trajectories,
  single steps, schedules, averaged models) and every check that ran passed; the worst relative error
  seen in float64 and in float32. Checks that did not run (not supported, skipped) never make a cell
  conform: a class whose value checks all were "not supported" is **not supported** even if some API check
  passed;
- **differs**: a known deviation matched (an xfail): its reason's first sentence, and a link to the entry
  (its line in the known-deviations file where that file is found, else its section in the library's own
  report) and to the upstream source the entry cites;
- **FAILS**: a failure no deviation explains (a committed report has none; a user's own run may);
- **suite error**: a check broke on the suite's side (not the candidate's failure, but not a pass either);
- **not available**: the library has no counterpart (every check "not supported" because the class is
  missing); **not supported** when it has the class but none of its values could be checked;
- **not run**: nothing in the run is about this row (a run may have been restricted with ``-k``).

A class a ``torch:MODULE`` candidate re-exports from torch (``torch_own`` in the run's environment) is
marked "torch's own class": its verdict is torch's, not the library's.

Written as ``README.md`` (markdown) and ``index.html`` (self-contained, every string escaped) into the
output folder (default: the folder holding the runs' folders), links relative to it.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from conformance.report.html import MAX_DETAILED
from conformance.report.model import details, load_results, max_rel, outcome, upstream_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

# torch.optim.swa_utils: the averaged model (SWA and EMA averaging), the BatchNorm refresh and the SWA lr.
SWA_PIECES = ("AveragedModel", "update_bn", "SWALR")
DEVIATIONS_DIR = Path(__file__).resolve().parent.parent / "known_deviations"
# The checks that compare the candidate's values with the reference's (golden vectors): only a pass of one of
# these makes a cell "conforms"; API and property checks alone say the class behaves, not that it computes
# what torch computes.
VALUE_CHECKS = frozenset(
    {"test_trajectory", "test_single_step", "test_schedule", "test_averaged_model", "test_update_bn"}
)


def rows() -> list[tuple[str, list[str]]]:
    """(section, names): torch's 15 optimizers and 15 schedulers, in the reference's order, and swa_utils."""
    import refimpl.lr_scheduler
    import refimpl.optim

    schedulers = [n for n in refimpl.lr_scheduler.MODULES if n not in ("LRScheduler", *SWA_PIECES)]
    return [
        ("Optimizers", list(refimpl.optim.MODULES)),
        ("LR schedulers", schedulers),
        ("swa_utils", list(SWA_PIECES)),
    ]


@dataclass
class Column:
    """One run: the library it ran, the version, where its report lives and the deviation files its
    entries may come from."""

    title: str
    version: str
    report: Path
    deviations_file: Path | None
    records: list[dict[str, Any]] = field(default_factory=list)
    torch_own: frozenset[str] = frozenset()
    incomplete: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def by_row(self) -> dict[str, list[dict[str, Any]]]:
        """The run's records per matrix row. A scheduler API check (``test_scheduler_recipe[SGD:
        ExponentialLR+MultiStepLR]``) is about the schedulers its case names that the library has; where it
        has none of them the suite drove torch's with the library's optimizer, and the check is that
        optimizer's."""
        schedulers = (*rows()[1][1], "SWALR")
        out: dict[str, list[dict[str, Any]]] = {}
        driven = []
        for r in self.records:
            if named := _named_schedulers(r, schedulers):
                driven.append((r, named))
            elif subject := r.get("scheduler") or r.get("swa") or r.get("optimizer"):
                out.setdefault(str(subject), []).append(r)
        for r, named in driven:
            own = [n for n in named if not _absent(out.get(n, []), n)]
            for name in own or ([str(r["optimizer"])] if r.get("optimizer") else []):
                out.setdefault(name, []).append(r)
        return out

    @cached_property
    def anchors(self) -> dict[str, str]:
        """Each known deviation's first section in the library report (``index.html#case-N``)."""
        out: dict[str, str] = {}
        for d in details(self.data)[:MAX_DETAILED] if self.data else []:
            if d.outcome == "xfailed" and d.deviation:
                out.setdefault(d.deviation["reason"], d.anchor)
        return out

    @cached_property
    def deviation_files(self) -> list[Path]:
        """Where a matched entry can be written: the run's file, the files it extends, then the project's
        files (a ``torch:MODULE`` candidate's re-exports of torch's classes carry ``torch.toml``'s)."""
        files: list[Path] = []
        file = self.deviations_file
        while file is not None and file.is_file() and file not in files:
            files.append(file)
            try:
                extends = tomllib.loads(file.read_text()).get("extends")
            except (OSError, tomllib.TOMLDecodeError):
                extends = None
            file = (file.parent / extends).resolve() if isinstance(extends, str) else None
        project = sorted(DEVIATIONS_DIR.glob("*.toml")) if DEVIATIONS_DIR.is_dir() else []
        return files + [f.resolve() for f in project if f.resolve() not in files]


@dataclass
class MatrixCell:
    status: str  # conforms | differs | fails | suite error | not available | not supported | not run
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, href)

    @property
    def detail(self) -> str:
        """The text after the status word ("(12 checks passed); worst error ..."), for renderings that show
        the status on its own."""
        if self.text.lower().startswith(self.status.lower()):
            return self.text[len(self.status) :].removeprefix(":").strip()
        return self.text


def _deviations_file(environment: dict[str, Any], results: Path) -> Path | None:
    """The run's known-deviations file: relative to the run's folder, else the project's file of the same
    name (a committed report links into the same checkout), else the path as recorded."""
    recorded = environment.get("known_deviations_file")
    if not recorded:
        return None
    relative = [] if Path(recorded).is_absolute() else [results.parent / recorded]
    for candidate in (*relative, DEVIATIONS_DIR / Path(recorded).name, Path(recorded)):
        if candidate.is_file():
            return candidate.resolve()
    return None


def load_column(path: str | Path) -> Column:
    path = Path(path)
    data = load_results(path)
    env = data["environment"]
    status = data.get("status")
    return Column(
        title=str(env.get("candidate", "?")),
        version=str(env.get("candidate_version", "")),
        report=path.parent,
        deviations_file=_deviations_file(env, path),
        records=data["records"],
        torch_own=frozenset(map(str, env.get("torch_own") or ())),
        incomplete=isinstance(status, dict) and status.get("complete") is False,
        data=data,
    )


def _named_schedulers(record: dict[str, Any], schedulers: tuple[str, ...]) -> list[str]:
    """The schedulers a scheduler API check's case names (``SGD:ExponentialLR+MultiStepLR``), in the rows'
    order; none for any other record."""
    check, case = str(record.get("check", "")), str(record.get("case") or "")
    if record.get("scheduler") or not check.startswith("test_scheduler") or ":" not in case:
        return []
    return [n for n in schedulers if re.search(rf"\b{n}\b", case.partition(":")[2])]


def _absent(records: list[dict[str, Any]], name: str) -> bool:
    """Whether the run's own checks of ``name`` say the library has no such class."""
    return bool(records) and all(_lacks(reason, name) for reason in _unsupported_reasons(records))


# A first sentence this short is a label ("Design.", "Looks like a bug.", "Design (eps placement).", the
# known-deviations files' convention): the cell gives it with the sentence that says how the library differs.
LABEL_CHARS = 40


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    # a full stop followed by a space or the end, not that of "e.g." or "i.e."
    ends = [m.end() for m in re.finditer(r"(?<!e\.g)(?<!i\.e)\.(?=\s|$)", flat)]
    end = ends[0] if ends else len(flat)
    if end <= LABEL_CHARS and len(ends) > 1:
        end = ends[1]
    sentence = flat[:end]
    return sentence if len(sentence) <= 200 else sentence[:197] + "..."


def _entry_line(file: Path, reason: str) -> int | None:
    """The line of the ``[[deviation]]`` header of the entry whose reason starts with ``reason``'s first
    line, or None when the file has no such entry."""
    first = reason.strip().splitlines()[0].strip() if reason.strip() else ""
    if not first:
        return None
    try:
        lines = file.read_text().splitlines()
    except OSError:
        return None
    for n, line in enumerate(lines, 1):
        if first in line:
            return next((m for m in range(n, 0, -1) if lines[m - 1].strip() == "[[deviation]]"), n)
    return None


def _rel(target: Path, out: Path) -> str:
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


def _error(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _worst(records: list[dict[str, Any]]) -> str:
    """The worst relative error per dtype ("float64 1.2e-15, float32 6.1e-07"); one figure for checks
    without a dtype (schedules: lrs are Python floats)."""
    by_dtype: dict[str, float] = {}
    for r in records:
        if (e := max_rel(r)) is not None and outcome(r) == "passed":
            key = r.get("dtype") or ""
            by_dtype[key] = max(by_dtype.get(key, 0.0), e)
    if not by_dtype:
        return "-"
    return ", ".join(f"{k} {_error(v)}".strip() for k, v in sorted(by_dtype.items(), reverse=True))


def _deviation_link(column: Column, reason: str, out: Path) -> str | None:
    """Where the entry of ``reason`` is: its line in the first deviations file that has it, else the
    library report's section of a check it explains."""
    for file in column.deviation_files:
        if line := _entry_line(file, reason):
            return f"{_rel(file, out)}#L{line}"
    if reason in column.anchors:
        return f"{_rel(column.report / 'index.html', out)}#{column.anchors[reason]}"
    return None


def _unsupported_reasons(records: list[dict[str, Any]]) -> set[str]:
    return {str(r.get("unsupported") or r.get("skip_reason") or "") for r in records}


def _lacks(reason: str, name: str) -> bool:
    """Whether a "not supported" reason says the candidate has no ``name`` ("... has no ConstantLR,
    SequentialLR", an adapter's "optax has no counterpart of ChainedScheduler")."""
    found = re.search(r"\bhas no (?:counterpart of )?([\w, ]+)$", reason.strip())
    return bool(found) and name in [n.strip() for n in found[1].split(",")]


def _differs(
    column: Column, records: list[dict[str, Any]], values: list[dict[str, Any]], out: Path, own: str
) -> MatrixCell:
    """The "differs" cell: the deviations that explain its xfails, those of the value checks first (what
    the library computes instead), then the most frequent, each linked to its entry and its source. Where
    every value check that ran passed, the difference is in the API only, and the cell says so."""
    value_ids = {id(r) for r in values}
    reasons: Counter[tuple[str, str]] = Counter()
    in_values: set[tuple[str, str]] = set()
    for r in records:
        if outcome(r) == "xfailed" and isinstance(r.get("deviation"), dict):
            key = (str(r["deviation"].get("reason", "")), str(r["deviation"].get("upstream", "")))
            reasons[key] += 1
            if id(r) in value_ids:
                in_values.add(key)
    ordered = sorted(reasons, key=lambda k: (k not in in_values, -reasons[k]))
    links: list[tuple[str, str]] = []
    lines = []
    for reason, upstream in ordered:
        n = len(lines) + 1
        if href := _deviation_link(column, reason, out):
            links.append((f"deviation {n}", href))
        if url := upstream_url(upstream):
            links.append((f"source {n}" if len(ordered) > 1 else "source", url))
        lines.append(_first_sentence(reason))
    if not lines:  # an xfail without its entry (a hand-edited results file)
        lines, links = ["a known deviation"], [("report", _rel(column.report / "index.html", out))]
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    counts = Counter(outcome(r) for r in records)
    ran = counts["passed"] + counts["xfailed"]
    api_only = not in_values and any(outcome(r) == "passed" for r in values)
    where = f" (its values conform: worst error {_worst(values)})" if api_only else ""
    return MatrixCell(
        "differs", f"differs in {counts['xfailed']} of {ran} checks{where}: {lines[0]}{more}{own}", links
    )


def cell(column: Column, name: str, out: Path) -> MatrixCell:
    records = column.by_row.get(name, [])
    if not records:
        return MatrixCell("not run", "not run: the run has no check of it")
    own = "; torch's own class, re-exported" if name in column.torch_own else ""
    counts = Counter(outcome(r) for r in records)
    report = _rel(column.report / "index.html", out)
    if counts["failed"] or counts["xpassed"]:
        n = counts["failed"] + counts["xpassed"]
        return MatrixCell(
            "fails", f"FAILS: {n} unexplained failure(s) of {len(records)} checks{own}", [("report", report)]
        )
    values = [r for r in records if r.get("check") in VALUE_CHECKS]
    if counts["xfailed"]:
        return _differs(column, records, values, out, own)
    if counts["error"]:
        return MatrixCell(
            "suite error",
            f"suite error in {counts['error']} of {len(records)} checks (the suite's, not the candidate's; "
            f"{counts['passed']} passed)",
            [("report", report)],
        )
    not_run = counts["unsupported"] + counts["skipped"]
    if any(outcome(r) == "passed" for r in values):
        extra = f"; {not_run} not supported or skipped" if not_run else ""
        return MatrixCell(
            "conforms",
            f"conforms ({counts['passed']} checks passed{extra}); worst error {_worst(records)}{own}",
        )
    if _absent(records, name):
        return MatrixCell("not available", "not available")
    other = f"; {counts['passed']} API/property check(s) passed" if counts["passed"] else ""
    if not values:  # a run restricted with -k to some API checks of it: its values were never looked at
        return MatrixCell("not run", f"not run: no value check of it in this run{other}")
    why = sorted(_unsupported_reasons(values))[0].removeprefix("not supported: ") or "skipped"
    return MatrixCell(
        "not supported", f"not supported: no value was compared ({_first_sentence(why)}){other}"
    )


def build(
    paths: list[str | Path], out: Path
) -> tuple[list[Column], list[tuple[str, list[tuple[str, list[MatrixCell]]]]]]:
    # torch, the standard, first; the others in the order given (``reports/*/results.json``: by folder name)
    columns = sorted((load_column(p) for p in paths), key=lambda c: c.title != "torch")
    table = [
        (section, [(name, [cell(c, name, out) for c in columns]) for name in names])
        for section, names in rows()
    ]
    return columns, table


LEGEND = (
    "**conforms**: its values were compared with the reference's and every check that ran passed (worst "
    "relative error in float64 and float32; checks not run are counted, never passed); **differs**: a "
    "documented difference (linked: the known-deviations entry with the formula the library computes, and "
    "the library's source); **FAILS**: a failure no known deviation explains; **suite error**: a check broke "
    "on the suite's side; **not available**: the library has no counterpart; **not supported**: it has one, "
    "but none of its values could be compared; **not run**: the run has no check of this row."
)


def _heading(column: Column) -> str:
    """A column's version line: the run's version, and a warning when the run did not complete."""
    return column.version + (" (INCOMPLETE RUN: rows may be missing)" if column.incomplete else "")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(columns: list[Column], table: list[Any], out: Path) -> str:
    head = [
        "| | " + " | ".join(f"[{_md(c.title)}]({_rel(c.report / 'index.html', out)})" for c in columns) + " |"
    ]
    head.append("| --- |" + " --- |" * len(columns))
    lines = [
        "# Cross-library conformance matrix",
        "",
        "Does each library compute what `torch.optim` computes? One column per run of "
        "`pytest conformance --impl=...`, rebuilt with `optconf report --matrix reports/*/results.json`.",
        "",
        "Versions: " + "; ".join(f"{_md(c.title)}: {_md(_heading(c))}" for c in columns) + ".",
        "",
        LEGEND,
    ]
    for section, body in table:
        lines += ["", f"## {section}", "", *head]
        for name, cells in body:
            rendered = []
            for c in cells:
                links = " ".join(f"[{label}]({href})" for label, href in c.links)
                text = f"**{c.status}**" + (
                    c.text[len(c.status) :] if c.text.lower().startswith(c.status.lower()) else f": {c.text}"
                )
                rendered.append(_md(text + (f" {links}" if links else "")))
            lines.append(f"| {name} | " + " | ".join(rendered) + " |")
    return "\n".join(lines) + "\n"


def render_html(columns: list[Column], table: list[Any], out: Path) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.report", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    return env.get_template("matrix.html.j2").render(
        columns=[(c.title, _heading(c), _rel(c.report / "index.html", out)) for c in columns],
        table=table,
        legend=LEGEND.replace("**", ""),
    )


def write_matrix(paths: list[str | Path], out: Path | None = None) -> list[Path]:
    """Build the matrix of the runs ``paths`` and write ``README.md`` and ``index.html`` into ``out``
    (default: the folder above the first run's folder). Returns the paths written."""
    from conformance.results import write_atomic

    if not paths:
        raise ValueError("--matrix needs at least one results.json")
    out = Path(out) if out else Path(paths[0]).resolve().parent.parent
    columns, table = build(paths, out)
    written = [out / "README.md", out / "index.html"]
    write_atomic(written[0], render_markdown(columns, table, out))
    write_atomic(written[1], render_html(columns, table, out))
    return written

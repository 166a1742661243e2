"""The cross-library conformance matrix: ``optconf report --matrix reports/*/results.json``.

Rows are torch's optimizers, its LR schedulers and the ``swa_utils`` pieces (the reference's lists, so a
row never goes missing because no library had it); columns are the runs given, one per library (and
version); each cell is computed from that run's records of that algorithm:

- **conforms**: checks ran and every one passed; the worst relative error seen in float64 and in float32;
- **differs**: a known deviation matched (an xfail): its reason's first sentence, and a link to the entry
  in the known-deviations file (and the upstream link it carries);
- **FAILS**: a failure no deviation explains (a committed report has none; a user's own run may);
- **not available**: the library has no counterpart (every check "not supported" because the class is
  missing); **not supported** when it has the class but none of the checks could run;
- **no checks**: nothing in the run is about this row (a run may have been restricted with ``-k``).

Written as ``README.md`` (markdown) and ``index.html`` (self-contained, every string escaped) into the
output folder (default: the folder holding the runs' folders), links relative to it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.report.model import load_results, max_rel, outcome

# torch.optim.swa_utils: the averaged model (SWA and EMA averaging), the BatchNorm refresh and the SWA lr.
SWA_PIECES = ("AveragedModel", "update_bn", "SWALR")
DEVIATIONS_DIR = Path(__file__).resolve().parent.parent / "known_deviations"


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
    """One run: the library it ran, the version, and where its report lives."""

    title: str
    version: str
    report: Path
    deviations_file: Path | None
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MatrixCell:
    status: str  # conforms | differs | fails | not available | not supported | no checks
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, href)


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
    return Column(
        title=str(env.get("candidate", "?")),
        version=str(env.get("candidate_version", "")),
        report=path.parent,
        deviations_file=_deviations_file(env, path),
        records=data["records"],
    )


def _subject(record: dict[str, Any]) -> str | None:
    return record.get("scheduler") or record.get("swa") or record.get("optimizer")


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    # a full stop followed by a space or the end, not that of "e.g." or "i.e."
    ends = [m.end() for m in re.finditer(r"(?<!e\.g)(?<!i\.e)\.(?=\s|$)", flat)]
    sentence = flat[: ends[0]] if ends else flat
    return sentence if len(sentence) <= 200 else sentence[:197] + "..."


def _entry_line(file: Path | None, reason: str) -> int | None:
    """The line of the deviation entry whose reason starts with ``reason``'s first line (for a link)."""
    if file is None:
        return None
    first = reason.strip().splitlines()[0].strip()
    lines = file.read_text().splitlines()
    for n, line in enumerate(lines, 1):
        if first and first in line:
            # the entry starts at its [[deviation]] header above the reason
            header = next((m for m in range(n, 0, -1) if lines[m - 1].strip() == "[[deviation]]"), n)
            return header
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


def cell(column: Column, name: str, out: Path) -> MatrixCell:
    records = [r for r in column.records if _subject(r) == name]
    if not records:
        return MatrixCell("no checks", "no checks")
    counts = Counter(outcome(r) for r in records)
    if counts["failed"] or counts["xpassed"]:
        n = counts["failed"] + counts["xpassed"]
        return MatrixCell(
            "fails",
            f"FAILS: {n} unexplained failure(s) of {len(records)} checks",
            [("report", _rel(column.report / "index.html", out))],
        )
    if counts["xfailed"]:
        reasons = Counter(
            (r["deviation"]["reason"], r["deviation"].get("upstream", ""))
            for r in records
            if outcome(r) == "xfailed" and r.get("deviation")
        )
        links: list[tuple[str, str]] = []
        lines = []
        for (reason, upstream), _ in reasons.most_common():
            line = _entry_line(column.deviations_file, reason)
            if column.deviations_file is not None:
                anchor = f"#L{line}" if line else ""
                links.append((f"deviation {len(lines) + 1}", _rel(column.deviations_file, out) + anchor))
            if upstream:
                links.append(("source", upstream))
            lines.append(_first_sentence(reason))
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        ran = counts["passed"] + counts["xfailed"]
        return MatrixCell(
            "differs", f"differs in {counts['xfailed']} of {ran} checks: {lines[0]}{more}", links
        )
    if counts["passed"]:
        unsupported = counts["unsupported"] + counts["skipped"]
        extra = f"; {unsupported} not supported" if unsupported else ""
        return MatrixCell(
            "conforms", f"conforms ({counts['passed']} checks{extra}); worst error {_worst(records)}"
        )
    reasons = {str(r.get("unsupported") or "") for r in records}
    if all(re.search(rf"has no {re.escape(name)}\b", reason) for reason in reasons):
        return MatrixCell("not available", "not available")
    return MatrixCell("not supported", "not supported: " + _first_sentence(sorted(reasons)[0]))


def build(
    paths: list[str | Path], out: Path
) -> tuple[list[Column], list[tuple[str, list[tuple[str, list[MatrixCell]]]]]]:
    columns = [load_column(p) for p in paths]
    table = [
        (section, [(name, [cell(c, name, out) for c in columns]) for name in names])
        for section, names in rows()
    ]
    return columns, table


LEGEND = (
    "**conforms**: every check that ran passed (worst relative error in float64 and float32); **differs**: "
    "a documented difference (linked: the known-deviations entry with the formula the library computes, and "
    "the library's source); **not available**: the library has no counterpart; **not supported**: it has "
    "one, but none of the suite's checks could run on it; **no checks**: the run has no checks of this row."
)


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
        "Versions: " + "; ".join(f"{_md(c.title)}: {_md(c.version)}" for c in columns) + ".",
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
                    c.text[len(c.status) :] if c.text.lower().startswith(c.status) else f": {c.text}"
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
        columns=[(c.title, c.version, _rel(c.report / "index.html", out)) for c in columns],
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

"""``summary.md``: the report as markdown tables (tabulate), for a terminal, a pull request or a wiki."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from conformance.report import distributed, model, speed

# Checks listed under a cause; the rest are counted.
LISTED = 30


def _table(rows: list[list[Any]], headers: list[str] | tuple[str, ...]) -> str:
    return tabulate(rows, headers=list(headers), tablefmt="github")


def _matrix(m: model.Matrix) -> str:
    def cell(c: model.Cell) -> str:
        return f"{c.text} ({c.worst_text})" if c.worst_text else c.text

    rows = [[name, *(cell(c) for c in cells), cell(total)] for name, cells, total in m.rows]
    rows.append(["**total**", *(cell(c) for c in m.column_totals), cell(m.total)])
    return _table(rows, ["", *(f"{v} {d}" for v, d in m.columns), "total"])


def render_markdown(data: dict[str, Any]) -> str:
    env, records = data["environment"], data["records"]
    lines = [f"# Conformance report: {env.get('candidate', '?')}", ""]
    if warning := model.banner(data):
        lines += [f"> **{warning}**", ""]
    lines.append(
        _table([[k, f"`{v}`" if k == "command line" else v] for k, v in model.header(env)], ["", ""])
    )
    total = model.totals(records)
    lines += ["", "## Totals", ""]
    lines.append(
        _table(
            [[model.TOTAL_LABELS[o], total.counts[o]] for o in model.OUTCOMES] + [["total", total.total]],
            ["outcome", "checks"],
        )
    )
    lines += ["", "## Matrix", "", "Each cell: outcomes / checks run (worst norm-wise relative error)."]
    for m in model.matrices(records):
        lines += ["", f"### {m.title}", "", _matrix(m)]
    if sharded := distributed.section(data):
        lines += ["", "## Distributed", "", _table(sharded.setup, ["", ""])]
        if sharded.rows:
            lines += ["", "Where each failing check went wrong:", ""]
            lines.append(_table(sharded.rows, distributed.HEADERS))
    failures = {d.title: d for d in model.details(data) if d.outcome in ("failed", "error", "xpassed")}
    if failures:
        lines += ["", "## Failures by cause", ""]
        lines += [
            "Checks that fail for one root cause are one group; the first one's message stands for all."
        ]
        for c in model.causes(data):
            label = "suite error" if c.outcome == "error" else c.outcome
            lines += ["", f"### {c.text} ({len(c.tests)} {label})", ""]
            lines += [f"- `{t}`" for t in c.tests[:LISTED]]
            if len(c.tests) > LISTED:
                lines.append(f"- ... and {len(c.tests) - LISTED} more (results.json lists them all)")
            d = failures[c.tests[0]]
            body = d.message + "\n  reproduce:\n" + "\n".join("    " + s for s in d.reproduction.splitlines())
            lines += ["", "```", body, "```"]
    deviations = [d for d in model.details(data) if d.outcome == "xfailed" and d.deviation]
    if deviations:
        lines += ["", "## Known deviations", ""]
        rows = sorted({(d.title, d.deviation["reason"], d.deviation["upstream"]) for d in deviations})
        lines.append(_table([list(r) for r in rows], ["test", "reason", "upstream"]))
    lines += _spec_notes(model.spec_note_rows(data))
    if data.get("unmatched_deviations"):
        lines += ["", "## Known-deviation entries that matched no test", ""]
        lines += [f"- `{d['test']}`: {d['reason']} ({d['upstream']})" for d in data["unmatched_deviations"]]
    if data.get("bench"):
        lines += ["", *_speed(data["bench"])]
    return "\n".join(lines) + "\n"


def _spec_notes(rows: list[model.SpecNoteRow]) -> list[str]:
    """Where torch's code and docs disagree: the spec follows the code; a failing check whose candidate
    follows the documentation is counted against its note."""
    if not rows:
        return []
    lines = [
        "",
        "## Spec notes: where torch's code and its documentation disagree",
        "",
        model.SPEC_NOTES_TEXT,
        "",
    ]
    table = [
        [
            f"`{r.note.get('id')}`",
            r.note.get("subject"),
            r.note.get("documented"),
            r.note.get("actual"),
            f"[code]({r.source_link}), [docs]({r.docs_link})",
            len(r.tests),
        ]
        for r in rows
    ]
    lines.append(
        _table(table, ["note", "class", "the documentation says", "torch does", "links", "failures"])
    )
    return lines


def _speed(bench: dict[str, Any]) -> list[str]:
    lines = ["## Speed", "", speed.copy_text(bench) + ".", "", speed.NOTES]
    for t in speed.tables(bench):
        lines += ["", f"### {t.optimizer}", "", _table(t.rows, speed.HEADERS)]
    lines += ["", "### Bytes moved per element", "", _table(speed.traffic_rows(bench), speed.TRAFFIC_HEADERS)]
    if bench.get("skipped"):
        lines += ["", "### Not benchmarked", ""]
        lines += [f"- {line}" for line in speed.skipped_lines(bench)]
    return lines

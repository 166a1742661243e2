"""``index.html``: one self-contained page (inline CSS and SVG; no scripts, fonts or network) rendered with
jinja2, autoescape on: every string that comes from the candidate or the run (impl name, case ids,
messages, reprs) is escaped; only the charts this package draws are inserted as markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from conformance.report import distributed, model, speed
from conformance.report.plots import Chart, Series, render

TEMPLATES = Path(__file__).parent / "templates"
# Sections with a chart each; further failing cases are listed in the index table only (a broken candidate
# can fail thousands of checks, and the page must still open).
MAX_DETAILED = 100
# matplotlib takes ~0.1 s a chart on a 2-core machine (measured: 0.09 s, 0.25 s with tight_layout), so only
# this many failing cases get its charts (~2 s); the rest get the built-in SVG chart (milliseconds each).
MATPLOTLIB_CHARTS = 20


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def error_chart(record: dict[str, Any], chart_id: str, matplotlib: bool = True) -> Markup | None:
    """Error against step with the tolerance, from the record's ``per_step`` (failing records carry it)."""
    per_step = record.get("per_step")
    if not isinstance(per_step, dict) or not per_step.get("steps"):
        return None
    steps = per_step["steps"]
    series = [Series("max rel error", steps, per_step.get("max_rel", []))]
    if per_step.get("rtol"):
        series.append(Series("tolerance", steps, per_step["rtol"], dashed=True))
    x_label = {"test_single_step": "step (one step from each checkpoint)", "test_schedule": "epoch"}.get(
        str(record.get("check")), "step"
    )
    chart = Chart(series, x_label=x_label, y_label="norm-wise relative error")
    return Markup(render(chart, f"{chart_id}-chart", matplotlib=matplotlib))


def _speed(bench: dict[str, Any]) -> dict[str, Any]:
    charts = [
        (t, Markup(render(Chart(t.series, "elements", "s per step", log_x=True), f"speed-{i}")))
        for i, t in enumerate(speed.tables(bench))
    ]
    return {
        "copy_line": speed.copy_text(bench),
        "notes": speed.NOTES,
        "headers": speed.HEADERS,
        "tables": charts,
        "traffic_headers": speed.TRAFFIC_HEADERS,
        "traffic": speed.traffic_rows(bench),
        "skipped": speed.skipped_lines(bench),
    }


def render_html(data: dict[str, Any]) -> str:
    env, records = data["environment"], data["records"]
    details = model.details(data)
    charts = {
        d.anchor: error_chart(d.record, d.anchor, matplotlib=i < MATPLOTLIB_CHARTS)
        for i, d in enumerate(details[:MAX_DETAILED])
    }
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            candidate=str(env.get("candidate", "?")),
            banner=model.banner(data),
            header=model.header(env),
            labels=model.LABELS,
            total_labels=model.TOTAL_LABELS,
            outcomes=model.OUTCOMES,
            total=model.totals(records),
            matrices=model.matrices(records),
            details=details,
            causes=model.causes(data),
            detailed=details[:MAX_DETAILED],
            charts=charts,
            unmatched=data.get("unmatched_deviations") or [],
            spec_notes=model.spec_note_rows(data),
            spec_notes_text=model.SPEC_NOTES_TEXT,
            distributed=distributed.section(data),
            speed=_speed(data["bench"]) if data.get("bench") else None,
        )
    )

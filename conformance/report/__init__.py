"""Reports of a conformance run, rendered from its ``results.json`` alone (so an old run can be re-rendered
and two runs compared): ``summary.md`` (:mod:`.markdown`), ``index.html`` (:mod:`.html`, one self-contained
page), and the comparison of two runs (:mod:`.diff`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.report.markdown import render_markdown
from conformance.report.model import ResultsError, load_results

__all__ = [
    "ResultsError",
    "load_results",
    "render_html",
    "render_markdown",
    "render_reports",
    "write_reports",
]


def render_html(data: dict[str, Any]) -> str:
    from conformance.report.html import render_html as render

    return render(data)


def render_reports(data: dict[str, Any]) -> dict[str, str]:
    """``summary.md`` and ``index.html`` for ``data``, by file name."""
    return {"summary.md": render_markdown(data), "index.html": render_html(data)}


def write_reports(data: dict[str, Any], out: Path) -> list[Path]:
    """Write ``summary.md`` and ``index.html`` for ``data`` into ``out`` (atomically, each)."""
    from conformance.results import write_atomic

    paths = []
    for name, text in render_reports(data).items():
        write_atomic(out / name, text)
        paths.append(out / name)
    return paths

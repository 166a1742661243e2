"""Charts for the HTML report as inline SVG: matplotlib's where it is installed (the ``plots`` extra), the
project's own minimal SVG (:mod:`conformance.report.svg`) where it is not. Both take the same series and
return an ``<svg>`` element ready to inline, with ids unique within the page."""

from __future__ import annotations

import io
import re

from conformance.report.svg import Series, colours, drawable
from conformance.report.svg import line_chart as simple_line_chart

__all__ = ["Series", "line_chart"]


def _matplotlib_svg(
    series: list[Series],
    x_label: str,
    y_label: str,
    log_x: bool,
    log_y: bool,
    width: int,
    height: int,
    chart_id: str,
) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    series, _ = drawable(series, log_x, log_y)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "optconf", "font.size": 8}):
        figure = Figure(figsize=(width / 100, (height + 14 * len(series)) / 100), dpi=100)
        axes = figure.add_subplot()
        for s, colour in zip(series, colours(series)):
            axes.plot(
                s.xs,
                s.ys,
                color=colour,
                linestyle="--" if s.dashed else "-",
                marker="o" if len(s.xs) <= 16 else None,
                markersize=3,
                # A candidate's names may hold "$", which matplotlib would read as mathtext.
                label=s.label.replace("$", r"\$"),
            )
        axes.set_xscale("log" if log_x else "linear")
        axes.set_yscale("log" if log_y else "linear")
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        axes.grid(True, which="major", color="#eee")
        if series:
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None}
        )  # same bytes every time
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # Inline SVGs share the page's id namespace: each figure's ids get the chart's own prefix.
    prefix = f"{chart_id}-"
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
    return re.sub(r"(url\(#|href=\"#)([^)\"]+)", rf"\g<1>{prefix}\2", text)


def line_chart(
    series: list[Series],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = True,
    width: int = 560,
    height: int = 240,
    matplotlib: bool = True,
    chart_id: str = "chart",
) -> str:
    """A line chart as inline SVG, with matplotlib if ``matplotlib`` and it can be imported; ``chart_id``
    prefixes every id inside it, so it must differ between the charts of one page."""
    try:
        if matplotlib:
            return _matplotlib_svg(series, x_label, y_label, log_x, log_y, width, height, chart_id)
    except ImportError:
        pass
    return simple_line_chart(
        series, x_label=x_label, y_label=y_label, log_x=log_x, log_y=log_y, width=width, height=height
    )

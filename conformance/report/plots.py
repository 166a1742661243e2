"""Charts for the HTML report as inline SVG: matplotlib's where it is installed (the ``plots`` extra), the
project's own minimal SVG (:mod:`conformance.report.svg`) where it is not. Both draw the same ``Chart`` and
return an ``<svg>`` element ready to inline, with ids unique within the page."""

from __future__ import annotations

import io
import math
import re

from conformance.report.svg import (
    LEGEND_ROW,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    Chart,
    Series,
    colours,
    drawable,
)
from conformance.report.svg import render as simple_render

__all__ = ["Chart", "Series", "render"]


def _matplotlib_svg(chart: Chart, chart_id: str) -> str:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    width, height, log_x, log_y = chart.width, chart.height, chart.log_x, chart.log_y
    series, _ = drawable(chart.series, log_x, log_y)
    legend_rows = math.ceil(len(series) / 2)
    legend = LEGEND_ROW * legend_rows + 12  # matplotlib's legend pads its rows more than the built-in chart
    total = height + legend
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "optconf", "font.size": 8}):
        figure = Figure(figsize=(width / 100, total / 100), dpi=100)
        # Fixed margins (in pixels, as the built-in chart's) instead of tight_layout, and no minor ticks:
        # together they cut a chart from 0.25 s to 0.09 s (measured on a 2-core machine).
        figure.subplots_adjust(
            left=MARGIN_LEFT / width,
            right=1 - MARGIN_RIGHT / width,
            top=1 - MARGIN_TOP / total,
            bottom=(MARGIN_BOTTOM + legend) / total,
        )
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
        axes.minorticks_off()
        if not log_x:  # steps and sizes are whole numbers
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(chart.x_label)
        axes.set_ylabel(chart.y_label)
        axes.grid(True, which="major", color="#eee")
        if series:
            figure.legend(loc="lower center", bbox_to_anchor=(0.5, 0), ncol=2, frameon=False)
        buffer = io.StringIO()
        # No date or creator in the metadata: the same results render to the same bytes.
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # Inline SVGs share the page's id namespace: each figure's ids get the chart's own prefix.
    prefix = f"{chart_id}-"
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
    return re.sub(r"(url\(#|href=\"#)([^)\"]+)", rf"\g<1>{prefix}\2", text)


def render(chart: Chart, chart_id: str, matplotlib: bool = True) -> str:
    """``chart`` as inline SVG, with matplotlib if ``matplotlib`` and it can be imported; ``chart_id``
    prefixes every id inside it, so it must differ between the charts of one page."""
    try:
        if matplotlib:
            return _matplotlib_svg(chart, chart_id)
    except ImportError:
        pass
    except (OverflowError, ValueError):  # values at the ends of float64's range (a candidate blowing up) that
        pass  # matplotlib's log-axis ticker cannot place (seen: OverflowError in LogFormatter): the built-in
    return simple_render(chart)

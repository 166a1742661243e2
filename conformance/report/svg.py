"""A minimal line chart as inline SVG, for reports rendered without matplotlib.

Polylines on linear or log axes, decade (or evenly spaced) ticks, and a legend; every label is escaped.
Values that cannot be drawn (NaN, infinities, non-positive values on a log axis) are pulled to the edge of
the plot and the series' label says so, so a non-finite divergence is visible rather than silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

# Distinguishable on white and in greyscale print (the Okabe-Ito palette, colour-blind safe).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 12, 10, 36
LEGEND_ROW = 16


@dataclass(frozen=True)
class Series:
    """One line: ``label`` in the legend, points ``(xs[i], ys[i])``, drawn dashed if ``dashed``; series with
    the same ``group`` share a colour (one variant's one-tensor and many-tensor lines)."""

    label: str
    xs: list[float]
    ys: list[float]
    dashed: bool = False
    group: str = ""


def colours(series: list[Series]) -> list[str]:
    """One colour per group (or per label, for series without a group), in order of appearance."""
    order: dict[str, int] = {}
    for s in series:
        order.setdefault(s.group or s.label, len(order))
    return [COLOURS[order[s.group or s.label] % len(COLOURS)] for s in series]


def drawable(series: list[Series], log_x: bool, log_y: bool) -> tuple[list[Series], tuple[float, float]]:
    """Series with every y value finite and plottable, and the y range they span. A value that is not
    (NaN, inf, or <= 0 on a log axis) is clamped to the top (non-finite) or the bottom (<= 0) of the range
    and its series' label gets a note."""

    def ok(v: float, log: bool) -> bool:
        return math.isfinite(v) and (v > 0 or not log)

    good = [y for s in series for y in s.ys if ok(y, log_y)] or [1.0]
    low, high = min(good), max(good)
    if log_y:
        low = min(low, high / 10)
    out = []
    for s in series:
        points = [(x, y) for x, y in zip(s.xs, s.ys) if ok(x, log_x)]
        ys = [y if ok(y, log_y) else (high if not math.isfinite(y) else low) for _, y in points]
        notes = []
        if any(not math.isfinite(y) for _, y in points):
            notes.append("non-finite at top")
        if log_y and any(math.isfinite(y) and y <= 0 for _, y in points):
            notes.append("zero at bottom")
        label = s.label + (f" ({', '.join(notes)})" if notes else "")
        out.append(Series(label, [x for x, _ in points], ys, s.dashed, s.group))
    return out, (low, high)


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        stride = max(1, math.ceil((last - first) / 6))
        return [10.0**e for e in range(first, last + 1, stride)]
    if high == low:
        return [low]
    raw = (high - low) / 5
    unit = 10 ** math.floor(math.log10(raw))
    step = min((m * unit for m in (1, 2, 5, 10) if m * unit >= raw), default=raw)
    return [k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1)]


def _tick_label(v: float, log: bool) -> str:
    if log:
        return f"1e{round(math.log10(v))}"
    return f"{v:g}"


@dataclass(frozen=True)
class Chart:
    """What to draw: the series, the axes' labels and scales, and the size in pixels (without the legend,
    which adds a row per series below)."""

    series: list[Series]
    x_label: str
    y_label: str
    log_x: bool = False
    log_y: bool = True
    width: int = 560
    height: int = 240


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element (no XML declaration: it is meant to be inlined in HTML)."""
    width, height, log_x, log_y = chart.width, chart.height, chart.log_x, chart.log_y
    series, (y_low, y_high) = drawable(chart.series, log_x, log_y)
    xs = [x for s in series for x in s.xs] or [0.0, 1.0]
    x_low, x_high = min(xs), max(xs)
    ticks_x, ticks_y = _ticks(x_low, x_high, log_x), _ticks(y_low, y_high, log_y)
    # The axes span the ticks, so every tick lies inside the frame.
    x_low, x_high = min(x_low, *ticks_x), max(x_high, *ticks_x)
    y_low, y_high = min(y_low, *ticks_y), max(y_high, *ticks_y)
    plot_w, plot_h = width - MARGIN_LEFT - MARGIN_RIGHT, height - MARGIN_TOP - MARGIN_BOTTOM

    def scale(v: float, low: float, high: float, log: bool) -> float:
        if log:
            v, low, high = math.log10(v), math.log10(low), math.log10(high)
        return 0.5 if high == low else (v - low) / (high - low)

    def px(x: float) -> float:
        return MARGIN_LEFT + plot_w * scale(x, x_low, x_high, log_x)

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h * (1 - scale(y, y_low, y_high, log_y))

    total_h = height + LEGEND_ROW * len(series)
    bottom = MARGIN_TOP + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" font-family="sans-serif" font-size="11">',
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#888"/>',
    ]
    for t in ticks_x:
        x = px(t)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#888"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{_tick_label(t, log_x)}</text>'
        )
    for t in ticks_y:
        y = py(t)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{MARGIN_LEFT + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_tick_label(t, log_y)}</text>'
        )
    middle = MARGIN_LEFT + plot_w / 2
    parts.append(
        f'<text x="{middle:.1f}" y="{height - 4}" text-anchor="middle">{escape(chart.x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(12 {MARGIN_TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.y_label)}</text>'
    )
    for i, (s, colour) in enumerate(zip(series, colours(series))):
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.xs, s.ys))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{points}"/>')
        if len(s.xs) <= 16:
            parts += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{colour}"/>'
                for x, y in zip(s.xs, s.ys)
            ]
        y = height + LEGEND_ROW * i + 10
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y - 4}" x2="{MARGIN_LEFT + 24}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="1.5"{dash}/>'
        )
        parts.append(f'<text x="{MARGIN_LEFT + 30}" y="{y}">{escape(s.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

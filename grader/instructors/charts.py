"""Small SVG charts drawn on the server: bar charts, histograms and line charts, with
axes, labels and a `<title>` (the browser's tooltip) on every bar and point.

The analytics pages allow no script and no inline style (their Content-Security-Policy),
and load nothing from the network: a chart is plain SVG embedded in the page, coloured
with presentation attributes (``fill``, ``stroke``), which that policy allows. Every text
is escaped here, so what the functions return is `Markup` a template inserts as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 330
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 16, 96  # room for the axes' ticks and labels
BAR_COLOUR = "#4a7ab5"
LINE_COLOUR = "#c0504d"
AXIS_COLOUR = "#444"
GRID_COLOUR = "#ddd"
MAX_LABEL = 18  # characters of an x label shown; the tooltip has all of it
MAX_X_LABELS = 12  # a line chart labels this many points at most


@dataclass(frozen=True)
class Point:
    """One bar or point: its x label, its value, and its tooltip (the label and value
    if empty)."""

    label: str
    value: float
    tooltip: str = ""


def bar_chart(
    points: list[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_max: float | None = None,
    integer: bool = False,
    gap: float = 0.2,
) -> Markup:
    """Bars side by side, one per point, in order. ``y_max`` fixes the axis' top (100 for
    percentages); ``integer`` keeps its ticks whole (counts); ``gap`` is the space
    between bars as a fraction of a slot (0 for a histogram)."""
    frame = _Frame(points, y_max, integer)
    parts = frame.axes(title, x_label, y_label)
    slot = frame.plot_width / max(len(points), 1)
    width = slot * (1 - gap)
    for i, point in enumerate(points):
        x = LEFT + i * slot + (slot - width) / 2
        y = frame.y(point.value)
        height = TOP + frame.plot_height - y
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 1):.1f}" '
            f'height="{height:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{_tooltip(point)}</title></rect>"
        )
        parts.append(frame.x_label(LEFT + (i + 0.5) * slot, point.label))
    return frame.svg(title, parts)


def histogram(points: list[Point], **kwargs) -> Markup:
    """Bins as adjacent bars (their labels name the bins): a bar chart without gaps."""
    kwargs.setdefault("integer", True)
    return bar_chart(points, gap=0.04, **kwargs)


def line_chart(
    points: list[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    integer: bool = False,
) -> Markup:
    """Points joined in order (a series over time); every point has its tooltip, and
    at most `MAX_X_LABELS` of them are labelled on the x axis."""
    frame = _Frame(points, None, integer)
    parts = frame.axes(title, x_label, y_label)
    step = frame.plot_width / max(len(points) - 1, 1)
    xs = [
        LEFT + (i * step if len(points) > 1 else frame.plot_width / 2) for i in range(len(points))
    ]
    coordinates = " ".join(
        f"{x:.1f},{frame.y(p.value):.1f}" for x, p in zip(xs, points, strict=True)
    )
    if len(points) > 1:
        parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{LINE_COLOUR}" '
            'stroke-width="2"/>'
        )
    every = math.ceil(len(points) / MAX_X_LABELS) if points else 1
    for i, (x, point) in enumerate(zip(xs, points, strict=True)):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{frame.y(point.value):.1f}" r="3.5" '
            f'fill="{LINE_COLOUR}"><title>{_tooltip(point)}</title></circle>'
        )
        if i % every == 0:
            parts.append(frame.x_label(x, point.label))
    return frame.svg(title, parts)


def nice_ticks(top: float, integer: bool = False, count: int = 5) -> list[float]:
    """Ticks from 0 to at least ``top`` in steps of 1, 2, 2.5 or 5 times a power of ten
    (whole steps for counts)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw - 1e-12)
    if integer:
        step = max(step, 1)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


class _Frame:
    """The plot area, its y scale and axes, shared by the charts."""

    def __init__(self, points: list[Point], y_max: float | None, integer: bool):
        self.points = points
        self.plot_width = WIDTH - LEFT - RIGHT
        self.plot_height = HEIGHT - TOP - BOTTOM
        top = y_max if y_max is not None else max((p.value for p in points), default=0)
        self.ticks = nice_ticks(top, integer)
        self.top = self.ticks[-1]
        # labels turn when the longest would not fit its slot (about 7 units a character)
        longest = max((min(len(p.label), MAX_LABEL) for p in points), default=0)
        self.rotate = longest * 7 > 0.9 * self.plot_width / max(len(points), 1)

    def y(self, value: float) -> float:
        value = min(max(value, 0.0), self.top)
        return TOP + self.plot_height * (1 - value / self.top)

    def axes(self, title: str, x_label: str, y_label: str) -> list[str]:
        bottom = TOP + self.plot_height
        parts = []
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                f'stroke="{GRID_COLOUR}"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>'
            )
        parts.append(
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{AXIS_COLOUR}"/>'
        )
        parts.append(
            f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" '
            f'stroke="{AXIS_COLOUR}"/>'
        )
        middle = TOP + self.plot_height / 2
        parts.append(
            f'<text x="14" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>'
        )
        parts.append(
            f'<text x="{LEFT + self.plot_width / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
        if not self.points:
            parts.append(
                f'<text x="{LEFT + self.plot_width / 2:.1f}" y="{middle:.1f}" '
                'text-anchor="middle" fill="#777">No data yet</text>'
            )
        return parts

    def x_label(self, x: float, label: str) -> str:
        y = TOP + self.plot_height + 14
        text = label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
        if self.rotate:
            return (
                f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" '
                f'transform="rotate(-35 {x:.1f} {y:.1f})">{escape(text)}</text>'
            )
        return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{escape(text)}</text>'

    def svg(self, title: str, parts: list[str]) -> Markup:
        return Markup(
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>"
            f'<g font-family="sans-serif" font-size="13" fill="{AXIS_COLOUR}">'
            + "".join(parts)
            + "</g></svg>"
        )


def _tooltip(point: Point) -> Markup:
    return escape(point.tooltip or f"{point.label}: {_number(point.value)}")


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"

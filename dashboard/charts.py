"""Charts drawn on the server as SVG: nothing to download at run time, readable without
JavaScript, and described for screen readers (a title, a summary, and the figures as a table
one click away). Colours come from the stylesheet's classes, so a theme can change them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    css: str  # a class in dashboard.css: s1, s2, s3


def bar_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = ""
) -> Markup:
    """Stacked bars, one per label (a week, say), with a legend and the numbers as a table."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1)
    parts: list[str] = [_grid(top, plot_w, plot_h)]
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y: float = TOP + plot_h
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect class="{s.css}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {_num(value)}{escape(unit)} '
                f"{escape(s.name)}</title></rect>"
            )
        if _show_label(i, len(labels)):
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    summary = _summary(labels, series, unit)
    return _figure(chart_id, title, summary, "".join(parts), labels, series, unit)


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = ""
) -> Markup:
    """Lines with dots, one per series (active members against seats, say)."""
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)
    parts: list[str] = [_grid(top, plot_w, plot_h)]
    for s in series:
        points = [
            (LEFT + i * step, TOP + plot_h - plot_h * value / top)
            for i, value in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line {s.css}" points="{path}" />')
        for (x, y), label, value in zip(points, labels, s.values, strict=True):
            parts.append(
                f'<circle class="{s.css}" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>'
                f"{escape(label)}: {_num(value)}{escape(unit)} {escape(s.name)}</title></circle>"
            )
    for i, label in enumerate(labels):
        if _show_label(i, len(labels)):
            parts.append(
                f'<text class="axis" x="{LEFT + i * step:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    summary = _summary(labels, series, unit)
    return _figure(chart_id, title, summary, "".join(parts), labels, series, unit)


def check_in_strip(days: Sequence[bool], *, name: str) -> Markup:
    """The last four weeks as a row of small squares, filled on days with a check-in."""
    size, gap = 5, 1
    width = len(days) * (size + gap)
    count = sum(days)
    label = f"{name}: checked in on {count} of the last {len(days)} days"
    squares = "".join(
        f'<rect class="{"on" if on else "off"}" x="{i * (size + gap)}" y="0" '
        f'width="{size}" height="{size + 5}" rx="1" />'
        for i, on in enumerate(days)
    )
    return Markup(
        f'<svg class="strip" viewBox="0 0 {width} {size + 5}" width="{width}" '
        f'height="{size + 5}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{squares}</svg>"
    )


def _figure(
    chart_id: str,
    title: str,
    summary: str,
    body: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
) -> Markup:
    legend = "".join(
        f'<li><span class="key {s.css}" aria-hidden="true"></span>{escape(s.name)}</li>'
        for s in series
    )
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{_num(s.values[i])}{escape(unit)}</td>" for s in series)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return Markup(
        f'<figure class="chart" id="{escape(chart_id)}">'
        f'<figcaption id="{escape(chart_id)}-title">{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<desc id="{escape(chart_id)}-desc">{escape(summary)}</desc>{body}</svg>'
        f'<ul class="legend">{legend}</ul>'
        f"<details><summary>The figures</summary><table><thead><tr>"
        f'<th scope="col">Week of</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f"</details></figure>"
    )


def _grid(top: float, plot_w: float, plot_h: float) -> str:
    lines = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h - plot_h * fraction
        lines.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" />'
            f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_num(top * fraction)}</text>"
        )
    return "".join(lines)


def _summary(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    if not labels:
        return "No weeks yet."
    last = labels[-1]
    return "; ".join(
        f"{s.name}: {_num(s.values[-1])}{unit} in the week of {last}, "
        f"{_num(sum(s.values) / len(s.values))}{unit} a week on average"
        for s in series
    )


def _nice_max(value: float) -> float:
    """A round top for the axis, at least 1."""
    if value <= 1:
        return 1
    for step in (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return float(step)
    return float(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _show_label(index: int, count: int) -> bool:
    # About eight labels fit a phone's width; the last week is always named.
    every = max(1, -(-count // 8))
    return index == count - 1 or (count - 1 - index) % every == 0

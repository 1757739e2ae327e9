"""Small server-rendered SVG charts for admin pages (no JavaScript, no CDN): the 30-day
trend line of a health metric and bar charts of signed amounts around a marked zero line."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

COLORS = {"green": "#2e7d32", "amber": "#b36b00", "red": "#ba2121", "no_data": "#888"}


def trend_svg(
    points: list[tuple[datetime.date, Decimal | None]],
    *,
    days: int = 30,
    today: datetime.date,
    width: int = 220,
    height: int = 48,
    target: Decimal | None = None,
    color: str = "#417690",
) -> str:
    """A line of daily values over the last ``days`` days, with the target as a dashed
    rule. Days without a value leave a gap."""
    start = today - datetime.timedelta(days=days - 1)
    values = [v for _, v in points if v is not None]
    if target is not None:
        values.append(target)
    if not values:
        return format_html('<svg class="trend" width="{}" height="{}" role="img" '
                           'aria-label="no data"><text x="4" y="{}" fill="#888" '
                           'font-size="11">no data yet</text></svg>', width, height,
                           height // 2)
    lo, hi = min(values), max(values)
    span = (hi - lo) or Decimal(1)
    pad = 4

    def xy(day: datetime.date, value: Decimal) -> tuple[str, str]:
        x = pad + (width - 2 * pad) * (day - start).days / max(1, days - 1)
        y = pad + (height - 2 * pad) * float((hi - value) / span)
        return f"{x:.1f}", f"{y:.1f}"

    segments: list[list[tuple[str, str]]] = [[]]
    by_day = {day: value for day, value in points if day >= start}
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        value = by_day.get(day)
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(xy(day, value))
    lines = format_html_join(
        "", '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
        ((color, " ".join(f"{x},{y}" for x, y in seg)) for seg in segments if seg),
    )
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="2" fill="{}"/>',
        ((x, y, color) for seg in segments for x, y in seg),
    )
    rule = ""
    if target is not None:
        _, ty = xy(start, target)
        rule = format_html('<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#999" '
                           'stroke-dasharray="3,3"/>', pad, width - pad, ty, ty)
    return format_html(
        '<svg class="trend" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="30-day trend">{}{}{}</svg>', width, height, width, height, rule, lines,
        dots,
    )


# --------------------------------------------------------------------------- bar charts


@dataclass(frozen=True)
class Bar:
    """One bar: its value, the text people read for it (formatted money), the x label it
    stands at (a date), its colour (its series) and where clicking it leads."""

    value: Decimal
    text: str
    label: str
    colour: str = "#417690"
    title: str = ""
    link: str = ""


def _n(value: float) -> str:
    return f"{value:.1f}"


def _spaced(n: int, most: int) -> list[int]:
    """At most ``most`` indexes spread over ``range(n)``, always the first and the last."""
    if n <= most:
        return list(range(n))
    step = (n - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def bar_chart_svg(
    bars: list[Bar],
    *,
    axis_text: Callable[[Decimal], str],
    empty_text: str,
    aria_label: str,
    width: int = 760,
    height: int = 240,
) -> str:
    """Bars up from (or down below) a marked zero line, on one axis of one unit only (one
    currency: never mix them). The top, the bottom and zero are labelled on the axis; at
    most eight x labels, the first and last anchored inside the frame. When every value is
    zero there is nothing to draw: a sentence (``empty_text``) says so instead of a flat
    line."""
    if not bars or not any(b.value for b in bars):
        return format_html('<p class="as-chart-empty">{}</p>', empty_text)
    left, right, top, bottom = 104, 12, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    hi = max(Decimal(0), *(b.value for b in bars))
    lo = min(Decimal(0), *(b.value for b in bars))
    span = (hi - lo) or Decimal(1)

    def y(value: Decimal) -> float:
        return top + plot_h * float((hi - value) / span)

    zero_y = y(Decimal(0))
    slot = plot_w / len(bars)
    bar_w = max(1.0, min(28.0, slot * 0.7))
    parts = []
    for i, bar in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        y0, y1 = sorted((zero_y, y(bar.value)))
        rect = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
            "<title>{}</title></rect>",
            _n(x), _n(y0), _n(bar_w), _n(max(y1 - y0, 1.0 if bar.value else 0.0)), bar.colour,
            bar.title or f"{bar.label}: {bar.text}",
        )
        parts.append(format_html('<a href="{}">{}</a>', bar.link, rect) if bar.link else rect)
    axis = [
        format_html('<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" '
                    'class="as-chart-axis">{}</text>', left - 6, _n(y(value)), axis_text(value))
        for value in (hi, lo) if value
    ]
    axis.append(format_html(
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#374151" stroke-width="1.5" '
        'class="as-chart-zero"/><text x="{}" y="{}" text-anchor="end" '
        'dominant-baseline="middle" class="as-chart-axis">0</text>',
        left, width - right, _n(zero_y), _n(zero_y), left - 6, _n(zero_y),
    ))
    labels = []
    shown = _spaced(len(bars), 8)
    for i in shown:
        x = left + slot * i + slot / 2
        anchor = "middle"
        if i == shown[0]:
            x, anchor = left + 2, "start"
        elif i == shown[-1] and len(shown) > 1:
            x, anchor = width - right - 2, "end"
        labels.append(format_html(
            '<text x="{}" y="{}" text-anchor="{}" class="as-chart-label">{}</text>',
            _n(x), height - 12, anchor, bars[i].label,
        ))
    frame = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#e5e7eb"/>',
        left, top, plot_w, plot_h,
    )
    return format_html(
        '<svg class="as-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg" font-size="11">{}{}{}{}</svg>',
        width, height, aria_label, frame, mark_safe("".join(parts)),
        mark_safe("".join(axis)), mark_safe("".join(labels)),
    )

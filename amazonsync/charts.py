"""Small server-rendered SVG charts for admin pages (no JavaScript, no CDN)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils.html import format_html, format_html_join

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

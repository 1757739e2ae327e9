"""Custom admin pages of the sync engine."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from .charts import COLORS, trend_svg
from .health import health_compute, health_trends, metrics
from .selectors import exception_rule_candidates, last_runs


def _display(unit: str, value) -> str:
    if value is None:
        return "no data"
    value = Decimal(value)
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "s":
        if value >= 10**9:
            return "never"
        if value >= 86400:
            return f"{value / 86400:.1f} d"
        if value >= 3600:
            return f"{value / 3600:.1f} h"
        if value >= 60:
            return f"{value / 60:.0f} min"
        return f"{value:.0f} s"
    if unit == "money":
        return f"{value:.2f}"
    return f"{value:.0f}"


_NOT_DETAILS = {"value", "target", "state", "label", "unit", "reason", "failures"}


def _details(unit: str, entry: dict) -> str:
    """The extra figures of an entry in plain words (never a Python dict)."""
    parts = []
    for key, value in entry.items():
        if key in _NOT_DETAILS:
            continue
        words = key.replace("_", " ")
        if key == "by_team":
            value = ", ".join(
                f"{team} {figures['count']} (oldest {figures['oldest_hours']} h)"
                for team, figures in sorted(value.items())
            ) or "none"
        elif isinstance(value, dict):
            value = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items())
        elif key == "p50":
            value = _display(unit, value)
        parts.append(f"{words}: {value}")
    return "; ".join(parts)


def health_dashboard(request):
    """The integration health dashboard: seven metrics per marketplace with trends."""
    now = timezone.now()
    today = timezone.localdate()
    data = health_compute(now=now)
    trends = health_trends(today=today)
    registered = metrics()
    rows = []
    for code, figures in data.items():
        cells = []
        for metric in registered:
            entry = figures[metric.key]
            value = _display(metric.unit, entry["value"])
            if entry["value"] is None and entry.get("failures"):
                value = "flow failing"  # red for a reason, not "no data"
            cells.append({
                "label": metric.label,
                "value": value,
                "target": _display(metric.unit, metric.target),
                "state": entry["state"],
                "color": COLORS[entry["state"]],
                "reason": entry.get("reason", ""),
                "details": _details(metric.unit, entry),
                "chart": trend_svg(trends.get(code, {}).get(metric.key, []), today=today,
                                   target=metric.target, color=COLORS[entry["state"]]),
            })
        rows.append({"code": code, "cells": cells})
    context = {
        **admin.site.each_context(request),
        "title": "Integration health",
        "rows": rows,
        "metrics": registered,
        "candidates": list(exception_rule_candidates()),
        "runs": list(last_runs(limit=10)),
        "generated_at": now,
    }
    return TemplateResponse(request, "admin/amazonsync/health.html", context)

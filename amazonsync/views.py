"""Custom admin pages of the sync engine: the integration health dashboard."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from .charts import COLORS, trend_svg
from .health import AMBER, GREEN, NO_DATA, RED, health_compute, health_trends, metrics
from .models import HealthSnapshot, SyncRun, Team
from .money import display as money_display
from .runs import flow_label
from .selectors import exception_rule_candidates, last_runs

STATES = {GREEN: ("Green", "green"), AMBER: ("Amber", "amber"), RED: ("Red", "red"),
          NO_DATA: ("No data", "grey")}
RUN_BADGES = {SyncRun.Status.SUCCEEDED: "green", SyncRun.Status.FAILED: "red",
              SyncRun.Status.REFUSED: "amber", SyncRun.Status.RUNNING: "blue",
              SyncRun.Status.QUEUED: "blue", SyncRun.Status.SKIPPED: "grey"}
# the extra figures metrics give, in words
DETAIL_WORDS = {
    "overdue": "past their SLA",
    "critical": "critical",
    "critical_overdue": "critical and past their SLA",
    "p50": "median",
    "unreconciled": "settlements with drift",
    "settlements": "settlements checked",
}
_NOT_DETAILS = {"value", "target", "state", "label", "unit", "reason", "failures", "by_team"}


def _display(unit: str, value, currency: str = "") -> str:
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
        return money_display(value, currency) if currency else f"{value:,.2f}"
    return f"{value:,.0f}"


def _details(unit: str, entry: dict, currency: str) -> list[str]:
    """The extra figures of an entry as short phrases (never a Python dict)."""
    parts = []
    for key, value in entry.items():
        if key in _NOT_DETAILS or isinstance(value, dict | list):
            continue
        words = DETAIL_WORDS.get(key, key.replace("_", " "))
        shown = _display(unit, value, currency) if key == "p50" else value
        parts.append(f"{words}: {shown}")
    return parts


def _teams(entry: dict) -> list[dict]:
    """The backlog per owner team, as rows of a small table."""
    return [{"team": Team(team).label if team in Team.values else team,
             "count": figures["count"], "oldest_hours": figures["oldest_hours"]}
            for team, figures in sorted(entry.get("by_team", {}).items())]


def _marketplaces(codes) -> dict[str, tuple[str, str]]:
    """{code: (label "Amazon.de (DE)", currency)} in one query: the marketplace model the
    engine's tables point at."""
    model = HealthSnapshot._meta.get_field("marketplace").related_model
    return {m.code: (str(m), m.currency) for m in model.objects.filter(code__in=list(codes))}


def health_dashboard(request):
    """The integration health dashboard: the metrics per marketplace with 30-day trends."""
    now = timezone.now()
    today = timezone.localdate()
    data = health_compute(now=now)
    trends = health_trends(today=today)
    registered = metrics()
    names = _marketplaces(data)
    rows = []
    for code, figures in data.items():
        label, currency = names.get(code, (code, ""))
        cells = []
        for metric in registered:
            entry = figures[metric.key]
            value = _display(metric.unit, entry["value"], currency)
            if entry["value"] is None and entry.get("failures"):
                value = "flow failing"  # red for a reason, not "no data"
            state_label, badge = STATES.get(entry["state"], (entry["state"], "grey"))
            cells.append({
                "key": metric.key,
                "label": metric.label,
                "value": value,
                "target": _display(metric.unit, metric.target, currency),
                "state": entry["state"],
                "state_label": state_label,
                "badge": badge,
                "reason": entry.get("reason", ""),
                "details": _details(metric.unit, entry, currency),
                "teams": _teams(entry),
                "chart": trend_svg(trends.get(code, {}).get(metric.key, []), today=today,
                                   target=metric.target, color=COLORS[entry["state"]]),
            })
        red = sum(cell["state"] == RED for cell in cells)
        rows.append({"code": code, "label": label, "cells": cells, "red": red})
    runs = [{"run": run, "flow": flow_label(run.flow),
             "where": str(run.marketplace) if run.marketplace_id else "All marketplaces",
             "badge": RUN_BADGES.get(run.status, "grey")} for run in last_runs(limit=10)]
    candidates = [{**c, "flow": flow_label(c["flow"]),
                   "object_kind": c["object_kind"].replace("_", " "),
                   "reason": c["reason_code"].replace("_", " ").capitalize()}
                  for c in exception_rule_candidates()]
    context = {
        **admin.site.each_context(request),
        "title": "Integration health",
        "rows": rows,
        "metrics": registered,
        "candidates": candidates,
        "runs": runs,
        "generated_at": now,
    }
    return TemplateResponse(request, "admin/amazonsync/health.html", context)

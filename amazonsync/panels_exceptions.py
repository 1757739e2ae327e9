"""The home page's exceptions panel: open problems by team and severity, SLA breaches in red.

Counts are problems (one per group of the same problem, as the queue lists them), read in one
query (``selectors.exception_queue_summary``); every figure and cell opens the queue filtered
to what it counts.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html

from .dashboard import Figure, PanelData, register_panel
from .models import Severity, Team
from .selectors import exception_queue_summary

SEVERITY_TONES = {Severity.CRITICAL: "bad", Severity.HIGH: "warn"}


def queue_url(**filters) -> str:
    query = {"state": "active"}
    for key, value in filters.items():
        query[{"team": "owner_team__exact", "severity": "severity__exact"}.get(key, key)] = value
    return reverse("admin:amazonsync_syncexception_changelist") + "?" + urlencode(query)


@register_panel("exceptions", title="Exceptions to work", audience="ops",
                permission="amazonsync.view_syncexception", order=10)
def exceptions_panel(request, now) -> PanelData:
    summary = exception_queue_summary(now=now)
    by_severity: dict[str, int] = {}
    by_team: dict[str, dict[str, int]] = {}
    overdue_by_team: dict[str, int] = {}
    for row in summary:
        by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + row["problems"]
        by_team.setdefault(row["owner_team"], {})[row["severity"]] = row["problems"]
        overdue_by_team[row["owner_team"]] = (overdue_by_team.get(row["owner_team"], 0)
                                              + row["overdue"])
    overdue = sum(overdue_by_team.values())
    if not summary:
        return PanelData(empty="No open exceptions.", link=queue_url(),
                         link_label="Open the queue")
    figures = [Figure(label="Past their SLA", value=str(overdue), link=queue_url(sla="overdue"),
                      tone="bad" if overdue else "ok",
                      detail="overdue problems, every team")]
    for severity, label in Severity.choices:
        count = by_severity.get(severity, 0)
        if count:
            figures.append(Figure(label=label, value=str(count),
                                  link=queue_url(severity=severity),
                                  tone=SEVERITY_TONES.get(severity, "neutral")))
    rows = []
    for team, team_label in Team.choices:
        if team not in by_team:
            continue
        cells = [format_html('<a href="{}">{}</a>', queue_url(team=team), team_label)]
        for severity, _ in Severity.choices:
            count = by_team[team].get(severity, 0)
            cells.append(format_html('<a href="{}">{}</a>',
                                     queue_url(team=team, severity=severity), count)
                         if count else "0")
        late = overdue_by_team.get(team, 0)
        cells.append(format_html('<a class="as-badge as-badge-red" href="{}">{} overdue</a>',
                                 queue_url(team=team, sla="overdue"), late) if late else "0")
        rows.append(cells)
    return PanelData(figures=figures, headers=["Team", *Severity.labels, "Past SLA"],
                     rows=rows, link=queue_url(), link_label="Open the queue")

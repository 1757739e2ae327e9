"""Reads of the sync engine."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from .models import SyncException, SyncRun


def exception_rule_candidates(*, minimum: int = 3) -> QuerySet:
    """Reasons fixed by hand more than twice: candidates for a new rule or mapping."""
    return (
        SyncException.objects.filter(manual_fix=True)
        .values("flow", "object_kind", "reason_code")
        .annotate(fixed_by_hand=Count("id"), last_fixed=Max("resolved_at"))
        .filter(fixed_by_hand__gte=minimum)
        .order_by("-fixed_by_hand", "reason_code")
    )


def last_runs(*, limit: int = 20) -> QuerySet:
    return SyncRun.objects.select_related("account", "marketplace").order_by("-started_at")[
        :limit
    ]


def exceptions_outside_teams(
    *, exception_ids, teams: frozenset[str] | None, statuses=None
) -> dict[str, list[int]]:
    """Of the given exceptions (in ``statuses``, default any), those owned by a team not in
    ``teams``, as {owner_team: [ids]}; ``teams`` None (a superuser) means none of them."""
    if teams is None:
        return {}
    qs = SyncException.objects.filter(pk__in=list(exception_ids)).exclude(owner_team__in=teams)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    outside: dict[str, list[int]] = {}
    for pk, team in qs.order_by("pk").values_list("pk", "owner_team"):
        outside.setdefault(team, []).append(pk)
    return outside

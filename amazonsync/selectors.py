"""Reads of the sync engine."""

from __future__ import annotations

from django.db.models import (
    Count,
    Max,
    Min,
    Q,
    QuerySet,
)

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


# --- the exception queue, one row per problem -----------------------------------------------

EXCEPTION_ACTIVE = (SyncException.Status.OPEN, SyncException.Status.RETRYING)


def exceptions_grouped(queryset: QuerySet) -> QuerySet:
    """One row per problem of ``queryset`` (already filtered): the first row of each group of
    the same problem (``group_key``) in the same status, found by a GROUP BY on the indexed
    (group_key, status, id); a row without a group key stands for itself. How many rows each
    stands for, and where, is read for the shown page only (``exception_group_members``)."""
    leads = (queryset.order_by().exclude(group_key="").values("group_key", "status")
             .annotate(lead=Min("pk")).values("lead"))
    return queryset.filter(Q(pk__in=leads) | Q(group_key=""))


def exception_group_members(queryset: QuerySet, leads) -> dict[tuple[str, str], list]:
    """The rows of ``queryset`` in the groups of ``leads`` (a shown page), as
    {(group_key, status): [rows]} with account and marketplace: one query, or none."""
    keys = {(x.group_key, x.status) for x in leads if x.group_key}
    if not keys:
        return {}
    members: dict[tuple[str, str], list] = {}
    rows = (queryset.order_by("pk").filter(group_key__in={k for k, _ in keys},
                                           status__in={s for _, s in keys})
            .select_related(None).select_related("account", "marketplace")
            .only("pk", "group_key", "status", "flow", "account__name",
                  "account__selling_partner_id", "marketplace__domain", "marketplace__code"))
    for row in rows:
        if (row.group_key, row.status) in keys:
            members.setdefault((row.group_key, row.status), []).append(row)
    return members


def exception_group_rows(exception: SyncException) -> QuerySet:
    """Every row of an exception's problem group, any status (itself when ungrouped)."""
    if not exception.group_key:
        return SyncException.objects.filter(pk=exception.pk)
    return (SyncException.objects.filter(group_key=exception.group_key)
            .select_related("account", "marketplace", "resolved_by")
            .order_by("status", "marketplace_id", "pk"))


def exception_group_ids(*, exception_ids, statuses) -> list[int]:
    """Of the given exceptions and every row of their groups, those in ``statuses``: what an
    action on a grouped row applies to."""
    ids = list(exception_ids)
    keys = (SyncException.objects.filter(pk__in=ids).exclude(group_key="")
            .values("group_key"))
    rows = SyncException.objects.filter(Q(pk__in=ids) | Q(group_key__in=keys),
                                        status__in=list(statuses))
    return list(rows.order_by("pk").values_list("pk", flat=True))


def exception_queue_summary(*, now) -> list[dict]:
    """Open problems (groups) per owner team and severity, with how many are past their
    SLA: [{"owner_team", "severity", "problems", "overdue"}] in one query."""
    return list(
        SyncException.objects.filter(status__in=EXCEPTION_ACTIVE)
        .values("owner_team", "severity")
        .annotate(problems=Count("group_key", distinct=True),
                  overdue=Count("group_key", distinct=True, filter=Q(due_at__lt=now)))
        .order_by("owner_team", "severity")
    )

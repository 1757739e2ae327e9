"""django-q2 entry points: ids in, services called."""

from __future__ import annotations

from django_q.models import Schedule

from .models import SyncRun
from .registry import register_housekeeping


def run_flow(flow: str, account_id: int, marketplace_id: str | None = None) -> int:
    """What every flow schedule calls (amazonsync.schedules)."""
    from .services import flow_run

    run = flow_run(
        flow=flow, account_id=account_id, marketplace_id=marketplace_id,
        trigger=SyncRun.Trigger.SCHEDULE,
    )
    return run.pk


@register_housekeeping("health snapshot", schedule_type=Schedule.DAILY)
def health_snapshot() -> int:
    """Store today's health figures per marketplace (trends survive data pruning)."""
    from .health import health_snapshot_store

    return health_snapshot_store()


def run_queued(run_id: int) -> int:
    """A run someone asked for in the admin (``amazonsync.runs.run_enqueue``)."""
    from .runs import run_start

    return run_start(run_id=run_id).pk


@register_housekeeping("alerts", schedule_type=Schedule.MINUTES, minutes=5)
def alerts_send() -> int:
    """One digest per team: new critical exceptions, SLA breaches, metrics turned red."""
    from .alerts import alerts_send as send

    return send()

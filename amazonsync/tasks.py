"""django-q2 entry points: ids in, services called."""

from __future__ import annotations

from django.db import transaction

from .models import SyncRun


def run_flow(flow: str, account_id: int, marketplace_id: str | None = None) -> int:
    from .services import flow_run

    run = flow_run(
        flow=flow, account_id=account_id, marketplace_id=marketplace_id,
        trigger=SyncRun.Trigger.SCHEDULE,
    )
    return run.pk


def retry_exceptions(exception_ids: list[int]) -> dict:
    from .services import exceptions_retry

    outcome = exceptions_retry(exception_ids=exception_ids)
    return {"resolved": outcome.resolved, "still_open": outcome.still_open}


def enqueue_flow(flow: str, account_id: int, marketplace_id: str | None = None) -> None:
    """Queue a flow run once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "amazonsync.tasks.run_flow", flow, account_id, marketplace_id,
            task_name=f"{flow}:{account_id}:{marketplace_id or '-'}",
        )
    )


def sync_schedules() -> dict:
    from .schedules import schedules_sync

    result = schedules_sync()
    return {"created": result.created, "removed": result.removed}


def health_snapshot() -> int:
    """Store today's health figures per marketplace (trends survive data pruning)."""
    from .health import health_snapshot_store

    return health_snapshot_store()

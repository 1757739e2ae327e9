"""django-q2 entry points for the catalog flows: thin, take ids, call the runner."""

from __future__ import annotations

from amazonsync.models import SyncRun
from amazonsync.services import flow_run


def run_catalog_flow(flow: str, account_id: int, marketplace_id: str) -> int:
    """Run one catalog flow for an account and marketplace; returns the SyncRun id."""
    if flow not in {"inventory_push", "price_push", "fba_inventory_pull", "inbound_pull"}:
        raise ValueError(f"not a catalog flow: {flow}")
    run = flow_run(flow=flow, account_id=account_id, marketplace_id=marketplace_id,
                   trigger=SyncRun.Trigger.SCHEDULE)
    return run.pk

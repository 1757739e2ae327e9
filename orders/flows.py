"""The ``orders`` and ``shipments`` flows.

``orders`` (per marketplace): incremental by LastUpdatedAfter from the cursor minus an overlap
window, every page, items fetched only for orders that are new or changed since we stored
them; each page is stored in one transaction, and the cursor (the newest LastUpdateDate
stored) moves in the transaction of the last page. A new account, or one whose sync has not
run for a long time, is backfilled with the all-orders flat-file report instead of per-order
calls, through the same upsert.

``shipments`` (per marketplace): confirms the recorded MFN packages with confirmShipment,
one call per package.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team

from .models import ShipmentStatus
from .parsers import REPORT_TYPE, OrderData, OrderDataError, order_from_api

PAGE = 100


def overlap() -> datetime.timedelta:
    return datetime.timedelta(minutes=getattr(settings, "ORDERS_OVERLAP_MINUTES", 10))


def backfill_days() -> int:
    return getattr(settings, "ORDERS_BACKFILL_DAYS", 90)


def backfill_gap() -> datetime.timedelta:
    """A sync that has not run for this long catches up with the report."""
    return datetime.timedelta(hours=getattr(settings, "ORDERS_BACKFILL_GAP_HOURS", 72))


@register_flow("orders", switch="orders", owner_team=Team.OPS, every=5, backfill=True)
def orders(ctx: FlowContext) -> None:
    """Orders updated since the last run (all-orders report for a new account or long gap,
    or from the date a person asked to backfill from)."""
    orders_sync(ctx=ctx, client=ctx.client, backfill_start=ctx.since)


@register_flow("shipments", switch="shipments", owner_team=Team.OPS, every=5)
def shipments(ctx: FlowContext) -> None:
    """Confirm recorded MFN packages to Amazon (confirmShipment, package by package)."""
    from .selectors import shipments_to_confirm
    from .services import shipment_confirm

    for shipment in list(shipments_to_confirm(account=ctx.account, marketplace=ctx.marketplace)):
        ctx.count(fetched=1)
        status = shipment_confirm(shipment=shipment, client=ctx.client, run=ctx.run)
        if status == ShipmentStatus.CONFIRMED:
            ctx.count(updated=1)
        elif status == ShipmentStatus.CANCELED:
            ctx.count(unchanged=1)
        else:
            ctx.count(failed=1)


def orders_sync(*, ctx: FlowContext, client, now: datetime.datetime | None = None,
                backfill_start: datetime.datetime | None = None) -> str:
    """One run of the orders flow; returns "backfill" or "incremental".

    Time is the client's clock (``ctx.now``; the cursor records when it moved on the same
    clock). A new account, or a sync that has not moved its cursor for longer than the
    backfill gap, catches up with the report.
    """
    now = now or ctx.now
    cursor = ctx.cursor()
    if backfill_start is not None or cursor.position is None or (
        now - cursor.updated_at > backfill_gap()
    ):
        if backfill_start is None:
            backfill_start = (cursor.position - overlap() if cursor.position
                              else now - datetime.timedelta(days=backfill_days()))
        orders_backfill(ctx=ctx, client=client, start=backfill_start)
        return "backfill"
    orders_incremental(ctx=ctx, client=client, after=cursor.position - overlap())
    return "incremental"


def orders_backfill(*, ctx: FlowContext, client, start: datetime.datetime) -> None:
    """Request the all-orders report from ``start`` and import it like ``import_report``."""
    from .services import orders_report_import

    path: Path = client.report_fetch(REPORT_TYPE, marketplace_ids=[ctx.marketplace.pk],
                                     data_start_time=start)

    def finish(result) -> None:
        ctx.advance_cursor(position=result.counts.latest_update or start)

    try:
        result = orders_report_import(account=ctx.account, source=path, run=ctx.run,
                                      finish=finish, marketplace=ctx.marketplace)
    finally:
        path.unlink(missing_ok=True)
    counts = result.counts
    ctx.count(fetched=result.rows, created=counts.created, updated=counts.updated,
              unchanged=counts.unchanged, failed=counts.exceptions)


def _lookahead(items: Iterable) -> Iterator[tuple[list, bool]]:
    """Chunks of PAGE orders and whether each is the last one."""
    chunk: list = []
    for item in items:
        if len(chunk) == PAGE:
            yield chunk, False
            chunk = []
        chunk.append(item)
    yield chunk, True


def orders_incremental(*, ctx: FlowContext, client, after: datetime.datetime) -> None:
    from .selectors import order_last_updates
    from .services import BAD_ORDER, orders_upsert

    api = client.orders
    found = api.search(marketplace_ids=[ctx.marketplace.pk], last_updated_after=after)
    newest = None
    for chunk, last in _lookahead(found):
        ctx.count(fetched=len(chunk))
        stored = order_last_updates(account=ctx.account,
                                    order_ids=[o.order_id for o in chunk])
        batch: list[OrderData] = []
        for summary in chunk:
            try:
                data = order_from_api(summary.raw)
                if summary.items is None and stored.get(data.amazon_order_id) != \
                        data.last_update_date:
                    # New or changed since stored: fetch its items (v0 only; 2026-01-01
                    # returns them inside the order).
                    items = api.items(summary.order_id)
                    data = order_from_api(summary.raw, items=[i.raw for i in items])
            except OrderDataError as err:
                ctx.exception(object_kind="order", object_key=summary.order_id or "?",
                              reason_code=BAD_ORDER, message=str(err),
                              payload={"amazon_order_id": summary.order_id,
                                       "raw": summary.raw})
                continue
            batch.append(data)
        with transaction.atomic():
            counts = orders_upsert(account=ctx.account, batch=batch, run=ctx.run,
                                   now=ctx.now)
            if counts.latest_update and (newest is None or counts.latest_update > newest):
                newest = counts.latest_update
            if last:
                cursor = ctx.cursor()
                position = max(p for p in (newest, cursor.position) if p is not None) \
                    if (newest or cursor.position) else None
                ctx.advance_cursor(position=position)
        ctx.count(created=counts.created, updated=counts.updated, unchanged=counts.unchanged,
                  failed=counts.exceptions)

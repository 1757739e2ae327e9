"""The idempotent order upsert: API pages and report files share it.

Keyed on (seller account, AmazonOrderId); running it twice with the same data changes
nothing. Lines, listings and stock reservations are in ``lines``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from amazonsync.models import Team
from amazonsync.services import exception_record
from marketplaces.models import Marketplace, SellerAccount

from ..models import Customer, Order, OrderStatus, Source
from ..parsers import OrderData
from .lines import lines_apply
from .mcf import mcf_orders_link
from .plans import OrderPlan, UpsertCounts
from .reasons import ORDERS_FLOW, UNKNOWN_MARKETPLACE
from .shipments import shipments_cancel


def orders_upsert(
    *,
    account: SellerAccount,
    batch: Sequence[OrderData],
    flow: str = ORDERS_FLOW,
    run=None,
    now: datetime.datetime | None = None,
) -> UpsertCounts:
    """Store a batch of orders (an API page, a chunk of a report) in one transaction.

    New orders are created, changed ones updated, stale data (older than what is stored,
    or report data for an order the API already gave at the same update time) ignored.
    Lines are upserted when the source gives them; MFN orders reserve merchant stock and
    release it when shipped or canceled (cancelled items hold none); canceled orders cancel
    their pending shipments; lines of unmapped SKUs are stored, flagged and queued as
    exceptions. Multi-channel (MCF) orders are fulfilled from FBA stock (no reservation)
    and linked to the order they fulfil (``mcf``).
    """
    counts = UpsertCounts()
    if not batch:
        return counts
    with transaction.atomic():
        _upsert(account=account, batch=batch, flow=flow, run=run, counts=counts,
                now=now or timezone.now())
    return counts


def _upsert(*, account, batch, flow, run, counts: UpsertCounts, now) -> None:
    plans = _plans(account=account, latest=_latest_versions(batch, counts), flow=flow,
                   run=run, counts=counts, now=now)
    if not plans:
        return
    orphans = _customers_assign(account=account, plans=plans)
    _orders_create(account=account, orders=[p.order for p in plans if p.new])
    lines_apply(account=account, plans=plans, flow=flow, run=run, counts=counts)
    _orders_update(plans=plans, counts=counts)
    mcf_orders_link(account=account, orders=[p.order for p in plans])
    if orphans:
        Customer.objects.filter(pk__in=orphans, orders__isnull=True).delete()
    canceled = [p.order.pk for p in plans
                if p.order.status == OrderStatus.CANCELED and p.old_status != OrderStatus.CANCELED]
    if canceled:
        shipments_cancel(order_ids=canceled)


def _latest_versions(batch: Sequence[OrderData], counts: UpsertCounts) -> dict[str, OrderData]:
    """The newest data per order of the batch; the batch's latest update time in counts."""
    latest: dict[str, OrderData] = {}
    for data in batch:
        seen = latest.get(data.amazon_order_id)
        if seen is None or data.last_update_date >= seen.last_update_date:
            latest[data.amazon_order_id] = data
        stamp = data.last_update_date
        if counts.latest_update is None or stamp > counts.latest_update:
            counts.latest_update = stamp
    return latest


def _plans(*, account, latest: dict[str, OrderData], flow, run, counts: UpsertCounts,
           now) -> list[OrderPlan]:
    """What to store per order: new ones, changed ones; stale data counted unchanged and
    orders of unknown marketplaces queued as exceptions."""
    markets = {m.pk: m for m in Marketplace.objects.filter(
        pk__in={d.marketplace_id for d in latest.values()})}
    existing = {o.amazon_order_id: o for o in Order.objects.filter(
        account=account, amazon_order_id__in=list(latest))}
    plans: list[OrderPlan] = []
    for order_id, data in latest.items():
        market = markets.get(data.marketplace_id)
        if market is None:
            counts.exceptions += 1
            exception_record(
                flow=flow, object_kind="order", object_key=order_id,
                reason_code=UNKNOWN_MARKETPLACE, owner_team=Team.OPS, account=account,
                message=f"Order {order_id} is for marketplace {data.marketplace_id!r}, which "
                "is not in the marketplace reference data.",
                payload={"amazon_order_id": order_id, "marketplace_id": data.marketplace_id},
                run=run,
            )
            continue
        order = existing.get(order_id)
        if order is None:
            plans.append(_plan_new(account=account, market=market, data=data, now=now))
            continue
        plan = _plan_update(order=order, market=market, data=data, now=now)
        if plan is None:
            counts.unchanged += 1  # stale, or less complete than what we have
            continue
        plans.append(plan)
    return plans


def _plan_new(*, account, market: Marketplace, data: OrderData, now) -> OrderPlan:
    values = dict(data.values)
    values.setdefault("currency", market.currency)
    order = Order(
        account=account, marketplace=market, amazon_order_id=data.amazon_order_id,
        source=data.source, first_stored_at=now, raw=data.raw, **values,
        version_stored_at=now if data.source == Source.API else None,
    )
    if order.status == OrderStatus.SHIPPED:
        order.shipped_at = order.last_update_date
    return OrderPlan(order, data, True, set(), None)


def _plan_update(*, order: Order, market: Marketplace, data: OrderData, now
                 ) -> OrderPlan | None:
    """The stored order brought to ``data`` (in memory); None when the data is stale or a
    report version of what the API already gave."""
    if order.last_update_date > data.last_update_date or (
        order.last_update_date == data.last_update_date
        and order.source == Source.API and data.source == Source.REPORT
    ):
        return None
    new_version = (data.source == Source.API
                   and order.last_update_date != data.last_update_date)
    changed = {name for name, value in data.values.items()
               if getattr(order, name) != value}
    plan = OrderPlan(order, data, False, changed, order.status, order.customer_id)
    for name in changed:
        setattr(order, name, data.values[name])
    if new_version:  # a new version from Amazon's API, stored now
        order.version_stored_at = now
        changed.add("version_stored_at")
    if order.marketplace_id != market.pk:
        order.marketplace = market
        changed.add("marketplace")
    if data.source == Source.API and order.source != Source.API:
        order.source = Source.API
        changed.add("source")
    if (changed or data.source == Source.API) and order.raw != data.raw:
        order.raw = data.raw
        if changed:
            changed.add("raw")
    if order.status == OrderStatus.SHIPPED and order.shipped_at is None:
        order.shipped_at = order.last_update_date
        changed.add("shipped_at")
    return plan


def _orders_create(*, account, orders: list[Order]) -> None:
    Order.objects.bulk_create(orders)
    if any(o.pk is None for o in orders):  # backends without RETURNING
        ids = {o.amazon_order_id: o.pk for o in Order.objects.filter(
            account=account, amazon_order_id__in=[o.amazon_order_id for o in orders])}
        for o in orders:
            o.pk = o.id = ids[o.amazon_order_id]


def _orders_update(*, plans: list[OrderPlan], counts: UpsertCounts) -> None:
    """Count the plans and write the changed orders (one bulk update)."""
    fields: set[str] = set()
    to_update = []
    for plan in plans:
        if plan.new:
            counts.created += 1
            counts.created_ids.append(plan.order.amazon_order_id)
        elif plan.changed or plan.lines_changed:
            counts.updated += 1
            counts.changed_ids.append(plan.order.amazon_order_id)
            if plan.changed:
                fields |= plan.changed
                to_update.append(plan.order)
        else:
            counts.unchanged += 1
    if to_update:
        Order.objects.bulk_update(to_update, sorted(fields | {"updated_at"}), batch_size=500)


def _customers_assign(*, account, plans: list[OrderPlan]) -> list[int]:
    """Give every order its customer: by buyer token, else one per order. Returns the ids of
    per-order customers replaced by a token customer (deleted once unused)."""
    latest = {p.data.buyer_token: p.data for p in plans if p.data.buyer_token}
    by_token = _customers_by(
        account=account, field="buyer_token", keys=set(latest),
        new=lambda t: Customer(account=account, buyer_token=t,
                               name=latest[t].buyer_name[:255],
                               country_code=latest[t].values.get("ship_country", "")[:2]))
    by_order = _customers_by(  # one customer per order without a buyer token (and none yet)
        account=account, field="order_key",
        keys={p.order.amazon_order_id for p in plans
              if not p.data.buyer_token and p.order.customer_id is None},
        new=lambda k: Customer(account=account, order_key=k))
    orphans = []
    for plan in plans:
        order = plan.order
        token = plan.data.buyer_token
        customer = by_token[token] if token else by_order.get(order.amazon_order_id)
        if customer is None or customer.pk == order.customer_id:
            continue
        if order.customer_id is not None:
            orphans.append(order.customer_id)
        order.customer = customer
        if not plan.new:
            plan.changed.add("customer")
    return orphans


def _customers_by(*, account, field: str, keys: set[str], new) -> dict[str, Customer]:
    """The account's customers by ``field`` (buyer token or order key); the missing ones
    created with ``new(key)`` (a concurrent creation is fine: they are read back)."""
    if not keys:
        return {}
    found = {getattr(c, field): c for c in Customer.objects.filter(
        account=account, **{f"{field}__in": keys})}
    missing = keys - set(found)
    if missing:
        Customer.objects.bulk_create([new(k) for k in sorted(missing)], ignore_conflicts=True)
        found.update({getattr(c, field): c for c in Customer.objects.filter(
            account=account, **{f"{field}__in": missing})})
    return found

"""Multi-channel (MCF) orders linked to the orders they fulfil.

An MCF order is sold outside Amazon (sales channel ``Non-Amazon``) and fulfilled by Amazon
from the seller's FBA stock; its merchant order id (``seller_order_id``) is the seller's id
for the sale. This back office keeps no orders of other channels, so the order an MCF order
fulfils is one of ours: the account's Amazon order whose Amazon order id or seller order id
is that merchant order id (a replacement sent through MCF, an order the seller also keeps
under its own id). Exactly one such order links; none or several leave the MCF order
unlinked (never a guess). Orders stored later link too: every upsert batch looks both ways.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from ..models import Order, SalesChannel


def mcf_orders_link(*, account, orders: Iterable[Order]) -> int:
    """Link the unlinked MCF orders among ``orders``, and those waiting on the Amazon orders
    among ``orders``, to the order they fulfil. Returns how many were linked. Runs inside the
    caller's transaction (the upsert batch)."""
    keys: set[str] = set()
    for order in orders:
        if order.sales_channel == SalesChannel.MCF:
            if order.fulfils_id is None and order.seller_order_id:
                keys.add(order.seller_order_id)
        else:
            keys |= {order.amazon_order_id, order.seller_order_id} - {""}
    if not keys:
        return 0
    waiting = list(Order.objects.filter(
        account=account, sales_channel=SalesChannel.MCF, fulfils__isnull=True,
        seller_order_id__in=keys,
    ).values_list("pk", "seller_order_id"))
    if not waiting:
        return 0
    wanted = {key for _, key in waiting}
    targets: dict[str, set[int]] = defaultdict(set)
    for pk, amazon_id, seller_id in Order.objects.filter(
        Q(amazon_order_id__in=wanted) | Q(seller_order_id__in=wanted),
        account=account, sales_channel=SalesChannel.AMAZON,
    ).values_list("pk", "amazon_order_id", "seller_order_id"):
        for key in {amazon_id, seller_id} & wanted:
            targets[key].add(pk)
    by_target: dict[int, list[int]] = defaultdict(list)
    for pk, key in waiting:
        found = targets.get(key, set())
        if len(found) == 1:
            by_target[next(iter(found))].append(pk)
    linked = 0
    now = timezone.now()
    for target, pks in by_target.items():
        linked += Order.objects.filter(pk__in=pks).update(fulfils_id=target, updated_at=now)
    return linked

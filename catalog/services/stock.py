"""The one write of stock quantities: merchant stock per item, FBA stock per listing.

Every app that moves stock (orders reserving and shipping, returns restocking) calls
``stock_adjust``; the kit rule lives in ``catalog.selectors.kit_expand`` and nowhere else.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import selectors
from ..models import FbaStock, Item, Listing, MerchantStock

log = logging.getLogger(__name__)

MERCHANT = "merchant"  # MerchantStock, per item: our own warehouse, feeds MFN listings
FBA = "fba"  # FbaStock, per listing: Amazon's fulfilment centres
POOL_COLUMNS = {
    MERCHANT: ("on_hand", "reserved"),
    FBA: ("fulfillable", "unfulfillable", "inbound", "reserved"),
}


class StockError(ValueError):
    """A stock adjustment asked for something that does not exist (pool, column, target)."""


@dataclass(frozen=True)
class StockChange:
    """One stock row's column changed: for the caller's audit record."""

    pool: str
    key: int  # item id (merchant pool) or listing id (FBA pool)
    column: str
    before: int
    after: int

    def as_dict(self) -> dict:
        target = "item" if self.pool == MERCHANT else "listing"
        return {target: self.key, "column": self.column, "before": self.before,
                "after": self.after}


def stock_changes_detail(changes: Iterable[StockChange]) -> dict[str, list[dict]]:
    """Changes as an audit detail: ``{"merchant_stock": [...], "fba_stock": [...]}`` (a pool
    only when it changed)."""
    out: dict[str, list[dict]] = {}
    for change in changes:
        out.setdefault(f"{change.pool}_stock", []).append(change.as_dict())
    return out


def stock_adjust(
    *,
    pool: str,
    reason: str,
    item: Item | int | None = None,
    listing: Listing | int | None = None,
    delta: int = 0,
    column: str | None = None,
    deltas: Mapping[int, Mapping[str, int]] | None = None,
) -> list[StockChange]:
    """Add ``delta`` units (negative: remove) to one stock pool, in one atomic write.

    ``pool=MERCHANT``: ``item`` (an Item or its id) and ``column`` ``"on_hand"`` (default) or
    ``"reserved"``; or ``deltas`` for many items at once: ``{item id: {column: units}}``.
    A kit holds no stock: its units land on the stocked items it stands for, kits of kits
    all the way down (``catalog.selectors.kit_expand``). Missing stock rows are created.
    On hand may go below zero (more left than was recorded: visible, never hidden); reserved
    never goes below zero.

    ``pool=FBA``: ``listing`` (a Listing or its id) and ``column`` ``"fulfillable"``
    (default), ``"unfulfillable"``, ``"inbound"`` or ``"reserved"``; no kit expansion (Amazon
    holds a kit listing as its own unit). The row is created if missing; no floor.

    ``reason`` says why (``"order"``, ``"return"``...), for the log. A zero delta writes
    nothing. Returns what changed, one ``StockChange`` per row and column (before/after
    read under the row lock), merchant rows in item order.
    """
    if pool == MERCHANT:
        if deltas is None:
            if item is None or listing is not None:
                raise StockError("merchant stock is adjusted per item")
            deltas = {_pk(item): {column or "on_hand": delta}}
        elif item is not None or listing is not None or delta:
            raise StockError("give either item and delta, or deltas")
        changes = _merchant_adjust(deltas)
    elif pool == FBA:
        if listing is None or item is not None or deltas is not None:
            raise StockError("FBA stock is adjusted per listing")
        changes = _fba_adjust(_pk(listing), column or "fulfillable", delta)
    else:
        raise StockError(f"unknown stock pool {pool!r}")
    if changes:
        log.debug("stock %s (%s): %s", pool, reason, changes)
    return changes


def _pk(obj) -> int:
    return obj if isinstance(obj, int) else obj.pk


def _check_column(pool: str, column: str) -> None:
    if column not in POOL_COLUMNS[pool]:
        raise StockError(f"{pool} stock has no column {column!r}")


def _merchant_adjust(deltas: Mapping[int, Mapping[str, int]]) -> list[StockChange]:
    for columns in deltas.values():
        for column in columns:
            _check_column(MERCHANT, column)
    wanted = {i: d for i, d in deltas.items() if any(d.values())}
    if not wanted:
        return []
    kits = selectors.kit_components(wanted)
    expanded: dict[int, dict[str, int]] = defaultdict(dict)
    for column in POOL_COLUMNS[MERCHANT]:
        parts = selectors.kit_expand(((i, d.get(column, 0)) for i, d in wanted.items()), kits)
        for item_id, units in parts.items():
            if units:
                expanded[item_id][column] = units
    if not expanded:
        return []
    with transaction.atomic():
        before = _merchant_rows_locked(sorted(expanded))
        now = timezone.now()
        changes = []
        for item_id, columns in sorted(expanded.items()):
            on_hand = columns.get("on_hand", 0)
            reserved = columns.get("reserved", 0)
            MerchantStock.objects.filter(item_id=item_id).update(
                reserved=Greatest(F("reserved") + reserved, Value(0)),
                on_hand=F("on_hand") + on_hand, updated_at=now,
            )
            old_on_hand, old_reserved = before[item_id]
            if on_hand:
                changes.append(StockChange(MERCHANT, item_id, "on_hand", old_on_hand,
                                           old_on_hand + on_hand))
            if reserved:
                changes.append(StockChange(MERCHANT, item_id, "reserved", old_reserved,
                                           max(0, old_reserved + reserved)))
    return changes


def _merchant_rows_locked(item_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(on hand, reserved) of the items' stock rows, locked; missing rows created first."""

    def read(ids: list[int]) -> dict[int, tuple[int, int]]:
        rows = (MerchantStock.objects.select_for_update().filter(item_id__in=ids)
                .order_by("item_id").values_list("item_id", "on_hand", "reserved"))
        return {i: (on_hand, reserved) for i, on_hand, reserved in rows}

    found = read(item_ids)
    missing = [i for i in item_ids if i not in found]
    if missing:
        MerchantStock.objects.bulk_create([MerchantStock(item_id=i) for i in missing],
                                          ignore_conflicts=True)
        found.update(read(missing))
    return found


def _fba_adjust(listing_id: int, column: str, delta: int) -> list[StockChange]:
    _check_column(FBA, column)
    if not delta:
        return []
    with transaction.atomic():
        stock, _ = FbaStock.objects.select_for_update().get_or_create(listing_id=listing_id)
        before = getattr(stock, column)
        FbaStock.objects.filter(pk=stock.pk).update(**{column: F(column) + delta})
    return [StockChange(FBA, listing_id, column, before, before + delta)]

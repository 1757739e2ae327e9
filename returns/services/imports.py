"""Report rows -> ReturnEvents: the FBA and MFN returns reports imported in one transaction,
each row upserted on its natural key (account, order, SKU, reference, return date,
disposition), its marketplace worked out when a file on disk does not say, its order and
order line linked, then its disposition applied to stock (``dispositions``). A row that
cannot be applied is kept raw in the exception queue and retried from there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from amazonsync.flatfiles.reading import ReportSource
from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, register_retry
from catalog.models import Listing
from catalog.services import listing_discover
from marketplaces.models import Marketplace, SellerAccount
from marketplaces.services import account_marketplaces_learn

from ..models import ReturnEvent
from ..parsers import CHANNEL, BadReturnRow, ReturnRow, parse_returns, parse_row
from .common import BAD_ROW, FLOW, MARKETPLACE_UNKNOWN
from .dispositions import return_adjustment_apply
from .origin import MarketplaceResolver, file_dayfirst, file_encodings

DISCOVERY_SOURCE = "returns"

# The fields a re-imported row may change on the same return (its natural key stays).
_UPDATABLE = (
    "marketplace_id", "channel", "asin", "fnsku", "product_name", "quantity", "reason",
    "customer_comment", "status", "fulfillment_center", "license_plate_number", "rma_id",
    "received_at", "currency", "refunded_amount", "raw",
)


@dataclass
class ImportCounts:
    report_type: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    exceptions: int = 0

    def as_dict(self) -> dict:
        return {"report_type": self.report_type, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "exceptions": self.exceptions}


def returns_import(
    *,
    account: SellerAccount,
    source: ReportSource,
    report_type: str,
    marketplace: Marketplace | None = None,
    name: str | None = None,
    run=None,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> ImportCounts:
    """Import one FBA or MFN returns report for ``account`` (one transaction).

    Rows are upserted on the natural key; a row that cannot be applied is kept raw as an
    exception with its reason. Raises ReportFormatError when the file is not a report of
    that type. ``marketplace`` is the file's (the flow's, ``import_report --marketplace``);
    without it each row's is worked out (``origin``). The file's marketplace, else the
    account's, gives the order of day and month and the legacy encodings the file may be
    in; ``encoding`` says which it is in (someone who knows).
    """
    resolver = MarketplaceResolver(account, marketplace)
    report = parse_returns(source, report_type=report_type, name=name,
                           dayfirst=file_dayfirst(resolver),
                           encodings=file_encodings(resolver), encoding=encoding)
    counts = ImportCounts(report_type=report_type)
    source_name = (name or report.source_name or "")[:255]
    placed: dict[str, Marketplace] = {}
    with transaction.atomic():
        for row in report.rows():
            counts.rows += 1
            if progress is not None:
                progress(1)
            if isinstance(row, BadReturnRow):
                _bad_row(account=account, marketplace=marketplace, row=row,
                         report_type=report_type, source=source_name, run=run)
                counts.exceptions += 1
                continue
            outcome, event = return_apply(account=account, row=row, report_type=report_type,
                                          resolver=resolver, source=source_name, run=run)
            if event is None:
                counts.exceptions += 1
            else:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
                placed.setdefault(event.marketplace_id, event.marketplace)
        account_marketplaces_learn(account=account, marketplaces=placed.values())
    return counts


def _row_key(account: SellerAccount, report_type: str, raw: dict) -> str:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
    kind = CHANNEL[report_type]
    order = raw.get("order-id") or raw.get("order id") or "-"
    return f"{account.selling_partner_id}/{kind}/{order}/{digest}"


def _bad_row(*, account, marketplace, row: BadReturnRow, report_type: str, source: str,
             run) -> SyncException:
    column = f" (column '{row.column}')" if row.column else ""
    return exception_record(
        flow=FLOW, account=account, marketplace=marketplace, object_kind="return_row",
        object_key=_row_key(account, report_type, row.raw), reason_code=BAD_ROW,
        message=f"{source or 'report'} line {row.line}: {row.error}{column}. The row is kept "
        "as it was read; fix the value at the source and import again.",
        owner_team=Team.OPS, run=run,
        payload={"report_type": report_type, "row": row.raw, "line": row.line,
                 "source": source, "error": row.error, "column": row.column or ""},
    )


def _order_link(event: ReturnEvent) -> dict:
    """The order and order line of a return, by (account, Amazon order id) and SKU."""
    from orders.models import Order, OrderLine

    order = Order.objects.filter(account_id=event.account_id,
                                 amazon_order_id=event.order_id).first()
    if order is None:
        return {}
    line = OrderLine.objects.filter(order=order, seller_sku=event.seller_sku).first()
    return {"linked_order": order, "order_line": line}


def returns_link_orders(*, returns) -> int:
    """Link returns stored before their order arrived (orders by (account, order id))."""
    from orders.models import Order, OrderLine

    pending = list(returns.only("pk", "account_id", "order_id", "seller_sku"))
    if not pending:
        return 0
    orders = {
        (o.account_id, o.amazon_order_id): o.pk for o in Order.objects.filter(
            account_id__in={e.account_id for e in pending},
            amazon_order_id__in={e.order_id for e in pending},
        ).only("pk", "account_id", "amazon_order_id")
    }
    if not orders:
        return 0
    lines = {
        (line.order_id, line.seller_sku): line.pk
        for line in OrderLine.objects.filter(order_id__in=orders.values())
        .only("pk", "order_id", "seller_sku")
    }
    linked = 0
    for event in pending:
        order_pk = orders.get((event.account_id, event.order_id))
        if order_pk is None:
            continue
        ReturnEvent.objects.filter(pk=event.pk).update(
            linked_order_id=order_pk, order_line_id=lines.get((order_pk, event.seller_sku)))
        linked += 1
    return linked


def return_apply(
    *,
    account: SellerAccount,
    row: ReturnRow,
    report_type: str,
    resolver: MarketplaceResolver | None = None,
    source: str = "",
    run=None,
) -> tuple[str, ReturnEvent | None]:
    """Upsert one parsed return row; returns ('created'|'updated'|'unchanged', event), or
    ('exception', None) when it cannot be applied (kept raw in the queue).

    Steps: its marketplace (or an exception), its listing (discovered), the return upserted
    on its natural key, its order linked, its row exception resolved, its disposition
    applied to stock."""
    resolver = resolver or MarketplaceResolver(account, None)
    marketplace = resolver(row)
    row_key = _row_key(account, report_type, row.raw)
    if marketplace is None:
        _marketplace_unknown(account=account, row=row, report_type=report_type,
                             row_key=row_key, source=source, run=run,
                             why=resolver.why_unknown())
        return "exception", None
    channel = CHANNEL[report_type]
    listing = listing_discover(account=account, marketplace=marketplace,
                               seller_sku=row.seller_sku, source=DISCOVERY_SOURCE,
                               asin=row.asin, channel=channel)
    with transaction.atomic():
        outcome, event = _return_upsert(
            key=_natural_key(account, row), values=_row_values(row, marketplace, channel),
            listing=listing, report_type=report_type, source=source,
        )
        _order_link_refresh(event)
    exception_resolve(flow=FLOW, object_kind="return_row", object_key=row_key,
                      note="resolved: the return was stored")
    return_adjustment_apply(return_event=event, run=run)
    return outcome, event


def _marketplace_unknown(*, account: SellerAccount, row: ReturnRow, report_type: str,
                         row_key: str, source: str, run, why: str) -> None:
    exception_record(
        flow=FLOW, account=account, object_kind="return_row", object_key=row_key,
        reason_code=MARKETPLACE_UNKNOWN, owner_team=Team.OPS, run=run,
        message=f"Return of order {row.order_id} (SKU {row.seller_sku}): cannot tell its "
        f"marketplace: {why}.",
        payload={"report_type": report_type, "row": row.raw, "line": row.line,
                 "source": source},
    )


def _natural_key(account: SellerAccount, row: ReturnRow) -> dict:
    return {
        "account": account,
        "order_id": row.order_id[:32],
        "seller_sku": row.seller_sku[:64],
        "reference": row.reference[:64],
        "return_date": row.return_date,
        "disposition": row.disposition[:64],
    }


def _row_values(row: ReturnRow, marketplace: Marketplace, channel: str) -> dict:
    """The ``_UPDATABLE`` fields of a return as the row gives them."""
    return {
        "marketplace_id": marketplace.pk,
        "channel": channel,
        "asin": row.asin,
        "fnsku": row.fnsku,
        "product_name": row.product_name,
        "quantity": row.quantity,
        "reason": row.reason[:64],
        "customer_comment": row.customer_comment,
        "status": row.status[:64],
        "fulfillment_center": row.fulfillment_center,
        "license_plate_number": row.license_plate_number[:64],
        "rma_id": row.rma_id[:64],
        "received_at": row.received_at,
        "currency": row.currency,
        "refunded_amount": row.refunded_amount,
        "raw": row.raw,
    }


def _return_upsert(*, key: dict, values: dict, listing: Listing, report_type: str,
                   source: str) -> tuple[str, ReturnEvent]:
    """Create the return, or update what changed on it (locked; a concurrent create wins
    and this row is then compared with it)."""
    event = ReturnEvent.objects.select_for_update().filter(**key).first()
    if event is None:
        try:
            with transaction.atomic():
                event = ReturnEvent.objects.create(
                    **key, **values, listing=listing, item_id=listing.item_id,
                    report_type=report_type, source=source,
                )
            return "created", event
        except IntegrityError:  # stored meanwhile by a concurrent import
            event = ReturnEvent.objects.select_for_update().get(**key)
    return _return_update(event, values, listing), event


def _return_update(event: ReturnEvent, values: dict, listing: Listing) -> str:
    """'updated' when the row changed a field (or brought the listing or item), else
    'unchanged'."""
    changed = [f for f in _UPDATABLE if getattr(event, f) != values[f]]
    if event.listing_id is None or (event.item_id is None and listing.item_id):
        event.listing, event.item_id = listing, listing.item_id
        changed += ["listing", "item"]
    if not changed:
        return "unchanged"
    for name in changed:
        if name in values:
            setattr(event, name, values[name])
    event.save(update_fields=[*changed, "updated_at"])
    return "updated"


def _order_link_refresh(event: ReturnEvent) -> None:
    links = _order_link(event)
    if links and any(getattr(event, f"{k}_id") != (v.pk if v else None)
                     for k, v in links.items()):
        for name, value in links.items():
            setattr(event, name, value)
        event.save(update_fields=[*links, "updated_at"])


@register_retry("return_row")
def _retry_return_row(exc: SyncException) -> bool:
    payload = exc.payload or {}
    report_type = payload.get("report_type")
    raw = payload.get("row")
    if not report_type or not isinstance(raw, dict) or exc.account_id is None:
        return False
    account = SellerAccount.objects.get(pk=exc.account_id)
    marketplace = Marketplace.objects.filter(pk=exc.marketplace_id).first()
    resolver = MarketplaceResolver(account, marketplace)
    row = parse_row(raw, report_type=report_type, dayfirst=file_dayfirst(resolver))
    if isinstance(row, BadReturnRow):
        return False
    _, event = return_apply(account=account, row=row, report_type=report_type,
                            resolver=resolver, source=payload.get("source", ""))
    if event is not None:
        account_marketplaces_learn(account=account, marketplaces=[event.marketplace])
    return event is not None

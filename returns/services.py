"""Writes for returns: import (idempotent upsert on the natural key), disposition rules
applied to stock once per return, refund matching, reimbursement candidates and credit
memos. Every function is atomic and takes keyword-only arguments."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from amazonsync.models import SyncException, Team
from amazonsync.reports import ReportSource, quantize_money
from amazonsync.services import exception_record, exception_resolve, register_retry
from catalog.models import FbaStock, Item, Listing, MerchantStock
from catalog.services import WAITING_ON_MAPPING, listing_discover, listing_key
from marketplaces.models import AccountMarketplace, Marketplace, SellerAccount

from .defaults import AMAZON_FAULT
from .models import (
    Action,
    Channel,
    CreditMemo,
    DispositionRule,
    InventoryAdjustment,
    Pool,
    RefundMatch,
    RefundOutcome,
    ReimbursementCandidate,
    ReturnEvent,
)
from .parsers import (
    CHANNEL,
    BadReturnRow,
    ReturnRow,
    parse_returns,
    parse_row,
)

log = logging.getLogger(__name__)

FLOW = "returns"
ZERO = Decimal("0")
NOT_RETURNED_AFTER = datetime.timedelta(days=45)
DISCOVERY_SOURCE = "returns"

# Exception reasons of this app.
BAD_ROW = "bad_row"
MARKETPLACE_UNKNOWN = "marketplace_unknown"
NO_RULE = "no_disposition_rule"
MFN_FOLLOW_UP = "mfn_refund_not_returned"
MEMO_CHANGED = "credit_memo_changed_after_export"

# Settlement lines that pay the seller back for lost, damaged or unreturned FBA units.
REIMBURSEMENT_TYPES = ("fba inventory reimbursement",)
REIMBURSEMENT_DESCRIPTIONS = (
    "reversal_reimbursement", "warehouse_damage", "warehouse_lost", "customer_return",
    "customerreturn", "customer_return_reimbursement", "carrier_damage",
    "inbound_carrier_damage", "free_replacement_refund_items", "compensated_clawback",
)
# Which reimbursement reasons fit which candidate kind best (others still close them).
PREFERRED = {
    ReimbursementCandidate.Kind.REFUNDED_NOT_RETURNED: ("customer_return", "customerreturn",
                                                        "reversal_reimbursement",
                                                        "customer_return_reimbursement"),
    ReimbursementCandidate.Kind.AMAZON_DAMAGED: ("warehouse_damage", "carrier_damage",
                                                 "inbound_carrier_damage", "warehouse_lost"),
}


class ReturnsError(Exception):
    """A business rule refused the operation; the message says why."""


# --------------------------------------------------------------------------- import


@dataclass
class ImportCounts:
    report_type: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    exceptions: int = 0
    return_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"report_type": self.report_type, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "exceptions": self.exceptions}


def _dayfirst(account: SellerAccount, marketplace: Marketplace | None) -> bool:
    """US and CA write 01/02/2024 month first; everybody else day first."""
    if marketplace is not None:
        return marketplace.code not in ("US", "CA")
    return account.region != "NA"


def returns_import(
    *,
    account: SellerAccount,
    source: ReportSource,
    report_type: str,
    marketplace: Marketplace | None = None,
    name: str | None = None,
    run=None,
    progress: Callable[[int], None] | None = None,
) -> ImportCounts:
    """Import one FBA or MFN returns report for ``account`` (one transaction).

    Rows are upserted on the natural key; a row that cannot be applied is kept raw as an
    exception with its reason. Raises ReportFormatError when the file is not a report of
    that type. ``marketplace`` is known in the flow; from a file it is worked out per row.
    """
    report = parse_returns(source, report_type=report_type, name=name,
                           dayfirst=_dayfirst(account, marketplace))
    counts = ImportCounts(report_type=report_type)
    source_name = (name or report.source_name or "")[:255]
    resolver = _MarketplaceResolver(account, marketplace)
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
                counts.return_ids.append(event.pk)
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


class _MarketplaceResolver:
    """The marketplace of a return row: given (flow), or worked out for a file on disk."""

    def __init__(self, account: SellerAccount, marketplace: Marketplace | None) -> None:
        self.account = account
        self.fixed = marketplace
        self._links: list[Marketplace] | None = None

    @property
    def links(self) -> list[Marketplace]:
        if self._links is None:
            self._links = [
                link.marketplace for link in AccountMarketplace.objects.filter(
                    account=self.account).select_related("marketplace")
            ]
        return self._links

    def __call__(self, row: ReturnRow) -> Marketplace | None:
        if self.fixed is not None:
            return self.fixed
        if len(self.links) == 1:
            return self.links[0]
        order_mp = _order_marketplace(self.account, row.order_id)
        if order_mp is not None:
            return Marketplace.objects.filter(pk=order_mp).first()
        from settlements.models import SettlementLine

        mp_id = (
            SettlementLine.objects.filter(settlement__account=self.account,
                                          order_id=row.order_id,
                                          settlement__marketplace__isnull=False)
            .values_list("settlement__marketplace", flat=True).first()
        )
        if mp_id:
            return Marketplace.objects.filter(pk=mp_id).first()
        listed = set(Listing.objects.filter(account=self.account, seller_sku=row.seller_sku)
                     .values_list("marketplace", flat=True))
        if len(listed) == 1:
            return Marketplace.objects.filter(pk=listed.pop()).first()
        if row.currency:
            same = [m for m in self.links if m.currency == row.currency]
            if len(same) == 1:
                return same[0]
        return None


def _order_marketplace(account: SellerAccount, order_id: str) -> str | None:
    from orders.models import Order

    return (Order.objects.filter(account=account, amazon_order_id=order_id)
            .values_list("marketplace_id", flat=True).first())


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


# The fields a re-imported row may change on the same return (its natural key stays).
_UPDATABLE = (
    "marketplace_id", "channel", "asin", "fnsku", "product_name", "quantity", "reason",
    "customer_comment", "status", "fulfillment_center", "license_plate_number", "rma_id",
    "received_at", "currency", "refunded_amount", "raw",
)


def return_apply(
    *,
    account: SellerAccount,
    row: ReturnRow,
    report_type: str,
    resolver: Callable[[ReturnRow], Marketplace | None] | None = None,
    source: str = "",
    run=None,
) -> tuple[str, ReturnEvent | None]:
    """Upsert one parsed return row; returns ('created'|'updated'|'unchanged', event), or
    ('exception', None) when it cannot be applied (kept raw in the queue)."""
    resolver = resolver or _MarketplaceResolver(account, None)
    marketplace = resolver(row)
    row_key = _row_key(account, report_type, row.raw)
    if marketplace is None:
        exception_record(
            flow=FLOW, account=account, object_kind="return_row", object_key=row_key,
            reason_code=MARKETPLACE_UNKNOWN, owner_team=Team.OPS, run=run,
            message=f"Return of order {row.order_id} (SKU {row.seller_sku}): cannot tell its "
            "marketplace (the account sells in several and neither the order, a settlement "
            "nor a listing says which). Import the file with an account that sells in one "
            "marketplace, or retry once the order or listing is known.",
            payload={"report_type": report_type, "row": row.raw, "line": row.line,
                     "source": source},
        )
        return "exception", None
    channel = CHANNEL[report_type]
    listing = listing_discover(account=account, marketplace=marketplace,
                               seller_sku=row.seller_sku, source=DISCOVERY_SOURCE,
                               asin=row.asin, channel=channel)
    values = {
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
    key = {
        "account": account,
        "order_id": row.order_id[:32],
        "seller_sku": row.seller_sku[:64],
        "reference": row.reference[:64],
        "return_date": row.return_date,
        "disposition": row.disposition[:64],
    }
    with transaction.atomic():
        event = ReturnEvent.objects.select_for_update().filter(**key).first()
        if event is None:
            try:
                with transaction.atomic():
                    event = ReturnEvent.objects.create(
                        **key, **values, listing=listing, item_id=listing.item_id,
                        report_type=report_type, source=source,
                    )
                outcome = "created"
            except IntegrityError:  # stored meanwhile by a concurrent import
                event = ReturnEvent.objects.select_for_update().get(**key)
                outcome = "unchanged"
        else:
            outcome = "unchanged"
        if outcome == "unchanged":
            changed = [f for f in _UPDATABLE if getattr(event, f) != values[f]]
            if event.listing_id is None or (event.item_id is None and listing.item_id):
                event.listing, event.item_id = listing, listing.item_id
                changed += ["listing", "item"]
            if changed:
                for name in changed:
                    if name in values:
                        setattr(event, name, values[name])
                event.save(update_fields=[*changed, "updated_at"])
                outcome = "updated"
        links = _order_link(event)
        if links and any(getattr(event, f"{k}_id") != (v.pk if v else None)
                         for k, v in links.items()):
            for name, value in links.items():
                setattr(event, name, value)
            event.save(update_fields=[*links, "updated_at"])
    exception_resolve(flow=FLOW, object_kind="return_row", object_key=row_key,
                      note="resolved: the return was stored")
    return_adjustment_apply(return_event=event, run=run)
    return outcome, event


# --------------------------------------------------------------------------- dispositions


def disposition_rule_for(*, disposition: str, channel: str, reason: str = ""
                         ) -> DispositionRule | None:
    """The most specific active rule: channel+reason, reason, channel, disposition alone."""
    if not disposition:
        return None
    reasons = Q(reason="")
    if reason:
        reasons |= Q(reason__iexact=reason)
    rules = DispositionRule.objects.filter(
        active=True, disposition__iexact=disposition, channel__in=[channel, ""],
    ).filter(reasons)
    best = None
    best_rank = (-1, -1)
    for rule in rules:
        rank = (1 if rule.reason else 0, 1 if rule.channel else 0)
        if rank > best_rank:
            best, best_rank = rule, rank
    return best


def disposition_rules_ensure() -> int:
    """The default rules exist (after a test flush, for the demo); edited ones stay."""
    from .defaults import seed_rules

    return seed_rules(DispositionRule)


def _return_key(event: ReturnEvent) -> str:
    return (f"{event.account.selling_partner_id}/{event.channel}/{event.order_id}/"
            f"{event.seller_sku}/{event.reference or '-'}/{event.return_date:%Y-%m-%dT%H:%M}/"
            f"{event.disposition or '-'}")


@dataclass
class AdjustmentOutcome:
    adjustment: InventoryAdjustment | None
    applied: bool  # True only for the call that changed stock
    pending: str = ""  # why nothing was applied yet


def return_adjustment_apply(*, return_event: ReturnEvent, user=None, run=None
                            ) -> AdjustmentOutcome:
    """Apply the return's disposition rule to the right stock pool, once.

    FBA returns change the listing's FbaStock (sellable -> fulfillable, quarantine ->
    unfulfillable); MFN returns change the item's MerchantStock on hand (a kit's
    components). The adjustment is a OneToOne on the return: a second call, a rerun or a
    concurrent worker finds it and changes nothing.
    """
    with transaction.atomic():
        event = (ReturnEvent.objects.select_for_update(of=("self",))
                 .select_related("account", "listing").get(pk=return_event.pk))
        existing = InventoryAdjustment.objects.filter(return_event=event).first()
        if existing is not None:
            return AdjustmentOutcome(existing, applied=False)
        disposition = event.effective_disposition
        if not disposition:
            return AdjustmentOutcome(None, applied=False, pending="awaiting inspection")
        rule = disposition_rule_for(disposition=disposition, channel=event.channel,
                                    reason=event.reason)
        key = _return_key(event)
        if rule is None:
            exception_record(
                flow=FLOW, account=event.account, marketplace=event.marketplace,
                object_kind="return_event", object_key=key, reason_code=NO_RULE,
                owner_team=Team.OPS, run=run,
                message=f"No disposition rule for {disposition} ({event.channel}, reason "
                f"{event.reason or '-'}): add one under Returns › Disposition rules; the "
                "return is then applied by retrying this exception.",
                payload={"return_id": event.pk, "disposition": disposition,
                         "channel": event.channel, "reason": event.reason},
            )
            return AdjustmentOutcome(None, applied=False, pending="no disposition rule")
        pool, quantity = _pool_for(event.channel, rule.action, event.quantity)
        listing = event.listing
        item_id = listing.item_id if listing is not None else event.item_id
        if pool == Pool.MERCHANT_ON_HAND and item_id is None:
            lkey = listing_key(account=event.account, marketplace=event.marketplace,
                               seller_sku=event.seller_sku)
            exception_record(
                flow=FLOW, account=event.account, marketplace=event.marketplace,
                object_kind="return_event", object_key=key, reason_code=WAITING_ON_MAPPING,
                owner_team=Team.MERCH, run=run,
                message=f"MFN return of {event.seller_sku}: {event.quantity} unit(s) go back to "
                "merchant stock once the listing is mapped to an item.",
                payload={"return_id": event.pk, "listing_key": lkey},
            )
            return AdjustmentOutcome(None, applied=False, pending="waiting on mapping")
        if pool in (Pool.FBA_FULFILLABLE, Pool.FBA_UNFULFILLABLE) and listing is None:
            return AdjustmentOutcome(None, applied=False, pending="no listing")
        try:
            with transaction.atomic():
                adjustment = InventoryAdjustment.objects.create(
                    return_event=event, rule=rule, disposition=disposition,
                    action=rule.action, pool=pool, quantity=quantity, listing=listing,
                    item_id=item_id, applied_at=timezone.now(), applied_by=user,
                )
                adjustment.detail = _change_stock(pool, quantity, listing, item_id)
                adjustment.save(update_fields=["detail"])
        except IntegrityError:  # applied by a concurrent call: that one counts
            return AdjustmentOutcome(
                InventoryAdjustment.objects.get(return_event=event), applied=False
            )
        if event.item_id != item_id:
            ReturnEvent.objects.filter(pk=event.pk).update(item_id=item_id)
    for reason in (NO_RULE, WAITING_ON_MAPPING):
        exception_resolve(flow=FLOW, object_kind="return_event", object_key=key,
                          reason_code=reason, note="resolved: the return was applied to stock")
    return AdjustmentOutcome(adjustment, applied=True)


def _pool_for(channel: str, action: str, quantity: int) -> tuple[str, int]:
    if channel == Channel.FBA:
        if action == Action.SELLABLE:
            return Pool.FBA_FULFILLABLE, quantity
        if action == Action.QUARANTINE:
            return Pool.FBA_UNFULFILLABLE, quantity
        return Pool.NONE, 0
    if action == Action.SELLABLE:
        return Pool.MERCHANT_ON_HAND, quantity
    if action == Action.QUARANTINE:
        return Pool.MERCHANT_QUARANTINE, quantity
    return Pool.NONE, 0


def _change_stock(pool: str, quantity: int, listing: Listing | None,
                  item_id: int | None) -> dict:
    """Add ``quantity`` to the pool; returns what changed (before/after) for the audit."""
    if pool in (Pool.FBA_FULFILLABLE, Pool.FBA_UNFULFILLABLE):
        column = "fulfillable" if pool == Pool.FBA_FULFILLABLE else "unfulfillable"
        stock, _ = FbaStock.objects.select_for_update().get_or_create(listing=listing)
        before = getattr(stock, column)
        FbaStock.objects.filter(pk=stock.pk).update(**{column: F(column) + quantity})
        return {"fba_stock": [{"listing": listing.pk, "column": column, "before": before,
                               "after": before + quantity}]}
    if pool == Pool.MERCHANT_ON_HAND:
        item = Item.objects.get(pk=item_id)
        parts = [(c.component_id, c.quantity * quantity) for c in item.components.all()]
        changes = []
        for part_id, units in parts or [(item.pk, quantity)]:
            stock, _ = MerchantStock.objects.select_for_update().get_or_create(item_id=part_id)
            MerchantStock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") + units)
            changes.append({"item": part_id, "column": "on_hand", "before": stock.on_hand,
                            "after": stock.on_hand + units})
        return {"merchant_stock": changes}
    return {}


def return_grade(*, return_event: ReturnEvent, disposition: str, user=None
                 ) -> AdjustmentOutcome:
    """Record the disposition ops found when inspecting a return, and apply its rule."""
    disposition = disposition.strip().upper().replace(" ", "_")
    if not disposition:
        raise ReturnsError("Give the disposition found on inspection.")
    with transaction.atomic():
        event = ReturnEvent.objects.select_for_update().get(pk=return_event.pk)
        if InventoryAdjustment.objects.filter(return_event=event).exists():
            raise ReturnsError(
                f"Return {event} was already applied to stock; its disposition cannot change."
            )
        event.graded_disposition = disposition[:64]
        event.save(update_fields=["graded_disposition", "updated_at"])
    return return_adjustment_apply(return_event=event, user=user)


@register_retry("return_event")
def _retry_return_event(exc: SyncException) -> bool:
    event = ReturnEvent.objects.filter(pk=exc.payload.get("return_id")).first()
    if event is None:
        return True  # the return is gone: nothing is waiting any more
    if event.listing_id and event.item_id is None:
        item_id = Listing.objects.filter(pk=event.listing_id).values_list("item_id",
                                                                        flat=True).first()
        if item_id:
            ReturnEvent.objects.filter(pk=event.pk).update(item_id=item_id)
    outcome = return_adjustment_apply(return_event=event)
    return outcome.adjustment is not None


@register_retry("return_row")
def _retry_return_row(exc: SyncException) -> bool:
    payload = exc.payload or {}
    report_type = payload.get("report_type")
    raw = payload.get("row")
    if not report_type or not isinstance(raw, dict) or exc.account_id is None:
        return False
    account = SellerAccount.objects.get(pk=exc.account_id)
    marketplace = Marketplace.objects.filter(pk=exc.marketplace_id).first()
    row = parse_row(raw, report_type=report_type, dayfirst=_dayfirst(account, marketplace))
    if isinstance(row, BadReturnRow):
        return False
    _, event = return_apply(account=account, row=row, report_type=report_type,
                            resolver=_MarketplaceResolver(account, marketplace),
                            source=payload.get("source", ""))
    return event is not None


# --------------------------------------------------------------------------- matching


@dataclass
class MatchCounts:
    matches: int = 0
    changed: int = 0
    credit_memos: int = 0
    candidates_opened: int = 0
    candidates_closed: int = 0
    candidates_dismissed: int = 0
    follow_ups: int = 0


@dataclass
class _Refund:
    amount: Decimal = ZERO  # principal refunded, positive
    quantity: int = 0
    currency: str = ""
    first: datetime.datetime | None = None
    marketplace_id: str | None = None
    channel: str = ""
    line_ids: list[int] = field(default_factory=list)


def _line_time(line) -> datetime.datetime | None:
    if line.posted_date_time is not None:
        return line.posted_date_time
    if line.posted_date is not None:
        return datetime.datetime.combine(line.posted_date, datetime.time(),
                                         tzinfo=datetime.UTC)
    return None


def _refund_lines(account: SellerAccount, marketplace: Marketplace | None):
    from settlements.models import SettlementLine

    qs = SettlementLine.objects.filter(settlement__account=account,
                                       transaction_type__iexact="Refund").exclude(order_id="")
    if marketplace is not None:
        qs = qs.filter(Q(settlement__marketplace=marketplace)
                       | Q(settlement__marketplace__isnull=True))
    return qs.select_related("settlement").order_by("pk")


def refunds_match(
    *,
    account: SellerAccount,
    marketplace: Marketplace | None = None,
    now: datetime.datetime | None = None,
    run=None,
) -> MatchCounts:
    """Match settlement refund lines with returns per (order, SKU), and act on the outcome.

    Outcomes: refunded and returned; refunded but not returned after 45 days (FBA: a
    reimbursement candidate, MFN: a follow-up in the ops queue); returned but not refunded.
    FBA returns unsellable by Amazon's fault become reimbursement candidates too.
    Reimbursement lines in later settlements close candidates. Credit memos are kept one
    per refunded order line. Running it twice changes nothing the second time.
    """
    now = now or timezone.now()
    counts = MatchCounts()
    refunds: dict[tuple[str, str], _Refund] = defaultdict(_Refund)
    memo_lines: dict[tuple[str, str], list] = defaultdict(list)
    for line in _refund_lines(account, marketplace):
        sku = line.sku or ""
        memo_lines[(line.order_id, line.order_item_code or sku)].append(line)
        if not sku:
            continue
        refund = refunds[(line.order_id, sku)]
        refund.line_ids.append(line.pk)
        refund.currency = refund.currency or line.settlement.currency
        refund.marketplace_id = refund.marketplace_id or line.settlement.marketplace_id
        if not refund.channel and line.fulfillment_id:
            refund.channel = "FBA" if line.fulfillment_id.upper() in ("AFN", "AMAZON") \
                else "MFN"
        when = _line_time(line)
        if when is not None and (refund.first is None or when < refund.first):
            refund.first = when
        if _is_principal(line):
            refund.amount -= line.amount
            refund.quantity += line.quantity_purchased or 0

    returns_qs = ReturnEvent.objects.filter(account=account)
    if marketplace is not None:
        returns_qs = returns_qs.filter(marketplace=marketplace)
    returns_link_orders(returns=returns_qs.filter(linked_order__isnull=True))
    returned: dict[tuple[str, str], list[ReturnEvent]] = defaultdict(list)
    for event in returns_qs.order_by("return_date", "pk"):
        returned[(event.order_id, event.seller_sku)].append(event)

    existing = {
        (m.order_id, m.seller_sku): m
        for m in RefundMatch.objects.filter(account=account).filter(
            Q(order_id__in={k[0] for k in refunds} | {k[0] for k in returned})
        )
    }
    with transaction.atomic():
        for key in sorted(set(refunds) | set(returned)):
            match, changed = _match_upsert(
                account=account, key=key, refund=refunds.get(key), events=returned.get(key, []),
                existing=existing.get(key), now=now,
            )
            counts.matches += 1
            counts.changed += changed
            _act_on(match=match, events=returned.get(key, []), counts=counts, run=run)
        counts.credit_memos = _credit_memos_sync(account=account, memo_lines=memo_lines,
                                                 run=run)
        counts.candidates_closed = reimbursements_apply(account=account)
    return counts


def _is_principal(line) -> bool:
    return (line.amount_type.lower() == "itemprice"
            and line.amount_description.lower() == "principal")


def _match_upsert(*, account, key, refund: _Refund | None, events: list[ReturnEvent],
                  existing: RefundMatch | None, now) -> tuple[RefundMatch, bool]:
    order_id, sku = key
    returned_qty = sum(e.quantity for e in events)
    returned_at = events[0].return_date if events else None
    channel = events[0].channel if events else (refund.channel if refund else "")
    if not channel:
        channel = (Listing.objects.filter(account=account, seller_sku=sku)
                   .values_list("channel", flat=True).first() or "")
    marketplace_id = events[0].marketplace_id if events else refund.marketplace_id
    refunded_qty = (refund.quantity or 1) if refund else 0
    if refund is None:
        outcome = RefundOutcome.RETURNED_NOT_REFUNDED
    elif returned_qty >= refunded_qty:
        outcome = RefundOutcome.REFUNDED_RETURNED
    elif refund.first is not None and now - refund.first >= NOT_RETURNED_AFTER:
        outcome = RefundOutcome.REFUNDED_NOT_RETURNED
    else:
        outcome = RefundOutcome.AWAITING_RETURN
    values = {
        "marketplace_id": marketplace_id,
        "channel": channel,
        "refunded_amount": refund.amount if refund else ZERO,
        "currency": (refund.currency if refund else "") or (events[0].currency if events
                                                            else ""),
        "refunded_quantity": refunded_qty,
        "refunded_at": refund.first if refund else None,
        "returned_quantity": returned_qty,
        "returned_at": returned_at,
        "outcome": outcome,
        "follow_up": outcome == RefundOutcome.REFUNDED_NOT_RETURNED and channel == "MFN",
    }
    line_ids = sorted(refund.line_ids) if refund else []
    if existing is None:
        match = RefundMatch.objects.create(account=account, order_id=order_id,
                                           seller_sku=sku, matched_at=now, **values)
        if line_ids:
            match.refund_lines.set(line_ids)
        changed = True
    else:
        match = existing
        dirty = [k for k, v in values.items() if getattr(match, k) != v]
        if dirty:
            for k in dirty:
                setattr(match, k, values[k])
            match.matched_at = now
            match.save(update_fields=[*dirty, "matched_at"])
        stored = sorted(match.refund_lines.values_list("pk", flat=True))
        if stored != line_ids:
            match.refund_lines.set(line_ids)
            dirty.append("refund_lines")
        changed = bool(dirty)
    stale = [e.pk for e in events if e.refund_match_id != match.pk]
    if stale:
        ReturnEvent.objects.filter(pk__in=stale).update(refund_match=match)
    return match, changed


def _unit_value(match: RefundMatch | None) -> Decimal | None:
    if match is None or not match.refunded_amount or not match.refunded_quantity:
        return None
    return match.refunded_amount / match.refunded_quantity


def _money(amount: Decimal | None, currency: str) -> Decimal | None:
    if amount is None or not currency:
        return None
    return quantize_money(amount, currency)


def _act_on(*, match: RefundMatch, events: list[ReturnEvent], counts: MatchCounts,
            run) -> None:
    kind = ReimbursementCandidate.Kind
    status = ReimbursementCandidate.Status
    key = f"{match.account.selling_partner_id}/{match.order_id}/{match.seller_sku}"
    not_returned = match.outcome == RefundOutcome.REFUNDED_NOT_RETURNED
    # Refunded, never came back: FBA -> claim from Amazon; MFN -> follow up with the buyer.
    if not_returned and match.channel == Channel.FBA:
        missing = max(1, match.refunded_quantity - match.returned_quantity)
        unit = _unit_value(match)
        _, made = ReimbursementCandidate.objects.get_or_create(
            match=match,
            defaults={
                "account_id": match.account_id, "marketplace_id": match.marketplace_id,
                "kind": kind.REFUNDED_NOT_RETURNED, "order_id": match.order_id,
                "seller_sku": match.seller_sku, "quantity": missing,
                "amount_at_stake": _money(unit * missing if unit is not None else None,
                                          match.currency),
                "currency": match.currency, "opened_at": match.refunded_at,
            },
        )
        counts.candidates_opened += made
    elif not not_returned:
        counts.candidates_dismissed += ReimbursementCandidate.objects.filter(
            match=match, status=status.OPEN,
            kind=kind.REFUNDED_NOT_RETURNED,
        ).update(status=status.DISMISSED, closed_at=timezone.now())
    if match.follow_up:
        exception_record(
            flow=FLOW, account=match.account, marketplace=match.marketplace,
            object_kind="refund_match", object_key=key, reason_code=MFN_FOLLOW_UP,
            owner_team=Team.OPS, run=run,
            message=f"Order {match.order_id} ({match.seller_sku}) was refunded "
            f"{match.currency} {_money(match.refunded_amount, match.currency)} on "
            f"{match.refunded_at:%Y-%m-%d} and nothing came back in 45 days: follow up "
            "with the buyer (or file a SAFE-T claim).",
            payload={"match_id": match.pk, "order_id": match.order_id,
                     "seller_sku": match.seller_sku},
        )
        counts.follow_ups += 1
    else:
        exception_resolve(flow=FLOW, object_kind="refund_match", object_key=key,
                          reason_code=MFN_FOLLOW_UP,
                          note="resolved: the return arrived (or it was not MFN)")
    # Returned unsellable by Amazon's fault: claim each such FBA return.
    for event in events:
        if event.channel != Channel.FBA or not _amazon_fault(event):
            continue
        unit = _unit_value(match)
        if unit is None and event.listing_id:
            listing = Listing.objects.filter(pk=event.listing_id).only("price", "currency")\
                .first()
            if listing is not None and listing.price is not None:
                unit = listing.price
        currency = match.currency or event.currency
        if not currency and event.marketplace_id:
            currency = Marketplace.objects.get(pk=event.marketplace_id).currency
        _, made = ReimbursementCandidate.objects.get_or_create(
            return_event=event,
            defaults={
                "account_id": event.account_id, "marketplace_id": event.marketplace_id,
                "kind": kind.AMAZON_DAMAGED, "order_id": event.order_id,
                "seller_sku": event.seller_sku, "quantity": event.quantity,
                "amount_at_stake": _money(unit * event.quantity if unit is not None
                                          else None, currency),
                "currency": currency if unit is not None else currency,
                "opened_at": event.return_date,
            },
        )
        counts.candidates_opened += made


def _amazon_fault(event: ReturnEvent) -> bool:
    disposition = event.effective_disposition
    rule = disposition_rule_for(disposition=disposition, channel=event.channel,
                                reason=event.reason)
    if rule is not None:
        return rule.amazon_fault
    return disposition.upper() in AMAZON_FAULT


# --------------------------------------------------------------------------- reimbursements


def _is_reimbursement(line) -> bool:
    if line.amount <= 0:
        return False
    kinds = (line.transaction_type.lower(), line.amount_type.lower())
    return (any(k in REIMBURSEMENT_TYPES for k in kinds)
            or line.amount_description.lower() in REIMBURSEMENT_DESCRIPTIONS)


def reimbursements_apply(*, account: SellerAccount) -> int:
    """Close open candidates with reimbursement lines of later settlements (by SKU, and by
    order when the line names one). A line pays at most its quantity of units."""
    from settlements.models import SettlementLine

    open_candidates = list(
        ReimbursementCandidate.objects.filter(
            account=account, status=ReimbursementCandidate.Status.OPEN
        ).order_by("opened_at", "pk")
    )
    if not open_candidates:
        return 0
    skus = {c.seller_sku for c in open_candidates}
    lines = [
        line for line in SettlementLine.objects.filter(
            settlement__account=account, sku__in=skus, amount__gt=0,
        ).select_related("settlement").order_by("settlement__end_date", "pk")
        if _is_reimbursement(line)
    ]
    if not lines:
        return 0
    used: dict[int, int] = defaultdict(int)
    for row in (ReimbursementCandidate.objects.filter(reimbursement_line__in=lines)
                .values("reimbursement_line", "quantity")):
        used[row["reimbursement_line"]] += row["quantity"]
    closed = 0
    with transaction.atomic():
        for cand in open_candidates:
            line = _pick_line(cand, lines, used)
            if line is None:
                continue
            capacity = line.quantity_purchased or cand.quantity
            used[line.pk] += cand.quantity
            share = (line.amount * cand.quantity / capacity
                     if capacity > cand.quantity else line.amount)
            ReimbursementCandidate.objects.filter(
                pk=cand.pk, status=ReimbursementCandidate.Status.OPEN
            ).update(
                status=ReimbursementCandidate.Status.REIMBURSED, reimbursement_line=line,
                reimbursed_amount=quantize_money(share, line.settlement.currency),
                closed_at=_line_time(line) or line.settlement.end_date,
            )
            closed += 1
    return closed


def _pick_line(cand: ReimbursementCandidate, lines: list, used: dict[int, int]):
    preferred = PREFERRED.get(cand.kind, ())
    best = None
    best_rank = None
    for line in lines:
        if line.sku != cand.seller_sku:
            continue
        if line.order_id and line.order_id != cand.order_id:
            continue
        if line.settlement.end_date < cand.opened_at:
            continue  # only later settlements pay for it
        capacity = line.quantity_purchased or cand.quantity
        if used[line.pk] + cand.quantity > capacity:
            continue
        rank = (0 if line.order_id == cand.order_id else 1,
                0 if line.amount_description.lower() in preferred else 1)
        if best_rank is None or rank < best_rank:
            best, best_rank = line, rank
    return best


def candidate_dismiss(*, candidate: ReimbursementCandidate, user=None) -> None:
    """Ops decided there is nothing to claim."""
    ReimbursementCandidate.objects.filter(
        pk=candidate.pk, status=ReimbursementCandidate.Status.OPEN
    ).update(status=ReimbursementCandidate.Status.DISMISSED, closed_at=timezone.now())


# --------------------------------------------------------------------------- credit memos

_TAX = {"tax", "shippingtax", "giftwraptax"}
_SHIPPING = {"shipping", "giftwrap", "shippingchargeback"}


def _memo_figures(lines: list) -> dict:
    principal = tax = shipping = promotion = ZERO
    quantity = 0
    for line in lines:
        kind = line.amount_type.lower()
        desc = line.amount_description.lower()
        if kind == "itemprice":
            if desc in _TAX:
                tax -= line.amount
            elif desc in _SHIPPING:
                shipping -= line.amount
            else:
                principal -= line.amount
                if desc == "principal":
                    quantity += line.quantity_purchased or 0
        elif kind == "promotion":
            promotion += line.amount
    return {"principal": principal, "tax": tax, "shipping": shipping,
            "promotion": promotion, "total": principal + tax + shipping - promotion,
            "quantity": quantity}


def _memo_number(order_id: str, line_key: str) -> str:
    number = f"CM-{order_id}-{line_key}"
    if len(number) > 64:
        number = f"CM-{order_id}-{hashlib.sha1(line_key.encode()).hexdigest()[:12]}"
    return number[:64]


def _credit_memos_sync(*, account: SellerAccount, memo_lines: dict, run) -> int:
    if not memo_lines:
        return 0
    existing = {(m.order_id, m.line_key): m for m in CreditMemo.objects.filter(
        account=account, order_id__in={k[0] for k in memo_lines})}
    matches = {(m.order_id, m.seller_sku): m.pk for m in RefundMatch.objects.filter(
        account=account, order_id__in={k[0] for k in memo_lines})}
    order_lines = _order_lines(account, {k[0] for k in memo_lines})
    written = 0
    for (order_id, line_key), lines in sorted(memo_lines.items()):
        if not any(line.amount_type.lower() in ("itemprice", "promotion") for line in lines):
            continue
        figures = _memo_figures(lines)
        first = lines[0]
        sku = next((line.sku for line in lines if line.sku), "")
        times = [t for t in (_line_time(line) for line in lines) if t is not None]
        refund_date = min(times).date() if times else first.settlement.end_date.date()
        values = {**figures, "seller_sku": sku, "currency": first.settlement.currency,
                  "marketplace_id": first.settlement.marketplace_id,
                  "refund_date": refund_date, "match_id": matches.get((order_id, sku)),
                  "order_line_id": order_lines.get((order_id, line_key))
                  or order_lines.get((order_id, sku))}
        memo = existing.get((order_id, line_key))
        if memo is None:
            CreditMemo.objects.create(account=account, order_id=order_id, line_key=line_key,
                                      number=_memo_number(order_id, line_key), **values)
            written += 1
            continue
        dirty = [k for k, v in values.items() if getattr(memo, k) != v]
        if not dirty:
            continue
        if memo.exported_at is not None and set(dirty) & {*figures}:
            cur = memo.currency
            old_total = f"{quantize_money(memo.total, cur):f}"
            new_total = f"{quantize_money(figures['total'], cur):f}"
            exception_record(
                flow=FLOW, account=account, marketplace=memo.marketplace,
                object_kind="credit_memo", object_key=memo.number, reason_code=MEMO_CHANGED,
                owner_team=Team.FINANCE, run=run,
                message=f"Credit memo {memo.number} was exported on "
                f"{memo.exported_at:%Y-%m-%d} with total {cur} {old_total}; the refunds now "
                f"add up to {new_total}. Book the difference by hand.",
                payload={"memo": memo.number, "exported_total": old_total,
                         "new_total": new_total},
            )
            dirty = [k for k in dirty if k not in figures]
            if not dirty:
                continue
        for k in dirty:
            setattr(memo, k, values[k])
        memo.save(update_fields=dirty)
        written += 1
    return written


def _order_lines(account: SellerAccount, order_ids: set[str]) -> dict[tuple[str, str], int]:
    """(order id, order item id) and (order id, SKU) -> order line, for the memos."""
    from orders.models import OrderLine

    out: dict[tuple[str, str], int] = {}
    for line in OrderLine.objects.filter(order__account=account,
                                         order__amazon_order_id__in=order_ids).values(
            "pk", "order__amazon_order_id", "order_item_id", "seller_sku"):
        order_id = line["order__amazon_order_id"]
        if line["order_item_id"]:
            out[(order_id, line["order_item_id"])] = line["pk"]
        out.setdefault((order_id, line["seller_sku"]), line["pk"])
    return out


CREDIT_MEMO_COLUMNS = ("memo_number", "seller_account", "marketplace", "order_id",
                       "order_item", "sku", "refund_date", "currency", "quantity", "principal",
                       "tax", "shipping", "promotion", "total")


def credit_memos_export(*, memos: Iterable[CreditMemo], user=None) -> str:
    """The memos as CSV for the ERP (amounts rounded per currency); marks them exported."""
    memos = list(memos)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CREDIT_MEMO_COLUMNS)
    for m in sorted(memos, key=lambda m: (m.refund_date, m.number)):
        def fmt(value: Decimal, _cur: str = m.currency) -> str:
            return f"{quantize_money(value, _cur):f}"

        writer.writerow([
            m.number, m.account.selling_partner_id,
            m.marketplace.code if m.marketplace_id else "", m.order_id, m.line_key,
            m.seller_sku, m.refund_date.isoformat(), m.currency, m.quantity, fmt(m.principal),
            fmt(m.tax), fmt(m.shipping), fmt(m.promotion), fmt(m.total),
        ])
    with transaction.atomic():
        CreditMemo.objects.filter(pk__in=[m.pk for m in memos], exported_at__isnull=True)\
            .update(exported_at=timezone.now(), exported_by=user)
    return out.getvalue()

"""Disposition rules -> inventory adjustments: the most specific active rule for a return's
disposition says what happens to its units (sellable, quarantine, write-off), applied to the
right stock pool once per return (a OneToOne ``InventoryAdjustment`` the database enforces;
a rerun or a concurrent worker finds it and changes nothing). A return without a rule, or an
MFN return whose listing is not mapped to an item yet, waits in the exception queue."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from amazonsync.models import SyncException, Team
from amazonsync.services import exception_record, exception_resolve, register_retry
from catalog.models import Listing
from catalog.services import (
    FBA,
    MERCHANT,
    WAITING_ON_MAPPING,
    listing_key,
    stock_adjust,
    stock_changes_detail,
)

from ..defaults import AMAZON_FAULT
from ..models import Action, Channel, DispositionRule, InventoryAdjustment, Pool, ReturnEvent
from .common import FLOW, NO_RULE, ReturnsError


def disposition_normalise(disposition: str) -> str:
    """How a disposition is written: upper case, underscores (``customer damaged`` is
    ``CUSTOMER_DAMAGED``)."""
    return disposition.strip().upper().replace(" ", "_")


def disposition_rule_save(*, rule: DispositionRule, user=None) -> DispositionRule:
    """Store a rule edited by ops, its disposition written the one way rules match it."""
    rule.disposition = disposition_normalise(rule.disposition)
    if user is not None:
        rule._history_user = user  # who changed it, in the rule's history
    rule.save()
    return rule


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
    from ..defaults import seed_rules

    return seed_rules(DispositionRule)


def amazon_fault(event: ReturnEvent) -> bool:
    """Whether the return came back unsellable by Amazon's (or its carrier's) fault: its
    rule says so, or, without a rule, its disposition is one of Amazon's."""
    disposition = event.effective_disposition
    rule = disposition_rule_for(disposition=disposition, channel=event.channel,
                                reason=event.reason)
    if rule is not None:
        return rule.amazon_fault
    return disposition.upper() in AMAZON_FAULT


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
    components, kits of kits all the way down): both through ``catalog``'s
    ``stock_adjust``. The adjustment is a OneToOne on the return: a second call, a rerun or a
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
            _no_rule(event=event, disposition=disposition, key=key, run=run)
            return AdjustmentOutcome(None, applied=False, pending="no disposition rule")
        pool, quantity = _pool_for(event.channel, rule.action, event.quantity)
        listing = event.listing
        item_id = listing.item_id if listing is not None else event.item_id
        if pool == Pool.MERCHANT_ON_HAND and item_id is None:
            _waiting_on_mapping(event=event, key=key, run=run)
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


def _no_rule(*, event: ReturnEvent, disposition: str, key: str, run) -> None:
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


def _waiting_on_mapping(*, event: ReturnEvent, key: str, run) -> None:
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
    """Add ``quantity`` to the pool through ``stock_adjust`` (a kit's units go to the items
    it stands for); returns what changed (before/after) for the audit."""
    if pool in (Pool.FBA_FULFILLABLE, Pool.FBA_UNFULFILLABLE):
        column = "fulfillable" if pool == Pool.FBA_FULFILLABLE else "unfulfillable"
        changes = stock_adjust(pool=FBA, reason="return", listing=listing, column=column,
                               delta=quantity)
    elif pool == Pool.MERCHANT_ON_HAND:
        changes = stock_adjust(pool=MERCHANT, reason="return", item=item_id, delta=quantity)
    else:
        return {}
    return stock_changes_detail(changes)


def return_grade(*, return_event: ReturnEvent, disposition: str, user=None
                 ) -> AdjustmentOutcome:
    """Record the disposition ops found when inspecting a return, and apply its rule."""
    disposition = disposition_normalise(disposition)
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

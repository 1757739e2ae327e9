"""Disposition rules applied to the right stock pool, once per return, whatever reruns."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from amazonsync.models import SyncException
from amazonsync.services import exceptions_retry
from catalog.models import FbaStock, Item, KitComponent, MerchantStock
from returns.models import DispositionRule, InventoryAdjustment, ReturnEvent
from returns.parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE
from returns.services import (
    ReturnsError,
    disposition_rule_for,
    return_adjustment_apply,
    return_grade,
    returns_import,
)
from tests.returns.samples import fba_file, fba_row, mfn_file, mfn_row

pytestmark = pytest.mark.django_db


def fba_return(account, us, **row):
    returns_import(account=account, source=fba_file(fba_row(**row)),
                   report_type=FBA_REPORT_TYPE, marketplace=us)
    return ReturnEvent.objects.get(license_plate_number=row.get("license-plate-number",
                                                                "LPN0000000001"))


def fba_stock(listing):
    stock = FbaStock.objects.get(listing=listing)
    return stock.fulfillable, stock.unfulfillable


@pytest.mark.parametrize("disposition,reason,expected,pool,action", [
    ("SELLABLE", "UNWANTED_ITEM", (12, 1), "fba_fulfillable", "sellable"),
    ("SELLABLE", "SWITCHEROO", (10, 3), "fba_unfulfillable", "quarantine"),
    ("DEFECTIVE", "DEFECTIVE", (10, 3), "fba_unfulfillable", "quarantine"),
    ("CUSTOMER_DAMAGED", "UNWANTED_ITEM", (10, 3), "fba_unfulfillable", "quarantine"),
    ("CARRIER_DAMAGED", "UNWANTED_ITEM", (10, 3), "fba_unfulfillable", "quarantine"),
    ("DAMAGED", "UNWANTED_ITEM", (10, 3), "fba_unfulfillable", "quarantine"),
    ("DISTRIBUTOR_DAMAGED", "UNWANTED_ITEM", (10, 3), "fba_unfulfillable", "quarantine"),
    ("EXPIRED", "UNWANTED_ITEM", (10, 1), "none", "write_off"),
])
def test_fba_default_rules_change_fba_stock(account, us, fba_listing, disposition, reason,
                                            expected, pool, action):
    event = fba_return(account, us, quantity="2", reason=reason,
                       **{"detailed-disposition": disposition})
    assert fba_stock(fba_listing) == expected
    adjustment = event.adjustment
    assert (adjustment.pool, adjustment.action, adjustment.disposition) == (
        pool, action, disposition)
    assert adjustment.quantity == (0 if pool == "none" else 2)
    # merchant stock is never touched by an FBA return
    assert not MerchantStock.objects.exists()


def mfn_return(account, us, **row):
    returns_import(account=account, source=mfn_file(mfn_row(**row)),
                   report_type=MFN_REPORT_TYPE, marketplace=us)
    return ReturnEvent.objects.get(channel="MFN")


@pytest.mark.parametrize("disposition,on_hand,pool", [
    ("SELLABLE", 7, "merchant_on_hand"),
    ("CUSTOMER_DAMAGED", 5, "merchant_quarantine"),
    ("DEFECTIVE", 5, "none"),  # the MFN-specific rule: written off
    ("EXPIRED", 5, "none"),
])
def test_mfn_returns_change_merchant_stock_once_inspected(account, us, mfn_listing, fba_listing,
                                                          disposition, on_hand, pool):
    event = mfn_return(account, us, **{"Return quantity": "2"})
    # not inspected yet: no stock effect, nothing applied
    assert return_adjustment_apply(return_event=event).pending == "awaiting inspection"
    assert not InventoryAdjustment.objects.exists()
    outcome = return_grade(return_event=event, disposition=disposition.lower())
    assert outcome.applied
    assert MerchantStock.objects.get(item=mfn_listing.item).on_hand == on_hand
    assert outcome.adjustment.pool == pool
    assert fba_stock(fba_listing) == (10, 1)  # FBA stock is never touched by an MFN return


def test_a_kit_returned_to_our_warehouse_restocks_its_components(account, us, mfn_listing):
    kit = mfn_listing.item
    a = Item.objects.create(sku="PART-A", name="Part A")
    b = Item.objects.create(sku="PART-B", name="Part B")
    KitComponent.objects.create(kit=kit, component=a, quantity=1)
    KitComponent.objects.create(kit=kit, component=b, quantity=3)
    MerchantStock.objects.create(item=a, on_hand=0)
    event = mfn_return(account, us, **{"Return quantity": "2"})
    adjustment = return_grade(return_event=event, disposition="SELLABLE").adjustment
    assert MerchantStock.objects.get(item=a).on_hand == 2
    assert MerchantStock.objects.get(item=b).on_hand == 6
    assert MerchantStock.objects.get(item=kit).on_hand == 5
    assert {c["item"] for c in adjustment.detail["merchant_stock"]} == {a.pk, b.pk}


def test_a_kit_of_kits_restocks_the_items_it_stands_for(account, us, mfn_listing):
    kit = mfn_listing.item
    inner = Item.objects.create(sku="INNER-KIT", name="Inner kit")
    a = Item.objects.create(sku="PART-A", name="Part A")
    b = Item.objects.create(sku="PART-B", name="Part B")
    KitComponent.objects.create(kit=kit, component=inner, quantity=2)
    KitComponent.objects.create(kit=kit, component=a, quantity=1)
    KitComponent.objects.create(kit=inner, component=a, quantity=1)
    KitComponent.objects.create(kit=inner, component=b, quantity=3)
    event = mfn_return(account, us, **{"Return quantity": "2"})
    adjustment = return_grade(return_event=event, disposition="SELLABLE").adjustment
    # 2 kits = 4 inner kits + 2 A = (4 A + 12 B) + 2 A; a kit holds no stock of its own
    assert MerchantStock.objects.get(item=a).on_hand == 6
    assert MerchantStock.objects.get(item=b).on_hand == 12
    assert not MerchantStock.objects.filter(item=inner).exists()
    assert {c["item"] for c in adjustment.detail["merchant_stock"]} == {a.pk, b.pk}


def test_adjustment_is_never_applied_twice(account, us, fba_listing):
    event = fba_return(account, us)
    assert fba_stock(fba_listing) == (11, 1)
    first = InventoryAdjustment.objects.get()
    for _ in range(3):
        outcome = return_adjustment_apply(return_event=event)
        assert not outcome.applied and outcome.adjustment == first
    returns_import(account=account, source=fba_file(fba_row()), report_type=FBA_REPORT_TYPE,
                   marketplace=us)
    assert fba_stock(fba_listing) == (11, 1)
    assert InventoryAdjustment.objects.count() == 1


def test_the_database_refuses_a_second_adjustment(account, us, fba_listing):
    event = fba_return(account, us)
    with pytest.raises(IntegrityError), transaction.atomic():
        InventoryAdjustment.objects.create(
            return_event=event, disposition="SELLABLE", action="sellable",
            pool="fba_fulfillable", quantity=1, applied_at=timezone.now(),
        )


def test_a_graded_return_cannot_be_graded_again(account, us, mfn_listing):
    event = mfn_return(account, us)
    return_grade(return_event=event, disposition="SELLABLE")
    with pytest.raises(ReturnsError, match="already applied"):
        return_grade(return_event=event, disposition="DEFECTIVE")
    assert MerchantStock.objects.get(item=mfn_listing.item).on_hand == 6


def test_unknown_disposition_waits_for_a_rule_then_applies_on_retry(account, us, fba_listing):
    event = fba_return(account, us, **{"detailed-disposition": "MELTED"})
    assert not InventoryAdjustment.objects.exists()
    exc = SyncException.objects.get(reason_code="no_disposition_rule")
    assert exc.payload["return_id"] == event.pk and exc.owner_team == "ops"
    DispositionRule.objects.create(disposition="MELTED", action="write_off")
    assert exceptions_retry(exception_ids=[exc.pk]).resolved == 1
    assert InventoryAdjustment.objects.get().action == "write_off"


def test_most_specific_rule_wins_and_ops_edits_take_effect(account, us, fba_listing):
    assert disposition_rule_for(disposition="SELLABLE", channel="FBA",
                                reason="SWITCHEROO").action == "quarantine"
    assert disposition_rule_for(disposition="sellable", channel="FBA",
                                reason="OTHER").action == "sellable"
    assert disposition_rule_for(disposition="DEFECTIVE", channel="MFN").action == "write_off"
    assert disposition_rule_for(disposition="DEFECTIVE", channel="FBA").action == "quarantine"
    DispositionRule.objects.create(disposition="SELLABLE", channel="FBA",
                                   reason="SWITCHEROO", action="write_off")
    assert disposition_rule_for(disposition="SELLABLE", channel="FBA",
                                reason="SWITCHEROO").action == "write_off"
    DispositionRule.objects.filter(disposition="CUSTOMER_DAMAGED").update(action="sellable")
    fba_return(account, us, **{"detailed-disposition": "CUSTOMER_DAMAGED"})
    assert fba_stock(fba_listing) == (11, 1)


def test_default_rules_are_seeded(db):
    assert DispositionRule.objects.filter(disposition="SELLABLE", channel="", reason="",
                                          action="sellable").exists()
    assert set(DispositionRule.objects.filter(amazon_fault=True)
               .values_list("disposition", flat=True)) >= {"CARRIER_DAMAGED", "DAMAGED",
                                                           "DISTRIBUTOR_DAMAGED"}

"""The Amazon terms the back office explains: codes with a short label and a description.

Plain data (no models), shared by the data migration that seeds ``AmazonTerm`` and by
``seed_terms`` (which puts back missing rows after a wipe). Rows are ``(kind, code, label,
description)``; the kinds are ``marketplaces.models.TermKind`` values.

Where a code is looked up:

- ``return_reason``: the ``reason`` of a return, FBA (``SWITCHEROO``) or merchant fulfilled
  (``AMZ-PG-BAD-DESC``, and the customer's reason prefixed ``CR-``).
- ``disposition``: the detailed disposition of a returned unit (``CUSTOMER_DAMAGED``), also
  the grades ops give merchant-fulfilled returns.
- ``transaction_type``: a settlement line's transaction type, V2 and V1 (``Order``,
  ``other-transaction``, ``Payable to Amazon``, ``WAREHOUSE_DAMAGE``).
- ``amount_type``: a settlement line's amount type **and** its amount description
  (``ItemPrice`` / ``Principal``, ``ItemFees`` / ``Commission``): one dictionary serves both
  columns, since Amazon never uses one code for two different things there.
- ``fee_type``: fee types of the financial events and fee estimates (``FBAStorageFee``);
  the fees a settlement names in its amount description are also under ``amount_type``.
- ``exception_reason``: the reason code of a sync exception, with what to do about it.

Rows people edited are never overwritten: ``seed_terms`` only adds what is missing.
"""

from __future__ import annotations

RETURN_REASON = "return_reason"
DISPOSITION = "disposition"
TRANSACTION_TYPE = "transaction_type"
AMOUNT_TYPE = "amount_type"
FEE_TYPE = "fee_type"
EXCEPTION_REASON = "exception_reason"

# ------------------------------------------------------------------ return reasons
# The reasons a buyer picks (or Amazon assigns) on an FBA return. The merchant-fulfilled
# returns report writes the buyer's reasons again with a "CR-" prefix (below).
_CUSTOMER_REASONS: tuple[tuple[str, str, str], ...] = (
    ("APPAREL_STYLE", "Style not as expected",
     "Clothing or shoes: the buyer did not like the style or the look once worn."),
    ("APPAREL_TOO_LARGE", "Too large",
     "Clothing or shoes: too big for the buyer. Check the size chart on the listing if "
     "this comes back often."),
    ("APPAREL_TOO_SMALL", "Too small",
     "Clothing or shoes: too small for the buyer. Check the size chart on the listing if "
     "this comes back often."),
    ("DAMAGED_BY_CARRIER", "Arrived damaged",
     "The buyer says the item arrived damaged in transit. For FBA orders the damage is "
     "Amazon's or its carrier's: look for a reimbursement if the unit comes back "
     "unsellable."),
    ("DAMAGED_BY_FC", "Damaged before shipping",
     "The buyer says the item was already damaged when Amazon's fulfilment centre sent "
     "it. Amazon is responsible for FBA units."),
    ("DEFECTIVE", "Defective",
     "The buyer says the item does not work or has a fault. Many of these on one SKU "
     "point to a quality problem with the product or its supplier."),
    ("DID_NOT_LIKE_FABRIC", "Did not like the material",
     "Clothing: the buyer did not like the fabric or how it feels."),
    ("EXCESSIVE_INSTALLATION", "Too hard to install",
     "The buyer found installing or assembling the item too difficult."),
    ("EXTRA_ITEM", "Received an extra item",
     "The buyer received an item they did not order and sent it back."),
    ("FOUND_BETTER_PRICE", "Found a better price",
     "The buyer found the item cheaper elsewhere. Nothing wrong with the unit."),
    ("MISSED_ESTIMATED_DELIVERY", "Arrived too late",
     "The item arrived after the promised delivery date and the buyer no longer "
     "wanted it."),
    ("MISSING_PARTS", "Parts missing",
     "The buyer says parts or accessories were missing from the box. Check the packaging "
     "and the listing's list of contents."),
    ("NO_REASON_GIVEN", "No reason given",
     "The buyer returned the item without saying why."),
    ("NOT_AS_DESCRIBED", "Not as described",
     "The item differs from its product page (picture, size, colour or features). Check "
     "the listing's title, pictures and bullet points."),
    ("NOT_COMPATIBLE", "Not compatible",
     "The item does not work with the buyer's device or system."),
    ("ORDERED_WRONG_ITEM", "Ordered by mistake",
     "The buyer ordered the wrong item. Nothing wrong with the unit."),
    ("PART_NOT_COMPATIBLE", "Part not compatible",
     "A spare or replacement part does not fit the buyer's product."),
    ("QUALITY_UNACCEPTABLE", "Poor quality",
     "The buyer found the quality or the finish below what they expected."),
    ("UNAUTHORIZED_PURCHASE", "Bought without permission",
     "The order was placed without the account holder's permission (e.g. by a child)."),
    ("UNWANTED_ITEM", "No longer wanted",
     "The buyer changed their mind. Nothing wrong with the unit."),
    ("WRONG_ITEM", "Wrong item sent",
     "The buyer says they received a different item from the one ordered (wrong product, "
     "size or colour in the box). Check the SKU's labels and the stock in the warehouse."),
)

# Reasons Amazon itself assigns: switched items and parcels that never reached the buyer.
_AMAZON_REASONS: tuple[tuple[str, str, str], ...] = (
    ("SWITCHEROO", "Different item returned",
     "What came back is not what was sold: another product, an older or used one, or an "
     "empty box. Inspect the unit before selling it again; for FBA orders, ask Amazon for a "
     "reimbursement."),
    ("NEVER_ARRIVED", "Never arrived",
     "The buyer says the parcel never arrived; the unit came back to the warehouse."),
    ("UNDELIVERABLE_CARRIER_MISS_SORTED", "Undeliverable: missorted by the carrier",
     "The carrier sent the parcel to the wrong place and it came back undelivered."),
    ("UNDELIVERABLE_FAILED_DELIVERY_ATTEMPTS", "Undeliverable: nobody at home",
     "The carrier tried to deliver several times without success and returned the parcel."),
    ("UNDELIVERABLE_INSUFFICIENT_ADDRESS", "Undeliverable: incomplete address",
     "The address was wrong or incomplete; the parcel came back."),
    ("UNDELIVERABLE_REFUSED", "Refused on delivery",
     "The buyer refused the parcel at the door; it came back."),
    ("UNDELIVERABLE_UNCLAIMED", "Not collected",
     "The parcel waited at a pick-up point or post office and was never collected."),
    ("UNDELIVERABLE_UNKNOWN", "Undeliverable",
     "The parcel came back undelivered without a more precise reason."),
)

# The merchant-fulfilled returns report's own codes (Amazon's return policy reasons).
_MFN_POLICY_REASONS: tuple[tuple[str, str, str], ...] = (
    ("AMZ-PG-APP-STYLE", "Style not as expected",
     "Merchant-fulfilled return, clothing or shoes: the buyer did not like the style."),
    ("AMZ-PG-APP-TOO-LARGE", "Too large",
     "Merchant-fulfilled return, clothing or shoes: too big for the buyer."),
    ("AMZ-PG-APP-TOO-SMALL", "Too small",
     "Merchant-fulfilled return, clothing or shoes: too small for the buyer."),
    ("AMZ-PG-BAD-DESC", "Not as described on Amazon",
     "Merchant-fulfilled return: the buyer says the item differs from its description on "
     "Amazon. Check the listing's title, pictures and bullet points."),
    ("AMZ-PG-DEFECTIVE", "Defective",
     "Merchant-fulfilled return: the buyer says the item does not work or has a fault. "
     "Inspect it when it comes back before putting it back in stock."),
    ("AMZ-PG-MISORDERED", "Ordered by mistake",
     "Merchant-fulfilled return: the buyer ordered the wrong item."),
)

MFN_PREFIX = "CR-"

RETURN_REASONS: tuple[tuple[str, str, str], ...] = (
    *_CUSTOMER_REASONS,
    *_AMAZON_REASONS,
    *_MFN_POLICY_REASONS,
    *((f"{MFN_PREFIX}{code}", label,
       f"{text} (The buyer's reason as the merchant-fulfilled returns report writes it.)")
      for code, label, text in _CUSTOMER_REASONS),
)

# ------------------------------------------------------------------ dispositions
DISPOSITIONS: tuple[tuple[str, str, str], ...] = (
    ("SELLABLE", "Sellable",
     "The unit passed inspection and is back in sellable stock."),
    ("DEFECTIVE", "Defective",
     "Unsellable: the unit is faulty. The seller's loss, not Amazon's; held as "
     "unfulfillable until it is removed or disposed of."),
    ("CUSTOMER_DAMAGED", "Damaged by the buyer",
     "Unsellable: the buyer damaged or used it, or it came back incomplete. The seller's "
     "loss, not Amazon's; held as unfulfillable until it is removed or disposed of."),
    ("CARRIER_DAMAGED", "Damaged by the carrier",
     "Unsellable: damaged in transit by the carrier. Amazon is responsible for FBA units: "
     "it becomes a reimbursement candidate."),
    ("DISTRIBUTOR_DAMAGED", "Damaged by the distributor",
     "Unsellable: damaged in Amazon's distribution network. Amazon is responsible: it "
     "becomes a reimbursement candidate."),
    ("DAMAGED", "Damaged in Amazon's warehouse",
     "Unsellable: damaged while Amazon handled it in a fulfilment centre. Amazon is "
     "responsible: it becomes a reimbursement candidate."),
    ("WAREHOUSE_DAMAGED", "Damaged in Amazon's warehouse",
     "Unsellable: damaged while Amazon handled it in a fulfilment centre. Amazon is "
     "responsible: it becomes a reimbursement candidate."),
    ("EXPIRED", "Expired",
     "Unsellable: past its expiry date, or too close to it for Amazon to sell. Written "
     "off."),
)

# ------------------------------------------------------------------ settlements
# Transaction types of settlement lines (V2 and V1).
TRANSACTION_TYPES: tuple[tuple[str, str, str], ...] = (
    ("Order", "Order",
     "Money for an order that shipped: what the buyer paid (price, tax, shipping) and "
     "Amazon's fees on it."),
    ("Refund", "Refund",
     "Money given back to a buyer, with the part of the referral fee Amazon returns and "
     "its refund administration fee."),
    ("other-transaction", "Other transaction",
     "An amount not tied to one order (storage and subscription fees, reimbursements, "
     "reserves, transfers); the amount description says which."),
    ("Adjustment", "Adjustment",
     "Amazon corrected an amount booked earlier."),
    ("Chargeback Refund", "Chargeback",
     "The buyer's bank or card issuer took the payment back; Amazon takes it from the "
     "seller."),
    ("A-to-z Guarantee Claim", "A-to-z Guarantee claim",
     "Amazon refunded the buyer under its A-to-z Guarantee (not received, or not as "
     "described) and charges the seller."),
    ("SAFE-T Reimbursement", "SAFE-T reimbursement",
     "Amazon paid the seller back after a SAFE-T claim on a merchant-fulfilled return."),
    ("ServiceFee", "Service fee",
     "A fee for a service outside orders: subscription, advertising and the like."),
    ("Cost of Advertising", "Advertising",
     "Sponsored Products and other advertising, paid from the sales proceeds."),
    ("CouponRedemptionFee", "Coupon redemption fee",
     "The fee Amazon charges for each coupon a buyer redeemed."),
    ("Lightning Deal Fee", "Lightning Deal fee",
     "The fee for running a Lightning Deal."),
    ("Liquidations", "Liquidation proceeds",
     "What Amazon paid for unsellable or surplus FBA stock it sold off in bulk, net of its "
     "fees."),
    ("Previous Reserve Amount Balance", "Reserve released",
     "The reserve Amazon held back in the previous settlement, paid out in this one."),
    ("Current Reserve Amount", "Reserve held back",
     "Money Amazon keeps from this settlement (to cover claims and chargebacks) and pays "
     "out in a later one."),
    ("Transfer", "Transfer",
     "Money moved between Amazon and the seller's bank account."),
    ("Payable to Amazon", "Payable to Amazon",
     "The balance was negative: the seller owes Amazon this amount."),
    ("Successful charge", "Card charged",
     "Amazon charged the seller's card or bank account to cover a negative balance."),
    ("Micro Deposit", "Bank verification deposit",
     "A small test deposit Amazon made to check the seller's bank account."),
    ("Storage Fee", "FBA storage fee",
     "The monthly fee for the space the seller's stock takes in Amazon's fulfilment "
     "centres."),
    ("Subscription Fee", "Subscription fee",
     "The monthly fee of the Professional selling plan."),
    ("Inbound Transportation Fee", "Inbound transport fee",
     "What Amazon's partnered carrier charged to bring the seller's stock into its "
     "fulfilment centres."),
)

# Reimbursement reasons: the amount description of an "FBA Inventory Reimbursement" line in
# V2, the transaction type itself in V1. Seeded under both kinds.
REIMBURSEMENTS: tuple[tuple[str, str, str], ...] = (
    ("WAREHOUSE_DAMAGE", "Reimbursement: damaged in the warehouse",
     "Amazon paid for units it damaged in a fulfilment centre."),
    ("WAREHOUSE_LOST", "Reimbursement: lost in the warehouse",
     "Amazon paid for units it lost in a fulfilment centre."),
    ("WAREHOUSE_LOST_MANUAL", "Reimbursement: lost in the warehouse (claim)",
     "Amazon paid for units lost in a fulfilment centre after a claim was opened by hand."),
    ("MISSING_FROM_INBOUND", "Reimbursement: missing from an inbound shipment",
     "Amazon paid for units it did not receive, or lost while receiving, from a shipment "
     "the seller sent in."),
    ("CUSTOMER_RETURN", "Reimbursement: customer return",
     "Amazon paid for a unit the buyer was refunded for that did not come back, or came "
     "back damaged by Amazon."),
    ("REVERSAL_REIMBURSEMENT", "Reimbursement: reversal",
     "Amazon reversed an earlier charge and paid it back to the seller; a negative amount "
     "takes an earlier reimbursement back."),
    ("INCORRECT_FEES_ITEMS", "Reimbursement: fees corrected",
     "Amazon refunded fees it had charged wrongly (for example for a wrong size or "
     "weight)."),
    ("COMPENSATED_CLAWBACK", "Reimbursement taken back",
     "Amazon took back an earlier reimbursement because the unit was found or returned "
     "after all."),
    ("FREE_REPLACEMENT_REFUND_ITEMS", "Reimbursement: replacement not returned",
     "Amazon paid for a free replacement it sent when the buyer did not return the "
     "original."),
)

# Amount types, and the amount descriptions that are not fees.
AMOUNT_TYPES: tuple[tuple[str, str, str], ...] = (
    ("ItemPrice", "Item price",
     "What the buyer paid for the item: price, tax, shipping or gift wrap (the amount "
     "description says which)."),
    ("ItemFees", "Item fees",
     "Amazon's fees on the item: referral fee, FBA fulfilment fee, closing fees."),
    ("ItemWithheldTax", "Tax Amazon pays for you",
     "Sales tax or VAT Amazon collected from the buyer and pays to the tax authority itself "
     "(marketplace facilitator): it cancels the tax in the item price; none of it is paid "
     "to the seller."),
    ("Promotion", "Promotion",
     "A discount the seller funded (promotion, coupon, free shipping): it lowers the "
     "price."),
    ("ShipmentFees", "Shipment fees", "Fees charged once per shipment."),
    ("OrderFees", "Order fees", "Fees charged once per order."),
    ("DirectPayment", "Direct payment",
     "A payment booked straight to the seller's account, outside the item's price and "
     "fees."),
    ("MiscFee", "Miscellaneous fee", "A fee the old settlement format lists on its own."),
    ("OtherFees", "Other fees", "Other fees the old settlement format lists on their own."),
    ("other-transaction", "Other amount",
     "An amount that is neither the item's price nor its fees; the amount description says "
     "what it is."),
    ("FBA Inventory Reimbursement", "FBA inventory reimbursement",
     "Amazon paid for FBA stock it lost or damaged, or for a refunded unit that never came "
     "back; the amount description gives the reason."),
    ("Principal", "Price of the item", "The item's price itself, before tax and shipping."),
    ("Tax", "Tax on the item", "Sales tax or VAT on the item's price."),
    ("Shipping", "Shipping", "What the buyer paid for shipping."),
    ("ShippingTax", "Tax on shipping", "Sales tax or VAT on the shipping charge."),
    ("GiftWrap", "Gift wrap", "What the buyer paid for gift wrapping."),
    ("GiftWrapTax", "Tax on gift wrap", "Sales tax or VAT on gift wrapping."),
    ("MarketplaceFacilitatorTax-Principal", "Tax Amazon pays for you: item",
     "The item's sales tax that Amazon pays to the tax authority itself."),
    ("MarketplaceFacilitatorTax-Shipping", "Tax Amazon pays for you: shipping",
     "The shipping's sales tax that Amazon pays to the tax authority itself."),
    ("MarketplaceFacilitatorTax-Giftwrap", "Tax Amazon pays for you: gift wrap",
     "The gift wrap's sales tax that Amazon pays to the tax authority itself."),
    ("MarketplaceFacilitatorVAT-Principal", "VAT Amazon pays for you: item",
     "The item's VAT that Amazon pays to the tax authority itself."),
    ("MarketplaceFacilitatorVAT-Shipping", "VAT Amazon pays for you: shipping",
     "The shipping's VAT that Amazon pays to the tax authority itself."),
    ("Balance Adjustment", "Balance adjustment",
     "Amazon corrected the account's balance."),
    ("StorageFee", "FBA storage fee",
     "The monthly fee for the space the seller's stock takes in Amazon's fulfilment "
     "centres."),
    ("StorageRenewalBilling", "Long-term storage fee",
     "A fee for stock that stayed in Amazon's fulfilment centres for a long time."),
    ("RemovalComplete", "Removal fee",
     "The fee for sending stock back from Amazon's fulfilment centres to the seller."),
    ("DisposalComplete", "Disposal fee",
     "The fee for Amazon destroying unsellable stock at the seller's request."),
)

# Fees: Amazon's fee types, also seen as settlement amount descriptions.
FEES: tuple[tuple[str, str, str], ...] = (
    ("Commission", "Referral fee",
     "Amazon's commission on each sale, a share of the price."),
    ("RefundCommission", "Refund administration fee",
     "What Amazon keeps of the referral fee it returns when an order is refunded."),
    ("FBAPerUnitFulfillmentFee", "FBA fulfilment fee",
     "Amazon's fee for picking, packing and shipping an FBA unit."),
    ("FBAPerOrderFulfillmentFee", "FBA per-order fee", "An FBA fee charged once per order."),
    ("FBAWeightBasedFee", "FBA weight-based fee", "An FBA fee that depends on weight."),
    ("FixedClosingFee", "Fixed closing fee", "A fixed fee per media item sold."),
    ("VariableClosingFee", "Variable closing fee", "A fee per media item sold, by category."),
    ("DigitalServicesFee", "Digital services fee",
     "A surcharge some countries' digital services tax adds to Amazon's fees."),
    ("ShippingChargeback", "Shipping chargeback",
     "For FBA orders, the shipping the buyer paid goes to Amazon: this takes it back."),
    ("GiftwrapChargeback", "Gift wrap chargeback",
     "For FBA orders, the gift wrap the buyer paid goes to Amazon: this takes it back."),
    ("ShippingHB", "Shipping holdback",
     "Part of the shipping credit Amazon keeps on a merchant-fulfilled order."),
    ("SalesTaxCollectionFee", "Sales tax collection fee",
     "Amazon's fee for collecting sales tax on the seller's behalf."),
    ("FBAStorageFee", "FBA storage fee",
     "The monthly fee for the space the seller's stock takes in Amazon's fulfilment "
     "centres."),
    ("FBALongTermStorageFee", "FBA long-term storage fee",
     "A fee for stock that stayed in Amazon's fulfilment centres for a long time."),
    ("FBARemovalFee", "FBA removal fee",
     "The fee for sending stock back from Amazon's fulfilment centres to the seller."),
    ("FBADisposalFee", "FBA disposal fee",
     "The fee for Amazon destroying unsellable stock at the seller's request."),
    ("FBAInboundTransportationFee", "Inbound transport fee",
     "What Amazon's partnered carrier charged to bring stock into a fulfilment centre."),
    ("FBACustomerReturnPerUnitFee", "FBA returns processing fee",
     "Amazon's fee for processing a returned FBA unit."),
    ("LabelingFee", "FBA labelling fee", "Amazon put its barcode labels on the units."),
    ("PolybaggingFee", "FBA polybagging fee", "Amazon bagged the units before storing them."),
    ("Subscription", "Subscription fee", "The monthly fee of the Professional selling plan."),
    ("HighVolumeListingFee", "High-volume listing fee",
     "A monthly fee for a very large number of listings that rarely sell."),
)

# ------------------------------------------------------------------ exception reasons
# The reason codes of sync exceptions: what went wrong, and what to do about it.
EXCEPTION_REASONS: tuple[tuple[str, str, str], ...] = (
    # seller accounts and flows
    ("account_inactive", "Seller account switched off",
     "The account is marked inactive, so no flow runs for it. Switch it on again on the "
     "seller account if it should sync."),
    ("auth_failed", "Amazon refused the credentials",
     "Amazon did not accept the account's credentials. Check the LWA client id, secret and "
     "refresh token on the seller account, then retry."),
    ("encryption_key_changed", "Stored secrets cannot be read",
     "The encryption key changed since the secrets were saved. Enter the LWA client secret "
     "and refresh token again on the seller account, or restore the previous key."),
    ("lwa_secret_expired", "LWA client secret expired",
     "The account's LWA client secret is past its expiry date. Rotate it in Amazon's "
     "developer console and save the new secret on the seller account."),
    ("reauthorization_required", "Seller account must be authorised again",
     "Amazon asks for the app to be authorised again in Seller Central. Do it, then paste "
     "the new refresh token on the seller account."),
    ("not_participating", "Account does not sell in this marketplace",
     "Amazon says the seller account does not sell in this marketplace. Switch its flows "
     "off for the marketplace, or fix the account."),
    ("flow_failed", "Sync run failed",
     "A sync run stopped on an unexpected error (shown in the message). It is retried on "
     "the next run; if it keeps failing, pass the message to a developer."),
    # catalog
    ("unmapped_sku", "SKU not mapped to an item",
     "Amazon reports a seller SKU that is not linked to one of our items. Open the listing "
     "and choose its item; the order lines waiting on it are retried."),
    ("waiting_on_mapping", "Waiting for a SKU mapping",
     "This line waits until its SKU is linked to an item. Map the listing (see the "
     "matching \"SKU not mapped\" exception); the line is retried by itself."),
    ("fba_stock_on_mfn_listing", "FBA stock on a merchant-fulfilled listing",
     "Amazon holds FBA stock for a SKU listed here as merchant fulfilled. Fix the "
     "listing's channel, or use a separate SKU per channel."),
    ("inbound_discrepancy", "Inbound shipment short or over",
     "Amazon received a different quantity than was shipped to it. Check the box contents "
     "and open a reconciliation case in Seller Central if units were lost."),
    ("quantity_push_rejected", "Stock update refused by Amazon",
     "Amazon refused the quantity sent for this SKU. Read Amazon's message, fix the "
     "listing, then retry."),
    ("price_push_rejected", "Price update refused by Amazon",
     "Amazon refused the price sent for this SKU (often outside its allowed range). Fix "
     "the price, then retry."),
    ("feed_failed", "Feed not processed",
     "Amazon could not process a feed we sent. Retry; if it fails again, read Amazon's "
     "processing report."),
    # orders and shipments
    ("unknown_marketplace", "Order from an unknown marketplace",
     "An order came from a marketplace this account is not set up for. Add the "
     "marketplace to the seller account, then retry."),
    ("bad_order_data", "Order data could not be read",
     "An order had missing or malformed values. Read the message and the raw data; retry "
     "once Amazon or the file is corrected."),
    ("unknown_carrier", "Carrier not mapped",
     "The package's carrier has no Amazon carrier code. Add it under Carrier mappings, "
     "then retry. Nothing was sent to Amazon."),
    ("missing_tracking_number", "No tracking number",
     "The package has no tracking number, which Amazon requires. Add it on the shipment, "
     "then retry. Nothing was sent to Amazon."),
    ("missing_order_item_ids", "Order items not known",
     "Amazon did not give an order item id for every line of the package. Retry; if it "
     "persists, check the order in Seller Central."),
    ("amazon_rejected", "Shipment confirmation refused",
     "Amazon refused the shipment confirmation. Read Amazon's message, correct the "
     "shipment, then retry."),
    ("confirm_error", "Shipment confirmation failed",
     "The shipment confirmation could not be sent (Amazon error or time-out). Retrying is "
     "safe."),
    # settlements
    ("bad_report", "Settlement report could not be read",
     "A settlement report Amazon provided could not be read (the message names the line "
     "and column). Download it from Seller Central and import it by hand once fixed."),
    ("dates_outside_period", "Settlement dates outside its period",
     "Some lines are dated outside the settlement's start and end. Check the file and the "
     "accounting month the lines are booked in."),
    ("reissued_conflict", "Settlement sent again with other amounts",
     "Amazon sent a settlement again with different lines from the one already imported. "
     "Compare the two; book a correction if the first is already in an approved batch."),
    ("unmapped_lines", "Settlement lines without a GL account",
     "Some lines match no GL mapping. Add the mapping under GL mappings; the journal is "
     "built once every line is mapped."),
    ("v1_unavailable", "Old-format settlement reports not available",
     "Amazon no longer lists the old (V1) flat-file settlement reports; the V2 ones were "
     "imported. Turn the V1 fallback off for this account."),
    # returns
    ("bad_row", "Return row could not be read",
     "A row of a returns report has a bad value (the message names the line and column). "
     "Fix it at the source and import the file again."),
    ("marketplace_unknown", "Marketplace of a return unknown",
     "The return's marketplace cannot be told from the file. Import the file again naming "
     "its marketplace."),
    ("no_disposition_rule", "No disposition rule",
     "No rule says what this disposition does to stock. Add one under Disposition rules; "
     "the return is then applied."),
    ("mfn_refund_not_returned", "Refunded, item not returned",
     "A merchant-fulfilled order was refunded 45 days ago or more and the item has not "
     "come back. Contact the buyer, or file a SAFE-T claim."),
    ("credit_memo_changed_after_export", "Credit memo changed after export",
     "A credit memo already exported to the ERP changed (a later refund). Export it again "
     "and correct it in the ERP."),
)


def _rows(kind: str, entries) -> list[tuple[str, str, str, str]]:
    return [(kind, code, label, description) for code, label, description in entries]


TERMS: tuple[tuple[str, str, str, str], ...] = (
    *_rows(RETURN_REASON, RETURN_REASONS),
    *_rows(DISPOSITION, DISPOSITIONS),
    *_rows(TRANSACTION_TYPE, TRANSACTION_TYPES),
    *_rows(TRANSACTION_TYPE, REIMBURSEMENTS),
    *_rows(AMOUNT_TYPE, AMOUNT_TYPES),
    *_rows(AMOUNT_TYPE, REIMBURSEMENTS),
    # Some settlement descriptions repeat their transaction type (Storage Fee, reserves).
    *_rows(AMOUNT_TYPE, [t for t in TRANSACTION_TYPES if t[0] in {
        "Storage Fee", "Subscription Fee", "Previous Reserve Amount Balance",
        "Current Reserve Amount", "Payable to Amazon", "Successful charge",
        "Cost of Advertising", "Inbound Transportation Fee"}]),
    *_rows(AMOUNT_TYPE, FEES),
    *_rows(FEE_TYPE, FEES),
    *_rows(EXCEPTION_REASON, EXCEPTION_REASONS),
)


def seed_terms(AmazonTerm) -> int:
    """Add the terms that are missing (by kind and code); rows people edited stay as they
    are. Works with the migration's historical model. Returns how many were added."""
    have = set(AmazonTerm.objects.values_list("kind", "code"))
    missing = [AmazonTerm(kind=kind, code=code, label=label, description=description)
               for kind, code, label, description in TERMS if (kind, code) not in have]
    AmazonTerm.objects.bulk_create(missing)
    return len(missing)


def unseed_terms(AmazonTerm) -> int:
    """Remove the seeded terms (by kind and code); terms people added stay."""
    removed = 0
    for kind in {row[0] for row in TERMS}:
        codes = [row[1] for row in TERMS if row[0] == kind]
        removed += AmazonTerm.objects.filter(kind=kind, code__in=codes).delete()[0]
    return removed

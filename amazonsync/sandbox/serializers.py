"""World objects rendered in Amazon's JSON shapes (Orders v0, Orders 2026-01-01, Finances v0)."""

from __future__ import annotations

from decimal import Decimal

from .money import ZERO, iso_z, money_lower, money_v0
from .shapes import DAY, Order, OrderItem, OrderState, Posting

# ---------------------------------------------------------------------------- Orders v0


def _order_total(order: Order) -> Decimal:
    return sum(
        (i.item_price + i.item_tax + i.shipping_price + i.shipping_tax - i.promotion
         - i.promotion_tax for i in order.items),
        ZERO,
    )


def order_v0(order: Order, state: OrderState) -> dict:
    mp, cur = order.mp, order.currency
    priced = state.status not in ("Pending", "Canceled")
    shipped = sum(state.shipped.values())
    ordered = sum(i.quantity for i in order.items)
    out: dict = {"AmazonOrderId": order.id}
    if order.seller_order_id:
        out["SellerOrderId"] = order.seller_order_id
    out.update({
        "PurchaseDate": iso_z(order.purchase),
        "LastUpdateDate": iso_z(state.last_update),
        "OrderStatus": state.status,
        "FulfillmentChannel": order.channel,
        "SalesChannel": mp.name,
        "ShipServiceLevel": order.ship_level,
    })
    if priced:
        out["OrderTotal"] = money_v0(_order_total(order), cur)
    out.update({
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if state.status == "Canceled" else ordered - shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": mp.id,
        "ShipmentServiceLevelCategory": order.service_category,
        "OrderType": "StandardOrder",
        "EarliestShipDate": iso_z(order.pending_until),
        "LatestShipDate": iso_z(order.pending_until + 2 * DAY),
        "EarliestDeliveryDate": iso_z(order.pending_until + 2 * DAY),
        "LatestDeliveryDate": iso_z(order.pending_until + 6 * DAY),
        "IsBusinessOrder": order.is_business,
        "IsPrime": order.is_prime,
        "IsPremiumOrder": order.is_premium,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": False,
    })
    if priced:
        city, region, postal = order.address
        out["ShippingAddress"] = {"City": city, "StateOrRegion": region, "PostalCode": postal,
                                  "CountryCode": mp.country}
        buyer: dict = {"BuyerEmail": order.buyer_email}
        if order.po_number:
            buyer["PurchaseOrderNumber"] = order.po_number
        out["BuyerInfo"] = buyer
    if order.channel == "MFN":
        out["AutomatedShippingSettings"] = {"HasAutomatedShippingSettings": False}
    return out


def order_item_v0(order: Order, item, state: OrderState) -> dict:
    cur = order.currency
    priced = state.status not in ("Pending", "Canceled")
    out: dict = {
        "ASIN": item.product.asin,
        "SellerSKU": item.product.sku,
        "OrderItemId": item.id,
        "Title": item.product.title,
        "QuantityOrdered": item.quantity,
        "QuantityShipped": state.shipped.get(item.id, 0),
        "ProductInfo": {"NumberOfItems": "1"},
    }
    if priced:
        out.update({
            "ItemPrice": money_v0(item.item_price, cur),
            "ShippingPrice": money_v0(item.shipping_price, cur),
            "ItemTax": money_v0(item.item_tax, cur),
            "ShippingTax": money_v0(item.shipping_tax, cur),
            "ShippingDiscount": money_v0(ZERO, cur),
            "ShippingDiscountTax": money_v0(ZERO, cur),
            "PromotionDiscount": money_v0(item.promotion, cur),
            "PromotionDiscountTax": money_v0(item.promotion_tax, cur),
        })
    out["PromotionIds"] = [item.promotion_id] if item.promotion_id else []
    out.update({"IsGift": "false", "ConditionId": "New", "ConditionSubtypeId": "New",
                "IsTransparency": False, "SerialNumberRequired": False})
    if order.is_business:
        out["PriceDesignation"] = "BusinessPrice"
    if order.mp.facilitator_tax and priced:
        out["TaxCollection"] = {"Model": "MarketplaceFacilitator",
                                "ResponsibleParty": "Amazon Services, Inc."}
    return out


# ---------------------------------------------------------------------------- Orders 2026-01-01

STATUS_2026 = {"Pending": "PENDING", "Unshipped": "UNSHIPPED",
               "PartiallyShipped": "PARTIALLY_SHIPPED", "Shipped": "SHIPPED",
               "Canceled": "CANCELLED"}
_LEVEL_2026 = {"Standard": "STANDARD", "Expedited": "EXPEDITED", "NextDay": "NEXT_DAY",
               "SecondDay": "SECOND_DAY"}
INCLUDED_2026 = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION",
                 "FULFILLMENT", "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")


def order_2026(order: Order, state: OrderState, included: set[str],
               packages: list[dict]) -> dict:
    """An Orders 2026-01-01 ``Order``; ``included`` is the ``includedData`` asked for and
    ``packages`` the seller's confirmed packages. Keys in Amazon's order."""
    mp = order.mp
    priced = state.status not in ("Pending", "Canceled")
    out: dict = {"orderId": order.id}
    if order.seller_order_id:
        out["orderAliases"] = [{"aliasId": order.seller_order_id,
                                "aliasType": "SELLER_ORDER_ID"}]
    out["createdTime"] = iso_z(order.purchase)
    out["lastUpdatedTime"] = iso_z(state.last_update)
    programs = _programs_2026(order)
    if programs:
        out["programs"] = programs
    out["salesChannel"] = {"channelName": "AMAZON", "marketplaceId": mp.id,
                           "marketplaceName": mp.name}
    if "BUYER" in included and priced:
        buyer = {"buyerEmail": order.buyer_email}
        if order.po_number:
            buyer["buyerPurchaseOrderNumber"] = order.po_number
        out["buyer"] = buyer
    if "RECIPIENT" in included and priced:
        city, region, postal = order.address
        out["recipient"] = {"deliveryAddress": {
            "city": city, "stateOrRegion": region, "postalCode": postal,
            "countryCode": mp.country, "addressType": "RESIDENTIAL"}}
    if "PROCEEDS" in included and priced:
        out["proceeds"] = _order_proceeds_2026(order)
    if "FULFILLMENT" in included:
        out["fulfillment"] = {
            "fulfillmentStatus": STATUS_2026[state.status],
            "fulfilledBy": "AMAZON" if order.channel == "AFN" else "MERCHANT",
            "fulfillmentServiceLevel": _LEVEL_2026[order.service_category],
            "shipByWindow": {"earliestDateTime": iso_z(order.pending_until),
                             "latestDateTime": iso_z(order.pending_until + 2 * DAY)},
        }
    out["orderItems"] = [_order_item_2026(order, item, state, included, priced=priced)
                         for item in order.items]
    if "PACKAGES" in included:
        pkgs = _packages_2026(order, state) + packages
        if pkgs:
            out["packages"] = pkgs
    return out


def _programs_2026(order: Order) -> list[str]:
    programs = []
    if order.is_business:
        programs.append("AMAZON_BUSINESS")
    if order.channel == "AFN":
        programs.append("DELIVERY_BY_AMAZON")
    if order.is_premium:
        programs.append("PREMIUM")
    if order.is_prime:
        programs.append("PRIME")
    return programs


def _order_proceeds_2026(order: Order) -> dict:
    cur = order.currency
    items_total = sum((i.item_price for i in order.items), ZERO)
    shipping = sum((i.shipping_price for i in order.items), ZERO)
    tax = sum((i.item_tax + i.shipping_tax - i.promotion_tax for i in order.items), ZERO)
    discount = sum((i.promotion for i in order.items), ZERO)
    return {
        "grandTotal": money_lower(_order_total(order), cur),
        "breakdowns": [
            {"type": "ITEM", "subtotal": money_lower(items_total, cur)},
            {"type": "SHIPPING", "subtotal": money_lower(shipping, cur)},
            {"type": "TAX", "subtotal": money_lower(tax, cur)},
            {"type": "DISCOUNT", "subtotal": money_lower(-discount, cur)},
        ],
    }


def _order_item_2026(order: Order, item: OrderItem, state: OrderState, included: set[str], *,
                     priced: bool) -> dict:
    cur = order.currency
    product: dict = {"asin": item.product.asin, "title": item.product.title,
                     "sellerSku": item.product.sku, "condition": {"conditionType": "NEW"}}
    if priced:
        price: dict = {"unitPrice": money_lower(item.unit_price, cur)}
        if order.is_business:
            price["priceDesignation"] = "BUSINESS_PRICE"
        product["price"] = price
    entry: dict = {"orderItemId": item.id, "quantityOrdered": item.quantity,
                   "product": product}
    if "PROCEEDS" in included and priced:
        entry["proceeds"] = _item_proceeds_2026(item, cur)
    if "PROMOTION" in included and item.promotion_id:
        entry["promotion"] = {"breakdowns": [{"promotionId": item.promotion_id}]}
    if "CANCELLATION" in included and state.status == "Canceled":
        entry["cancellation"] = {"cancellationExecution": {
            "cancelledBy": "BUYER", "cancelReason": "BUYER_CANCELED"}}
    if "FULFILLMENT" in included:
        done = state.shipped.get(item.id, 0)
        entry["fulfillment"] = {"quantityFulfilled": done,
                                "quantityUnfulfilled": item.quantity - done}
    if "TAX" in included and order.mp.facilitator_tax and priced:
        entry["tax"] = {"taxCollections": [{"model": "MARKETPLACE_FACILITATOR",
                                            "responsibleParty": "AMAZON_SERVICES"}]}
    return entry


def _item_proceeds_2026(item: OrderItem, cur: str) -> dict:
    total = (item.item_price + item.shipping_price + item.item_tax + item.shipping_tax
             - item.promotion - item.promotion_tax)
    return {
        "proceedsTotal": money_lower(total, cur),
        "breakdowns": [
            {"type": "ITEM", "subtotal": money_lower(item.item_price, cur)},
            {"type": "SHIPPING", "subtotal": money_lower(item.shipping_price, cur)},
            {"type": "TAX", "subtotal": money_lower(
                item.item_tax + item.shipping_tax - item.promotion_tax, cur)},
            {"type": "DISCOUNT", "subtotal": money_lower(-item.promotion, cur)},
        ],
    }


def _packages_2026(order: Order, state: OrderState) -> list[dict]:
    """The packages of the world's own shipments (one per ship time) as seen in ``state``."""
    pkgs = []
    for ship_time, item_ids in sorted(_world_packages(order, state).items()):
        pkgs.append({
            "packageReferenceId": f"{order.id[-7:]}{ship_time % 100000:05d}",
            "packageStatus": {"status": "SHIPPED"},
            "shipTime": iso_z(ship_time),
            "carrier": "AMZN_US" if order.channel == "AFN" else "UPS",
            "packageItems": [{"orderItemId": i, "quantity": q} for i, q in item_ids],
        })
    return pkgs


def _world_packages(order: Order, state: OrderState) -> dict[int, list[tuple[str, int]]]:
    grouped: dict[int, list[tuple[str, int]]] = {}
    for item in order.items:
        if item.ship_time is not None and state.ship_times.get(item.id) == item.ship_time:
            grouped.setdefault(item.ship_time, []).append((item.id, item.quantity))
    return grouped


# ---------------------------------------------------------------------------- Finances v0


def _currency(amount: Decimal, cur: str) -> dict:
    return {"CurrencyCode": cur, "CurrencyAmount": amount}


_CHARGE_TYPES = {("ItemPrice", "Principal"): "Principal", ("ItemPrice", "Tax"): "Tax",
                 ("ItemPrice", "Shipping"): "ShippingCharge",
                 ("ItemPrice", "ShippingTax"): "ShippingTax"}


def financial_event(posting: Posting) -> tuple[str, dict]:
    """(FinancialEvents list name, event) for one ledger posting."""
    cur = posting.mp.currency
    if posting.transaction_type in ("Order", "Refund"):
        order = posting.order
        items: dict[str, dict] = {}
        refund = posting.transaction_type == "Refund"
        suffix = "AdjustmentList" if refund else "List"
        for line in posting.lines:
            entry = items.setdefault(line.order_item_code, {"SellerSKU": line.sku,
                                                            "OrderItemId": line.order_item_code})
            if line.quantity:
                entry["QuantityShipped"] = int(line.quantity)
            if refund:
                entry.setdefault("OrderAdjustmentItemId", f"{line.order_item_code}R")
            amount = _currency(line.amount, cur)
            key = (line.amount_type, line.description)
            if key in _CHARGE_TYPES:
                entry.setdefault(f"ItemCharge{suffix}", []).append(
                    {"ChargeType": _CHARGE_TYPES[key], "ChargeAmount": amount})
            elif line.amount_type == "ItemFees":
                entry.setdefault(f"ItemFee{suffix}", []).append(
                    {"FeeType": line.description, "FeeAmount": amount})
            elif line.amount_type == "Promotion":
                entry.setdefault(f"Promotion{suffix}", []).append(
                    {"PromotionType": "PromotionMetaDataDefinitionValue",
                     "PromotionId": line.promotion_id, "PromotionAmount": amount})
            elif line.amount_type == "ItemWithheldTax":
                withheld = entry.setdefault("ItemTaxWithheldList", [
                    {"TaxCollectionModel": "MarketplaceFacilitator", "TaxesWithheld": []}])
                withheld[0]["TaxesWithheld"].append(
                    {"ChargeType": line.description, "ChargeAmount": amount})
        event = {"AmazonOrderId": order.id}
        if order.seller_order_id:
            event["SellerOrderId"] = order.seller_order_id
        event["MarketplaceName"] = order.mp.name
        event["PostedDate"] = iso_z(posting.time)
        event["ShipmentItemAdjustmentList" if refund else "ShipmentItemList"] = list(
            items.values())
        return ("RefundEventList" if refund else "ShipmentEventList"), event
    line = posting.lines[0]
    if posting.transaction_type in ("Storage Fee", "Subscription Fee"):
        fee_type = "FBAStorageFee" if posting.transaction_type == "Storage Fee" else "Subscription"
        return "ServiceFeeEventList", {
            "FeeList": [{"FeeType": fee_type, "FeeAmount": _currency(line.amount, cur)}],
            "FeeDescription": posting.transaction_type,
        }
    qty = int(line.quantity or "1")
    per_unit = line.amount / qty
    return "AdjustmentEventList", {
        "AdjustmentType": line.description,
        "PostedDate": iso_z(posting.time),
        "AdjustmentAmount": _currency(line.amount, cur),
        "AdjustmentItemList": [{
            "Quantity": str(qty),
            "PerUnitAmount": _currency(per_unit.quantize(Decimal("0.01")) if cur != "JPY"
                                       else per_unit.quantize(Decimal(1)), cur),
            "TotalAmount": _currency(line.amount, cur),
            "SellerSKU": line.sku,
        }],
    }


__all__ = ["order_v0", "order_item_v0", "order_2026", "financial_event"]

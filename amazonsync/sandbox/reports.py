"""Report documents generated from the world: tab-separated flat files as Amazon writes them
(UTF-8; Windows-31J with Japanese titles and addresses for Amazon.co.jp).

The one place flat files are rendered: the Reports API (``api/reports.py``) serves these
bytes, and tests read them too. This module reads the world; the world never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from .money import ZERO, fmt_amount, iso_date, iso_offset
from .shapes import Settlement, order_state

if TYPE_CHECKING:
    from .world import World

SETTLEMENT_COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)
FBA_RETURNS_COLUMNS = (
    "return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
    "fulfillment-center-id", "detailed-disposition", "reason", "status",
    "license-plate-number", "customer-comments",
)
MFN_RETURNS_COLUMNS = (
    "Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
    "Seller RMA ID", "Label type", "Label cost", "Currency code", "Return carrier",
    "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime", "ASIN", "Merchant SKU",
    "Item Name", "Return quantity", "Return reason", "In policy", "Return type", "Resolution",
    "Invoice number", "Return delivery date", "Order Amount", "Order quantity",
    "SafeT action reason", "SafeT claim id", "SafeT claim state", "SafeT claim creation time",
    "SafeT claim reimbursement amount", "Refunded Amount", "Category",
)
ALL_ORDERS_COLUMNS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date",
    "order-status", "fulfillment-channel", "sales-channel", "order-channel",
    "ship-service-level", "product-name", "sku", "asin", "item-status", "quantity", "currency",
    "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
    "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
    "purchase-order-number", "price-designation",
)


def _clean(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def tsv(columns: Iterable[str], rows: Iterable[dict], *, encoding: str = "utf-8") -> bytes:
    columns = tuple(columns)
    out = ["\t".join(columns)]
    for row in rows:
        out.append("\t".join(_clean(str(row.get(c, ""))) for c in columns))
    return ("\n".join(out) + "\n").encode(encoding)


# ---------------------------------------------------------------------------- Amazon.co.jp

# Amazon.co.jp writes its flat files in Windows-31J, with the listings' Japanese titles and
# the buyers' addresses in Japanese. The world's products have English titles; a report for
# Amazon.co.jp alone shows them as a Japanese listing would name them.
JP_ENCODING = "cp932"
_JP_WORDS = {
    "Water Bottle": "水筒", "Desk Mat": "デスクマット", "Tea Towel": "ティータオル",
    "Cutting Board": "まな板", "Yoga Mat": "ヨガマット", "Phone Case": "スマホケース",
    "Travel Pillow": "トラベル枕", "Bike Light": "自転車ライト", "Plant Pot": "植木鉢",
    "Wall Clock": "掛け時計", "Tote Bag": "トートバッグ", "Mug": "マグカップ", "Lamp": "ランプ",
    "Backpack": "リュックサック", "Notebook": "ノート", "Headphones": "ヘッドホン",
    "Charger": "充電器", "Candle": "キャンドル", "Thermos": "魔法瓶", "Classic": "クラシック",
    "Eco": "エコ", "Compact": "コンパクト", "Deluxe": "デラックス", "Nordic": "北欧風",
    "Urban": "アーバン", "Pro": "プロ", "Mini": "ミニ", "Bamboo": "竹製",
    "Vintage": "ヴィンテージ", "Smart": "スマート", "Everyday": "毎日使える",
    "Bundle": "セット", "Black": "ブラック", "White": "ホワイト", "Blue": "ブルー",
    "Green": "グリーン", "Small": "Sサイズ", "Medium": "Mサイズ", "Large": "Lサイズ",
}
_JP_PLACES = {"Shibuya-ku": "渋谷区", "Tokyo": "東京都", "Kita-ku": "大阪市北区",
              "Osaka": "大阪府"}
_JP_MARKETPLACE_ID = "A1VC38T7YXB528"


def _japanese_phrase(text: str) -> str:
    for english, japanese in _JP_WORDS.items():  # longest phrases first
        text = text.replace(english, japanese)
    return text


def japanese_title(title: str) -> str:
    """``Classic Mug, Black, Small`` as Amazon.co.jp lists it:
    クラシック マグカップ（ブラック、Sサイズ）."""
    name, *variation = title.split(", ")
    name = _japanese_phrase(name)
    if variation:
        name += "（" + "、".join(_japanese_phrase(v) for v in variation) + "）"
    return name


def _japan_only(marketplace_ids: list[str] | None) -> bool:
    return bool(marketplace_ids) and set(marketplace_ids) == {_JP_MARKETPLACE_ID}


def _in_japanese(rows: list[dict], title: str, places: tuple[str, ...] = ()) -> list[dict]:
    for row in rows:
        row[title] = japanese_title(row[title])
        for column in places:
            row[column] = _JP_PLACES.get(row[column], row[column])
    return rows


def _file(columns: tuple[str, ...], rows: list[dict], marketplace_ids: list[str] | None,
          title: str, places: tuple[str, ...] = ()) -> bytes:
    """The report's bytes: UTF-8, or Windows-31J in Japanese for Amazon.co.jp alone."""
    if _japan_only(marketplace_ids):
        return tsv(columns, _in_japanese(rows, title, places), encoding=JP_ENCODING)
    return tsv(columns, rows)


# ---------------------------------------------------------------------------- settlements


# Account-level fees are posted as "other-transaction" rows in V2 settlement files; the
# amount description says which fee it is.
_SETTLEMENT_TRANSACTION_TYPE = {
    "Storage Fee": "other-transaction",
    "Subscription Fee": "other-transaction",
}


def settlement_rows(settlement: Settlement) -> list[dict]:
    """Header row first (with total-amount), then one row per amount line."""
    cur = settlement.currency
    lines: list[dict] = []
    for posting in settlement.postings:
        order = posting.order
        for line in posting.lines:
            lines.append({
                "settlement-id": settlement.id,
                "transaction-type": _SETTLEMENT_TRANSACTION_TYPE.get(
                    posting.transaction_type, posting.transaction_type
                ),
                "order-id": order.id if order else "",
                "merchant-order-id": (order.seller_order_id or "") if order else "",
                "adjustment-id": posting.adjustment_id,
                "shipment-id": posting.shipment_id,
                "marketplace-name": settlement.mp.name if order else "",
                "amount-type": line.amount_type,
                "amount-description": line.description,
                "amount": fmt_amount(line.amount, cur),
                "fulfillment-id": ("AFN" if order.channel == "AFN" else "MFN") if order else "",
                "posted-date": iso_date(posting.time),
                "posted-date-time": iso_offset(posting.time),
                "order-item-code": line.order_item_code,
                "sku": line.sku,
                "quantity-purchased": line.quantity,
                "promotion-id": line.promotion_id,
            })
    for description, amount, when in (
        ("Previous Reserve Amount Balance", settlement.reserve_previous, settlement.start),
        ("Current Reserve Amount", -settlement.reserve_current, settlement.end - 1),
    ):
        lines.append({
            "settlement-id": settlement.id,
            "transaction-type": description,
            "amount-type": "other-transaction",
            "amount-description": description,
            "amount": fmt_amount(amount, cur),
            "posted-date": iso_date(when),
            "posted-date-time": iso_offset(when),
        })
    total = sum((Decimal(r["amount"]) for r in lines), ZERO)
    return [settlement_summary_row(settlement, total), *lines]


def settlement_summary_row(settlement: Settlement, total: Decimal) -> dict:
    """The first data row of a settlement file (V2 and V1 alike): the settlement itself."""
    return {
        "settlement-id": settlement.id,
        "settlement-start-date": iso_offset(settlement.start),
        "settlement-end-date": iso_offset(settlement.end),
        "deposit-date": iso_offset(settlement.deposit),
        "total-amount": fmt_amount(total, settlement.currency),
        "currency": settlement.currency,
    }


def settlement_bytes(settlement: Settlement) -> bytes:
    return tsv(SETTLEMENT_COLUMNS, settlement_rows(settlement))


# ---------------------------------------------------------------------------- orders


def _in_mps(mp_id: str, marketplace_ids: list[str] | None) -> bool:
    return not marketplace_ids or mp_id in marketplace_ids


def all_orders_rows(world: World, start: int, end: int, now: int,
                    marketplace_ids: list[str] | None = None,
                    shipments: dict | None = None) -> list[dict]:
    rows = []
    for order in world.orders:
        if order.purchase > now or not _in_mps(order.mp.id, marketplace_ids):
            continue
        state = order_state(order, now, shipments)
        if state is None or not start <= state.last_update <= end:
            continue
        cur = order.currency
        priced = state.status not in ("Pending", "Canceled")
        report_status = {"Canceled": "Cancelled", "PartiallyShipped": "Shipping",
                         "Unshipped": "Pending"}.get(state.status, state.status)
        for item in order.items:
            shipped = state.shipped.get(item.id, 0)
            if state.status == "Canceled":
                item_status = "Cancelled"
            elif shipped >= item.quantity:
                item_status = "Shipped"
            else:
                item_status = "Unshipped"

            def money(value: Decimal, *, _priced: bool = priced, _cur: str = cur) -> str:
                return fmt_amount(value, _cur) if _priced else ""

            rows.append({
                "amazon-order-id": order.id,
                "merchant-order-id": order.seller_order_id or "",
                "purchase-date": iso_offset(order.purchase),
                "last-updated-date": iso_offset(state.last_update),
                "order-status": report_status,
                "fulfillment-channel": "Amazon" if order.channel == "AFN" else "Merchant",
                "sales-channel": order.mp.name,
                "order-channel": "",
                "ship-service-level": order.service_category,
                "product-name": item.product.title,
                "sku": item.product.sku,
                "asin": item.product.asin,
                "item-status": item_status,
                "quantity": str(item.quantity),
                "currency": cur if priced else "",
                "item-price": money(item.item_price),
                "item-tax": money(item.item_tax),
                "shipping-price": money(item.shipping_price),
                "shipping-tax": money(item.shipping_tax),
                "gift-wrap-price": money(ZERO),
                "gift-wrap-tax": money(ZERO),
                "item-promotion-discount": money(-item.promotion) if item.promotion else
                money(ZERO),
                "ship-promotion-discount": money(ZERO),
                "ship-city": order.address[0] if priced else "",
                "ship-state": order.address[1] if priced else "",
                "ship-postal-code": order.address[2] if priced else "",
                "ship-country": order.mp.country,
                "promotion-ids": item.promotion_id or "",
                "is-business-order": "true" if order.is_business else "false",
                "purchase-order-number": order.po_number or "",
                "price-designation": "BusinessPrice" if order.is_business else "",
            })
    return rows


def all_orders_bytes(world: World, start: int, end: int, now: int,
                     marketplace_ids: list[str] | None = None,
                     shipments: dict | None = None) -> bytes:
    return _file(ALL_ORDERS_COLUMNS,
                 all_orders_rows(world, start, end, now, marketplace_ids, shipments),
                 marketplace_ids, "product-name", ("ship-city", "ship-state"))


# ---------------------------------------------------------------------------- returns


def _returns(world: World, channel: str, start: int, end: int, now: int,
             marketplace_ids: list[str] | None):
    for order in world.orders:
        if order.channel != channel or not _in_mps(order.mp.id, marketplace_ids):
            continue
        for item in order.items:
            ret = item.ret
            if ret is not None and ret.time <= now and start <= ret.time <= end:
                yield order, item, ret


def fba_returns_bytes(world: World, start: int, end: int, now: int,
                      marketplace_ids: list[str] | None = None) -> bytes:
    rows = []
    for order, item, ret in _returns(world, "AFN", start, end, now, marketplace_ids):
        rows.append({
            "return-date": iso_offset(ret.time),
            "order-id": order.id,
            "sku": item.product.sku,
            "asin": item.product.asin,
            "fnsku": item.product.fnsku or "",
            "product-name": item.product.title,
            "quantity": str(ret.quantity),
            "fulfillment-center-id": ret.fc,
            "detailed-disposition": ret.disposition,
            "reason": ret.reason,
            "status": "Unit returned to inventory" if ret.disposition == "SELLABLE"
            else "Reimbursed",
            "license-plate-number": ret.lpn,
            "customer-comments": ret.comments,
        })
    rows.sort(key=lambda r: (r["return-date"], r["order-id"], r["sku"]))
    return _file(FBA_RETURNS_COLUMNS, rows, marketplace_ids, "product-name")


def mfn_returns_bytes(world: World, start: int, end: int, now: int,
                      marketplace_ids: list[str] | None = None) -> bytes:
    rows = []
    for order, item, ret in _returns(world, "MFN", start, end, now, marketplace_ids):
        cur = order.currency
        refunded = ret.refund_time <= now
        amount = item.item_price * ret.quantity / item.quantity
        rows.append({
            "Order ID": order.id,
            "Order date": iso_date(order.purchase),
            "Return request date": iso_date(ret.time),
            "Return request status": "Closed" if refunded else "Approved",
            "Amazon RMA ID": ret.rma,
            "Seller RMA ID": "",
            "Label type": "AmazonUnPaidLabel",
            "Label cost": "",
            "Currency code": cur,
            "Return carrier": "",
            "Tracking ID": "",
            "Label to be paid by": "Customer",
            "A-to-Z Claim": "N",
            "Is prime": "Y" if order.is_prime else "N",
            "ASIN": item.product.asin,
            "Merchant SKU": item.product.sku,
            "Item Name": item.product.title,
            "Return quantity": str(ret.quantity),
            "Return reason": ret.reason,
            "In policy": "Y",
            "Return type": "C-Returns",
            "Resolution": "StandardRefund",
            "Invoice number": "",
            "Return delivery date": iso_date(ret.refund_time) if refunded else "",
            "Order Amount": fmt_amount(item.item_price, cur),
            "Order quantity": str(item.quantity),
            "Refunded Amount": fmt_amount(amount, cur) if refunded else "",
            "Category": item.product.product_type,
        })
    rows.sort(key=lambda r: (r["Return request date"], r["Order ID"], r["Merchant SKU"]))
    return _file(MFN_RETURNS_COLUMNS, rows, marketplace_ids, "Item Name")

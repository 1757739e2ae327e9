"""Credit memos: the customer credit per refunded order line (principal, tax, shipping,
promotion), kept in step with the settlement refund lines by refund matching, and exported
as CSV for the ERP. A memo already exported is never changed behind the ERP's back: a
change in its figures is a finance exception to book by hand."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from amazonsync import money
from amazonsync.models import Team
from amazonsync.services import exception_record
from marketplaces.models import SellerAccount

from ..models import CreditMemo, RefundMatch
from .common import FLOW, MEMO_CHANGED, ZERO, line_time

_TAX = {"tax", "shippingtax", "giftwraptax"}
_SHIPPING = {"shipping", "giftwrap", "shippingchargeback"}

CREDIT_MEMO_COLUMNS = ("memo_number", "seller_account", "marketplace", "order_id",
                       "order_item", "sku", "refund_date", "currency", "quantity", "principal",
                       "tax", "shipping", "promotion", "total")


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


def credit_memos_sync(*, account: SellerAccount, memo_lines: dict, run) -> int:
    """One memo per refunded (order, order item or SKU) in ``memo_lines``: created, or
    updated where its figures or links changed (inside refund matching's transaction);
    returns how many were written."""
    if not memo_lines:
        return 0
    order_ids = {k[0] for k in memo_lines}
    existing = {(m.order_id, m.line_key): m for m in CreditMemo.objects.filter(
        account=account, order_id__in=order_ids)}
    matches = {(m.order_id, m.seller_sku): m.pk for m in RefundMatch.objects.filter(
        account=account, order_id__in=order_ids)}
    order_lines = _order_lines(account, order_ids)
    written = 0
    for (order_id, line_key), lines in sorted(memo_lines.items()):
        if not any(line.amount_type.lower() in ("itemprice", "promotion") for line in lines):
            continue
        figures = _memo_figures(lines)
        first = lines[0]
        sku = next((line.sku for line in lines if line.sku), "")
        times = [t for t in (line_time(line) for line in lines) if t is not None]
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
        else:
            written += _memo_update(account=account, memo=memo, values=values,
                                    figures=figures, run=run)
    return written


def _memo_update(*, account: SellerAccount, memo: CreditMemo, values: dict, figures: dict,
                 run) -> int:
    """Write what changed (1) or nothing (0); an exported memo keeps its figures and a
    change in them becomes a finance exception."""
    dirty = [k for k, v in values.items() if getattr(memo, k) != v]
    if not dirty:
        return 0
    if memo.exported_at is not None and set(dirty) & {*figures}:
        _memo_changed_after_export(account=account, memo=memo, new_total=figures["total"],
                                   run=run)
        dirty = [k for k in dirty if k not in figures]
        if not dirty:
            return 0
    for k in dirty:
        setattr(memo, k, values[k])
    memo.save(update_fields=dirty)
    return 1


def _memo_changed_after_export(*, account: SellerAccount, memo: CreditMemo, new_total,
                               run) -> None:
    cur = memo.currency
    exception_record(
        flow=FLOW, account=account, marketplace=memo.marketplace,
        object_kind="credit_memo", object_key=memo.number, reason_code=MEMO_CHANGED,
        owner_team=Team.FINANCE, run=run,
        message=f"Credit memo {memo.number} was exported on "
        f"{memo.exported_at:%Y-%m-%d} with total {money.display(memo.total, cur)}; the "
        f"refunds now add up to {money.display(new_total, cur)}. Book the difference by "
        "hand.",
        payload={"memo": memo.number, "exported_total": money.fmt(memo.total, cur),
                 "new_total": money.fmt(new_total, cur)},
    )


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


def credit_memos_export(*, memos: Iterable[CreditMemo], user=None) -> str:
    """The memos as CSV for the ERP (amounts rounded per currency); marks them exported."""
    memos = list(memos)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CREDIT_MEMO_COLUMNS)
    for m in sorted(memos, key=lambda m: (m.refund_date, m.number)):
        writer.writerow([
            m.number, m.account.selling_partner_id,
            m.marketplace.code if m.marketplace_id else "", m.order_id, m.line_key,
            m.seller_sku, m.refund_date.isoformat(), m.currency, m.quantity,
            *(money.fmt(amount, m.currency)
              for amount in (m.principal, m.tax, m.shipping, m.promotion, m.total)),
        ])
    with transaction.atomic():
        CreditMemo.objects.filter(pk__in=[m.pk for m in memos], exported_at__isnull=True)\
            .update(exported_at=timezone.now(), exported_by=user)
    return out.getvalue()

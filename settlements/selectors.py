"""Reads for settlements: journal summaries, reconciliation, the drift series."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.expressions import RawSQL

from amazonsync.reports import quantize_money

from .models import JournalBatch, JournalLine, Settlement, SettlementLine

ZERO = Decimal("0")


def active_batches(settlement: Settlement):
    return settlement.journal_batches.filter(
        kind=JournalBatch.Kind.JOURNAL, reversed_by__isnull=True
    )


_STATUS_ORDER = ["draft", "ready", "approved", "exported"]


def journal_summary(settlement: Settlement) -> dict:
    """Status (the least advanced of the active batches), totals, balanced."""
    batches = list(active_batches(settlement).order_by("period"))
    debit = sum((b.debit_total for b in batches), ZERO)
    credit = sum((b.credit_total for b in batches), ZERO)
    if batches:
        status = min((b.status for b in batches), key=_STATUS_ORDER.index)
    else:
        status = "none"
    currency = settlement.currency
    return {
        "status": status,
        "batches": len(batches),
        "debit_total": str(quantize_money(debit, currency)),
        "credit_total": str(quantize_money(credit, currency)),
        "balanced": debit == credit and all(b.balanced for b in batches),
    }


def settlement_as_json(settlement: Settlement, *, created: bool) -> dict:
    currency = settlement.currency

    def money(value):
        return None if value is None else str(quantize_money(value, currency))

    return {
        "settlement_id": settlement.settlement_id,
        "currency": currency,
        "total_amount": money(settlement.total_amount),
        "lines": settlement.line_count,
        "sum_of_lines": money(settlement.sum_of_lines),
        "drift": money(settlement.internal_drift),
        "journal_drift": money(settlement.journal_drift),
        "unmapped_lines": settlement.unmapped_lines,
        "journal": journal_summary(settlement),
        "created": created,
    }


# --------------------------------------------------------------------------- orders


@dataclass
class OrderIssue:
    kind: str  # missing_order | amount_mismatch | refund_without_order
    order_id: str
    settlement_amount: Decimal
    our_amount: Decimal | None = None


@dataclass
class OrderReconciliation:
    orders_checked: int = 0
    issues: list[OrderIssue] = field(default_factory=list)


_ORDER_ID_FIELDS = ("amazon_order_id", "order_id")
_PRINCIPAL_FIELDS = ("order_total", "item_total", "total")


def _order_model():
    """(Order model, its Amazon id field, a per-order principal query) or None when the
    orders app is not installed or not migrated: order reconciliation is then skipped."""
    if not apps.is_installed("orders"):
        return None
    try:
        order_model = apps.get_model("orders", "Order")
    except LookupError:
        return None
    names = {f.name for f in order_model._meta.get_fields()}
    id_field = next((f for f in _ORDER_ID_FIELDS if f in names), None)
    if id_field is None:
        return None
    try:
        line_model = apps.get_model("orders", "OrderLine")
        line_names = {f.name for f in line_model._meta.get_fields()}
    except LookupError:
        line_model, line_names = None, set()
    tables = set(connection.introspection.table_names())
    if order_model._meta.db_table not in tables:
        return None
    if line_model is not None and "item_price" in line_names and "order" in line_names \
            and line_model._meta.db_table in tables:
        def principal(ids, account_id):
            qs = line_model.objects.filter(**{f"order__{id_field}__in": _id_list(ids)})
            if "account" in names:
                qs = qs.filter(order__account_id=account_id)
            return qs.values_list(f"order__{id_field}").annotate(total=Sum("item_price"))
    else:
        amount_field = next((f for f in _PRINCIPAL_FIELDS if f in names), None)
        if amount_field is None:
            return None

        def principal(ids, account_id):
            qs = order_model.objects.filter(**{f"{id_field}__in": _id_list(ids)})
            if "account" in names:
                qs = qs.filter(account_id=account_id)
            return qs.values_list(id_field, amount_field)

    def existing(ids, account_id):
        qs = order_model.objects.filter(**{f"{id_field}__in": _id_list(ids)})
        if "account" in names:
            qs = qs.filter(account_id=account_id)
        return set(qs.values_list(id_field, flat=True))

    return existing, principal


def order_line_kind(transaction_type: str, amount_type: str, amount_description: str):
    """'principal' for order principal lines, 'refund' for refunded principal, else None
    (case-insensitive, like the ``iexact`` filters of :func:`order_reconciliation`)."""
    if amount_type.upper() != "ITEMPRICE" or amount_description.upper() != "PRINCIPAL":
        return None
    return {"ORDER": "principal", "REFUND": "refund"}.get(transaction_type.upper())


ID_BATCH = 5000


def _id_batch() -> int:
    return 1_000_000 if connection.vendor == "postgresql" else ID_BATCH


def _id_list(ids):
    """A list of order ids as one array parameter on PostgreSQL (thousands of ids would
    otherwise be thousands of query parameters); a queryset or other backends: as is."""
    if isinstance(ids, list) and connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", (ids,))
    return ids


def order_reconciliation(settlement: Settlement, *, limit: int = 10_000, totals=None):
    """Order principal in the settlement vs our orders: missing orders, amount mismatches,
    refunds without an order. None when skipped (no orders app).

    ``totals``: the :class:`settlements.parsers.LineTotals` of the import (per-order
    principal gathered while the lines streamed); without them the lines are read in SQL.
    """
    found = _order_model()
    if found is None:
        return None
    existing, principal_of = found
    if totals is not None:
        def first(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
            return {k: v for k, v in itertools.islice(amounts.items(), limit) if k}

        principal = first(totals.orders.get("principal", {}))
        refunds = first(totals.orders.get("refund", {}))
        ids = sorted(set(principal) | set(refunds))
        known: set[str] = set()
        for i in range(0, len(ids), _id_batch()):
            known |= existing(ids[i:i + _id_batch()], settlement.account_id)
    else:
        lines = SettlementLine.objects.filter(settlement=settlement).exclude(order_id="")
        principal = dict(
            lines.filter(
                transaction_type__iexact="Order", amount_type__iexact="ItemPrice",
                amount_description__iexact="Principal",
            )
            .values_list("order_id")
            .annotate(total=Sum("amount"))
            .order_by()[:limit]
        )
        refunds = dict(
            lines.filter(transaction_type__iexact="Refund", amount_type__iexact="ItemPrice",
                         amount_description__iexact="Principal")
            .values_list("order_id")
            .annotate(total=Sum("amount"))
            .order_by()[:limit]
        )
        wanted = lines.filter(
            Q(transaction_type__iexact="Order") | Q(transaction_type__iexact="Refund")
        ).values("order_id").distinct()
        known = existing(wanted, settlement.account_id)
    ours: dict[str, Decimal] = {}
    mine = sorted(known & set(principal))
    for i in range(0, len(mine), _id_batch()):
        for order_id, amount in principal_of(mine[i:i + _id_batch()], settlement.account_id):
            ours[order_id] = (ours.get(order_id) or ZERO) + (amount or ZERO)
    result = OrderReconciliation(orders_checked=len(set(principal) | set(refunds)))
    currency = settlement.currency
    for order_id, amount in sorted(principal.items()):
        if order_id not in known:
            result.issues.append(OrderIssue("missing_order", order_id, amount))
        elif quantize_money(ours.get(order_id, ZERO), currency) != quantize_money(
            amount, currency
        ):
            result.issues.append(
                OrderIssue("amount_mismatch", order_id, amount, ours.get(order_id, ZERO))
            )
    for order_id, amount in sorted(refunds.items()):
        if order_id not in known:
            result.issues.append(OrderIssue("refund_without_order", order_id, amount))
    return result


# --------------------------------------------------------------------------- pages


def mapping_groups(settlement: Settlement) -> list[dict]:
    """The settlement's lines by (type, amount type, description) with their GL account."""
    from .services import GLMapper

    mapper = GLMapper()
    from .models import GLAccount

    accounts = {a.pk: a for a in GLAccount.objects.all()}
    rows = (
        SettlementLine.objects.filter(settlement=settlement)
        .values("transaction_type", "amount_type", "amount_description")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("transaction_type", "amount_type", "amount_description")
    )
    out = []
    for r in rows:
        rule = mapper.rule_for(
            r["transaction_type"], r["amount_type"], r["amount_description"],
            settlement.marketplace_id,
        )
        out.append({**r, "gl_account": accounts.get(rule.gl_account_id) if rule else None})
    return out


def reconciliation(settlement: Settlement) -> dict:
    from .services import previous_settlement

    batches = list(
        settlement.journal_batches.select_related(
            "prepared_by", "approved_by", "last_changed_by", "reverses"
        ).order_by("period", "kind", "generation")
    )
    journal_by_period = (
        JournalLine.objects.filter(batch__in=active_batches(settlement), role="line")
        .values("batch__period")
        .annotate(c=Sum("credit"), d=Sum("debit"))
        .order_by("batch__period")
    )
    return {
        "settlement": settlement,
        "batches": batches,
        "journal": journal_summary(settlement),
        "periods": [
            {"period": r["batch__period"], "net": (r["c"] or ZERO) - (r["d"] or ZERO)}
            for r in journal_by_period
        ],
        "groups": mapping_groups(settlement),
        "previous": previous_settlement(settlement),
        "orders": order_reconciliation(settlement, limit=2000),
    }


def drift_series(
    *, account_id: int | None = None, marketplace_id: str | None = None,
    date_from: date | None = None, date_to: date | None = None, currency: str | None = None,
) -> dict:
    """Drift over time per marketplace, for the chart: {marketplace: [points]}."""
    qs = Settlement.objects.select_related("marketplace").order_by("end_date", "pk")
    if account_id:
        qs = qs.filter(account_id=account_id)
    if marketplace_id:
        qs = qs.filter(marketplace_id=marketplace_id)
    if currency:
        qs = qs.filter(currency=currency)
    if date_from:
        qs = qs.filter(end_date__date__gte=date_from)
    if date_to:
        qs = qs.filter(end_date__date__lte=date_to)
    series: dict[str, list[dict]] = {}
    for s in qs[:5000]:
        label = f"{s.marketplace.code if s.marketplace else 'unknown'} ({s.currency})"
        series.setdefault(label, []).append(
            {
                "date": s.end_date.date().isoformat(),
                "settlement": s.settlement_id,
                "pk": s.pk,
                "internal": str(s.internal_drift),
                "journal": str(s.journal_drift or ZERO),
                "deposit": str(s.deposit_drift or ZERO),
                "reserve": str(s.reserve_drift or ZERO),
            }
        )
    return series


def settlements_with_drift():
    return Settlement.objects.filter(Q(has_drift=True))

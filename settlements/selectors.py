"""Reads for settlements: the GL mapping rules, journal summaries, reconciliation, the drift
series."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase

from django.apps import apps
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.expressions import RawSQL

from amazonsync.flatfiles.locale import locale_by_code
from amazonsync.money import quantize
from marketplaces.models import Marketplace, SellerAccount

from .models import (
    GLAccount,
    GLMapping,
    JournalBatch,
    JournalLine,
    Settlement,
    SettlementLine,
    SettlementReportDocument,
)
from .parsers.report import FileLocale
from .series import series_place

ZERO = Decimal("0")


def active_batches(settlement: Settlement):
    """Journal batches that count: not reversals, and not reversed."""
    return settlement.journal_batches.filter(
        kind=JournalBatch.Kind.JOURNAL, reversed_by__isnull=True
    )


# --------------------------------------------------------------------------- GL mapping


@dataclass(frozen=True)
class _Rule:
    pk: int
    fields: tuple[str, str, str]
    pattern: bool
    marketplace_id: str | None
    gl_account_id: int
    specificity: tuple[int, int, int, int]

    def matches(self, values: tuple[str, str, str], marketplace_id: str | None) -> bool:
        if self.marketplace_id is not None and self.marketplace_id != marketplace_id:
            return False
        for rule_value, value in zip(self.fields, values, strict=True):
            if not rule_value:
                continue
            if self.pattern:
                if not fnmatchcase(value.lower(), rule_value):
                    return False
            elif value.lower() != rule_value:
                return False
        return True


def _specificity(fields: tuple[str, str, str], pattern: bool, marketplace: bool):
    exact = literal = 0
    for value in fields:
        if not value:
            continue
        if not pattern or not any(ch in value for ch in "*?["):
            exact += 1
            literal += len(value)
        else:
            literal += sum(1 for ch in value if ch not in "*?[]")
    return (1 if marketplace else 0, exact, literal, 0)


class GLMapper:
    """Resolves (transaction type, amount type, description, marketplace) to a GL account.

    Loads the rules once; the most specific matching rule wins (ties: the oldest rule).
    """

    def __init__(self) -> None:
        rules = []
        for m in GLMapping.objects.filter(gl_account__active=True).order_by("pk"):
            fields = (
                m.transaction_type.strip().lower(),
                m.amount_type.strip().lower(),
                m.amount_description.strip().lower(),
            )
            rules.append(
                _Rule(
                    pk=m.pk, fields=fields, pattern=m.pattern,
                    marketplace_id=m.marketplace_id, gl_account_id=m.gl_account_id,
                    specificity=_specificity(fields, m.pattern, m.marketplace_id is not None),
                )
            )
        rules.sort(key=lambda r: (tuple(-x for x in r.specificity), r.pk))
        self.rules = rules
        self._cache: dict[tuple, _Rule | None] = {}

    def rule_for(
        self, transaction_type: str, amount_type: str, amount_description: str,
        marketplace_id: str | None = None,
    ) -> _Rule | None:
        key = (transaction_type, amount_type, amount_description, marketplace_id)
        if key not in self._cache:
            values = (transaction_type, amount_type, amount_description)
            self._cache[key] = next(
                (r for r in self.rules if r.matches(values, marketplace_id)), None
            )
        return self._cache[key]


def gl_account_pinned_by(account: GLAccount) -> str | None:
    """The reference of an approved or exported batch that uses ``account``, or None."""
    if account.pk is None:
        return None
    return (
        JournalBatch.objects.filter(
            lines__gl_account=account,
            status__in=[JournalBatch.Status.APPROVED, JournalBatch.Status.EXPORTED],
        )
        .order_by("pk")
        .values_list("reference", flat=True)
        .first()
    )



# --------------------------------------------------------------------------- journals


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
        "debit_total": str(quantize(debit, currency)),
        "credit_total": str(quantize(credit, currency)),
        "balanced": debit == credit and all(b.balanced for b in batches),
    }


def settlement_as_json(settlement: Settlement, *, created: bool) -> dict:
    currency = settlement.currency

    def money(value):
        return None if value is None else str(quantize(value, currency))

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


@dataclass(frozen=True)
class Unexplained:
    """What the journal of a settlement does not account for."""

    total: Decimal  # Amazon's total, rounded to the currency
    booked: Decimal  # net of the settlement lines in the journal
    adjusted: Decimal  # net of the explained adjustments
    drift: Decimal  # left over on Amazon clearing: total - booked - adjusted
    unmapped_lines: int


def settlement_unexplained(settlement: Settlement) -> Unexplained:
    """Amazon clearing must net to zero over the settlement's active batches: the deposit
    (Amazon's total) against the lines booked and the adjustments explained. What is left is
    drift nobody explained (a summary total that is not the sum of the lines, or lines with
    no GL mapping)."""
    batches = active_batches(settlement)
    rows = (
        JournalLine.objects.filter(batch__in=batches)
        .values("role", "gl_account__role")
        .annotate(c=Sum("credit"), d=Sum("debit"))
        .order_by()
    )
    booked = adjusted = clearing = ZERO
    for r in rows:
        net = (r["c"] or ZERO) - (r["d"] or ZERO)
        on_clearing = r["gl_account__role"] == GLAccount.Role.AMAZON_CLEARING
        if on_clearing:
            clearing += net
        if r["role"] == JournalLine.Role.LINE:
            booked += net
        elif r["role"] == JournalLine.Role.ADJUSTMENT and not on_clearing:
            adjusted += net
    unmapped = batches.aggregate(n=Sum("unmapped_lines"))["n"] or 0
    return Unexplained(
        total=quantize(settlement.total_amount, settlement.currency),
        booked=booked, adjusted=adjusted, drift=clearing, unmapped_lines=unmapped,
    )


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
    """(existing ids query, principal query) or None when the orders app is not installed
    or not migrated: order reconciliation is then skipped.

    The principal query gives ``(order id, seller SKU, principal)`` rows: our order lines'
    item price per SKU, or, where the orders have no lines with a SKU and price, one row
    per order with SKU None (the order is then compared as a whole)."""
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
    if line_model is not None and {"item_price", "order", "seller_sku"} <= line_names \
            and line_model._meta.db_table in tables:
        def principal(ids, account_id):
            qs = line_model.objects.filter(**{f"order__{id_field}__in": _id_list(ids)})
            if "account" in names:
                qs = qs.filter(order__account_id=account_id)
            return (
                qs.values_list(f"order__{id_field}", "seller_sku")
                .annotate(total=Sum("item_price"))
                .order_by()
            )
    else:
        amount_field = next((f for f in _PRINCIPAL_FIELDS if f in names), None)
        if amount_field is None:
            return None

        def principal(ids, account_id):
            qs = order_model.objects.filter(**{f"{id_field}__in": _id_list(ids)})
            if "account" in names:
                qs = qs.filter(account_id=account_id)
            return ((i, None, a) for i, a in qs.values_list(id_field, amount_field))

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


def _by_order(items, limit: int) -> dict[str, dict[str, Decimal]]:
    """``((order id, sku), amount)`` items as {order id: {sku: amount}} for the ``limit``
    smallest order ids (all SKUs of each; items without an order id left out): the same
    orders whichever path, and whatever order, the items come from."""
    out: dict[str, dict[str, Decimal]] = {}
    for (order_id, sku), amount in items:
        if not order_id:
            continue
        skus = out.get(order_id)
        if skus is None:
            skus = out[order_id] = {}
        skus[sku] = skus.get(sku, ZERO) + amount
    if len(out) > limit:
        out = {order_id: out[order_id] for order_id in heapq.nsmallest(limit, out)}
    return out


def _settled_sql(lines, transaction_type: str, limit: int) -> dict[str, dict[str, Decimal]]:
    """The principal of ``transaction_type`` lines per order and SKU of the ``limit``
    smallest order ids: SQL over the stored lines (the reference for the streamed totals)."""
    these = lines.filter(
        transaction_type__iexact=transaction_type, amount_type__iexact="ItemPrice",
        amount_description__iexact="Principal",
    )
    first = these.values("order_id").distinct().order_by("order_id")[:limit]
    rows = (
        these.filter(order_id__in=first)
        .values_list("order_id", "sku")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return _by_order((((o, sku), total) for o, sku, total in rows), limit)


def order_reconciliation(settlement: Settlement, *, limit: int = 10_000, totals=None):
    """Order principal in the settlement vs our orders: missing orders, amount mismatches,
    refunds without an order. None when skipped (no orders app).

    Compared per (order, SKU): the settlement's principal for each SKU of the order in
    this settlement against our order lines' item price for that SKU, so an order whose
    items are settled in parts (split shipment, partly shipped) matches in every
    settlement. A SKU our order does not have, or a different amount (quantized per
    currency) for a SKU, is an ``amount_mismatch``; the issue's amounts are the order's
    sums over the SKUs of this settlement. When a principal line names no SKU (or our
    orders have no lines by SKU) the order is compared as a whole. At most ``limit``
    orders with principal and ``limit`` with refunds are checked: the smallest order ids.

    ``totals``: the :class:`settlements.parsers.LineTotals` of the import (principal per
    order and SKU gathered while the lines streamed); without them the lines are read in
    SQL. Both give the same result.
    """
    found = _order_model()
    if found is None:
        return None
    existing, principal_of = found
    if totals is not None:
        principal = _by_order(totals.orders.get("principal", {}).items(), limit)
        refunds = _by_order(totals.orders.get("refund", {}).items(), limit)
        ids = sorted(set(principal) | set(refunds))
        known: set[str] = set()
        for i in range(0, len(ids), _id_batch()):
            known |= existing(ids[i:i + _id_batch()], settlement.account_id)
    else:
        lines = SettlementLine.objects.filter(settlement=settlement).exclude(order_id="")
        principal = _settled_sql(lines, "Order", limit)
        refunds = _settled_sql(lines, "Refund", limit)
        wanted = lines.filter(
            Q(transaction_type__iexact="Order") | Q(transaction_type__iexact="Refund")
        ).values("order_id").distinct()
        known = existing(wanted, settlement.account_id)
    ours: dict[str, dict[str | None, Decimal]] = {}
    mine = sorted(known & set(principal))
    for i in range(0, len(mine), _id_batch()):
        for order_id, sku, amount in principal_of(mine[i:i + _id_batch()],
                                                  settlement.account_id):
            skus = ours.setdefault(order_id, {})
            skus[sku] = skus.get(sku, ZERO) + (amount or ZERO)
    result = OrderReconciliation(orders_checked=len(set(principal) | set(refunds)))
    currency = settlement.currency

    def money(value: Decimal) -> Decimal:
        return quantize(value, currency)

    for order_id, settled in sorted(principal.items()):
        amount = sum(settled.values(), ZERO)
        if order_id not in known:
            result.issues.append(OrderIssue("missing_order", order_id, money(amount)))
            continue
        skus = ours.get(order_id, {})
        if "" in settled or None in skus:  # no SKU to compare by: the whole order
            our_amount = sum(skus.values(), ZERO)
            differs = money(our_amount) != money(amount)
        else:
            our_amount = sum((skus[sku] for sku in settled if sku in skus), ZERO)
            differs = any(
                sku not in skus or money(skus[sku]) != money(value)
                for sku, value in settled.items()
            )
        if differs:
            result.issues.append(
                OrderIssue("amount_mismatch", order_id, money(amount), money(our_amount))
            )
    for order_id, settled in sorted(refunds.items()):
        if order_id not in known:
            result.issues.append(OrderIssue(
                "refund_without_order", order_id, money(sum(settled.values(), ZERO))
            ))
    return result


# --------------------------------------------------------------------------- pages


def mapping_groups(settlement: Settlement) -> list[dict]:
    """The settlement's lines by (type, amount type, description) with their GL account."""
    mapper = GLMapper()
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
    batches = list(
        settlement.journal_batches.select_related(
            "prepared_by", "ready_by", "approved_by", "last_changed_by", "reverses"
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
        "series": series_place(settlement),
        "orders": order_reconciliation(settlement, limit=2000),
    }


def drift_chart_choices() -> dict:
    """The marketplaces and seller accounts that have settlements (the chart's filters)."""
    return {
        "marketplaces": Marketplace.objects.filter(
            pk__in=Settlement.objects.values("marketplace")
        ),
        "accounts": SellerAccount.objects.filter(pk__in=Settlement.objects.values("account")),
    }


def settlement_file_locale(*, account, marketplace: Marketplace | None = None,
                           encoding: str | None = None) -> FileLocale:
    """What is known of where a settlement file of ``account`` comes from: the legacy
    encodings it may be in (its marketplace's when given, by ``import_report
    --marketplace`` or the flow, else the account's marketplaces'; none known: Windows-31J
    or Windows-1252, decided by evidence), the encoding someone said it is in, and the
    order of day and month of the given marketplace and the one every marketplace of the
    account agrees on (None when they differ or none is known)."""
    codes = sorted(account.marketplaces.values_list("code", flat=True)) if account.pk else []
    mine = [loc for loc in map(locale_by_code, codes) if loc is not None]
    given = locale_by_code(marketplace.code) if marketplace is not None else None
    legacy = [given] if given is not None else mine
    orders = {loc.dayfirst for loc in mine}
    return FileLocale(
        encodings=tuple(dict.fromkeys(loc.legacy_encoding for loc in legacy)),
        encoding=encoding,
        marketplace=given.code if given is not None else "",
        dayfirst=given.dayfirst if given is not None else None,
        account_dayfirst=orders.pop() if len(orders) == 1 else None,
    )


def report_documents_imported(*, account, document_ids: list[str]) -> set[str]:
    """Which of ``document_ids`` the settlements flow has imported for ``account``."""
    return set(
        SettlementReportDocument.objects.filter(
            account=account, report_document_id__in=document_ids,
        ).values_list("report_document_id", flat=True)
    )

"""Reads for returns: returns by reason per SKU, refund latency per marketplace, the
reimbursement candidates with what is at stake (per currency, the largest ones), money per
currency of a list, and how many refunds found their return."""

from __future__ import annotations

import statistics
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, F, Min, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .models import RefundMatch, ReimbursementCandidate, ReturnEvent

TOP_SKUS = 30


def returns_by_reason(*, queryset: QuerySet | None = None, sku: str = "",
                      limit: int = TOP_SKUS) -> list[dict]:
    """Per SKU (most returned first): units, returns and units per reason.

    ``[{"sku", "units", "returns", "reasons": [{"reason", "units", "share"}]}]`` (reason ""
    when none was given); two queries.
    """
    qs = queryset if queryset is not None else ReturnEvent.objects.all()
    if sku:
        qs = qs.filter(seller_sku=sku)
    top = list(
        qs.values("seller_sku").annotate(units=Sum("quantity"), returns=Count("id"))
        .order_by("-units", "seller_sku")[:limit]
    )
    skus = [row["seller_sku"] for row in top]
    per_reason: dict[str, list[dict]] = defaultdict(list)
    for row in (qs.filter(seller_sku__in=skus).values("seller_sku", "reason")
                .annotate(units=Sum("quantity")).order_by("seller_sku", "-units", "reason")):
        per_reason[row["seller_sku"]].append(row)
    out = []
    for row in top:
        units = row["units"] or 0
        reasons = [
            {"reason": r["reason"], "units": r["units"],
             "share": round(100 * r["units"] / units) if units else 0}
            for r in per_reason[row["seller_sku"]]
        ]
        out.append({"sku": row["seller_sku"], "units": units, "returns": row["returns"],
                    "reasons": reasons})
    return out


def reasons_overall(*, queryset: QuerySet | None = None) -> list[dict]:
    """Units per reason over all SKUs, for the chart's legend ("" when none was given)."""
    qs = queryset if queryset is not None else ReturnEvent.objects.all()
    rows = list(qs.values("reason").annotate(units=Sum("quantity")).order_by("-units"))
    total = sum(r["units"] or 0 for r in rows) or 1
    return [{"reason": r["reason"], "units": r["units"],
             "share": round(100 * (r["units"] or 0) / total)} for r in rows]


def refund_latency_by_marketplace() -> list[dict]:
    """Return received -> refund posted, in days, per marketplace (refunded and returned).

    Negative latencies (refund before the unit came back, FBA's usual case) are counted as
    ``refunded_first``. One query.
    """
    per_mp: dict[str, list[float]] = defaultdict(list)
    names: dict[str, str] = {}
    rows = RefundMatch.objects.filter(
        returned_at__isnull=False, refunded_at__isnull=False,
    ).values_list("marketplace__code", "marketplace__name", "returned_at", "refunded_at")
    for code, name, returned_at, refunded_at in rows.iterator():
        key = code or "?"
        names[key] = name or "unknown marketplace"
        per_mp[key].append((refunded_at - returned_at).total_seconds() / 86400)
    out = []
    for code in sorted(per_mp):
        days = per_mp[code]
        out.append({
            "marketplace": code,
            "name": names[code],
            "matches": len(days),
            "average_days": round(statistics.fmean(days), 1),
            "median_days": round(statistics.median(days), 1),
            "max_days": round(max(days), 1),
            "refunded_first": sum(1 for d in days if d < 0),
        })
    return out


def candidates_open(*, queryset: QuerySet | None = None) -> QuerySet:
    qs = queryset if queryset is not None else ReimbursementCandidate.objects.all()
    return qs.filter(status=ReimbursementCandidate.Status.OPEN)


def candidates_at_stake() -> list[dict]:
    """Open candidates per currency: count, amount at stake and the oldest one's age."""
    now = timezone.now()
    rows = (candidates_open().values("currency")
            .annotate(count=Count("id"), amount=Sum("amount_at_stake"),
                      oldest=Min("opened_at")).order_by("currency"))
    return [{"currency": r["currency"], "count": r["count"],
             "amount": r["amount"] or Decimal("0"),
             "oldest_days": (now - r["oldest"]).days if r["oldest"] else None} for r in rows]


def candidate_age_days(candidate: ReimbursementCandidate, now=None) -> int:
    end = candidate.closed_at or now or timezone.now()
    return max(0, (end - candidate.opened_at).days)


def return_gradeable(event: ReturnEvent) -> bool:
    """Ops may still record what they found on inspection: an MFN return not yet applied to
    stock."""
    return event.channel == "MFN" and not hasattr(event, "adjustment")


def money_by_currency(queryset: QuerySet, field: str) -> list[dict]:
    """Rows and the sum of ``field`` per currency of a (filtered) list: one query.

    ``[{"currency", "count", "amount"}]`` by currency; never a total across currencies."""
    rows = (queryset.order_by().values("currency")
            .annotate(count=Count("id"), amount=Sum(field)).order_by("currency"))
    return [{"currency": r["currency"], "count": r["count"],
             "amount": r["amount"] if r["amount"] is not None else Decimal("0")}
            for r in rows]


def candidates_largest(*, limit: int = 5) -> list[ReimbursementCandidate]:
    """The largest open candidates, compared within their currency only: each currency's
    largest first, then each one's second largest, ... (one query)."""
    ranked = (candidates_open().filter(amount_at_stake__isnull=False)
              .annotate(rank=Window(RowNumber(), partition_by=[F("currency")],
                                    order_by=[F("amount_at_stake").desc(), F("id").asc()]))
              .filter(rank__lte=limit).order_by("rank", "-amount_at_stake", "currency"))
    return list(ranked[:limit])


def refund_outcome_counts() -> dict[str, int]:
    """How many refund matches have each outcome: one query."""
    rows = RefundMatch.objects.order_by().values("outcome").annotate(n=Count("id"))
    return {row["outcome"]: row["n"] for row in rows}

"""Named reads for the accountants' screens and home page: the settlements that need a look
(drift or lines without a GL account), the journal batches waiting for a given person's
approval (four eyes: never the ones they prepared or last changed), drift per currency and
per marketplace, and the points of the drift charts. Each read is a constant number of
queries whatever the number of settlements; money is never added across currencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum

from .models import JournalBatch, Settlement

ZERO = Decimal("0")
CHART_LIMIT = 400  # settlements per currency chart: the newest

MEASURES = {
    "any": "Any drift (the journal's first)",
    "journal": "Journal drift (left on Amazon clearing)",
    "internal": "Internal drift (Amazon's total against its lines)",
    "deposit": "Deposit drift (total against the bank)",
    "reserve": "Reserve drift (reserve carried between settlements)",
}


def needs_review_q() -> Q:
    return Q(has_drift=True) | Q(unmapped_lines__gt=0)


def settlements_to_review() -> dict:
    """How many settlements need a look, and why: {total, drift, unmapped, unmapped_lines}."""
    row = Settlement.objects.aggregate(
        total=Count("pk", filter=needs_review_q()),
        drift=Count("pk", filter=Q(has_drift=True)),
        unmapped=Count("pk", filter=Q(unmapped_lines__gt=0)),
        unmapped_lines=Sum("unmapped_lines"),
    )
    row["unmapped_lines"] = row["unmapped_lines"] or 0
    return row


def awaiting_approval_q(user) -> Q:
    """Ready batches ``user`` may approve: four eyes, so not the ones they prepared or last
    changed (nor, for a reversal, built)."""
    mine = Q(prepared_by=user) | Q(last_changed_by=user) | Q(ready_by=user)
    return Q(status=JournalBatch.Status.READY) & ~mine


def batches_awaiting(user, *, limit: int = 5) -> tuple[int, list[JournalBatch]]:
    """(count, the oldest ``limit``) of the ready batches waiting for ``user``'s approval."""
    qs = JournalBatch.objects.filter(awaiting_approval_q(user))
    rows = list(
        qs.select_related("settlement", "ready_by", "last_changed_by")
        .order_by("ready_at", "pk")[:limit]
    )
    return qs.count(), rows


def drift_by_currency(*, since: date | None = None) -> list[dict]:
    """Per currency: settlements, how many drift, and the drift left unexplained (journal)
    and Amazon's own (internal), each summed within the currency only."""
    qs = Settlement.objects.all()
    if since is not None:
        qs = qs.filter(end_date__date__gte=since)
    rows = (
        qs.values("currency")
        .annotate(
            settlements=Count("pk"),
            with_drift=Count("pk", filter=Q(has_drift=True)),
            journal=Sum("journal_drift"),
            internal=Sum("internal_drift"),
            unmapped=Sum("unmapped_lines"),
        )
        .order_by("currency")
    )
    return [
        {**r, "journal": r["journal"] or ZERO, "internal": r["internal"] or ZERO,
         "unmapped": r["unmapped"] or 0}
        for r in rows
    ]


def drift_by_marketplace(*, since: date | None = None, until: date | None = None,
                         account_id: int | None = None) -> list[dict]:
    """Per marketplace and currency (one marketplace may settle in two): the same figures."""
    qs = Settlement.objects.all()
    if since is not None:
        qs = qs.filter(end_date__date__gte=since)
    if until is not None:
        qs = qs.filter(end_date__date__lte=until)
    if account_id:
        qs = qs.filter(account_id=account_id)
    rows = (
        qs.values("marketplace_id", "currency")
        .annotate(
            settlements=Count("pk"),
            with_drift=Count("pk", filter=Q(has_drift=True)),
            journal=Sum("journal_drift"),
            internal=Sum("internal_drift"),
        )
        .order_by("marketplace_id", "currency")
    )
    return [{**r, "journal": r["journal"] or ZERO, "internal": r["internal"] or ZERO}
            for r in rows]


def measure_of(settlement: Settlement, measure: str) -> Decimal:
    if measure == "any":
        for value in (settlement.journal_drift, settlement.internal_drift,
                      settlement.deposit_drift, settlement.reserve_drift):
            if value:
                return value
        return ZERO
    return getattr(settlement, f"{measure}_drift", None) or ZERO


@dataclass
class CurrencyDrift:
    """One currency's chart: its settlements' drift in time order, per marketplace."""

    currency: str
    points: list[dict] = field(default_factory=list)
    marketplaces: list[str] = field(default_factory=list)  # marketplace ids, in order

    @property
    def all_zero(self) -> bool:
        return not any(p["value"] for p in self.points)


def drift_points(
    *, measure: str = "any", account_id: int | None = None, marketplace_id: str | None = None,
    date_from: date | None = None, date_to: date | None = None,
) -> list[CurrencyDrift]:
    """The drift charts' data: one :class:`CurrencyDrift` per currency (never two currencies
    on one axis), the newest :data:`CHART_LIMIT` settlements of each, oldest first."""
    if measure not in MEASURES:
        measure = "any"
    qs = Settlement.objects.only(
        "pk", "settlement_id", "marketplace_id", "currency", "end_date", "internal_drift",
        "journal_drift", "deposit_drift", "reserve_drift",
    ).order_by("currency", "-end_date", "-pk")
    if account_id:
        qs = qs.filter(account_id=account_id)
    if marketplace_id:
        qs = qs.filter(marketplace_id=marketplace_id)
    if date_from:
        qs = qs.filter(end_date__date__gte=date_from)
    if date_to:
        qs = qs.filter(end_date__date__lte=date_to)
    charts: dict[str, CurrencyDrift] = {}
    for s in qs[: CHART_LIMIT * 10]:
        chart = charts.setdefault(s.currency, CurrencyDrift(s.currency))
        if len(chart.points) >= CHART_LIMIT:
            continue
        if s.marketplace_id not in chart.marketplaces:
            chart.marketplaces.append(s.marketplace_id)
        chart.points.append({
            "pk": s.pk, "settlement": s.settlement_id, "marketplace": s.marketplace_id,
            "date": s.end_date.date(), "value": measure_of(s, measure),
        })
    for chart in charts.values():
        chart.points.reverse()
    return list(charts.values())


# --------------------------------------------------------------------------- one batch


def batch_possible_actions(batch: JournalBatch, user) -> set[str]:
    """What ``user`` may do to ``batch`` now: the buttons its page shows. The services
    still decide (a refusal is shown as a message); this only hides what cannot work."""
    may_change = user.has_perm("settlements.change_journalbatch")
    out: set[str] = set()
    status = batch.status
    if may_change and status == JournalBatch.Status.DRAFT and not batch.unmapped_lines:
        out.add("mark_ready")
    if may_change and not batch.is_locked and batch.kind == JournalBatch.Kind.JOURNAL:
        out.add("adjust")
    if may_change and status == JournalBatch.Status.READY:
        out.add("return_to_draft")
    if (status == JournalBatch.Status.READY
            and user.has_perm("settlements.approve_journalbatch")
            and user.pk not in (batch.prepared_by_id, batch.last_changed_by_id,
                                batch.ready_by_id)):
        out.add("approve")
    if (may_change and batch.is_locked and batch.kind == JournalBatch.Kind.JOURNAL
            and not JournalBatch.objects.filter(reverses=batch).exists()):
        out.add("reverse")
    return out


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def batch_audit(batch: JournalBatch, *, history: int = 20) -> dict:
    """The batch's audit trail: ``steps`` (built, prepared, approved, exported, reversed:
    who and when, or still to come) and ``changes``, the recorded history (newest first:
    when, who, what). Two queries besides the batch's own."""
    reversal = (JournalBatch.objects.select_related("prepared_by")
                .filter(reverses=batch).first())
    steps = [
        {"step": "Built", "who": _name(batch.prepared_by) or "the settlement import",
         "when": batch.created_at, "done": True},
        {"step": "Prepared (marked ready)", "who": _name(batch.ready_by),
         "when": batch.ready_at,
         "done": batch.ready_by_id is not None or batch.status != JournalBatch.Status.DRAFT},
        {"step": "Approved", "who": _name(batch.approved_by), "when": batch.approved_at,
         "done": batch.approved_by_id is not None},
        {"step": "Exported", "who": _name(batch.exported_by), "when": batch.exported_at,
         "done": batch.exported_at is not None},
    ]
    if batch.kind == JournalBatch.Kind.REVERSAL and batch.reverses_id:
        steps.insert(0, {"step": "Reverses", "who": batch.reverses.reference,
                         "when": None, "done": True, "batch": batch.reverses_id})
    if reversal is not None:
        steps.append({"step": "Reversed", "who": _name(reversal.prepared_by),
                      "when": reversal.created_at, "done": True, "batch": reversal.pk,
                      "reference": reversal.reference})
    records = list(batch.history.select_related("history_user")
                   .order_by("-history_date", "-history_id")[:history])
    changes = [
        {"when": r.history_date, "who": _name(r.history_user) or "the system",
         "what": r.history_change_reason or _history_kind(r), "status": r.get_status_display()}
        for r in records
    ]
    return {"steps": steps, "changes": changes}


def _history_kind(record) -> str:
    return {"+": "Created", "~": "Changed", "-": "Deleted"}.get(record.history_type, "")

"""Reads of the settlement series (selectors, kept apart from :mod:`settlements.selectors`):
which settlement comes right before another, and which ones are missing.

Amazon settles an account per currency (and, where it pays out per marketplace, per
marketplace) in back-to-back periods: each settlement starts exactly when the one before
it ended, and its "Previous Reserve Amount Balance" releases what that one held back as
"Current Reserve Amount". Reserve continuity is therefore only checked between
*adjacent* settlements (:func:`previous_settlement`); when the one in between was never
imported that is a gap (:func:`settlement_gaps`), said in plain words, and not drift.

Whatever order the settlements of a series are imported in, these reads give the same
answers once all of them are in: they depend on the settlements stored, never on which
came first. A settlement whose lines name no marketplace (a quiet period: only fees and
reserves) follows, and is followed by, the settlements of any marketplace of its account
and currency; one that names a marketplace prefers its own marketplace's settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from .models import Settlement

# A gap longer than this spans more than one of Amazon's settlement periods (14 days
# usually; a month at most).
ONE_PERIOD = timedelta(days=31)


def _series(settlement: Settlement):
    """The other settlements of the same account and currency whose marketplace is the
    same as ``settlement``'s or unknown on either side."""
    qs = Settlement.objects.filter(
        account=settlement.account_id, currency=settlement.currency
    ).exclude(pk=settlement.pk)
    if settlement.marketplace_id is not None:
        qs = qs.filter(Q(marketplace=settlement.marketplace_id) | Q(marketplace__isnull=True))
    return qs


def _closest(candidates: list[Settlement], settlement: Settlement) -> list[Settlement]:
    """Of settlements at the same boundary: those of the same marketplace if any, else
    all (a marketplace unknown on one side)."""
    same = [c for c in candidates if c.marketplace_id == settlement.marketplace_id]
    return same or candidates


def adjacent_before(settlement: Settlement) -> list[Settlement]:
    """The settlements of the series that end exactly when ``settlement`` starts (one,
    normally; none when it was not imported; more than one is ambiguous)."""
    found = list(
        _series(settlement).filter(end_date=settlement.start_date).order_by("settlement_id")
    )
    return _closest(found, settlement)


def previous_settlement(settlement: Settlement) -> Settlement | None:
    """The settlement right before ``settlement`` (its reserve is released in
    ``settlement``): same account and currency, marketplace as the module says, ending
    exactly when ``settlement`` starts. None when it is not imported, or when two
    settlements would fit (then no continuity can be checked)."""
    found = adjacent_before(settlement)
    return found[0] if len(found) == 1 else None


def settlements_after(settlement: Settlement) -> list[Settlement]:
    """Settlements of the same account and currency starting exactly when ``settlement``
    ends, whatever their marketplace: the ones whose reserve check may depend on it."""
    return list(
        Settlement.objects.filter(
            account=settlement.account_id, currency=settlement.currency,
            start_date=settlement.end_date,
        ).exclude(pk=settlement.pk).order_by("settlement_id")
    )


@dataclass(frozen=True)
class SettlementGap:
    """A stretch of the series no imported settlement covers."""

    start: datetime  # when the settlement before it ended
    end: datetime  # when the settlement after it started

    @property
    def text(self) -> str:
        """In plain words: ``settlement for 11–25 Oct 2024 not imported``."""
        first = self.start.astimezone(UTC).date()
        last = self.end.astimezone(UTC).date()
        if first.year != last.year:
            days = f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
        elif first.month != last.month:
            days = f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
        else:
            days = f"{first.day}–{last.day} {last:%b %Y}"
        if self.end - self.start > ONE_PERIOD:
            return f"settlements for {days} not imported"
        return f"settlement for {days} not imported"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class SeriesPlace:
    """Where a settlement stands in its series, for the reconciliation page."""

    previous: Settlement | None  # the adjacent settlement its reserve check uses
    ambiguous: list[Settlement]  # several settlements end when it starts
    gap_before: SettlementGap | None
    gap_after: SettlementGap | None

    @property
    def gaps(self) -> list[SettlementGap]:
        return [g for g in (self.gap_before, self.gap_after) if g is not None]


def settlement_gaps(settlement: Settlement) -> tuple[SettlementGap | None, SettlementGap | None]:
    """(gap before, gap after) ``settlement`` in its series: the stretch up to the latest
    settlement that ended earlier, and from the earliest one that starts later, when none
    is adjacent. No gap is known before the first imported settlement or after the last."""
    series = _series(settlement)
    before = after = None
    if not series.filter(end_date=settlement.start_date).exists():
        earlier = (
            series.filter(end_date__lt=settlement.start_date).order_by("-end_date").first()
        )
        if earlier is not None:
            before = SettlementGap(earlier.end_date, settlement.start_date)
    if not series.filter(start_date=settlement.end_date).exists():
        later = series.filter(start_date__gt=settlement.end_date).order_by("start_date").first()
        if later is not None:
            after = SettlementGap(settlement.end_date, later.start_date)
    return before, after


def series_place(settlement: Settlement) -> SeriesPlace:
    """The settlement's neighbours and gaps (see :class:`SeriesPlace`)."""
    adjacent = adjacent_before(settlement)
    before, after = settlement_gaps(settlement)
    return SeriesPlace(
        previous=adjacent[0] if len(adjacent) == 1 else None,
        ambiguous=adjacent if len(adjacent) > 1 else [],
        gap_before=before,
        gap_after=after,
    )

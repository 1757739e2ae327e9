"""Where a returns file and each of its rows come from: the marketplace a row is filed in,
and what that says about how the file is written (the order of day and month in its
numeric dates, the legacy encodings it may be in: ``file_dayfirst``, ``file_encodings``).

A row's marketplace is, first, the one the row names itself (a marketplace column, rare in
returns reports); then the file's (the flow's marketplace, or ``import_report
--marketplace``); then, for a file given without one, the only marketplace the account
sells in, or the one its order, a settlement line, its listing or its currency says.
Nothing else: a row none of them places is kept in the exception queue, saying why.
"""

from __future__ import annotations

from amazonsync.flatfiles.locale import MarketplaceLocale, locale_by_code
from marketplaces.models import AccountMarketplace, Marketplace, SellerAccount
from marketplaces.selectors import marketplace_for_code

from ..parsers import ReturnRow


def marketplace_locale(marketplace: Marketplace) -> MarketplaceLocale | None:
    """How the marketplace writes its files (day/month order, legacy encoding)."""
    return locale_by_code(marketplace.code)


class MarketplaceResolver:
    """The marketplace of a return row: the row's own, the file's (flow, ``--marketplace``),
    or worked out for a file on disk (see the module)."""

    def __init__(self, account: SellerAccount, marketplace: Marketplace | None) -> None:
        self.account = account
        self.fixed = marketplace
        self._links: list[Marketplace] | None = None
        self._by_code: dict[str, Marketplace | None] = {}

    @property
    def links(self) -> list[Marketplace]:
        """The marketplaces the account sells in (as the import started)."""
        if self._links is None:
            self._links = [
                link.marketplace for link in AccountMarketplace.objects.filter(
                    account=self.account).select_related("marketplace")
            ]
        return self._links

    def why_unknown(self) -> str:
        """Why a row could not be placed, for the exception message."""
        if not self.links:
            return ("the account sells in no marketplace yet: import with --marketplace CODE "
                    "or switch a marketplace on for it")
        return ("the account sells in several and neither the order, a settlement nor a "
                "listing says which: import the file with --marketplace CODE, or retry once "
                "the order or listing is known")

    def named(self, code: str) -> Marketplace | None:
        if code not in self._by_code:
            self._by_code[code] = marketplace_for_code(code)
        return self._by_code[code]

    def __call__(self, row: ReturnRow) -> Marketplace | None:
        if row.marketplace_code:
            return self.named(row.marketplace_code)
        if self.fixed is not None:
            return self.fixed
        if len(self.links) == 1:
            return self.links[0]
        return self._from_what_is_known(row)

    def _from_what_is_known(self, row: ReturnRow) -> Marketplace | None:
        from catalog.models import Listing
        from orders.models import Order
        from settlements.models import SettlementLine

        mp_id = (Order.objects.filter(account=self.account, amazon_order_id=row.order_id)
                 .values_list("marketplace_id", flat=True).first())
        if mp_id is None:
            mp_id = (SettlementLine.objects.filter(
                settlement__account=self.account, order_id=row.order_id,
                settlement__marketplace__isnull=False)
                .values_list("settlement__marketplace", flat=True).first())
        if mp_id:
            return Marketplace.objects.filter(pk=mp_id).first()
        listed = set(Listing.objects.filter(account=self.account, seller_sku=row.seller_sku)
                     .values_list("marketplace", flat=True))
        if len(listed) == 1:
            return Marketplace.objects.filter(pk=listed.pop()).first()
        if row.currency:
            same = [m for m in self.links if m.currency == row.currency]
            if len(same) == 1:
                return same[0]
        return None


def file_dayfirst(resolver: MarketplaceResolver) -> bool | None:
    """How the file writes numeric dates: as its marketplace does, else as every marketplace
    the account sells in does; ``None`` (an ambiguous date is refused) when they differ,
    when the account sells nowhere, or when the marketplace has no one order (CA, JP)."""
    places = [resolver.fixed] if resolver.fixed is not None else resolver.links
    orders = {getattr(marketplace_locale(m), "dayfirst", None) for m in places}
    return orders.pop() if len(orders) == 1 else None


def file_encodings(resolver: MarketplaceResolver) -> tuple[str, ...]:
    """The legacy encodings the file may be in: its marketplace's, else those of the
    marketplaces the account sells in (both Amazon uses when it sells nowhere: the bytes
    decide, and a file that reads two ways is refused)."""
    places = [resolver.fixed] if resolver.fixed is not None else resolver.links
    found = {getattr(marketplace_locale(m), "legacy_encoding", "") for m in places}
    return tuple(sorted(e for e in found if e))

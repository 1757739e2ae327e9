"""Where a returns file and each of its rows come from: the marketplace a row is filed in,
and what that says about how its dates are written.

A row's marketplace is, first, the one the row names itself (a marketplace column, rare in
returns reports); then the file's (the flow's marketplace, or ``import_report
--marketplace``); then, for a file given without one, the only marketplace the account
sells in, or the one its order, a settlement line, its listing or its currency says.
Nothing else: a row none of them places is kept in the exception queue, saying why.
"""

from __future__ import annotations

from marketplaces.models import AccountMarketplace, Marketplace, SellerAccount
from marketplaces.selectors import marketplace_for_code

from ..parsers import ReturnRow

# Amazon's marketplaces that write numeric dates month first (01/02/2024 is 2 January).
MONTH_FIRST = frozenset({"US", "CA"})


def marketplace_dayfirst(marketplace: Marketplace) -> bool:
    """Whether the marketplace writes numeric dates day first."""
    return marketplace.code not in MONTH_FIRST


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


def file_dayfirst(resolver: MarketplaceResolver) -> bool:
    """How the file writes numeric dates: as its marketplace does, else as every marketplace
    the account sells in does, else as its region does (NA month first)."""
    if resolver.fixed is not None:
        return marketplace_dayfirst(resolver.fixed)
    orders = {marketplace_dayfirst(m) for m in resolver.links}
    if len(orders) == 1:
        return orders.pop()
    return resolver.account.region != "NA"

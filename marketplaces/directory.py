"""The seller accounts, as the sync engine asks for them (``amazonsync.accounts``).

Registered once at start-up (``MarketplacesConfig.ready``): the engine sits below this app
and reaches accounts, marketplaces, their problems, their token cache and their flow
switches only through it.
"""

from __future__ import annotations

from .models import Marketplace, SellerAccount
from .selectors import (
    account_problem,
    account_secrets,
    active_marketplace_codes,
    flow_targets,
    marketplace_ids,
    switched_links,
)
from .services import AccountTokenStore, account_mark_reauthorization


class SellerAccountDirectory:
    def account(self, account_id: int) -> SellerAccount:
        return SellerAccount.objects.get(pk=account_id)

    def marketplace(self, marketplace_id: str) -> Marketplace:
        return Marketplace.objects.get(pk=marketplace_id)

    def problem(self, account: SellerAccount) -> tuple[str, str] | None:
        return account_problem(account)

    def secrets(self, account: SellerAccount) -> list[str]:
        return account_secrets(account)

    def mark_reauthorization(self, *, account: SellerAccount, reason: str) -> None:
        account_mark_reauthorization(account=account, reason=reason)

    def targets(self, *, flow, account_id=None, marketplace_code=None):
        return flow_targets(flow=flow, account_id=account_id, marketplace_code=marketplace_code)

    def token_store(self, account: SellerAccount) -> AccountTokenStore:
        return AccountTokenStore(account)

    def active_marketplace_codes(self) -> list[str]:
        return active_marketplace_codes()

    def switched_links(self, *, switches, codes=None):
        return switched_links(switches=switches, codes=codes)

    def marketplace_ids(self, *, codes: list[str]) -> dict[str, str]:
        return marketplace_ids(codes=codes)

"""Writes for marketplaces and seller accounts."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction

from amazonsync.services import account_set_credentials

from .models import AccountMarketplace, Marketplace, SellerAccount
from .reference import CODE_ALIASES


def marketplace_by_code(code: str) -> Marketplace:
    code = code.strip().upper()
    code = CODE_ALIASES.get(code, code)
    return Marketplace.objects.get(code=code)


def account_upsert(
    *,
    selling_partner_id: str,
    name: str,
    region: str,
    lwa_client_id: str = "",
    client_secret: str = "",
    refresh_token: str = "",
    rotated_on: datetime.date | None = None,
    api_base_url: str = "",
    token_url: str = "",
    marketplace_codes: Iterable[str] = (),
) -> SellerAccount:
    """Create or update a seller account and the marketplaces it sells in."""
    with transaction.atomic():
        account, _ = SellerAccount.objects.update_or_create(
            selling_partner_id=selling_partner_id,
            defaults={
                "name": name,
                "region": region,
                "lwa_client_id": lwa_client_id,
                "api_base_url": api_base_url,
                "token_url": token_url,
            },
        )
        for code in marketplace_codes:
            AccountMarketplace.objects.get_or_create(
                account=account, marketplace=marketplace_by_code(code)
            )
        current_secret = account.lwa_client_secret
        current_token = account.refresh_token
    return account_set_credentials(
        account=account,
        client_secret=client_secret if client_secret != current_secret else None,
        refresh_token=refresh_token if refresh_token != current_token else None,
        rotated_on=rotated_on,
    )


def reference_data_ensure() -> None:
    """The reference data the data migrations seed exists: marketplaces, groups, the
    default GL chart and disposition rules (after a test database flush, for instance).
    Every seeder keeps rows people have edited."""
    from django.apps import apps

    from amazonsync.permissions import ensure_groups

    from .reference import rows

    wanted = rows()
    if Marketplace.objects.count() != len(wanted):
        for row in wanted:
            Marketplace.objects.update_or_create(id=row["id"], defaults=row)
    ensure_groups()
    if apps.is_installed("settlements"):
        from settlements.chart import seed
        from settlements.models import GLAccount, GLMapping

        if not GLAccount.objects.exists():
            seed(GLAccount, GLMapping)
    if apps.is_installed("returns"):
        from returns.defaults import seed_rules
        from returns.models import DispositionRule

        if not DispositionRule.objects.exists():
            seed_rules(DispositionRule)

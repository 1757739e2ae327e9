"""Writes for marketplaces and seller accounts: accounts and their credentials, the access
token cache the SP-API clients share (``AccountTokenStore``), re-authorisation, and the
marketplace reference rows."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from amazonsync.crypto import redact_secrets
from amazonsync.models import SyncException
from amazonsync.services import register_retry
from amazonsync.spapi.auth import AccessToken

from .models import AccountMarketplace, Marketplace, Region, SellerAccount
from .reference import rows
from .selectors import (
    account_ids,
    account_marketplaces,
    account_problem,
    account_secrets,
    marketplace_code,
)

# The account a report file is imported for when no seller account exists yet.
IMPORTED_FILES_ID = "IMPORTED-FILES"


def marketplace_by_code(code: str) -> Marketplace:
    return Marketplace.objects.get(code=marketplace_code(code))


def marketplace_reference_ensure() -> None:
    """The marketplaces the data migration seeds exist (after a test database flush, for
    instance); rows people have edited are kept while the count is right."""
    wanted = rows()
    if Marketplace.objects.count() != len(wanted):
        for row in wanted:
            Marketplace.objects.update_or_create(id=row["id"], defaults=row)


class AccountChoiceError(ValueError):
    """The seller account asked for does not exist, or there are several and none was
    named, or it does not sell in the marketplace the file is said to be from."""


def account_for_import(*, selling_partner_id: str | None = None,
                       marketplace: Marketplace | None = None) -> SellerAccount:
    """The seller account a report file given by hand is imported for: the one named, else
    the only one. With no account at all, an inactive "Imported files" account is created
    (in the caller's transaction, so it goes away with a refused file). Several accounts and
    none named, or a name no account has: ``AccountChoiceError``.

    ``marketplace`` is where the file comes from (``import_report --marketplace``): the
    "Imported files" account learns it (:func:`account_marketplaces_learn`); any other
    account must already sell there (``AccountChoiceError`` otherwise: its marketplaces
    are set up by a person, never changed by a file)."""
    if selling_partner_id:
        account = SellerAccount.objects.filter(selling_partner_id=selling_partner_id).first()
        if account is None:
            known = ", ".join(account_ids()) or "none"
            raise AccountChoiceError(f"no seller account {selling_partner_id!r} (known: {known})")
    else:
        accounts = list(SellerAccount.objects.order_by("pk")[:2])
        if len(accounts) > 1:
            raise AccountChoiceError(
                "there are several seller accounts: give --account (one of "
                f"{', '.join(account_ids())})")
        if accounts:
            account = accounts[0]
        else:
            account, _ = SellerAccount.objects.get_or_create(
                selling_partner_id=IMPORTED_FILES_ID,
                defaults={"name": "Imported files", "active": False,
                          "region": marketplace.region if marketplace else Region.NA},
            )
    if marketplace is not None:
        _account_sells_in(account, marketplace)
    return account


def _account_sells_in(account: SellerAccount, marketplace: Marketplace) -> None:
    if account.selling_partner_id == IMPORTED_FILES_ID:
        account_marketplaces_learn(account=account, marketplaces=[marketplace])
        return
    sells_in = [m.code for m in account_marketplaces(account)]
    if marketplace.code not in sells_in:
        raise AccountChoiceError(
            f"seller account {account.selling_partner_id} does not sell in {marketplace.code} "
            f"(it sells in {', '.join(sells_in) or 'no marketplace'}): add {marketplace.code} "
            "to the account first, or import the file for another account")


def account_marketplaces_learn(*, account: SellerAccount,
                               marketplaces: Iterable[Marketplace]) -> list[str]:
    """The "Imported files" account sells where the files imported for it come from: add
    the given marketplaces to it (one atomic write) and return the codes added. When it sold
    nowhere and the marketplaces it learns share a region, that becomes its region. Any
    other account is left as it was set up (nothing added, ``[]``): a file never changes
    where a real account sells."""
    wanted = {m.pk: m for m in marketplaces if m is not None}
    if account.selling_partner_id != IMPORTED_FILES_ID or not wanted:
        return []
    with transaction.atomic():
        locked = SellerAccount.objects.select_for_update().get(pk=account.pk)
        known = set(AccountMarketplace.objects.filter(account=account)
                    .values_list("marketplace_id", flat=True))
        added = sorted((m for pk, m in wanted.items() if pk not in known),
                       key=lambda m: m.code)
        if not added:
            return []
        AccountMarketplace.objects.bulk_create(
            [AccountMarketplace(account=locked, marketplace=m) for m in added])
        regions = {m.region for m in added}
        if not known and len(regions) == 1 and locked.region not in regions:
            locked.region = account.region = regions.pop()
            locked.save(update_fields=["region", "updated_at"])
    return [m.code for m in added]


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


def account_set_credentials(
    *,
    account: SellerAccount,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    rotated_on: datetime.date | None = None,
    actor=None,
) -> SellerAccount:
    """Store new LWA credentials (encrypted) and clear what the old ones caused (the
    account's exceptions show "system (credentials updated by <actor>)")."""
    with transaction.atomic():
        account = SellerAccount.objects.select_for_update().get(pk=account.pk)
        fields = ["updated_at"]
        if client_secret:
            account.lwa_client_secret = client_secret
            account.client_secret_rotated_on = rotated_on or timezone.localdate()
            fields += ["lwa_client_secret", "client_secret_rotated_on"]
        if refresh_token:
            account.refresh_token = refresh_token
            account.needs_reauthorization = False
            account.reauthorization_reason = ""
            fields += ["refresh_token", "needs_reauthorization", "reauthorization_reason"]
        if client_secret or refresh_token:
            account.access_token = ""
            account.access_token_expires_at = None
            fields += ["access_token", "access_token_expires_at"]
        account.save(update_fields=fields)
    if account_problem(account) is None:
        SyncException.objects.filter(
            object_kind="seller_account",
            object_key=account.selling_partner_id,
            status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        ).update(
            status=SyncException.Status.RESOLVED,
            resolved_at=timezone.now(),
            resolution_note="credentials updated",
            resolved_by=actor,
            resolved_cause="credentials updated",
            manual_fix=False,
        )
    return account


def account_mark_reauthorization(*, account: SellerAccount, reason: str) -> None:
    """Flag the account for re-authorisation; ``reason`` (often LWA's own words, which may
    echo the request) is stored without secrets."""
    reason = redact_secrets(reason, secrets=account_secrets(account))
    SellerAccount.objects.filter(pk=account.pk).update(
        needs_reauthorization=True,
        reauthorization_reason=reason[:500],
        access_token="",
        access_token_expires_at=None,
    )
    account.needs_reauthorization = True
    account.reauthorization_reason = reason[:500]


class AccountTokenStore:
    """The LWA access token of an account, in its row (encrypted), shared by every SP-API
    client and worker process (``amazonsync.spapi.auth.TokenStore``)."""

    def __init__(self, account: SellerAccount) -> None:
        self.account = account

    def load(self) -> AccessToken | None:
        row = (
            SellerAccount.objects.filter(pk=self.account.pk)
            .only("access_token", "access_token_expires_at")
            .first()
        )
        if row is None or not row.access_token or row.access_token_expires_at is None:
            return None
        return AccessToken(row.access_token, row.access_token_expires_at)

    def save(self, token: AccessToken) -> None:
        # Conditional UPDATE: never replace a token that expires later (another process
        # refreshed meanwhile and its token is at least as fresh).
        SellerAccount.objects.filter(pk=self.account.pk).filter(
            Q(access_token_expires_at__isnull=True)
            | Q(access_token_expires_at__lt=token.expires_at)
        ).update(access_token=token.value, access_token_expires_at=token.expires_at)
        self.account.access_token = token.value
        self.account.access_token_expires_at = token.expires_at


@register_retry("seller_account")
def _retry_account(exc: SyncException) -> bool:
    if exc.account_id is None:
        return False
    account = SellerAccount.objects.get(pk=exc.account_id)
    return account_problem(account) is None

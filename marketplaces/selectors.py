"""Reads for seller accounts and the marketplaces they sell in."""

from __future__ import annotations

from django.conf import settings

from amazonsync.accounts import KEY_CHANGED
from amazonsync.crypto import undecryptable
from amazonsync.registry import Flow

from .models import AccountMarketplace, AmazonTerm, Marketplace, SellerAccount
from .reference import CODE_ALIASES


def marketplace_code(code: str) -> str:
    """A marketplace code as a person typed it, as Amazon spells it (``uk`` -> ``GB``)."""
    code = code.strip().upper()
    return CODE_ALIASES.get(code, code)


def marketplace_for_code(code: str) -> Marketplace | None:
    """The marketplace a person named by its country code (``uk`` is GB), or None."""
    return Marketplace.objects.filter(code=marketplace_code(code)).first()


def marketplace_codes() -> list[str]:
    """Every known marketplace code, sorted, for messages that list them."""
    return sorted(Marketplace.objects.values_list("code", flat=True))


def account_marketplaces(account: SellerAccount) -> list[Marketplace]:
    """The marketplaces the account sells in (its marketplace links), by code."""
    return [link.marketplace for link in AccountMarketplace.objects.filter(account=account)
            .select_related("marketplace").order_by("marketplace__code")]


def account_by_selling_partner_id(selling_partner_id: str) -> SellerAccount | None:
    return SellerAccount.objects.filter(selling_partner_id=selling_partner_id).first()


def account_ids() -> list[str]:
    """The selling partner ids of every seller account, for messages that list them."""
    return list(SellerAccount.objects.values_list("selling_partner_id", flat=True))


def account_problem(account: SellerAccount) -> tuple[str, str] | None:
    """Why a flow must not run for this account, as (reason_code, message), or None."""
    if not account.active:
        return ("account_inactive", f"Seller account {account} is inactive.")
    unreadable = [label for label, value in (("LWA client secret", account.lwa_client_secret),
                                             ("refresh token", account.refresh_token))
                  if undecryptable(value)]
    if unreadable:
        return (
            KEY_CHANGED,
            f"The stored {' and '.join(unreadable)} of {account} cannot be read: the "
            "encryption key (FIELD_ENCRYPTION_KEY) changed since they were saved. Re-enter "
            "the LWA client secret and refresh token on the account, or restore the previous "
            "key (list it after the new one, comma-separated, to read old secrets).",
        )
    if account.needs_reauthorization:
        detail = f" ({account.reauthorization_reason})" if account.reauthorization_reason else ""
        return (
            "reauthorization_required",
            f"Seller account {account} must be authorised again in Seller Central{detail}; "
            "then paste the new refresh token on the account.",
        )
    expiry = secret_expiry(account)
    if expiry is not None and expiry[0] == EXPIRED:
        return (
            "lwa_secret_expired",
            f"The LWA client secret of {account} expired on "
            f"{account.client_secret_expires_on:%Y-%m-%d}. Rotate it in the developer console "
            "and save the new secret on the account.",
        )
    return None


EXPIRED, EXPIRING, VALID = "expired", "expiring", "valid"


def secret_expiry(account: SellerAccount) -> tuple[str, int] | None:
    """(state, days left) of the account's LWA client secret: expired (days < 0), expiring
    (within LWA_SECRET_WARN_DAYS) or valid; None without a rotation date."""
    days = account.client_secret_days_left()
    if days is None:
        return None
    if days < 0:
        return EXPIRED, days
    if days <= settings.LWA_SECRET_WARN_DAYS:
        return EXPIRING, days
    return VALID, days


def account_secrets(account: SellerAccount) -> list[str]:
    """The account's secrets, to take out of any text that is stored or shown."""
    return [account.lwa_client_secret, account.refresh_token, account.access_token]


def flow_targets(
    *, flow: Flow, account_id: int | None = None, marketplace_code: str | None = None
) -> list[tuple[SellerAccount, Marketplace | None]]:
    """(account, marketplace) pairs a flow runs for: active accounts, switched-on
    marketplaces, narrowed by the given account and marketplace."""
    accounts = SellerAccount.objects.filter(active=True).order_by("pk")
    if account_id is not None:
        accounts = SellerAccount.objects.filter(pk=account_id)
    targets: list[tuple[SellerAccount, Marketplace | None]] = []
    for account in accounts:
        links = AccountMarketplace.objects.filter(account=account).select_related("marketplace")
        if marketplace_code:
            links = links.filter(marketplace__code=marketplace_code)
        if flow.switch:
            links = links.filter(**{flow.switch: True})
        links = list(links.order_by("marketplace__code"))
        if flow.per_marketplace:
            targets += [(account, link.marketplace) for link in links]
        elif links or not marketplace_code:
            targets.append((account, None))
    return targets


def active_marketplace_codes() -> list[str]:
    """The codes of the marketplaces active accounts sell in, sorted."""
    return sorted(
        set(
            AccountMarketplace.objects.filter(account__active=True).values_list(
                "marketplace__code", flat=True
            )
        )
    )


def switched_links(
    *, switches: list[str], codes: list[str] | None = None
) -> list[tuple[int, str, str, dict[str, bool]]]:
    """(account id, marketplace id, code, {switch: on}) of active accounts' marketplaces."""
    links = AccountMarketplace.objects.filter(account__active=True)
    if codes is not None:
        links = links.filter(marketplace__code__in=codes)
    return [
        (account_id, marketplace_id, code, dict(zip(switches, flags, strict=True)))
        for account_id, marketplace_id, code, *flags in links.values_list(
            "account_id", "marketplace_id", "marketplace__code", *switches
        )
    ]


def marketplace_ids(*, codes: list[str]) -> dict[str, str]:
    """{code: marketplace id} of the given codes."""
    return dict(Marketplace.objects.filter(code__in=codes).values_list("code", "id"))


def terms(kind: str) -> dict[str, AmazonTerm]:
    """Every Amazon term of a kind by code: one query; a list page reads it once."""
    return {term.code: term for term in AmazonTerm.objects.filter(kind=kind)}


def term_text(kind_terms: dict[str, AmazonTerm], code: str) -> str:
    """``Label — description`` of a code from ``terms(kind)``, or the code when unknown."""
    term = kind_terms.get(code)
    if term is None:
        return code
    return f"{term.label}: {term.description}" if term.description else term.label

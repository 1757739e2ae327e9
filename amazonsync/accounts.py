"""Seller accounts, as the sync engine sees them.

The engine runs flows for seller accounts and their marketplaces, but does not own them:
``marketplaces`` does, and it sits above the engine. So the engine asks an
``AccountDirectory``, which ``marketplaces`` registers at start-up
(``MarketplacesConfig.ready``): the runner loads the account and marketplace of a run, asks
why an account may not run and flags it for re-authorisation; ``flow_targets`` (and so the
schedules) asks which (account, marketplace) pairs a flow runs for; the SP-API client
wiring (``amazonsync.clients``) gets the account's access-token store; the health metrics
(``amazonsync.health``) ask which marketplaces active accounts sell in, with which flows
switched on. The engine's tables
refer to accounts and marketplaces through foreign keys named as strings
(``"marketplaces.SellerAccount"``), which are not imports.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from .spapi.auth import TokenStore

# The reason code of an account whose stored secrets cannot be read (the encryption key
# changed): the runner records it as a critical exception.
KEY_CHANGED = "encryption_key_changed"


class AccountDirectory(Protocol):
    """What the engine needs to know and do about seller accounts."""

    def account(self, account_id: int) -> Any:
        """The account (raises if there is none)."""

    def marketplace(self, marketplace_id: str) -> Any:
        """The marketplace (raises if there is none)."""

    def problem(self, account: Any) -> tuple[str, str] | None:
        """Why no flow may run for the account, as (reason_code, message), or None."""

    def secrets(self, account: Any) -> list[str]:
        """The account's secrets, to take out of any text that is stored or shown."""

    def mark_reauthorization(self, *, account: Any, reason: str) -> None:
        """Amazon refused the account's credentials: it must be authorised again."""

    def targets(
        self, *, flow: Any, account_id: int | None = None, marketplace_code: str | None = None
    ) -> list[tuple[Any, Any | None]]:
        """The (account, marketplace or None) pairs a flow runs for."""

    def token_store(self, account: Any) -> TokenStore:
        """Where the account's LWA access token is shared by every client and process."""

    def active_marketplace_codes(self) -> list[str]:
        """The codes of the marketplaces active accounts sell in, sorted (one query)."""

    def switched_links(
        self, *, switches: list[str], codes: list[str] | None = None
    ) -> list[tuple[int, str, str, dict[str, bool]]]:
        """(account id, marketplace id, marketplace code, {switch: on}) of every marketplace
        of every active account, narrowed to ``codes`` when given (one query)."""

    def marketplace_ids(self, *, codes: list[str]) -> dict[str, str]:
        """{code: marketplace id} of the given marketplace codes (one query)."""


_directory: AccountDirectory | None = None


def register_accounts(directory: AccountDirectory) -> None:
    """Called once at start-up by the app that owns the seller accounts."""
    global _directory
    _directory = directory


def accounts() -> AccountDirectory:
    if _directory is None:
        raise ImproperlyConfigured(
            "no seller-account directory is registered: the app that owns seller accounts "
            "(marketplaces) registers one in its AppConfig.ready()"
        )
    return _directory

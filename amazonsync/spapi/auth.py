"""Login with Amazon: the refresh-token grant, with the access token shared by all processes.

The client imports no model: what it keeps or reports goes through what it is given.

* ``TokenStore`` — where the account's access token lives between clients and processes.
  The engine gives the seller account row (``marketplaces.services.AccountTokenStore``,
  encrypted, updated with a conditional UPDATE that only wins over an older token, so
  processes racing to refresh never replace a newer token with an older one); by default a
  ``MemoryTokenStore`` keeps it in this client only.
* ``on_reauthorize(reason)`` — called when LWA refuses the refresh token or the client
  (``invalid_grant``...): the engine flags the account for re-authorisation.
* ``redact(text, secrets=...)`` — takes secrets out of LWA's error text before it is raised,
  logged or stored; the engine gives ``amazonsync.crypto.redact_secrets`` (every stored
  secret and token shape), the default takes out the account's own secrets.

A client uses the stored token while it is valid for more than ``EXPIRY_MARGIN`` seconds;
otherwise it asks LWA and stores the new token. Secrets and tokens are never logged.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import requests

from .errors import AuthError, ServerError
from .operations import LWA_TOKEN_URL

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 60  # seconds before expiry from which a token is refreshed
REAUTH_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client"}
REDACTED = "[redacted]"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class AccessToken:
    value: str
    expires_at: datetime.datetime

    def valid(self, now: datetime.datetime) -> bool:
        return self.expires_at - datetime.timedelta(seconds=EXPIRY_MARGIN) > now


class TokenStore(Protocol):
    """Where one account's access token is kept, shared by every client of the account."""

    def load(self) -> AccessToken | None:
        """The stored token, or None."""

    def save(self, token: AccessToken) -> None:
        """Keep a new token (unless a token that expires later is already stored)."""


class MemoryTokenStore:
    """The token of one client only (nothing shared): the default."""

    def __init__(self) -> None:
        self._token: AccessToken | None = None

    def load(self) -> AccessToken | None:
        return self._token

    def save(self, token: AccessToken) -> None:
        if self._token is None or self._token.expires_at < token.expires_at:
            self._token = token


Redact = Callable[..., str]  # redact(text, *, secrets=()) -> text without the secrets


def redact_given(text: str, *, secrets: Iterable[str] = ()) -> str:
    """The default redaction: the given secrets, as they are, out of ``text``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class LwaAuth:
    """Access tokens for one seller account."""

    timeout = (5, 30)

    def __init__(
        self,
        account,
        *,
        session: requests.Session,
        store: TokenStore | None = None,
        on_reauthorize: Callable[[str], None] | None = None,
        redact: Redact = redact_given,
    ) -> None:
        self.account = account
        self.session = session
        self.token_url = account.token_url or LWA_TOKEN_URL
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.on_reauthorize = on_reauthorize
        self.redact = redact
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.refreshes = 0  # token requests made by this instance

    # ------------------------------------------------------------------ public
    def token(self, *, force: bool = False) -> str:
        """A valid access token; ``force`` ignores the cache (the last one was refused)."""
        with self._lock:
            now = _now()
            if not force and self._token is not None and self._token.valid(now):
                return self._token.value
            stored = self.store.load()
            if stored is not None and stored.valid(now):
                stale = force and self._token is not None and stored.value == self._token.value
                if not stale:
                    self._token = stored
                    return stored.value
            token = self._refresh()
            self.store.save(token)
            self._token = token
            return token.value

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _refresh(self) -> AccessToken:
        account = self.account
        if not account.refresh_token or not account.lwa_client_id:
            self._reauthorize("no refresh token or LWA client id is stored for the account")
        self.refreshes += 1
        try:
            response = self.session.post(
                self.token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": account.refresh_token,
                    "client_id": account.lwa_client_id,
                    "client_secret": account.lwa_client_secret,
                },
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServerError(
                f"Login with Amazon unreachable: {type(exc).__name__}", operation="lwaToken"
            ) from None
        request_id = response.headers.get("x-amzn-RequestId") or response.headers.get(
            "x-amz-request-id"
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("access_token"):
            expires_in = int(body.get("expires_in") or 3600)
            log.info("LWA access token refreshed for %s", account.selling_partner_id)
            return AccessToken(
                body["access_token"], _now() + datetime.timedelta(seconds=expires_in)
            )
        # LWA may echo the request (client secret, refresh token) in its error text: take
        # them out before the text goes into an error, a log line or the database.
        secrets = (account.lwa_client_secret, account.refresh_token,
                   getattr(account, "access_token", ""))
        error = self.redact(str(body.get("error") or ""), secrets=secrets)[:100]
        description = self.redact(str(body.get("error_description") or ""),
                                  secrets=secrets)[:1000]
        message = f"LWA token request failed: {error or response.status_code}"
        if description:
            message += f" ({description})"
        if response.status_code >= 500 or response.status_code == 429:
            raise ServerError(message, status=response.status_code, request_id=request_id,
                              operation="lwaToken")
        if error in REAUTH_ERRORS:
            self._reauthorize(message, status=response.status_code, request_id=request_id)
        raise AuthError(message, status=response.status_code, request_id=request_id,
                        operation="lwaToken",
                        errors=[{"code": error, "message": description}] if error else [])

    def _reauthorize(self, message: str, **kw) -> None:
        log.warning("seller account %s needs re-authorisation: %s",
                    self.account.selling_partner_id, message)
        if self.on_reauthorize is not None:
            self.on_reauthorize(message)
        self._token = None
        raise AuthError(message, reauthorization_required=True, operation="lwaToken", **kw)

"""Login with Amazon: the refresh-token grant, with the access token shared by all processes.

The token lives (encrypted) in the seller account row: ``access_token`` and
``access_token_expires_at``. A client uses the stored token while it is valid for more than
``EXPIRY_MARGIN`` seconds; otherwise it asks LWA and stores the new token with a conditional
UPDATE that only wins over the token it read, so processes racing to refresh never replace a
newer token with an older one. Secrets and tokens are never logged, and LWA's error text
is redacted (``amazonsync.crypto.redact_secrets``) before it is raised, logged or stored.
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass

import requests
from django.utils import timezone

from amazonsync.crypto import redact_secrets

from .errors import AuthError, ServerError
from .operations import LWA_TOKEN_URL

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 60  # seconds before expiry from which a token is refreshed
REAUTH_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client"}


@dataclass
class AccessToken:
    value: str
    expires_at: datetime.datetime

    def valid(self, now: datetime.datetime) -> bool:
        return self.expires_at - datetime.timedelta(seconds=EXPIRY_MARGIN) > now


class LwaAuth:
    """Access tokens for one seller account."""

    timeout = (5, 30)

    def __init__(self, account, *, session: requests.Session) -> None:
        self.account = account
        self.session = session
        self.token_url = account.token_url or LWA_TOKEN_URL
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.refreshes = 0  # token requests made by this instance

    # ------------------------------------------------------------------ cache (the row)
    def _stored(self) -> AccessToken | None:
        from marketplaces.models import SellerAccount

        row = (
            SellerAccount.objects.filter(pk=self.account.pk)
            .only("access_token", "access_token_expires_at")
            .first()
        )
        if row is None or not row.access_token or row.access_token_expires_at is None:
            return None
        return AccessToken(row.access_token, row.access_token_expires_at)

    def _store(self, token: AccessToken) -> None:
        from django.db.models import Q

        from marketplaces.models import SellerAccount

        # Conditional UPDATE: never replace a token that expires later (another process
        # refreshed meanwhile and its token is at least as fresh).
        SellerAccount.objects.filter(pk=self.account.pk).filter(
            Q(access_token_expires_at__isnull=True)
            | Q(access_token_expires_at__lt=token.expires_at)
        ).update(access_token=token.value, access_token_expires_at=token.expires_at)
        self.account.access_token = token.value
        self.account.access_token_expires_at = token.expires_at

    # ------------------------------------------------------------------ public
    def token(self, *, force: bool = False) -> str:
        """A valid access token; ``force`` ignores the cache (the last one was refused)."""
        with self._lock:
            now = timezone.now()
            if not force and self._token is not None and self._token.valid(now):
                return self._token.value
            stored = self._stored()
            if stored is not None and stored.valid(now):
                stale = force and self._token is not None and stored.value == self._token.value
                if not stale:
                    self._token = stored
                    return stored.value
            token = self._refresh()
            self._store(token)
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
                body["access_token"], timezone.now() + datetime.timedelta(seconds=expires_in)
            )
        # LWA may echo the request (client secret, refresh token) in its error text: take
        # them out before the text goes into an error, a log line or the database.
        secrets = (account.lwa_client_secret, account.refresh_token, account.access_token)
        error = redact_secrets(str(body.get("error") or ""), secrets=secrets)[:100]
        description = redact_secrets(str(body.get("error_description") or ""),
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
        from amazonsync.services import account_mark_reauthorization

        log.warning("seller account %s needs re-authorisation: %s",
                    self.account.selling_partner_id, message)
        account_mark_reauthorization(account=self.account, reason=message)
        self._token = None
        raise AuthError(message, reauthorization_required=True, operation="lwaToken", **kw)

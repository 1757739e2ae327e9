"""Login with Amazon: the token endpoint, and access tokens checked on every operation."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from ..world import LWA_CLIENT_ID, LWA_CLIENT_SECRET
from .core import ApiError, Request, Response, SandboxBase, json_response

TOKEN_LIFETIME = 3600
HOSTILE_TOKEN_USES = 25
EXPIRED_MESSAGE = "The access token you provided has expired."


@dataclass
class AccessToken:
    seller: str
    expires_at: float
    uses: int = 0


class AuthApi(SandboxBase):
    tokens: dict[str, AccessToken]  # access token -> its seller and expiry
    refresh_tokens: dict[str, str]  # refresh token -> seller
    revoked: set[str]  # refresh tokens nobody accepts any more

    def _lwa(self, request: Request) -> Response:
        def err(status: int, code: str, description: str) -> Response:
            return json_response(status, {"error": code, "error_description": description})

        if request.method != "POST":
            return err(400, "invalid_request", "The token endpoint only accepts POST.")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return err(400, "invalid_request",
                       "Content-Type must be application/x-www-form-urlencoded.")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        missing = [k for k in ("grant_type", "refresh_token", "client_id", "client_secret")
                   if not form.get(k)]
        if form.get("grant_type") and form["grant_type"] != "refresh_token":
            return err(400, "unsupported_grant_type",
                       f"The grant type {form['grant_type']!r} is not supported.")
        if missing:
            return err(400, "invalid_request",
                       "The request is missing a required parameter : " + missing[0])
        if form["client_id"] != LWA_CLIENT_ID or form["client_secret"] != LWA_CLIENT_SECRET:
            return err(401, "invalid_client", "Client authentication failed")
        refresh = form["refresh_token"]
        seller = self.refresh_tokens.get(refresh)
        if refresh in self.revoked or seller is None:
            return err(400, "invalid_grant",
                       "The request has an invalid grant parameter : refresh_token")
        n = self._next_id()
        token = "Atza|" + hashlib.sha256(
            f"{self.config.seed}/access/{n}".encode()).hexdigest() + f"-{n}"
        self.tokens[token] = AccessToken(seller, time.time() + TOKEN_LIFETIME)
        return json_response(200, {"access_token": token, "token_type": "bearer",
                                   "expires_in": TOKEN_LIFETIME, "refresh_token": refresh})

    def _authenticate(self, request: Request) -> str:
        token = request.headers.get("x-amz-access-token", "")
        record = self.tokens.get(token)
        if record is None:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The access token you provided is revoked, malformed or invalid.")
        record.uses += 1
        if time.time() >= record.expires_at or (
                self.hostile and record.uses > HOSTILE_TOKEN_USES):
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           EXPIRED_MESSAGE)
        return record.seller

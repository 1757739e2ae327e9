"""The sandbox's own endpoints under ``/_sandbox/``: no auth, no faults, no rate limits.

``GET now`` and ``POST advance`` (simulated time only moves forward; feeds due are processed),
``GET state/listings`` (what the listings look like now, for tests and the demo),
``POST revoke`` (a refresh token nobody accepts any more), ``GET info``.
"""

from __future__ import annotations

from decimal import Decimal

from ..money import iso_offset, iso_z, money_lower, parse_time
from ..shapes import MARKETPLACES
from ..world import DEFAULT_SELLER_NAME, LWA_CLIENT_ID, LWA_CLIENT_SECRET, REFRESH_TOKEN
from .auth import AuthApi
from .core import Request, Response, bad_request, json_response, not_found
from .feeds import FeedsApi


class ControlApi(FeedsApi, AuthApi):
    def _control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_sandbox/now" and request.method == "GET":
            return json_response(200, {"now": iso_z(self.now), "epoch": self.now})
        if path == "/_sandbox/advance" and request.method == "POST":
            body = self._json_body(request)
            if "seconds" in body:
                try:
                    seconds = int(Decimal(str(body["seconds"])))
                except (ArithmeticError, ValueError) as exc:
                    raise bad_request("seconds must be a number.") from exc
                if seconds < 0:
                    raise bad_request("Simulated time only moves forward.")
                target = self.now + seconds
            elif "to" in body:
                try:
                    target = parse_time(str(body["to"]))
                except ValueError as exc:
                    raise bad_request("to must be an ISO 8601 date-time.") from exc
                if target < self.now:
                    raise bad_request("Simulated time only moves forward.")
            else:
                raise bad_request('Send {"seconds": N} or {"to": "<ISO 8601>"}.')
            self.now = target
            self.settle_feeds()
            return json_response(200, {"now": iso_z(self.now), "epoch": self.now})
        if path == "/_sandbox/state/listings" and request.method == "GET":
            seller = request.param("sellerId") or self.seller_id
            rows = self.listings_snapshot(request.param("sku"), request.param("marketplaceId"))
            return json_response(200, {"sellerId": seller,
                                       "listings": rows if seller == self.seller_id else []})
        if path == "/_sandbox/revoke" and request.method == "POST":
            token = self._body_text(self._json_body(request), "refresh_token")
            self.revoked.add(token)
            return json_response(200, {"revoked": token})
        if path == "/_sandbox/info" and request.method == "GET":
            return json_response(200, self.info())
        raise not_found(f"Resource {request.path} not found.")

    def info(self) -> dict:
        return {
            "url": self.config.base_url, "sellerId": self.seller_id,
            "sellerName": DEFAULT_SELLER_NAME, "clientId": LWA_CLIENT_ID,
            "clientSecret": LWA_CLIENT_SECRET, "refreshToken": REFRESH_TOKEN,
            "tokenUrl": f"{self.config.base_url.rstrip('/')}/auth/o2/token",
            "seed": self.config.seed, "orders": self.world.order_count,
            "faults": self.config.faults, "rateLimits": self.config.rate_limits,
            "now": iso_z(self.now), "start": iso_z(self.world.start),
            "present": self.world.present,
            "marketplaces": {code: mp.id for code, mp in MARKETPLACES.items()},
        }

    def listings_snapshot(self, sku: str | None = None,
                          marketplace_id: str | None = None) -> list[dict]:
        self.settle_feeds()
        rows = []
        for product, mp, channel in self.world.listings():
            if sku and product.sku != sku:
                continue
            if marketplace_id and mp.id != marketplace_id:
                continue
            state = self._listing(product.sku, mp)
            rows.append({
                "sku": product.sku, "asin": product.asin, "marketplaceId": mp.id,
                "fulfillmentChannel": channel, "fulfillmentChannelCode": state.channel_code,
                "quantity": state.quantity,
                "price": money_lower(state.price, mp.currency) if state.price is not None
                else None,
                "deleted": state.deleted, "lastUpdated": iso_offset(state.updated),
            })
        return rows

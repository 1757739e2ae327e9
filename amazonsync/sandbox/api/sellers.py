"""Sellers v1: the marketplaces the sandbox seller participates in (all of the world's)."""

from __future__ import annotations

from ..shapes import MARKETPLACES
from ..world import DEFAULT_SELLER_NAME
from .core import Request, Response, SandboxBase, json_response


class SellersApi(SandboxBase):
    def op_getMarketplaceParticipations(self, request: Request, seller: str) -> Response:
        payload = [{
            "marketplace": {"id": mp.id, "name": mp.name, "countryCode": mp.country,
                            "defaultCurrencyCode": mp.currency,
                            "defaultLanguageCode": mp.language, "domainName": mp.domain},
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
            "storeName": DEFAULT_SELLER_NAME,
        } for mp in MARKETPLACES.values()]
        return json_response(200, {"payload": payload})

"""Listings Items 2021-08-01: getListingsItem and patchListingsItem.

Each listing's state (quantity, price, channel, attributes) starts from the world and
changes with patches and feeds; the rules for attributes live in ``sandbox.listings``.
"""

from __future__ import annotations

import hashlib

from ..listings import Issue, ListingState, check_attributes, patches_to_attributes
from ..money import iso_offset
from ..shapes import Marketplace
from .core import Request, Response, SandboxBase, json_response, not_found


class ListingsApi(SandboxBase):
    listing_state: dict[tuple[str, str], ListingState]  # (sku, marketplace code) -> state

    def _listing(self, sku: str, mp: Marketplace) -> ListingState | None:
        key = (sku, mp.code)
        state = self.listing_state.get(key)
        if state is not None:
            return state
        product = self.world.products.get(sku)
        if product is None or mp.code not in product.channels:
            return None
        channel = product.channels[mp.code]
        if not product.sellable:
            state = ListingState(None, None, "DEFAULT")
        elif channel == "AFN":
            inv = self.world.fba_inventory.get((mp.code, sku), {})
            state = ListingState(inv.get("fulfillable", 0), product.price(mp), mp.fba_channel)
        else:
            state = ListingState(product.mfn_quantity, product.price(mp), "DEFAULT")
        state.updated = product.created
        self.listing_state[key] = state
        return state

    def _apply_attributes(self, sku: str, mps: list[Marketplace], attributes: dict,
                          deleted: list[str], *, apply: bool = True) -> list[Issue]:
        issues, changes = check_attributes(attributes, mps)
        if issues or not apply:
            return issues
        for mp in mps:
            state = self._listing(sku, mp)
            change = changes.get(mp.code, {})
            if "quantity" in change:
                state.quantity = change["quantity"]
            if "channel_code" in change:
                state.channel_code = change["channel_code"]
            if "price" in change:
                state.price = change["price"]
            for name, value in attributes.items():
                state.attributes[name] = value
            for name in deleted:
                state.attributes.pop(name, None)
            state.deleted = False
            state.updated = self.now
        return []

    def op_getListingsItem(self, request: Request, seller: str, sellerId: str,
                           sku: str) -> Response:
        self._check_seller(seller, sellerId)
        mps = self._marketplaces(request.param_list("marketplaceIds"), name="marketplaceIds")
        included = set(request.param_list("includedData")) or {"summaries"}
        product = self.world.products.get(sku)
        states = [(mp, self._listing(sku, mp)) for mp in mps]
        if product is None or any(s is None or s.deleted for _, s in states):
            raise not_found(f"SKU '{sku}' not found in marketplace {mps[0].id}.")
        out: dict = {"sku": sku}
        if "summaries" in included:
            out["summaries"] = []
            for mp, state in states:
                summary = {"marketplaceId": mp.id, "asin": product.asin,
                           "productType": product.product_type, "conditionType": "new_new",
                           "status": ["BUYABLE", "DISCOVERABLE"] if product.sellable
                           else ["DISCOVERABLE"]}
                if product.fnsku and product.channels[mp.code] == "AFN":
                    summary["fnSku"] = product.fnsku
                summary.update({"itemName": product.title,
                                "createdDate": iso_offset(product.created),
                                "lastUpdatedDate": iso_offset(state.updated)})
                out["summaries"].append(summary)
        if "attributes" in included:
            attributes: dict = {}
            for mp, state in states:
                attributes.setdefault("item_name", []).append(
                    {"value": product.title, "language_tag": mp.language,
                     "marketplace_id": mp.id})
                if state.price is not None:
                    attributes.setdefault("purchasable_offer", []).append(
                        {"marketplace_id": mp.id, "currency": mp.currency,
                         "our_price": [{"schedule": [{"value_with_tax": state.price}]}]})
                if state.quantity is not None:
                    attributes["fulfillment_availability"] = [
                        {"fulfillment_channel_code": state.channel_code,
                         "quantity": state.quantity}]
                for name, value in state.attributes.items():
                    if name not in ("purchasable_offer", "fulfillment_availability"):
                        attributes[name] = value
            out["attributes"] = attributes
        if "issues" in included:
            out["issues"] = []
        if "offers" in included:
            out["offers"] = [{"marketplaceId": mp.id, "offerType": "B2C",
                              "price": {"currencyCode": mp.currency,
                                        "amount": str(state.price)}}
                             for mp, state in states if state.price is not None]
        if "fulfillmentAvailability" in included:
            seen = {}
            for _mp, state in states:
                if state.quantity is not None:
                    seen[state.channel_code] = state.quantity
            out["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": code, "quantity": qty} for code, qty in seen.items()]
        if "relationships" in included:
            rels = []
            for mp, _state in states:
                if product.parent_sku:
                    rels.append({"marketplaceId": mp.id, "relationships": [
                        {"type": "VARIATION", "parentSkus": [product.parent_sku]}]})
                elif product.children:
                    rels.append({"marketplaceId": mp.id, "relationships": [
                        {"type": "VARIATION", "childSkus": list(product.children),
                         "variationTheme": {"attributes": ["color", "size"],
                                            "theme": "SIZE/COLOR"}}]})
                else:
                    rels.append({"marketplaceId": mp.id, "relationships": []})
            out["relationships"] = rels
        if "productTypes" in included:
            out["productTypes"] = [{"marketplaceId": mp.id, "productType": product.product_type}
                                   for mp, _ in states]
        return json_response(200, out)

    def op_patchListingsItem(self, request: Request, seller: str, sellerId: str,
                             sku: str) -> Response:
        self._check_seller(seller, sellerId)
        mps = self._marketplaces(request.param_list("marketplaceIds"), name="marketplaceIds")
        body = self._json_body(request)
        self._body_text(body, "productType")
        preview = request.param("mode") == "VALIDATION_PREVIEW"
        submission = hashlib.sha256(
            f"{self.config.seed}/submission/{self._next_id()}".encode()).hexdigest()[:32]
        missing = [mp for mp in mps if self._listing(sku, mp) is None]
        if missing:
            issues = [Issue("4000001", f"The SKU '{sku}' was not found in marketplace "
                            f"{missing[0].id}.")]
        else:
            issues, attributes, deleted = patches_to_attributes(body.get("patches"))
            if not issues:
                issues = self._apply_attributes(sku, mps, attributes, deleted,
                                                apply=not preview)
        status = "INVALID" if issues else ("VALID" if preview else "ACCEPTED")
        out = {"sku": sku, "status": status, "submissionId": submission, "issues": [
            {"code": i.code, "message": i.message, "severity": i.severity,
             "attributeNames": [i.attribute] if i.attribute else [],
             "categories": ["INVALID_ATTRIBUTE"]} for i in issues]}
        return json_response(200, out)

"""FBA Inventory v1 (getInventorySummaries) and FBA Inbound v0 (shipments and their items).

Fulfillable quantities are the listings' (feeds change them); the rest comes from the
world's base quantities and its inbound shipments as they move at the simulated now.
"""

from __future__ import annotations

from ..money import iso_offset
from ..shapes import DAY, MARKETPLACE_BY_ID, Marketplace, Product
from .core import Request, Response, bad_request, json_response, not_found
from .listings import ListingsApi

_NO_INBOUND = {"working": 0, "shipped": 0, "receiving": 0}


class InventoryApi(ListingsApi):
    # ---------------------------------------------------------------- FBA inventory
    def _inbound_quantities(self, mp_code: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for shipment in self.world.inbound_shipments:
            if shipment.mp.code != mp_code or shipment.created > self.now:
                continue
            status = shipment.status(self.now)
            for product, shipped, final in shipment.items:
                entry = out.setdefault(product.sku, {"working": 0, "shipped": 0,
                                                     "receiving": 0})
                if status == "WORKING":
                    entry["working"] += shipped
                elif status == "SHIPPED":
                    entry["shipped"] += shipped
                elif status == "RECEIVING":
                    entry["receiving"] += shipped - shipment.received(self.now, shipped, final)
        return out


    def op_getInventorySummaries(self, request: Request, seller: str) -> Response:
        token = request.param("nextToken")
        if token:
            q = self._decode_token(token, "inventory")
        else:
            q = self._inventory_query(request)
        mp = MARKETPLACE_BY_ID[q["m"]]
        rows = self._inventory_rows(mp, q) if seller == self.seller_id else []
        start, size = q["o"], 50
        out: dict = {"payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": mp.id},
            "inventorySummaries": rows[start:start + size]}}
        if start + size < len(rows):
            out["pagination"] = {"nextToken": self.codec.encode(
                {**q, "k": "inventory", "o": start + size})}
        return json_response(200, out)

    def _inventory_query(self, request: Request) -> dict:
        """The first page's query: one marketplace, optional SKUs, details, updated since."""
        if request.param("granularityType") != "Marketplace":
            raise bad_request("granularityType is required and must be Marketplace.")
        mps = self._marketplaces(request.param_list("marketplaceIds"), name="marketplaceIds")
        if len(mps) != 1:
            raise bad_request("marketplaceIds must contain exactly one marketplace.")
        if request.param("granularityId") != mps[0].id:
            raise bad_request("granularityId must be the requested marketplace id.")
        skus = request.param_list("sellerSkus")
        if len(skus) > 50:
            raise bad_request("sellerSkus accepts at most 50 values.")
        single = request.param("sellerSku")
        if single:
            skus.append(single)
        details = (request.param("details") or "false").lower() == "true"
        since = self._time_param(request, "startDateTime")
        return {"m": mps[0].id, "s": skus, "d": details, "a": since, "o": 0}

    def _inventory_rows(self, mp: Marketplace, q: dict) -> list[dict]:
        """One summary per FBA SKU of the marketplace, by SKU, filtered as ``q`` asks."""
        inbound = self._inbound_quantities(mp.code)
        rows = []
        for (code, sku), base in sorted(self.world.fba_inventory.items()):
            if code != mp.code or (q["s"] and sku not in q["s"]):
                continue
            state = self._listing(sku, mp)
            updated = max(state.updated, self.world.start - DAY)
            if q["a"] is not None and updated < q["a"]:
                continue
            fulfillable = state.quantity if state.quantity is not None else 0
            rows.append(_inventory_summary(self.world.products[sku], fulfillable, base,
                                           inbound.get(sku, _NO_INBOUND), updated,
                                           details=q["d"]))
        return rows

    # ---------------------------------------------------------------- FBA inbound v0
    _SHIP_FROM = {
        "US": ("Sandbox Seller Warehouse", "100 Harbor Way", "Seattle", "WA", "US", "98109"),
        "CA": ("Sandbox Seller Warehouse", "100 Harbor Way", "Seattle", "WA", "US", "98109"),
        "UK": ("Sandbox Seller UK", "1 Dock Road", "London", "LND", "GB", "E16 1AA"),
        "DE": ("Sandbox Seller DE", "Hafenstrasse 1", "Hamburg", "HH", "DE", "20457"),
        "JP": ("Sandbox Seller JP", "1-1 Chiyoda", "Chiyoda-ku", "13", "JP", "100-0001"),
    }

    def op_getShipments(self, request: Request, seller: str) -> Response:
        query_type = request.param("QueryType")
        if query_type not in ("SHIPMENT", "DATE_RANGE", "NEXT_TOKEN"):
            raise bad_request("QueryType is required: SHIPMENT, DATE_RANGE or NEXT_TOKEN.")
        if query_type == "NEXT_TOKEN":
            token = request.param("NextToken")
            if not token:
                raise bad_request("NextToken is required when QueryType is NEXT_TOKEN.")
            q = self._decode_token(token, "inbound")
        else:
            mps = self._marketplaces(request.param_list("MarketplaceId"), name="MarketplaceId")
            statuses = request.param_list("ShipmentStatusList")
            ids = request.param_list("ShipmentIdList")
            after = self._time_param(request, "LastUpdatedAfter")
            before = self._time_param(request, "LastUpdatedBefore")
            if query_type == "SHIPMENT" and not statuses and not ids:
                raise bad_request("ShipmentStatusList or ShipmentIdList is required for SHIPMENT.")
            if query_type == "DATE_RANGE" and (after is None or before is None):
                raise bad_request("LastUpdatedAfter and LastUpdatedBefore are required for "
                                  "DATE_RANGE.")
            q = {"m": mps[0].id, "s": statuses, "i": ids, "a": after, "b": before, "o": 0}
        rows = []
        for shipment in self.world.inbound_shipments:
            if shipment.mp.id != q["m"] or shipment.created > self.now:
                continue
            status = shipment.status(self.now)
            if q["s"] and status not in q["s"]:
                continue
            if q["i"] and shipment.id not in q["i"]:
                continue
            updated = shipment.last_updated(self.now)
            if q["a"] is not None and not q["a"] <= updated <= q["b"]:
                continue
            name, line1, city, state, country, postal = self._SHIP_FROM[shipment.mp.code]
            rows.append({
                "ShipmentId": shipment.id, "ShipmentName": shipment.name,
                "ShipFromAddress": {"Name": name, "AddressLine1": line1, "City": city,
                                    "StateOrProvinceCode": state, "CountryCode": country,
                                    "PostalCode": postal},
                "DestinationFulfillmentCenterId": shipment.fc, "ShipmentStatus": status,
                "LabelPrepType": "SELLER_LABEL", "AreCasesRequired": False,
                "BoxContentsSource": "FEED",
            })
        start, size = q["o"], 50
        payload: dict = {"ShipmentData": rows[start:start + size]}
        if start + size < len(rows):
            payload["NextToken"] = self.codec.encode({**q, "k": "inbound", "o": start + size})
        return json_response(200, {"payload": payload})

    def op_getShipmentItemsByShipmentId(self, request: Request, seller: str,
                                        shipmentId: str) -> Response:
        found = [s for s in self.world.inbound_shipments
                 if s.id == shipmentId and s.created <= self.now]
        if not found or seller != self.seller_id:
            raise not_found(f"Shipment {shipmentId} not found.")
        shipment = found[0]
        items = [{
            "ShipmentId": shipment.id, "SellerSKU": product.sku,
            "FulfillmentNetworkSKU": product.fnsku, "QuantityShipped": shipped,
            "QuantityReceived": shipment.received(self.now, shipped, final),
            "QuantityInCase": 0,
            "PrepDetailsList": [{"PrepInstruction": "Labeling", "PrepOwner": "SELLER"}],
        } for product, shipped, final in shipment.items]
        return json_response(200, {"payload": {"ItemData": items}})


def _inventory_summary(product: Product, fulfillable: int, base: dict[str, int],
                       inbound: dict[str, int], updated: int, *, details: bool) -> dict:
    reserved = base["reserved_customer"] + base["reserved_transship"] + base["reserved_fc"]
    unfulfillable = base["customer_damaged"] + base["warehouse_damaged"] + base["defective"]
    total = (fulfillable + reserved + base["researching"] + unfulfillable
             + inbound["working"] + inbound["shipped"] + inbound["receiving"])
    row: dict = {"asin": product.asin, "fnSku": product.fnsku, "sellerSku": product.sku,
                 "condition": "NewItem"}
    if details:
        row["inventoryDetails"] = _inventory_details(fulfillable, base, inbound,
                                                     reserved=reserved,
                                                     unfulfillable=unfulfillable)
    row.update({"lastUpdatedTime": iso_offset(updated), "productName": product.title,
                "totalQuantity": total})
    return row


def _inventory_details(fulfillable: int, base: dict[str, int], inbound: dict[str, int], *,
                       reserved: int, unfulfillable: int) -> dict:
    return {
        "fulfillableQuantity": fulfillable,
        "inboundWorkingQuantity": inbound["working"],
        "inboundShippedQuantity": inbound["shipped"],
        "inboundReceivingQuantity": inbound["receiving"],
        "reservedQuantity": {
            "totalReservedQuantity": reserved,
            "pendingCustomerOrderQuantity": base["reserved_customer"],
            "pendingTransshipmentQuantity": base["reserved_transship"],
            "fcProcessingQuantity": base["reserved_fc"]},
        "researchingQuantity": {
            "totalResearchingQuantity": base["researching"],
            "researchingQuantityBreakdown": [
                {"name": "researchingQuantityInShortTerm", "quantity": base["researching"]},
                {"name": "researchingQuantityInMidTerm", "quantity": 0},
                {"name": "researchingQuantityInLongTerm", "quantity": 0}]},
        "unfulfillableQuantity": {
            "totalUnfulfillableQuantity": unfulfillable,
            "customerDamagedQuantity": base["customer_damaged"],
            "warehouseDamagedQuantity": base["warehouse_damaged"],
            "distributorDamagedQuantity": 0,
            "carrierDamagedQuantity": 0,
            "defectiveQuantity": base["defective"],
            "expiredQuantity": 0},
    }

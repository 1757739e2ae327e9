"""Every operation's 2xx body validates against Amazon's OpenAPI model (Swagger 2.0 = draft 4)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from amazonsync.sandbox import DEFAULT_SELLER
from amazonsync.spapi.operations import OPERATIONS

from .conftest import JP, US

MODELS = Path("/work/shared/spapi/models")
# operation name -> (model file, operationId in that model)
MODEL_OF = {
    "getOrders": ("ordersV0.json", "getOrders"),
    "getOrder": ("ordersV0.json", "getOrder"),
    "getOrderItems": ("ordersV0.json", "getOrderItems"),
    "confirmShipment": ("ordersV0.json", "confirmShipment"),
    "searchOrders": ("orders_2026-01-01.json", "searchOrders"),
    "getOrder2026": ("orders_2026-01-01.json", "getOrder"),
    "createReport": ("reports_2021-06-30.json", "createReport"),
    "getReports": ("reports_2021-06-30.json", "getReports"),
    "getReport": ("reports_2021-06-30.json", "getReport"),
    "getReportDocument": ("reports_2021-06-30.json", "getReportDocument"),
    "createFeedDocument": ("feeds_2021-06-30.json", "createFeedDocument"),
    "createFeed": ("feeds_2021-06-30.json", "createFeed"),
    "getFeed": ("feeds_2021-06-30.json", "getFeed"),
    "getFeedDocument": ("feeds_2021-06-30.json", "getFeedDocument"),
    "getListingsItem": ("listingsItems_2021-08-01.json", "getListingsItem"),
    "patchListingsItem": ("listingsItems_2021-08-01.json", "patchListingsItem"),
    "getInventorySummaries": ("fbaInventory.json", "getInventorySummaries"),
    "getShipments": ("fulfillmentInboundV0.json", "getShipments"),
    "getShipmentItemsByShipmentId": ("fulfillmentInboundV0.json",
                                     "getShipmentItemsByShipmentId"),
    "listFinancialEvents": ("financesV0.json", "listFinancialEvents"),
    "getMarketplaceParticipations": ("sellers.json", "getMarketplaceParticipations"),
}
ALL_2026 = ("BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,"
            "PAYMENT,FULFILLMENT_ORDERS")
ALL_LISTING_DATA = ("summaries,attributes,issues,offers,fulfillmentAvailability,procurement,"
                    "relationships,productTypes")

if not MODELS.is_dir():  # pragma: no cover - the shared reference folder is part of the setup
    pytest.skip("Amazon models not available", allow_module_level=True)


@cache
def _model(name: str) -> dict:
    return json.loads((MODELS / name).read_text(encoding="utf-8"))


def _operation(name: str) -> tuple[dict, str, str, dict]:
    file, operation_id = MODEL_OF[name]
    model = _model(file)
    for path, ops in model["paths"].items():
        for method, spec in ops.items():
            if isinstance(spec, dict) and spec.get("operationId") == operation_id:
                return model, path, method.upper(), spec
    raise AssertionError(f"{operation_id} not in {file}")


@cache
def _validator(name: str, status: str) -> jsonschema.Draft4Validator | None:
    model, _, _, spec = _operation(name)
    schema = spec["responses"][status].get("schema")
    if schema is None:
        return None
    return jsonschema.Draft4Validator({**schema, "definitions": model["definitions"]})


def assert_matches_model(name: str, response) -> None:
    model, path, method, spec = _operation(name)
    op = OPERATIONS[name]
    assert (op.method, op.path) == (method, path), "operations table drifted from the model"
    status = str(response.status_code)
    assert status in spec["responses"], f"{name}: {status} not documented: {response.text}"
    assert status.startswith("2"), f"{name}: {status} {response.text}"
    assert response.headers.get("x-amzn-RequestId")
    assert float(response.headers["x-amzn-RateLimit-Limit"]) == pytest.approx(op.rate)
    validator = _validator(name, status)
    if validator is None:
        assert response.content == b""
        return
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])


def _mfn_unshipped_order(sandbox) -> dict:
    response = sandbox.call("getOrders", params={
        "MarketplaceIds": US, "CreatedAfter": "2026-01-01T00:00:00Z",
        "OrderStatuses": "Unshipped", "FulfillmentChannels": "MFN"})
    orders = response.json()["payload"]["Orders"]
    assert orders, "the world should have unshipped MFN orders"
    return orders[0]


def test_every_operation_is_covered():
    assert set(MODEL_OF) == set(OPERATIONS)


def test_orders_v0_contract(sandbox):
    response = sandbox.call("getOrders", params={
        "MarketplaceIds": f"{US},{JP}", "LastUpdatedAfter": "2026-07-01T00:00:00Z",
        "MaxResultsPerPage": 100})
    assert_matches_model("getOrders", response)
    orders = response.json()["payload"]["Orders"]
    statuses = {o["OrderStatus"] for o in orders}
    assert {"Shipped", "Canceled"} <= statuses
    for order in orders[:40]:
        assert_matches_model("getOrder", sandbox.call("getOrder", orderId=order["AmazonOrderId"]))
        items = sandbox.call("getOrderItems", orderId=order["AmazonOrderId"])
        assert_matches_model("getOrderItems", items)
    order = _mfn_unshipped_order(sandbox)
    items = sandbox.call("getOrderItems", orderId=order["AmazonOrderId"]).json()
    first = items["payload"]["OrderItems"][0]
    response = sandbox.call("confirmShipment", orderId=order["AmazonOrderId"], json={
        "marketplaceId": US, "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999",
            "shipDate": "2026-11-01T00:00:00Z",
            "orderItems": [{"orderItemId": first["OrderItemId"],
                            "quantity": first["QuantityOrdered"]}]}})
    assert_matches_model("confirmShipment", response)


def test_orders_2026_contract(sandbox):
    response = sandbox.call("searchOrders", params={
        "marketplaceIds": US, "lastUpdatedAfter": "2026-08-01T00:00:00Z",
        "includedData": ALL_2026, "maxResultsPerPage": 50})
    assert_matches_model("searchOrders", response)
    body = response.json()
    assert body["pagination"]["nextToken"]
    for order in body["orders"][:20]:
        assert_matches_model("getOrder2026", sandbox.call(
            "getOrder2026", orderId=order["orderId"], params={"includedData": ALL_2026}))


def test_reports_contract(sandbox):
    listed = sandbox.call("getReports", params={
        "reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "pageSize": 100})
    assert_matches_model("getReports", listed)
    settlement = listed.json()["reports"][0]
    assert_matches_model("getReport", sandbox.call("getReport", reportId=settlement["reportId"]))
    assert_matches_model("getReportDocument", sandbox.call(
        "getReportDocument", reportDocumentId=settlement["reportDocumentId"]))
    created = sandbox.call("createReport", json={
        "reportType": "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA", "marketplaceIds": [US],
        "dataStartTime": "2026-06-01T00:00:00Z"})
    assert_matches_model("createReport", created)
    report_id = created.json()["reportId"]
    statuses = []
    for _ in range(3):
        polled = sandbox.call("getReport", reportId=report_id)
        assert_matches_model("getReport", polled)
        statuses.append(polled.json()["processingStatus"])
    assert statuses == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    document = sandbox.call("getReportDocument",
                            reportDocumentId=polled.json()["reportDocumentId"])
    assert_matches_model("getReportDocument", document)


def test_feeds_contract(sandbox):
    doc = sandbox.call("createFeedDocument", json={"contentType": "application/json"})
    assert_matches_model("createFeedDocument", doc)
    feed_doc = doc.json()
    feed = {"header": {"sellerId": DEFAULT_SELLER, "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": "NOPE", "operationType": "DELETE"}]}
    put = sandbox.http.put(feed_doc["url"], data=json.dumps(feed),
                           headers={"Content-Type": "application/json"})
    assert put.status_code == 200
    created = sandbox.call("createFeed", json={
        "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
        "inputFeedDocumentId": feed_doc["feedDocumentId"]})
    assert_matches_model("createFeed", created)
    for _ in range(3):
        got = sandbox.call("getFeed", feedId=created.json()["feedId"])
        assert_matches_model("getFeed", got)
    result = got.json()["resultFeedDocumentId"]
    assert_matches_model("getFeedDocument", sandbox.call("getFeedDocument",
                                                         feedDocumentId=result))


def test_listings_contract(sandbox, world):
    skus = [p.sku for p in world.products.values() if "US" in p.channels][:25]
    for sku in skus:
        response = sandbox.call("getListingsItem", sellerId=DEFAULT_SELLER, sku=sku,
                                params={"marketplaceIds": US, "includedData": ALL_LISTING_DATA})
        assert_matches_model("getListingsItem", response)
    response = sandbox.call(
        "patchListingsItem", sellerId=DEFAULT_SELLER, sku=skus[0],
        params={"marketplaceIds": US},
        json={"productType": "HOME", "patches": [
            {"op": "replace", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]})
    assert_matches_model("patchListingsItem", response)


def test_inventory_inbound_finances_sellers_contract(sandbox, world):
    for mp_id in (US, JP):
        response = sandbox.call("getInventorySummaries", params={
            "granularityType": "Marketplace", "granularityId": mp_id,
            "marketplaceIds": mp_id, "details": "true"})
        assert_matches_model("getInventorySummaries", response)
    shipments = sandbox.call("getShipments", params={
        "QueryType": "SHIPMENT", "MarketplaceId": US,
        "ShipmentStatusList": "WORKING,SHIPPED,RECEIVING,CLOSED,CANCELLED"})
    assert_matches_model("getShipments", shipments)
    data = shipments.json()["payload"]["ShipmentData"]
    assert data
    for shipment in data:
        assert_matches_model("getShipmentItemsByShipmentId", sandbox.call(
            "getShipmentItemsByShipmentId", shipmentId=shipment["ShipmentId"]))
    events = sandbox.call("listFinancialEvents", params={
        "PostedAfter": "2026-08-01T00:00:00Z", "MaxResultsPerPage": 100})
    assert_matches_model("listFinancialEvents", events)
    lists = events.json()["payload"]["FinancialEvents"]
    assert lists["ShipmentEventList"] and lists["ServiceFeeEventList"]
    assert_matches_model("getMarketplaceParticipations",
                         sandbox.call("getMarketplaceParticipations"))


def test_error_bodies_match_error_list(sandbox):
    response = sandbox.call("getOrder", orderId="111-0000000-0000000")
    assert response.status_code == 404
    assert response.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in response.headers
    model = _model("ordersV0.json")
    schema = {"$ref": "#/definitions/GetOrderResponse", "definitions": model["definitions"]}
    jsonschema.Draft4Validator(schema).validate(response.json())
    assert response.json()["errors"][0]["code"] == "NotFound"

"""Feeds round trip, listings writes, report documents (gzip served raw)."""

from __future__ import annotations

import gzip
import json

import requests

from amazonsync.sandbox import DEFAULT_SELLER

from .conftest import US


def _listing(sandbox, sku):
    rows = sandbox.http.get(f"{sandbox.url}/_sandbox/state/listings",
                            params={"sellerId": DEFAULT_SELLER, "sku": sku,
                                    "marketplaceId": US}).json()["listings"]
    assert len(rows) == 1
    return rows[0]


def _submit_feed(sandbox, feed: dict) -> dict:
    doc = sandbox.call("createFeedDocument",
                       json={"contentType": "application/json; charset=UTF-8"}).json()
    put = requests.put(doc["url"], data=json.dumps(feed).encode(),
                       headers={"Content-Type": "application/json; charset=UTF-8"}, timeout=10)
    assert put.status_code == 200
    feed_id = sandbox.call("createFeed", json={
        "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
        "inputFeedDocumentId": doc["feedDocumentId"]}).json()["feedId"]
    statuses = []
    for _ in range(5):
        body = sandbox.call("getFeed", feedId=feed_id).json()
        statuses.append(body["processingStatus"])
        if body["processingStatus"] in ("DONE", "FATAL"):
            break
    assert statuses[0] == "IN_QUEUE" and "IN_PROGRESS" in statuses
    result = sandbox.call("getFeedDocument", feedDocumentId=body["resultFeedDocumentId"]).json()
    report = requests.get(result["url"], timeout=10)
    assert report.status_code == 200
    return {"feed": body, "report": report.json()}


def test_feed_round_trip_updates_listings_and_reports_bad_messages(sandbox, world):
    mfn = [p.sku for p in world.products.values() if p.channels.get("US") == "MFN"
           and p.sellable][:2]
    messages = [
        {"messageId": 1, "sku": mfn[0], "operationType": "PARTIAL_UPDATE",
         "productType": "HOME", "attributes": {
             "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                           "quantity": 42}],
             "purchasable_offer": [{"marketplace_id": US, "currency": "USD", "our_price": [
                 {"schedule": [{"value_with_tax": 19.99}]}]}]}},
        {"messageId": 2, "sku": mfn[1], "operationType": "PATCH", "productType": "HOME",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]}]},
        {"messageId": 3, "sku": "NO-SUCH-SKU", "operationType": "PATCH", "productType": "HOME",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]}]},
        {"messageId": 4, "sku": mfn[1], "operationType": "PATCH", "productType": "HOME",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -3}]}]},
        {"messageId": 5, "sku": mfn[1], "operationType": "PARTIAL_UPDATE"},
    ]
    outcome = _submit_feed(sandbox, {"header": {"sellerId": DEFAULT_SELLER, "version": "2.0"},
                                     "messages": messages})
    assert outcome["feed"]["processingStatus"] == "DONE"
    report = outcome["report"]
    assert report["header"]["feedId"] == outcome["feed"]["feedId"]
    assert report["summary"]["messagesProcessed"] == 5
    assert report["summary"]["messagesAccepted"] == 2
    assert report["summary"]["messagesInvalid"] == 3
    assert {i["messageId"] for i in report["issues"]} == {3, 4, 5}
    assert all(i["severity"] == "ERROR" and i["message"] for i in report["issues"])
    first = _listing(sandbox, mfn[0])
    assert first["quantity"] == 42
    assert first["price"] == {"amount": "19.99", "currencyCode": "USD"}
    assert _listing(sandbox, mfn[1])["quantity"] == 0
    item = sandbox.call("getListingsItem", sellerId=DEFAULT_SELLER, sku=mfn[0], params={
        "marketplaceIds": US, "includedData": "fulfillmentAvailability,offers"}).json()
    assert item["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT",
                                                "quantity": 42}]
    assert item["offers"][0]["price"] == {"currencyCode": "USD", "amount": "19.99"}


def test_feed_with_wrong_seller_is_fatal(sandbox, world):
    sku = next(p.sku for p in world.products.values() if "US" in p.channels)
    outcome = _submit_feed(sandbox, {
        "header": {"sellerId": "A2SOMEONEELSE", "version": "2.0"},
        "messages": [{"messageId": 1, "sku": sku, "operationType": "DELETE"}]})
    assert outcome["feed"]["processingStatus"] == "FATAL"
    assert outcome["report"]["summary"]["errors"] == 1


def test_patch_listings_item(sandbox, world):
    sku = next(p.sku for p in world.products.values() if p.channels.get("US") == "MFN"
               and p.sellable)
    body = {"productType": "HOME", "patches": [
        {"op": "replace", "path": "/attributes/purchasable_offer", "value": [
            {"marketplace_id": US, "currency": "USD",
             "our_price": [{"schedule": [{"value_with_tax": 25}]}]}]}]}
    response = sandbox.call("patchListingsItem", sellerId=DEFAULT_SELLER, sku=sku,
                            params={"marketplaceIds": US}, json=body)
    assert response.json()["status"] == "ACCEPTED"
    assert _listing(sandbox, sku)["price"]["amount"] == "25.00"
    bad = {"productType": "HOME", "patches": [
        {"op": "replace", "path": "/attributes/purchasable_offer", "value": [
            {"currency": "EUR", "our_price": [{"schedule": [{"value_with_tax": 9}]}]}]}]}
    response = sandbox.call("patchListingsItem", sellerId=DEFAULT_SELLER, sku=sku,
                            params={"marketplaceIds": US}, json=bad)
    assert response.json()["status"] == "INVALID" and response.json()["issues"]
    assert _listing(sandbox, sku)["price"]["amount"] == "25.00"


def test_settlement_report_cannot_be_requested(sandbox):
    response = sandbox.call("createReport", json={
        "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "marketplaceIds": [US]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def _report_document(sandbox, report_type, start="2026-05-01T00:00:00Z") -> dict:
    report_id = sandbox.call("createReport", json={
        "reportType": report_type, "marketplaceIds": [US], "dataStartTime": start}
    ).json()["reportId"]
    sandbox.advance(120)
    report = sandbox.call("getReport", reportId=report_id).json()
    assert report["processingStatus"] == "DONE"
    return sandbox.call("getReportDocument",
                        reportDocumentId=report["reportDocumentId"]).json()


def test_gzip_documents_are_served_raw(make_sandbox):
    sandbox = make_sandbox(gzip_threshold=1000)
    document = _report_document(sandbox, "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL")
    raw = requests.get(document["url"], timeout=10, headers={"Accept-Encoding": "gzip"})
    assert document["compressionAlgorithm"] == "GZIP"
    assert document["url"].startswith(sandbox.url + "/_documents/")
    assert raw.status_code == 200 and not raw.history  # no redirect
    assert "Content-Encoding" not in raw.headers
    assert raw.content[:2] == b"\x1f\x8b"
    text = gzip.decompress(raw.content).decode()
    assert text.startswith("amazon-order-id\tmerchant-order-id\tpurchase-date")


def test_documents_use_the_configured_base_url(make_sandbox):
    sandbox = make_sandbox()
    sandbox.app.config.base_url = "http://sandbox.example:9999"
    document = _report_document(sandbox, "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA")
    assert document["url"].startswith("http://sandbox.example:9999/_documents/")


def test_report_documents_are_byte_identical_across_sandboxes(make_sandbox):
    first, second = make_sandbox(), make_sandbox()
    contents = []
    for sandbox in (first, second):
        listed = sandbox.call("getReports", params={
            "reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"}).json()["reports"]
        urls = [sandbox.call("getReportDocument", reportDocumentId=r["reportDocumentId"]
                             ).json()["url"] for r in listed]
        contents.append([requests.get(u, timeout=10).content for u in urls])
        pages = sandbox.call("getOrders", params={"MarketplaceIds": US,
                                                  "CreatedAfter": "2026-08-01T00:00:00Z"})
        contents.append(pages.content)
    assert contents[0] == contents[2] and contents[1] == contents[3]
    assert contents[0]

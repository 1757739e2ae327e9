"""Orders: filters, paging, incremental sync in simulated time, shipment confirmation."""

from __future__ import annotations

from amazonsync.sandbox import MARKETPLACES

from .conftest import JP, US


def _all_orders(sandbox, params):
    orders, pages = [], 0
    response = sandbox.call("getOrders", params=params)
    while True:
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        orders.extend(payload["Orders"])
        pages += 1
        token = payload.get("NextToken")
        if not token:
            return orders, pages, payload
        # Clients often resend every original filter with the NextToken: accepted.
        response = sandbox.call("getOrders", params={**params, "NextToken": token})


def test_marketplace_parameter_spellings(sandbox):
    base = {"CreatedAfter": "2026-09-01T00:00:00Z"}
    expected = sandbox.call("getOrders", params={**base, "MarketplaceIds": f"{US},{JP}"}).json()
    for params in ({"marketplaceIds": f"{US},{JP}"}, {"MarketplaceIds[]": [US, JP]},
                   {"MarketplaceIds": [US, JP]}):
        got = sandbox.call("getOrders", params={**base, **params, "Unknown": "x"}).json()
        assert got == expected
    assert sandbox.call("getOrders", params=base).status_code == 400


def test_paging_and_filters(sandbox):
    params = {"MarketplaceIds": US, "LastUpdatedAfter": "2026-06-01T00:00:00Z",
              "MaxResultsPerPage": 7, "FulfillmentChannels": "AFN",
              "OrderStatuses": "Shipped,Canceled"}
    orders, pages, last = _all_orders(sandbox, params)
    assert pages > 2
    assert len({o["AmazonOrderId"] for o in orders}) == len(orders)
    assert all(o["FulfillmentChannel"] == "AFN" for o in orders)
    assert all(o["OrderStatus"] in ("Shipped", "Canceled") for o in orders)
    stamps = [o["LastUpdateDate"] for o in orders]
    assert stamps == sorted(stamps)
    assert last["LastUpdatedBefore"] <= "2026-11-01T00:00:00Z"
    for order in orders:
        if order["OrderStatus"] == "Canceled":
            assert "OrderTotal" not in order


def test_malformed_next_token_is_invalid_input(sandbox):
    first = sandbox.call("getOrders", params={"MarketplaceIds": US, "MaxResultsPerPage": 1,
                                              "CreatedAfter": "2026-01-01T00:00:00Z"})
    token = first.json()["payload"]["NextToken"]
    for bad in ("garbage", token[:-3] + "abc", token.replace(".", "x.", 1)):
        response = sandbox.call("getOrders", params={"MarketplaceIds": US, "NextToken": bad})
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_incremental_sync_sees_new_and_changed_orders(sandbox, world):
    first, _, payload = _all_orders(sandbox, {
        "MarketplaceIds": ",".join(m.id for m in MARKETPLACES.values()),
        "LastUpdatedAfter": "2026-01-01T00:00:00Z"})
    cursor = payload["LastUpdatedBefore"]
    known = {o["AmazonOrderId"]: o for o in first}
    sandbox.advance(5 * 86400)
    changed, _, _ = _all_orders(sandbox, {"MarketplaceIds": US, "LastUpdatedAfter": cursor})
    assert changed
    assert all(o["LastUpdateDate"] >= cursor for o in changed)
    new = [o for o in changed if o["AmazonOrderId"] not in known]
    moved = [o for o in changed if o["AmazonOrderId"] in known
             and known[o["AmazonOrderId"]]["OrderStatus"] != o["OrderStatus"]]
    assert new and moved
    assert all("OrderTotal" not in o for o in changed if o["OrderStatus"] == "Pending")


def test_confirm_shipment(sandbox):
    listed = sandbox.call("getOrders", params={
        "MarketplaceIds": US, "CreatedAfter": "2026-01-01T00:00:00Z",
        "OrderStatuses": "Unshipped", "FulfillmentChannels": "MFN"}).json()["payload"]["Orders"]
    order_id = listed[0]["AmazonOrderId"]
    items = sandbox.call("getOrderItems", orderId=order_id).json()["payload"]["OrderItems"]

    def confirm(carrier, order_items):
        return sandbox.call("confirmShipment", orderId=order_id, json={
            "marketplaceId": US, "packageDetail": {
                "packageReferenceId": "PKG1", "carrierCode": carrier,
                "trackingNumber": "TRACK123", "shipDate": "2026-11-01T00:00:00Z",
                "orderItems": order_items}})

    everything = [{"orderItemId": i["OrderItemId"], "quantity": i["QuantityOrdered"]}
                  for i in items]
    bad = confirm("Pony Express", everything)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "InvalidInput"
    assert "carrierCode" in bad.json()["errors"][0]["message"]
    too_many = confirm("UPS", [{**everything[0], "quantity": everything[0]["quantity"] + 1}])
    assert too_many.status_code == 400
    if len(everything) > 1 or everything[0]["quantity"] > 1:
        partial = [{**everything[0], "quantity": 1}]
        assert confirm("Royal Mail", partial).status_code == 204
        order = sandbox.call("getOrder", orderId=order_id).json()["payload"]
        assert order["OrderStatus"] == "PartiallyShipped"
        rest = sandbox.call("getOrderItems", orderId=order_id).json()["payload"]["OrderItems"]
        everything = [{"orderItemId": i["OrderItemId"],
                       "quantity": i["QuantityOrdered"] - i["QuantityShipped"]}
                      for i in rest if i["QuantityOrdered"] > i["QuantityShipped"]]
    response = confirm("UPS", everything)
    assert response.status_code == 204 and response.content == b""
    order = sandbox.call("getOrder", orderId=order_id).json()["payload"]
    assert order["OrderStatus"] == "Shipped"
    assert order["NumberOfItemsUnshipped"] == 0
    assert order["LastUpdateDate"] == "2026-11-01T00:00:00Z"
    again = confirm("UPS", everything)
    assert again.status_code == 400
    v2026 = sandbox.call("getOrder2026", orderId=order_id,
                         params={"includedData": "FULFILLMENT,PACKAGES"}).json()["order"]
    assert v2026["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert any(p.get("trackingNumber") == "TRACK123" for p in v2026["packages"])


def test_order_items_paging(sandbox, world):
    order = next(o for o in world.orders if len(o.items) == 3 and o.purchase < world.start)
    first = sandbox.call("getOrderItems", orderId=order.id).json()["payload"]
    assert len(first["OrderItems"]) == 2 and first["NextToken"]
    second = sandbox.call("getOrderItems", orderId=order.id,
                          params={"NextToken": first["NextToken"]}).json()["payload"]
    assert len(second["OrderItems"]) == 1 and "NextToken" not in second
    ids = [i["OrderItemId"] for i in first["OrderItems"] + second["OrderItems"]]
    assert ids == [i.id for i in order.items]


def test_search_orders_2026_pages_like_v0(sandbox):
    v0, _, _ = _all_orders(sandbox, {"MarketplaceIds": US,
                                     "CreatedAfter": "2026-09-01T00:00:00Z"})
    seen = []
    params = {"marketplaceIds": US, "createdAfter": "2026-09-01T00:00:00Z",
              "maxResultsPerPage": 20}
    response = sandbox.call("searchOrders", params=params).json()
    while True:
        seen.extend(o["orderId"] for o in response["orders"])
        token = response.get("pagination", {}).get("nextToken")
        if not token:
            break
        response = sandbox.call("searchOrders", params={"paginationToken": token}).json()
    assert seen == [o["AmazonOrderId"] for o in v0]


def test_financial_events_paging_matches_the_ledger(sandbox, world):
    after, before = "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"
    params = {"PostedAfter": after, "PostedBefore": before, "MaxResultsPerPage": 25}
    count = 0
    while True:
        payload = sandbox.call("listFinancialEvents", params=params).json()["payload"]
        count += sum(len(v) for v in payload["FinancialEvents"].values())
        if "NextToken" not in payload:
            break
        params = {"NextToken": payload["NextToken"]}
    low, high = 1788220800, 1790812800  # the same two instants as epoch seconds
    assert count == sum(1 for p in world.ledger if low <= p.time < high)
    assert count > 25

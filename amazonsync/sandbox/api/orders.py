"""Orders v0 (getOrders, getOrder, getOrderItems, confirmShipment) and Orders 2026-01-01.

Both versions page through one selection of the world's orders (as seen at the simulated
now, seller confirmations included), cached while a client pages.
"""

from __future__ import annotations

from ..money import iso_z, parse_time
from ..serializers import INCLUDED_2026, STATUS_2026, order_2026, order_item_v0, order_v0
from ..shapes import CARRIER_CODES, Order, order_state
from ..support import dumps
from .core import Request, Response, SandboxBase, bad_request, json_response, not_found


class OrdersApi(SandboxBase):
    shipments: dict[str, list[tuple[int, int]]]  # order item id -> seller confirmations (t, qty)
    packages: dict[str, list[dict]]  # order id -> confirmed packages, Orders 2026 shape
    _shipment_version: int  # bumped by every confirmation (invalidates the selection)
    _selection: tuple[object, list]  # (query key, orders) of the last selection

    def _order(self, seller: str, order_id: str) -> Order:
        order = self.world.orders_by_id.get(order_id)
        if order is None or order.purchase > self.now or seller != self.seller_id:
            raise not_found(f"Order {order_id} not found.")
        return order

    def _state(self, order: Order):
        return order_state(order, self.now, self.shipments)

    # ---------------------------------------------------------------- orders v0
    def _order_query(self, request: Request, *, v2026: bool) -> dict:
        names = {
            "created_after": "createdAfter", "created_before": "createdBefore",
            "updated_after": "lastUpdatedAfter", "updated_before": "lastUpdatedBefore",
        }
        created_after = self._time_param(request, names["created_after"])
        updated_after = self._time_param(request, names["updated_after"])
        created_before = self._time_param(request, names["created_before"])
        updated_before = self._time_param(request, names["updated_before"])
        label = (lambda n: n) if v2026 else (lambda n: n[0].upper() + n[1:])
        if created_after is None and updated_after is None:
            raise bad_request(f"Either {label('createdAfter')} or {label('lastUpdatedAfter')} "
                              "must be specified.")
        if created_after is not None and updated_after is not None:
            raise bad_request(f"{label('createdAfter')} and {label('lastUpdatedAfter')} "
                              "cannot both be specified.")
        if created_after is None and created_before is not None:
            raise bad_request(f"{label('createdBefore')} requires {label('createdAfter')}.")
        if updated_after is None and updated_before is not None:
            raise bad_request(f"{label('lastUpdatedBefore')} requires {label('lastUpdatedAfter')}.")
        ceiling = self.now - 120
        mps = self._marketplaces(request.param_list("marketplaceIds"), required=not v2026,
                                 name=label("marketplaceIds"))
        if v2026:
            statuses = request.param_list("fulfillmentStatuses")
            bad = [s for s in statuses if s not in STATUS_2026.values()
                   and s not in ("PENDING_AVAILABILITY", "UNFULFILLABLE")]
            channels = request.param_list("fulfilledBy")
            bad += [c for c in channels if c not in ("MERCHANT", "AMAZON")]
            page = self._int_param(request, "maxResultsPerPage", 100, 1, 100)
        else:
            statuses = request.param_list("OrderStatuses")
            bad = [s for s in statuses if s not in (
                "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled",
                "Unfulfillable", "InvoiceUnconfirmed", "PendingAvailability")]
            channels = request.param_list("FulfillmentChannels")
            bad += [c for c in channels if c not in ("MFN", "AFN")]
            page = self._int_param(request, "MaxResultsPerPage", 100, 1, 100)
        if bad:
            raise bad_request(f"Invalid filter value: {bad[0]}")
        created_before = min(created_before, ceiling) if created_before else None
        updated_before = min(updated_before, ceiling) if updated_before else None
        if created_after is not None:
            created_before = created_before if created_before is not None else ceiling
        else:
            updated_before = updated_before if updated_before is not None else ceiling
        return {
            "ca": created_after, "cb": created_before, "ua": updated_after,
            "ub": updated_before, "m": sorted(mp.id for mp in mps), "s": sorted(statuses),
            "c": sorted(channels), "n": page, "o": 0,
        }

    def _select_orders(self, q: dict, *, v2026: bool) -> list[tuple[Order, object]]:
        """Orders matching a query at the current simulated instant (cached while paging)."""
        key = (dumps({k: v for k, v in q.items() if k not in ("o", "n", "k")}), v2026,
               self.now, self._shipment_version)
        if self._selection[0] != key:
            self._selection = (key, self._compute_selection(q, v2026=v2026))
        return self._selection[1]

    def _compute_selection(self, q: dict, *, v2026: bool) -> list[tuple[Order, object]]:
        mps = set(q["m"])
        statuses = set(q["s"])
        channels = set(q["c"])
        out = []
        upper = q["cb"] if q["ca"] is not None else q["ub"]
        for order in self.world.orders:
            if order.purchase > upper:
                if q["ca"] is not None:
                    break
                if order.purchase > self.now:
                    break
            if mps and order.mp.id not in mps:
                continue
            state = self._state(order)
            if state is None:
                continue
            if q["ca"] is not None:
                if not q["ca"] <= order.purchase <= q["cb"]:
                    continue
            elif not q["ua"] <= state.last_update <= q["ub"]:
                continue
            if statuses:
                value = STATUS_2026[state.status] if v2026 else state.status
                if value not in statuses:
                    continue
            if channels:
                if v2026:
                    value = "AMAZON" if order.channel == "AFN" else "MERCHANT"
                else:
                    value = order.channel
                if value not in channels:
                    continue
            out.append((order, state))
        if q["ua"] is not None:
            out.sort(key=lambda pair: (pair[1].last_update, pair[0].purchase, pair[0].id))
        return out

    def op_getOrders(self, request: Request, seller: str) -> Response:
        token = request.param("NextToken")
        if token:
            q = self._decode_token(token, "orders")
        else:
            q = self._order_query(request, v2026=False)
        selected = self._select_orders(q, v2026=False) if seller == self.seller_id else []
        start, size = q["o"], q["n"]
        page = selected[start:start + size]
        payload: dict = {"Orders": [order_v0(o, s) for o, s in page]}
        if start + size < len(selected):
            payload["NextToken"] = self.codec.encode({**q, "k": "orders", "o": start + size})
        if q["ca"] is not None:
            payload["CreatedBefore"] = iso_z(q["cb"])
        else:
            payload["LastUpdatedBefore"] = iso_z(q["ub"])
        return json_response(200, {"payload": payload})

    def op_getOrder(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        return json_response(200, {"payload": order_v0(order, self._state(order))})

    def op_getOrderItems(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        state = self._state(order)
        start = 0
        token = request.param("NextToken")
        if token:
            data = self._decode_token(token, "items")
            if data.get("id") != order.id:
                raise bad_request("Invalid NextToken.", "The NextToken belongs to another order.")
            start = data["o"]
        size = 2  # small pages so clients exercise paging on multi-item orders
        items = order.items[start:start + size]
        payload: dict = {"OrderItems": [order_item_v0(order, i, state) for i in items],
                         "AmazonOrderId": order.id}
        if start + size < len(order.items):
            payload["NextToken"] = self.codec.encode({"k": "items", "id": order.id,
                                                      "o": start + size})
        return json_response(200, {"payload": payload})

    def op_confirmShipment(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        body = self._json_body(request)
        if body.get("marketplaceId") != order.mp.id:
            raise bad_request("marketplaceId is required and must be the order's marketplace.")
        detail = body.get("packageDetail")
        if not isinstance(detail, dict):
            raise bad_request("packageDetail is required.")
        for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate",
                     "orderItems"):
            if not detail.get(name):
                raise bad_request(f"packageDetail.{name} is required.")
        carrier = detail["carrierCode"]
        known = {c.lower(): c for c in CARRIER_CODES}
        if not isinstance(carrier, str) or carrier.lower() not in known:
            raise bad_request(
                f"Invalid carrierCode: {carrier}",
                "Use one of Amazon's accepted carrier codes, or Other with carrierName.")
        if known[carrier.lower()] == "Other" and not detail.get("carrierName"):
            raise bad_request("carrierName is required when carrierCode is Other.")
        try:
            parse_time(str(detail["shipDate"]))
        except ValueError as exc:
            raise bad_request("packageDetail.shipDate is not a valid ISO 8601 date-time.") from exc
        if order.channel != "MFN":
            raise bad_request(
                "Shipment confirmation is only possible for merchant-fulfilled orders.")
        state = self._state(order)
        if state.status not in ("Unshipped", "PartiallyShipped"):
            raise bad_request(f"The order is {state.status} and cannot be confirmed as shipped.")
        items = {i.id: i for i in order.items}
        wanted: list[tuple[str, int]] = []
        for entry in detail["orderItems"]:
            item_id = entry.get("orderItemId") if isinstance(entry, dict) else None
            qty = entry.get("quantity") if isinstance(entry, dict) else None
            if item_id not in items:
                raise bad_request(f"Invalid orderItemId: {item_id}")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise bad_request(f"Invalid quantity for order item {item_id}.")
            remaining = items[item_id].quantity - state.shipped.get(item_id, 0)
            if qty > remaining:
                raise bad_request(f"Quantity {qty} exceeds the unshipped quantity {remaining} of "
                                  f"order item {item_id}.")
            wanted.append((item_id, qty))
        for item_id, qty in wanted:
            self.shipments.setdefault(item_id, []).append((self.now, qty))
        self._shipment_version += 1
        self.packages.setdefault(order.id, []).append({
            "packageReferenceId": str(detail["packageReferenceId"]),
            "packageStatus": {"status": "SHIPPED"},
            "carrier": known[carrier.lower()],
            "shipTime": iso_z(self.now),
            "trackingNumber": str(detail["trackingNumber"]),
            "packageItems": [{"orderItemId": i, "quantity": q} for i, q in wanted],
        })
        return Response(204, b"", content_type="")

    # ---------------------------------------------------------------- orders 2026-01-01
    def op_searchOrders(self, request: Request, seller: str) -> Response:
        token = request.param("paginationToken")
        included = self._included_2026(request)
        if token:
            q = self._decode_token(token, "orders2026")
        else:
            q = self._order_query(request, v2026=True)
        selected = self._select_orders(q, v2026=True) if seller == self.seller_id else []
        start, size = q["o"], q["n"]
        out: dict = {"orders": [
            order_2026(o, s, included, self.packages.get(o.id, []))
            for o, s in selected[start:start + size]
        ]}
        if start + size < len(selected):
            out["pagination"] = {"nextToken": self.codec.encode(
                {**q, "k": "orders2026", "o": start + size})}
        if q["ca"] is not None:
            out["createdBefore"] = iso_z(q["cb"])
        else:
            out["lastUpdatedBefore"] = iso_z(q["ub"])
        return json_response(200, out)

    def _included_2026(self, request: Request) -> set[str]:
        included = set(request.param_list("includedData"))
        bad = included - set(INCLUDED_2026)
        if bad:
            raise bad_request(f"Invalid includedData value: {sorted(bad)[0]}")
        return included

    def op_getOrder2026(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        included = self._included_2026(request)
        return json_response(200, {"order": order_2026(order, self._state(order), included,
                                                       self.packages.get(order.id, []))})

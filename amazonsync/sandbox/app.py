"""The sandbox application: state, auth, rate limits, faults and every SP-API operation.

Transport-free: ``Sandbox.handle(Request) -> Response``. ``server.py`` puts it behind
``http.server``. One lock serialises handlers, so the state needs no finer locking.

Time: the simulated "now" (``Sandbox.now``, epoch seconds) starts at the present (the wall
clock when the sandbox starts; its world is generated back from today's date) or, with a fixed
``start``, at that instant; it then only moves through ``POST /_sandbox/advance``. Access
tokens expire after ``expires_in`` seconds of *wall* time (``time.time()``). Rate limits keep
two clock domains apart: a client on a simulated clock sends ``x-sandbox-clock`` (and
``x-sandbox-clock-id``) and is judged by its own clock in buckets of its own; every other
client is judged by ``time.monotonic()`` in the wall-clock buckets. Neither can starve the
other.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs, unquote

from amazonsync.spapi.operations import OPERATIONS, Operation

from . import reports as report_files
from .listings import (
    SCHEMA_DIR,
    Issue,
    ListingState,
    SchemaUnavailable,
    check_attributes,
    load_feed_schema,
    patches_to_attributes,
)
from .money import iso_offset, iso_z, money_lower, parse_time
from .serializers import (
    INCLUDED_2026,
    STATUS_2026,
    financial_event,
    order_2026,
    order_item_v0,
    order_v0,
)
from .shapes import (
    CARRIER_CODES,
    DAY,
    MARKETPLACE_BY_ID,
    MARKETPLACES,
    Marketplace,
    Order,
    Settlement,
    order_state,
)
from .support import (
    FAULT_PROFILES,
    BadToken,
    Fault,
    FaultPlan,
    RateLimiter,
    TokenCodec,
    dumps,
    loads,
)
from .world import (
    DEFAULT_SELLER_NAME,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    REVOKED_REFRESH_TOKEN,
    World,
)

SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
ALL_ORDERS_REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
FBA_RETURNS_REPORT_TYPE = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS_REPORT_TYPE = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REQUESTABLE_REPORT_TYPES = (ALL_ORDERS_REPORT_TYPE, FBA_RETURNS_REPORT_TYPE,
                            MFN_RETURNS_REPORT_TYPE)
LISTINGS_FEED_TYPE = "JSON_LISTINGS_FEED"
TOKEN_LIFETIME = 3600
# Seconds (on the polling client's own clock) a report or feed takes to process; otherwise
# the third poll or 60 s of the sandbox's now.
PROCESSING_SECONDS = 2.0
HOSTILE_TOKEN_USES = 25
EXPIRED_MESSAGE = "The access token you provided has expired."


@dataclass
class SandboxConfig:
    seed: int = 1
    orders: int = 2000
    start: str | int | None = None  # None: the present (see module docstring)
    faults: str = "none"
    rate_limits: bool = True
    base_url: str = "http://127.0.0.1:8001"
    gzip_threshold: int = 20_000  # report documents larger than this are served GZIP
    schema_dir: str = field(default_factory=lambda: os.environ.get("SPAPI_SCHEMA_DIR",
                                                                     str(SCHEMA_DIR)))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]  # keys lower-cased, "[]" stripped
    headers: dict[str, str]  # keys lower-cased
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, raw_query = target.partition("?")
        query: dict[str, list[str]] = {}
        for key, values in parse_qs(raw_query, keep_blank_values=True).items():
            name = key[:-2] if key.endswith("[]") else key
            query.setdefault(name.lower(), []).extend(values)
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)

    def param(self, name: str) -> str | None:
        values = self.query.get(name.lower())
        return values[0] if values else None

    def param_list(self, name: str) -> list[str]:
        out = []
        for value in self.query.get(name.lower(), []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: Fault | None = None  # transport-level fault for the server to act out


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _bad(message: str, details: str = "") -> ApiError:
    return ApiError(400, "InvalidInput", message, details)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def _error_body(code: str, message: str, details: str = "") -> bytes:
    return dumps({"errors": [{"code": code, "message": message, "details": details}]})


def _json(status: int, value) -> Response:
    return Response(status, dumps(value))


def _route_regex(template: str) -> re.Pattern:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


_ROUTES: list[tuple[re.Pattern, Operation]] = [
    (_route_regex(op.path), op) for op in OPERATIONS.values()
]


@dataclass
class AccessToken:
    seller: str
    expires_at: float
    uses: int = 0


@dataclass
class ReportJob:
    id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: int
    data_end: int
    created: int
    outcome: str  # DONE | FATAL | CANCELLED
    polls: int = 0
    document_id: str | None = None
    clock: tuple[tuple, float] | None = None  # the creating client's (clock domain, time)


@dataclass
class FeedJob:
    id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created: int
    seller: str
    polls: int = 0
    status: str = "IN_QUEUE"
    result_document_id: str | None = None
    finished: int | None = None
    clock: tuple[tuple, float] | None = None  # the creating client's (clock domain, time)


@dataclass
class Document:
    id: str
    content: bytes = b""
    compressed: bool = False
    upload: bool = False  # a feed input the client PUTs
    uploaded: bool = False
    content_type: str = ""
    downloads: int = 0


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, world: World | None = None) -> None:
        self.config = config or SandboxConfig()
        if self.config.faults not in FAULT_PROFILES:
            raise ValueError(f"unknown fault profile {self.config.faults!r}")
        self.world = world or World(self.config.seed, orders=self.config.orders,
                                    start=self.config.start)
        self.seller_id = self.world.seller_id
        self.now = max(self.world.start, int(time.time())) if self.world.present \
            else self.world.start
        self.lock = threading.RLock()
        self.seq = 0
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens = {REFRESH_TOKEN: self.seller_id}
        self.revoked = {REVOKED_REFRESH_TOKEN}
        self.limiter = RateLimiter()
        self.faults = FaultPlan(self.config.faults, self.config.seed)
        self.codec = TokenCodec(f"sandbox-paging/{self.config.seed}")
        self.shipments: dict[str, list[tuple[int, int]]] = {}  # order item id -> [(t, qty)]
        self.packages: dict[str, list[dict]] = {}  # order id -> Orders 2026 packages
        self.listing_state: dict[tuple[str, str], ListingState] = {}
        self.reports: dict[str, ReportJob] = {}
        self.feeds: dict[str, FeedJob] = {}
        self.documents: dict[str, Document] = {}
        self.counter = 0
        self._shipment_version = 0
        self._selection: tuple[object, list] = (None, [])

    @property
    def hostile(self) -> bool:
        return self.config.faults == "hostile"

    def _next_id(self) -> int:
        self.counter += 1
        return self.counter

    def _doc_id(self, kind: str) -> str:
        digest = hashlib.sha256(f"{self.config.seed}/{kind}/{self._next_id()}".encode())
        return f"amzn1.spdoc.1.4.na.{uuid.UUID(bytes=digest.digest()[:16])}"

    def _doc_url(self, doc_id: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/_documents/{doc_id}"

    # ------------------------------------------------------------------ entry point
    def handle(self, request: Request) -> Response:
        with self.lock:
            self.seq += 1
            seq = self.seq
            request_id = str(uuid.UUID(
                bytes=hashlib.sha256(f"{self.config.seed}/req/{seq}".encode()).digest()[:16]))
            try:
                response = self._dispatch(request, seq)
            except ApiError as exc:
                response = Response(exc.status, _error_body(exc.code, exc.message, exc.details))
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _dispatch(self, request: Request, seq: int) -> Response:
        path = request.path
        if path.startswith("/_sandbox/"):
            return self._control(request)
        fault = self.faults.decide(seq)
        if fault is not None and fault.kind != "slow":
            return self._fault_response(fault)
        if path == "/auth/o2/token":
            response = self._lwa(request)
        elif path.startswith("/_documents/"):
            response = self._document(request, unquote(path[len("/_documents/"):]))
        else:
            response = self._operation(request)
        response.fault = fault
        return response

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        if fault.kind == "throttle":
            return Response(429, _error_body("QuotaExceeded",
                                             "You exceeded your quota for the requested resource."))
        if fault.kind == "error500":
            return Response(500, _error_body("InternalFailure",
                                             "We encountered an internal error. Please try again."))
        if fault.kind == "error503":
            return Response(503, _error_body("ServiceUnavailable",
                                             "Service temporarily unavailable. Please try again."))
        return Response(0, fault=fault)  # drop

    # ------------------------------------------------------------------ LWA
    def _lwa(self, request: Request) -> Response:
        def err(status: int, code: str, description: str) -> Response:
            return _json(status, {"error": code, "error_description": description})

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
        return _json(200, {"access_token": token, "token_type": "bearer",
                           "expires_in": TOKEN_LIFETIME, "refresh_token": refresh})

    # ------------------------------------------------------------------ SP-API operations
    def _operation(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        matched = None
        path_match = False
        for regex, op in _ROUTES:
            m = regex.match(path)
            if m:
                path_match = True
                if op.method == request.method:
                    matched = (op, {k: unquote(v) for k, v in m.groupdict().items()})
                    break
        if matched is None:
            if path_match:
                raise ApiError(405, "MethodNotAllowed",
                               f"{request.method} is not allowed on {request.path}")
            raise _not_found(f"Resource {request.path} not found.")
        op, params = matched
        seller = self._authenticate(request)
        if self.config.rate_limits:
            if not self.limiter.allow(self._bucket_key(request, seller, op.name), op.rate,
                                      op.burst, self._bucket_time(request)):
                raise ApiError(429, "QuotaExceeded",
                               "You exceeded your quota for the requested resource.")
        handler = getattr(self, f"op_{op.name}")
        response = handler(request, seller, **params)
        if 200 <= response.status < 300:
            response.headers.append(("x-amzn-RateLimit-Limit", str(float(op.rate))))
        return response

    @staticmethod
    def _simulated_clock(request: Request) -> float | None:
        try:
            return float(request.headers["x-sandbox-clock"])
        except (KeyError, ValueError):
            return None

    def _clock_domain(self, request: Request) -> tuple[str, ...]:
        """("wall",) for wall-clock clients, ("simulated", clock id) for simulated clocks."""
        if self._simulated_clock(request) is None:
            return ("wall",)
        return ("simulated", request.headers.get("x-sandbox-clock-id", ""))

    def _bucket_key(self, request: Request, seller: str, operation: str) -> tuple:
        """Wall-clock clients share Amazon's buckets per seller and operation; a client on a
        simulated clock gets buckets of its own clock domain."""
        return (*self._clock_domain(request), seller, operation)

    def _bucket_time(self, request: Request) -> float:
        simulated = self._simulated_clock(request)
        return time.monotonic() if simulated is None else simulated

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

    def _check_seller(self, seller: str, seller_id: str) -> None:
        if seller_id != seller:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The sellerId does not match the access token.")

    def _marketplaces(self, ids: list[str], *, required: bool = True,
                      name: str = "MarketplaceIds") -> list[Marketplace]:
        if not ids:
            if required:
                raise _bad(f"{name} is required.")
            return []
        out = []
        for mp_id in ids:
            mp = MARKETPLACE_BY_ID.get(mp_id)
            if mp is None:
                raise _bad(f"Invalid {name}: {mp_id}", "Unknown marketplace identifier.")
            out.append(mp)
        return out

    def _time_param(self, request: Request, name: str) -> int | None:
        value = request.param(name)
        if value is None or value == "":
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise _bad(f"{name} is not a valid ISO 8601 date-time: {value}") from exc

    def _int_param(self, request: Request, name: str, default: int, low: int, high: int) -> int:
        value = request.param(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError as exc:
            raise _bad(f"{name} must be an integer.") from exc
        if not low <= number <= high:
            raise _bad(f"{name} must be between {low} and {high}.")
        return number

    def _decode_token(self, token: str, kind: str) -> dict:
        try:
            return self.codec.decode(token, kind)
        except BadToken as exc:
            raise _bad("Invalid NextToken.", "The NextToken is malformed or expired.") from exc

    def _order(self, seller: str, order_id: str) -> Order:
        order = self.world.orders_by_id.get(order_id)
        if order is None or order.purchase > self.now or seller != self.seller_id:
            raise _not_found(f"Order {order_id} not found.")
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
            raise _bad(f"Either {label('createdAfter')} or {label('lastUpdatedAfter')} "
                       "must be specified.")
        if created_after is not None and updated_after is not None:
            raise _bad(f"{label('createdAfter')} and {label('lastUpdatedAfter')} cannot both "
                       "be specified.")
        if created_after is None and created_before is not None:
            raise _bad(f"{label('createdBefore')} requires {label('createdAfter')}.")
        if updated_after is None and updated_before is not None:
            raise _bad(f"{label('lastUpdatedBefore')} requires {label('lastUpdatedAfter')}.")
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
            raise _bad(f"Invalid filter value: {bad[0]}")
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
        return _json(200, {"payload": payload})

    def op_getOrder(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        return _json(200, {"payload": order_v0(order, self._state(order))})

    def op_getOrderItems(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        state = self._state(order)
        start = 0
        token = request.param("NextToken")
        if token:
            data = self._decode_token(token, "items")
            if data.get("id") != order.id:
                raise _bad("Invalid NextToken.", "The NextToken belongs to another order.")
            start = data["o"]
        size = 2  # small pages so clients exercise paging on multi-item orders
        items = order.items[start:start + size]
        payload: dict = {"OrderItems": [order_item_v0(order, i, state) for i in items],
                         "AmazonOrderId": order.id}
        if start + size < len(order.items):
            payload["NextToken"] = self.codec.encode({"k": "items", "id": order.id,
                                                      "o": start + size})
        return _json(200, {"payload": payload})

    def op_confirmShipment(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        body = self._json_body(request)
        if body.get("marketplaceId") != order.mp.id:
            raise _bad("marketplaceId is required and must be the order's marketplace.")
        detail = body.get("packageDetail")
        if not isinstance(detail, dict):
            raise _bad("packageDetail is required.")
        for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate",
                     "orderItems"):
            if not detail.get(name):
                raise _bad(f"packageDetail.{name} is required.")
        carrier = detail["carrierCode"]
        known = {c.lower(): c for c in CARRIER_CODES}
        if not isinstance(carrier, str) or carrier.lower() not in known:
            raise _bad(f"Invalid carrierCode: {carrier}",
                       "Use one of Amazon's accepted carrier codes, or Other with carrierName.")
        if known[carrier.lower()] == "Other" and not detail.get("carrierName"):
            raise _bad("carrierName is required when carrierCode is Other.")
        try:
            parse_time(str(detail["shipDate"]))
        except ValueError as exc:
            raise _bad("packageDetail.shipDate is not a valid ISO 8601 date-time.") from exc
        if order.channel != "MFN":
            raise _bad("Shipment confirmation is only possible for merchant-fulfilled orders.")
        state = self._state(order)
        if state.status not in ("Unshipped", "PartiallyShipped"):
            raise _bad(f"The order is {state.status} and cannot be confirmed as shipped.")
        items = {i.id: i for i in order.items}
        wanted: list[tuple[str, int]] = []
        for entry in detail["orderItems"]:
            item_id = entry.get("orderItemId") if isinstance(entry, dict) else None
            qty = entry.get("quantity") if isinstance(entry, dict) else None
            if item_id not in items:
                raise _bad(f"Invalid orderItemId: {item_id}")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise _bad(f"Invalid quantity for order item {item_id}.")
            remaining = items[item_id].quantity - state.shipped.get(item_id, 0)
            if qty > remaining:
                raise _bad(f"Quantity {qty} exceeds the unshipped quantity {remaining} of "
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
        return _json(200, out)

    def _included_2026(self, request: Request) -> set[str]:
        included = set(request.param_list("includedData"))
        bad = included - set(INCLUDED_2026)
        if bad:
            raise _bad(f"Invalid includedData value: {sorted(bad)[0]}")
        return included

    def op_getOrder2026(self, request: Request, seller: str, orderId: str) -> Response:
        order = self._order(seller, orderId)
        included = self._included_2026(request)
        return _json(200, {"order": order_2026(order, self._state(order), included,
                                               self.packages.get(order.id, []))})

    # ---------------------------------------------------------------- reports
    def _json_body(self, request: Request) -> dict:
        try:
            body = loads(request.body or b"{}")
        except ValueError as exc:
            raise _bad("The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        return body

    def op_createReport(self, request: Request, seller: str) -> Response:
        body = self._json_body(request)
        report_type = body.get("reportType")
        ids = body.get("marketplaceIds")
        if not isinstance(report_type, str) or not report_type:
            raise _bad("reportType is required.")
        if not isinstance(ids, list) or not ids:
            raise _bad("marketplaceIds is required and must not be empty.")
        mps = self._marketplaces([str(i) for i in ids], name="marketplaceIds")
        if report_type == SETTLEMENT_REPORT_TYPE:
            raise _bad(f"Report type {report_type} cannot be requested.",
                       "Settlement reports are scheduled by Amazon; list them with getReports.")
        if report_type not in REQUESTABLE_REPORT_TYPES:
            raise _bad(f"Invalid reportType: {report_type}",
                       "The sandbox supports: " + ", ".join(REQUESTABLE_REPORT_TYPES))
        end = self._body_time(body, "dataEndTime") or self.now
        start = self._body_time(body, "dataStartTime") or end - 30 * DAY
        if start > end:
            raise _bad("dataStartTime must be before dataEndTime.")
        n = self._next_id()
        outcome = "DONE"
        if self.hostile:
            outcome = {1: "FATAL", 2: "CANCELLED"}.get(len(self.reports) % 4, "DONE")
        report_id = str(60_000_000_000 + n)
        self.reports[report_id] = ReportJob(report_id, report_type, [m.id for m in mps],
                                            start, min(end, self.now), self.now, outcome,
                                            clock=self._client_clock(request))
        return _json(202, {"reportId": report_id})

    def _body_time(self, body: dict, name: str) -> int | None:
        value = body.get(name)
        if value in (None, ""):
            return None
        try:
            return parse_time(str(value))
        except ValueError as exc:
            raise _bad(f"{name} is not a valid ISO 8601 date-time.") from exc

    def _client_clock(self, request: Request) -> tuple[tuple, float]:
        """The requesting client's clock: its domain and its time."""
        return (self._clock_domain(request), self._bucket_time(request))

    def _waited(self, job: ReportJob | FeedJob, request: Request | None) -> bool:
        """The client that created the job has waited its processing time on its own clock
        (wall or simulated): a report or feed takes seconds, whatever the sandbox's now."""
        if request is None or job.clock is None:
            return False
        domain, created = job.clock
        now_domain, now = self._client_clock(request)
        return domain == now_domain and now - created >= PROCESSING_SECONDS

    def _report_status(self, job: ReportJob, request: Request | None = None) -> str:
        elapsed = self.now - job.created
        if job.polls >= 2 or elapsed >= 60 or (job.polls >= 1 and self._waited(job, request)):
            status = job.outcome
        elif job.polls >= 1 or elapsed >= 20:
            status = "IN_PROGRESS"
        else:
            status = "IN_QUEUE"
        if status == "DONE" and job.document_id is None:
            job.document_id = self._make_report_document(job)
        return status

    def _make_report_document(self, job: ReportJob) -> str:
        world = self.world
        if job.report_type == ALL_ORDERS_REPORT_TYPE:
            content = report_files.all_orders_bytes(world, job.data_start, job.data_end,
                                                    job.created, job.marketplace_ids,
                                                    self.shipments)
        elif job.report_type == FBA_RETURNS_REPORT_TYPE:
            content = report_files.fba_returns_bytes(world, job.data_start, job.data_end,
                                                     job.created, job.marketplace_ids)
        else:
            content = report_files.mfn_returns_bytes(world, job.data_start, job.data_end,
                                                     job.created, job.marketplace_ids)
        return self._store_document(self._doc_id(f"report/{job.id}"), content)

    def _store_document(self, doc_id: str, content: bytes) -> str:
        compressed = len(content) > self.config.gzip_threshold
        if compressed:
            content = gzip.compress(content, mtime=0)
        self.documents[doc_id] = Document(doc_id, content, compressed)
        return doc_id

    def _report_json(self, job: ReportJob, request: Request | None = None) -> dict:
        status = self._report_status(job, request)
        out: dict = {
            "marketplaceIds": job.marketplace_ids,
            "reportId": job.id,
            "reportType": job.report_type,
            "dataStartTime": iso_offset(job.data_start),
            "dataEndTime": iso_offset(job.data_end),
            "createdTime": iso_offset(job.created),
            "processingStatus": status,
        }
        if status != "IN_QUEUE":
            out["processingStartTime"] = iso_offset(job.created + 5)
        if status in ("DONE", "FATAL", "CANCELLED"):
            out["processingEndTime"] = iso_offset(job.created + 30)
        if status == "DONE":
            out["reportDocumentId"] = job.document_id
        return out

    def _settlement_json(self, settlement: Settlement) -> dict:
        return {
            "marketplaceIds": [settlement.mp.id],
            "reportId": settlement.report_id,
            "reportType": SETTLEMENT_REPORT_TYPE,
            "dataStartTime": iso_offset(settlement.start),
            "dataEndTime": iso_offset(settlement.end),
            "createdTime": iso_offset(settlement.created),
            "processingStatus": "DONE",
            "processingStartTime": iso_offset(settlement.created),
            "processingEndTime": iso_offset(settlement.created + 300),
            "reportDocumentId": settlement.document_id,
        }

    def _settlements_by(self) -> dict[str, Settlement]:
        out = {}
        for settlement in self.world.settlements(self.now):
            out[settlement.report_id] = settlement
            out[settlement.document_id] = settlement
        return out

    def op_getReports(self, request: Request, seller: str) -> Response:
        token = request.param("nextToken")
        if token:
            q = self._decode_token(token, "reports")
        else:
            types = request.param_list("reportTypes")
            if not types:
                raise _bad("reportTypes is required when nextToken is not provided.")
            if len(types) > 10:
                raise _bad("reportTypes accepts at most 10 values.")
            statuses = request.param_list("processingStatuses")
            bad = [s for s in statuses if s not in ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS",
                                                    "IN_QUEUE")]
            if bad:
                raise _bad(f"Invalid processingStatuses value: {bad[0]}")
            mps = self._marketplaces(request.param_list("marketplaceIds"), required=False,
                                     name="marketplaceIds")
            since = self._time_param(request, "createdSince")
            until = self._time_param(request, "createdUntil")
            q = {"t": types, "s": statuses, "m": [m.id for m in mps],
                 "a": since if since is not None else self.now - 90 * DAY,
                 "b": until if until is not None else self.now,
                 "n": self._int_param(request, "pageSize", 10, 1, 100), "o": 0}
        rows: list[dict] = []
        if seller == self.seller_id:
            if SETTLEMENT_REPORT_TYPE in q["t"]:
                rows.extend(self._settlement_json(s) for s in self.world.settlements(self.now))
            rows.extend(self._report_json(job) for job in self.reports.values()
                        if job.report_type in q["t"])
        rows = [
            r for r in rows
            if q["a"] <= parse_time(r["createdTime"]) <= q["b"]
            and (not q["s"] or r["processingStatus"] in q["s"])
            and (not q["m"] or set(r["marketplaceIds"]) & set(q["m"]))
        ]
        rows.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
        start, size = q["o"], q["n"]
        out: dict = {"reports": rows[start:start + size]}
        if start + size < len(rows):
            out["nextToken"] = self.codec.encode({**q, "k": "reports", "o": start + size})
        return _json(200, out)

    def op_getReport(self, request: Request, seller: str, reportId: str) -> Response:
        job = self.reports.get(reportId)
        if job is not None and seller == self.seller_id:
            body = self._report_json(job, request)
            job.polls += 1
            return _json(200, body)
        settlement = self._settlements_by().get(reportId)
        if settlement is None or seller != self.seller_id:
            raise _not_found(f"Report {reportId} not found.")
        return _json(200, self._settlement_json(settlement))

    def op_getReportDocument(self, request: Request, seller: str,
                             reportDocumentId: str) -> Response:
        doc = self.documents.get(reportDocumentId)
        if doc is None:
            settlement = self._settlements_by().get(reportDocumentId)
            if settlement is None or seller != self.seller_id:
                raise _not_found(f"Report document {reportDocumentId} not found.")
            self._store_document(settlement.document_id,
                                 report_files.settlement_bytes(settlement))
            doc = self.documents[reportDocumentId]
        if doc.upload:
            raise _not_found(f"Report document {reportDocumentId} not found.")
        out = {"reportDocumentId": doc.id, "url": self._doc_url(doc.id)}
        if doc.compressed:
            out["compressionAlgorithm"] = "GZIP"
        return _json(200, out)

    # ---------------------------------------------------------------- documents
    def _document(self, request: Request, doc_id: str) -> Response:
        doc = self.documents.get(doc_id)
        if doc is None:
            return Response(404, b"<Error><Code>NoSuchKey</Code></Error>",
                            content_type="application/xml")
        if request.method == "PUT":
            if not doc.upload:
                return Response(403, b"<Error><Code>AccessDenied</Code></Error>",
                                content_type="application/xml")
            doc.content = request.body
            doc.uploaded = True
            doc.content_type = request.headers.get("content-type", doc.content_type)
            etag = hashlib.md5(request.body, usedforsecurity=False).hexdigest()
            return Response(200, b"", content_type="", headers=[("ETag", f'"{etag}"')])
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"<Error><Code>MethodNotAllowed</Code></Error>",
                            content_type="application/xml")
        doc.downloads += 1
        content = doc.content
        if self.hostile and doc.compressed and doc.downloads == 1:
            content = content[: max(10, len(content) // 2)]
        ctype = "application/octet-stream" if doc.compressed else (
            doc.content_type or "text/plain; charset=utf-8")
        return Response(200, content, content_type=ctype)

    # ---------------------------------------------------------------- feeds
    def op_createFeedDocument(self, request: Request, seller: str) -> Response:
        body = self._json_body(request)
        ctype = body.get("contentType")
        if not isinstance(ctype, str) or not ctype:
            raise _bad("contentType is required.")
        doc_id = self._doc_id("feed-input")
        self.documents[doc_id] = Document(doc_id, upload=True, content_type=ctype)
        signature = hashlib.sha256(f"{self.config.seed}/sig/{doc_id}".encode()).hexdigest()
        url = (f"{self._doc_url(doc_id)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300"
               f"&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature={signature}")
        return _json(201, {"feedDocumentId": doc_id, "url": url})

    def op_createFeed(self, request: Request, seller: str) -> Response:
        body = self._json_body(request)
        feed_type = body.get("feedType")
        ids = body.get("marketplaceIds")
        doc_id = body.get("inputFeedDocumentId")
        if not isinstance(feed_type, str) or not feed_type:
            raise _bad("feedType is required.")
        if not isinstance(ids, list) or not ids:
            raise _bad("marketplaceIds is required and must not be empty.")
        mps = self._marketplaces([str(i) for i in ids], name="marketplaceIds")
        if not isinstance(doc_id, str) or not doc_id:
            raise _bad("inputFeedDocumentId is required.")
        doc = self.documents.get(doc_id)
        if doc is None or not doc.upload:
            raise _bad(f"Invalid inputFeedDocumentId: {doc_id}")
        if feed_type != LISTINGS_FEED_TYPE:
            raise _bad(f"Invalid feedType: {feed_type}",
                       f"The sandbox processes {LISTINGS_FEED_TYPE} feeds.")
        feed_id = str(50_000_000 + self._next_id())
        self.feeds[feed_id] = FeedJob(feed_id, feed_type, [m.id for m in mps], doc_id,
                                      self.now, seller, clock=self._client_clock(request))
        return _json(202, {"feedId": feed_id})

    def _feed_status(self, job: FeedJob, request: Request | None = None) -> str:
        if job.status in ("DONE", "FATAL", "CANCELLED"):
            return job.status
        elapsed = self.now - job.created
        if job.polls >= 2 or elapsed >= 60 or (job.polls >= 1 and self._waited(job, request)):
            self._process_feed(job)
        elif job.polls >= 1 or elapsed >= 20:
            job.status = "IN_PROGRESS"
        return job.status

    def settle_feeds(self) -> None:
        """Process every feed whose simulated processing time has passed."""
        for job in self.feeds.values():
            self._feed_status(job)

    def _feed_json(self, job: FeedJob, request: Request | None = None) -> dict:
        status = self._feed_status(job, request)
        out: dict = {"feedId": job.id, "feedType": job.feed_type,
                     "marketplaceIds": job.marketplace_ids,
                     "createdTime": iso_offset(job.created), "processingStatus": status}
        if status != "IN_QUEUE":
            out["processingStartTime"] = iso_offset(job.created + 5)
        if job.finished is not None:
            out["processingEndTime"] = iso_offset(job.finished)
        if job.result_document_id:
            out["resultFeedDocumentId"] = job.result_document_id
        return out

    def op_getFeed(self, request: Request, seller: str, feedId: str) -> Response:
        job = self.feeds.get(feedId)
        if job is None or job.seller != seller:
            raise _not_found(f"Feed {feedId} not found.")
        body = self._feed_json(job, request)
        job.polls += 1
        return _json(200, body)

    def op_getFeedDocument(self, request: Request, seller: str,
                           feedDocumentId: str) -> Response:
        doc = self.documents.get(feedDocumentId)
        if doc is None:
            raise _not_found(f"Feed document {feedDocumentId} not found.")
        out = {"feedDocumentId": doc.id, "url": self._doc_url(doc.id)}
        if doc.compressed:
            out["compressionAlgorithm"] = "GZIP"
        return _json(200, out)

    def _process_feed(self, job: FeedJob) -> None:
        job.finished = self.now
        doc = self.documents[job.input_document_id]
        content = doc.content
        if content[:2] == b"\x1f\x8b":
            try:
                content = gzip.decompress(content)
            except (OSError, EOFError):
                content = b""
        report = {"header": {"sellerId": job.seller, "version": "2.0", "feedId": job.id},
                  "issues": [], "summary": {"errors": 0, "warnings": 0, "messagesProcessed": 0,
                                            "messagesAccepted": 0, "messagesInvalid": 0}}
        fatal = None
        feed = None
        if not doc.uploaded:
            fatal = "The feed document was never uploaded."
        else:
            try:
                feed = loads(content)
            except ValueError:
                fatal = "The feed document is not valid JSON."
        if feed is not None:
            fatal = self._validate_feed_envelope(feed, job)
        if fatal:
            report["issues"].append({"code": "100001", "severity": "ERROR", "message": fatal})
            report["summary"]["errors"] = 1
            job.status = "FATAL"
        else:
            self._apply_feed_messages(feed, job, report)
            job.status = "DONE"
        result_id = self._doc_id(f"feed-result/{job.id}")
        self.documents[result_id] = Document(result_id, dumps(report), False,
                                             content_type="application/json")
        job.result_document_id = result_id

    def _validate_feed_envelope(self, feed, job: FeedJob) -> str | None:
        import jsonschema

        try:
            schema = load_feed_schema(self.config.schema_dir)
        except SchemaUnavailable as exc:
            return str(exc)
        if not isinstance(feed, dict):
            return "The feed must be a JSON object."
        envelope = {k: v for k, v in schema.items() if k != "properties"}
        envelope["properties"] = {"header": schema["properties"]["header"],
                                  "messages": {"type": "array", "minItems": 1,
                                               "maxItems": 25000}}
        errors = sorted(jsonschema.Draft7Validator(envelope).iter_errors(feed), key=str)
        if errors:
            return f"The feed does not match the JSON_LISTINGS_FEED schema: {errors[0].message}"
        if feed["header"]["sellerId"] != job.seller:
            return "The header sellerId does not match the selling partner submitting the feed."
        return None

    def _apply_feed_messages(self, feed: dict, job: FeedJob, report: dict) -> None:
        import jsonschema

        schema = load_feed_schema(self.config.schema_dir)
        validator = jsonschema.Draft7Validator(schema["properties"]["messages"]["items"])
        mps = [MARKETPLACE_BY_ID[i] for i in job.marketplace_ids]
        summary = report["summary"]
        for message in feed["messages"]:
            summary["messagesProcessed"] += 1
            message_id = message.get("messageId") if isinstance(message, dict) else None
            sku = message.get("sku") if isinstance(message, dict) else None
            errors = list(validator.iter_errors(message))
            if errors:
                issues = [Issue("100002", f"The message does not match the schema: "
                                f"{min(errors, key=str).message}")]
            else:
                issues = self._apply_message(message, mps)
            for issue in issues:
                entry: dict = {}
                if isinstance(message_id, int) and message_id >= 1:
                    entry["messageId"] = message_id
                if isinstance(sku, str) and sku:
                    entry["sku"] = sku
                entry.update({"code": issue.code, "severity": issue.severity,
                              "message": issue.message})
                if issue.attribute:
                    entry["attributeName"] = issue.attribute
                report["issues"].append(entry)
            if issues:
                summary["errors"] += len(issues)
                summary["messagesInvalid"] += 1
            else:
                summary["messagesAccepted"] += 1

    def _apply_message(self, message: dict, mps: list[Marketplace]) -> list[Issue]:
        sku = message["sku"]
        missing = [mp for mp in mps if self._listing(sku, mp) is None]
        if missing:
            return [Issue("4000001", f"The SKU '{sku}' was not found in marketplace "
                          f"{missing[0].id}.")]
        op = message["operationType"]
        if op == "DELETE":
            for mp in mps:
                self._listing(sku, mp).deleted = True
            return []
        if op == "PATCH":
            issues, attributes, deleted = patches_to_attributes(message["patches"])
            if issues:
                return issues
            return self._apply_attributes(sku, mps, attributes, deleted)
        return self._apply_attributes(sku, mps, message.get("attributes") or {}, [])

    # ---------------------------------------------------------------- listings
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
            raise _not_found(f"SKU '{sku}' not found in marketplace {mps[0].id}.")
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
        return _json(200, out)

    def op_patchListingsItem(self, request: Request, seller: str, sellerId: str,
                             sku: str) -> Response:
        self._check_seller(seller, sellerId)
        mps = self._marketplaces(request.param_list("marketplaceIds"), name="marketplaceIds")
        body = self._json_body(request)
        if not isinstance(body.get("productType"), str) or not body.get("productType"):
            raise _bad("productType is required.")
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
        return _json(200, out)

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
            if request.param("granularityType") != "Marketplace":
                raise _bad("granularityType is required and must be Marketplace.")
            mps = self._marketplaces(request.param_list("marketplaceIds"),
                                     name="marketplaceIds")
            if len(mps) != 1:
                raise _bad("marketplaceIds must contain exactly one marketplace.")
            if request.param("granularityId") != mps[0].id:
                raise _bad("granularityId must be the requested marketplace id.")
            skus = request.param_list("sellerSkus")
            if len(skus) > 50:
                raise _bad("sellerSkus accepts at most 50 values.")
            single = request.param("sellerSku")
            if single:
                skus.append(single)
            details = (request.param("details") or "false").lower() == "true"
            since = self._time_param(request, "startDateTime")
            q = {"m": mps[0].id, "s": skus, "d": details, "a": since, "o": 0}
        mp = MARKETPLACE_BY_ID[q["m"]]
        inbound = self._inbound_quantities(mp.code)
        rows = []
        if seller == self.seller_id:
            for (code, sku), base in sorted(self.world.fba_inventory.items()):
                if code != mp.code or (q["s"] and sku not in q["s"]):
                    continue
                product = self.world.products[sku]
                state = self._listing(sku, mp)
                updated = max(state.updated, self.world.start - DAY)
                if q["a"] is not None and updated < q["a"]:
                    continue
                inb = inbound.get(sku, {"working": 0, "shipped": 0, "receiving": 0})
                fulfillable = state.quantity if state.quantity is not None else 0
                reserved = (base["reserved_customer"] + base["reserved_transship"]
                            + base["reserved_fc"])
                unfulfillable = (base["customer_damaged"] + base["warehouse_damaged"]
                                 + base["defective"])
                total = (fulfillable + reserved + base["researching"] + unfulfillable
                         + inb["working"] + inb["shipped"] + inb["receiving"])
                row: dict = {"asin": product.asin, "fnSku": product.fnsku, "sellerSku": sku,
                             "condition": "NewItem"}
                if q["d"]:
                    row["inventoryDetails"] = {
                        "fulfillableQuantity": fulfillable,
                        "inboundWorkingQuantity": inb["working"],
                        "inboundShippedQuantity": inb["shipped"],
                        "inboundReceivingQuantity": inb["receiving"],
                        "reservedQuantity": {
                            "totalReservedQuantity": reserved,
                            "pendingCustomerOrderQuantity": base["reserved_customer"],
                            "pendingTransshipmentQuantity": base["reserved_transship"],
                            "fcProcessingQuantity": base["reserved_fc"]},
                        "researchingQuantity": {
                            "totalResearchingQuantity": base["researching"],
                            "researchingQuantityBreakdown": [
                                {"name": "researchingQuantityInShortTerm",
                                 "quantity": base["researching"]},
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
                row.update({"lastUpdatedTime": iso_offset(updated),
                            "productName": product.title, "totalQuantity": total})
                rows.append(row)
        start, size = q["o"], 50
        out: dict = {"payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": mp.id},
            "inventorySummaries": rows[start:start + size]}}
        if start + size < len(rows):
            out["pagination"] = {"nextToken": self.codec.encode(
                {**q, "k": "inventory", "o": start + size})}
        return _json(200, out)

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
            raise _bad("QueryType is required: SHIPMENT, DATE_RANGE or NEXT_TOKEN.")
        if query_type == "NEXT_TOKEN":
            token = request.param("NextToken")
            if not token:
                raise _bad("NextToken is required when QueryType is NEXT_TOKEN.")
            q = self._decode_token(token, "inbound")
        else:
            mps = self._marketplaces(request.param_list("MarketplaceId"), name="MarketplaceId")
            statuses = request.param_list("ShipmentStatusList")
            ids = request.param_list("ShipmentIdList")
            after = self._time_param(request, "LastUpdatedAfter")
            before = self._time_param(request, "LastUpdatedBefore")
            if query_type == "SHIPMENT" and not statuses and not ids:
                raise _bad("ShipmentStatusList or ShipmentIdList is required for SHIPMENT.")
            if query_type == "DATE_RANGE" and (after is None or before is None):
                raise _bad("LastUpdatedAfter and LastUpdatedBefore are required for "
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
        return _json(200, {"payload": payload})

    def op_getShipmentItemsByShipmentId(self, request: Request, seller: str,
                                        shipmentId: str) -> Response:
        found = [s for s in self.world.inbound_shipments
                 if s.id == shipmentId and s.created <= self.now]
        if not found or seller != self.seller_id:
            raise _not_found(f"Shipment {shipmentId} not found.")
        shipment = found[0]
        items = [{
            "ShipmentId": shipment.id, "SellerSKU": product.sku,
            "FulfillmentNetworkSKU": product.fnsku, "QuantityShipped": shipped,
            "QuantityReceived": shipment.received(self.now, shipped, final),
            "QuantityInCase": 0,
            "PrepDetailsList": [{"PrepInstruction": "Labeling", "PrepOwner": "SELLER"}],
        } for product, shipped, final in shipment.items]
        return _json(200, {"payload": {"ItemData": items}})

    # ---------------------------------------------------------------- finances
    def op_listFinancialEvents(self, request: Request, seller: str) -> Response:
        token = request.param("NextToken")
        if token:
            q = self._decode_token(token, "finances")
        else:
            after = self._time_param(request, "PostedAfter")
            before = self._time_param(request, "PostedBefore")
            if after is None:
                raise _bad("PostedAfter is required when NextToken is not provided.")
            ceiling = self.now - 120
            before = min(before, ceiling) if before is not None else ceiling
            if after > before:
                raise _bad("PostedAfter must be before PostedBefore.")
            q = {"a": after, "b": before, "o": 0,
                 "n": self._int_param(request, "MaxResultsPerPage", 100, 1, 100)}
        times = self.world.ledger_times
        low = bisect.bisect_left(times, q["a"])
        high = bisect.bisect_left(times, q["b"]) if seller == self.seller_id else low
        start, size = low + q["o"], q["n"]
        events: dict[str, list] = {"ShipmentEventList": [], "RefundEventList": [],
                                   "ServiceFeeEventList": [], "AdjustmentEventList": []}
        for posting in self.world.ledger[start:min(start + size, high)]:
            name, event = financial_event(posting)
            events[name].append(event)
        payload: dict = {}
        if start + size < high:
            payload["NextToken"] = self.codec.encode({**q, "k": "finances",
                                                      "o": q["o"] + size})
        payload["FinancialEvents"] = events
        return _json(200, {"payload": payload})

    # ---------------------------------------------------------------- sellers
    def op_getMarketplaceParticipations(self, request: Request, seller: str) -> Response:
        payload = [{
            "marketplace": {"id": mp.id, "name": mp.name, "countryCode": mp.country,
                            "defaultCurrencyCode": mp.currency,
                            "defaultLanguageCode": mp.language, "domainName": mp.domain},
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
            "storeName": DEFAULT_SELLER_NAME,
        } for mp in MARKETPLACES.values()]
        return _json(200, {"payload": payload})

    # ---------------------------------------------------------------- sandbox control
    def _control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_sandbox/now" and request.method == "GET":
            return _json(200, {"now": iso_z(self.now), "epoch": self.now})
        if path == "/_sandbox/advance" and request.method == "POST":
            body = self._json_body(request)
            if "seconds" in body:
                try:
                    seconds = int(Decimal(str(body["seconds"])))
                except (ArithmeticError, ValueError) as exc:
                    raise _bad("seconds must be a number.") from exc
                if seconds < 0:
                    raise _bad("Simulated time only moves forward.")
                target = self.now + seconds
            elif "to" in body:
                try:
                    target = parse_time(str(body["to"]))
                except ValueError as exc:
                    raise _bad("to must be an ISO 8601 date-time.") from exc
                if target < self.now:
                    raise _bad("Simulated time only moves forward.")
            else:
                raise _bad('Send {"seconds": N} or {"to": "<ISO 8601>"}.')
            self.now = target
            self.settle_feeds()
            return _json(200, {"now": iso_z(self.now), "epoch": self.now})
        if path == "/_sandbox/state/listings" and request.method == "GET":
            seller = request.param("sellerId") or self.seller_id
            rows = self.listings_snapshot(request.param("sku"), request.param("marketplaceId"))
            return _json(200, {"sellerId": seller,
                               "listings": rows if seller == self.seller_id else []})
        if path == "/_sandbox/revoke" and request.method == "POST":
            body = self._json_body(request)
            token = body.get("refresh_token")
            if not isinstance(token, str) or not token:
                raise _bad("refresh_token is required.")
            self.revoked.add(token)
            return _json(200, {"revoked": token})
        if path == "/_sandbox/info" and request.method == "GET":
            return _json(200, self.info())
        raise _not_found(f"Resource {request.path} not found.")

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

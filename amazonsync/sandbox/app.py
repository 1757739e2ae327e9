"""The sandbox application: one ``Sandbox`` object holding the state of a simulated seller.

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

Where things are. This module is the front door: it creates all the state
(``Sandbox.__init__``), then per request picks the fault (profile ``flaky``), the route (the
operation table ``amazonsync.spapi.operations.OPERATIONS``, shared with the client),
authenticates, applies the operation's rate limit and calls ``op_<operationName>``. The
operations themselves live in ``api/``, one module per SP-API family, each a class the
``Sandbox`` inherits:

=================  ==========================================================
``api/auth``        LWA token endpoint, access-token checks
``api/orders``      Orders v0 and Orders 2026-01-01
``api/reports``     Reports (requested reports, settlement reports)
``api/documents``   the presigned document URLs reports and feeds use
``api/feeds``       Feeds (JSON_LISTINGS_FEED)
``api/listings``    Listings Items
``api/inventory``   FBA Inventory and FBA Inbound
``api/finances``    Finances (financial events)
``api/sellers``     Sellers (marketplace participations)
``api/control``     the sandbox's own ``/_sandbox/`` endpoints
``api/core``        what they all share: request, response, errors, parameters
=================  ==========================================================

Why classes combined into one, rather than a route table of functions: every operation
reads and writes the same per-sandbox state (the simulated now, listings, documents,
paging codec) and shares its helpers, so a function per route would take the sandbox as
its first argument anyway; and the ``op_<operationName>`` methods let the one operation
table route both the client and the sandbox, so ``getOrders`` is found by its name. A
family that uses another's state or helpers says so by inheriting it (``FeedsApi``
builds on ``DocumentsApi`` and ``ListingsApi``); each family class declares, as
annotations, the state it owns.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from urllib.parse import unquote

from amazonsync.spapi.operations import OPERATIONS, Operation

from .api.auth import AuthApi
from .api.control import ControlApi
from .api.core import ApiError, Request, Response, SandboxConfig, error_body, not_found
from .api.feeds import FeedsApi
from .api.finances import FinancesApi
from .api.inventory import InventoryApi
from .api.listings import ListingsApi
from .api.orders import OrdersApi
from .api.reports import ReportsApi
from .api.sellers import SellersApi
from .support import FAULT_PROFILES, Fault, FaultPlan, RateLimiter, TokenCodec
from .world import REFRESH_TOKEN, REVOKED_REFRESH_TOKEN, World


def _route_regex(template: str) -> re.Pattern:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


_ROUTES: list[tuple[re.Pattern, Operation]] = [
    (_route_regex(op.path), op) for op in OPERATIONS.values()
]


# A family's class comes before the classes it builds on (Python's method resolution order).
class Sandbox(ControlApi, OrdersApi, ReportsApi, FeedsApi, InventoryApi, ListingsApi,
              FinancesApi, SellersApi, AuthApi):
    """A simulated seller account behind the SP-API: ``handle`` answers one request."""

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
        self.seq = 0  # requests handled (request ids, fault plan)
        self.limiter = RateLimiter()
        self.faults = FaultPlan(self.config.faults, self.config.seed)
        self.codec = TokenCodec(f"sandbox-paging/{self.config.seed}")
        self.counter = 0
        # Each family's state; its class says what each holds.
        self.tokens = {}  # AuthApi
        self.refresh_tokens = {REFRESH_TOKEN: self.seller_id}
        self.revoked = {REVOKED_REFRESH_TOKEN}
        self.shipments = {}  # OrdersApi
        self.packages = {}
        self._shipment_version = 0
        self._selection = (None, [])
        self.listing_state = {}  # ListingsApi
        self.reports = {}  # ReportsApi
        self.feeds = {}  # FeedsApi
        self.documents = {}  # DocumentsApi

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
                response = Response(exc.status, error_body(exc.code, exc.message, exc.details))
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
            return Response(429, error_body("QuotaExceeded",
                                            "You exceeded your quota for the requested resource."))
        if fault.kind == "error500":
            return Response(500, error_body("InternalFailure",
                                            "We encountered an internal error. Please try again."))
        if fault.kind == "error503":
            return Response(503, error_body("ServiceUnavailable",
                                            "Service temporarily unavailable. Please try again."))
        return Response(0, fault=fault)  # drop

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
            raise not_found(f"Resource {request.path} not found.")
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

    def _bucket_key(self, request: Request, seller: str, operation: str) -> tuple:
        """Wall-clock clients share Amazon's buckets per seller and operation; a client on a
        simulated clock gets buckets of its own clock domain."""
        return (*self._clock_domain(request), seller, operation)

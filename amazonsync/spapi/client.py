"""The SP-API client: one per seller account (and run).

Every request waits for a token of its operation's shared bucket, carries an LWA access
token, is retried on 429/5xx/connection errors with exponential backoff and jitter
(tenacity; sleeps go through the client's clock), is handed to the call recorder and fails
with a typed error from ``errors.py``.

The client imports no model and no app. What it shares or reports is given to it: the
bucket store, the access token store, the re-authorisation callback, the redaction of LWA's
error text and the call recorder (``recorder(ApiCallRecord)``). Without them it keeps
everything to itself (memory buckets and token, nothing recorded). The engine builds
clients wired to the database: ``amazonsync.clients.spapi_client(account, run=run)``
(``ApiCall`` rows and the run's counters, the token in the account row, database or Redis
buckets); flows get one as ``ctx.client``.

    client = spapi_client(account, run=run)
    for order in client.get_orders(MarketplaceIds=["ATVPDKIKX0DER"], LastUpdatedAfter=since):
        ...
    path = client.report_fetch("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
                               marketplace_ids=["ATVPDKIKX0DER"], data_start_time=since)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any
from tenacity.wait import wait_exponential_jitter

from .auth import LwaAuth, Redact, TokenStore, redact_given
from .clock import Clock, RealClock
from .errors import (
    AuthError,
    InvalidInput,
    NotFound,
    ServerError,
    SpApiError,
    Throttled,
)
from .operations import OPERATIONS, REGION_HOSTS, Operation
from .orders import OrdersApi, orders_api_for
from .ratelimit import BucketStore, MemoryBucketStore, RateLimiter
from .roundtrips import ReportsAndFeeds
from .wire import describe_errors, dumps, encode_params, errors_of

log = logging.getLogger(__name__)

USER_AGENT = "amazonsync/0.1 (Language=Python)"


class _StopAfterClock:
    """Tenacity stop condition on the client's clock (so simulated time counts)."""

    def __init__(self, clock: Clock, start: float, limit: float) -> None:
        self.clock, self.start, self.limit = clock, start, limit

    def __call__(self, retry_state) -> bool:
        return self.clock.now() - self.start >= self.limit


@dataclass(frozen=True)
class ApiCallRecord:
    """One HTTP request of the client, as given to its call recorder."""

    operation: str
    method: str
    path: str
    status: int | None  # None: no answer (connection error, timeout)
    duration_ms: int
    throttled: bool = False
    request_id: str = ""
    error: str = ""  # Amazon's error text (may need redaction before it is stored)


CallRecorder = Callable[[ApiCallRecord], None]


class SpApiClient(ReportsAndFeeds):
    """SP-API for one seller account. See the module docstring; the report and feed round
    trips are :class:`.roundtrips.ReportsAndFeeds`."""

    max_attempts = 8
    max_retry_seconds = 900.0  # total time (on the clock) one call may spend retrying
    backoff_initial = 1.0
    backoff_max = 60.0
    backoff_jitter = 1.0
    timeout = (10, 60)

    def __init__(
        self,
        account,
        *,
        clock: Clock | None = None,
        session: requests.Session | None = None,
        bucket_store: BucketStore | None = None,
        token_store: TokenStore | None = None,
        on_reauthorize: Callable[[str], None] | None = None,
        redact: Redact = redact_given,
        recorder: CallRecorder | None = None,
    ) -> None:
        self.account = account
        self.clock: Clock = clock or RealClock()
        self.session = session or requests.Session()
        base = account.api_base_url or REGION_HOSTS[account.region]
        self.base_url = base.rstrip("/")
        self.auth = LwaAuth(account, session=self.session, store=token_store,
                            on_reauthorize=on_reauthorize, redact=redact)
        self.limiter = RateLimiter(
            account_id=account.pk, store=bucket_store or MemoryBucketStore(), clock=self.clock
        )
        self.recorder = recorder
        self.calls = 0  # HTTP requests sent (SP-API and documents)
        self.calls_by_operation: dict[str, int] = {}
        self.throttled = 0
        self.backoff_seconds = 0.0
        self.orders: OrdersApi = orders_api_for(self)

    # ------------------------------------------------------------------ figures
    @property
    def quota_seconds(self) -> float:
        """Total time spent waiting for rate-limit tokens (simulated on a SimulatedClock)."""
        return self.limiter.waited

    # ------------------------------------------------------------------ low level
    def request(
        self,
        operation_name: str,
        *,
        path_params: dict | None = None,
        params: dict | None = None,
        json: Any = None,
    ) -> dict:
        """Call one operation; returns the parsed JSON body ({} when empty)."""
        op = OPERATIONS[operation_name]
        path = op.format_path(
            **{k: quote(str(v), safe="") for k, v in (path_params or {}).items()}
        )
        query = encode_params(params)
        body = dumps(json) if json is not None else None
        auth_state = {"refreshed": False}
        return self._retrying(lambda: self._attempt(op, path, query, body, auth_state))

    def _retrying(self, func: Callable[[], Any]) -> Any:
        """``func()``, retried while it raises a retryable ``SpApiError``: at most
        ``max_attempts`` times and ``max_retry_seconds`` on the clock, with exponential
        backoff and jitter slept on the clock."""
        return Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, SpApiError) and e.retryable),
            stop=stop_any(
                stop_after_attempt(self.max_attempts),
                _StopAfterClock(self.clock, self.clock.now(), self.max_retry_seconds),
            ),
            wait=wait_exponential_jitter(
                initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_jitter
            ),
            sleep=self._backoff_sleep,
            reraise=True,
        )(func)

    def _backoff_sleep(self, seconds: float) -> None:
        self.backoff_seconds += seconds
        self.clock.sleep(seconds)

    def _attempt(self, op: Operation, path: str, query: dict, body: bytes | None,
                 auth_state: dict) -> dict:
        while True:
            self.limiter.acquire(op.name)
            response = self._send(op, path, query, body)
            if response.status_code in (401, 403) and not auth_state["refreshed"]:
                # An expired or revoked access token: refresh once and try again.
                auth_state["refreshed"] = True
                self.auth.token(force=True)
                continue
            return self._handle(op, response)

    def _send(self, op: Operation, path: str, query: dict, body: bytes | None):
        headers = {
            "x-amz-access-token": self.auth.token(),
            "user-agent": USER_AGENT,
            "accept": "application/json",
        }
        if body is not None:
            headers["content-type"] = "application/json"
        if self.clock.simulated:
            headers["x-sandbox-clock"] = f"{self.clock.now():.6f}"
            headers["x-sandbox-clock-id"] = getattr(self.clock, "domain", "simulated")
        started = time.monotonic()
        try:
            response = self.session.request(
                op.method, self.base_url + path, params=query, data=body, headers=headers,
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._record(op.name, op.method, path, None, started, error=type(exc).__name__)
            raise ServerError(
                f"{type(exc).__name__} calling {op.name}", operation=op.name
            ) from None
        self._record(
            op.name, op.method, path, response.status_code, started,
            request_id=response.headers.get("x-amzn-RequestId", ""),
            throttled=response.status_code == 429,
            error="" if response.status_code < 400 else describe_errors(
                errors_of(self._json(response)), response.status_code
            ),
        )
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return {}
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            return None

    def _handle(self, op: Operation, response: requests.Response) -> dict:
        status = response.status_code
        request_id = response.headers.get("x-amzn-RequestId")
        limit = response.headers.get("x-amzn-RateLimit-Limit")
        if limit and (200 <= status < 300 or status in (400, 404)):
            try:
                self.limiter.refine(op.name, float(limit))
            except ValueError:
                pass
        body = self._json(response)
        if 200 <= status < 300:
            if body is None:
                raise ServerError(f"{op.name} answered with a body that is not JSON",
                                  status=status, request_id=request_id, operation=op.name)
            return body if isinstance(body, dict) else {"payload": body}
        errors = errors_of(body)
        message = describe_errors(errors, status)
        kw = {"status": status, "request_id": request_id, "errors": errors,
              "operation": op.name}
        if status == 429:
            self.throttled += 1
            self.limiter.throttled(op.name)
            raise Throttled(message, **kw)
        if status >= 500:
            raise ServerError(message, **kw)
        if status in (401, 403):
            raise AuthError(message, **kw)
        if status == 404:
            raise NotFound(message, **kw)
        raise InvalidInput(message, **kw)

    def _record(self, operation: str, method: str, path: str, status: int | None,
                started: float, *, request_id: str = "", throttled: bool = False,
                error: str = "") -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        self.calls += 1
        self.calls_by_operation[operation] = self.calls_by_operation.get(operation, 0) + 1
        log.debug("spapi %s %s -> %s (%d ms, request id %s)", operation, method, status,
                  duration_ms, request_id or "-")
        if self.recorder is not None:
            self.recorder(ApiCallRecord(
                operation=operation, method=method, path=path, status=status,
                duration_ms=duration_ms, throttled=throttled, request_id=request_id or "",
                error=error,
            ))

    def paginate(
        self,
        operation_name: str,
        *,
        params: dict | None = None,
        path_params: dict | None = None,
        extract: Callable[[dict], tuple[list, str | None]],
        next_params: Callable[[dict, str], dict],
    ) -> Iterator[Any]:
        """Yield the items of every page; ``extract`` gives (items, next token) of a page,
        ``next_params`` the query of the follow-up request."""
        query = dict(params or {})
        while True:
            body = self.request(operation_name, path_params=path_params, params=query)
            items, token = extract(body)
            yield from items
            if not token:
                return
            query = next_params(dict(params or {}), token)

    # ------------------------------------------------------------------ orders v0
    def get_orders(self, **filters) -> Iterator[dict]:
        """All orders matching Amazon's getOrders filters (MarketplaceIds required,
        CreatedAfter or LastUpdatedAfter...), over every page; NextToken follow-ups repeat
        the filters. Yields v0 ``Order`` objects as Amazon returns them."""
        return self.paginate(
            "getOrders",
            params=filters,
            extract=lambda b: (b.get("payload", {}).get("Orders", []),
                               b.get("payload", {}).get("NextToken")),
            next_params=lambda p, t: {**p, "NextToken": t},
        )

    def get_order(self, order_id: str) -> dict:
        return self.request("getOrder", path_params={"orderId": order_id}).get("payload", {})

    def get_order_items(self, order_id: str) -> list[dict]:
        return list(self.paginate(
            "getOrderItems",
            path_params={"orderId": order_id},
            extract=lambda b: (b.get("payload", {}).get("OrderItems", []),
                               b.get("payload", {}).get("NextToken")),
            next_params=lambda p, t: {"NextToken": t},
        ))

    def confirm_shipment(self, order_id: str, payload: dict) -> None:
        """confirmShipment: ``payload`` is Amazon's ConfirmShipmentRequest (marketplaceId,
        packageDetail...). Unknown carrier codes come back as ``InvalidInput``."""
        self.request("confirmShipment", path_params={"orderId": order_id}, json=payload)

    # ------------------------------------------------------------------ listings
    def get_listings_item(self, sku: str, *, marketplace_ids: list[str],
                          included_data: list[str] | None = None,
                          issue_locale: str | None = None) -> dict:
        return self.request(
            "getListingsItem",
            path_params={"sellerId": self.account.selling_partner_id, "sku": sku},
            params={"marketplaceIds": marketplace_ids, "includedData": included_data,
                    "issueLocale": issue_locale},
        )

    def patch_listings_item(self, sku: str, *, marketplace_ids: list[str], product_type: str,
                            patches: list[dict], mode: str | None = None,
                            included_data: list[str] | None = None) -> dict:
        """patchListingsItem: ``patches`` as Amazon's PatchOperation list (op, path, value)."""
        return self.request(
            "patchListingsItem",
            path_params={"sellerId": self.account.selling_partner_id, "sku": sku},
            params={"marketplaceIds": marketplace_ids, "mode": mode,
                    "includedData": included_data},
            json={"productType": product_type, "patches": patches},
        )

    # ------------------------------------------------------------------ FBA inventory
    def get_inventory_summaries(self, *, marketplace_id: str, details: bool = True,
                                seller_skus: list[str] | None = None,
                                start_date_time=None) -> Iterator[dict]:
        params = {
            "granularityType": "Marketplace", "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id], "details": details,
            "sellerSkus": seller_skus, "startDateTime": start_date_time,
        }
        return self.paginate(
            "getInventorySummaries",
            params=params,
            extract=lambda b: (
                (b.get("payload") or {}).get("inventorySummaries", []),
                (b.get("pagination") or {}).get("nextToken"),
            ),
            next_params=lambda p, t: {**p, "nextToken": t},
        )

    # ------------------------------------------------------------------ FBA inbound v0
    def get_inbound_shipments(self, *, marketplace_id: str,
                              statuses: list[str] | None = None,
                              shipment_ids: list[str] | None = None,
                              last_updated_after=None, last_updated_before=None
                              ) -> Iterator[dict]:
        if shipment_ids:
            params: dict[str, Any] = {"QueryType": "SHIPMENT", "ShipmentIdList": shipment_ids}
        elif last_updated_after is not None or last_updated_before is not None:
            params = {"QueryType": "DATE_RANGE", "LastUpdatedAfter": last_updated_after,
                      "LastUpdatedBefore": last_updated_before}
        else:
            params = {"QueryType": "SHIPMENT"}
        params["MarketplaceId"] = marketplace_id
        params["ShipmentStatusList"] = statuses
        return self.paginate(
            "getShipments",
            params=params,
            extract=lambda b: ((b.get("payload") or {}).get("ShipmentData", []),
                               (b.get("payload") or {}).get("NextToken")),
            next_params=lambda p, t: {"QueryType": "NEXT_TOKEN", "NextToken": t,
                                      "MarketplaceId": marketplace_id},
        )

    def get_shipment_items(self, shipment_id: str, *, marketplace_id: str | None = None
                           ) -> list[dict]:
        body = self.request("getShipmentItemsByShipmentId",
                            path_params={"shipmentId": shipment_id},
                            params={"MarketplaceId": marketplace_id})
        return (body.get("payload") or {}).get("ItemData", [])

    # ------------------------------------------------------------------ finances v0
    def list_financial_events(self, *, posted_after=None, posted_before=None,
                              max_results_per_page: int = 100) -> Iterator[dict]:
        """One ``FinancialEvents`` object (lists keyed by event type) per page."""
        params = {"PostedAfter": posted_after, "PostedBefore": posted_before,
                  "MaxResultsPerPage": max_results_per_page}
        return self.paginate(
            "listFinancialEvents",
            params=params,
            extract=lambda b: ([(b.get("payload") or {}).get("FinancialEvents") or {}],
                               (b.get("payload") or {}).get("NextToken")),
            next_params=lambda p, t: {"NextToken": t},
        )

    # ------------------------------------------------------------------ sellers
    def get_marketplace_participations(self) -> list[dict]:
        return self.request("getMarketplaceParticipations").get("payload", [])


__all__ = ["ApiCallRecord", "CallRecorder", "SpApiClient"]

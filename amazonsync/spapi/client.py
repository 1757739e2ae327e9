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

import datetime
import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any
from tenacity.wait import wait_exponential_jitter

from . import documents
from .auth import LwaAuth, Redact, TokenStore, redact_given
from .clock import Clock, RealClock
from .errors import (
    AuthError,
    DocumentError,
    InvalidInput,
    NotFound,
    ReportFailed,
    ServerError,
    SpApiError,
    Throttled,
)
from .operations import OPERATIONS, REGION_HOSTS, Operation
from .orders import OrdersApi, orders_api_for
from .ratelimit import BucketStore, MemoryBucketStore, RateLimiter

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
USER_AGENT = "amazonsync/0.1 (Language=Python)"


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_param_value(v) for v in value)
    return str(value)


def encode_params(params: dict | None) -> dict[str, str]:
    """Query parameters as Amazon takes them: lists comma-separated, times ISO 8601 UTC."""
    return {k: _param_value(v) for k, v in (params or {}).items() if v is not None}


def _json_default(value: Any):
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        number = float(value)
        # JSON has no decimal type: send the binary number only when its shortest text is
        # exactly the amount (true for money with a few decimal places), never a rounding.
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} cannot be sent as an exact JSON number")
        return number
    if isinstance(value, datetime.datetime | datetime.date):
        return _param_value(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(body: Any) -> bytes:
    return jsonlib.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _errors_of(body: Any) -> list[dict]:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [e for e in body["errors"] if isinstance(e, dict)]
    return []


def _describe(errors: list[dict], status: int) -> str:
    if errors:
        first = errors[0]
        return f"{first.get('code', status)}: {first.get('message', '')}".strip()
    return f"HTTP {status}"


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


@dataclass
class FeedResult:
    """The outcome of a feed: processing status and the processing report's issues."""

    feed_id: str
    feed_type: str
    processing_status: str  # DONE | FATAL | CANCELLED
    result_document_id: str | None = None
    summary: dict = field(default_factory=dict)
    issues: list[dict] = field(default_factory=list)
    report: Any = None  # the parsed processing report (JSON) or its text

    @property
    def issues_by_message(self) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for issue in self.issues:
            key = issue.get("messageId")
            try:
                key = int(key)
            except (TypeError, ValueError):
                key = -1  # feed-level issue (no message)
            out.setdefault(key, []).append(issue)
        return out

    def errors_for(self, message_id: int) -> list[dict]:
        return [i for i in self.issues_by_message.get(message_id, [])
                if str(i.get("severity", "ERROR")).upper() == "ERROR"]

    @property
    def ok(self) -> bool:
        return self.processing_status == "DONE"


class SpApiClient:
    """SP-API for one seller account. See the module docstring."""

    max_attempts = 8
    max_retry_seconds = 900.0  # total time (on the clock) one call may spend retrying
    backoff_initial = 1.0
    backoff_max = 60.0
    backoff_jitter = 1.0
    timeout = (10, 60)
    poll_initial = 2.0  # report/feed polling: first wait, doubled up to poll_max
    poll_max = 60.0
    poll_timeout = 4 * 3600.0
    document_attempts = 2  # report_fetch/feed_submit download a truncated document again
    report_attempts = 3  # report_fetch requests a FATAL/CANCELLED report again

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
        body = _dumps(json) if json is not None else None
        auth_state = {"refreshed": False}
        retrying = Retrying(
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
        )
        return retrying(self._attempt, op, path, query, body, auth_state)

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
            error="" if response.status_code < 400 else _describe(
                _errors_of(self._json(response)), response.status_code
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
        errors = _errors_of(body)
        message = _describe(errors, status)
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

    # ------------------------------------------------------------------ reports
    def create_report(self, report_type: str, *, marketplace_ids: list[str],
                      data_start_time=None, data_end_time=None,
                      report_options: dict | None = None) -> str:
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if data_start_time is not None:
            body["dataStartTime"] = _param_value(data_start_time)
        if data_end_time is not None:
            body["dataEndTime"] = _param_value(data_end_time)
        if report_options:
            body["reportOptions"] = report_options
        return self.request("createReport", json=body)["reportId"]

    def get_report(self, report_id: str) -> dict:
        return self.request("getReport", path_params={"reportId": report_id})

    def get_reports(self, **filters) -> Iterator[dict]:
        """getReports over every page (reportTypes, processingStatuses, marketplaceIds,
        createdSince, createdUntil, pageSize). Follow-ups send only nextToken, as Amazon
        requires."""
        return self.paginate(
            "getReports",
            params=filters,
            extract=lambda b: (b.get("reports", []), b.get("nextToken")),
            next_params=lambda p, t: {"nextToken": t},
        )

    def get_report_document(self, document_id: str) -> dict:
        return self.request("getReportDocument", path_params={"reportDocumentId": document_id})

    def download_document(self, document: dict, dest: Path | None = None) -> Path:
        """Stream a report or feed document (``{url, compressionAlgorithm?}``) to ``dest``
        (a temporary file by default), gunzipping GZIP documents on the way."""
        gzip = str(document.get("compressionAlgorithm") or "").upper() == "GZIP"
        url = document["url"]

        def attempt() -> Path:
            target = Path(dest) if dest is not None else documents.temp_path(".txt")
            path = urlsplit(url).path
            started = time.monotonic()
            try:
                response = self.session.get(url, stream=True, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._record("downloadDocument", "GET", path, None, started,
                             error=type(exc).__name__)
                raise ServerError(f"{type(exc).__name__} downloading a document",
                                  operation="downloadDocument") from None
            with response:
                request_id = (response.headers.get("x-amzn-RequestId")
                              or response.headers.get("x-amz-request-id") or "")
                status = response.status_code
                if status != 200:
                    self._record("downloadDocument", "GET", path, status, started,
                                 request_id=request_id, error=f"HTTP {status}")
                    cls = ServerError if status in RETRY_STATUSES else DocumentError
                    raise cls(f"document download failed: HTTP {status}", status=status,
                              request_id=request_id, operation="downloadDocument")
                try:
                    documents.stream_to_file(response, target, gzip=gzip)
                finally:
                    self._record("downloadDocument", "GET", path, status, started,
                                 request_id=request_id)
            return target

        return self._retrying(attempt)

    def _retrying(self, func: Callable[[], Any]) -> Any:
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

    def _poll(self, fetch: Callable[[], dict], status_key: str, what: str) -> dict:
        """Poll until a terminal processing status, waiting poll_initial..poll_max (on the
        clock) between polls; each poll also waits for its operation's token."""
        started = self.clock.now()
        delay = self.poll_initial
        while True:
            body = fetch()
            if body.get(status_key) in ("DONE", "FATAL", "CANCELLED"):
                return body
            if self.clock.now() - started > self.poll_timeout:
                raise ReportFailed(f"{what} still {body.get(status_key)} after "
                                   f"{self.poll_timeout:.0f} s", operation=what)
            self.clock.sleep(delay)
            delay = min(self.poll_max, delay * 2)

    def report_fetch(self, report_type: str, *, marketplace_ids: list[str],
                     data_start_time=None, data_end_time=None,
                     report_options: dict | None = None, dest: Path | None = None) -> Path:
        """Create a report, wait for it, download its document (gunzipped) to a file.

        A report that ends FATAL or CANCELLED is requested again, up to
        ``report_attempts`` times in all (Amazon's processing fails transiently too);
        the last failure raises ``ReportFailed`` with Amazon's error document."""
        failures: list[str] = []
        for _ in range(self.report_attempts):
            report_id = self.create_report(
                report_type, marketplace_ids=marketplace_ids, data_start_time=data_start_time,
                data_end_time=data_end_time, report_options=report_options,
            )
            report = self._poll(lambda rid=report_id: self.get_report(rid),
                                "processingStatus", "getReport")
            status = report.get("processingStatus")
            if status == "DONE":
                document = self.get_report_document(report["reportDocumentId"])
                return self._download_whole(document, dest)
            detail = ""
            if report.get("reportDocumentId"):
                detail = self._failure_detail(report["reportDocumentId"])
            failures.append(f"report {report_id} ended {status}{detail}")
            log.warning("%s report %s ended %s; requesting it again", report_type,
                        report_id, status)
        raise ReportFailed(
            f"{report_type} failed {len(failures)} times: " + "; ".join(failures),
            operation="getReport",
        )

    def _download_whole(self, document: dict, dest: Path | None) -> Path:
        """download_document, once more if the first transfer was cut short."""
        for attempt in range(self.document_attempts):
            try:
                return self.download_document(document, dest)
            except documents.TruncatedDocument:
                if attempt + 1 >= self.document_attempts:
                    raise
                log.warning("document download was truncated; downloading it again")
        raise AssertionError("unreachable")

    def _failure_detail(self, document_id: str) -> str:
        """The start of a FATAL report's error document, for the error message."""
        try:
            path = self.download_document(self.get_report_document(document_id))
        except SpApiError:
            return ""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return ": " + fh.read(500).strip()
        finally:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ feeds
    def create_feed_document(self, content_type: str) -> dict:
        return self.request("createFeedDocument", json={"contentType": content_type})

    def upload_feed_document(self, document: dict, content: bytes, content_type: str) -> None:
        """PUT the feed content to the presigned URL of ``createFeedDocument``."""
        url = document["url"]

        def attempt() -> None:
            path = urlsplit(url).path
            started = time.monotonic()
            try:
                response = self.session.put(url, data=content,
                                            headers={"Content-Type": content_type},
                                            timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._record("uploadDocument", "PUT", path, None, started,
                             error=type(exc).__name__)
                raise ServerError(f"{type(exc).__name__} uploading a feed document",
                                  operation="uploadDocument") from None
            status = response.status_code
            request_id = (response.headers.get("x-amzn-RequestId")
                          or response.headers.get("x-amz-request-id") or "")
            self._record("uploadDocument", "PUT", path, status, started,
                         request_id=request_id,
                         error="" if status < 300 else f"HTTP {status}")
            if status >= 300:
                cls = ServerError if status in RETRY_STATUSES else DocumentError
                raise cls(f"feed document upload failed: HTTP {status}", status=status,
                          request_id=request_id, operation="uploadDocument")

        self._retrying(attempt)

    upload = upload_feed_document

    def create_feed(self, feed_type: str, *, marketplace_ids: list[str],
                    input_feed_document_id: str, feed_options: dict | None = None) -> str:
        body: dict[str, Any] = {
            "feedType": feed_type,
            "marketplaceIds": list(marketplace_ids),
            "inputFeedDocumentId": input_feed_document_id,
        }
        if feed_options:
            body["feedOptions"] = feed_options
        return self.request("createFeed", json=body)["feedId"]

    def get_feed(self, feed_id: str) -> dict:
        return self.request("getFeed", path_params={"feedId": feed_id})

    def get_feed_document(self, document_id: str) -> dict:
        return self.request("getFeedDocument", path_params={"feedDocumentId": document_id})

    def feed_submit(self, feed_type: str, document: bytes | dict, *,
                    marketplace_ids: list[str],
                    content_type: str = "application/json; charset=UTF-8") -> FeedResult:
        """Upload a feed, create it, wait for it and parse its processing report.

        A ``dict`` document is sent as JSON. The result's ``issues_by_message`` maps each
        ``messageId`` to its issues; ``processing_status`` may be FATAL or CANCELLED (the
        caller decides what that means for its messages).
        """
        content = _dumps(document) if isinstance(document, dict) else bytes(document)
        doc = self.create_feed_document(content_type)
        self.upload_feed_document(doc, content, content_type)
        feed_id = self.create_feed(feed_type, marketplace_ids=marketplace_ids,
                                   input_feed_document_id=doc["feedDocumentId"])
        feed = self._poll(lambda: self.get_feed(feed_id), "processingStatus", "getFeed")
        result = FeedResult(feed_id=feed_id, feed_type=feed_type,
                            processing_status=feed["processingStatus"],
                            result_document_id=feed.get("resultFeedDocumentId"))
        if result.result_document_id:
            path = self._download_whole(
                self.get_feed_document(result.result_document_id), None
            )
            try:
                raw = path.read_bytes()
            finally:
                path.unlink(missing_ok=True)
            try:
                report = jsonlib.loads(raw, parse_float=Decimal)
            except ValueError:
                report = raw.decode("utf-8", errors="replace")
            result.report = report
            if isinstance(report, dict):
                result.summary = report.get("summary") or {}
                result.issues = [i for i in report.get("issues") or [] if isinstance(i, dict)]
        return result

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


__all__ = ["ApiCallRecord", "DocumentError", "FeedResult", "SpApiClient", "encode_params"]

"""Report and feed round trips of the SP-API client: request a report, wait for it and
download its document; upload a feed document, create the feed, wait for it and read its
processing report (:class:`FeedResult`).

:class:`ReportsAndFeeds` is mixed into ``client.SpApiClient``, whose ``request``,
``_retrying`` (the retry policy on the client's clock) and ``_record`` (the call recorder)
it uses; documents stream to files through :mod:`.documents`.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from . import documents
from .errors import DocumentError, ReportFailed, ServerError, SpApiError
from .wire import RETRY_STATUSES, dumps, param_value

__all__ = ["FeedResult", "ReportsAndFeeds"]

log = logging.getLogger(__name__)


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


def _request_id(response: requests.Response) -> str:
    return (response.headers.get("x-amzn-RequestId")
            or response.headers.get("x-amz-request-id") or "")


def _transfer_failed(what: str, status: int, request_id: str, operation: str) -> SpApiError:
    """A document transfer answered ``status``: retryable (a ``ServerError``) for 429 and
    5xx, else a ``DocumentError``."""
    cls = ServerError if status in RETRY_STATUSES else DocumentError
    return cls(f"{what} failed: HTTP {status}", status=status, request_id=request_id,
               operation=operation)


class ReportsAndFeeds:
    """The report and feed methods of ``SpApiClient`` (see the module docstring)."""

    poll_initial = 2.0  # report/feed polling: first wait, doubled up to poll_max
    poll_max = 60.0
    poll_timeout = 4 * 3600.0
    document_attempts = 2  # report_fetch/feed_submit download a truncated document again
    report_attempts = 3  # report_fetch requests a FATAL/CANCELLED report again

    # Given by SpApiClient.
    session: requests.Session
    timeout: Any
    clock: Any
    request: Callable[..., dict]
    paginate: Callable[..., Iterator[Any]]
    _retrying: Callable[[Callable[[], Any]], Any]
    _record: Callable[..., None]

    # ------------------------------------------------------------------ reports
    def create_report(self, report_type: str, *, marketplace_ids: list[str],
                      data_start_time=None, data_end_time=None,
                      report_options: dict | None = None) -> str:
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if data_start_time is not None:
            body["dataStartTime"] = param_value(data_start_time)
        if data_end_time is not None:
            body["dataEndTime"] = param_value(data_end_time)
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
                request_id = _request_id(response)
                status = response.status_code
                if status != 200:
                    self._record("downloadDocument", "GET", path, status, started,
                                 request_id=request_id, error=f"HTTP {status}")
                    raise _transfer_failed("document download", status, request_id,
                                           "downloadDocument")
                try:
                    documents.stream_to_file(response, target, gzip=gzip)
                finally:
                    self._record("downloadDocument", "GET", path, status, started,
                                 request_id=request_id)
            return target

        return self._retrying(attempt)

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
            request_id = _request_id(response)
            self._record("uploadDocument", "PUT", path, status, started,
                         request_id=request_id,
                         error="" if status < 300 else f"HTTP {status}")
            if status >= 300:
                raise _transfer_failed("feed document upload", status, request_id,
                                       "uploadDocument")

        self._retrying(attempt)

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
        content = dumps(document) if isinstance(document, dict) else bytes(document)
        doc = self.create_feed_document(content_type)
        self.upload_feed_document(doc, content, content_type)
        feed_id = self.create_feed(feed_type, marketplace_ids=marketplace_ids,
                                   input_feed_document_id=doc["feedDocumentId"])
        feed = self._poll(lambda: self.get_feed(feed_id), "processingStatus", "getFeed")
        result = FeedResult(feed_id=feed_id, feed_type=feed_type,
                            processing_status=feed["processingStatus"],
                            result_document_id=feed.get("resultFeedDocumentId"))
        if result.result_document_id:
            self._read_processing_report(result)
        return result

    def _read_processing_report(self, result: FeedResult) -> None:
        """Download the feed's processing report into ``result`` (JSON, else its text)."""
        path = self._download_whole(self.get_feed_document(result.result_document_id), None)
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

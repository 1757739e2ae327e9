"""Feeds 2021-06-30: JSON_LISTINGS_FEED documents applied to the listings.

A feed is processed (validated against Amazon's JSON schema, then message by message) when
the client polls it enough, or when simulated time passes; the result is a JSON document.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

from ..listings import Issue, SchemaUnavailable, load_feed_schema, patches_to_attributes
from ..money import iso_offset
from ..shapes import MARKETPLACE_BY_ID, Marketplace
from ..support import dumps, loads
from .core import Request, Response, bad_request, json_response, not_found
from .documents import Document, DocumentsApi
from .listings import ListingsApi

LISTINGS_FEED_TYPE = "JSON_LISTINGS_FEED"


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


class FeedsApi(DocumentsApi, ListingsApi):
    feeds: dict[str, FeedJob]  # feed id -> feed

    def op_createFeedDocument(self, request: Request, seller: str) -> Response:
        ctype = self._body_text(self._json_body(request), "contentType")
        doc_id = self._doc_id("feed-input")
        self.documents[doc_id] = Document(doc_id, upload=True, content_type=ctype)
        signature = hashlib.sha256(f"{self.config.seed}/sig/{doc_id}".encode()).hexdigest()
        url = (f"{self._doc_url(doc_id)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300"
               f"&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature={signature}")
        return json_response(201, {"feedDocumentId": doc_id, "url": url})

    def op_createFeed(self, request: Request, seller: str) -> Response:
        body = self._json_body(request)
        feed_type = self._body_text(body, "feedType")
        mps = self._body_marketplaces(body)
        doc_id = self._body_text(body, "inputFeedDocumentId")
        doc = self.documents.get(doc_id)
        if doc is None or not doc.upload:
            raise bad_request(f"Invalid inputFeedDocumentId: {doc_id}")
        if feed_type != LISTINGS_FEED_TYPE:
            raise bad_request(f"Invalid feedType: {feed_type}",
                              f"The sandbox processes {LISTINGS_FEED_TYPE} feeds.")
        feed_id = str(50_000_000 + self._next_id())
        self.feeds[feed_id] = FeedJob(feed_id, feed_type, [m.id for m in mps], doc_id,
                                      self.now, seller, clock=self._client_clock(request))
        return json_response(202, {"feedId": feed_id})

    def _feed_status(self, job: FeedJob, request: Request | None = None) -> str:
        if job.status in ("DONE", "FATAL", "CANCELLED"):
            return job.status
        elapsed = self.now - job.created
        if job.polls >= 2 or elapsed >= 60 or (job.polls >= 1 and self._waited(job.clock, request)):
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
            raise not_found(f"Feed {feedId} not found.")
        body = self._feed_json(job, request)
        job.polls += 1
        return json_response(200, body)

    def op_getFeedDocument(self, request: Request, seller: str,
                           feedDocumentId: str) -> Response:
        doc = self.documents.get(feedDocumentId)
        if doc is None:
            raise not_found(f"Feed document {feedDocumentId} not found.")
        out = {"feedDocumentId": doc.id, "url": self._doc_url(doc.id)}
        if doc.compressed:
            out["compressionAlgorithm"] = "GZIP"
        return json_response(200, out)

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

"""Documents: report files, feed inputs and feed results behind presigned URLs.

``/_documents/<id>`` plays the S3 bucket Amazon's URLs point to: GET or HEAD downloads a
report or feed result, PUT uploads a feed input created by ``createFeedDocument``. Errors
are S3's XML, not SP-API JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from dataclasses import dataclass

from .core import Request, Response, SandboxBase


@dataclass
class Document:
    id: str
    content: bytes = b""
    compressed: bool = False
    upload: bool = False  # a feed input the client PUTs
    uploaded: bool = False
    content_type: str = ""
    downloads: int = 0


class DocumentsApi(SandboxBase):
    documents: dict[str, Document]  # document id -> document

    def _doc_id(self, kind: str) -> str:
        digest = hashlib.sha256(f"{self.config.seed}/{kind}/{self._next_id()}".encode())
        return f"amzn1.spdoc.1.4.na.{uuid.UUID(bytes=digest.digest()[:16])}"

    def _doc_url(self, doc_id: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/_documents/{doc_id}"

    def _store_document(self, doc_id: str, content: bytes) -> str:
        compressed = len(content) > self.config.gzip_threshold
        if compressed:
            content = gzip.compress(content, mtime=0)
        self.documents[doc_id] = Document(doc_id, content, compressed)
        return doc_id

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

"""Report and feed documents: streamed download (gunzip on the fly) and upload.

A document is never held whole in memory: the body is read in chunks, decompressed
incrementally and written to a file. A gzip stream that ends early (truncated download) is a
``DocumentError``, never a silently short file.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from pathlib import Path

import requests

from .errors import DocumentError, ServerError

CHUNK = 64 * 1024


class TruncatedDocument(DocumentError):
    """The gzip stream ended early: the transfer was cut, downloading again may succeed."""


def _request_id(response: requests.Response) -> str | None:
    return response.headers.get("x-amzn-RequestId") or response.headers.get("x-amz-request-id")


def _inflater():
    return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)


def stream_to_file(response: requests.Response, dest: Path, *, gzip: bool) -> int:
    """Write the body of a streamed response to ``dest``; returns bytes written."""
    request_id = _request_id(response)
    written = 0
    inflater = _inflater() if gzip else None
    try:
        with open(dest, "wb") as out:
            try:
                for chunk in response.iter_content(CHUNK):
                    if inflater is None:
                        out.write(chunk)
                        written += len(chunk)
                        continue
                    data = chunk
                    while data:
                        if inflater.eof:  # concatenated gzip members
                            inflater = _inflater()
                        plain = inflater.decompress(data, CHUNK)
                        out.write(plain)
                        written += len(plain)
                        data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                if inflater is not None:
                    if not inflater.eof:
                        rest = inflater.flush()
                        out.write(rest)
                        written += len(rest)
                    if not inflater.eof:
                        raise TruncatedDocument(
                            "document is a truncated gzip stream", request_id=request_id
                        )
            except zlib.error as exc:
                raise DocumentError(
                    f"document is not valid gzip: {exc}", request_id=request_id
                ) from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise ServerError(
                    f"document download interrupted: {type(exc).__name__}",
                    request_id=request_id,
                ) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return written


def temp_path(suffix: str = "") -> Path:
    fd, name = tempfile.mkstemp(prefix="spapi-doc-", suffix=suffix)
    os.close(fd)
    return Path(name)

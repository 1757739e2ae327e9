"""Typed SP-API errors. Each carries Amazon's request id and its ``errors[]`` list."""

from __future__ import annotations


class SpApiError(Exception):
    """Base class: an SP-API (or Login with Amazon) call failed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        errors: list[dict] | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.errors = errors or []
        self.operation = operation

    def __str__(self) -> str:
        parts = [self.message]
        if self.operation:
            parts.append(f"operation={self.operation}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class Throttled(SpApiError):
    """HTTP 429: the usage plan was exceeded."""

    retryable = True


class ServerError(SpApiError):
    """HTTP 5xx, a dropped connection or a timeout."""

    retryable = True


class AuthError(SpApiError):
    """401/403, or a failed refresh-token grant.

    ``reauthorization_required`` is true when Amazon answered ``invalid_grant`` or
    ``invalid_client``: the seller must authorise the application again.
    """

    def __init__(self, message: str, *, reauthorization_required: bool = False, **kw) -> None:
        super().__init__(message, **kw)
        self.reauthorization_required = reauthorization_required


class NotFound(SpApiError):
    """HTTP 404."""


class InvalidInput(SpApiError):
    """HTTP 400/422 and other 4xx: Amazon rejected the request; never retried."""


class DocumentError(SpApiError):
    """A report or feed document could not be downloaded or decoded (truncated gzip...)."""


class ReportFailed(SpApiError):
    """A report ended in FATAL or CANCELLED."""

"""What the SP-API client puts on the wire and reads back from it, apart from the call
itself: query parameters and JSON bodies as Amazon takes them (lists comma-separated, times
ISO 8601 UTC, decimals as exact numbers) and Amazon's error list of an answer."""

from __future__ import annotations

import datetime
import json as jsonlib
from decimal import Decimal
from typing import Any

__all__ = ["RETRY_STATUSES", "param_value", "encode_params", "dumps", "errors_of",
           "describe_errors"]

# The statuses a request (or a document transfer) is retried on.
RETRY_STATUSES = {429, 500, 502, 503, 504}


def param_value(value: Any) -> str:
    """One query parameter (or JSON time) as Amazon takes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(param_value(v) for v in value)
    return str(value)


def encode_params(params: dict | None) -> dict[str, str]:
    """Query parameters as Amazon takes them: lists comma-separated, times ISO 8601 UTC."""
    return {k: param_value(v) for k, v in (params or {}).items() if v is not None}


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
        return param_value(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    """A JSON request body: decimals as exact numbers, times ISO 8601 UTC, compact."""
    return jsonlib.dumps(body, default=_json_default, separators=(",", ":")).encode()


def errors_of(body: Any) -> list[dict]:
    """Amazon's ``errors`` list of an answer (empty when there is none)."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [e for e in body["errors"] if isinstance(e, dict)]
    return []


def describe_errors(errors: list[dict], status: int) -> str:
    """The first error as ``code: message`` (``HTTP <status>`` without one)."""
    if errors:
        first = errors[0]
        return f"{first.get('code', status)}: {first.get('message', '')}".strip()
    return f"HTTP {status}"

"""Typed order data every source gives the upsert: ``OrderData`` and ``LineData``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from amazonsync.flatfiles.syntax import parse_amazon_datetime

STATUSES = (
    "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable",
    "InvoiceUnconfirmed", "PendingAvailability",
)


class OrderDataError(ValueError):
    """An order that cannot be read (missing id, unknown status...)."""


@dataclass
class LineData:
    seller_sku: str
    order_item_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)


@dataclass
class OrderData:
    amazon_order_id: str
    marketplace_id: str
    source: str  # "api" | "report"
    values: dict[str, Any]  # Order columns this source carries (purchase/update dates...)
    lines: list[LineData] | None = None  # None: this source did not give the lines
    buyer_token: str | None = None  # None: unknown (pending orders, the report)
    buyer_name: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def last_update_date(self) -> datetime.datetime:
        return self.values["last_update_date"]

    @property
    def status(self) -> str:
        return self.values["status"]


def to_datetime(value: Any) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    return parse_amazon_datetime(str(value))


def to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


def required(order_id: str, name: str, value: Any) -> Any:
    if value in (None, ""):
        raise OrderDataError(f"order {order_id or '?'}: {name} is missing")
    return value

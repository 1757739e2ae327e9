"""What one upsert batch is doing: the plan per order and the counts it ends with."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from ..models import Order
from ..parsers import OrderData


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    exceptions: int = 0
    latest_update: datetime.datetime | None = None
    created_ids: list[str] = field(default_factory=list, repr=False)
    changed_ids: list[str] = field(default_factory=list, repr=False)

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.exceptions += other.exceptions
        if other.latest_update and (self.latest_update is None
                                    or other.latest_update > self.latest_update):
            self.latest_update = other.latest_update
        self.created_ids += other.created_ids
        self.changed_ids += other.changed_ids

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "exceptions": self.exceptions}


@dataclass
class OrderPlan:
    """One order of the batch: the object to store, the data it came from, what changed."""

    order: Order
    data: OrderData
    new: bool
    changed: set[str]
    old_status: str | None
    old_customer: int | None = None
    lines_changed: bool = False

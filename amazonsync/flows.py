"""The flow registry and the context a flow runs in.

Each app declares its flows in a ``flows.py`` module (discovered at start-up)::

    @register_flow("orders", switch="orders")
    def orders(ctx: FlowContext) -> None:
        ...

``switch`` names the per-marketplace flag on ``AccountMarketplace`` that turns the flow on;
``per_marketplace=False`` flows run once per account.

The registry itself is ``amazonsync.registry`` (re-exported here); this module adds the
context, which stands on the engine's services (cursors, the exception queue) and on the
SP-API client the engine wires (``amazonsync.clients``). The runner
(``amazonsync.services.flow_run``) builds the context a flow was registered with.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .clients import spapi_client
from .models import SyncCursor, SyncException, SyncRun, Team
from .registry import Flow, UnknownFlow, all_flows, flow_add, get_flow, unregister_flow
from .services import cursor_advance, exception_record, exception_resolve, in_transaction
from .spapi.clock import utcnow

__all__ = [
    "Flow", "FlowContext", "UnknownFlow", "all_flows", "client_options", "get_flow",
    "in_transaction", "register_flow", "unregister_flow",
]


# Keyword arguments for the SP-API clients that flows build (clock, bucket_store...).
_CLIENT_OPTIONS: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "spapi_client_options", default=None
)


@contextlib.contextmanager
def client_options(**options) -> Iterator[None]:
    """Run flows with SP-API clients built with these options, e.g. a simulated clock and
    a private bucket store for the demo loader, tests and benchmarks."""
    token = _CLIENT_OPTIONS.set(options)
    try:
        yield
    finally:
        _CLIENT_OPTIONS.reset(token)


def register_flow(
    name: str,
    *,
    switch: str | None = None,
    per_marketplace: bool = True,
    owner_team: str = Team.OPS,
    description: str = "",
    every: int = 60,
    backfill: bool = False,
) -> Callable[[Callable[[FlowContext], None]], Callable[[FlowContext], None]]:
    """Declare a flow; ``every`` is its schedule's interval in minutes; ``backfill``: it
    reads again from ``FlowContext.since`` when a person gives a date."""

    def decorator(func: Callable[[FlowContext], None]) -> Callable[[FlowContext], None]:
        flow_add(Flow(
            name=name,
            func=func,
            switch=switch,
            per_marketplace=per_marketplace,
            owner_team=owner_team,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            context=FlowContext,
            every=every,
            backfill=backfill,
        ))
        return func

    return decorator


PROGRESS_EVERY = 1.0  # seconds between two progress writes of a run's counts


@dataclass
class FlowContext:
    """What a running flow gets: its run, account, marketplace, counters and helpers."""

    run: SyncRun
    account: Any  # a marketplaces.SellerAccount
    marketplace: Any | None  # a marketplaces.Marketplace
    flow: Flow
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("fetched", "created", "updated", "unchanged", "failed"), 0
        )
    )
    _client: Any = None
    _progress_at: float = 0.0

    @property
    def scope(self) -> str:
        return self.marketplace.pk if self.marketplace else ""

    @property
    def since(self) -> datetime.datetime | None:
        """The date a person asked this run to read again from (a backfill), or None."""
        return self.run.since

    def count(self, **increments: int) -> None:
        for key, value in increments.items():
            self.counts[key] += value
        self._progress()

    def _progress(self) -> None:
        """Show the counts on the run while it goes, at most every PROGRESS_EVERY seconds
        (the runner writes the final ones)."""
        moment = time.monotonic()
        if moment - self._progress_at >= PROGRESS_EVERY:
            self._progress_at = moment
            SyncRun.objects.filter(pk=self.run.pk).update(**self.counts)

    @property
    def now(self) -> datetime.datetime:
        """The time for this run: its client's clock (a simulated clock in the demo, tests and
        benchmarks), the one source for cursors, windows, SLA and latency figures."""
        return utcnow(self.client.clock)

    @property
    def client(self):
        """The SP-API client for this account, recording its calls on this run."""
        if self._client is None:
            self._client = spapi_client(
                self.account, run=self.run, **(_CLIENT_OPTIONS.get() or {})
            )
        return self._client

    # --- cursor -----------------------------------------------------------------------
    def cursor(self) -> SyncCursor:
        cursor, _ = SyncCursor.objects.get_or_create(
            flow=self.flow.name, account=self.account, scope=self.scope
        )
        return cursor

    def advance_cursor(
        self, *, position: datetime.datetime | None = None, token: str | None = None
    ) -> None:
        cursor_advance(
            flow=self.flow.name,
            account=self.account,
            scope=self.scope,
            position=position,
            token=token,
            at=self.now,
        )

    # --- exceptions -------------------------------------------------------------------
    def exception(
        self,
        *,
        object_kind: str,
        object_key: str,
        reason_code: str,
        message: str,
        payload: dict | None = None,
        owner_team: str | None = None,
    ) -> SyncException:
        self.counts["failed"] += 1
        return exception_record(
            flow=self.flow.name,
            account=self.account,
            marketplace=self.marketplace,
            object_kind=object_kind,
            object_key=object_key,
            reason_code=reason_code,
            message=message,
            payload=payload or {},
            owner_team=owner_team or self.flow.owner_team,
            run=self.run,
        )

    def resolve(self, *, object_kind: str, object_key: str, reason_code: str | None = None) -> int:
        return exception_resolve(
            flow=self.flow.name, object_kind=object_kind, object_key=object_key,
            reason_code=reason_code,
        )

"""Pushing quantities and prices to Amazon as JSON_LISTINGS_FEED deltas."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from amazonsync.flows import FlowContext
from amazonsync.models import SyncException, Team

from .. import feeds, selectors
from ..models import Listing, PushFeed
from .listings import listing_key

QUANTITY_REJECTED = "quantity_push_rejected"
PRICE_REJECTED = "price_push_rejected"
FEED_FAILED = "feed_failed"


@dataclass
class PushOutcome:
    changes: int = 0
    feeds: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    feed_ids: list[str] = field(default_factory=list)
    delta_seconds: float = 0.0
    build_seconds: float = 0.0  # messages, JSON and schema validation
    submit_seconds: float = 0.0  # upload, Amazon's processing, report download


def quantities_push(*, ctx: FlowContext, available: dict[int, int] | None = None) -> PushOutcome:
    """Send the MFN listings whose target quantity changed since the last push.

    One feed per 25,000 messages; each accepted message records the pushed quantity, each
    rejected one opens an exception on the listing (resolved when a later push is accepted).
    """
    started = time.perf_counter()
    changes = selectors.quantity_deltas(account_id=ctx.account.pk,
                                        marketplace_id=ctx.marketplace.pk, available=available)
    outcome = PushOutcome(changes=len(changes), delta_seconds=time.perf_counter() - started)
    ctx.count(fetched=len(changes))
    for batch in feeds.chunks(changes):
        messages = [feeds.quantity_message(n, c) for n, c in enumerate(batch, 1)]
        _feed_send(ctx=ctx, kind=PushFeed.Kind.QUANTITY, batch=batch, messages=messages,
                   outcome=outcome, reason_code=QUANTITY_REJECTED, what="quantity")
    return outcome


def prices_push(*, ctx: FlowContext) -> PushOutcome:
    """Send the listings whose price changed since the last price push (either channel)."""
    started = time.perf_counter()
    changes = selectors.price_deltas(account_id=ctx.account.pk,
                                     marketplace_id=ctx.marketplace.pk)
    outcome = PushOutcome(changes=len(changes), delta_seconds=time.perf_counter() - started)
    ctx.count(fetched=len(changes))
    for batch in feeds.chunks(changes):
        messages = [feeds.price_message(n, c, ctx.marketplace.pk) for n, c in enumerate(batch, 1)]
        _feed_send(ctx=ctx, kind=PushFeed.Kind.PRICE, batch=batch, messages=messages,
                   outcome=outcome, reason_code=PRICE_REJECTED, what="price")
    return outcome


def _feed_send(*, ctx: FlowContext, kind: str, batch, messages: list[dict],
               outcome: PushOutcome, reason_code: str, what: str) -> None:
    started = time.perf_counter()
    doc = feeds.document(seller_id=ctx.account.selling_partner_id, messages=messages)
    content = feeds.dumps(doc)
    feeds.validate_document(feeds.loads(content))  # exactly what is uploaded
    outcome.build_seconds += time.perf_counter() - started
    record = PushFeed.objects.create(
        account=ctx.account, marketplace=ctx.marketplace, kind=kind, run=ctx.run,
        messages=len(messages), status="SUBMITTING", submitted_at=ctx.now)
    started = time.perf_counter()
    result = ctx.client.feed_submit(feeds.FEED_TYPE, content, marketplace_ids=[ctx.marketplace.pk])
    outcome.submit_seconds += time.perf_counter() - started
    outcome.feeds += 1
    outcome.messages += len(messages)
    outcome.feed_ids.append(result.feed_id)
    if result.processing_status != "DONE":
        PushFeed.objects.filter(pk=record.pk).update(
            feed_id=result.feed_id, status=result.processing_status, finished_at=ctx.now)
        detail = "; ".join(str(i.get("message", "")) for i in result.issues[:3])
        ctx.exception(
            object_kind="push_feed", object_key=f"{kind}/{ctx.marketplace.code}",
            reason_code=FEED_FAILED, owner_team=Team.OPS,
            message=f"Amazon did not process the {what} feed {result.feed_id} "
            f"({result.processing_status}){': ' + detail if detail else ''}. Nothing in it was "
            "applied; the next run sends the same changes again.",
            payload={"feed_id": result.feed_id, "issues": result.issues[:20]},
        )
        return
    ctx.resolve(object_kind="push_feed", object_key=f"{kind}/{ctx.marketplace.code}",
                reason_code=FEED_FAILED)
    issues = result.issues_by_message
    accepted, rejected = [], []
    for n, change in enumerate(batch, 1):
        errors = [i for i in issues.get(n, [])
                  if str(i.get("severity", "ERROR")).upper() == "ERROR"]
        (rejected if errors else accepted).append((change, errors))
    now = ctx.now
    with transaction.atomic():
        _pushed_record([c for c, _ in accepted], now, what=what)
        PushFeed.objects.filter(pk=record.pk).update(
            feed_id=result.feed_id, status=result.processing_status, finished_at=now,
            accepted=len(accepted), rejected=len(rejected))
    _resolve_accepted(ctx=ctx, skus=[c.seller_sku for c, _ in accepted], reason_code=reason_code)
    for change, errors in rejected:
        value = change.quantity if what == "quantity" else f"{change.price} {change.currency}"
        reasons = "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors)
        ctx.exception(
            object_kind="listing",
            object_key=listing_key(account=ctx.account, marketplace=ctx.marketplace,
                                   seller_sku=change.seller_sku),
            reason_code=reason_code, owner_team=Team.OPS,
            message=f"Amazon rejected the {what} update of {change.seller_sku} in "
            f"{ctx.marketplace.code} (to {value}): {reasons}",
            payload={"feed_id": result.feed_id, "seller_sku": change.seller_sku,
                     "listing_id": change.listing_id, "value": str(value), "issues": errors},
        )
    outcome.accepted += len(accepted)
    outcome.rejected += len(rejected)
    ctx.count(updated=len(accepted))


def _pushed_record(changes: list, now, *, what: str) -> None:
    """Amazon accepted these: record the pushed quantity (or price) and when, per listing,
    in one update per value."""
    by_value: dict[int | Decimal, list[int]] = defaultdict(list)
    for change in changes:
        by_value[getattr(change, what)].append(change.listing_id)
    for value, ids in by_value.items():
        for start in range(0, len(ids), 900):
            Listing.objects.filter(pk__in=ids[start:start + 900]).update(
                **{f"last_pushed_{what}": value, f"last_pushed_{what}_at": now})


def _resolve_accepted(*, ctx: FlowContext, skus: list[str], reason_code: str) -> None:
    """Accepted now: resolve earlier rejections of the same listings (few queries)."""
    keys = [listing_key(account=ctx.account, marketplace=ctx.marketplace, seller_sku=s)
            for s in skus]
    for start in range(0, len(keys), 900):
        open_keys = SyncException.objects.filter(
            flow=ctx.flow.name, object_kind="listing", reason_code=reason_code,
            object_key__in=keys[start:start + 900],
            status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        ).values_list("object_key", flat=True)
        for key in list(open_keys):
            ctx.resolve(object_kind="listing", object_key=key, reason_code=reason_code)

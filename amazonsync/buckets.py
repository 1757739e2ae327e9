"""Rate-limit buckets in the database, and the bucket store the engine's clients share.

The SP-API client (``amazonsync.spapi``) imports no model, so the store that keeps its token
buckets in ``RateLimitBucket`` rows lives here, on the engine side, and is given to the
clients the engine builds (``amazonsync.clients.spapi_client``). The bucket arithmetic is
the client's (``amazonsync.spapi.ratelimit.take_token``); only the storage is here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import RateLimitBucket
from .spapi.ratelimit import SAFETY_MARGIN, BucketStore, RedisBucketStore, drained, take_token


class DatabaseBucketStore:
    """``RateLimitBucket`` rows updated by compare-and-swap.

    Call the client outside long transactions: a bucket row written inside an open
    transaction is invisible to other processes (and on SQLite holds the write lock) until
    the transaction commits.
    """

    max_attempts = 200

    def reserve(self, *, account_id, operation, rate, burst, now, margin=SAFETY_MARGIN):
        for _ in range(self.max_attempts):
            row = (
                RateLimitBucket.objects.filter(account_id=account_id, operation=operation)
                .values_list("tokens", "rate", "burst", "refreshed_at")
                .first()
            )
            if row is None:
                r = take_token(tokens=float(burst), rate=rate, burst=float(burst),
                               refreshed_at=now, now=now, margin=margin)
                try:
                    with transaction.atomic():
                        RateLimitBucket.objects.create(
                            account_id=account_id, operation=operation, tokens=r.tokens,
                            rate=rate, burst=float(burst), refreshed_at=r.refreshed_at,
                        )
                except IntegrityError:
                    continue  # another process created it: take from that row
                return r.wait
            tokens, row_rate, row_burst, refreshed_at = row
            r = take_token(tokens=tokens, rate=row_rate, burst=row_burst,
                           refreshed_at=refreshed_at, now=now, margin=margin)
            swapped = RateLimitBucket.objects.filter(
                account_id=account_id, operation=operation, tokens=tokens,
                refreshed_at=refreshed_at,
            ).update(tokens=r.tokens, refreshed_at=r.refreshed_at)
            if swapped == 1:
                return r.wait
        raise RuntimeError(f"could not reserve a {operation} token: bucket too contended")

    def set_rate(self, *, account_id, operation, rate):
        RateLimitBucket.objects.filter(account_id=account_id, operation=operation).exclude(
            rate=rate
        ).update(rate=rate)

    def drain(self, *, account_id, operation, now):
        row = (
            RateLimitBucket.objects.filter(account_id=account_id, operation=operation)
            .values_list("tokens", "rate", "burst", "refreshed_at")
            .first()
        )
        if row is None:
            return
        tokens, rate, burst, refreshed_at = row
        new, t = drained(tokens=tokens, rate=rate, burst=burst, refreshed_at=refreshed_at,
                          now=now)
        # If the swap loses, someone else took a token since: good enough.
        RateLimitBucket.objects.filter(
            account_id=account_id, operation=operation, tokens=tokens, refreshed_at=refreshed_at
        ).update(tokens=new, refreshed_at=t)

    def get(self, *, account_id, operation):
        return (
            RateLimitBucket.objects.filter(account_id=account_id, operation=operation)
            .values("tokens", "rate", "burst", "refreshed_at")
            .first()
        )


def default_bucket_store() -> BucketStore:
    """Buckets shared by every worker process: Redis when ``REDIS_URL`` is set, else the
    database."""
    url = getattr(settings, "REDIS_URL", "")
    return RedisBucketStore(url) if url else DatabaseBucketStore()

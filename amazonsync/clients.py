"""The SP-API client as the engine builds it: wired to the database.

``amazonsync.spapi`` imports no model and no app; what a client shares or reports goes
through what it is given, and this is where the engine gives it:

* the account's access-token store and re-authorisation callback, from the seller-account
  directory (``amazonsync.accounts``; the token lives encrypted in the account row, a
  refused refresh token flags the account);
* a call recorder: one ``ApiCall`` row per request (Amazon's error text without secrets),
  counted on the run (``api_calls``, ``throttled``);
* the buckets shared by every worker process (``amazonsync.buckets.default_bucket_store``:
  Redis or the database) unless a store is given (a private ``MemoryBucketStore`` for the
  demo, tests and benchmarks);
* ``amazonsync.crypto.redact_secrets`` for LWA's error text.

Flows get such a client as ``ctx.client``; anything else that calls SP-API builds one with
``spapi_client(account)``.
"""

from __future__ import annotations

from django.db.models import F

from .accounts import accounts
from .buckets import default_bucket_store
from .crypto import redact_secrets
from .models import ApiCall, SyncRun
from .spapi.client import ApiCallRecord, SpApiClient
from .spapi.clock import Clock
from .spapi.ratelimit import BucketStore


class ApiCallRecorder:
    """Each request of a client as an ``ApiCall`` row, and on the run's counters."""

    def __init__(self, *, account_id: int, run: SyncRun | None = None) -> None:
        self.account_id = account_id
        self.run = run

    def __call__(self, call: ApiCallRecord) -> None:
        ApiCall.objects.create(
            run=self.run, account_id=self.account_id, operation=call.operation,
            method=call.method, path=call.path[:512], status_code=call.status,
            duration_ms=call.duration_ms, throttled=call.throttled,
            request_id=(call.request_id or "")[:128], error=redact_secrets(call.error)[:255],
        )
        if self.run is not None:
            SyncRun.objects.filter(pk=self.run.pk).update(
                api_calls=F("api_calls") + 1,
                throttled=F("throttled") + (1 if call.throttled else 0),
            )


def spapi_client(
    account,
    *,
    run: SyncRun | None = None,
    clock: Clock | None = None,
    session=None,
    bucket_store: BucketStore | None = None,
) -> SpApiClient:
    """An SP-API client for ``account`` recording its calls (on ``run`` when given)."""
    directory = accounts()

    def on_reauthorize(reason: str) -> None:
        directory.mark_reauthorization(account=account, reason=reason)

    return SpApiClient(
        account,
        clock=clock,
        session=session,
        bucket_store=bucket_store or default_bucket_store(),
        token_store=directory.token_store(account),
        on_reauthorize=on_reauthorize,
        redact=redact_secrets,
        recorder=ApiCallRecorder(account_id=account.pk, run=run),
    )

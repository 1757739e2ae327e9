"""The SP-API client: LWA auth, shared rate limits, retries, reports and feeds round trips.

Modules:

* ``client``     — ``SpApiClient(account, *, run=None, clock=None, session=None,
  bucket_store=None)``: ``request()`` and every operation the flows use, ``paginate()``,
  ``download_document()``, ``report_fetch()``, ``feed_submit()`` -> ``FeedResult``;
  ``quota_seconds``, ``backoff_seconds``, ``calls_by_operation`` for figures.
* ``orders``     — ``client.orders``: the ``OrdersApi`` of the account's
  ``orders_api_version`` (v0 or 2026-01-01), both yielding ``NormalizedOrder``.
* ``auth``       — LWA refresh-token grant; the access token is shared through the account row.
* ``ratelimit``  — token buckets per (account, operation): database, Redis or memory store.
* ``clock``      — ``RealClock`` and ``SimulatedClock`` (sleep advances time instantly).
* ``documents``  — streamed download with incremental gunzip.
* ``operations`` / ``errors`` — the operation table (rates, bursts) and the typed errors.
"""

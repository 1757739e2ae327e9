"""The SP-API client: LWA auth, shared rate limits, retries, reports and feeds round trips.

Imports no Django, no model and no app: what it shares or reports is given to it (token
store, re-authorisation callback, redaction, call recorder, bucket store). The engine gives
the database-backed ones: ``amazonsync.clients.spapi_client(account, run=run)``.

Modules:

* ``client``     — ``SpApiClient(account, *, clock=None, session=None, bucket_store=None,
  token_store=None, on_reauthorize=None, redact=..., recorder=None)``: ``request()`` and
  every operation the flows use, ``paginate()``, ``download_document()``,
  ``report_fetch()``, ``feed_submit()`` -> ``FeedResult``; ``quota_seconds``,
  ``backoff_seconds``, ``calls_by_operation`` for figures; each request goes to
  ``recorder(ApiCallRecord)``.
* ``roundtrips`` — the report and feed round trips ``SpApiClient`` inherits
  (``ReportsAndFeeds``) and ``FeedResult``.
* ``wire``       — query parameters and JSON bodies as Amazon takes them, Amazon's errors.
* ``orders``     — ``client.orders``: the ``OrdersApi`` of the account's
  ``orders_api_version`` (v0 or 2026-01-01), both yielding ``NormalizedOrder``.
* ``auth``       — LWA refresh-token grant; the access token is shared through a
  ``TokenStore`` (the account row, for the clients the engine builds).
* ``ratelimit``  — token buckets per (account, operation): Redis or memory store here, the
  database store in ``amazonsync.buckets``.
* ``clock``      — ``RealClock`` and ``SimulatedClock`` (sleep advances time instantly).
* ``documents``  — streamed download with incremental gunzip.
* ``operations`` / ``errors`` — the operation table (rates, bursts) and the typed errors.
"""

"""The SP-API client: LWA auth, shared rate limits, retries, reports and feeds round trips.

Import ``SpApiClient`` from ``amazonsync.spapi.client``.
"""

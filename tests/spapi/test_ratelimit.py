"""Token buckets: waits in simulated time, shared rows, header refinement, 429 drains."""

from __future__ import annotations

import time

import pytest
import responses

from amazonsync.buckets import DatabaseBucketStore
from amazonsync.models import RateLimitBucket
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.operations import OPERATIONS
from amazonsync.spapi.ratelimit import (
    MAX_SKEW,
    SAFETY_MARGIN,
    MemoryBucketStore,
    RateLimiter,
    take_token,
)

from .conftest import API, TOKEN_URL

ORDERS = f"{API}/orders/v0/orders"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, TOKEN_URL, json={"access_token": "Atza|t", "expires_in": 3600})
        yield mock


def test_take_token_queues_callers_fairly():
    rate, burst = 0.5, 2.0
    tokens, ref = burst, 100.0
    waits = []
    for _ in range(5):
        r = take_token(tokens=tokens, rate=rate, burst=burst, refreshed_at=ref, now=100.0)
        tokens, ref = r.tokens, r.refreshed_at
        waits.append(r.wait)
    margin = SAFETY_MARGIN
    assert waits == pytest.approx([0, 0, 2 + margin, 4 + margin, 6 + margin])
    # Later, the bucket refills but never above burst.
    r = take_token(tokens=tokens, rate=rate, burst=burst, refreshed_at=ref, now=10_000.0)
    assert r.wait == 0 and r.tokens == burst - 1


def test_a_bucket_written_on_a_far_future_clock_restarts_now():
    far = 1_000.0 + MAX_SKEW + 100
    r = take_token(tokens=0.0, rate=1.0, burst=5.0, refreshed_at=far, now=1_000.0)
    assert r.refreshed_at == 1_000.0
    assert r.wait == pytest.approx(1.0 + SAFETY_MARGIN)


@pytest.mark.parametrize("store_cls", [MemoryBucketStore, DatabaseBucketStore])
@pytest.mark.django_db
def test_stores_agree(seller, store_cls):
    clock = SimulatedClock(start=0)
    limiter = RateLimiter(account_id=seller.pk, store=store_cls(), clock=clock)
    for _ in range(OPERATIONS["getOrders"].burst + 3):
        limiter.acquire("getOrders")
    assert limiter.waited == pytest.approx(3 / 0.0167, abs=0.01)
    assert clock.now() == pytest.approx(limiter.waited)


@pytest.mark.django_db
def test_25_get_orders_calls_wait_five_tokens_in_simulated_time(rsps, make_client, clock):
    rsps.add(responses.GET, ORDERS, json={"payload": {"Orders": []}})
    client = make_client()
    t0 = time.monotonic()
    for _ in range(25):
        list(client.get_orders(MarketplaceIds=["ATVPDKIKX0DER"],
                               CreatedAfter="2026-01-01T00:00:00Z"))
    real = time.monotonic() - t0
    assert client.quota_seconds == pytest.approx(5 / 0.0167, rel=1e-3)
    assert client.limiter.waited_by_operation["getOrders"] == client.quota_seconds
    assert clock.slept == pytest.approx(client.quota_seconds)
    assert real < 5  # zero real sleeping
    bucket = RateLimitBucket.objects.get(account=client.account, operation="getOrders")
    assert bucket.burst == 20 and bucket.rate == pytest.approx(0.0167)
    assert bucket.tokens < 0.01


@pytest.mark.django_db
def test_the_bucket_row_is_shared_by_client_instances(rsps, make_client, clock):
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    first, second = make_client(), make_client()
    for _ in range(15):
        first.get_order("1")
    for _ in range(17):
        second.get_order("1")
    assert first.quota_seconds == 0
    assert second.quota_seconds == pytest.approx(2 / 0.5, rel=1e-3)
    assert RateLimitBucket.objects.filter(operation="getOrder").count() == 1


@pytest.mark.django_db
def test_rate_header_refines_the_bucket(rsps, make_client, clock):
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}},
             headers={"x-amzn-RateLimit-Limit": "5.0"})
    client = make_client()
    for _ in range(OPERATIONS["getOrder"].burst + 10):
        client.get_order("1")
    bucket = RateLimitBucket.objects.get(account=client.account, operation="getOrder")
    assert bucket.rate == 5.0
    # 10 tokens beyond the burst at the refined 5/s, not Amazon's default 0.5/s.
    assert client.quota_seconds == pytest.approx(10 / 5.0, rel=0.02)


@pytest.mark.django_db
def test_rate_header_is_ignored_on_429(rsps, make_client):
    rsps.add(responses.GET, f"{ORDERS}/1", status=429, json={"errors": []},
             headers={"x-amzn-RateLimit-Limit": "99"})
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    client = make_client()
    client.get_order("1")
    assert RateLimitBucket.objects.get(operation="getOrder").rate == 0.5


@pytest.mark.django_db
def test_a_429_empties_the_bucket_so_the_retry_waits_for_a_token(rsps, make_client):
    rsps.add(responses.GET, f"{ORDERS}/1", status=429,
             json={"errors": [{"code": "QuotaExceeded", "message": "x"}]})
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    client = make_client()
    client.get_order("1")
    # The bucket was full (burst 30) until the 429; then the retry waited (backoff, then
    # bucket) until one token was restored.
    assert client.quota_seconds > 0
    assert client.quota_seconds + client.backoff_seconds == pytest.approx(1 / 0.5, abs=0.01)
    assert client.throttled == 1

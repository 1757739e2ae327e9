"""The client against ``responses``: auth, retries, typed errors, pagination, recording."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from amazonsync.models import ApiCall, SyncRun
from amazonsync.spapi.errors import (
    AuthError,
    InvalidInput,
    NotFound,
    ServerError,
    Throttled,
)

from .conftest import API, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_URL

ORDERS = f"{API}/orders/v0/orders"
MP = "ATVPDKIKX0DER"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def token_ok(rsps, token="Atza|access-1", expires_in=3600):
    return rsps.add(responses.POST, TOKEN_URL,
                    json={"access_token": token, "token_type": "bearer",
                          "expires_in": expires_in, "refresh_token": REFRESH_TOKEN})


def orders_page(orders, next_token=None):
    payload = {"Orders": orders}
    if next_token:
        payload["NextToken"] = next_token
    return {"payload": payload}


def err(code, message):
    return {"errors": [{"code": code, "message": message, "details": ""}]}


def calls_to(rsps, url_prefix):
    return [c for c in rsps.calls if c.request.url.startswith(url_prefix)]


@pytest.fixture
def run(seller):
    from django.utils import timezone

    return SyncRun.objects.create(flow="orders", account=seller, started_at=timezone.now())


# ------------------------------------------------------------------ retries


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_with_backoff_in_simulated_time(
    rsps, make_client, clock, run, status
):
    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/111-1", status=status, json=err("Boom", "try later"),
             headers={"x-amzn-RequestId": "rid-fail"})
    rsps.add(responses.GET, f"{ORDERS}/111-1", status=status, json=err("Boom", "again"))
    rsps.add(responses.GET, f"{ORDERS}/111-1", json={"payload": {"AmazonOrderId": "111-1"}},
             headers={"x-amzn-RequestId": "rid-ok"})
    client = make_client(run=run)
    started, t0 = clock.now(), time.monotonic()
    assert client.get_order("111-1") == {"AmazonOrderId": "111-1"}
    assert time.monotonic() - t0 < 2  # no real sleeping
    assert len(calls_to(rsps, ORDERS)) == 3
    assert client.backoff_seconds >= 1.0  # exponential backoff happened, on the clock
    waited = client.backoff_seconds + client.quota_seconds
    assert clock.now() - started == pytest.approx(waited, abs=1e-3)
    run.refresh_from_db()
    assert run.api_calls == 3
    assert run.throttled == (2 if status == 429 else 0)
    rows = list(ApiCall.objects.filter(run=run).order_by("id"))
    assert [r.status_code for r in rows] == [status, status, 200]
    assert rows[0].request_id == "rid-fail" and rows[-1].request_id == "rid-ok"
    assert rows[0].throttled is (status == 429)
    assert rows[0].operation == "getOrder" and rows[0].path == "/orders/v0/orders/111-1"


@pytest.mark.django_db
def test_connection_errors_and_timeouts_are_retried(rsps, make_client):
    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/1", body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, f"{ORDERS}/1", body=requests.ReadTimeout("slow"))
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {"AmazonOrderId": "1"}})
    client = make_client()
    assert client.get_order("1")["AmazonOrderId"] == "1"
    assert [c.status_code for c in ApiCall.objects.order_by("id")] == [None, None, 200]


@pytest.mark.django_db
def test_retries_are_capped_and_raise_the_typed_error(rsps, make_client):
    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/1", status=503, json=err("ServiceUnavailable", "down"),
             headers={"x-amzn-RequestId": "rid-503"})
    client = make_client()
    with pytest.raises(ServerError) as info:
        client.get_order("1")
    assert info.value.request_id == "rid-503"
    assert info.value.status == 503
    assert len(calls_to(rsps, ORDERS)) == client.max_attempts


@pytest.mark.django_db
def test_retries_stop_after_the_total_time_cap(rsps, make_client):
    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/1", status=429, json=err("QuotaExceeded", "slow"))
    client = make_client()
    client.max_attempts = 1000
    client.max_retry_seconds = 200
    with pytest.raises(Throttled):
        client.get_order("1")
    assert 1 < len(calls_to(rsps, ORDERS)) < 1000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, error_cls",
    [(400, InvalidInput), (404, NotFound), (422, InvalidInput), (409, InvalidInput)],
)
def test_other_4xx_are_never_retried_and_carry_errors_and_request_id(
    rsps, make_client, status, error_cls
):
    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/9", status=status,
             json=err("InvalidInput", "Invalid order id"),
             headers={"x-amzn-RequestId": "rid-4xx"})
    with pytest.raises(error_cls) as info:
        make_client().get_order("9")
    assert len(calls_to(rsps, ORDERS)) == 1
    exc = info.value
    assert exc.request_id == "rid-4xx"
    assert exc.status == status
    assert exc.errors == [{"code": "InvalidInput", "message": "Invalid order id", "details": ""}]
    assert exc.operation == "getOrder"
    assert "rid-4xx" in str(exc)


# ------------------------------------------------------------------ auth


@pytest.mark.django_db
def test_token_grant_is_a_form_post_and_the_header_is_sent(rsps, make_client):
    token_ok(rsps, "Atza|the-access-token")
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    make_client().get_order("1")
    grant = calls_to(rsps, TOKEN_URL)[0].request
    assert grant.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(grant.body).items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": "amzn1.application-oa2-client.spapitest",
        "client_secret": CLIENT_SECRET,
    }
    api = calls_to(rsps, ORDERS)[0].request
    assert api.headers["x-amz-access-token"] == "Atza|the-access-token"
    assert "Authorization" not in api.headers  # no SigV4


@pytest.mark.django_db
def test_access_token_is_cached_in_the_account_row_and_shared(rsps, make_client, seller):
    from marketplaces.models import SellerAccount

    token_ok(rsps, "Atza|shared")
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    first = make_client()
    first.get_order("1")
    first.get_order("1")
    other_instance = SellerAccount.objects.get(pk=seller.pk)
    second = make_client(account=other_instance)
    second.get_order("1")
    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert calls_to(rsps, ORDERS)[-1].request.headers["x-amz-access-token"] == "Atza|shared"
    stored = SellerAccount.objects.get(pk=seller.pk)
    assert stored.access_token == "Atza|shared"
    assert stored.access_token_expires_at is not None
    # Encrypted at rest.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("select access_token from marketplaces_selleraccount where id = %s",
                    [seller.pk])
        assert "Atza|shared" not in cur.fetchone()[0]


@pytest.mark.django_db
def test_token_close_to_expiry_is_refreshed(rsps, make_client):
    token_ok(rsps, "Atza|short", expires_in=30)  # inside the 60 s margin
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    client = make_client()
    client.get_order("1")
    client.get_order("1")
    assert len(calls_to(rsps, TOKEN_URL)) == 2


@pytest.mark.django_db
def test_expired_token_403_refreshes_once_and_retries(rsps, make_client):
    token_ok(rsps, "Atza|old")
    token_ok(rsps, "Atza|new")
    rsps.add(responses.GET, f"{ORDERS}/1", status=403,
             json=err("Unauthorized", "The access token you provided has expired."))
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {"AmazonOrderId": "1"}})
    assert make_client().get_order("1") == {"AmazonOrderId": "1"}
    api = calls_to(rsps, ORDERS)
    assert [c.request.headers["x-amz-access-token"] for c in api] == ["Atza|old", "Atza|new"]
    assert len(calls_to(rsps, TOKEN_URL)) == 2


@pytest.mark.django_db
def test_a_second_403_is_an_auth_error_not_a_loop(rsps, make_client, seller):
    token_ok(rsps, "Atza|a")
    token_ok(rsps, "Atza|b")
    rsps.add(responses.GET, f"{ORDERS}/1", status=403,
             json=err("Unauthorized", "Access to requested resource is denied."),
             headers={"x-amzn-RequestId": "rid-403"})
    with pytest.raises(AuthError) as info:
        make_client().get_order("1")
    assert info.value.request_id == "rid-403"
    assert info.value.reauthorization_required is False
    assert len(calls_to(rsps, ORDERS)) == 2
    assert len(calls_to(rsps, TOKEN_URL)) == 2
    seller.refresh_from_db()
    assert seller.needs_reauthorization is False


@pytest.mark.django_db
@pytest.mark.parametrize("error", ["invalid_grant", "invalid_client"])
def test_revoked_refresh_token_marks_the_account_for_reauthorization(
    rsps, make_client, seller, error
):
    rsps.add(responses.POST, TOKEN_URL, status=400,
             json={"error": error, "error_description": "The request has an invalid grant"})
    with pytest.raises(AuthError) as info:
        make_client().get_order("1")
    assert info.value.reauthorization_required is True
    assert not calls_to(rsps, ORDERS)
    seller.refresh_from_db()
    assert seller.needs_reauthorization is True
    assert error in seller.reauthorization_reason


@pytest.mark.django_db
def test_lwa_outage_is_retried(rsps, make_client):
    rsps.add(responses.POST, TOKEN_URL, status=503, body="")
    token_ok(rsps, "Atza|after-outage")
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    make_client().get_order("1")
    assert len(calls_to(rsps, TOKEN_URL)) == 2


@pytest.mark.django_db
def test_secrets_and_tokens_are_never_logged(rsps, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    token_ok(rsps, "Atza|never-log-me")
    rsps.add(responses.GET, f"{ORDERS}/1", status=500, json=err("InternalFailure", "x"))
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    make_client().get_order("1")
    rsps.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_grant"})
    text = caplog.text
    for secret in ("Atza|never-log-me", REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in text


# ------------------------------------------------------------------ requests and pages


@pytest.mark.django_db
def test_get_orders_follows_next_token_repeating_the_filters(rsps, make_client):
    token_ok(rsps)
    rsps.add(responses.GET, ORDERS, json=orders_page([{"AmazonOrderId": "A"}], "tok 1/+"))
    rsps.add(responses.GET, ORDERS, json=orders_page([{"AmazonOrderId": "B"}], "tok2"))
    rsps.add(responses.GET, ORDERS, json=orders_page([{"AmazonOrderId": "C"}]))
    got = list(make_client().get_orders(
        MarketplaceIds=[MP, "A2EUQ1WTGCTBG2"], LastUpdatedAfter="2026-01-01T00:00:00Z",
        OrderStatuses=["Unshipped", "Shipped"], FulfillmentChannels=["MFN"],
    ))
    assert [o["AmazonOrderId"] for o in got] == ["A", "B", "C"]
    queries = [parse_qs(urlsplit(c.request.url).query) for c in calls_to(rsps, ORDERS)]
    assert queries[0] == {
        "MarketplaceIds": [f"{MP},A2EUQ1WTGCTBG2"],
        "LastUpdatedAfter": ["2026-01-01T00:00:00Z"],
        "OrderStatuses": ["Unshipped,Shipped"],
        "FulfillmentChannels": ["MFN"],
    }
    assert queries[1] == {**queries[0], "NextToken": ["tok 1/+"]}
    assert queries[2]["NextToken"] == ["tok2"]


@pytest.mark.django_db
def test_get_order_items_pages_and_money_stays_decimal(rsps, make_client):
    from decimal import Decimal

    token_ok(rsps)
    url = f"{ORDERS}/111-2/orderItems"
    rsps.add(responses.GET, url, body=json.dumps({"payload": {
        "AmazonOrderId": "111-2", "NextToken": "n",
        "OrderItems": [{"OrderItemId": "1", "ASIN": "B0", "QuantityOrdered": 1,
                        "ItemPrice": {"CurrencyCode": "USD", "Amount": "19.99"}}]}}))
    rsps.add(responses.GET, url, body='{"payload": {"AmazonOrderId": "111-2", "OrderItems": '
             '[{"OrderItemId": "2", "ASIN": "B1", "QuantityOrdered": 2, "Rate": 0.1}]}}')
    items = make_client().get_order_items("111-2")
    assert [i["OrderItemId"] for i in items] == ["1", "2"]
    assert items[1]["Rate"] == Decimal("0.1")
    assert parse_qs(urlsplit(calls_to(rsps, url)[1].request.url).query) == {"NextToken": ["n"]}


@pytest.mark.django_db
def test_path_parameters_are_quoted(rsps, make_client, seller):
    token_ok(rsps)
    rsps.add(responses.GET, f"{API}/listings/2021-08-01/items/A1SPAPITEST/MY%2FSKU%20X",
             json={"sku": "MY/SKU X"})
    got = make_client().get_listings_item("MY/SKU X", marketplace_ids=[MP],
                                          included_data=["summaries", "offers"])
    assert got == {"sku": "MY/SKU X"}
    query = parse_qs(urlsplit(rsps.calls[-1].request.url).query)
    assert query == {"marketplaceIds": [MP], "includedData": ["summaries,offers"]}


@pytest.mark.django_db
def test_confirm_shipment_posts_json_and_accepts_204(rsps, make_client):
    token_ok(rsps)
    url = f"{ORDERS}/111-3/shipmentConfirmation"
    rsps.add(responses.POST, url, status=204)
    body = {"marketplaceId": MP, "packageDetail": {"packageReferenceId": "1",
                                                   "carrierCode": "UPS"}}
    make_client().confirm_shipment("111-3", body)
    sent = calls_to(rsps, url)[0].request
    assert json.loads(sent.body) == body
    assert sent.headers["content-type"] == "application/json"


@pytest.mark.django_db
def test_simulated_clock_is_sent_to_the_sandbox(rsps, make_client, clock):
    from amazonsync.spapi.clock import RealClock

    token_ok(rsps)
    rsps.add(responses.GET, f"{ORDERS}/1", json={"payload": {}})
    make_client().get_order("1")
    assert float(calls_to(rsps, ORDERS)[0].request.headers["x-sandbox-clock"]) == clock.now()
    make_client(clock=RealClock()).get_order("1")
    assert "x-sandbox-clock" not in calls_to(rsps, ORDERS)[1].request.headers


@pytest.mark.django_db
def test_regional_host_when_no_override(rsps, seller):
    from amazonsync.spapi.client import SpApiClient

    seller.api_base_url = ""
    seller.region = "EU"
    client = SpApiClient(seller)
    assert client.base_url == "https://sellingpartnerapi-eu.amazon.com"

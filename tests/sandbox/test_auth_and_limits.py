"""LWA token endpoint, access-token checks and per-operation rate limits."""

from __future__ import annotations

import pytest

from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    REVOKED_REFRESH_TOKEN,
)
from amazonsync.spapi.operations import OPERATIONS

from .conftest import US

FORM = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
        "client_id": LWA_CLIENT_ID, "client_secret": LWA_CLIENT_SECRET}


def _token(sandbox, form, content_type="application/x-www-form-urlencoded;charset=UTF-8"):
    return sandbox.http.post(f"{sandbox.url}/auth/o2/token", data=form,
                             headers={"Content-Type": content_type})


def test_token_issued_with_and_without_charset(sandbox):
    for ctype in ("application/x-www-form-urlencoded;charset=UTF-8",
                  "application/x-www-form-urlencoded"):
        response = _token(sandbox, FORM, ctype)
        assert response.status_code == 200
        body = response.json()
        assert body["access_token"].startswith("Atza|")
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        assert body["refresh_token"] == REFRESH_TOKEN
        assert response.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("change, status, error", [
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"client_id": "amzn1.application-oa2-client.other"}, 401, "invalid_client"),
    ({"refresh_token": "Atzr|unknown"}, 400, "invalid_grant"),
    ({"refresh_token": REVOKED_REFRESH_TOKEN}, 400, "invalid_grant"),
    ({"refresh_token": ""}, 400, "invalid_request"),
])
def test_token_errors(sandbox, change, status, error):
    response = _token(sandbox, {**FORM, **change})
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_description"]


def test_revoke_control_endpoint(sandbox):
    assert _token(sandbox, FORM).status_code == 200
    sandbox.http.post(f"{sandbox.url}/_sandbox/revoke", json={"refresh_token": REFRESH_TOKEN})
    assert _token(sandbox, FORM).json()["error"] == "invalid_grant"


def test_sp_api_requires_an_issued_token(sandbox):
    url = f"{sandbox.url}/sellers/v1/marketplaceParticipations"
    for headers in ({}, {"x-amz-access-token": "Atza|forged"}):
        response = sandbox.http.get(url, headers=headers)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "Unauthorized"
        assert response.headers["x-amzn-RequestId"]


def test_seller_id_must_match_token(sandbox, world):
    sku = next(p.sku for p in world.products.values() if "US" in p.channels)
    ok = sandbox.call("getListingsItem", sellerId=DEFAULT_SELLER, sku=sku,
                      params={"marketplaceIds": US})
    assert ok.status_code == 200
    other = sandbox.call("getListingsItem", sellerId="A2OTHERSELLER", sku=sku,
                         params={"marketplaceIds": US})
    assert other.status_code == 403
    assert other.json()["errors"][0]["code"] == "Unauthorized"


def test_no_trailing_slash_redirect_and_host_header_ignored(sandbox):
    response = sandbox.call("getMarketplaceParticipations",
                            headers={"Host": "sellingpartnerapi-na.amazon.com"})
    assert response.status_code == 200
    token = sandbox.token()
    slash = sandbox.http.get(f"{sandbox.url}/sellers/v1/marketplaceParticipations/",
                             headers={"x-amz-access-token": token}, allow_redirects=False)
    assert slash.status_code == 200


def test_rate_limit_past_burst_with_sandbox_clock(make_sandbox):
    client = make_sandbox(rate_limits=True)
    op = OPERATIONS["getOrders"]
    params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
    clock = {"x-sandbox-clock": "1000.0"}
    for _ in range(op.burst):
        response = client.call("getOrders", params=params, headers=clock)
        assert response.status_code == 200
        assert response.headers["x-amzn-RateLimit-Limit"] == str(op.rate)
    throttled = client.call("getOrders", params=params, headers=clock)
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert throttled.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    # One token is back after 1/rate simulated seconds.
    later = {"x-sandbox-clock": str(1000.0 + 1 / op.rate + 0.01)}
    assert client.call("getOrders", params=params, headers=later).status_code == 200
    assert client.call("getOrders", params=params, headers=later).status_code == 429
    # Buckets are per operation.
    assert client.call("getMarketplaceParticipations", headers=later).status_code == 200

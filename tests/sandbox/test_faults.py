"""Fault profiles: flaky converges to the same data; hostile breaks things on purpose."""

from __future__ import annotations

import gzip
import time

import requests

from amazonsync.sandbox import LWA_CLIENT_ID, LWA_CLIENT_SECRET, REFRESH_TOKEN

from .conftest import US


def _retrying(fn, attempts=6):
    for _ in range(attempts):
        try:
            response = fn()
        except requests.ConnectionError:
            continue
        if response.status_code in (429, 500, 503):
            continue
        return response
    raise AssertionError("no answer after retries")


def _token(url):
    return _retrying(lambda: requests.post(f"{url}/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
        "client_id": LWA_CLIENT_ID, "client_secret": LWA_CLIENT_SECRET}, timeout=5)
    ).json()["access_token"]


def _orders(url, token):
    params = {"MarketplaceIds": US, "CreatedAfter": "2026-07-01T00:00:00Z",
              "MaxResultsPerPage": 10}
    pages = []
    while True:
        response = _retrying(lambda p=dict(params): requests.get(
            f"{url}/orders/v0/orders", params=p, headers={"x-amz-access-token": token},
            timeout=5))
        assert response.status_code == 200, response.text
        pages.append(response.content)
        token_next = response.json()["payload"].get("NextToken")
        if not token_next:
            return pages
        params = {"MarketplaceIds": US, "NextToken": token_next}


def test_flaky_converges_to_the_same_data(make_sandbox):
    calm = make_sandbox()
    flaky = make_sandbox(faults="flaky")
    expected = _orders(calm.url, _token(calm.url))
    started = time.perf_counter()
    got = _orders(flaky.url, _token(flaky.url))
    assert got == expected
    assert time.perf_counter() - started < 10
    assert flaky.app.seq > calm.app.seq  # faults happened and were retried


def test_flaky_faults_are_bounded_and_varied(make_sandbox):
    flaky = make_sandbox(faults="flaky")
    codes, streak, worst = [], 0, 0
    for _ in range(60):
        try:
            status = requests.get(f"{flaky.url}/sellers/v1/marketplaceParticipations",
                                  timeout=5).status_code
        except requests.ConnectionError:
            status = 0
        codes.append(status)
        streak = streak + 1 if status in (0, 429, 500, 503) else 0
        worst = max(worst, streak)
    assert 403 in codes  # no token: the real answer gets through
    assert {429, 500, 503, 0} & set(codes)
    assert worst <= 2


def test_hostile_truncates_gzip_once_and_expires_tokens(make_sandbox):
    sandbox = make_sandbox(faults="hostile", gzip_threshold=1000)
    report_id = sandbox.call("createReport", json={
        "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        "marketplaceIds": [US], "dataStartTime": "2026-05-01T00:00:00Z"}).json()["reportId"]
    sandbox.advance(120)
    report = sandbox.call("getReport", reportId=report_id).json()
    assert report["processingStatus"] == "DONE"
    url = sandbox.call("getReportDocument",
                       reportDocumentId=report["reportDocumentId"]).json()["url"]
    truncated = requests.get(url, timeout=5).content
    try:
        gzip.decompress(truncated)
    except (EOFError, OSError):
        pass
    else:
        raise AssertionError("the first download should be a truncated gzip stream")
    assert gzip.decompress(requests.get(url, timeout=5).content).startswith(b"amazon-order-id")
    outcomes = []
    for _ in range(3):
        rid = sandbox.call("createReport", json={
            "reportType": "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
            "marketplaceIds": [US]}).json()["reportId"]
        sandbox.advance(120)
        outcomes.append(sandbox.call("getReport", reportId=rid).json()["processingStatus"])
    assert {"FATAL", "CANCELLED"} <= set(outcomes)
    expired = None
    for _ in range(40):
        response = sandbox.call("getMarketplaceParticipations")
        if response.status_code == 403:
            expired = response.json()["errors"][0]
            break
    assert expired is not None
    assert expired["code"] == "Unauthorized"
    assert "expired" in expired["details"]

"""Fixtures for the SP-API client tests: a seller account made directly with the ORM, a
simulated clock, and clients wired as the engine builds them (``amazonsync.clients``: calls
recorded, token in the account row, database buckets) to fake hosts (``responses``) or the
live sandbox."""

from __future__ import annotations

import pytest

from amazonsync.spapi.clock import SimulatedClock

API = "https://spapi.test"
TOKEN_URL = "https://lwa.test/auth/o2/token"
REFRESH_TOKEN = "Atzr|refresh-token-for-spapi-tests"
CLIENT_SECRET = "client-secret-for-spapi-tests"
START = 1_800_000_000.0


@pytest.fixture
def seller(db):
    from marketplaces.models import SellerAccount

    return SellerAccount.objects.create(
        selling_partner_id="A1SPAPITEST",
        name="SP-API test seller",
        region="NA",
        lwa_client_id="amzn1.application-oa2-client.spapitest",
        lwa_client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        api_base_url=API,
        token_url=TOKEN_URL,
    )


@pytest.fixture
def clock():
    return SimulatedClock(start=START)


@pytest.fixture
def make_client(seller, clock):
    from amazonsync.clients import spapi_client

    def make(account=None, **kw):
        kw.setdefault("clock", clock)
        return spapi_client(account or seller, **kw)

    return make

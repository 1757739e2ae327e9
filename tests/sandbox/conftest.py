"""Fixtures for the SP-API sandbox tests: a small shared world and live HTTP sandboxes.

None of these tests touch the database.
"""

from __future__ import annotations

import pytest
import requests

from amazonsync.sandbox import (
    DEFAULT_START,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    SandboxConfig,
    World,
    start_sandbox_app,
)
from amazonsync.spapi.operations import OPERATIONS

SEED = 7
ORDERS = 300
US = "ATVPDKIKX0DER"
JP = "A1VC38T7YXB528"


class SandboxClient:
    """A thin requests wrapper: token handling and operation-table URLs."""

    def __init__(self, url: str, app) -> None:
        self.url = url
        self.app = app
        self.http = requests.Session()
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            response = self.http.post(f"{self.url}/auth/o2/token", data={
                "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                "client_id": LWA_CLIENT_ID, "client_secret": LWA_CLIENT_SECRET})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def call(self, name: str, *, params=None, json=None, headers=None, **path):
        op = OPERATIONS[name]
        all_headers = {"x-amz-access-token": self.token(), **(headers or {})}
        return self.http.request(op.method, self.url + op.format_path(**path), params=params,
                                 json=json, headers=all_headers, timeout=10)

    def advance(self, seconds: int) -> dict:
        response = self.http.post(f"{self.url}/_sandbox/advance", json={"seconds": seconds})
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def world() -> World:
    """A world with a fixed start (reproducible dates); the present is tested apart."""
    return World(SEED, orders=ORDERS, start=DEFAULT_START)


@pytest.fixture
def make_sandbox(world):
    stops = []

    def make(**overrides) -> SandboxClient:
        shared = overrides.pop("world", world)
        overrides.setdefault("seed", SEED)
        overrides.setdefault("orders", ORDERS)
        overrides.setdefault("rate_limits", False)
        url, stop, app = start_sandbox_app(SandboxConfig(**overrides), world=shared)
        stops.append(stop)
        return SandboxClient(url, app)

    yield make
    for stop in stops:
        stop()


@pytest.fixture
def sandbox(make_sandbox) -> SandboxClient:
    """A live sandbox (seed 7, 300 orders, no faults, rate limits off)."""
    return make_sandbox()

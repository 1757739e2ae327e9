"""The demo back office: users, a sandbox seller account and data synced from the sandbox.

Each feature app may provide ``<app>/demo.py`` with ``load(ctx: DemoContext)``; they run in
the order of ``DEMO_APPS`` after the accounts exist. Everything is idempotent.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from marketplaces.models import SellerAccount
from marketplaces.services import account_upsert

from .permissions import ensure_groups

DEMO_USERS = [
    # username, password, role shown in the printed list
    ("admin", "admin-demo-2026", "Superuser"),
    ("ops", "ops-demo-2026", "Ops"),
    ("accountant", "accountant-demo-2026", "Accounting (preparer)"),
    ("controller", "controller-demo-2026", "Accounting (approver)"),
]
DEMO_APPS = ["marketplaces", "catalog", "orders", "settlements", "returns"]

# A second account whose LWA client secret has expired: the runner refuses it, which shows
# the warning in the account list and an exception in the queue.
LEGACY_ACCOUNT = {
    "selling_partner_id": "A3LEGACYEUSELLER",
    "name": "Legacy EU account",
    "region": "EU",
    "lwa_client_id": "amzn1.application-oa2-client.legacy",
    "client_secret": "legacy-client-secret",
    "refresh_token": "Atzr|legacy-refresh-token",
    "marketplace_codes": ["FR", "IT"],
}


def sandbox_seller() -> dict:
    """The seller the sandbox world accepts (credentials included)."""
    from .sandbox import world

    return {
        "selling_partner_id": world.DEFAULT_SELLER,
        "name": world.DEFAULT_SELLER_NAME,
        "region": world.DEFAULT_REGION,
        "lwa_client_id": world.LWA_CLIENT_ID,
        "client_secret": world.LWA_CLIENT_SECRET,
        "refresh_token": world.REFRESH_TOKEN,
        "marketplace_codes": ["US", "CA", "GB", "DE", "JP"],
    }


@dataclass
class DemoContext:
    account: SellerAccount
    sandbox_url: str
    api_url: str  # where the demo sync talks to (an embedded sandbox while loading)
    log: Callable[[str], None]
    sync: bool
    extra: dict = field(default_factory=dict)


def _users(log: Callable[[str], None]) -> None:
    User = get_user_model()
    for username, password, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = True
        user.is_superuser = role == "Superuser"
        if created or not user.check_password(password):
            user.set_password(password)
        user.save()
        group_name = role.split(" ")[0]
        if group_name in ("Ops", "Accounting"):
            user.groups.set([Group.objects.get(name=group_name)])
        if created:
            log(f"created user {username}")


@contextlib.contextmanager
def embedded_sandbox(enabled: bool = True) -> Iterator[str | None]:
    """Run the sandbox in this process while the demo loads, on a free port."""
    if not enabled:
        yield None
        return
    try:
        from .sandbox.server import start_sandbox
    except ImportError:
        yield None
        return
    url, stop = start_sandbox(port=0)
    try:
        yield url
    finally:
        stop()


def demo_load(
    *, sandbox_url: str | None = None, sync: bool = True, log: Callable[[str], None] = print
) -> dict:
    sandbox_url = (sandbox_url or settings.SPAPI_SANDBOX_URL).rstrip("/")
    ensure_groups()
    with transaction.atomic():
        _users(log)
        seller = sandbox_seller()
        account = account_upsert(
            **seller,
            rotated_on=timezone.localdate() - datetime.timedelta(days=20),
            api_base_url=sandbox_url,
            token_url=f"{sandbox_url}/auth/o2/token",
        )
        legacy = account_upsert(
            **LEGACY_ACCOUNT,
            rotated_on=timezone.localdate() - datetime.timedelta(days=200),
            api_base_url=sandbox_url,
            token_url=f"{sandbox_url}/auth/o2/token",
        )
    log(f"seller account {account} (sandbox at {sandbox_url})")
    with embedded_sandbox(sync) as live_url:
        ctx = DemoContext(
            account=account, sandbox_url=sandbox_url, api_url=live_url or sandbox_url,
            log=log, sync=sync and live_url is not None,
        )
        ctx.extra["legacy_account"] = legacy
        with _pointed_at(account, ctx.api_url), _demo_clients():
            for app in DEMO_APPS:
                if app not in {a.split(".")[-1] for a in settings.INSTALLED_APPS}:
                    continue
                try:
                    module = importlib.import_module(f"{app}.demo")
                except ModuleNotFoundError as err:
                    if err.name != f"{app}.demo":
                        raise
                    continue
                module.load(ctx)
    from .schedules import schedules_sync

    scheduled = schedules_sync()
    log(f"schedules: {scheduled.created} created, {scheduled.removed} removed, "
        f"{scheduled.unchanged} kept")
    return {
        "account": str(account),
        "sandbox_url": sandbox_url,
        "admin_url": "http://127.0.0.1:8000/admin/",
    }


@contextlib.contextmanager
def _demo_clients() -> Iterator[None]:
    """The demo loads against its own embedded sandbox: spend Amazon's quotas in simulated
    time (the sandbox judges by the same clock) with private buckets, so loading takes
    seconds and leaves the shared buckets of the real workers untouched."""
    from .flows import client_options
    from .spapi.clock import SimulatedClock
    from .spapi.ratelimit import MemoryBucketStore

    with client_options(clock=SimulatedClock(), bucket_store=MemoryBucketStore()):
        yield


@contextlib.contextmanager
def _pointed_at(account: SellerAccount, url: str) -> Iterator[None]:
    """Point the account at ``url`` while loading; back to the stable sandbox URL after."""
    stable = (account.api_base_url, account.token_url)
    if url == account.api_base_url:
        yield
        return
    SellerAccount.objects.filter(pk=account.pk).update(
        api_base_url=url, token_url=f"{url}/auth/o2/token", access_token="",
        access_token_expires_at=None,
    )
    try:
        yield
    finally:
        SellerAccount.objects.filter(pk=account.pk).update(
            api_base_url=stable[0], token_url=stable[1], access_token="",
            access_token_expires_at=None,
        )

"""The demo back office: users, a sandbox seller account and data synced from the sandbox.

Each feature app may provide ``<app>/demo.py`` with ``load(ctx: DemoContext)``; they run in
the order of ``DEMO_APPS`` after the accounts exist. Everything is idempotent.

The demo fails loudly: a flow run of the demo seller account that does not succeed, or a step
that finds nothing to show (``ctx.problem``), ends ``demo_load`` with ``DemoFailed`` naming it
(the command exits non-zero). The legacy account is refused on purpose and does not count.

The embedded sandbox lives in the present (its world is generated back from today's date) and
the flows run on a simulated clock that starts at the sandbox's now, so loading spends
Amazon's quotas in simulated time.
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

from .models import SyncRun
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


class DemoFailed(RuntimeError):
    """A flow or step of the demo seller account failed."""


@dataclass
class DemoContext:
    account: SellerAccount
    sandbox_url: str
    api_url: str  # where the demo sync talks to (an embedded sandbox while loading)
    log: Callable[[str], None]
    sync: bool
    extra: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """Something the demo should show is missing: the demo fails at the end."""
        self.problems.append(message)
        self.log(f"PROBLEM: {message}")


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
def embedded_sandbox(enabled: bool = True, **config) -> Iterator[tuple[str | None, float]]:
    """Run the sandbox in this process while the demo loads, on a free port; yields its URL
    and its now (epoch seconds), where the demo's simulated clock starts."""
    if not enabled:
        yield None, 0.0
        return
    from .sandbox.server import start_sandbox_app

    url, stop, app = start_sandbox_app(port=0, **config)
    try:
        yield url, float(app.now)
    finally:
        stop()


def demo_load(
    *, sandbox_url: str | None = None, sync: bool = True, log: Callable[[str], None] = print,
    sandbox: dict | None = None,
) -> dict:
    """Load the demo; ``sandbox`` overrides the embedded sandbox's config (seed, orders,
    start...). Raises ``DemoFailed`` naming every flow or step of the demo account that
    failed."""
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
    first_run = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if sandbox is None and sync:
        sandbox = _same_world_as(sandbox_url)
    with embedded_sandbox(sync, **(sandbox or {})) as (live_url, sandbox_now):
        ctx = DemoContext(
            account=account, sandbox_url=sandbox_url, api_url=live_url or sandbox_url,
            log=log, sync=sync and live_url is not None,
        )
        ctx.extra["legacy_account"] = legacy
        with _pointed_at(account, ctx.api_url), _demo_clients(sandbox_now):
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
    failures = demo_failures(account=account, after_run=first_run) + ctx.problems
    if failures:
        raise DemoFailed("the demo did not load: " + "; ".join(failures))
    return {
        "account": str(account),
        "sandbox_url": sandbox_url,
        "admin_url": "http://127.0.0.1:8000/admin/",
    }


def _same_world_as(url: str) -> dict:
    """The config of the sandbox at ``url`` when it runs (seed, orders, a fixed start), so
    the demo loads the world that sandbox serves; defaults when it does not answer."""
    import requests

    try:
        info = requests.get(f"{url}/_sandbox/info", timeout=3).json()
    except (requests.RequestException, ValueError):
        return {}
    config = {key: int(info[key]) for key in ("seed", "orders") if key in info}
    if info.get("present") is False and info.get("start"):
        config["start"] = info["start"]
    return config


def demo_failures(*, account: SellerAccount, after_run: int = 0) -> list[str]:
    """Flow runs of the demo account (after run id ``after_run``) that did not succeed, each
    named with its marketplace and error."""
    bad = (SyncRun.objects.filter(account=account, pk__gt=after_run)
           .exclude(status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.SKIPPED])
           .select_related("marketplace").order_by("pk"))
    return [f"flow {run.flow}"
            + (f" ({run.marketplace.code})" if run.marketplace else "")
            + f" {run.status}: {run.error or 'no reason recorded'}" for run in bad]


@contextlib.contextmanager
def _demo_clients(start: float | None = None) -> Iterator[None]:
    """The demo loads against its own embedded sandbox: spend Amazon's quotas in simulated
    time (the sandbox judges by the same clock, in buckets apart from wall-clock clients)
    with private buckets, so loading takes seconds and leaves the shared buckets of the real
    workers untouched. The clock starts at the sandbox's now."""
    from .flows import client_options
    from .spapi.clock import SimulatedClock
    from .spapi.ratelimit import MemoryBucketStore

    clock = SimulatedClock(start=start or None, domain="demo")
    with client_options(clock=clock, bucket_store=MemoryBucketStore()):
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

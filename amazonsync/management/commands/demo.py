from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from amazonsync.demo import DEMO_USERS, DemoFailed, demo_load


class Command(BaseCommand):
    help = (
        "Load the demo back office: users in the Ops and Accounting groups, a seller "
        "account pointed at the local SP-API sandbox, and data synced from it. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sandbox-url", default=None,
            help="URL of the sandbox the demo account uses (default SPAPI_SANDBOX_URL, "
            "http://127.0.0.1:8001)",
        )
        parser.add_argument(
            "--no-sync", action="store_true",
            help="only create users and accounts; do not sync data from the sandbox",
        )

    def handle(self, *args, sandbox_url=None, no_sync=False, **options):
        try:
            summary = demo_load(sandbox_url=sandbox_url, sync=not no_sync,
                                log=self.stdout.write)
        except DemoFailed as err:
            raise CommandError(str(err)) from err
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo back office ready."))
        self.stdout.write(f"  Admin:    {summary['admin_url']}")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {role:<22} {username} / {password}")
        self.stdout.write(f"  Seller account: {summary['account']} -> {summary['sandbox_url']}")

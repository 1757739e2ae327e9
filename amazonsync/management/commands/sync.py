from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from amazonsync.flows import UnknownFlow, all_flows, get_flow
from amazonsync.models import SyncRun
from amazonsync.services import flow_run, flow_targets
from marketplaces.selectors import account_by_selling_partner_id, marketplace_code


class Command(BaseCommand):
    help = (
        "Run one sync flow inline. Without --account/--marketplace: every active account "
        "and marketplace with the flow switched on. Exits non-zero if a run failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("flow", help="flow name; 'list' shows the registered flows")
        parser.add_argument("--account", help="selling partner id")
        parser.add_argument("--marketplace", help="marketplace country code, e.g. US or DE")

    def handle(self, *args, flow, account=None, marketplace=None, **options):
        if flow == "list":
            for spec in all_flows():
                scope = "per marketplace" if spec.per_marketplace else "per account"
                self.stdout.write(f"{spec.name:24} {scope:16} {spec.description}")
            return
        try:
            spec = get_flow(flow)
        except UnknownFlow as err:
            raise CommandError(str(err.args[0])) from None
        account_id = None
        if account:
            found = account_by_selling_partner_id(account)
            if found is None:
                raise CommandError(f"no seller account {account!r}")
            account_id = found.pk
        code = marketplace_code(marketplace) if marketplace else None
        targets = flow_targets(flow=spec, account_id=account_id, marketplace_code=code)
        if not targets:
            raise CommandError(f"nothing to run: no active account/marketplace has {flow} on")
        failed = 0
        for acc, mkt in targets:
            run = flow_run(
                flow=flow, account_id=acc.pk, marketplace_id=mkt.pk if mkt else None,
                trigger=SyncRun.Trigger.COMMAND,
            )
            where = f"{acc.selling_partner_id}/{mkt.code if mkt else '-'}"
            line = (
                f"{flow} {where}: {run.status} — fetched {run.fetched}, created {run.created}, "
                f"updated {run.updated}, unchanged {run.unchanged}, failed {run.failed}, "
                f"{run.api_calls} API calls ({run.throttled} throttled)"
            )
            if run.status in (SyncRun.Status.FAILED, SyncRun.Status.REFUSED):
                failed += 1
                self.stderr.write(f"{line}\n  {run.error}")
            else:
                self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} of {len(targets)} run(s) failed")

"""django-q2 entry points for orders: ids in, the runner and services called."""

from __future__ import annotations

from amazonsync.models import SyncRun


def sync_orders(account_id: int, marketplace_id: str) -> int:
    from amazonsync.services import flow_run

    return flow_run(flow="orders", account_id=account_id, marketplace_id=marketplace_id,
                    trigger=SyncRun.Trigger.SCHEDULE).pk


def confirm_shipments(account_id: int, marketplace_id: str) -> int:
    from amazonsync.services import flow_run

    return flow_run(flow="shipments", account_id=account_id, marketplace_id=marketplace_id,
                    trigger=SyncRun.Trigger.SCHEDULE).pk


def import_all_orders_file(account_id: int, path: str) -> dict:
    from marketplaces.models import SellerAccount

    from .parsers import REPORT_TYPE
    from .services import orders_report_import

    account = SellerAccount.objects.get(pk=account_id)
    return orders_report_import(account=account, source=path).as_dict(REPORT_TYPE)

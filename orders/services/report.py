"""The all-orders report (a backfill, or a file imported by hand) through the upsert."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import transaction

from amazonsync.models import Team
from amazonsync.services import exception_record
from marketplaces.models import Marketplace, SellerAccount
from marketplaces.services import account_marketplaces_learn

from ..parsers import OrderData, iter_report_orders
from ..selectors import marketplace_resolver, mcf_marketplace_resolver, report_file_locale
from .plans import UpsertCounts
from .reasons import BAD_ORDER, ORDERS_FLOW
from .upsert import orders_upsert

REPORT_BATCH = 500


@dataclass
class ReportImportResult:
    rows: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    skipped: int = 0

    def as_dict(self, report_type: str) -> dict:
        return {"report_type": report_type, "rows": self.rows, **self.counts.as_dict()}


def orders_report_import(
    *,
    account: SellerAccount,
    source,
    flow: str = ORDERS_FLOW,
    run=None,
    progress=None,
    batch_size: int = REPORT_BATCH,
    finish=None,
    now: datetime.datetime | None = None,
    marketplace: Marketplace | None = None,
    encoding: str | None = None,
) -> ReportImportResult:
    """Import an all-orders flat file through the same upsert as the API, in batches.

    All or nothing: the whole file is one transaction, with the unreadable orders queued
    as exceptions and whatever the caller moves with it (``finish``: the flow's cursor).
    A file that is refused (not a report, over the reading limits, a crash) stores
    nothing, and the counts returned are exactly what was committed. An order that cannot
    be stored (a refused value, named by file, line and column) is not stored and becomes
    an exception with its raw rows; the rest of the file is imported. Importing the file
    again converges (what is stored is unchanged).

    ``marketplace`` is the one the file is for (the flow's, ``import_report
    --marketplace``), when known: a multi-channel (MCF) order whose ship-to country and
    currency leave several of the account's marketplaces is placed there. It (else the
    account's marketplaces) also gives the legacy encodings the file may be in and the
    order of day and month of rows that name no marketplace (``report_file_locale``);
    ``encoding`` is the one it is in, when someone knows (``import_report --encoding``).
    """
    result = ReportImportResult()
    errors: list = []

    def counting(n: int) -> None:
        result.rows += n
        if progress is not None:
            progress(n)

    counts = UpsertCounts()
    encodings, dayfirst = report_file_locale(account=account, marketplace=marketplace)
    with transaction.atomic():
        batch: list[OrderData] = []
        placed: set[str] = set()
        for data in iter_report_orders(
            source, resolve_marketplace=marketplace_resolver(), errors=errors,
            progress=counting, now=now,
            mcf_marketplace=mcf_marketplace_resolver(account=account, marketplace=marketplace),
            encodings=encodings, encoding=encoding, dayfirst=dayfirst,
        ):
            batch.append(data)
            placed.add(data.marketplace_id)
            if len(batch) >= batch_size:
                counts.add(orders_upsert(account=account, batch=batch, flow=flow, run=run))
                batch = []
        counts.add(orders_upsert(account=account, batch=batch, flow=flow, run=run))
        # the "Imported files" account sells where its files' orders were placed
        account_marketplaces_learn(account=account,
                                   marketplaces=Marketplace.objects.filter(pk__in=placed))
        for error in errors:
            result.skipped += 1
            counts.exceptions += 1
            exception_record(
                flow=flow, object_kind="order",
                object_key=error.amazon_order_id or f"line {error.line}",
                reason_code=BAD_ORDER, owner_team=Team.OPS, account=account,
                message=f"{error.message}. The order is kept as it was read and not stored; "
                "fix it at the source and import the file again.",
                payload={"amazon_order_id": error.amazon_order_id, "line": error.line,
                         "column": error.column or "", "rows": error.rows,
                         "row_count": error.row_count},
                run=run,
            )
        result.counts = counts
        if finish is not None:
            finish(result)
    return result

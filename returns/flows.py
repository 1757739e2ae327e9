"""The ``returns`` flow: FBA customer returns and MFN returns reports per marketplace.

Both reports are requested by return date. The cursor is the return-date watermark: each
run asks from the watermark minus an overlap (late rows and status changes, e.g. a return
reimbursed later, are picked up again; the import is idempotent) up to now, at most 60
days per report (Amazon's limit). The cursor moves in the transaction that stores the rows.
Then refunds are matched against settlement lines.
"""

from __future__ import annotations

import datetime

from django.db import transaction

from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team

from .parsers import FBA_REPORT_TYPE, MFN_REPORT_TYPE

OVERLAP = datetime.timedelta(days=7)
MAX_WINDOW = datetime.timedelta(days=60)
INITIAL_LOOKBACK = datetime.timedelta(days=60)


def returns_window(position: datetime.datetime | None, now: datetime.datetime
                   ) -> tuple[datetime.datetime, datetime.datetime]:
    """(start, end) of the next request: overlap before the watermark, 60 days at most."""
    start = (position - OVERLAP) if position is not None else now - INITIAL_LOOKBACK
    end = min(now, start + MAX_WINDOW)
    return start, end


@register_flow("returns", switch="returns", owner_team=Team.OPS, every=60)
def returns_flow(ctx: FlowContext) -> None:
    """Fetch FBA and MFN returns reports, store returns, apply dispositions, match refunds."""
    from .services import refunds_match, returns_import

    marketplace = ctx.marketplace
    now = ctx.now
    while True:
        start, end = returns_window(ctx.cursor().position, now)
        files = {}
        for report_type in (FBA_REPORT_TYPE, MFN_REPORT_TYPE):
            files[report_type] = ctx.client.report_fetch(
                report_type, marketplace_ids=[marketplace.pk], data_start_time=start,
                data_end_time=end,
            )
        stored = []  # counted once the window's transaction has committed
        try:
            with transaction.atomic():
                for report_type, path in files.items():
                    stored.append(returns_import(
                        account=ctx.account, source=path, report_type=report_type,
                        marketplace=marketplace, name=f"{report_type} {start:%Y-%m-%d}.."
                        f"{end:%Y-%m-%d}", run=ctx.run,
                    ))
                ctx.advance_cursor(position=end)
            for counts in stored:
                ctx.count(fetched=counts.rows, created=counts.created,
                          updated=counts.updated, unchanged=counts.unchanged,
                          failed=counts.exceptions)
        finally:
            for path in files.values():
                path.unlink(missing_ok=True)
        if end >= now:
            break
    refunds_match(account=ctx.account, marketplace=marketplace, run=ctx.run, now=ctx.now)

"""V1 flat-file settlements (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE): a Canadian settlement
in CAD with every amount column, read into the same lines as a V2 file and taken through the
same import, GL mapping, period-split journals and reconciliation; recognised by its header
by ``import_report``; the same settlement imported from both layouts counted once."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from amazonsync.flatfiles.reading import ReportFormatError
from settlements.models import JournalBatch, JournalLine, Settlement, SettlementLine
from settlements.parsers import (
    COLUMNS,
    V1_COLUMNS,
    V1SettlementReport,
    open_settlement,
)
from tests.settlements.settlement_samples import render

SID = "24301988011"
ORDER = "702-8841207-3365012"
REFUND = "702-1179345-9027761"
# Every amount of the rows below, added by hand: the summary row's total-amount.
EXPECTED_TOTAL = "-132.17"


def _order(**kw) -> dict[str, str]:
    row = {"transaction-type": "Order", "order-id": ORDER, "merchant-order-id": ORDER,
           "shipment-id": "DqRb4mZ1c", "marketplace-name": "Amazon.ca",
           "fulfillment-id": "AFN", "posted-date": "2026-10-29T14:02:11+00:00",
           "order-item-code": "51206634789442", "sku": "MAPLE-SYRUP-500ML"}
    row.update(kw)
    return row


def _refund(**kw) -> dict[str, str]:
    row = {"transaction-type": "Refund", "order-id": REFUND, "merchant-order-id": REFUND,
           "adjustment-id": "amzn1.adj.ca.77120", "marketplace-name": "Amazon.ca",
           "fulfillment-id": "AFN", "posted-date": "2026-11-02T19:44:03+00:00",
           "merchant-adjustment-item-id": "MAI-4410", "sku": "BIRCH-BOARD-12"}
    row.update(kw)
    return row


def _other(ttype: str, amount: str, posted: str, **kw) -> dict[str, str]:
    row = {"transaction-type": ttype, "posted-date": posted, "other-amount": amount}
    row.update(kw)
    return row


# One posting per row, as Amazon.ca writes them; the order item's quantity on a row of its own.
POSTINGS: list[dict[str, str]] = [
    _order(**{"quantity-purchased": "2"}),
    _order(**{"price-type": "Principal", "price-amount": "45.98"}),
    _order(**{"price-type": "Tax", "price-amount": "5.98"}),
    _order(**{"price-type": "Shipping", "price-amount": "4.99"}),
    _order(**{"price-type": "ShippingTax", "price-amount": "0.65"}),
    _order(**{"item-related-fee-type": "Commission", "item-related-fee-amount": "-6.90"}),
    _order(**{"item-related-fee-type": "FBAPerUnitFulfillmentFee",
              "item-related-fee-amount": "-9.70"}),
    _order(**{"promotion-id": "CA Free Shipping 2026-10", "promotion-type": "Shipping",
              "promotion-amount": "-4.99"}),
    _order(**{"shipment-fee-type": "ShippingChargeback", "shipment-fee-amount": "-4.99"}),
    _order(**{"order-fee-type": "GiftwrapChargeback", "order-fee-amount": "-1.50"}),
    _order(**{"direct-payment-type": "StorefrontCreditCardPayment",
              "direct-payment-amount": "12.00"}),
    _refund(**{"price-type": "Principal", "price-amount": "-19.99", "quantity-purchased": "1"}),
    _refund(**{"price-type": "Tax", "price-amount": "-2.60"}),
    _refund(**{"item-related-fee-type": "Commission", "item-related-fee-amount": "3.00"}),
    _refund(**{"item-related-fee-type": "RefundCommission", "item-related-fee-amount": "-0.60"}),
    {"transaction-type": "Lightning Deal Fee", "posted-date": "2026-10-24T03:10:00+00:00",
     "misc-fee-amount": "-20.00"},
    {"transaction-type": "ServiceFee", "posted-date": "2026-11-01T07:00:00+00:00",
     "other-fee-reason-description": "Cost of Advertising", "other-fee-amount": "-84.37"},
    _other("Subscription Fee", "-29.99", "2026-10-23T07:00:00+00:00"),
    _other("Storage Fee", "-14.72", "2026-11-03T07:00:00+00:00"),
    _other("Inbound Transportation Fee", "-38.40", "2026-10-26T16:20:00+00:00",
           **{"shipment-id": "FBA17QXC9LKT"}),
    _other("WAREHOUSE_DAMAGE", "17.25", "2026-10-30T11:00:00+00:00",
           **{"sku": "BIRCH-BOARD-12", "quantity-purchased": "1",
              "merchant-adjustment-item-id": "WD-88101"}),
    _other("REVERSAL_REIMBURSEMENT", "-8.10", "2026-11-04T11:00:00+00:00",
           **{"sku": "MAPLE-SYRUP-500ML", "quantity-purchased": "1"}),
    _other("Payable to Amazon", "-35.00", "2026-10-22T07:00:00+00:00"),
    _other("Successful charge", "35.00", "2026-10-22T09:30:00+00:00"),
    _other("Micro Deposit", "-0.17", "2026-10-27T12:00:00+00:00"),
    _other("Previous Reserve Amount Balance", "120.00", "2026-10-22T07:00:00+00:00"),
    _other("Current Reserve Amount", "-95.00", "2026-11-05T07:00:00+00:00"),
]

SUMMARY = {"settlement-id": SID, "settlement-start-date": "2026-10-22T07:00:00+00:00",
           "settlement-end-date": "2026-11-05T07:00:00+00:00",
           "deposit-date": "2026-11-07T07:00:00+00:00", "total-amount": EXPECTED_TOTAL,
           "currency": "CAD"}

# transaction type -> (amount type, amount description, GL account) of its lines
GL_OF = {
    "Payable to Amazon": ("other-transaction", "Payable to Amazon", "1220"),
    "Successful charge": ("other-transaction", "Successful charge", "1220"),
    "Micro Deposit": ("other-transaction", "Micro Deposit", "1220"),
    "Subscription Fee": ("other-transaction", "Subscription Fee", "5040"),
    "Storage Fee": ("other-transaction", "Storage Fee", "5020"),
    "ServiceFee": ("OtherFees", "Cost of Advertising", "5050"),
    "Inbound Transportation Fee": ("other-transaction", "Inbound Transportation Fee", "5010"),
    "WAREHOUSE_DAMAGE": ("other-transaction", "WAREHOUSE_DAMAGE", "4200"),
    "REVERSAL_REIMBURSEMENT": ("other-transaction", "REVERSAL_REIMBURSEMENT", "4200"),
    "Lightning Deal Fee": ("MiscFee", "Lightning Deal Fee", "5090"),
}


def v1_rows(postings: list[dict[str, str]] | None = None, **summary) -> list[dict[str, str]]:
    head = {**SUMMARY, **summary}
    rows = [head]
    for posting in POSTINGS if postings is None else postings:
        rows.append({"settlement-id": head["settlement-id"], **posting})
    return rows


def v1_file(postings=None, *, columns=V1_COLUMNS, **summary) -> bytes:
    return render(v1_rows(postings, **summary), columns=columns)


pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- parsing


def test_every_amount_column_becomes_a_line_and_the_lines_add_up_to_the_summary():
    report = open_settlement(v1_file(), name="ca-settlement.txt")
    assert isinstance(report, V1SettlementReport)
    s = report.summary
    assert (s.settlement_id, s.currency, s.total_amount) == (SID, "CAD", Decimal("-132.17"))
    lines = list(report.lines())
    # 27 posting rows, the quantity row has no amount: 26 lines, numbered in order
    assert [x.line for x in lines] == list(range(1, 27))
    assert report.sum_of_lines == s.total_amount == Decimal("-132.17")
    kinds = {(x.transaction_type, x.amount_type, x.amount_description) for x in lines}
    for triple in [("Order", "ItemPrice", "Principal"), ("Order", "ItemFees", "Commission"),
                   ("Order", "Promotion", "Shipping"),
                   ("Order", "ShipmentFees", "ShippingChargeback"),
                   ("Order", "OrderFees", "GiftwrapChargeback"),
                   ("Order", "DirectPayment", "StorefrontCreditCardPayment"),
                   ("Lightning Deal Fee", "MiscFee", "Lightning Deal Fee"),
                   ("ServiceFee", "OtherFees", "Cost of Advertising"),
                   ("Storage Fee", "other-transaction", "Storage Fee")]:
        assert triple in kinds
    principal = next(x for x in lines if x.amount_description == "Principal"
                     and x.transaction_type == "Order")
    # the quantity row (file line 3) gives its quantity to the item's principal (line 4)
    assert principal.quantity_purchased == 2 and principal.extra == {"file-line": "4"}
    assert principal.order_id == ORDER and principal.sku == "MAPLE-SYRUP-500ML"
    assert principal.posted_date.isoformat() == "2026-10-29"
    assert principal.posted_date_time.isoformat() == "2026-10-29T14:02:11+00:00"
    promo = next(x for x in lines if x.amount_type == "Promotion")
    assert promo.promotion_id == "CA Free Shipping 2026-10"
    tax = next(x for x in lines if x.amount_description == "Tax" and x.order_id == ORDER)
    assert tax.quantity_purchased is None
    assert report.quantities_unclaimed == 0


def test_column_order_does_not_change_lines_or_fingerprint():
    a = open_settlement(v1_file())
    list(a.lines())
    b = open_settlement(v1_file(columns=tuple(reversed(V1_COLUMNS))))
    list(b.lines())
    assert a.fingerprint == b.fingerprint


def test_a_v2_file_still_opens_as_v2():
    from tests.settlements.settlement_samples import settlement_file

    report = open_settlement(settlement_file())
    assert not isinstance(report, V1SettlementReport)
    assert report.columns == COLUMNS


@pytest.mark.parametrize(("row", "line", "column", "says"), [
    ({**POSTINGS[1], "price-amount": "45,98,1"}, 4, "price-amount", ""),
    ({**POSTINGS[5], "item-related-fee-type": ""}, 4, "item-related-fee-type",
     "would be a guess"),
    ({**POSTINGS[17], "posted-date": "2019-31-02T07:00:00+00:00"}, 4, "posted-date", ""),
    ({**POSTINGS[17], "posted-date": "2024-01-01T07:00:00+00:00"}, 4, "posted-date",
     "outside"),
    ({**POSTINGS[11], "quantity-purchased": "1.5"}, 4, "quantity-purchased", ""),
    ({**POSTINGS[17], "transaction-type": ""}, 4, "transaction-type", ""),
    ({**POSTINGS[17], "settlement-id": "999"}, 4, "settlement-id", "two settlement ids"),
    ({**POSTINGS[17], "currency": "USD"}, 4, "currency", "two currencies"),
])
def test_a_bad_value_is_refused_naming_file_line_and_column(row, line, column, says):
    rows = v1_rows([POSTINGS[0], row])
    if "settlement-id" in row:
        rows[-1]["settlement-id"] = row["settlement-id"]
    data = render(rows, columns=V1_COLUMNS)
    with pytest.raises(ReportFormatError) as err:
        list(open_settlement(data, name="ca.txt").lines())
    assert (err.value.source, err.value.line, err.value.column) == ("ca.txt", line, column)
    assert says in str(err.value)
    assert str(err.value).startswith(f"ca.txt, line {line}, column '{column}'")


def test_amounts_past_the_books_limit_are_refused_at_their_file_line_and_column():
    huge = [_other("Storage Fee", "-999999999999.00", "2026-10-23T07:00:00+00:00")] * 11
    with pytest.raises(ReportFormatError) as err:
        list(open_settlement(v1_file(huge), name="ca.txt").lines())
    # the summary is line 2, the eleventh posting line 13
    assert (err.value.line, err.value.column) == (13, "other-amount")
    assert "more than the books can hold" in str(err.value)


# --------------------------------------------------------------------------- import


def _import(account, data=None, name="ca-settlement.txt"):
    from settlements.services import settlement_import

    return settlement_import(account=account, source=v1_file() if data is None else data,
                             name=name)


def _net_by_code(settlement) -> dict[str, Decimal]:
    from django.db.models import Sum

    return dict(
        JournalLine.objects.filter(batch__settlement=settlement, role="line")
        .values_list("gl_account__code").annotate(net=Sum("credit") - Sum("debit"))
    )


def test_import_books_every_type_and_splits_the_journal_by_month(account):
    from django.db.models import Sum

    result = _import(account)
    s = result.settlement
    assert result.created and s.currency == "CAD" and s.marketplace.code == "CA"
    assert s.total_amount == s.sum_of_lines == Decimal("-132.17")
    assert s.line_count == 26 == s.lines.count()
    assert s.internal_drift == 0 and s.journal_drift == 0 and not s.has_drift
    assert s.unmapped_lines == 0
    assert s.columns == list(V1_COLUMNS)
    line = s.lines.get(amount_type="ItemPrice", amount_description="Principal",
                       transaction_type="Order")
    assert line.quantity_purchased == 2 and line.extra == {"file-line": "4"}

    batches = list(s.journal_batches.order_by("period"))
    assert [b.period.isoformat() for b in batches] == ["2026-10-01", "2026-11-01"]
    for b in batches:
        totals = b.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
        assert totals["d"] == totals["c"] == b.debit_total == b.credit_total
        assert b.unmapped_lines == 0
    october = JournalLine.objects.filter(batch=batches[0], role="line").aggregate(
        n=Sum("credit") - Sum("debit"))["n"]
    november = JournalLine.objects.filter(batch=batches[1], role="line").aggregate(
        n=Sum("credit") - Sum("debit"))["n"]
    assert october == Decimal("90.21") and november == Decimal("-222.38")
    deposit = JournalLine.objects.get(batch__settlement=s, role="deposit",
                                      gl_account__role="bank_clearing")
    assert deposit.credit == Decimal("132.17") and deposit.entry_date.isoformat() == "2026-11-07"

    assert _net_by_code(s) == {
        "1210": Decimal("25.00"),  # reserve: 120 released, 95 held
        "1220": Decimal("-0.17"),  # payable to Amazon, the charge that paid it, micro deposit
        "2200": Decimal("4.03"), "4000": Decimal("45.98"), "4010": Decimal("4.99"),
        "4050": Decimal("-4.99"), "4100": Decimal("-19.99"),
        "4200": Decimal("9.15"),  # warehouse damage less a reversed reimbursement
        "4900": Decimal("12.00"),  # direct payment
        "5000": Decimal("-6.00"), "5010": Decimal("-53.09"), "5020": Decimal("-14.72"),
        "5040": Decimal("-29.99"), "5050": Decimal("-84.37"), "5090": Decimal("-20.00"),
    }


@pytest.mark.parametrize("ttype", sorted(GL_OF))
def test_each_v1_transaction_type_has_its_seeded_rule(account, ttype):
    from settlements.models import GLAccount
    from settlements.selectors import GLMapper

    amount_type, description, code = GL_OF[ttype]
    rule = GLMapper().rule_for(ttype, amount_type, description)
    assert rule is not None and GLAccount.objects.get(pk=rule.gl_account_id).code == code
    s = _import(account).settlement
    line = s.lines.get(transaction_type=ttype)
    assert (line.amount_type, line.amount_description) == (amount_type, description)


def test_reimport_is_idempotent(account):
    first = _import(account)
    again = _import(account, name="ca-settlement-again.txt")
    assert first.created and not again.created and not again.conflict
    assert Settlement.objects.count() == 1 and SettlementLine.objects.count() == 26
    assert JournalBatch.objects.count() == 2


def test_a_summary_that_does_not_add_up_is_drift(account):
    s = _import(account, v1_file(**{"total-amount": "-132.07"})).settlement
    assert s.sum_of_lines == Decimal("-132.17")
    assert s.internal_drift == Decimal("0.10") and s.has_drift


def _v2_of_the_same_settlement() -> bytes:
    """The V2 file of the same settlement: the same amounts, in V2's columns."""
    from tests.settlements.settlement_samples import settlement_file

    lines = []
    for x in open_settlement(v1_file()).lines():
        lines.append({
            "transaction-type": x.transaction_type, "amount-type": x.amount_type,
            "amount-description": x.amount_description, "amount": str(x.amount),
            "posted-date": x.posted_date.isoformat(), "order-id": x.order_id,
            "sku": x.sku, "quantity-purchased": str(x.quantity_purchased or ""),
        })
    return settlement_file(lines, settlement_id=SID, currency="CAD", marketplace="Amazon.ca",
                           start=SUMMARY["settlement-start-date"],
                           end=SUMMARY["settlement-end-date"],
                           deposit=SUMMARY["deposit-date"])


@pytest.mark.parametrize("order", ["v2-first", "v1-first"])
def test_the_same_settlement_from_both_layouts_counts_once(account, order):
    from amazonsync.models import SyncException

    files = [_v2_of_the_same_settlement(), v1_file()]
    if order == "v1-first":
        files.reverse()
    first = _import(account, files[0], name="first.txt")
    second = _import(account, files[1], name="second.txt")
    assert first.created and not second.created and not second.conflict
    assert Settlement.objects.count() == 1
    assert SettlementLine.objects.count() == first.settlement.line_count
    assert not SyncException.objects.filter(reason_code="reissued_conflict").exists()


def test_the_other_layout_with_other_amounts_is_a_conflict(account):
    _import(account, _v2_of_the_same_settlement())
    postings = [*POSTINGS[:-1], {**POSTINGS[-1], "other-amount": "-94.00"}]
    other = _import(account, v1_file(postings, **{"total-amount": "-131.17"}))
    assert other.conflict and Settlement.objects.count() == 1


def run_import_report(report_type, *paths):
    out = io.StringIO()
    call_command("import_report", "--type", report_type, *map(str, paths), "--json",
                 stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


@pytest.mark.parametrize("report_type", ["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
                                         "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"])
def test_import_report_recognises_a_v1_file_by_its_header(account, tmp_path, report_type):
    path = tmp_path / "ca-settlement.txt"
    path.write_bytes(v1_file())
    doc = run_import_report(report_type, path)
    s = doc["settlements"][0]
    assert (s["settlement_id"], s["currency"], s["total_amount"], s["sum_of_lines"]) == (
        SID, "CAD", "-132.17", "-132.17")
    assert s["lines"] == 26 and s["drift"] == "0.00" and s["unmapped_lines"] == 0
    assert s["journal"]["balanced"] and s["created"]
    assert run_import_report(report_type, path)["settlements"][0]["created"] is False
    assert Settlement.objects.count() == 1


def test_import_report_refusal_names_file_line_and_column(account, tmp_path):
    path = tmp_path / "ca-bad.txt"
    path.write_bytes(v1_file([POSTINGS[0], {**POSTINGS[2], "price-amount": "5.9.8"}]))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_report", "--type", "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
                     str(path), "--json", stdout=out, stderr=io.StringIO())
    error = json.loads(out.getvalue())["errors"][0]["error"]
    assert "ca-bad.txt, line 4, column 'price-amount'" in error
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()


# --------------------------------------------------------------------------- the flow


@pytest.fixture
def sandbox(db):
    import datetime

    from django.utils import timezone

    from amazonsync.sandbox import world as sandbox_world
    from amazonsync.sandbox.server import start_sandbox_app
    from marketplaces.services import account_upsert

    url, stop, box = start_sandbox_app(seed=3, orders=300)
    box.account = account_upsert(
        selling_partner_id=sandbox_world.DEFAULT_SELLER, name="Sandbox Seller", region="NA",
        lwa_client_id=sandbox_world.LWA_CLIENT_ID,
        client_secret=sandbox_world.LWA_CLIENT_SECRET,
        refresh_token=sandbox_world.REFRESH_TOKEN,
        rotated_on=timezone.localdate() - datetime.timedelta(days=5),
        api_base_url=url, token_url=f"{url}/auth/o2/token",
        marketplace_codes=["US", "CA", "GB", "DE", "JP"],
    )
    try:
        yield box
    finally:
        stop()


def _run_flow(box):
    from amazonsync.flows import client_options
    from amazonsync.services import flow_run
    from amazonsync.spapi.clock import SimulatedClock
    from amazonsync.spapi.ratelimit import MemoryBucketStore

    with client_options(clock=SimulatedClock(start=box.now), bucket_store=MemoryBucketStore()):
        return flow_run(flow="settlements", account_id=box.account.pk)


def _listed(box) -> set[str]:
    """The sandbox's settlements created within the flow's look-back (89 days)."""
    since = box.now - 89 * 86_400
    return {s.id for s in box.world.settlements(box.now) if s.created >= since}


def test_the_sandbox_serves_both_layouts_with_the_same_totals(sandbox):
    from amazonsync.sandbox.reports import settlement_bytes
    from amazonsync.sandbox.settlement_v1 import settlement_v1_bytes

    kinds = set()
    for settlement in sandbox.world.settlements(sandbox.now):
        v1, v2 = open_settlement(settlement_v1_bytes(settlement)), open_settlement(
            settlement_bytes(settlement))
        assert isinstance(v1, V1SettlementReport) and not isinstance(v2, V1SettlementReport)
        kinds |= {x.transaction_type for x in v1.lines()}
        list(v2.lines())
        assert v1.summary == v2.summary and v1.sum_of_lines == v2.sum_of_lines
        assert v1.sum_of_lines == v1.summary.total_amount and v1.quantities_unclaimed == 0
    assert {"Order", "Storage Fee", "Subscription Fee"} <= kinds


def test_the_flow_fetches_v1_where_v2_is_not_listed(sandbox, settings):
    settings.SETTLEMENTS_V1_FALLBACK = [sandbox.account.selling_partner_id]
    sandbox.settlement_v1_only = frozenset({"CA"})
    run = _run_flow(sandbox)
    assert run.status == "succeeded", run.error
    stored = Settlement.objects.filter(account=sandbox.account)
    assert set(stored.values_list("settlement_id", flat=True)) == _listed(sandbox)
    assert run.created == stored.count() and run.failed == 0
    canadian = {x.id for x in sandbox.world.settlements(sandbox.now) if x.mp.code == "CA"}
    assert canadian & _listed(sandbox)
    for s in stored:
        assert ("price-amount" in s.columns) == (s.settlement_id in canadian), s.settlement_id
        assert s.sum_of_lines == s.total_amount and s.internal_drift == 0, s.settlement_id
        assert s.unmapped_lines == 0 and s.journal_drift == 0, s.settlement_id
        for batch in s.journal_batches.all():
            assert batch.debit_total == batch.credit_total
    # V1 reports of the other marketplaces were listed, but V2 covers them: not downloaded
    from settlements.models import SettlementReportDocument

    docs = SettlementReportDocument.objects.filter(account=sandbox.account)
    assert docs.filter(report_document_id__contains="settlement-flat").count() == len(
        canadian & _listed(sandbox))

    count = stored.count()
    again = _run_flow(sandbox)  # the reports of the last two days again: nothing new
    assert again.created == 0 and again.failed == 0 and again.unchanged > 0
    assert Settlement.objects.count() == count


def test_without_the_option_only_v2_is_fetched(sandbox, settings):
    settings.SETTLEMENTS_V1_FALLBACK = False
    sandbox.settlement_v1_only = frozenset({"CA"})
    run = _run_flow(sandbox)
    assert run.status == "succeeded", run.error
    stored = Settlement.objects.filter(account=sandbox.account)
    canadian = {x.id for x in sandbox.world.settlements(sandbox.now) if x.mp.code == "CA"}
    assert set(stored.values_list("settlement_id", flat=True)) == _listed(sandbox) - canadian
    assert all("amount-type" in columns for columns in stored.values_list("columns", flat=True))


def test_a_refused_v1_listing_is_one_exception_and_v2_is_imported(settings):
    import gzip

    import responses
    from responses import matchers

    from amazonsync.models import SyncException
    from amazonsync.services import flow_run
    from marketplaces.models import SellerAccount
    from tests.settlements.settlement_samples import settlement_file

    api, token_url = "https://spapi.test", "https://lwa.test/auth/o2/token"
    seller = SellerAccount.objects.create(
        selling_partner_id="A1CAARCHIVE", name="Archive seller", region="NA",
        lwa_client_id="amzn1.application-oa2-client.ca", lwa_client_secret="secret-x",
        refresh_token="Atzr|ca-refresh", api_base_url=api, token_url=token_url,
    )
    settings.SETTLEMENTS_V1_FALLBACK = True
    reports = f"{api}/reports/2021-06-30/reports"
    doc = "amzn1.doc.v2"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, token_url, json={"access_token": "Atza|t", "expires_in": 3600,
                                                  "token_type": "bearer"})
        rsps.add(responses.GET, reports, match=[matchers.query_param_matcher(
            {"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"}, strict_match=False)],
            json={"reports": [{"reportId": "R1", "processingStatus": "DONE",
                               "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
                               "createdTime": "2026-11-20T00:00:00Z",
                               "reportDocumentId": doc}]})
        rsps.add(responses.GET, reports, match=[matchers.query_param_matcher(
            {"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"}, strict_match=False)],
            status=400, json={"errors": [{"code": "InvalidInput",
                                          "message": "Invalid reportType"}]})
        rsps.add(responses.GET, f"{api}/reports/2021-06-30/documents/{doc}",
                 json={"reportDocumentId": doc, "url": "https://docs.test/d",
                       "compressionAlgorithm": "GZIP"})
        rsps.add(responses.GET, "https://docs.test/d", body=gzip.compress(settlement_file()))
        run = flow_run(flow="settlements", account_id=seller.pk)
    assert run.status == "succeeded", run.error
    assert run.created == 1 and run.failed == 1
    exc = SyncException.objects.get(reason_code="v1_unavailable")
    assert exc.owner_team == "finance" and "SETTLEMENTS_V1_FALLBACK" in exc.message
    assert Settlement.objects.filter(account=seller).count() == 1

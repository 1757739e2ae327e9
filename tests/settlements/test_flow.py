"""The settlements flow against a mocked SP-API (``responses``): getReports, each new
document downloaded once, imported through the same path as import_report."""

from __future__ import annotations

import datetime
import gzip
import json
import re

import pytest
import responses
from django.utils import timezone

from amazonsync.models import SyncException, SyncRun
from amazonsync.services import flow_run
from settlements.models import Settlement, SettlementReportDocument
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

API = "https://spapi.test"
TOKEN_URL = "https://lwa.test/auth/o2/token"
REPORTS = f"{API}/reports/2021-06-30/reports"
DOCS = f"{API}/reports/2021-06-30/documents/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(db):
    from marketplaces.models import SellerAccount

    return SellerAccount.objects.create(
        selling_partner_id="A1FLOWTEST", name="Flow test seller", region="EU",
        lwa_client_id="amzn1.application-oa2-client.flow", lwa_client_secret="secret-x",
        refresh_token="Atzr|flow-refresh", api_base_url=API, token_url=TOKEN_URL,
    )


def _ago(days):
    return (timezone.now() - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def report(n, created=None):
    created = created or _ago(3)
    return {"reportId": f"R{n}", "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
            "processingStatus": "DONE", "createdTime": created,
            "reportDocumentId": f"amzn1.doc.{n}"}


def mock_api(rsps, reports, documents, *, page_size=None):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "Atza|tok", "expires_in": 3600,
                                               "token_type": "bearer"})
    pages = [reports] if page_size is None else [
        reports[i:i + page_size] for i in range(0, len(reports), page_size)
    ]
    for i, page in enumerate(pages):
        body = {"reports": page}
        if i + 1 < len(pages):
            body["nextToken"] = f"page{i + 1}"
        rsps.add(responses.GET, REPORTS, json=body, headers={"x-amzn-RateLimit-Limit": "100"})
    for doc_id, content in documents.items():
        url = f"https://docs.test/{doc_id}"
        rsps.add(responses.GET, DOCS + doc_id,
                 json={"reportDocumentId": doc_id, "url": url, "compressionAlgorithm": "GZIP"})
        rsps.add(responses.GET, url, body=gzip.compress(content))


def test_flow_imports_each_new_document_once(seller):
    other = [dict(x) for x in DEFAULT_LINES[:3]]
    docs = {
        "amzn1.doc.1": settlement_file(),
        "amzn1.doc.2": settlement_file(other, settlement_id="99887766554"),
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_api(rsps, [report(1), report(2, _ago(2))], docs, page_size=1)
        run = flow_run(flow="settlements", account_id=seller.pk)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert run.created == 2 and run.fetched == 2
        listing = [c for c in rsps.calls if c.request.url.startswith(REPORTS)]
        assert "reportTypes=GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2" in listing[0].request.url
        assert "nextToken=page1" in listing[1].request.url
    assert Settlement.objects.filter(account=seller).count() == 2
    s = Settlement.objects.get(settlement_id="99887766554")
    assert s.report_document_id == "amzn1.doc.2" and s.line_count == 3
    assert SettlementReportDocument.objects.count() == 2

    # second run: the same reports are listed again, nothing is downloaded
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_api(rsps, [report(1), report(2, _ago(2))], {})
        run = flow_run(flow="settlements", account_id=seller.pk)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert run.unchanged == 2 and run.created == 0
        assert not [c for c in rsps.calls if "/documents/" in c.request.url]
        created_since = re.search(r"createdSince=([^&]+)", rsps.calls[-1].request.url)
        assert created_since
        expected = (timezone.now() - datetime.timedelta(days=4)).strftime("%Y-%m-%d")
        assert created_since.group(1).startswith(expected)
    assert Settlement.objects.count() == 2


def test_flow_queues_a_bad_document_and_goes_on(seller):
    docs = {"amzn1.doc.1": b"\x00\x01garbage", "amzn1.doc.2": settlement_file()}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_api(rsps, [report(1), report(2)], docs)
        run = flow_run(flow="settlements", account_id=seller.pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    exc = SyncException.objects.get(reason_code="bad_report")
    assert exc.owner_team == "finance" and "binary" in exc.message
    assert Settlement.objects.count() == 1


def test_flow_reissued_settlement_is_a_conflict(seller):
    changed = [dict(x) for x in DEFAULT_LINES]
    changed[0]["amount"] = "99.00"
    docs = {"amzn1.doc.1": settlement_file(), "amzn1.doc.2": settlement_file(changed)}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_api(rsps, [report(1), report(2, _ago(2))], docs)
        run = flow_run(flow="settlements", account_id=seller.pk)
    assert run.created == 1 and run.failed == 1
    assert SyncException.objects.filter(reason_code="reissued_conflict").count() == 1
    assert json.loads(json.dumps(SyncException.objects.get(
        reason_code="reissued_conflict").payload))["new_fingerprint"]
    assert SettlementReportDocument.objects.get(report_document_id="amzn1.doc.2").outcome == (
        "conflict")
    assert timezone.now()


def test_flow_reads_uk_dates_and_a_japanese_file_as_their_marketplaces_write_them(seller):
    """The seller sells nowhere yet: a UK settlement (numeric dates, listed for Amazon.co.uk)
    has 05/07/2025 read as 5 July; an Amazon.co.jp one in Windows-31J keeps its Japanese."""
    from datetime import UTC, date, datetime

    from tests.settlements.test_file_locales import JP_TITLE, jp_file, uk_file

    uk, jp = report(1), report(2, _ago(2))
    uk["marketplaceIds"], jp["marketplaceIds"] = ["A1F83G8C2ARO7P"], ["A1VC38T7YXB528"]
    docs = {"amzn1.doc.1": uk_file(), "amzn1.doc.2": jp_file()}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_api(rsps, [uk, jp], docs)
        run = flow_run(flow="settlements", account_id=seller.pk)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert run.created == 2
    s = Settlement.objects.get(settlement_id="24681357900")
    assert s.end_date == datetime(2025, 7, 5, 8, tzinfo=UTC)
    assert s.lines.get(line_number=3).posted_date == date(2025, 7, 1)
    j = Settlement.objects.get(settlement_id="13572468000")
    assert j.lines.get(line_number=6).amount_description == JP_TITLE
    assert j.lines.get(line_number=3).sku == "水筒-500-黒"

"""Documents, reports and feeds against ``responses``: streamed gzip, report and feed round
trips."""

from __future__ import annotations

import gzip
import json

import pytest
import responses

from amazonsync.spapi.errors import DocumentError, ReportFailed

from .conftest import API, TOKEN_URL

DOCS = "https://docs.test/doc"
REPORTS = f"{API}/reports/2021-06-30"
FEEDS = f"{API}/feeds/2021-06-30"
MP = "ATVPDKIKX0DER"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, TOKEN_URL, json={"access_token": "Atza|t", "expires_in": 3600})
        yield mock


def big_text(lines: int = 60_000) -> bytes:
    return b"".join(b"order-%08d\tSKU-%d\t19.99\n" % (i, i % 97) for i in range(lines))


@pytest.mark.django_db
def test_gzip_document_is_streamed_and_gunzipped(rsps, make_client, tmp_path):
    text = big_text()
    rsps.add(responses.GET, DOCS, body=gzip.compress(text),
             content_type="application/octet-stream")
    client = make_client()
    chunks_read = []
    original = client.session.get

    def spying_get(*args, **kwargs):
        response = original(*args, **kwargs)
        assert kwargs.get("stream") is True  # never read whole
        iter_content = response.iter_content

        def counting(size, *a, **kw):
            for chunk in iter_content(size, *a, **kw):
                chunks_read.append(len(chunk))
                yield chunk

        response.iter_content = counting
        return response

    client.session.get = spying_get
    dest = client.download_document({"url": DOCS, "compressionAlgorithm": "GZIP"},
                                    tmp_path / "report.txt")
    assert dest.read_bytes() == text
    assert len(chunks_read) > 1 and max(chunks_read) <= 64 * 1024
    # No SP-API token on the presigned URL.
    assert "x-amz-access-token" not in rsps.calls[-1].request.headers


@pytest.mark.django_db
def test_plain_document_goes_to_a_temp_file(rsps, make_client):
    rsps.add(responses.GET, DOCS, body=b"a\tb\n1\t2\n")
    path = make_client().download_document({"url": DOCS})
    try:
        assert path.read_bytes() == b"a\tb\n1\t2\n"
    finally:
        path.unlink()


@pytest.mark.django_db
def test_concatenated_gzip_members_are_read_whole(rsps, make_client, tmp_path):
    rsps.add(responses.GET, DOCS, body=gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    dest = make_client().download_document({"url": DOCS, "compressionAlgorithm": "GZIP"},
                                           tmp_path / "x")
    assert dest.read_bytes() == b"one\ntwo\n"


@pytest.mark.django_db
def test_truncated_gzip_is_a_document_error_and_leaves_no_file(rsps, make_client, tmp_path):
    data = gzip.compress(big_text(5000))
    rsps.add(responses.GET, DOCS, body=data[: len(data) // 2],
             headers={"x-amz-request-id": "s3-req-1"})
    dest = tmp_path / "cut.txt"
    with pytest.raises(DocumentError) as info:
        make_client().download_document({"url": DOCS, "compressionAlgorithm": "GZIP"}, dest)
    assert "truncated" in str(info.value)
    assert info.value.request_id == "s3-req-1"
    assert not dest.exists()
    assert len(rsps.calls) == 1  # a corrupt document is not retried (and needs no token)


@pytest.mark.django_db
def test_document_5xx_is_retried(rsps, make_client, tmp_path):
    rsps.add(responses.GET, DOCS, status=503, body=b"")
    rsps.add(responses.GET, DOCS, body=b"ok\n")
    dest = make_client().download_document({"url": DOCS}, tmp_path / "d")
    assert dest.read_bytes() == b"ok\n"


def _report_flow(rsps, final_status, document=True):
    rsps.add(responses.POST, f"{REPORTS}/reports", status=202, json={"reportId": "R1"})
    rsps.add(responses.GET, f"{REPORTS}/reports/R1",
             json={"reportId": "R1", "processingStatus": "IN_QUEUE"})
    rsps.add(responses.GET, f"{REPORTS}/reports/R1",
             json={"reportId": "R1", "processingStatus": "IN_PROGRESS"})
    done = {"reportId": "R1", "processingStatus": final_status}
    if document:
        done["reportDocumentId"] = "D1"
    rsps.add(responses.GET, f"{REPORTS}/reports/R1", json=done)
    rsps.add(responses.GET, f"{REPORTS}/documents/D1",
             json={"reportDocumentId": "D1", "url": DOCS, "compressionAlgorithm": "GZIP"})


@pytest.mark.django_db
def test_report_fetch_creates_polls_with_backoff_and_downloads(rsps, make_client, clock):
    _report_flow(rsps, "DONE")
    rsps.add(responses.GET, DOCS, body=gzip.compress(b"amazon-order-id\n111-1\n"))
    client = make_client()
    start = clock.now()
    path = client.report_fetch("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
                               marketplace_ids=[MP], data_start_time="2026-10-01T00:00:00Z")
    try:
        assert path.read_bytes() == b"amazon-order-id\n111-1\n"
    finally:
        path.unlink()
    create = next(c for c in rsps.calls if c.request.method == "POST"
                  and c.request.url.startswith(REPORTS))
    assert json.loads(create.request.body) == {
        "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        "marketplaceIds": [MP], "dataStartTime": "2026-10-01T00:00:00Z",
    }
    # Two waits between three polls: 5 s then 10 s (simulated).
    assert clock.now() - start >= client.poll_initial * 3
    assert client.calls_by_operation["getReport"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["FATAL", "CANCELLED"])
def test_report_fetch_raises_report_failed(rsps, make_client, status):
    _report_flow(rsps, status, document=status == "FATAL")
    rsps.add(responses.GET, DOCS, body=gzip.compress(b'{"errorDetails": "bad dates"}'))
    with pytest.raises(ReportFailed) as info:
        make_client().report_fetch("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
                                   marketplace_ids=[MP])
    assert status in str(info.value)
    if status == "FATAL":
        assert "bad dates" in str(info.value)


@pytest.mark.django_db
def test_get_reports_pages_with_next_token_only(rsps, make_client):
    from urllib.parse import parse_qs, urlsplit

    rsps.add(responses.GET, f"{REPORTS}/reports",
             json={"reports": [{"reportId": "1"}], "nextToken": "abc"})
    rsps.add(responses.GET, f"{REPORTS}/reports", json={"reports": [{"reportId": "2"}]})
    got = list(make_client().get_reports(reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"],
                                         pageSize=100))
    assert [r["reportId"] for r in got] == ["1", "2"]
    second = [c for c in rsps.calls if c.request.url.startswith(f"{REPORTS}/reports")][1]
    assert parse_qs(urlsplit(second.request.url).query) == {"nextToken": ["abc"]}


@pytest.mark.django_db
def test_feed_submit_uploads_creates_polls_and_parses_issues(rsps, make_client):
    upload = "https://docs.test/upload/F1"
    rsps.add(responses.POST, f"{FEEDS}/documents", status=201,
             json={"feedDocumentId": "FD1", "url": upload})
    rsps.add(responses.PUT, upload, status=200)
    rsps.add(responses.POST, f"{FEEDS}/feeds", status=202, json={"feedId": "F1"})
    rsps.add(responses.GET, f"{FEEDS}/feeds/F1",
             json={"feedId": "F1", "feedType": "JSON_LISTINGS_FEED",
                   "processingStatus": "IN_PROGRESS"})
    rsps.add(responses.GET, f"{FEEDS}/feeds/F1",
             json={"feedId": "F1", "feedType": "JSON_LISTINGS_FEED",
                   "processingStatus": "DONE", "resultFeedDocumentId": "RD1"})
    rsps.add(responses.GET, f"{FEEDS}/documents/RD1",
             json={"feedDocumentId": "RD1", "url": DOCS})
    report = {
        "header": {"sellerId": "A1SPAPITEST", "version": "2.0", "feedId": "F1"},
        "issues": [
            {"messageId": 2, "code": "90220", "severity": "ERROR", "message": "bad qty"},
            {"messageId": 2, "code": "18027", "severity": "WARNING", "message": "hmm"},
        ],
        "summary": {"errors": 1, "warnings": 1, "messagesProcessed": 2,
                    "messagesAccepted": 1, "messagesInvalid": 1},
    }
    rsps.add(responses.GET, DOCS, body=json.dumps(report))
    feed = {"header": {"sellerId": "A1SPAPITEST", "version": "2.0"},
            "messages": [{"messageId": 1, "sku": "A", "operationType": "PATCH"},
                         {"messageId": 2, "sku": "B", "operationType": "PATCH"}]}
    result = make_client().feed_submit("JSON_LISTINGS_FEED", feed, marketplace_ids=[MP])
    put = next(c for c in rsps.calls if c.request.method == "PUT")
    assert json.loads(put.request.body) == feed
    assert put.request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert "x-amz-access-token" not in put.request.headers
    create = next(c for c in rsps.calls if c.request.url == f"{FEEDS}/feeds")
    assert json.loads(create.request.body) == {
        "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [MP], "inputFeedDocumentId": "FD1"}
    assert result.ok and result.feed_id == "F1"
    assert result.summary["messagesInvalid"] == 1
    assert [i["code"] for i in result.issues_by_message[2]] == ["90220", "18027"]
    assert [i["code"] for i in result.errors_for(2)] == ["90220"]
    assert result.errors_for(1) == []

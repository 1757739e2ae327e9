"""Reports 2021-06-30: requested reports (orders, returns) and Amazon's settlement reports.

Requested reports go IN_QUEUE -> IN_PROGRESS -> DONE (or, with the hostile profile, FATAL or
CANCELLED) as the client polls or time passes; their files come from ``sandbox.reports``.
Settlement reports are listed as the world's settlements close, in both layouts (V2, and
the V1 flat file of ``sandbox.settlement_v1``); ``settlement_v1_only`` names the marketplaces
whose settlements are listed as V1 alone (an archive Amazon offers only in that layout).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import reports as report_files
from ..money import iso_offset, parse_time
from ..settlement_v1 import (
    V1_SETTLEMENT_REPORT_TYPE,
    settlement_v1_bytes,
    v1_document_id,
    v1_report_id,
)
from ..shapes import DAY, Settlement
from .core import Request, Response, bad_request, json_response, not_found
from .documents import DocumentsApi

SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
ALL_ORDERS_REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
FBA_RETURNS_REPORT_TYPE = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS_REPORT_TYPE = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REQUESTABLE_REPORT_TYPES = (ALL_ORDERS_REPORT_TYPE, FBA_RETURNS_REPORT_TYPE,
                            MFN_RETURNS_REPORT_TYPE)


@dataclass
class ReportJob:
    id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: int
    data_end: int
    created: int
    outcome: str  # DONE | FATAL | CANCELLED
    polls: int = 0
    document_id: str | None = None
    clock: tuple[tuple, float] | None = None  # the creating client's (clock domain, time)


class ReportsApi(DocumentsApi):
    reports: dict[str, ReportJob]  # report id -> requested report
    shipments: dict[str, list[tuple[int, int]]]  # seller confirmations (OrdersApi's)
    settlement_v1_only: frozenset[str] = frozenset()  # marketplace codes

    def op_createReport(self, request: Request, seller: str) -> Response:
        body = self._json_body(request)
        report_type = self._body_text(body, "reportType")
        mps = self._body_marketplaces(body)
        if report_type in (SETTLEMENT_REPORT_TYPE, V1_SETTLEMENT_REPORT_TYPE):
            raise bad_request(
                f"Report type {report_type} cannot be requested.",
                "Settlement reports are scheduled by Amazon; list them with getReports.")
        if report_type not in REQUESTABLE_REPORT_TYPES:
            raise bad_request(f"Invalid reportType: {report_type}",
                              "The sandbox supports: " + ", ".join(REQUESTABLE_REPORT_TYPES))
        end = self._body_time(body, "dataEndTime") or self.now
        start = self._body_time(body, "dataStartTime") or end - 30 * DAY
        if start > end:
            raise bad_request("dataStartTime must be before dataEndTime.")
        n = self._next_id()
        outcome = "DONE"
        if self.hostile:
            outcome = {1: "FATAL", 2: "CANCELLED"}.get(len(self.reports) % 4, "DONE")
        report_id = str(60_000_000_000 + n)
        self.reports[report_id] = ReportJob(report_id, report_type, [m.id for m in mps],
                                            start, min(end, self.now), self.now, outcome,
                                            clock=self._client_clock(request))
        return json_response(202, {"reportId": report_id})

    def _report_status(self, job: ReportJob, request: Request | None = None) -> str:
        elapsed = self.now - job.created
        if job.polls >= 2 or elapsed >= 60 or (job.polls >= 1 and self._waited(job.clock, request)):
            status = job.outcome
        elif job.polls >= 1 or elapsed >= 20:
            status = "IN_PROGRESS"
        else:
            status = "IN_QUEUE"
        if status == "DONE" and job.document_id is None:
            job.document_id = self._make_report_document(job)
        return status

    def _make_report_document(self, job: ReportJob) -> str:
        world = self.world
        if job.report_type == ALL_ORDERS_REPORT_TYPE:
            content = report_files.all_orders_bytes(world, job.data_start, job.data_end,
                                                    job.created, job.marketplace_ids,
                                                    self.shipments)
        elif job.report_type == FBA_RETURNS_REPORT_TYPE:
            content = report_files.fba_returns_bytes(world, job.data_start, job.data_end,
                                                     job.created, job.marketplace_ids)
        else:
            content = report_files.mfn_returns_bytes(world, job.data_start, job.data_end,
                                                     job.created, job.marketplace_ids)
        return self._store_document(self._doc_id(f"report/{job.id}"), content)

    def _report_json(self, job: ReportJob, request: Request | None = None) -> dict:
        status = self._report_status(job, request)
        out: dict = {
            "marketplaceIds": job.marketplace_ids,
            "reportId": job.id,
            "reportType": job.report_type,
            "dataStartTime": iso_offset(job.data_start),
            "dataEndTime": iso_offset(job.data_end),
            "createdTime": iso_offset(job.created),
            "processingStatus": status,
        }
        if status != "IN_QUEUE":
            out["processingStartTime"] = iso_offset(job.created + 5)
        if status in ("DONE", "FATAL", "CANCELLED"):
            out["processingEndTime"] = iso_offset(job.created + 30)
        if status == "DONE":
            out["reportDocumentId"] = job.document_id
        return out

    def _settlement_json(self, settlement: Settlement, v1: bool = False) -> dict:
        return {
            "marketplaceIds": [settlement.mp.id],
            "reportId": v1_report_id(settlement) if v1 else settlement.report_id,
            "reportType": V1_SETTLEMENT_REPORT_TYPE if v1 else SETTLEMENT_REPORT_TYPE,
            "dataStartTime": iso_offset(settlement.start),
            "dataEndTime": iso_offset(settlement.end),
            "createdTime": iso_offset(settlement.created),
            "processingStatus": "DONE",
            "processingStartTime": iso_offset(settlement.created),
            "processingEndTime": iso_offset(settlement.created + 300),
            "reportDocumentId": v1_document_id(settlement) if v1 else settlement.document_id,
        }

    def _settlements_by(self) -> dict[str, tuple[Settlement, bool]]:
        """Report and document ids -> (settlement, whether it is the V1 one)."""
        out = {}
        for settlement in self.world.settlements(self.now):
            if settlement.mp.code not in self.settlement_v1_only:
                out[settlement.report_id] = out[settlement.document_id] = (settlement, False)
            out[v1_report_id(settlement)] = out[v1_document_id(settlement)] = (settlement, True)
        return out

    def op_getReports(self, request: Request, seller: str) -> Response:
        token = request.param("nextToken")
        if token:
            q = self._decode_token(token, "reports")
        else:
            types = request.param_list("reportTypes")
            if not types:
                raise bad_request("reportTypes is required when nextToken is not provided.")
            if len(types) > 10:
                raise bad_request("reportTypes accepts at most 10 values.")
            statuses = request.param_list("processingStatuses")
            bad = [s for s in statuses if s not in ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS",
                                                    "IN_QUEUE")]
            if bad:
                raise bad_request(f"Invalid processingStatuses value: {bad[0]}")
            mps = self._marketplaces(request.param_list("marketplaceIds"), required=False,
                                     name="marketplaceIds")
            since = self._time_param(request, "createdSince")
            until = self._time_param(request, "createdUntil")
            q = {"t": types, "s": statuses, "m": [m.id for m in mps],
                 "a": since if since is not None else self.now - 90 * DAY,
                 "b": until if until is not None else self.now,
                 "n": self._int_param(request, "pageSize", 10, 1, 100), "o": 0}
        rows: list[dict] = []
        if seller == self.seller_id:
            if SETTLEMENT_REPORT_TYPE in q["t"]:
                rows.extend(self._settlement_json(s) for s in self.world.settlements(self.now)
                            if s.mp.code not in self.settlement_v1_only)
            if V1_SETTLEMENT_REPORT_TYPE in q["t"]:
                rows.extend(self._settlement_json(s, v1=True)
                            for s in self.world.settlements(self.now))
            rows.extend(self._report_json(job) for job in self.reports.values()
                        if job.report_type in q["t"])
        rows = [
            r for r in rows
            if q["a"] <= parse_time(r["createdTime"]) <= q["b"]
            and (not q["s"] or r["processingStatus"] in q["s"])
            and (not q["m"] or set(r["marketplaceIds"]) & set(q["m"]))
        ]
        rows.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
        start, size = q["o"], q["n"]
        out: dict = {"reports": rows[start:start + size]}
        if start + size < len(rows):
            out["nextToken"] = self.codec.encode({**q, "k": "reports", "o": start + size})
        return json_response(200, out)

    def op_getReport(self, request: Request, seller: str, reportId: str) -> Response:
        job = self.reports.get(reportId)
        if job is not None and seller == self.seller_id:
            body = self._report_json(job, request)
            job.polls += 1
            return json_response(200, body)
        found = self._settlements_by().get(reportId)
        if found is None or seller != self.seller_id:
            raise not_found(f"Report {reportId} not found.")
        return json_response(200, self._settlement_json(*found))

    def op_getReportDocument(self, request: Request, seller: str,
                             reportDocumentId: str) -> Response:
        doc = self.documents.get(reportDocumentId)
        if doc is None:
            found = self._settlements_by().get(reportDocumentId)
            if found is None or seller != self.seller_id:
                raise not_found(f"Report document {reportDocumentId} not found.")
            settlement, v1 = found
            self._store_document(reportDocumentId, settlement_v1_bytes(settlement) if v1
                                 else report_files.settlement_bytes(settlement))
            doc = self.documents[reportDocumentId]
        if doc.upload:
            raise not_found(f"Report document {reportDocumentId} not found.")
        out = {"reportDocumentId": doc.id, "url": self._doc_url(doc.id)}
        if doc.compressed:
            out["compressionAlgorithm"] = "GZIP"
        return json_response(200, out)

"""Finances v0: listFinancialEvents pages through the world's ledger by posting time."""

from __future__ import annotations

import bisect

from ..serializers import financial_event
from .core import Request, Response, SandboxBase, bad_request, json_response


class FinancesApi(SandboxBase):
    def op_listFinancialEvents(self, request: Request, seller: str) -> Response:
        token = request.param("NextToken")
        if token:
            q = self._decode_token(token, "finances")
        else:
            after = self._time_param(request, "PostedAfter")
            before = self._time_param(request, "PostedBefore")
            if after is None:
                raise bad_request("PostedAfter is required when NextToken is not provided.")
            ceiling = self.now - 120
            before = min(before, ceiling) if before is not None else ceiling
            if after > before:
                raise bad_request("PostedAfter must be before PostedBefore.")
            q = {"a": after, "b": before, "o": 0,
                 "n": self._int_param(request, "MaxResultsPerPage", 100, 1, 100)}
        times = self.world.ledger_times
        low = bisect.bisect_left(times, q["a"])
        high = bisect.bisect_left(times, q["b"]) if seller == self.seller_id else low
        start, size = low + q["o"], q["n"]
        events: dict[str, list] = {"ShipmentEventList": [], "RefundEventList": [],
                                   "ServiceFeeEventList": [], "AdjustmentEventList": []}
        for posting in self.world.ledger[start:min(start + size, high)]:
            name, event = financial_event(posting)
            events[name].append(event)
        payload: dict = {}
        if start + size < high:
            payload["NextToken"] = self.codec.encode({**q, "k": "finances",
                                                      "o": q["o"] + size})
        payload["FinancialEvents"] = events
        return json_response(200, {"payload": payload})

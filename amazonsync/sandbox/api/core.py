"""What every API family of the sandbox shares.

``SandboxConfig``; ``Request`` and ``Response`` (transport-free: ``server.py`` turns HTTP into
them and back); ``ApiError`` and the helpers that build SP-API error and JSON bodies; and
``SandboxBase``, the base class of every family: the state they all read (config, world,
simulated now, paging codec) and the helpers they all use to read parameters, bodies and
paging tokens, and to tell which clock a client is on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from ..listings import SCHEMA_DIR
from ..money import parse_time
from ..shapes import MARKETPLACE_BY_ID, Marketplace
from ..support import BadToken, Fault, TokenCodec, dumps, loads
from ..world import World

# Seconds (on the polling client's own clock) a report or feed takes to process; otherwise
# the third poll or 60 s of the sandbox's now.
PROCESSING_SECONDS = 2.0


@dataclass
class SandboxConfig:
    seed: int = 1
    orders: int = 2000
    start: str | int | None = None  # None: the present (see module docstring)
    faults: str = "none"
    rate_limits: bool = True
    base_url: str = "http://127.0.0.1:8001"
    gzip_threshold: int = 20_000  # report documents larger than this are served GZIP
    schema_dir: str = field(default_factory=lambda: os.environ.get("SPAPI_SCHEMA_DIR",
                                                                     str(SCHEMA_DIR)))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]  # keys lower-cased, "[]" stripped
    headers: dict[str, str]  # keys lower-cased
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, raw_query = target.partition("?")
        query: dict[str, list[str]] = {}
        for key, values in parse_qs(raw_query, keep_blank_values=True).items():
            name = key[:-2] if key.endswith("[]") else key
            query.setdefault(name.lower(), []).extend(values)
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)

    def param(self, name: str) -> str | None:
        values = self.query.get(name.lower())
        return values[0] if values else None

    def param_list(self, name: str) -> list[str]:
        out = []
        for value in self.query.get(name.lower(), []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: Fault | None = None  # transport-level fault for the server to act out


class ApiError(Exception):
    """An SP-API error answer: ``{"errors": [{"code", "message", "details"}]}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def bad_request(message: str, details: str = "") -> ApiError:
    return ApiError(400, "InvalidInput", message, details)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def error_body(code: str, message: str, details: str = "") -> bytes:
    return dumps({"errors": [{"code": code, "message": message, "details": details}]})


def json_response(status: int, value) -> Response:
    return Response(status, dumps(value))


class SandboxBase:
    """State and helpers of every API family; ``Sandbox.__init__`` (app.py) sets the state."""

    config: SandboxConfig
    world: World
    seller_id: str
    now: int  # the simulated now, epoch seconds
    codec: TokenCodec  # paging tokens
    counter: int  # ids handed out so far (tokens, reports, feeds, documents)

    @property
    def hostile(self) -> bool:
        return self.config.faults == "hostile"

    def _next_id(self) -> int:
        self.counter += 1
        return self.counter

    # ------------------------------------------------------------------ client clocks
    @staticmethod
    def _simulated_clock(request: Request) -> float | None:
        try:
            return float(request.headers["x-sandbox-clock"])
        except (KeyError, ValueError):
            return None

    def _clock_domain(self, request: Request) -> tuple[str, ...]:
        """("wall",) for wall-clock clients, ("simulated", clock id) for simulated clocks."""
        if self._simulated_clock(request) is None:
            return ("wall",)
        return ("simulated", request.headers.get("x-sandbox-clock-id", ""))

    def _bucket_time(self, request: Request) -> float:
        simulated = self._simulated_clock(request)
        return time.monotonic() if simulated is None else simulated

    def _client_clock(self, request: Request) -> tuple[tuple, float]:
        """The requesting client's clock: its domain and its time."""
        return (self._clock_domain(request), self._bucket_time(request))

    def _waited(self, clock: tuple[tuple, float] | None, request: Request | None) -> bool:
        """The client that created a job (its ``clock``) has waited its processing time on its
        own clock (wall or simulated): a report or feed takes seconds, whatever the sandbox's
        now."""
        if request is None or clock is None:
            return False
        domain, created = clock
        now_domain, now = self._client_clock(request)
        return domain == now_domain and now - created >= PROCESSING_SECONDS

    # ------------------------------------------------------------------ parameters
    def _check_seller(self, seller: str, seller_id: str) -> None:
        if seller_id != seller:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The sellerId does not match the access token.")

    def _marketplaces(self, ids: list[str], *, required: bool = True,
                      name: str = "MarketplaceIds") -> list[Marketplace]:
        if not ids:
            if required:
                raise bad_request(f"{name} is required.")
            return []
        out = []
        for mp_id in ids:
            mp = MARKETPLACE_BY_ID.get(mp_id)
            if mp is None:
                raise bad_request(f"Invalid {name}: {mp_id}", "Unknown marketplace identifier.")
            out.append(mp)
        return out

    def _time_param(self, request: Request, name: str) -> int | None:
        value = request.param(name)
        if value is None or value == "":
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise bad_request(f"{name} is not a valid ISO 8601 date-time: {value}") from exc

    def _int_param(self, request: Request, name: str, default: int, low: int, high: int) -> int:
        value = request.param(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError as exc:
            raise bad_request(f"{name} must be an integer.") from exc
        if not low <= number <= high:
            raise bad_request(f"{name} must be between {low} and {high}.")
        return number

    def _decode_token(self, token: str, kind: str) -> dict:
        try:
            return self.codec.decode(token, kind)
        except BadToken as exc:
            raise bad_request("Invalid NextToken.",
                              "The NextToken is malformed or expired.") from exc

    def _json_body(self, request: Request) -> dict:
        try:
            body = loads(request.body or b"{}")
        except ValueError as exc:
            raise bad_request("The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body

    @staticmethod
    def _body_text(body: dict, name: str) -> str:
        """A required, non-empty string of a JSON body."""
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise bad_request(f"{name} is required.")
        return value

    def _body_marketplaces(self, body: dict) -> list[Marketplace]:
        """The required, non-empty ``marketplaceIds`` list of a JSON body."""
        ids = body.get("marketplaceIds")
        if not isinstance(ids, list) or not ids:
            raise bad_request("marketplaceIds is required and must not be empty.")
        return self._marketplaces([str(i) for i in ids], name="marketplaceIds")

    def _body_time(self, body: dict, name: str) -> int | None:
        value = body.get(name)
        if value in (None, ""):
            return None
        try:
            return parse_time(str(value))
        except ValueError as exc:
            raise bad_request(f"{name} is not a valid ISO 8601 date-time.") from exc

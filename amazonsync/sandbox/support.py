"""Small pieces of the sandbox: JSON with exact decimals, paging tokens, token buckets, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
from dataclasses import dataclass
from decimal import Decimal

# ---------------------------------------------------------------------------- JSON

_DEC_MARK = "\u0000D:"
_DEC_RE = re.compile(r'"\\u0000D:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark_decimals(value):
    if isinstance(value, Decimal):
        return _DEC_MARK + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


def dumps(value) -> bytes:
    """JSON bytes; ``Decimal`` becomes a JSON number written exactly (never via float)."""
    text = json.dumps(_mark_decimals(value), ensure_ascii=False, separators=(",", ":"))
    return _DEC_RE.sub(r"\1", text).encode("utf-8")


def loads(data: bytes | str):
    """JSON with numbers that have fractions parsed as ``Decimal``."""
    return json.loads(data, parse_float=Decimal)


# ---------------------------------------------------------------------------- paging tokens


class BadToken(ValueError):
    """A NextToken the sandbox did not issue (or that was altered)."""


class TokenCodec:
    """Stateless, tamper-evident paging tokens: base64url(JSON) + '.' + HMAC prefix."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(secret.encode()).digest()

    def _sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()[:20]

    def encode(self, payload: dict) -> str:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + self._sign(body)

    def decode(self, token: str, kind: str) -> dict:
        try:
            encoded, signature = token.strip().rsplit(".", 1)
            body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, TypeError) as exc:
            raise BadToken("malformed") from exc
        if not hmac.compare_digest(self._sign(body), signature):
            raise BadToken("signature")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise BadToken("payload") from exc
        if not isinstance(payload, dict) or payload.get("k") != kind:
            raise BadToken("kind")
        return payload


# ---------------------------------------------------------------------------- rate limits


class RateLimiter:
    """Token buckets per key (clock domain, seller, operation): ``burst`` tokens, refilled at
    ``rate`` per second of the key's own clock."""

    def __init__(self) -> None:
        self._buckets: dict[tuple, tuple[float, float]] = {}

    def allow(self, key: tuple, rate: float, burst: int, now: float) -> bool:
        tokens, last = self._buckets.get(key, (float(burst), now))
        elapsed = max(0.0, now - last)
        tokens = min(float(burst), tokens + elapsed * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, max(now, last))
            return True
        self._buckets[key] = (tokens, max(now, last))
        return False

    def reset(self) -> None:
        self._buckets.clear()


# ---------------------------------------------------------------------------- faults

FAULT_PROFILES = ("none", "flaky", "hostile")


@dataclass(frozen=True)
class Fault:
    kind: str  # throttle | error500 | error503 | slow | drop
    delay: float = 0.0


class FaultPlan:
    """Deterministic transport faults for the ``flaky`` profile.

    Decided per request sequence number from the seed; never more than ``max_consecutive``
    failing answers in a row, so a client that retries always gets through.
    """

    def __init__(self, profile: str, seed: int, *, rate: float = 0.3,
                 max_consecutive: int = 2) -> None:
        if profile not in FAULT_PROFILES:
            raise ValueError(f"unknown fault profile {profile!r}; use one of {FAULT_PROFILES}")
        self.profile = profile
        self.seed = seed
        self.rate = rate
        self.max_consecutive = max_consecutive
        self._streak = 0

    def decide(self, seq: int) -> Fault | None:
        if self.profile != "flaky":
            return None
        rng = random.Random(f"{self.seed}/fault/{seq}")
        roll = rng.random()
        if roll >= self.rate or self._streak >= self.max_consecutive:
            self._streak = 0
            if self.rate <= roll < self.rate + 0.08:
                return Fault("slow", delay=round(rng.uniform(0.02, 0.2), 3))
            return None
        self._streak += 1
        kind = rng.choice(("throttle", "throttle", "error500", "error503", "drop"))
        return Fault(kind)

"""Token buckets per (seller account, SP-API operation), shared by every worker process.

A bucket holds ``burst`` tokens and is refilled at ``rate`` tokens per second (Amazon's
usage plan of the operation, refined by the ``x-amzn-RateLimit-Limit`` response header).
A caller *reserves* a token: the level may go below zero, and the caller then waits (on the
client's clock) until its token has been restored. One reservation is one compare-and-swap,
so concurrent callers queue up fairly instead of all polling the bucket, and nobody sends a
request that Amazon would throttle.

Stores (any object with the ``BucketStore`` methods):

* ``RedisBucketStore`` — one hash per bucket, updated atomically by a Lua script.
* ``MemoryBucketStore`` — one process only (tests, benchmarks, scripts): the client's default.
* ``amazonsync.buckets.DatabaseBucketStore`` — a ``RateLimitBucket`` row per bucket, on the
  engine side (this package imports no model); ``amazonsync.buckets.default_bucket_store``
  picks Redis when ``settings.REDIS_URL`` is set, else the database, for the clients the
  engine builds.

Bucket times are seconds on the client's clock, so a simulated clock drives them too.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock
from .operations import OPERATIONS

# A token is used a hair after it is due, so float rounding never makes Amazon (or the
# sandbox) see 0.99999 of a token.
SAFETY_MARGIN = 0.001
# On a real clock the request also crosses the network, whose delay varies by some
# milliseconds: a token is used this much after it is due.
REAL_CLOCK_MARGIN = 0.05
# A bucket last refreshed further than this in the future was written on another clock
# (a simulated one, or a badly skewed host): restart its timeline at ``now`` instead of
# waiting for that future.
MAX_SKEW = 5.0


@dataclass(frozen=True)
class Reservation:
    tokens: float  # level after taking the token (negative: in debt)
    refreshed_at: float
    wait: float  # seconds from ``now`` until the token is available


def take_token(
    *, tokens: float, rate: float, burst: float, refreshed_at: float, now: float,
    margin: float = SAFETY_MARGIN,
) -> Reservation:
    """The pure bucket arithmetic shared by every store."""
    if refreshed_at > now + MAX_SKEW:
        refreshed_at = now
    t = max(now, refreshed_at)
    level = min(burst, tokens + rate * (t - refreshed_at))
    new = level - 1.0
    wait = t - now
    if new < 0:
        wait += -new / rate if rate > 0 else float("inf")
        wait += margin
    return Reservation(tokens=new, refreshed_at=t, wait=max(0.0, wait))


def drained(*, tokens: float, rate: float, burst: float, refreshed_at: float, now: float):
    """After a 429: the server's bucket is empty, so ours is at most empty at ``now``."""
    if refreshed_at > now + MAX_SKEW:
        refreshed_at = now
    t = max(now, refreshed_at)
    level = min(burst, tokens + rate * (t - refreshed_at))
    return min(level, 0.0), t


class BucketStore(Protocol):
    def reserve(
        self, *, account_id: int, operation: str, rate: float, burst: float, now: float,
        margin: float = SAFETY_MARGIN,
    ) -> float:
        """Take one token at ``now``; return the seconds to wait before using it."""

    def set_rate(self, *, account_id: int, operation: str, rate: float) -> None:
        """Amazon told us the operation's rate for this account (response header)."""

    def drain(self, *, account_id: int, operation: str, now: float) -> None:
        """We were throttled anyway (another application, clock skew): empty the bucket."""

    def get(self, *, account_id: int, operation: str) -> dict | None:
        """The stored bucket (tokens, rate, burst, refreshed_at) or None."""


class MemoryBucketStore:
    """In-process buckets (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, str], dict] = {}

    def reserve(self, *, account_id, operation, rate, burst, now, margin=SAFETY_MARGIN):
        with self._lock:
            b = self._buckets.setdefault(
                (account_id, operation),
                {"tokens": float(burst), "rate": rate, "burst": float(burst),
                 "refreshed_at": now},
            )
            r = take_token(tokens=b["tokens"], rate=b["rate"], burst=b["burst"],
                           refreshed_at=b["refreshed_at"], now=now, margin=margin)
            b["tokens"], b["refreshed_at"] = r.tokens, r.refreshed_at
            return r.wait

    def set_rate(self, *, account_id, operation, rate):
        with self._lock:
            b = self._buckets.get((account_id, operation))
            if b is not None:
                b["rate"] = rate

    def drain(self, *, account_id, operation, now):
        with self._lock:
            b = self._buckets.get((account_id, operation))
            if b is not None:
                b["tokens"], b["refreshed_at"] = drained(now=now, **b)

    def get(self, *, account_id, operation):
        with self._lock:
            b = self._buckets.get((account_id, operation))
            return dict(b) if b is not None else None


_RESERVE_LUA = """
local v = redis.call('HMGET', KEYS[1], 'tokens', 'rate', 'burst', 'refreshed_at')
local now = tonumber(ARGV[1])
local tokens, rate, burst, ref
if not v[1] then
  rate = tonumber(ARGV[2]); burst = tonumber(ARGV[3]); tokens = burst; ref = now
else
  tokens = tonumber(v[1]); rate = tonumber(v[2]); burst = tonumber(v[3]); ref = tonumber(v[4])
end
if ref > now + tonumber(ARGV[5]) then ref = now end
local t = math.max(now, ref)
local level = math.min(burst, tokens + rate * (t - ref))
local new = level - 1
local wait = t - now
if new < 0 then wait = wait + (-new) / rate + tonumber(ARGV[4]) end
redis.call('HMSET', KEYS[1], 'tokens', string.format('%.17g', new),
  'rate', string.format('%.17g', rate), 'burst', string.format('%.17g', burst),
  'refreshed_at', string.format('%.17g', t))
redis.call('EXPIRE', KEYS[1], 604800)
return string.format('%.17g', wait)
"""

_DRAIN_LUA = """
local v = redis.call('HMGET', KEYS[1], 'tokens', 'rate', 'burst', 'refreshed_at')
if not v[1] then return 0 end
local now = tonumber(ARGV[1])
local tokens = tonumber(v[1]); local rate = tonumber(v[2])
local burst = tonumber(v[3]); local ref = tonumber(v[4])
if ref > now + tonumber(ARGV[2]) then ref = now end
local t = math.max(now, ref)
local level = math.min(burst, tokens + rate * (t - ref))
if level > 0 then level = 0 end
redis.call('HMSET', KEYS[1], 'tokens', string.format('%.17g', level),
  'refreshed_at', string.format('%.17g', t))
return 1
"""


class RedisBucketStore:
    """One Redis hash per bucket; every update is one atomic Lua script."""

    prefix = "amazonsync:spapi:bucket"

    def __init__(self, url: str | None = None, client=None) -> None:
        if client is None:
            import redis  # the redis package comes with django's RedisCache backend

            client = redis.Redis.from_url(url)
        self._redis = client
        self._reserve = client.register_script(_RESERVE_LUA)
        self._drain = client.register_script(_DRAIN_LUA)

    def _key(self, account_id, operation) -> str:
        return f"{self.prefix}:{account_id}:{operation}"

    def reserve(self, *, account_id, operation, rate, burst, now, margin=SAFETY_MARGIN):
        wait = self._reserve(
            keys=[self._key(account_id, operation)],
            args=[repr(float(now)), repr(float(rate)), repr(float(burst)), repr(margin),
                  repr(MAX_SKEW)],
        )
        return max(0.0, float(wait))

    def set_rate(self, *, account_id, operation, rate):
        key = self._key(account_id, operation)
        if self._redis.exists(key):
            self._redis.hset(key, "rate", repr(float(rate)))

    def drain(self, *, account_id, operation, now):
        self._drain(keys=[self._key(account_id, operation)],
                    args=[repr(float(now)), repr(MAX_SKEW)])

    def get(self, *, account_id, operation):
        raw = self._redis.hgetall(self._key(account_id, operation))
        if not raw:
            return None
        return {k.decode() if isinstance(k, bytes) else k: float(v) for k, v in raw.items()}


class RateLimiter:
    """Waits (on the clock) for a token of an operation for one account.

    ``waited`` is the total time spent waiting for tokens ("quota seconds"), also per
    operation in ``waited_by_operation``.
    """

    def __init__(self, *, account_id: int, store: BucketStore, clock: Clock) -> None:
        self.account_id = account_id
        self.store = store
        self.clock = clock
        self.waited = 0.0
        self.waited_by_operation: dict[str, float] = defaultdict(float)
        self._known_rates: dict[str, float] = {}
        self.margin = SAFETY_MARGIN if getattr(clock, "simulated", False) else REAL_CLOCK_MARGIN

    def acquire(self, operation: str) -> float:
        op = OPERATIONS[operation]
        rate = self._known_rates.get(operation, op.rate)
        wait = self.store.reserve(
            account_id=self.account_id, operation=operation, rate=rate, burst=op.burst,
            now=self.clock.now(), margin=self.margin,
        )
        if wait > 0:
            self.clock.sleep(wait)
            self.waited += wait
            self.waited_by_operation[operation] += wait
        return wait

    def refine(self, operation: str, rate: float) -> None:
        """Apply the rate from an ``x-amzn-RateLimit-Limit`` header (stored once per change)."""
        if rate <= 0 or self._known_rates.get(operation) == rate:
            return
        self._known_rates[operation] = rate
        self.store.set_rate(account_id=self.account_id, operation=operation, rate=rate)

    def throttled(self, operation: str) -> None:
        self.store.drain(account_id=self.account_id, operation=operation, now=self.clock.now())

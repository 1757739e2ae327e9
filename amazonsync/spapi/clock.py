"""Injectable clocks: the client waits for rate-limit tokens and backs off through one.

``RealClock`` is wall time. ``SimulatedClock`` never really sleeps: ``sleep`` advances
``now`` at once, so tests and benchmarks can spend hours of quota in milliseconds. When a
client runs on a simulated clock it sends ``x-sandbox-clock: <now>`` (and the clock's
``domain``) so the local sandbox judges its rate limits by the same time, in buckets apart from
wall-clock clients.

A flow reads the time from its client's clock (``FlowContext.now``), so one run has one notion
of time: ``utcnow(clock)`` turns a clock reading into an aware UTC datetime.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    simulated: bool

    def now(self) -> float:
        """Seconds (epoch-like, monotonic enough for token buckets)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class RealClock:
    simulated = False

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock whose ``sleep`` advances ``now`` instantly; thread safe.

    ``slept`` is the total simulated time spent sleeping. Clients on simulated clocks of the
    same ``domain`` share the sandbox's simulated-time buckets.
    """

    simulated = True

    def __init__(self, start: float | None = None, *, domain: str = "simulated") -> None:
        self._now = float(time.time() if start is None else start)
        self.domain = domain
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._now += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward without counting it as sleep (e.g. work done elsewhere)."""
        with self._lock:
            self._now += max(0.0, seconds)

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now:.3f})"


def utcnow(clock: Clock) -> datetime.datetime:
    """The clock's now as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(clock.now(), datetime.UTC)

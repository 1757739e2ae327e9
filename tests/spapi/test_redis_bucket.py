"""The Redis bucket store's Lua scripts, run by a real redis-server.

The redis Python package is not a dependency of this project, so the store is driven through
a minimal RESP client here (same three methods the store uses). Skipped without
redis-server on the PATH.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import SAFETY_MARGIN, RateLimiter, RedisBucketStore

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


class MiniRedis:
    """Just enough RESP for RedisBucketStore: EVAL, EXISTS, HSET, HGETALL."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def _send(self, *parts) -> object:
        out = [b"*%d\r\n" % len(parts)]
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def register_script(self, script: str):
        def run(keys=(), args=()):
            return self._send("EVAL", script, len(keys), *keys, *args)

        return run

    def exists(self, key: str) -> int:
        return self._send("EXISTS", key)

    def hset(self, key: str, field: str, value: str) -> int:
        return self._send("HSET", key, field, value)

    def hgetall(self, key: str) -> dict:
        flat = self._send("HGETALL", key)
        return dict(zip(flat[::2], flat[1::2], strict=True))


@pytest.fixture(scope="module")
def redis_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                pytest.skip("redis-server did not start")
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_store_waits_like_the_others(redis_port):
    store = RedisBucketStore(client=MiniRedis(redis_port))
    clock = SimulatedClock(start=5_000)
    limiter = RateLimiter(account_id=1, store=store, clock=clock)
    for _ in range(23):  # burst 20, then 3 tokens at 0.0167/s
        limiter.acquire("getOrders")
    assert limiter.waited == pytest.approx(3 / 0.0167, abs=0.01)
    bucket = store.get(account_id=1, operation="getOrders")
    assert bucket["burst"] == 20 and bucket["rate"] == pytest.approx(0.0167)
    # The last caller reserved a token it then waited for: the bucket is one token in debt
    # as of that reservation.
    assert bucket["tokens"] == pytest.approx(-1, abs=0.01)
    assert bucket["refreshed_at"] == pytest.approx(clock.now() - 1 / 0.0167, abs=0.01)


def test_redis_store_refine_and_drain(redis_port):
    store = RedisBucketStore(client=MiniRedis(redis_port))
    clock = SimulatedClock(start=9_000)
    limiter = RateLimiter(account_id=2, store=store, clock=clock)
    limiter.acquire("getOrder")
    limiter.refine("getOrder", 4.0)
    assert store.get(account_id=2, operation="getOrder")["rate"] == 4.0
    limiter.throttled("getOrder")  # a 429: the bucket is empty now
    assert store.get(account_id=2, operation="getOrder")["tokens"] == 0
    assert limiter.acquire("getOrder") == pytest.approx(1 / 4.0 + SAFETY_MARGIN)


def test_two_stores_share_one_redis_bucket(redis_port):
    a = RedisBucketStore(client=MiniRedis(redis_port))
    b = RedisBucketStore(client=MiniRedis(redis_port))
    waits = [
        store.reserve(account_id=3, operation="getListingsItem", rate=5.0, burst=10, now=100.0)
        for store in (a, b) * 6
    ]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.2 + SAFETY_MARGIN, 0.4 + SAFETY_MARGIN])

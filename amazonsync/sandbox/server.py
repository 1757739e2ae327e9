"""HTTP front of the sandbox: stdlib ``ThreadingHTTPServer``, no Django in the request path.

``start_sandbox()`` runs it on a free port in a background thread and returns ``(url, stop)``;
``serve_forever()`` is what ``manage.py spapi_sandbox`` runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .api.core import Request, Response, SandboxConfig
from .app import Sandbox
from .world import World


class _Handler(BaseHTTPRequestHandler):
    server_version = "SandboxSPAPI/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write (flushed per request)
    disable_nagle_algorithm = True
    sandbox: Sandbox  # set on the subclass built per server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            try:
                return self.rfile.read(int(length))
            except ValueError:
                return b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _serve(self) -> None:
        body = self._read_body()
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        response: Response = self.sandbox.handle(request)
        fault = response.fault
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        payload = b"" if self.command == "HEAD" else response.body
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


def make_server(sandbox: Sandbox | None, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> ThreadingHTTPServer:
    handler = type("SandboxHandler", (_Handler,), {"sandbox": sandbox})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.verbose = verbose  # type: ignore[attr-defined]
    return server


def start_sandbox(
    config: SandboxConfig | None = None,
    *,
    world: World | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **overrides,
) -> tuple[str, Callable[[], None]]:
    """Serve a sandbox in a background thread on a free port; returns (base url, stop()).

    Same arguments as ``start_sandbox_app``, which also returns the ``Sandbox`` object.
    """
    url, stop, _ = start_sandbox_app(config, world=world, host=host, port=port, **overrides)
    return url, stop


def start_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    world: World | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **overrides,
) -> tuple[str, Callable[[], None], Sandbox]:
    """Serve a sandbox in a background thread; returns (base url, stop(), sandbox).

    ``port=0`` picks a free port. Keyword overrides go to ``SandboxConfig`` (seed, orders,
    faults, rate_limits, start, gzip_threshold...). The base URL handed to clients (and used
    in document URLs) is ``http://host:port``.
    """
    config = config or SandboxConfig(**overrides)
    sock_server = make_server(None, host, port)
    url = f"http://{host}:{sock_server.server_address[1]}"
    config.base_url = url
    sandbox = Sandbox(config, world=world)
    sock_server.RequestHandlerClass.sandbox = sandbox  # type: ignore[attr-defined]
    thread = threading.Thread(target=sock_server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="spapi-sandbox", daemon=True)
    thread.start()

    def stop() -> None:
        sock_server.shutdown()
        sock_server.server_close()
        thread.join(timeout=5)

    return url, stop, sandbox


def serve_forever(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8001,
                  verbose: bool = True, ready: Callable[[Sandbox], None] | None = None) -> None:
    """Blocking server for the management command; Ctrl-C stops it."""
    sandbox = Sandbox(config)
    server = make_server(sandbox, host, port, verbose=verbose)
    if ready is not None:
        ready(sandbox)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

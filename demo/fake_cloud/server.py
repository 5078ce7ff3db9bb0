"""The fake cloud's listener: an HTTP CONNECT proxy on loopback that answers intercepted hosts itself.

One port on 127.0.0.1, one thread per connection:

- ``CONNECT host:443`` for an intercepted host (:data:`INTERCEPTED_HOSTS`) is answered
  ``200 Connection Established``; the socket is then wrapped in TLS with the state directory's leaf
  certificate and HTTP/1.1 requests on it are served by :class:`~cockpit.demo.fake_cloud.api.Api`.
  Any other CONNECT is answered 502 (and logged): nothing is ever forwarded to the network.
- Plain HTTP requests on the same port (origin-form or absolute-form) are served directly; the control
  API is only reachable this way.

Every request goes to the request log. Handler threads are daemons, so stopping never waits for an
open tunnel.
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import Api, Request, Response, Via, log_entry
from .certs import INTERCEPTED_HOSTS, CertPaths, server_context
from .requestlog import RequestLog
from .store import Store

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 60.0  # seconds a connection may sit idle before its thread gives up
MAX_BODY = 16 * 1024 * 1024


class FakeCloudServer(ThreadingHTTPServer):
    """The listener; ``port`` is known once constructed (bound to port 0 unless told otherwise)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, store: Store, request_log: RequestLog, certs: CertPaths, port: int = 0) -> None:
        self.api = Api(store, request_log)
        self.request_log = request_log
        self.tls = server_context(certs)
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        """Serve in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread


class _SendAll(io.BufferedIOBase):
    """A write-only file over a socket that never writes short (``sendall``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeCodexCloud/1"
    timeout = IDLE_TIMEOUT
    server: FakeCloudServer
    tunnel_host: str | None = None
    _tls: ssl.SSLSocket | None = None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    # -- CONNECT -------------------------------------------------------------------------------------

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        allowed = self.tunnel_host is None and host in INTERCEPTED_HOSTS and port == "443"
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"via": "connect", "host": host, "method": "CONNECT", "path": self.path, "query": {}}
        entry |= {"headers": headers, "body": None}
        if not allowed:
            self.server.request_log.add({**entry, "status": 502})
            self.close_connection = True
            self._send(
                Response(502, f"the fake cloud does not connect to {self.path}\n".encode(), "text/plain")
            )
            return
        self.server.request_log.add({**entry, "status": 200})
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake for %s failed: %s", host, exc)
            self.close_connection = True
            return
        self._tls = tls
        self.connection = tls
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = _SendAll(tls)
        self.tunnel_host = host
        self.close_connection = False

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._tls is not None:
                try:
                    self._tls.close()
                except OSError:
                    pass

    # -- HTTP ----------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        via: Via = "tunnel" if self.tunnel_host is not None else "direct"
        target = urlsplit(self.path)  # absolute-form on the direct port too
        host = self.tunnel_host or target.hostname or (self.headers.get("Host") or "").split(":")[0] or None
        try:
            body = self._read_body()
        except ValueError:
            self._send(Response(400, b'{"detail": "bad body"}'))
            self.close_connection = True
            return
        request = Request(
            method=self.command,
            path=target.path or "/",
            query=parse_qs(target.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            via=via,
            host=host,
        )
        try:
            response = self.server.api.handle(request)
        except Exception:  # a bug in the fake: answer 500 rather than drop the connection
            log.exception("fake cloud route failed")
            response = Response(500, b'{"detail": "fake cloud internal error"}')
        self.server.request_log.add(log_entry(request, response))
        self._send(response)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

"""What the project's two scripted model servers share: a threaded loopback HTTP server, its start and
its stop (stalled, delayed and gated replies released at once), the scenarios and how one is matched to
a conversation, gates, and the requests seen; and the wire both speak (a request's body, SSE frames, a
reply held, streamed or stalled). :mod:`cockpit.demo.scripted_model` (Responses API, for
Codex) and :mod:`cockpit.demo.scripted_claude` (Messages API, for Claude Code) add their wire formats.

Standard library only: one thread per connection, so parallel clients are served concurrently.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar

log = logging.getLogger(__name__)


class MatchedScenario(Protocol):
    """What a scenario offers the matching: a needle to find in the conversation ("" matches any)."""

    match: str


S = TypeVar("S", bound=MatchedScenario)
R = TypeVar("R")


class Disconnected(Exception):
    """The client went away mid-reply."""


@dataclass
class Conversation(Generic[S]):
    """One conversation's place in its scenario (a Codex thread, a Claude Code session)."""

    scenario: S | None
    cursor: int = 0


@dataclass
class Plan(Generic[S]):
    """What one request is answered with."""

    scenario: S | None
    index: int | None
    response: Any  # a member of the scenario's responses
    exhausted: bool = False


def sse_frame(event: str, data: Any) -> bytes:
    """One server-sent event: ``data`` as compact JSON (a string as given), one ``data:`` line a line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = "".join(f"data: {line}\n" for line in payload.split("\n"))
    return f"event: {event}\n{lines}\n".encode()


def raw_frame(event: Any) -> bytes:
    """A scenario's literal frame (a ``RawEvent`` or a string written verbatim, ended by a blank line)."""
    if isinstance(event, str):
        return (event if event.endswith("\n\n") else event.rstrip("\n") + "\n\n").encode()
    name = event.event
    if name is None:
        name = str(event.data.get("type", "message")) if isinstance(event.data, dict) else "message"
    return sse_frame(name, event.data)


def phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``HTTP 599`` for one without)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def writer(handler: BaseHTTPRequestHandler) -> Callable[[bytes], None]:
    """Write and flush to the client; :class:`Disconnected` when it has gone."""

    def write(data: bytes) -> None:
        try:
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError as exc:
            raise Disconnected from exc

    return write


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body, sized by ``Content-Length`` or sent chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ScriptServer[Any, Any]) -> None:
        self.owner = owner
        super().__init__(address, LoopbackHandler)


class LoopbackHandler(BaseHTTPRequestHandler):
    server: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    def do_GET(self) -> None:
        self.server.owner._on_get(self)

    def do_HEAD(self) -> None:
        self.server.owner._on_head(self)


class ScriptServer(Generic[S, R]):
    """A loopback server that replays scenarios (``S``) and records the requests (``R``) it serves."""

    thread_name = "scripted-server"

    def __init__(
        self, scenarios: Iterable[S] = (), default: S | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self.port = port
        self.default = default
        self._scenarios: list[S] = list(scenarios)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests: list[R] = []
        self._gates: dict[str, bool] = {}
        self._in_flight = 0
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._server: LoopbackServer | None = None
        self._serve_thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._server = LoopbackServer((self.host, self.port), self)
        self.port = int(self._server.server_address[1])
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=self.thread_name,
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop serving; stalled, delayed and gated replies are released at once."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        with self._cond:
            self._cond.notify_all()
        server.shutdown()
        server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=drain_timeout)
        with self._cond:
            self._cond.wait_for(lambda: self._in_flight == 0, timeout=drain_timeout)
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._server = None
        self._serve_thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scenarios, gates, inspection -----------------------------------------------------------

    def add_scenario(self, scenario: S) -> None:
        with self._lock:
            self._scenarios.append(scenario)

    @property
    def scenarios(self) -> list[S]:
        with self._lock:
            return list(self._scenarios)

    def open_gate(self, name: str) -> None:
        """Release every reply held on ``gate = name`` now and in future."""
        with self._cond:
            self._gates[name] = True
            self._cond.notify_all()

    def close_gate(self, name: str) -> None:
        with self._cond:
            self._gates[name] = False

    @property
    def requests(self) -> list[R]:
        with self._lock:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Block until no request is being served; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    # -- request handling -----------------------------------------------------------------------

    def _pick_scenario(self, texts: list[str]) -> S | None:
        """The scenario for a new conversation whose user texts are ``texts``: the last one (the prompt)
        decides first, then any; a scenario with an empty ``match`` catches the rest, then the default.
        Called with the lock held."""
        specific = [(s.match, s) for s in self._scenarios if s.match]
        for haystack in (texts[-1:], texts):
            for needle, scenario in specific:
                if any(needle in text for text in haystack):
                    return scenario
        for scenario in self._scenarios:
            if scenario.match == "":
                return scenario
        return self.default

    def _handle(self, handler: LoopbackHandler) -> None:
        raise NotImplementedError

    def _hold(self, response: Any) -> None:
        """Wait out a response's ``delay_ms`` and its ``gate`` (both end at once when the server stops)."""
        if response.delay_ms:
            self._stopping.wait(response.delay_ms / 1000)
        if response.gate is not None:
            with self._cond:
                self._cond.wait_for(lambda: self._gates.get(response.gate, False) or self._stopping.is_set())

    def _stall(self, handler: LoopbackHandler, seconds: float) -> None:
        """Wait until ``seconds`` pass, the server stops or the client hangs up."""
        deadline = time.monotonic() + seconds
        conn: socket.socket = handler.connection
        watch: list[Any] = [conn, self._wake_r]
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select(watch, [], [], remaining)
            if self._wake_r in readable or self._stopping.is_set():
                return
            if conn in readable:
                try:
                    peeked = conn.recv(1, socket.MSG_PEEK)
                except OSError:
                    return
                if not peeked:
                    return
                watch = [self._wake_r]  # unexpected bytes from the client: only stop/deadline end the stall

    @staticmethod
    def _start_stream(handler: LoopbackHandler, extra: dict[str, str]) -> None:
        """An event-stream answer's status and headers (``extra`` last); the connection closes after it."""
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()

    def _on_get(self, handler: LoopbackHandler) -> None:
        handler.send_error(HTTPStatus.NOT_FOUND)

    def _on_head(self, handler: LoopbackHandler) -> None:
        handler.send_error(HTTPStatus.NOT_IMPLEMENTED)

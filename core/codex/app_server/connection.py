"""One ``codex app-server`` process and the JSON-RPC line transport over its stdio: spawning it, the
transcript of every line, requests and their answers, incoming messages in order, and shutdown.

``codex app-server`` speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member, one JSON object per line on
stdin/stdout (decoded and encoded by :mod:`cockpit.core.codex.app_server.protocol`). Client and server
number their requests independently, both from 0.

The server is spawned in a session of its own with a parent-death signal, so it never outlives the
cockpit. Every line received is appended byte for byte to a transcript file as it arrives, and every line
sent is appended as written (or, with ``sent_path``, to a file of its own, as the mcp lane's runner does
so that its ``events.jsonl`` holds only what Codex said). Parsing is lenient: lines that are not JSON-RPC
are only counted (:attr:`AppServerConnection.malformed`), unknown methods are delivered unchanged.

Incoming notifications and server requests are delivered, in order, as :class:`Incoming` objects through
an :class:`asyncio.Queue` (:meth:`AppServerConnection.next_incoming`, ``async for``); a subclass sees each
first (:meth:`AppServerConnection._accept`) and may keep it off the queue.

Shutdown (:meth:`AppServerConnection.close`): close stdin (the server exits 0 on EOF), then SIGTERM and
SIGKILL to the process group by PID if it lingers. If the cockpit dies instead, the server sees EOF and
also gets SIGKILL from the kernel (``PR_SET_PDEATHSIG``). That signal follows the *thread* that spawned
the server: start the connection on an event loop that lives as long as the lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self, TypeVar

from cockpit.core.codex.app_server.protocol import (
    Notification,
    RequestId,
    Response,
    WireModel,
    decode_line,
    encode_line,
)
from cockpit.core.errors import CodexError
from cockpit.core.layout import STDERR_FILE
from cockpit.core.processes import die_with_parent, kill_group

log = logging.getLogger(__name__)

STREAM_LIMIT = 64 * 1024 * 1024  # StreamReader limit: single lines can be megabytes
READ_CHUNK = 1024 * 1024


class AppServerError(CodexError):
    """An error response to one of our requests (every one seen so far has code -32600)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.data = data


class AppServerClosed(CodexError, ConnectionError):
    """The app-server's stdout ended (or it was never started) before the awaited thing happened."""


_M = TypeVar("_M", bound=WireModel)


@dataclass(frozen=True)
class Incoming:
    """A notification or server request, as received. ``typed`` is the parsed helper model for the
    methods the lane understands (see :data:`~cockpit.core.codex.app_server.protocol.NOTIFICATION_MODELS`),
    ``None`` for others or when it could not be repaired."""

    method: str
    params: Any
    line: bytes
    request_id: RequestId | None = None  # set for server requests only
    typed: WireModel | None = None
    received_at: float = 0.0  # time.time()

    @property
    def is_request(self) -> bool:
        return self.request_id is not None

    def as_(self, model: type[_M]) -> _M | None:
        return self.typed if isinstance(self.typed, model) else None


class AppServerConnection:
    """One ``codex app-server`` process and the line transport over its stdio.

    Use from one event loop. ``start`` first; ``close`` (or ``async with``) last.
    """

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.transcript_path: Path | None = None
        self.stderr_path: Path | None = None
        self.sent_path: Path | None = None
        self.malformed = 0  # lines that were not JSON-RPC messages (or answered nothing we asked)
        self.received = 0  # lines received
        self.sent = 0  # lines sent
        self.transcript_errors = 0  # failed writes to the transcript
        self.last_received_at = time.monotonic()  # the last line from the server (or the start)
        self.incoming: asyncio.Queue[Incoming | None] = asyncio.Queue()
        self._next_id = 0
        self._pending: dict[RequestId, asyncio.Future[Any]] = {}
        self._transcript: IO[bytes] | None = None
        self._sent_log: IO[bytes] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._tick = asyncio.Event()
        self._eof = False
        self._stdin_closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(
        self,
        codex_bin: Path | str,
        cwd: Path | str,
        env: Mapping[str, str],
        transcript_path: Path | str,
        *,
        stderr_path: Path | str | None = None,
        extra_args: Sequence[str] = (),
        sent_path: Path | str | None = None,
    ) -> Self:
        """Spawn ``codex app-server`` in ``cwd`` with exactly ``env`` as its environment.

        Lines go to ``transcript_path`` (appended); stderr to ``stderr_path`` (default: ``stderr.log``
        next to the transcript). ``extra_args`` go before the subcommand (e.g. ``-c key=value``).
        With ``sent_path``, lines sent go there instead, so the transcript holds only what the server said.
        """
        if self.proc is not None:
            raise RuntimeError("app-server already started")
        self.transcript_path = Path(transcript_path)
        self.transcript_path.parent.mkdir(parents=True, exist_ok=True)
        self.stderr_path = Path(stderr_path) if stderr_path else self.transcript_path.parent / STDERR_FILE
        self._transcript = open(self.transcript_path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        if sent_path is not None:
            self.sent_path = Path(sent_path)
            self._sent_log = open(self.sent_path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        argv = [str(codex_bin), *extra_args, "app-server"]
        try:
            with open(self.stderr_path, "ab", buffering=0) as err:
                self.proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=str(cwd),
                    env=dict(env),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,
                    preexec_fn=die_with_parent(os.getpid()),
                    limit=STREAM_LIMIT,
                )
        except BaseException:
            self._close_logs()
            raise
        self._reader = asyncio.create_task(self._read_loop(), name=f"app-server-reader-{self.proc.pid}")
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    @property
    def closed(self) -> bool:
        """True once the server's stdout has ended."""
        return self._eof

    async def close(self, grace_s: float = 3.0) -> int | None:
        """Close stdin and wait for the exit; SIGTERM, then SIGKILL, the process group if it lingers.
        Returns the exit code (negative: killed by that signal)."""
        proc = self.proc
        if proc is None:
            return None
        try:
            await self._close_stdin()
            if proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), grace_s)
                except TimeoutError:
                    kill_group(proc.pid, signal.SIGTERM)
                    try:
                        await asyncio.wait_for(proc.wait(), grace_s)
                    except TimeoutError:
                        kill_group(proc.pid, signal.SIGKILL)
                        await proc.wait()
        finally:
            # Nothing the server started in its group may outlive it (nor survive a cancelled close).
            kill_group(proc.pid, signal.SIGKILL)
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._reader), grace_s)
            if not self._reader.done():
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
                self._finish()
        self._close_logs()
        return proc.returncode

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server's whole process group now (no stdin close, no grace)."""
        if self.proc is not None and self.proc.returncode is None:
            kill_group(self.proc.pid, sig)

    async def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit on its own; returns its exit code."""
        if self.proc is None:
            raise AppServerClosed("app-server was never started")
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _close_stdin(self, timeout: float = 1.0) -> None:
        # Not under the write lock: a writer blocked on a full pipe must not delay the shutdown.
        if self._stdin_closed or self.proc is None or self.proc.stdin is None:
            return
        self._stdin_closed = True
        stdin = self.proc.stdin
        stdin.close()
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            await asyncio.wait_for(stdin.wait_closed(), timeout)

    def _close_logs(self) -> None:
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None
        if self._sent_log is not None:
            self._sent_log.close()
            self._sent_log = None

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or self._stdin_closed:
            raise AppServerClosed("app-server is not running")
        data = encode_line(message)
        async with self._write_lock:
            self._record(data, sent=True)
            self.sent += 1
            try:
                proc.stdin.write(data)
                await proc.stdin.drain()
            except (ConnectionError, BrokenPipeError) as exc:
                raise AppServerClosed(f"app-server stdin closed: {exc}") from exc

    async def request(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        """Send a request and return its ``result``; raise :class:`AppServerError` on an error response,
        :class:`AppServerClosed` if the server goes away first."""
        if self._eof:
            raise AppServerClosed(f"app-server closed before {method}")
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            await self._send(message)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)

    # -- incoming -------------------------------------------------------------------------------

    async def next_incoming(self, timeout: float | None = None) -> Incoming | None:
        """The next notification or server request; ``None`` once the server's stdout has ended."""
        if self._eof and self.incoming.empty():
            return None
        item = await asyncio.wait_for(self.incoming.get(), timeout)
        if item is None:
            self.incoming.put_nowait(None)  # keep the end marker for later callers
        return item

    async def wait_for(self, predicate: Callable[[Incoming], bool], timeout: float) -> Incoming:
        """Consume the queue until an incoming message satisfies ``predicate``; return it."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.next_incoming()
                if item is None:
                    raise AppServerClosed("app-server closed while waiting")
                if predicate(item):
                    return item

    async def __aiter__(self) -> AsyncIterator[Incoming]:
        while True:
            item = await self.next_incoming()
            if item is None:
                return
            yield item

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Wait until ``condition()`` (over what the subclass keeps) holds, re-checked after every line."""
        async with asyncio.timeout(timeout):
            while True:
                tick = self._tick
                if condition():
                    return
                if self._eof:
                    raise AppServerClosed("app-server closed while waiting")
                await tick.wait()

    def _accept(self, incoming: Incoming) -> bool:
        """Called for every notification and server request before it is queued: False keeps it off
        the queue. Subclasses keep their state here."""
        return True

    def take_synthesized(self, line: bytes) -> None:
        """Handle ``line`` as if the server had sent it (appended to the transcript, routed, waiters
        woken), without counting it as received; an error in it is raised, not counted."""
        self._record(line)
        try:
            self._route(line)
        finally:
            self._bump()

    # -- reading --------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        buf = bytearray()
        scanned = 0
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK)
                if not chunk:
                    break
                buf += chunk
                while True:
                    nl = buf.find(b"\n", scanned)
                    if nl < 0:
                        scanned = len(buf)
                        break
                    line = bytes(buf[: nl + 1])
                    del buf[: nl + 1]
                    scanned = 0
                    self._on_line(line)
            if buf:
                self._on_line(bytes(buf))
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._eof:
            return
        self._eof = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AppServerClosed("app-server closed before answering"))
        self.incoming.put_nowait(None)
        self._bump()

    def _bump(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    def _record(self, data: bytes, *, sent: bool = False) -> None:
        target = self._sent_log if sent and self._sent_log is not None else self._transcript
        if target is None:
            return
        try:
            target.write(data)
        except OSError as exc:  # keep reading: a stalled reader would block the server's stdout
            self.transcript_errors += 1
            log.warning("app-server transcript %s: %s", self.transcript_path, exc)

    def _on_line(self, line: bytes) -> None:
        self.received += 1
        self.last_received_at = time.monotonic()
        self._record(line)
        try:
            self._route(line)
        except Exception:  # a bad message must never stop the reader
            self.malformed += 1
            log.exception("app-server line could not be handled: %.200r", line)
        finally:
            self._bump()

    def _route(self, line: bytes) -> None:
        stripped = line.strip()
        if not stripped:
            return
        message = decode_line(stripped)
        if isinstance(message, Notification):
            self._on_message(message, line)
        elif isinstance(message, Response):
            self._on_response(message)
        else:
            self.malformed += 1

    def _on_response(self, message: Response) -> None:
        future = self._pending.get(message.id)
        if future is None or future.done():
            self.malformed += 1
            return
        if message.error is not None:
            error = message.error
            future.set_exception(AppServerError(error.code, error.message, error.data))
        else:
            future.set_result(message.result)

    def _on_message(self, message: Notification, line: bytes) -> None:
        incoming = Incoming(
            message.method, message.params, line, message.request_id, message.typed, time.time()
        )
        if self._accept(incoming):
            self.incoming.put_nowait(incoming)

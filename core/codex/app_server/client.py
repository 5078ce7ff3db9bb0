"""Asyncio JSON-RPC client for ``codex app-server`` over stdio: the foundation of the mcp lane.

``codex app-server`` speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member, one JSON object per line on
stdin/stdout; its method names, message models and line decoder are
:mod:`cockpit.core.codex.app_server.protocol`'s (shared with the reader of recorded mcp-lane streams).
Client and server number their requests independently, both from 0.

:class:`AppServerClient` spawns the binary in a session of its own with a parent-death signal, so the
server never outlives the cockpit. Every line received is appended byte for byte to a transcript file as
it arrives, and every line sent is appended as written (or, with ``sent_path``, to a file of its own, as
the mcp lane's runner does so that its ``events.jsonl`` holds only what Codex said). Parsing is lenient:
models allow extra fields, lines that are not JSON-RPC are only counted (:attr:`AppServerClient.malformed`),
unknown methods are delivered unchanged.

Incoming notifications and server requests are delivered, in order, as :class:`Incoming` objects through
an :class:`asyncio.Queue` (:meth:`AppServerClient.next_incoming`, ``async for``). Besides the queue the
client keeps the state a lane needs without consuming it: started items (a file-change approval request
carries no diff, the preceding ``item/started`` does), turn completions, the latest turn diff (unchanged
re-sends are not queued), token usage per thread, rate limits merged per ``limitId``
(:func:`~cockpit.core.codex.app_server.protocol.merge_rate_limits`), pending server requests and the final
agent message of each turn.

A ``turn/completed`` that never arrives can be recovered: :meth:`AppServerClient.recover_turn` asks
``thread/read`` (0.169.0, verified: params ``{"threadId", "includeTurns": true}``, result ``{"thread":
{…, "status", "turns": [Turn with its full items]}}``; without ``includeTurns`` a thread's ``turns`` are
always empty, and before its first turn has started a thread answers -32601 "list_turns is not supported
yet"), and when the turn is finished there, it is recorded as if its ``turn/completed`` had arrived:
a synthesized ``turn/completed`` line (top-level ``"recoveredFrom": "thread/read"``) is appended to the
transcript and queued, so every reader of the transcript sees the turn end.

Shutdown (:meth:`AppServerClient.close`): close stdin (the server exits 0 on EOF), then SIGTERM and
SIGKILL to the process group by PID if it lingers. If the cockpit dies instead, the server sees EOF and
also gets SIGKILL from the kernel (``PR_SET_PDEATHSIG``). That signal follows the *thread* that spawned
the server: start the client on an event loop that lives as long as the lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from pydantic import ValidationError

from cockpit.core.codex.app_server.protocol import (
    APPROVAL_METHODS,
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    ITEM_COMPLETED,
    ITEM_STARTED,
    RECOVERED_FROM,
    RUNNING_TURN_STATUS,
    TURN_COMPLETED,
    CommandApprovalRequest,
    ErrorNotification,
    FileChangeApprovalRequest,
    ItemNotification,
    Notification,
    RateLimitSnapshot,
    RateLimitsUpdated,
    RequestId,
    Response,
    ServerRequestResolved,
    ThreadItem,
    ThreadSnapshot,
    ThreadStarted,
    ThreadStatus,
    ThreadStatusChanged,
    ThreadTokenUsage,
    TokenUsageUpdated,
    TurnDiffUpdated,
    TurnNotification,
    WireModel,
    decode_line,
    limit_key,
    merge_rate_limits,
    merge_sparse,
    turn_finished,
)
from cockpit.core.errors import CodexError
from cockpit.core.layout import STDERR_FILE
from cockpit.core.processes import die_with_parent, kill_group
from cockpit.core.vocabulary import Sandbox

# The client and its errors, and the wire names its callers use with it (defined in the protocol module).
__all__ = [
    "APPROVAL_METHODS",
    "COMMAND_APPROVAL",
    "FILE_CHANGE_APPROVAL",
    "NO_TURNS_YET_CODE",
    "RECOVERED_FROM",
    "RUNNING_TURN_STATUS",
    "AppServerClient",
    "AppServerClosed",
    "AppServerError",
    "ApprovalPolicy",
    "CommandApprovalRequest",
    "Decision",
    "ErrorNotification",
    "FileChangeApprovalRequest",
    "Incoming",
    "RateLimitSnapshot",
    "RequestId",
    "SandboxMode",
    "ServerRequestResolved",
    "TurnDiffUpdated",
    "TurnNotification",
    "merge_rate_limits",
]

log = logging.getLogger(__name__)

Decision = str | dict[str, Any]

STREAM_LIMIT = 64 * 1024 * 1024  # StreamReader limit: single lines can be megabytes
READ_CHUNK = 1024 * 1024

ApprovalPolicy = Literal["untrusted", "on-request", "on-failure", "never"] | dict[str, Any]
SandboxMode = Sandbox

NO_TURNS_YET_CODE = -32601  # thread/read with turns before a thread's first turn: "list_turns is not …"


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------


class AppServerClient:
    """One ``codex app-server`` process and the JSON-RPC conversation with it.

    Use from one event loop. ``start`` first; ``close`` (or ``async with``) last.
    """

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.transcript_path: Path | None = None
        self.stderr_path: Path | None = None
        self.malformed = 0  # lines that were not JSON-RPC messages (or answered nothing we asked)
        self.received = 0  # lines received
        self.sent = 0  # lines sent
        self.transcript_errors = 0  # failed writes to the transcript
        self.incoming: asyncio.Queue[Incoming | None] = asyncio.Queue()
        # State kept for the lane, independent of who consumes the queue.
        self.items: dict[str, ThreadItem] = {}  # itemId -> latest view (started, then completed)
        self.completed_turns: dict[str, TurnNotification] = {}
        self.turn_diffs: dict[str, str] = {}  # turnId -> latest diff
        self.token_usage: dict[str, ThreadTokenUsage] = {}  # threadId -> latest
        self.rate_limits: dict[str, RateLimitSnapshot] = {}  # limitId -> merged
        self.thread_status: dict[str, ThreadStatus] = {}
        self.thread_status_at: dict[str, float] = {}  # threadId -> time.monotonic() of the last change
        self.last_received_at = time.monotonic()  # the last line from the server (or the start)
        self.recovered_turns: set[str] = set()  # turns completed from thread/read, not turn/completed
        self.thread_cwd: dict[str, str] = {}
        self.threads: dict[str, dict[str, Any]] = {}  # threadId -> thread/start or thread/resume result
        self.pending_requests: dict[RequestId, Incoming] = {}  # server requests not answered/resolved
        self.errors: list[ErrorNotification] = []
        self.server_info: dict[str, Any] = {}
        self._agent_messages: dict[str, str] = {}  # turnId -> last completed agentMessage text
        self._next_id = 0
        self._pending: dict[RequestId, asyncio.Future[Any]] = {}
        self._transcript: IO[bytes] | None = None
        self._sent_log: IO[bytes] | None = None
        self.sent_path: Path | None = None
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
    ) -> AppServerClient:
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
            self._transcript.close()
            self._transcript = None
            if self._sent_log is not None:
                self._sent_log.close()
                self._sent_log = None
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
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None
        if self._sent_log is not None:
            self._sent_log.close()
            self._sent_log = None
        return proc.returncode

    async def __aenter__(self) -> AppServerClient:
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

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or self._stdin_closed:
            raise AppServerClosed("app-server is not running")
        data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
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

    async def respond(self, request_id: RequestId, result: Any) -> None:
        """Answer a server request (for approvals ``{"decision": ...}``, see :meth:`decide`)."""
        self.pending_requests.pop(request_id, None)
        await self._send({"id": request_id, "result": result})

    async def respond_error(self, request_id: RequestId, code: int, message: str) -> None:
        """Refuse a server request the cockpit cannot serve."""
        self.pending_requests.pop(request_id, None)
        await self._send({"id": request_id, "error": {"code": code, "message": message}})

    async def decide(self, request_id: RequestId, decision: Decision) -> None:
        """Answer an approval: ``accept``, ``acceptForSession``, ``decline``, ``cancel`` or an amendment
        object such as ``{"acceptWithExecpolicyAmendment": {...}}``."""
        await self.respond(request_id, {"decision": decision})

    # -- protocol calls -------------------------------------------------------------------------

    async def initialize(
        self,
        client_name: str = "codex_cockpit",
        version: str | None = None,
        *,
        title: str = "Codex Cockpit",
        experimental_api: bool = False,
        opt_out_notifications: Sequence[str] = (),
        timeout: float | None = 30.0,
    ) -> dict[str, Any]:
        """``initialize`` then the ``initialized`` notification; returns the server's result
        (``userAgent``, ``codexHome``, …). ``client_name`` becomes the model requests' originator.
        ``opt_out_notifications`` names notification methods the server must not send at all."""
        capabilities: dict[str, Any] = {"experimentalApi": experimental_api}
        if opt_out_notifications:
            capabilities["optOutNotificationMethods"] = list(opt_out_notifications)
        params = {
            "clientInfo": {"name": client_name, "title": title, "version": version or _own_version()},
            "capabilities": capabilities,
        }
        result = await self.request("initialize", params, timeout=timeout)
        self.server_info = result if isinstance(result, dict) else {}
        await self.notify("initialized")
        return self.server_info

    async def thread_start(
        self,
        cwd: Path | str,
        approval_policy: ApprovalPolicy,
        sandbox: SandboxMode,
        model: str | None = None,
        *,
        developer_instructions: str | None = None,
        config: Mapping[str, Any] | None = None,
        timeout: float | None = 60.0,
    ) -> str:
        """Start a thread; returns its id. Note: the server appends a trust entry for ``cwd`` to
        ``$CODEX_HOME/config.toml``."""
        params: dict[str, Any] = {"cwd": str(cwd), "approvalPolicy": approval_policy, "sandbox": sandbox}
        if model is not None:
            params["model"] = model
        if developer_instructions is not None:
            params["developerInstructions"] = developer_instructions
        if config is not None:
            params["config"] = dict(config)
        result = await self.request("thread/start", params, timeout=timeout)
        return self._remember_thread(result)

    async def thread_resume(
        self,
        thread_id: str,
        *,
        cwd: Path | str | None = None,
        approval_policy: ApprovalPolicy | None = None,
        sandbox: SandboxMode | None = None,
        model: str | None = None,
        developer_instructions: str | None = None,
        config: Mapping[str, Any] | None = None,
        exclude_turns: bool = False,
        timeout: float | None = 60.0,
    ) -> dict[str, Any]:
        """Load a stored thread (from ``$CODEX_HOME/sessions``) into this server, optionally with new
        settings; returns the result (``thread`` with its ``turns`` unless ``exclude_turns``, ``model``,
        ``approvalPolicy``, ``sandbox``, …)."""
        params: dict[str, Any] = {"threadId": thread_id}
        if cwd is not None:
            params["cwd"] = str(cwd)
        if approval_policy is not None:
            params["approvalPolicy"] = approval_policy
        if sandbox is not None:
            params["sandbox"] = sandbox
        if model is not None:
            params["model"] = model
        if developer_instructions is not None:
            params["developerInstructions"] = developer_instructions
        if config is not None:
            params["config"] = dict(config)
        if exclude_turns:
            params["excludeTurns"] = True
        result = await self.request("thread/resume", params, timeout=timeout)
        self._remember_thread(result)
        return result

    def _remember_thread(self, result: Any) -> str:
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            raise AppServerError(0, f"thread result without a thread id: {result!r:.200}")
        thread_id = thread["id"]
        self.threads[thread_id] = result
        cwd = result.get("cwd") or thread.get("cwd")
        if isinstance(cwd, str):
            self.thread_cwd[thread_id] = cwd
        return thread_id

    async def turn_start(
        self, thread_id: str, text: str, *, timeout: float | None = 60.0, **overrides: Any
    ) -> str:
        """Start a turn with one text input; returns the turn id. ``overrides`` are passed as given
        (``model``, ``effort``, ``approvalPolicy``, …). During an active turn this acts as a steer and
        returns the same turn id."""
        params: dict[str, Any] = {
            "threadId": thread_id,
            "input": [{"type": "text", "text": text, "text_elements": []}],
            **overrides,
        }
        result = await self.request("turn/start", params, timeout=timeout)
        return str(result["turn"]["id"])

    async def turn_interrupt(self, thread_id: str, turn_id: str, *, timeout: float | None = 30.0) -> None:
        """Interrupt a turn. It does not stop a command already running."""
        await self.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}, timeout=timeout)

    async def thread_read(self, thread_id: str, *, timeout: float | None = 30.0) -> ThreadSnapshot:
        """``thread/read``: the thread's status and its turns (with their items) as the server knows them."""
        params = {"threadId": thread_id, "includeTurns": True}
        result = await self.request("thread/read", params, timeout=timeout)
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict):
            raise AppServerError(0, f"thread/read result without a thread: {result!r:.200}")
        try:
            return ThreadSnapshot.model_validate(thread)
        except ValidationError as exc:
            raise AppServerError(0, f"thread/read result not understood: {exc}") from exc

    async def recover_turn(
        self, thread_id: str, turn_id: str, *, timeout: float | None = 30.0
    ) -> TurnNotification | None:
        """The turn's completion, from ``thread/read`` when its ``turn/completed`` did not arrive.

        Returns the completion already received if there is one; otherwise reads the thread and, when
        the turn has finished there (:func:`turn_finished`), records it exactly as a received
        ``turn/completed`` would be (state, queue) and appends the synthesized line to the transcript.
        ``None`` while the turn is still in progress (or unknown to the server)."""
        known = self.completed_turns.get(turn_id)
        if known is not None:
            return known
        try:
            snapshot = await self.thread_read(thread_id, timeout=timeout)
        except AppServerError as exc:
            if exc.code == NO_TURNS_YET_CODE:  # no turn of the thread has been stored yet
                return None
            raise
        known = self.completed_turns.get(turn_id)  # it may have arrived while we waited
        if known is not None:
            return known
        turn = snapshot.turn(turn_id)
        if turn is None or not turn_finished(turn.status):
            return None
        message = {
            "method": TURN_COMPLETED,
            "params": {"threadId": thread_id, "turn": turn.model_dump(mode="json")},
            RECOVERED_FROM: "thread/read",
        }
        line = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.recovered_turns.add(turn_id)
        self._record(line)
        try:
            self._route(line)
        finally:
            self._bump()
        return self.completed_turns.get(turn_id)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server's whole process group now (no stdin close, no grace)."""
        if self.proc is not None and self.proc.returncode is None:
            kill_group(self.proc.pid, sig)

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
        """Wait until ``condition()`` (over the client's state) holds, re-checked after every line."""
        async with asyncio.timeout(timeout):
            while True:
                tick = self._tick
                if condition():
                    return
                if self._eof:
                    raise AppServerClosed("app-server closed while waiting")
                await tick.wait()

    async def wait_turn_completed(self, turn_id: str, timeout: float) -> TurnNotification:
        """Wait for ``turn/completed`` of ``turn_id`` (the state, not the queue, is watched)."""
        await self.wait_until(lambda: turn_id in self.completed_turns, timeout)
        return self.completed_turns[turn_id]

    async def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit on its own; returns its exit code."""
        if self.proc is None:
            raise AppServerClosed("app-server was never started")
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def final_message(self, turn_id: str) -> str | None:
        """The text of the turn's last completed ``agentMessage`` (for a turn recovered from
        ``thread/read``, the last one there: item notifications may have been missed too)."""
        text = None if turn_id in self.recovered_turns else self._agent_messages.get(turn_id)
        if text is not None:
            return text
        completed = self.completed_turns.get(turn_id)
        if completed is not None:
            for item in reversed(completed.turn.items):
                if item.type == "agentMessage" and item.text is not None:
                    return item.text
        return self._agent_messages.get(turn_id)

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
        request_id = message.request_id
        incoming = Incoming(message.method, message.params, line, request_id, message.typed, time.time())
        if not self._track(incoming):
            return
        if request_id is not None:
            self.pending_requests[request_id] = incoming
        self.incoming.put_nowait(incoming)

    def _track(self, incoming: Incoming) -> bool:
        """Update the client's state; False when the message is a duplicate not worth queueing."""
        typed = incoming.typed
        if isinstance(typed, ItemNotification):
            item = typed.item
            if incoming.method == ITEM_STARTED or item.id not in self.items:
                self.items[item.id] = item
            else:
                self.items[item.id] = _merge_item(self.items[item.id], item)
            if incoming.method == ITEM_COMPLETED and item.type == "agentMessage" and item.text is not None:
                self._agent_messages[typed.turnId] = item.text
        elif isinstance(typed, FileChangeApprovalRequest):
            started = self.items.get(typed.itemId)
            if not typed.changes and started is not None and started.changes:
                typed.changes = list(started.changes)
            if typed.cwd is None:
                typed.cwd = self.thread_cwd.get(typed.threadId)
        elif isinstance(typed, TurnDiffUpdated):
            if self.turn_diffs.get(typed.turnId) == typed.diff:
                return False
            self.turn_diffs[typed.turnId] = typed.diff
        elif isinstance(typed, TokenUsageUpdated):
            self.token_usage[typed.threadId] = typed.tokenUsage
        elif isinstance(typed, RateLimitsUpdated):
            key = limit_key(typed.rateLimits)
            self.rate_limits[key] = merge_rate_limits(self.rate_limits.get(key), typed.rateLimits)
        elif isinstance(typed, ServerRequestResolved):
            self.pending_requests.pop(typed.requestId, None)
        elif isinstance(typed, ThreadStarted):
            if typed.thread.cwd:
                self.thread_cwd[typed.thread.id] = typed.thread.cwd
        elif isinstance(typed, ThreadStatusChanged):
            self.thread_status[typed.threadId] = typed.status
            self.thread_status_at[typed.threadId] = time.monotonic()
        elif isinstance(typed, ErrorNotification):
            self.errors.append(typed)
        elif isinstance(typed, TurnNotification) and incoming.method == TURN_COMPLETED:
            self.completed_turns[typed.turn_id] = typed
            for request_id, pending in list(self.pending_requests.items()):
                if isinstance(pending.params, dict) and pending.params.get("turnId") == typed.turn_id:
                    del self.pending_requests[request_id]
        return True


def _merge_item(old: ThreadItem, new: ThreadItem) -> ThreadItem:
    """A completed item over its started view: fields absent or null in ``new`` keep the old value."""
    merged = merge_sparse(old.model_dump(), new.model_dump())
    return ThreadItem.model_validate(merged)


def _own_version() -> str:
    try:
        from importlib.metadata import version

        return version("codex-cockpit")
    except Exception:
        return "0.0.0"

"""Asyncio JSON-RPC client for ``codex app-server`` over stdio: the foundation of the mcp lane.

``codex app-server`` speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member, one JSON object per line on
stdin/stdout. A line with ``method`` and ``id`` is a server request (it must be answered, e.g. an approval),
``id`` alone is a response to one of our requests, ``method`` alone is a notification. Client and server
number their requests independently, both from 0.

:class:`AppServerClient` spawns the binary in a session of its own with a parent-death signal, so the
server never outlives the cockpit. Every line received is appended byte for byte to a transcript file as
it arrives, and every line sent is appended as written (or, with ``sent_path``, to a file of its own, as
the mcp lane's runner does so that its ``events.jsonl`` holds only what Codex said). Parsing is lenient:
pydantic models allow extra fields, lines that are not JSON-RPC are only counted
(:attr:`AppServerClient.malformed`), unknown methods are delivered unchanged.

Incoming notifications and server requests are delivered, in order, as :class:`Incoming` objects through
an :class:`asyncio.Queue` (:meth:`AppServerClient.next_incoming`, ``async for``). Besides the queue the
client keeps the state a lane needs without consuming it: started items (a file-change approval request
carries no diff, the preceding ``item/started`` does), turn completions, the latest turn diff (unchanged
re-sends are not queued), token usage per thread, rate limits merged per ``limitId``
(:func:`merge_rate_limits`), pending server requests and the final agent message of each turn.

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

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, ValidationError, model_validator

from cockpit.core.errors import CodexError
from cockpit.core.processes import die_with_parent
from cockpit.core.usage.live import merge_sparse
from cockpit.core.vocabulary import Sandbox

log = logging.getLogger(__name__)

RequestId = int | str
Decision = str | dict[str, Any]

STREAM_LIMIT = 64 * 1024 * 1024  # StreamReader limit: single lines can be megabytes
READ_CHUNK = 1024 * 1024
DEFAULT_LIMIT_ID = "codex"

ApprovalPolicy = Literal["untrusted", "on-request", "on-failure", "never"] | dict[str, Any]
SandboxMode = Sandbox

# Server requests the lane answers with a decision, and the notifications it reads.
COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
APPROVAL_METHODS = frozenset({COMMAND_APPROVAL, FILE_CHANGE_APPROVAL})
RUNNING_TURN_STATUS = "inProgress"  # every other status (completed, interrupted, failed, …) ends a turn
RECOVERED_FROM = "recoveredFrom"  # top-level key of a synthesized turn/completed line
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


# ---------------------------------------------------------------------------------------------------
# Wire models (lenient: unknown fields are kept, missing optional fields default)
# ---------------------------------------------------------------------------------------------------


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RpcError(WireModel):
    code: int = 0
    message: str = ""
    data: Any = None


class FileUpdate(WireModel):
    """One file of a ``fileChange`` item; ``diff`` holds hunks only (or the content of an added file)."""

    path: str = ""
    kind: Any = None  # {"type": "add"|"delete"|"update", "move_path": ...}
    diff: str = ""

    @property
    def change_type(self) -> str:
        if isinstance(self.kind, dict):
            return str(self.kind.get("type", ""))
        return str(self.kind or "")

    def unified(self, root: str | None = None) -> str:
        """The change as a unified diff with file headers; paths under ``root`` are shown relative."""
        path = _display_path(self.path, root)
        move = self.kind.get("move_path") if isinstance(self.kind, dict) else None
        old = "/dev/null" if self.change_type == "add" else f"a/{path}"
        new = (
            "/dev/null"
            if self.change_type == "delete"
            else f"b/{_display_path(move, root) if move else path}"
        )
        if self.change_type in ("add", "delete") and not self.diff.startswith("@@"):
            # Added and deleted files carry their whole content, not hunks.
            lines = self.diff.splitlines()
            sign = "+" if self.change_type == "add" else "-"
            span = f"-0,0 +1,{len(lines)}" if sign == "+" else f"-1,{len(lines)} +0,0"
            body = f"@@ {span} @@\n" + "".join(f"{sign}{line}\n" for line in lines) if lines else ""
        else:
            body = self.diff if self.diff.endswith("\n") or not self.diff else self.diff + "\n"
        return f"--- {old}\n+++ {new}\n{body}"


def _display_path(path: str, root: str | None) -> str:
    if root:
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


class ThreadItem(WireModel):
    """An item of a turn: ``userMessage``, ``agentMessage``, ``reasoning``, ``commandExecution``,
    ``fileChange``, … Only the fields the lane reads are declared.

    The item types are an open set (0.171.0 knows nineteen; a newer Codex adds more), and a type this
    version does not know may use a declared field name for a value of another shape. Such a field is
    dropped (a non-string ``type`` or ``id`` is turned into a string) instead of failing the item, and with
    it the ``item/*`` notification or the ``turn/completed`` that carries it; everything else is kept."""

    type: str = ""
    id: str = ""
    status: str | None = None
    text: str | None = None
    command: str | None = None
    cwd: str | None = None
    exitCode: int | None = None
    aggregatedOutput: str | None = None
    changes: list[FileUpdate] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _lenient(cls, data: Any, handler: ModelWrapValidatorHandler[ThreadItem]) -> ThreadItem:
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, Mapping):
                raise
            bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
            repaired: dict[str, Any] = {}
            for key, value in data.items():
                if key not in bad:
                    repaired[key] = value
                elif key in ("type", "id") and value is not None:
                    repaired[key] = value if isinstance(value, str) else json.dumps(value)
            return handler(repaired)


class ItemNotification(WireModel):
    """``item/started`` and ``item/completed``."""

    threadId: str = ""
    turnId: str = ""
    item: ThreadItem


class TurnError(WireModel):
    message: str = ""
    codexErrorInfo: Any = None
    additionalDetails: Any = None


class Turn(WireModel):
    id: str = ""
    status: str = ""  # inProgress | completed | interrupted | failed
    error: TurnError | None = None
    items: list[ThreadItem] = Field(default_factory=list)
    durationMs: int | None = None


def turn_finished(status: str) -> bool:
    """Whether a turn of this status has ended. Turn statuses are an open set: anything but
    ``inProgress`` (``completed``, ``interrupted``, ``failed`` in 0.171.0, or one a newer Codex adds) is an
    end; only ``completed`` is a success, which the lane decides on its own."""
    return bool(status) and status != RUNNING_TURN_STATUS


class TurnNotification(WireModel):
    """``turn/started`` and ``turn/completed``."""

    threadId: str = ""
    turn: Turn

    @property
    def turn_id(self) -> str:
        return self.turn.id

    @property
    def status(self) -> str:
        return self.turn.status

    @property
    def error(self) -> TurnError | None:
        return self.turn.error


class TurnDiffUpdated(WireModel):
    """The whole turn's diff against its start (re-sent unchanged after every later model response)."""

    threadId: str = ""
    turnId: str = ""
    diff: str = ""


class TokenUsageBreakdown(WireModel):
    totalTokens: int = 0
    inputTokens: int = 0
    cachedInputTokens: int = 0
    outputTokens: int = 0
    reasoningOutputTokens: int = 0


class ThreadTokenUsage(WireModel):
    """``total`` sums the thread; ``last`` is the latest model response's usage."""

    total: TokenUsageBreakdown = Field(default_factory=TokenUsageBreakdown)
    last: TokenUsageBreakdown = Field(default_factory=TokenUsageBreakdown)
    modelContextWindow: int | None = None


class TokenUsageUpdated(WireModel):
    threadId: str = ""
    turnId: str = ""
    tokenUsage: ThreadTokenUsage = Field(default_factory=ThreadTokenUsage)


class RateLimitWindow(WireModel):
    usedPercent: float | None = None
    windowDurationMins: int | None = None
    resetsAt: int | None = None


class Credits(WireModel):
    hasCredits: bool | None = None
    unlimited: bool | None = None
    balance: str | None = None


class RateLimitSnapshot(WireModel):
    limitId: str | None = None
    limitName: str | None = None
    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None
    credits: Credits | None = None


class RateLimitsUpdated(WireModel):
    rateLimits: RateLimitSnapshot = Field(default_factory=RateLimitSnapshot)


class ServerRequestResolved(WireModel):
    """A server request no longer wants an answer (answered, or its turn ended)."""

    threadId: str = ""
    requestId: RequestId


class ErrorNotification(WireModel):
    """``error``: terminal only when ``willRetry`` is false, and even then ``turn/completed`` follows."""

    error: TurnError = Field(default_factory=TurnError)
    willRetry: bool = False
    threadId: str = ""
    turnId: str = ""


class ThreadStatus(WireModel):
    type: str = ""  # idle | active | systemError | notLoaded
    activeFlags: list[str] = Field(default_factory=list)


class ThreadSnapshot(WireModel):
    """The ``thread`` of a ``thread/read`` result: its status and every turn with its items."""

    id: str = ""
    status: ThreadStatus | None = None
    turns: list[Turn] = Field(default_factory=list)

    def turn(self, turn_id: str) -> Turn | None:
        return next((turn for turn in self.turns if turn.id == turn_id), None)


class ThreadStatusChanged(WireModel):
    threadId: str = ""
    status: ThreadStatus = Field(default_factory=ThreadStatus)

    @property
    def waiting_on_approval(self) -> bool:
        return "waitingOnApproval" in self.status.activeFlags


class AgentMessageDelta(WireModel):
    """``item/agentMessage/delta`` and ``item/commandExecution/outputDelta``."""

    threadId: str = ""
    turnId: str = ""
    itemId: str = ""
    delta: str = ""


class CommandApprovalRequest(WireModel):
    """``item/commandExecution/requestApproval``; ``reason`` is the model's justification."""

    threadId: str = ""
    turnId: str = ""
    itemId: str = ""
    kind: str | None = None  # command | humanCommand | writeStdin
    reason: str | None = None
    command: str | None = None
    cwd: str | None = None
    commandActions: list[Any] | None = None
    proposedExecpolicyAmendment: list[str] | None = None
    availableDecisions: list[Any] | None = None
    startedAtMs: int | None = None


class FileChangeApprovalRequest(WireModel):
    """``item/fileChange/requestApproval``. The request itself carries no diff: the client fills
    ``changes`` from the preceding ``item/started`` of the same ``itemId``."""

    threadId: str = ""
    turnId: str = ""
    itemId: str = ""
    reason: str | None = None
    grantRoot: str | None = None
    startedAtMs: int | None = None
    changes: list[FileUpdate] = Field(default_factory=list)
    cwd: str | None = None  # the thread's working directory (filled by the client)

    @property
    def diff(self) -> str:
        """The proposed change as a unified diff, paths relative to the thread's cwd where possible."""
        return "".join(change.unified(self.cwd) for change in self.changes)

    @property
    def paths(self) -> list[str]:
        return [change.path for change in self.changes]


_TYPED: dict[str, type[WireModel]] = {
    COMMAND_APPROVAL: CommandApprovalRequest,
    FILE_CHANGE_APPROVAL: FileChangeApprovalRequest,
    "item/started": ItemNotification,
    "item/completed": ItemNotification,
    "turn/started": TurnNotification,
    "turn/completed": TurnNotification,
    "turn/diff/updated": TurnDiffUpdated,
    "thread/tokenUsage/updated": TokenUsageUpdated,
    "account/rateLimits/updated": RateLimitsUpdated,
    "serverRequest/resolved": ServerRequestResolved,
    "thread/status/changed": ThreadStatusChanged,
    "error": ErrorNotification,
    "item/agentMessage/delta": AgentMessageDelta,
    "item/commandExecution/outputDelta": AgentMessageDelta,
}

_M = TypeVar("_M", bound=WireModel)


@dataclass(frozen=True)
class Incoming:
    """A notification or server request, as received. ``typed`` is the parsed helper model for the
    methods the lane understands (see ``_TYPED``), ``None`` for others or when it did not validate."""

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
# Rate-limit merging
# ---------------------------------------------------------------------------------------------------


def merge_rate_limits(old: RateLimitSnapshot | None, new: RateLimitSnapshot) -> RateLimitSnapshot:
    """Merge a sparse ``account/rateLimits/updated`` snapshot into the last known one of its limit:
    every null field (at any depth) keeps the known value; present values replace it."""
    if old is None:
        return new
    merged = merge_sparse(old.model_dump(), new.model_dump(exclude_unset=False))
    return RateLimitSnapshot.model_validate(merged)


def rate_limit_key(snapshot: RateLimitSnapshot) -> str:
    return snapshot.limitId or DEFAULT_LIMIT_ID


# ---------------------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------------------


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


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
        self.stderr_path = Path(stderr_path) if stderr_path else self.transcript_path.parent / "stderr.log"
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
                    _killpg(proc.pid, signal.SIGTERM)
                    try:
                        await asyncio.wait_for(proc.wait(), grace_s)
                    except TimeoutError:
                        _killpg(proc.pid, signal.SIGKILL)
                        await proc.wait()
        finally:
            # Nothing the server started in its group may outlive it (nor survive a cancelled close).
            _killpg(proc.pid, signal.SIGKILL)
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
            "method": "turn/completed",
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
            _killpg(self.proc.pid, sig)

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
        try:
            message = json.loads(stripped)
        except (ValueError, UnicodeDecodeError):
            self.malformed += 1
            return
        if not isinstance(message, dict):
            self.malformed += 1
            return
        method = message.get("method")
        has_id = (
            "id" in message and isinstance(message["id"], int | str) and not isinstance(message["id"], bool)
        )
        if isinstance(method, str):
            params = message.get("params")
            request_id = message["id"] if has_id else None
            self._on_message(method, params, request_id, line)
        elif has_id:
            self._on_response(message)
        else:
            self.malformed += 1

    def _on_response(self, message: dict[str, Any]) -> None:
        future = self._pending.get(message["id"])
        if future is None or future.done():
            self.malformed += 1
            return
        if message.get("error") is not None:
            try:
                error = RpcError.model_validate(message["error"])
            except ValidationError:
                error = RpcError(code=0, message=str(message["error"]))
            future.set_exception(AppServerError(error.code, error.message, error.data))
        else:
            future.set_result(message.get("result"))

    def _on_message(self, method: str, params: Any, request_id: RequestId | None, line: bytes) -> None:
        typed: WireModel | None = None
        model = _TYPED.get(method)
        if model is not None and isinstance(params, dict):
            try:
                typed = model.model_validate(params)
            except ValidationError:
                typed = None
        incoming = Incoming(method, params, line, request_id, typed, time.time())
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
            if incoming.method == "item/started" or item.id not in self.items:
                self.items[item.id] = item
            else:
                self.items[item.id] = _merge_item(self.items[item.id], item)
            if incoming.method == "item/completed" and item.type == "agentMessage" and item.text is not None:
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
            key = rate_limit_key(typed.rateLimits)
            self.rate_limits[key] = merge_rate_limits(self.rate_limits.get(key), typed.rateLimits)
        elif isinstance(typed, ServerRequestResolved):
            self.pending_requests.pop(typed.requestId, None)
        elif incoming.method == "thread/started" and isinstance(incoming.params, dict):
            thread = incoming.params.get("thread")
            if isinstance(thread, dict) and isinstance(thread.get("id"), str) and thread.get("cwd"):
                self.thread_cwd[thread["id"]] = str(thread["cwd"])
        elif isinstance(typed, ThreadStatusChanged):
            self.thread_status[typed.threadId] = typed.status
            self.thread_status_at[typed.threadId] = time.monotonic()
        elif isinstance(typed, ErrorNotification):
            self.errors.append(typed)
        elif isinstance(typed, TurnNotification) and incoming.method == "turn/completed":
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

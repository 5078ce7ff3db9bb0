"""The app-server's wire: its method names, the models of its messages, and the one decoder and encoder
of its lines.

``codex app-server`` speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member, one JSON object per line. A line
with ``method`` and ``id`` is a server request (it must be answered, e.g. an approval), ``method`` alone is
a notification, ``id`` alone is a response to one of the client's requests. :func:`decode` turns one such
object into a :class:`Notification` or a :class:`Response` (``None`` when it is neither), and
:meth:`Notification.typed` validates the params of the methods the cockpit reads
(:data:`NOTIFICATION_MODELS`). Both readers of the wire use it: the client of a live server
(:mod:`cockpit.core.codex.app_server.client`) and the reader of a recorded one (an mcp-lane
``events.jsonl``, through :mod:`cockpit.core.codex.exec_events`), so a line means the same to both.

Codex moves fast, so everything here is an open set: models keep unknown fields and give every field a
default where it can; params whose shape changed are repaired by dropping the fields that fail
(:func:`drop_failing_fields`) rather than rejected; methods not listed are delivered untyped, never
dropped.

Rate-limit snapshots are sparse (a null field means "no news", never "reset to zero"):
:func:`merge_sparse` is the one rule for folding a snapshot into the last known one, :func:`limit_key` the
one name of the limit family a snapshot belongs to, and :class:`Credits` the one model of the credits
sent with it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

__all__ = [
    "AGENT_MESSAGE_DELTA",
    "APPROVAL_METHODS",
    "COMMAND_APPROVAL",
    "COMMAND_OUTPUT_DELTA",
    "CONFIG_WARNING",
    "DEFAULT_LIMIT_ID",
    "ERROR",
    "FILE_CHANGE_APPROVAL",
    "ITEM_COMPLETED",
    "ITEM_STARTED",
    "NOTIFICATION_MODELS",
    "RATE_LIMITS_UPDATED",
    "RECOVERED_FROM",
    "RUNNING_TURN_STATUS",
    "SERVER_REQUEST_RESOLVED",
    "THREAD_STARTED",
    "THREAD_STATUS_CHANGED",
    "TOKEN_USAGE_UPDATED",
    "TURN_COMPLETED",
    "TURN_DIFF_UPDATED",
    "TURN_STARTED",
    "AgentMessageDelta",
    "CommandApprovalRequest",
    "Credits",
    "ErrorNotification",
    "FileChangeApprovalRequest",
    "FileUpdate",
    "ItemNotification",
    "Notification",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "RateLimitsUpdated",
    "RequestId",
    "Response",
    "RpcError",
    "ServerRequestResolved",
    "ThreadInfo",
    "ThreadItem",
    "ThreadSnapshot",
    "ThreadStarted",
    "ThreadStatus",
    "ThreadStatusChanged",
    "ThreadTokenUsage",
    "TokenUsageBreakdown",
    "TokenUsageUpdated",
    "Turn",
    "TurnDiffUpdated",
    "TurnError",
    "TurnNotification",
    "WireModel",
    "decode",
    "decode_line",
    "drop_failing_fields",
    "limit_key",
    "merge_rate_limits",
    "merge_sparse",
    "parse_params",
    "turn_finished",
]

RequestId = int | str

# Notifications and server requests the cockpit reads (the client, the reducer, the log).
THREAD_STARTED: Final = "thread/started"
TURN_STARTED: Final = "turn/started"
TURN_COMPLETED: Final = "turn/completed"
ITEM_STARTED: Final = "item/started"
ITEM_COMPLETED: Final = "item/completed"
TURN_DIFF_UPDATED: Final = "turn/diff/updated"
TOKEN_USAGE_UPDATED: Final = "thread/tokenUsage/updated"
RATE_LIMITS_UPDATED: Final = "account/rateLimits/updated"
SERVER_REQUEST_RESOLVED: Final = "serverRequest/resolved"
THREAD_STATUS_CHANGED: Final = "thread/status/changed"
ERROR: Final = "error"
AGENT_MESSAGE_DELTA: Final = "item/agentMessage/delta"
COMMAND_OUTPUT_DELTA: Final = "item/commandExecution/outputDelta"
CONFIG_WARNING: Final = "configWarning"
COMMAND_APPROVAL: Final = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL: Final = "item/fileChange/requestApproval"
APPROVAL_METHODS: Final = frozenset({COMMAND_APPROVAL, FILE_CHANGE_APPROVAL})

RUNNING_TURN_STATUS: Final = "inProgress"  # every other status (completed, failed, …) ends a turn
RECOVERED_FROM: Final = "recoveredFrom"  # top-level key of a synthesized turn/completed line
DEFAULT_LIMIT_ID: Final = "codex"  # the limit family of a snapshot that names none
REPAIR_ROUNDS: Final = 8


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


def turn_finished(status: str) -> bool:
    """Whether a turn of this status has ended. Turn statuses are an open set: anything but
    ``inProgress`` (``completed``, ``interrupted``, ``failed`` in 0.171.0, or one a newer Codex adds) is an
    end; only ``completed`` is a success, which the lane decides on its own."""
    return bool(status) and status != RUNNING_TURN_STATUS


class ThreadItem(WireModel):
    """An item of a turn: ``userMessage``, ``agentMessage``, ``reasoning``, ``commandExecution``,
    ``fileChange``, … Only the fields the lane reads are declared.

    The item types are an open set (0.171.0 knows nineteen; a newer Codex adds more), and a type this
    version does not know may use a declared field name for a value of another shape. Such a field is
    dropped (a non-string ``type`` or ``id`` is turned into a string) instead of failing the item, and
    with it the ``item/*`` notification or the ``turn/completed`` that carries it; the rest is kept."""

    type: str = ""
    id: str = ""
    status: str | None = None
    text: str | None = None
    command: str | None = None
    cwd: str | None = None
    exitCode: int | None = None
    aggregatedOutput: str | None = None
    changes: list[FileUpdate] | None = None
    summary: list[Any] | None = None  # reasoning: the summary parts

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


class ThreadInfo(WireModel):
    """The ``thread`` of ``thread/started`` (and of thread results): only what the cockpit reads."""

    id: str
    cwd: str | None = None


class ThreadStarted(WireModel):
    """``thread/started``."""

    thread: ThreadInfo


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


class Credits(BaseModel):
    """Purchased-credit state sent alongside the windows: the one model of it, read from the
    app-server's camelCase and the rollouts' snake_case alike (``None``: not said)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    has_credits: bool | None = Field(
        default=False, validation_alias=AliasChoices("has_credits", "hasCredits")
    )
    unlimited: bool | None = False
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


NOTIFICATION_MODELS: Final[dict[str, type[WireModel]]] = {
    COMMAND_APPROVAL: CommandApprovalRequest,
    FILE_CHANGE_APPROVAL: FileChangeApprovalRequest,
    THREAD_STARTED: ThreadStarted,
    ITEM_STARTED: ItemNotification,
    ITEM_COMPLETED: ItemNotification,
    TURN_STARTED: TurnNotification,
    TURN_COMPLETED: TurnNotification,
    TURN_DIFF_UPDATED: TurnDiffUpdated,
    TOKEN_USAGE_UPDATED: TokenUsageUpdated,
    RATE_LIMITS_UPDATED: RateLimitsUpdated,
    SERVER_REQUEST_RESOLVED: ServerRequestResolved,
    THREAD_STATUS_CHANGED: ThreadStatusChanged,
    ERROR: ErrorNotification,
    AGENT_MESSAGE_DELTA: AgentMessageDelta,
    COMMAND_OUTPUT_DELTA: AgentMessageDelta,
}
"""The params model of each notification and server request the cockpit reads; other methods are kept
untyped (``typed`` is ``None``) and delivered all the same."""


# ---------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------

_UNSET: Final[Any] = object()


class Notification:
    """A notification, or a server request when ``request_id`` is set, as decoded from one line.

    ``params`` and ``message`` (the whole object, with top-level members such as ``emittedAtMs``) are as
    received; :attr:`typed` is the params model of a method in :data:`NOTIFICATION_MODELS`, validated on
    first use (``None`` for other methods, or params that could not be repaired).
    """

    __slots__ = ("_typed", "message", "method", "params", "request_id")

    def __init__(
        self, method: str, params: Any, request_id: RequestId | None, message: dict[str, Any]
    ) -> None:
        self.method = method
        self.params = params
        self.request_id = request_id
        self.message = message
        self._typed: WireModel | None = _UNSET

    @property
    def typed(self) -> WireModel | None:
        if self._typed is _UNSET:
            self._typed = parse_params(self.method, self.params)
        return self._typed

    @property
    def emitted_at(self) -> float | None:
        """Seconds since the epoch from the line's ``emittedAtMs``, when it carries a valid one."""
        emitted = self.message.get("emittedAtMs")
        valid = isinstance(emitted, int | float) and not isinstance(emitted, bool) and emitted > 0
        return emitted / 1000 if valid else None

    def __repr__(self) -> str:
        return f"Notification({self.method!r}, request_id={self.request_id!r})"


@dataclass(frozen=True, slots=True)
class Response:
    """An answer to one of the client's requests: its ``result``, or its ``error``."""

    id: RequestId
    result: Any = None
    error: RpcError | None = None


def _request_id(message: Mapping[str, Any]) -> RequestId | None:
    value = message.get("id")
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def decode(message: Any) -> Notification | Response | None:
    """One decoded JSON value as a JSON-RPC message; ``None`` when it is not one (not an object, or
    neither a string ``method`` nor a valid ``id``)."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    request_id = _request_id(message)
    if isinstance(method, str):
        return Notification(method, message.get("params"), request_id, message)
    if request_id is None:
        return None
    error = message.get("error")
    if error is None:
        return Response(request_id, message.get("result"))
    try:
        rpc_error = RpcError.model_validate(error)
    except ValidationError:
        rpc_error = RpcError(code=0, message=str(error))
    return Response(request_id, message.get("result"), rpc_error)


def decode_line(line: bytes | str) -> Notification | Response | None:
    """One line as a JSON-RPC message; ``None`` for a line that is not JSON or not a message."""
    try:
        return decode(json.loads(line))
    except (ValueError, UnicodeDecodeError):
        return None


def encode_line(message: Mapping[str, Any]) -> bytes:
    """One message as the line written to the wire (compact JSON, UTF-8 kept as is, a newline)."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def parse_params(method: str, params: Any) -> WireModel | None:
    """The params model of ``method`` (see :data:`NOTIFICATION_MODELS`), repaired when fields fail."""
    model = NOTIFICATION_MODELS.get(method)
    if model is None:
        return None
    if not isinstance(params, dict):
        params = {}  # absent (or not an object): nothing said, every field at its default
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        error = exc
    data = copy.deepcopy(params)  # a private copy that may be pruned
    for _ in range(REPAIR_ROUNDS):
        if not drop_failing_fields(data, error, keep=()):
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            error = exc
    return None


def drop_failing_fields(
    data: dict[str, Any], exc: ValidationError, *, keep: tuple[str, ...] = ("type",)
) -> bool:
    """Delete the fields a validation error points at, except those named in ``keep`` (by default a
    ``type``, which discriminates a union); False when none could be deleted."""
    pruned = False
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        pruned |= _delete_path(data, error["loc"], keep)
    return pruned


def _delete_path(data: Any, loc: tuple[int | str, ...], keep: tuple[str, ...]) -> bool:
    node = data
    parent: Any = None
    key: int | str | None = None
    for part in loc:
        if _has_child(node, part):
            parent, key, node = node, part, node[part]
        elif not isinstance(part, str):
            return False
        # else: a union tag or model name that pydantic puts in the location, not a key of the data
    if parent is None or key is None or key in keep:
        return False
    del parent[key]
    return True


def _has_child(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


# ---------------------------------------------------------------------------------------------------
# Rate limits: the limit key and the sparse merge
# ---------------------------------------------------------------------------------------------------


def limit_key(snapshot: Mapping[str, Any] | RateLimitSnapshot) -> str:
    """The limit family of a rate-limit snapshot (a model, the app-server's camelCase mapping or a
    rollout's snake_case one): its ``limitId``, else :data:`DEFAULT_LIMIT_ID`."""
    if isinstance(snapshot, RateLimitSnapshot):
        limit: Any = snapshot.limitId
    else:
        limit = snapshot.get("limitId") or snapshot.get("limit_id")
    return str(limit) if limit else DEFAULT_LIMIT_ID


def merge_sparse(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` over ``old`` at every depth, where a null in ``new`` keeps the known value."""
    out = dict(old)
    for key, value in new.items():
        if value is None:
            continue
        known = out.get(key)
        if isinstance(value, Mapping) and isinstance(known, Mapping):
            out[key] = merge_sparse(known, value)
        else:
            out[key] = value
    return out


def merge_rate_limits(old: RateLimitSnapshot | None, new: RateLimitSnapshot) -> RateLimitSnapshot:
    """Merge a sparse ``account/rateLimits/updated`` snapshot into the last known one of its limit:
    every field null or absent (at any depth) keeps the known value; present values replace it."""
    if old is None:
        return new
    merged = merge_sparse(old.model_dump(), new.model_dump(exclude_unset=True))
    return RateLimitSnapshot.model_validate(merged)

"""Typed Codex ``exec --json`` events: the models for every event and item type, and the line parser.

One JSONL line of Codex stdout becomes one event model. Known event and item types get their own model;
anything else is kept as :class:`UnknownEvent` / :class:`UnknownItem` with its full payload, never
dropped. Every model allows extra fields (newer CLI builds add some) and gives every field but the
discriminating ``type`` a default, so a known type with a new shape still parses (the open-set pieces,
shared with Claude Code's stream, are :mod:`cockpit.core.open_set`'s).

Parsing goes straight from the raw bytes to models with pydantic-core (``TypeAdapter.validate_json``
on a union discriminated by ``type``); only lines that fail that fast path take a slower, lenient path
that repairs what it can and otherwise reports an :class:`EventParseError`.

Events do not carry their source line (that would cost an attribute per event on the hot path): the
``events.jsonl`` file is the raw record, byte for byte.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError

from cockpit.core.codex.app_server import protocol as wire
from cockpit.core.codex.app_server.protocol import Notification, Response, decode, drop_failing_fields
from cockpit.core.errors import CodexError
from cockpit.core.open_set import UnknownType, not_known, open_union, type_names
from cockpit.core.open_set import WireModel as _Wire
from cockpit.core.records.basics import Usage  # defined with the task's other small value types

__all__ = [
    "RPC_RESPONSE",
    "AgentMessageItem",
    "CodexEvent",
    "CollabToolCallItem",
    "CommandExecutionItem",
    "ErrorEvent",
    "ErrorInfo",
    "ErrorItem",
    "EventParseError",
    "FileChangeItem",
    "FileUpdateChange",
    "ItemCompleted",
    "ItemEvent",
    "ItemStarted",
    "ItemUpdated",
    "McpToolCallError",
    "McpToolCallItem",
    "McpToolCallResult",
    "PlanDelta",
    "PlanItem",
    "RateLimitsUpdated",
    "ReasoningItem",
    "RequestUserInput",
    "ThreadItem",
    "ThreadStarted",
    "TodoEntry",
    "TodoListItem",
    "TurnCompleted",
    "TurnDiffUpdated",
    "TurnFailed",
    "TurnStarted",
    "UnknownEvent",
    "UnknownItem",
    "Usage",
    "WebSearchItem",
    "app_usage",
    "parse_event_batch",
    "parse_event_line",
]


RPC_RESPONSE: Final = "rpc/response"
"""The type of an app-server response line (an answer to one of the runner's requests) kept as an event."""


class EventParseError(CodexError, ValueError):
    """A line that is not a Codex event at all (not JSON, not an object, not UTF-8, blank)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------- items


class _Item(_Wire):
    id: str = ""


class AgentMessageItem(_Item):
    type: Literal["agent_message"] = "agent_message"
    text: str = ""


class ReasoningItem(_Item):
    type: Literal["reasoning"] = "reasoning"
    text: str = ""


class CommandExecutionItem(_Item):
    type: Literal["command_execution"] = "command_execution"
    command: str = ""
    aggregated_output: str = ""
    exit_code: int | None = None
    status: str = "in_progress"  # in_progress | completed | failed | declined

    @property
    def failed(self) -> bool:
        """True once the command ended badly: non-zero exit, or status failed/declined."""
        return self.status in ("failed", "declined") or (self.exit_code is not None and self.exit_code != 0)


def _change_kind(value: Any) -> Any:
    # Some protocol surfaces spell the kind as an object ``{"type": "update", ...}``.
    if isinstance(value, dict):
        return value.get("type", "update")
    return value


class FileUpdateChange(_Wire):
    path: str = ""
    kind: Annotated[str, BeforeValidator(_change_kind)] = "update"  # add | update | delete
    diff: str | None = None


class FileChangeItem(_Item):
    type: Literal["file_change"] = "file_change"
    changes: list[FileUpdateChange] = Field(default_factory=list)
    status: str = "in_progress"  # in_progress | completed | failed
    diff: str | None = None


class McpToolCallResult(_Wire):
    content: list[Any] = Field(default_factory=list)
    structured_content: Any = None


class McpToolCallError(_Wire):
    message: str = ""


class McpToolCallItem(_Item):
    type: Literal["mcp_tool_call"] = "mcp_tool_call"
    server: str = ""
    tool: str = ""
    arguments: Any = None
    result: McpToolCallResult | None = None
    error: McpToolCallError | None = None
    status: str = "in_progress"


class WebSearchItem(_Item):
    type: Literal["web_search"] = "web_search"
    query: str = ""
    action: Any = None


class TodoEntry(_Wire):
    text: str = ""
    completed: bool = False


class TodoListItem(_Item):
    type: Literal["todo_list"] = "todo_list"
    items: list[TodoEntry] = Field(default_factory=list)


class ErrorItem(_Item):
    type: Literal["error"] = "error"
    message: str = ""


class PlanItem(_Item):
    type: Literal["plan"] = "plan"
    text: str = ""


class CollabToolCallItem(_Item):
    type: Literal["collab_tool_call"] = "collab_tool_call"
    tool: str = ""
    sender_thread_id: str | None = None
    receiver_thread_ids: list[str] = Field(default_factory=list)
    prompt: str | None = None
    agents_states: dict[str, Any] = Field(default_factory=dict)
    status: str = "in_progress"


_KnownItem = (
    AgentMessageItem
    | ReasoningItem
    | CommandExecutionItem
    | FileChangeItem
    | McpToolCallItem
    | WebSearchItem
    | TodoListItem
    | ErrorItem
    | PlanItem
    | CollabToolCallItem
)
KNOWN_ITEM_TYPES: Final[frozenset[str]] = type_names(_KnownItem)


class UnknownItem(UnknownType):
    """An item of a type this version does not know; all its fields are kept (see :attr:`raw`). A known
    type that failed its own model does not land here: it goes to the lenient path instead."""

    type: Annotated[str, not_known(KNOWN_ITEM_TYPES, "item")]

    @property
    def item_id(self) -> str:
        value = (self.model_extra or {}).get("id")
        return value if isinstance(value, str) else ""


ThreadItem = _KnownItem | UnknownItem
"""Any item: a known model, or :class:`UnknownItem`."""

_ItemField = open_union(_KnownItem, UnknownItem)


# --------------------------------------------------------------------------------------------- events


class ThreadStarted(_Wire):
    type: Literal["thread.started"] = "thread.started"
    thread_id: str = ""


class TurnStarted(_Wire):
    type: Literal["turn.started"] = "turn.started"


class TurnCompleted(_Wire):
    type: Literal["turn.completed"] = "turn.completed"
    usage: Usage = Field(default_factory=Usage)


class ErrorInfo(_Wire):
    message: str = ""


def _error_info(value: Any) -> Any:
    if isinstance(value, str):
        return {"message": value}
    return value


class TurnFailed(_Wire):
    type: Literal["turn.failed"] = "turn.failed"
    error: Annotated[ErrorInfo, BeforeValidator(_error_info)] = Field(default_factory=ErrorInfo)

    @property
    def message(self) -> str:
        return self.error.message or "turn failed"


class ErrorEvent(_Wire):
    """A top-level ``error`` event: a warning (e.g. ``Reconnecting... 1/5``), not terminal."""

    type: Literal["error"] = "error"
    message: str = ""


class _ItemEventBase(_Wire):
    item: _ItemField


class ItemStarted(_ItemEventBase):
    type: Literal["item.started"] = "item.started"


class ItemUpdated(_ItemEventBase):
    type: Literal["item.updated"] = "item.updated"


class ItemCompleted(_ItemEventBase):
    type: Literal["item.completed"] = "item.completed"


ItemEvent = ItemStarted | ItemUpdated | ItemCompleted


class PlanDelta(_Wire):
    type: Literal["item.plan.delta"] = "item.plan.delta"
    item_id: str = ""
    delta: str = ""


class TurnDiffUpdated(_Wire):
    """App-server ``turn/diff/updated``: the whole diff of the running turn against its start."""

    type: Literal["turn.diff_updated"] = "turn.diff_updated"
    turn_id: str = ""
    diff: str = ""


class RateLimitsUpdated(_Wire):
    """App-server ``account/rateLimits/updated``: a sparse snapshot (null = no news, never a reset)."""

    type: Literal["account.rate_limits_updated"] = "account.rate_limits_updated"
    rate_limits: dict[str, Any] = Field(default_factory=dict)
    emitted_at: float | None = None  # seconds since the epoch, from the line's ``emittedAtMs``


class RequestUserInput(_Wire):
    type: Literal["request_user_input"] = "request_user_input"
    id: str = ""
    call_id: str = ""
    questions: list[Any] = Field(default_factory=list)


_KnownEvent = (
    ThreadStarted
    | TurnStarted
    | ItemStarted
    | ItemUpdated
    | ItemCompleted
    | TurnCompleted
    | TurnFailed
    | ErrorEvent
    | PlanDelta
    | RequestUserInput
    | TurnDiffUpdated
    | RateLimitsUpdated
)
KNOWN_EVENT_TYPES: Final[frozenset[str]] = type_names(_KnownEvent)


class UnknownEvent(UnknownType):
    """An event of a type this version does not know; the whole payload is kept (see :attr:`raw`)."""

    type: Annotated[str, not_known(KNOWN_EVENT_TYPES, "event")]


CodexEvent = _KnownEvent | UnknownEvent
"""Any parsed line: a known event model, or :class:`UnknownEvent`."""

_EVENT_ADAPTER: Final[TypeAdapter[CodexEvent]] = TypeAdapter(open_union(_KnownEvent, UnknownEvent))
# The core validator itself: calling it skips a Python-level wrapper on the hot path.
_validate_json: Final = _EVENT_ADAPTER.validator.validate_json
_validate_python: Final = _EVENT_ADAPTER.validator.validate_python
_ITEM_ADAPTER: Final[TypeAdapter[ThreadItem]] = TypeAdapter(_ItemField)

_REPAIR_ROUNDS: Final = 8
_JSON_KINDS: Final[dict[type, str]] = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def parse_event_line(line: bytes | str) -> CodexEvent:
    """Parse one JSONL line (with or without its newline) into an event model.

    Raises :class:`EventParseError` for blank lines, invalid UTF-8, non-JSON and JSON that is not an
    object. A known event whose fields have unexpected types is repaired (those fields fall back to
    their defaults) rather than rejected; an object that cannot be repaired is kept as an
    :class:`UnknownEvent`.
    """
    try:
        return _validate_json(line)
    except ValidationError as exc:
        return _parse_slow(line, exc)


def parse_event_batch(lines: Sequence[bytes | str]) -> list[CodexEvent] | None:
    """Parse many lines in one go; ``None`` when any of them needs :func:`parse_event_line`'s slow path.

    The fast path of a reader: a stream of well-formed events costs one validator call per line and no
    exception handling per line. On ``None``, parse the lines one by one to learn which ones failed.
    """
    try:
        return [_validate_json(line) for line in lines]
    except ValidationError:
        return None


def _parse_slow(line: bytes | str, exc: ValidationError) -> CodexEvent:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        raise EventParseError(_invalid_reason(line, errors[0]["msg"])) from None
    try:
        obj = json.loads(line)
    except ValueError as err:  # pragma: no cover - the fast path already accepted the JSON
        raise EventParseError(f"invalid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise EventParseError(f"JSON {_JSON_KINDS.get(type(obj), 'value')}, not an object")
    return _lenient_event(obj)


def _invalid_reason(line: bytes | str, message: str) -> str:
    if isinstance(line, bytes):
        if not line.strip():
            return "blank line"
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"invalid UTF-8 at byte {err.start}"
    elif not line.strip():
        return "blank line"
    return f"invalid JSON: {message.removeprefix('Invalid JSON: ')}"


def _lenient_event(obj: dict[str, Any]) -> CodexEvent:
    """Validate a decoded object, dropping fields that fail until it fits (bounded rounds)."""
    if "type" not in obj:
        message = decode(obj)  # an app-server line: JSON-RPC, keyed by ``method``, not ``type``
        if isinstance(message, Notification):
            return _app_server_event(message)
        if isinstance(message, Response):
            return UnknownEvent.model_construct(type=RPC_RESPONSE, **obj)
    event_type = obj.get("type")
    if not isinstance(event_type, str) or event_type not in KNOWN_EVENT_TYPES:
        return UnknownEvent.from_raw(obj)
    data = copy.deepcopy(obj)  # a private copy that may be pruned
    item = data.get("item")
    if event_type.startswith("item.") and isinstance(item, dict):
        data["item"] = _lenient_item(item)
    for _ in range(_REPAIR_ROUNDS):
        try:
            return _validate_python(data)
        except ValidationError as exc:
            if not drop_failing_fields(data, exc):
                break
    return UnknownEvent.from_raw(obj)


def _lenient_item(item: dict[str, Any]) -> ThreadItem:
    data = copy.deepcopy(item)
    for _ in range(_REPAIR_ROUNDS):
        try:
            return _ITEM_ADAPTER.validate_python(data)
        except ValidationError as exc:
            if not drop_failing_fields(data, exc):
                break
    return UnknownItem.from_raw(item)


# ------------------------------------------------------------------------------ app-server lines

# The mcp lane's ``events.jsonl`` holds what ``codex app-server`` said: JSON-RPC lines keyed by ``method``
# instead of ``type``, decoded by :mod:`cockpit.core.codex.app_server.protocol` exactly as the live client
# decodes them. The ones the reducer needs become the exec models above (each keeps a ``method`` extra
# field saying where it came from); every other method is kept as an :class:`UnknownEvent` whose type is
# the method name.

_APP_ITEM_TYPES: Final[dict[str, str]] = {
    "agentMessage": "agent_message",
    "reasoning": "reasoning",
    "commandExecution": "command_execution",
    "fileChange": "file_change",
}
_APP_STATUS: Final[dict[str, str]] = {"inProgress": "in_progress"}


def _app_item(raw: wire.ThreadItem) -> ThreadItem | None:
    kind = _APP_ITEM_TYPES.get(raw.type)
    if kind is None:
        return None
    data: dict[str, Any] = {"type": kind, "id": raw.id}
    if raw.status is not None:
        data["status"] = _APP_STATUS.get(raw.status, raw.status)
    if kind in ("agent_message", "reasoning"):
        text = raw.text
        if kind == "reasoning" and text is None:
            text = "\n".join(str(s) for s in raw.summary) if raw.summary is not None else ""
        data["text"] = text or ""
    elif kind == "command_execution":
        data["command"] = raw.command or ""
        data["aggregated_output"] = raw.aggregatedOutput or ""
        data["exit_code"] = raw.exitCode
    elif kind == "file_change":
        data["changes"] = [
            {
                "path": c.path,
                "kind": c.kind or "update",
                "diff": c.diff if "diff" in c.model_fields_set else None,
            }
            for c in raw.changes or []
        ]
    try:
        return _ITEM_ADAPTER.validate_python(data)
    except ValidationError:
        return None


def app_usage(total: wire.TokenUsageBreakdown) -> Usage:
    """A ``tokenUsage`` breakdown (the app-server's camelCase) as :class:`Usage`."""
    return Usage(
        input_tokens=max(0, total.inputTokens),
        cached_input_tokens=max(0, total.cachedInputTokens),
        output_tokens=max(0, total.outputTokens),
        reasoning_output_tokens=max(0, total.reasoningOutputTokens),
    )


_APP_TYPED: Final = frozenset(
    {
        wire.THREAD_STARTED,
        wire.TURN_COMPLETED,
        wire.ITEM_STARTED,
        wire.ITEM_COMPLETED,
        wire.TOKEN_USAGE_UPDATED,
        wire.TURN_DIFF_UPDATED,
        wire.ERROR,
    }
)
"""The methods whose typed params become an exec event (the others need no validation)."""


def _app_server_event(message: Notification) -> CodexEvent:
    method = message.method
    typed = message.typed if method in _APP_TYPED else None
    tag = {"method": method}
    if isinstance(typed, wire.ThreadStarted):
        return ThreadStarted(thread_id=typed.thread.id, **tag)
    if method == wire.TURN_STARTED:
        return TurnStarted(**tag)
    if method == wire.TURN_COMPLETED:
        turn = typed.turn if isinstance(typed, wire.TurnNotification) else None
        status = turn.status if turn is not None and turn.status else None
        if status == "completed":
            return TurnCompleted(status=status, **tag)
        error = turn.error if turn is not None else None
        text = error.message if error is not None and error.message else f"turn {status or 'ended'}"
        return TurnFailed(error=ErrorInfo(message=text), status=status, **tag)
    if isinstance(typed, wire.ItemNotification):
        item = _app_item(typed.item)
        if item is not None:
            return (ItemStarted if method == wire.ITEM_STARTED else ItemCompleted)(item=item, **tag)
    elif isinstance(typed, wire.TokenUsageUpdated):
        if "total" in typed.tokenUsage.model_fields_set:
            usage = app_usage(typed.tokenUsage.total)
            return UnknownEvent.model_construct(type=method, usage=usage, params=message.params)
    elif isinstance(typed, wire.TurnDiffUpdated):
        if "diff" in typed.model_fields_set:
            return TurnDiffUpdated(turn_id=typed.turnId, diff=typed.diff, **tag)
    elif method == wire.RATE_LIMITS_UPDATED:
        limits = message.params.get("rateLimits") if isinstance(message.params, dict) else None
        if isinstance(limits, dict):  # kept as sent: the live file merges the raw sparse snapshot
            return RateLimitsUpdated(rate_limits=limits, emitted_at=message.emitted_at, **tag)
    elif isinstance(typed, wire.ErrorNotification):
        will_retry = typed.willRetry if "willRetry" in typed.model_fields_set else None
        return ErrorEvent(message=typed.error.message or "error", will_retry=will_retry, **tag)
    rest = {k: v for k, v in message.message.items() if k != "method"}
    return UnknownEvent.model_construct(type=method, **rest)

"""Typed Codex ``exec --json`` events: the models for every event and item type, and the line parser.

One JSONL line of Codex stdout becomes one event model. Known event and item types get their own model;
anything else is kept as :class:`UnknownEvent` / :class:`UnknownItem` with its full payload, never
dropped. Every model allows extra fields (newer CLI builds add some) and gives every field but the
discriminating ``type`` a default, so a known type with a new shape still parses.

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

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from cockpit.core.errors import CodexError
from cockpit.core.records.basics import Usage  # defined with the task's other small value types

__all__ = [
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


class _Wire(BaseModel):
    """Base of every wire model: unknown fields are kept (``model_extra``), nothing is required."""

    model_config = ConfigDict(extra="allow")


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
KNOWN_ITEM_TYPES: Final[frozenset[str]] = frozenset(
    cls.model_fields["type"].default
    for cls in _KnownItem.__args__  # type: ignore[attr-defined]
)


def _not_known_item(value: str) -> str:
    # A known type that failed its own model must not hide here: it goes to the lenient path instead.
    if value in KNOWN_ITEM_TYPES:
        raise ValueError(f"malformed {value} item")
    return value


class UnknownItem(_Wire):
    """An item of a type this version does not know; all its fields are kept (see :attr:`raw`)."""

    type: Annotated[str, AfterValidator(_not_known_item)]

    @property
    def raw(self) -> dict[str, Any]:
        return {"type": self.type, **(self.model_extra or {})}

    @property
    def item_id(self) -> str:
        value = (self.model_extra or {}).get("id")
        return value if isinstance(value, str) else ""

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> UnknownItem:
        data = dict(raw)
        item_type = data.pop("type", "")
        return cls.model_construct(type=str(item_type), **data)


ThreadItem = _KnownItem | UnknownItem
"""Any item: a known model, or :class:`UnknownItem`."""

_ItemField = Annotated[
    Annotated[_KnownItem, Field(discriminator="type")] | UnknownItem,
    Field(union_mode="left_to_right"),
]


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
KNOWN_EVENT_TYPES: Final[frozenset[str]] = frozenset(
    cls.model_fields["type"].default
    for cls in _KnownEvent.__args__  # type: ignore[attr-defined]
)


def _not_known_event(value: str) -> str:
    if value in KNOWN_EVENT_TYPES:
        raise ValueError(f"malformed {value} event")
    return value


class UnknownEvent(_Wire):
    """An event of a type this version does not know; the whole payload is kept (see :attr:`raw`)."""

    type: Annotated[str, AfterValidator(_not_known_event)]

    @property
    def raw(self) -> dict[str, Any]:
        return {"type": self.type, **(self.model_extra or {})}

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> UnknownEvent:
        data = dict(raw)
        event_type = data.pop("type", None)
        if not isinstance(event_type, str):
            event_type = "" if event_type is None else json.dumps(event_type)
        return cls.model_construct(type=event_type, **data)


CodexEvent = _KnownEvent | UnknownEvent
"""Any parsed line: a known event model, or :class:`UnknownEvent`."""

_EVENT_ADAPTER: Final[TypeAdapter[CodexEvent]] = TypeAdapter(
    Annotated[
        Annotated[_KnownEvent, Field(discriminator="type")] | UnknownEvent,
        Field(union_mode="left_to_right"),
    ]
)
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
    if "type" not in obj and isinstance(obj.get("method"), str):
        return _app_server_event(obj)
    if "type" not in obj and "id" in obj and ("result" in obj or "error" in obj):
        return UnknownEvent.model_construct(type="rpc/response", **obj)
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
            if not _prune(data, exc):
                break
    return UnknownEvent.from_raw(obj)


def _lenient_item(item: dict[str, Any]) -> ThreadItem:
    data = copy.deepcopy(item)
    for _ in range(_REPAIR_ROUNDS):
        try:
            return _ITEM_ADAPTER.validate_python(data)
        except ValidationError as exc:
            if not _prune(data, exc):
                break
    return UnknownItem.from_raw(item)


def _prune(data: dict[str, Any], exc: ValidationError) -> bool:
    """Delete the fields the errors point at; False when nothing could be deleted."""
    pruned = False
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        pruned |= _delete_path(data, error["loc"])
    return pruned


def _delete_path(data: Any, loc: tuple[int | str, ...]) -> bool:
    node = data
    parent: Any = None
    key: int | str | None = None
    for part in loc:
        if _has_child(node, part):
            parent, key, node = node, part, node[part]
        elif not isinstance(part, str):
            return False
        # else: a union tag or model name that pydantic puts in the location, not a key of the data
    if parent is None or key is None or key == "type":
        return False
    del parent[key]
    return True


def _has_child(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


# ------------------------------------------------------------------------------ app-server lines

# The mcp lane's ``events.jsonl`` holds what ``codex app-server`` said: JSON-RPC lines keyed by ``method``
# instead of ``type``. The ones the reducer needs become the exec models above (each keeps a ``method``
# extra field saying where it came from); every other method is kept as an :class:`UnknownEvent` whose
# type is the method name.

_APP_ITEM_TYPES: Final[dict[str, str]] = {
    "agentMessage": "agent_message",
    "reasoning": "reasoning",
    "commandExecution": "command_execution",
    "fileChange": "file_change",
}
_APP_STATUS: Final[dict[str, str]] = {"inProgress": "in_progress"}


def _app_item(raw: Any) -> ThreadItem | None:
    if not isinstance(raw, dict):
        return None
    kind = _APP_ITEM_TYPES.get(str(raw.get("type", "")))
    if kind is None:
        return None
    data: dict[str, Any] = {"type": kind, "id": str(raw.get("id", ""))}
    status = raw.get("status")
    if isinstance(status, str):
        data["status"] = _APP_STATUS.get(status, status)
    if kind in ("agent_message", "reasoning"):
        text = raw.get("text")
        if kind == "reasoning" and not isinstance(text, str):
            summary = raw.get("summary")
            text = "\n".join(str(s) for s in summary) if isinstance(summary, list) else ""
        data["text"] = text if isinstance(text, str) else ""
    elif kind == "command_execution":
        data["command"] = str(raw.get("command") or "")
        data["aggregated_output"] = str(raw.get("aggregatedOutput") or "")
        exit_code = raw.get("exitCode")
        valid = isinstance(exit_code, int) and not isinstance(exit_code, bool)
        data["exit_code"] = exit_code if valid else None
    elif kind == "file_change":
        changes = raw.get("changes")
        data["changes"] = [
            {"path": str(c.get("path", "")), "kind": c.get("kind") or "update", "diff": c.get("diff")}
            for c in (changes if isinstance(changes, list) else [])
            if isinstance(c, dict)
        ]
    try:
        return _ITEM_ADAPTER.validate_python(data)
    except ValidationError:
        return None


def app_usage(total: Any) -> Usage | None:
    """A ``tokenUsage.total`` breakdown (camelCase) as :class:`Usage`."""
    if not isinstance(total, dict):
        return None

    def num(key: str) -> int:
        value = total.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    return Usage(
        input_tokens=num("inputTokens"),
        cached_input_tokens=num("cachedInputTokens"),
        output_tokens=num("outputTokens"),
        reasoning_output_tokens=num("reasoningOutputTokens"),
    )


def _app_server_event(obj: dict[str, Any]) -> CodexEvent:
    method: str = obj["method"]
    params = obj.get("params") if isinstance(obj.get("params"), dict) else {}
    tag = {"method": method}
    if method == "thread/started":
        thread = params.get("thread")
        if isinstance(thread, dict) and isinstance(thread.get("id"), str):
            return ThreadStarted(thread_id=thread["id"], **tag)
    elif method == "turn/started":
        return TurnStarted(**tag)
    elif method == "turn/completed":
        turn = params.get("turn") if isinstance(params.get("turn"), dict) else {}
        status = turn.get("status")
        if status == "completed":
            return TurnCompleted(status=status, **tag)
        error = turn.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            message = f"turn {status or 'ended'}"
        return TurnFailed(error=ErrorInfo(message=message), status=status, **tag)
    elif method in ("item/started", "item/completed"):
        item = _app_item(params.get("item"))
        if item is not None:
            return (ItemStarted if method == "item/started" else ItemCompleted)(item=item, **tag)
    elif method == "thread/tokenUsage/updated":
        usage = params.get("tokenUsage")
        total = app_usage(usage.get("total") if isinstance(usage, dict) else None)
        if total is not None:
            return UnknownEvent.model_construct(type=method, usage=total, params=params)
    elif method == "turn/diff/updated":
        diff = params.get("diff")
        if isinstance(diff, str):
            return TurnDiffUpdated(turn_id=str(params.get("turnId") or ""), diff=diff, **tag)
    elif method == "account/rateLimits/updated":
        limits = params.get("rateLimits")
        if isinstance(limits, dict):
            emitted = obj.get("emittedAtMs")
            valid = isinstance(emitted, int | float) and not isinstance(emitted, bool) and emitted > 0
            return RateLimitsUpdated(rate_limits=limits, emitted_at=emitted / 1000 if valid else None, **tag)
    elif method == "error":
        error = params.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        return ErrorEvent(message=str(message or "error"), will_retry=params.get("willRetry"), **tag)
    return UnknownEvent.model_construct(type=method, **{k: v for k, v in obj.items() if k != "method"})

"""Typed Claude Code ``stream-json`` lines and a lenient reader for them.

``claude -p --output-format stream-json --verbose`` prints one JSON object a line on stdout: a
``system``/``init`` line, ``system``/``api_retry`` lines while it retries the API, one ``assistant`` line
per content block the model sent (text, thinking, tool_use), a ``user`` line per tool result, and one
``result`` line at the end (``docs/claude-code.md`` has what the pinned version prints, seen for real).

What the CLI prints is an open set: a line type, system subtype, content block type or enum value this
version does not know is kept (:class:`UnknownLine`, :class:`UnknownBlock`, plain ``str`` fields), never
rejected. Every model keeps unknown fields (``model_extra``) and gives every field but the
discriminating ``type`` a default (the open-set pieces, shared with Codex's events, are
:mod:`cockpit.core.open_set`'s). A line that is not a JSON object with a string ``type``, or a known
type whose fields do not fit, is *malformed*: :class:`ClaudeStream` counts it (and keeps a few) and
reads on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal

from pydantic import AliasChoices, BaseModel, Field, TypeAdapter, ValidationError

from cockpit.core.errors import ClaudeError
from cockpit.core.open_set import UnknownType, not_known, open_union, type_names
from cockpit.core.open_set import WireModel as _Wire

__all__ = [
    "KNOWN_LINE_TYPES",
    "RATE_LIMIT_STATUSES",
    "RATE_LIMIT_TYPES",
    "ApiRetry",
    "AssistantLine",
    "AssistantMessage",
    "ClaudeLine",
    "ClaudeStream",
    "ContentBlock",
    "PermissionDenial",
    "RateLimitEvent",
    "RateLimitInfo",
    "ResultLine",
    "StreamEvent",
    "StreamLineError",
    "SystemInit",
    "SystemLine",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolUseBlock",
    "UnknownBlock",
    "UnknownLine",
    "Usage",
    "UserLine",
    "UserMessage",
    "parse_line",
    "read_stream",
]


class StreamLineError(ClaudeError, ValueError):
    """A line that is not a usable stream-json line (not JSON, not an object, no type, fields that do
    not fit its known type)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------------------------ content blocks


class TextBlock(_Wire):
    type: Literal["text"] = "text"
    text: str = ""


class ThinkingBlock(_Wire):
    type: Literal["thinking"] = "thinking"
    thinking: str = ""
    signature: str = ""


class ToolUseBlock(_Wire):
    """The model asks to run a tool (``Bash``, ``Read``, ...) with ``input``."""

    type: Literal["tool_use"] = "tool_use"
    id: str = ""
    name: str = ""
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(_Wire):
    """What a tool gave back (in a ``user`` line); ``is_error`` for a failed or refused call."""

    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str = ""
    content: str | list[Any] = ""
    is_error: bool = False

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict))


_KnownBlock = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock
_KNOWN_BLOCK_TYPES: Final = type_names(_KnownBlock)


class UnknownBlock(UnknownType):
    """A content block of a type this version does not know (``redacted_thinking``, ``image``, ...)."""

    type: Annotated[str, not_known(_KNOWN_BLOCK_TYPES, "block")]


ContentBlock = open_union(_KnownBlock, UnknownBlock)


# ----------------------------------------------------------------------------------------- messages


class Usage(_Wire):
    """Token usage: the Messages API's fields (a ``result`` line adds ``service_tier`` and more)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class AssistantMessage(_Wire):
    id: str = ""
    model: str = ""  # ``<synthetic>`` on the message the CLI writes itself for an API error
    role: str = "assistant"
    content: list[ContentBlock] = Field(default_factory=list)
    stop_reason: str | None = None
    usage: Usage | None = None


class UserMessage(_Wire):
    role: str = "user"
    content: str | list[ContentBlock] = Field(default_factory=list)


# -------------------------------------------------------------------------------------------- lines


class SystemInit(_Wire):
    """The first line: where the CLI runs, its tools, model, permission mode and version."""

    type: Literal["system"] = "system"
    subtype: Literal["init"] = "init"
    session_id: str = ""
    cwd: str = ""
    model: str = ""
    tools: list[str] = Field(default_factory=list)
    permission_mode: str = Field(
        default="", validation_alias=AliasChoices("permissionMode", "permission_mode")
    )
    api_key_source: str = Field(default="", validation_alias=AliasChoices("apiKeySource", "api_key_source"))
    claude_code_version: str = ""


class ApiRetry(_Wire):
    """The CLI will retry an API request (one line per retry, before it waits ``retry_delay_ms``)."""

    type: Literal["system"] = "system"
    subtype: Literal["api_retry"] = "api_retry"
    attempt: int = 0
    max_retries: int = 0
    retry_delay_ms: float = 0.0
    error_status: int | None = None  # the HTTP status; None when the connection failed
    error: str = ""  # e.g. overloaded, rate_limit, server_error, authentication_failed, unknown
    session_id: str = ""


class SystemLine(_Wire):
    """A ``system`` line of another subtype (``status``, hook events, ...)."""

    type: Literal["system"] = "system"
    subtype: str = ""
    session_id: str = ""


class AssistantLine(_Wire):
    """One content block of a model turn (the CLI prints each block as its own line, same message id)."""

    type: Literal["assistant"] = "assistant"
    message: AssistantMessage = Field(default_factory=AssistantMessage)
    parent_tool_use_id: str | None = None
    session_id: str = ""
    error: str | None = None  # set on the CLI's own message for an API error (authentication_failed, ...)

    @property
    def synthetic(self) -> bool:
        """The CLI wrote this message itself (an API error), the model did not."""
        return self.message.model == "<synthetic>"


class UserLine(_Wire):
    """Tool results going back to the model; ``tool_use_result`` is the tool's own structured output."""

    type: Literal["user"] = "user"
    message: UserMessage = Field(default_factory=UserMessage)
    parent_tool_use_id: str | None = None
    session_id: str = ""
    tool_use_result: Any = None


class PermissionDenial(_Wire):
    tool_name: str = ""
    tool_use_id: str = ""
    tool_input: dict[str, Any] = Field(default_factory=dict)


class ResultLine(_Wire):
    """The last line. ``is_error`` is the verdict: API failures come with ``subtype`` ``success`` too."""

    type: Literal["result"] = "result"
    subtype: str = ""  # success | error_max_turns | error_during_execution | ...
    is_error: bool = False
    api_error_status: int | None = None
    duration_ms: int = 0
    duration_api_ms: int = 0
    num_turns: int = 0
    result: str | None = None  # the final text (absent on error_max_turns)
    stop_reason: str | None = None
    terminal_reason: str | None = None  # completed | max_turns | ...
    session_id: str = ""
    total_cost_usd: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    model_usage: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("modelUsage", "model_usage")
    )
    permission_denials: list[PermissionDenial] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


RATE_LIMIT_STATUSES: Final = ("allowed", "allowed_warning", "rejected")
"""The statuses the pinned CLI prints (an open set: another value is kept as printed)."""
RATE_LIMIT_TYPES: Final = (
    "five_hour",
    "seven_day",
    "seven_day_opus",
    "seven_day_sonnet",
    "seven_day_overage_included",
    "overage",
)
"""The windows (``rateLimitType``) the pinned CLI names (an open set, like the statuses)."""


class RateLimitInfo(_Wire):
    """The subscription's rate-limit state as the CLI read it from the API's
    ``anthropic-ratelimit-unified-*`` response headers. ``utilization`` is a fraction (0.93, not 93) and
    comes only with ``allowed_warning``; ``resets_at`` is in unix seconds. Overage fields are kept in
    ``model_extra``."""

    status: str = ""  # allowed | allowed_warning | rejected | ... (RATE_LIMIT_STATUSES)
    resets_at: float | None = Field(default=None, validation_alias=AliasChoices("resetsAt", "resets_at"))
    rate_limit_type: str | None = Field(
        default=None, validation_alias=AliasChoices("rateLimitType", "rate_limit_type")
    )  # five_hour | seven_day | ... (RATE_LIMIT_TYPES)
    utilization: float | None = None


class RateLimitEvent(_Wire):
    """The subscription's rate-limit state changed. Printed only when the CLI is logged in to a
    subscription (``CLAUDE_CODE_OAUTH_TOKEN`` or ``/login``), never with an API key: once after the first
    response of a run, then whenever the state read from a response differs (see the doc)."""

    type: Literal["rate_limit_event"] = "rate_limit_event"
    rate_limit_info: RateLimitInfo = Field(default_factory=RateLimitInfo)
    session_id: str = ""


class StreamEvent(_Wire):
    """A raw Messages API event (``--include-partial-messages`` only)."""

    type: Literal["stream_event"] = "stream_event"
    event: dict[str, Any] = Field(default_factory=dict)
    parent_tool_use_id: str | None = None
    session_id: str = ""


class UnknownLine(UnknownType):
    """A line of a type this version does not know; all its fields are kept (see :attr:`raw`)."""


ClaudeLine = (
    SystemInit
    | ApiRetry
    | SystemLine
    | AssistantLine
    | UserLine
    | ResultLine
    | RateLimitEvent
    | StreamEvent
    | UnknownLine
)
"""Any stream-json line: a known model, or :class:`UnknownLine`."""

_BY_TYPE: Final[dict[str, type[BaseModel]]] = {
    "assistant": AssistantLine,
    "user": UserLine,
    "result": ResultLine,
    "rate_limit_event": RateLimitEvent,
    "stream_event": StreamEvent,
}
_SYSTEM_BY_SUBTYPE: Final[dict[str, type[BaseModel]]] = {"init": SystemInit, "api_retry": ApiRetry}
KNOWN_LINE_TYPES: Final[frozenset[str]] = frozenset({"system", *_BY_TYPE})
_OBJECT: Final = TypeAdapter(dict[str, Any])


def parse_line(line: str | bytes) -> ClaudeLine:
    """One stdout line as its model; raises :class:`StreamLineError` for a malformed line."""
    try:
        data = _OBJECT.validate_json(line)
    except ValidationError as exc:
        raise StreamLineError(f"not a JSON object: {_first_error(exc)}") from None
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise StreamLineError("no string 'type'")
    model: type[BaseModel]
    if kind == "system":
        subtype = data.get("subtype")
        model = _SYSTEM_BY_SUBTYPE.get(subtype, SystemLine) if isinstance(subtype, str) else SystemLine
    else:
        model = _BY_TYPE.get(kind, UnknownLine)
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise StreamLineError(f"malformed {kind} line: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "line"
    return f"{where}: {first.get('msg', '')}"


class ClaudeStream:
    """Reads a run's stdout line by line: keeps every good line, counts malformed ones, and offers what
    the caller asks of a finished run (its result, retries, text, tool calls)."""

    SAMPLES = 5  # malformed lines kept (their reasons) for a message

    def __init__(self) -> None:
        self.lines: list[ClaudeLine] = []
        self.malformed = 0
        self.malformed_samples: list[str] = []

    def feed(self, line: str | bytes) -> ClaudeLine | None:
        """Add one line (blank lines are skipped); returns its model, or None when skipped or malformed."""
        if not line.strip():
            return None
        try:
            parsed = parse_line(line)
        except StreamLineError as exc:
            self.malformed += 1
            if len(self.malformed_samples) < self.SAMPLES:
                self.malformed_samples.append(exc.reason)
            return None
        self.lines.append(parsed)
        return parsed

    def feed_all(self, lines: Iterable[str | bytes]) -> ClaudeStream:
        for line in lines:
            self.feed(line)
        return self

    # -- what a finished run said ----------------------------------------------------------------

    @property
    def init(self) -> SystemInit | None:
        return next((x for x in self.lines if isinstance(x, SystemInit)), None)

    @property
    def result(self) -> ResultLine | None:
        """The last ``result`` line (None when the CLI died before printing one)."""
        return next((x for x in reversed(self.lines) if isinstance(x, ResultLine)), None)

    @property
    def retries(self) -> list[ApiRetry]:
        return [x for x in self.lines if isinstance(x, ApiRetry)]

    @property
    def rate_limits(self) -> list[RateLimitInfo]:
        return [x.rate_limit_info for x in self.lines if isinstance(x, RateLimitEvent)]

    @property
    def unknown(self) -> list[UnknownLine]:
        return [x for x in self.lines if isinstance(x, UnknownLine)]

    @property
    def session_id(self) -> str | None:
        for line in self.lines:
            sid = getattr(line, "session_id", "")
            if sid:
                return str(sid)
        return None

    def assistant_blocks(self) -> list[Any]:
        """Content blocks of the model's own messages (not the CLI's synthetic error message)."""
        return [
            block
            for x in self.lines
            if isinstance(x, AssistantLine) and not x.synthetic
            for block in x.message.content
        ]

    def text(self) -> str:
        """The model's text blocks, in order, one paragraph each."""
        return "\n\n".join(b.text for b in self.assistant_blocks() if isinstance(b, TextBlock) and b.text)

    def tool_uses(self) -> list[ToolUseBlock]:
        return [b for b in self.assistant_blocks() if isinstance(b, ToolUseBlock)]

    def tool_results(self) -> list[ToolResultBlock]:
        return [
            block
            for x in self.lines
            if isinstance(x, UserLine) and isinstance(x.message.content, list)
            for block in x.message.content
            if isinstance(block, ToolResultBlock)
        ]

    @property
    def failed(self) -> bool:
        """No result line, or a result that says it failed."""
        result = self.result
        return result is None or result.is_error


def read_stream(lines: Iterable[str | bytes]) -> ClaudeStream:
    """A :class:`ClaudeStream` over all of ``lines`` (``text.splitlines()`` or a file)."""
    return ClaudeStream().feed_all(lines)

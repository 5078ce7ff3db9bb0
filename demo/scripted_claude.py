"""Scripted Anthropic Messages API server: the stand-in model provider for the real Claude Code CLI.

Claude Code is pointed at this loopback server with ``ANTHROPIC_BASE_URL`` (see :func:`client_env`).
Every ``POST /v1/messages`` of one Claude Code session consumes the next response of the scenario
chosen for that session and answers it the way the API does: Server-Sent Events (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop`` for text, thinking and tool_use blocks,
``message_delta`` with the stop reason and usage, ``message_stop``) when the request streams, one JSON
message when it does not (the CLI falls back to a non-streaming request when a stream breaks). A
tool-use turn is two requests: the model asks for a tool (``Bash``, ``Read``, ...), Claude Code runs it
and sends the result in the next request, which consumes the next response. Scenarios are pydantic
models loaded from TOML files or Python dicts, matched by a text in the prompt, as in
:mod:`cockpit.demo.scripted_model` (the Responses-API server for Codex). ``POST
/v1/messages/count_tokens`` is answered with an estimate and the connectivity check Claude Code makes
on start (``HEAD /``) with an empty 200; neither consumes a response. Standard library HTTP only, one
thread per connection. ``docs/claude-code.md`` has what the pinned CLI sends and expects.

Every response (or a whole scenario) may carry ``rate_limit``: the subscription rate-limit headers
(``anthropic-ratelimit-unified-*``) the API sends, which Claude Code turns into ``rate_limit_event``
lines when it is logged in to a subscription (:func:`client_env` with ``subscription=True``); with an
API key it ignores them.

Run standalone with ``python -m cockpit.demo.scripted_claude --scenarios DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from cockpit.demo import script_format
from cockpit.demo.loopback import (
    Conversation,
    Disconnected,
    LoopbackHandler,
    Plan,
    ScriptServer,
    phrase,
    raw_frame,
    read_body,
    sse_frame,
    writer,
)
from cockpit.demo.script_format import ResponseBase, StrictModel, response_tag

log = logging.getLogger(__name__)

EXHAUSTED_TEXT = "(scenario exhausted)"
NO_SCENARIO_TEXT = "(no scenario matched)"
DEFAULT_MODEL = "claude-opus-4-8"  # answered when a request names none
API_KEY = "sk-ant-scripted"  # what client_env gives Claude Code; the server accepts any key
OAUTH_TOKEN = "sk-ant-oat01-scripted"  # a subscription login's token, for client_env(subscription=True)
RATE_LIMIT_HEADER = "anthropic-ratelimit-unified"  # the prefix of the subscription's rate-limit headers

# The error ``type`` the API gives each status (used when a scenario names none).
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# And the status of each error type, for a stream error answered to a non-streaming request.
_ERROR_STATUS: dict[str, int] = {kind: status for status, kind in ERROR_TYPES.items()}

# ---------------------------------------------------------------------------------------------------
# Scenario model
# ---------------------------------------------------------------------------------------------------


class Usage(StrictModel):
    """Token usage: ``input_tokens`` and the cache counts go in ``message_start``, ``output_tokens`` in
    ``message_delta`` (Claude Code adds them up into its ``result`` line and prices them)."""

    input_tokens: int = Field(default=100, ge=0)
    output_tokens: int = Field(default=20, ge=0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)

    def start(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": 1,
        }

    def full(self) -> dict[str, int]:
        return {**self.start(), "output_tokens": self.output_tokens}


class TextBlock(StrictModel):
    kind: Literal["text"] = "text"
    text: str


class ThinkingBlock(StrictModel):
    """Extended thinking; the signature is opaque to Claude Code (it sends it back unchanged)."""

    kind: Literal["thinking"] = "thinking"
    text: str
    signature: str = "c2NyaXB0ZWQ="


class ToolUseBlock(StrictModel):
    """The model asks Claude Code to run a tool: any name (``Read``, ``Edit``, ...) with its input.

    ``input_from`` fills input keys from earlier tool results, as a model copies an id or a cursor it
    was given: each key names a dotted path (``task_id``, ``decision.id``, ``files.0.path``) looked up
    in the JSON text blocks of the request's tool results, newest first; the first result holding the
    path gives the value, and a null value (or no result holding it) leaves the key out."""

    kind: Literal["tool_use"] = "tool_use"
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    input_from: dict[str, str] = Field(default_factory=dict)

    def resolved(self, results: list[Any]) -> ToolUseBlock:
        """This block with ``input_from`` filled in from ``results`` (JSON values, newest first)."""
        if not self.input_from:
            return self
        filled = dict(self.input)
        for key, path in self.input_from.items():
            for value in results:
                found, got = _dig(value, path)
                if found:
                    if got is not None:
                        filled[key] = got
                    break
        return self.model_copy(update={"input": filled, "input_from": {}})


class BashBlock(StrictModel):
    """Shorthand for a ``Bash`` tool_use: ``{"command": ..., "description": ...}``."""

    kind: Literal["bash"] = "bash"
    command: str
    description: str = "scripted command"
    timeout_ms: int | None = Field(default=None, ge=1)

    def tool_input(self) -> dict[str, Any]:
        args: dict[str, Any] = {"command": self.command, "description": self.description}
        if self.timeout_ms is not None:
            args["timeout"] = self.timeout_ms
        return args


Block = Annotated[TextBlock | ThinkingBlock | ToolUseBlock | BashBlock, Field(discriminator="kind")]


class UnifiedWindow(StrictModel):
    """One window's headers: ``-<abbrev>-utilization`` (a fraction), ``-<abbrev>-reset`` (unix seconds)
    and, when given, ``-<abbrev>-surpassed-threshold`` (Claude Code then reports ``allowed_warning`` with
    the utilization; it also does so by itself past its own thresholds, e.g. 5h at 0.9)."""

    utilization: float = Field(ge=0)
    resets_at: int = Field(ge=0)
    surpassed_threshold: float | None = Field(default=None, ge=0)


class RateLimitHeaders(StrictModel):
    """A subscription's rate-limit state as the API sends it: ``anthropic-ratelimit-unified-status``
    (``allowed``, ``allowed_warning``, ``rejected``), ``-reset``, ``-representative-claim`` (the window
    the status is about: ``five_hour``, ``seven_day``, ...) and each window in ``windows`` by the headers'
    abbreviation (``5h``, ``7d``, ``7d_oi``, ``overage``). ``docs/claude-code.md`` has what the pinned CLI
    makes of them."""

    status: str = "allowed"
    resets_at: int | None = Field(default=None, ge=0)
    claim: str | None = None
    windows: dict[str, UnifiedWindow] = Field(default_factory=dict)

    @field_validator("windows")
    @classmethod
    def _abbreviations(cls, value: dict[str, UnifiedWindow]) -> dict[str, UnifiedWindow]:
        for name in value:
            if not name or not all(c.isalnum() or c == "_" for c in name):
                raise ValueError(f"a window's abbreviation is letters, digits and _ ({name!r})")
        return value

    def headers(self) -> dict[str, str]:
        out = {f"{RATE_LIMIT_HEADER}-status": self.status}
        if self.resets_at is not None:
            out[f"{RATE_LIMIT_HEADER}-reset"] = str(self.resets_at)
        if self.claim is not None:
            out[f"{RATE_LIMIT_HEADER}-representative-claim"] = self.claim
        for name, window in self.windows.items():
            out[f"{RATE_LIMIT_HEADER}-{name}-utilization"] = f"{window.utilization:g}"
            out[f"{RATE_LIMIT_HEADER}-{name}-reset"] = str(window.resets_at)
            if window.surpassed_threshold is not None:
                out[f"{RATE_LIMIT_HEADER}-{name}-surpassed-threshold"] = f"{window.surpassed_threshold:g}"
        return out


class _ResponseBase(ResponseBase):
    # The subscription's rate-limit headers sent with this response (``headers`` may still override one).
    rate_limit: RateLimitHeaders | None = None


class MessageResponse(_ResponseBase):
    """A model turn. ``stop_reason`` defaults to ``tool_use`` when a block asks for a tool, else
    ``end_turn``; ``model`` defaults to the one the request named.

    ``repeat_while`` (a dotted path, as in ``ToolUseBlock.input_from``) serves this response again, for
    as long as the newest tool result (the request's last) holds a non-null value there: a model paging
    through a result until its ``next_cursor`` is null."""

    kind: Literal["message"] = "message"
    blocks: list[Block] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str | None = None
    model: str | None = None
    repeat_while: str | None = None

    def resolved(self, results: list[Any]) -> MessageResponse:
        """This response with its tool inputs filled in from ``results`` (see ``ToolUseBlock``)."""
        if not any(isinstance(b, ToolUseBlock) and b.input_from for b in self.blocks):
            return self
        blocks = [b.resolved(results) if isinstance(b, ToolUseBlock) else b for b in self.blocks]
        return self.model_copy(update={"blocks": blocks})

    def final_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        asks = any(isinstance(b, ToolUseBlock | BashBlock) for b in self.blocks)
        return "tool_use" if asks else "end_turn"


class HttpErrorResponse(_ResponseBase):
    """An API error: ``{"type": "error", "error": {"type": ..., "message": ...}}`` with ``status``.
    ``body`` replaces that body (sent verbatim when a string, as JSON otherwise)."""

    kind: Literal["http_error"]
    status: int = Field(default=529, ge=400, le=599)
    error_type: str | None = None
    message: str = "scripted error"
    body: str | dict[str, Any] | list[Any] | None = None


class StreamErrorResponse(_ResponseBase):
    """A stream that starts (``message_start``, then ``blocks``) and ends in an ``error`` event; to a
    non-streaming request, the HTTP error of the same type."""

    kind: Literal["stream_error"]
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    blocks: list[Block] = Field(default_factory=list)


class DropResponse(_ResponseBase):
    """A stream that starts (``message_start``, then ``blocks``) and closes with no ``message_stop``;
    with ``partial``, a last text block is opened and cut off before its ``content_block_stop``. To a
    non-streaming request, a closed connection with no answer."""

    kind: Literal["drop"]
    blocks: list[Block] = Field(default_factory=list)
    partial: str | None = None


class StallResponse(_ResponseBase):
    """``message_start``, then silence for ``stall_s`` s, until the client hangs up or the server stops."""

    kind: Literal["stall"]
    stall_s: float = Field(default=3600.0, ge=0)


class RawResponse(script_format.RawResponse, _ResponseBase):
    """Literal SSE frames, sent as given (strings are written verbatim), then the connection closes."""


ResponseSpec = Annotated[
    Annotated[MessageResponse, Tag("message")]
    | Annotated[HttpErrorResponse, Tag("http_error")]
    | Annotated[StreamErrorResponse, Tag("stream_error")]
    | Annotated[DropResponse, Tag("drop")]
    | Annotated[StallResponse, Tag("stall")]
    | Annotated[RawResponse, Tag("raw")],
    Discriminator(response_tag("message")),
]


class Scenario(StrictModel):
    """A named script: each request of a Claude Code session consumes the next response.

    ``match`` picks the scenario for a new session when the prompt contains it; ``""`` catches every
    session no other scenario matched; ``None`` means the scenario is only used as the default. With
    ``repeat_last`` the last response is replayed once the script is exhausted. ``rate_limit`` is sent
    with every response that names none of its own.
    """

    name: str
    match: str | None = None
    responses: list[ResponseSpec] = Field(default_factory=list)
    repeat_last: bool = False
    rate_limit: RateLimitHeaders | None = None

    @model_validator(mode="after")
    def _share_rate_limit(self) -> Scenario:
        if self.rate_limit is not None:
            for response in self.responses:
                if response.rate_limit is None:
                    response.rate_limit = self.rate_limit
        return self


def load_scenario(path: Path) -> Scenario:
    """Load one scenario from a TOML file; ``name`` defaults to the file stem."""
    return script_format.load_scenario(path, Scenario)


def load_scenarios(directory: Path) -> list[Scenario]:
    """Load every ``*.toml`` scenario in ``directory``, sorted by file name."""
    return script_format.load_scenarios(directory, Scenario)


HOST_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "AWS_BEARER_TOKEN_BEDROCK", "IS_SANDBOX")
"""The variables of a host that would change what Claude Code does or where it connects: its Anthropic
and Claude Code settings (a real key or token, another base URL, Bedrock or Vertex), a Bedrock token,
and ``IS_SANDBOX`` (any value keeps a 529 retried to the full budget instead of giving up after the
third: ``docs/claude-code.md``). A client of the scripted server gets none of them."""


def host_settings(environ: Mapping[str, str]) -> list[str]:
    """The names in ``environ`` a client of the scripted server must not inherit (:data:`HOST_PREFIXES`)."""
    return sorted(name for name in environ if name.startswith(HOST_PREFIXES))


def client_env(
    base_url: str, home: Path, config_dir: Path | None = None, *, subscription: bool = False
) -> dict[str, str]:
    """Env additions that point Claude Code at ``base_url`` (``http://HOST:PORT``) with a throw-away
    ``HOME`` and ``CLAUDE_CONFIG_DIR`` (``home/.claude`` unless given), a dummy key, and no traffic
    anywhere else (telemetry, error reports, update checks off). Both directories are created. With
    ``subscription`` the CLI is logged in as a subscription would be (``CLAUDE_CODE_OAUTH_TOKEN``, no
    API key): it then reads the rate-limit headers and prints ``rate_limit_event`` lines."""
    config = config_dir if config_dir is not None else home / ".claude"
    home.mkdir(parents=True, exist_ok=True)
    config.mkdir(parents=True, exist_ok=True)
    credential = {"CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN} if subscription else {"ANTHROPIC_API_KEY": API_KEY}
    return {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": base_url,
        **credential,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


# ---------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it and what it answered with."""

    session_id: str
    method: str
    path: str  # without the query (``/v1/messages``; Claude Code adds ``?beta=true``)
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None when the body was not JSON
    scenario: str | None
    response_index: int | None  # index into the scenario's responses; None when nothing was consumed
    time: float  # time.monotonic() at arrival
    kind: str = "message"  # kind of the response served (count_tokens, probe, not_found for the rest)
    exhausted: bool = False

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def model(self) -> str | None:
        value = self.body.get("model") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None

    def messages(self) -> list[dict[str, Any]]:
        items = self.body.get("messages") if isinstance(self.body, dict) else None
        return [m for m in items or [] if isinstance(m, dict)]

    def user_texts(self) -> list[str]:
        """Text blocks of the user messages, oldest first (the prompt is among the first's)."""
        return _user_texts(self.body)

    def tool_results(self) -> list[dict[str, Any]]:
        """``tool_result`` blocks of the user messages, oldest first."""
        return [
            block
            for message in self.messages()
            if message.get("role") == "user" and isinstance(message.get("content"), list)
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]

    def tool_names(self) -> list[str]:
        tools = self.body.get("tools") if isinstance(self.body, dict) else None
        return [str(t.get("name")) for t in tools or [] if isinstance(t, dict) and "name" in t]


def _user_texts(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    texts: list[str] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
            )
    return texts


def _tool_result_json(body: Any, *, newest_only: bool = False) -> list[Any]:
    """The JSON values in the text of a request's tool results, newest first; with ``newest_only``, those
    of the last message that carries tool results only. Text that is not JSON is skipped."""
    if not isinstance(body, dict):
        return []
    out: list[Any] = []
    users = [
        m
        for m in body.get("messages") or []
        if isinstance(m, dict)
        and m.get("role") == "user"
        and isinstance(m.get("content"), list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in m["content"])
    ]
    for message in reversed(users[-1:] if newest_only else users):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in reversed(content):
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            inner = block.get("content")
            texts = (
                [inner]
                if isinstance(inner, str)
                else [b.get("text") for b in inner or [] if isinstance(b, dict) and b.get("type") == "text"]
            )
            for text in texts:
                if not isinstance(text, str):
                    continue
                try:
                    out.append(json.loads(text))
                except ValueError:
                    continue
    return out


def _dig(value: Any, path: str) -> tuple[bool, Any]:
    """``value`` at a dotted path (keys of objects, indices of arrays): (found, what is there)."""
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _session_of(headers: Mapping[str, str], body: Any) -> str:
    """The Claude Code session a request belongs to: its session header, else the id in ``metadata``."""
    sid = headers.get("x-claude-code-session-id")
    if sid:
        return sid
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        user_id = body["metadata"].get("user_id")
        try:
            inner = json.loads(user_id) if isinstance(user_id, str) else None
        except ValueError:
            inner = None
        if isinstance(inner, dict) and inner.get("session_id"):
            return str(inner["session_id"])
    return "anonymous"


# ---------------------------------------------------------------------------------------------------
# Messages API encoding
# ---------------------------------------------------------------------------------------------------


def _event(data: dict[str, Any]) -> bytes:
    return sse_frame(str(data["type"]), data)


def _halves(text: str) -> list[str]:
    """A text in two deltas (one when short), so clients are seen to join them."""
    if len(text) < 2:
        return [text]
    mid = len(text) // 2
    return [text[:mid], text[mid:]]


class _Encoder:
    """Turns one scripted message into API content blocks and SSE events, ids unique to the server."""

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self._tools = 0

    def content(self, block: Any) -> dict[str, Any]:
        """The block as it appears in a complete message."""
        if isinstance(block, TextBlock):
            return {"type": "text", "text": block.text}
        if isinstance(block, ThinkingBlock):
            return {"type": "thinking", "thinking": block.text, "signature": block.signature}
        self._tools += 1
        tool_id = f"toolu_{self.message_id.removeprefix('msg_')}_{self._tools}"
        if isinstance(block, BashBlock):
            return {"type": "tool_use", "id": tool_id, "name": "Bash", "input": block.tool_input()}
        return {"type": "tool_use", "id": tool_id, "name": block.name, "input": block.input}

    def start(self, usage: Usage) -> Iterator[bytes]:
        message = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage.start(),
        }
        yield _event({"type": "message_start", "message": message})
        yield _event({"type": "ping"})

    def block_events(self, index: int, block: Any) -> Iterator[bytes]:
        full = self.content(block)
        kind = full["type"]
        if kind == "text":
            opened = {"type": "text", "text": ""}
            yield _event({"type": "content_block_start", "index": index, "content_block": opened})
            for part in _halves(full["text"]):
                yield self._delta(index, {"type": "text_delta", "text": part})
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            yield _event({"type": "content_block_start", "index": index, "content_block": empty})
            for part in _halves(full["thinking"]):
                yield self._delta(index, {"type": "thinking_delta", "thinking": part})
            yield self._delta(index, {"type": "signature_delta", "signature": full["signature"]})
        else:
            opened = {"type": "tool_use", "id": full["id"], "name": full["name"], "input": {}}
            yield _event({"type": "content_block_start", "index": index, "content_block": opened})
            for part in _halves(json.dumps(full["input"])):
                yield self._delta(index, {"type": "input_json_delta", "partial_json": part})
        yield _event({"type": "content_block_stop", "index": index})

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        return _event({"type": "content_block_delta", "index": index, "delta": delta})

    def finish(self, stop_reason: str, usage: Usage) -> Iterator[bytes]:
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        counts = {"output_tokens": usage.output_tokens}
        yield _event({"type": "message_delta", "delta": delta, "usage": counts})
        yield _event({"type": "message_stop"})

    def whole(self, response: MessageResponse) -> dict[str, Any]:
        """The complete message a non-streaming request gets."""
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [self.content(b) for b in response.blocks],
            "stop_reason": response.final_stop_reason(),
            "stop_sequence": None,
            "usage": response.usage.full(),
        }


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


# ---------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------


_Handler = LoopbackHandler


class ScriptedClaude(ScriptServer[Scenario, RecordedRequest]):
    """A loopback Messages API server that replays scenarios, one cursor per Claude Code session."""

    thread_name = "scripted-claude"

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        default: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(scenarios, default, host, port)
        self._sessions: dict[str, Conversation[Scenario]] = {}
        self._counter = 0
        self._prefix = uuid.uuid4().hex[:8]

    @property
    def base_url(self) -> str:
        """What ``ANTHROPIC_BASE_URL`` is set to: the root, Claude Code adds ``/v1/messages``."""
        return f"http://{self.host}:{self.port}"

    # -- scenarios, gates, inspection -----------------------------------------------------------

    def message_requests(self, session_id: str | None = None) -> list[RecordedRequest]:
        """The ``POST /v1/messages`` requests (of one session when given), in arrival order."""
        with self._lock:
            return [
                r
                for r in self._requests
                if r.path.endswith("/messages") and (session_id is None or r.session_id == session_id)
            ]

    def session_scenario(self, session_id: str) -> str | None:
        with self._lock:
            state = self._sessions.get(session_id)
            return state.scenario.name if state and state.scenario else None

    def wait_for_requests(self, n: int, timeout: float) -> bool:
        """Block until at least ``n`` message requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._message_requests_locked()) >= n, timeout=timeout)

    def _message_requests_locked(self) -> list[RecordedRequest]:
        return [r for r in self._requests if r.path.endswith("/messages")]

    # -- request handling -----------------------------------------------------------------------

    def _plan(self, session_id: str, body: Any) -> Plan[Scenario]:
        state = self._sessions.get(session_id)
        if state is None:
            state = Conversation(self._pick_scenario(_user_texts(body)))
            self._sessions[session_id] = state
        scenario = state.scenario
        if scenario is None:
            fallback = MessageResponse(blocks=[TextBlock(text=NO_SCENARIO_TEXT)])
            return Plan(None, None, fallback, exhausted=True)
        index = state.cursor
        if 0 < index <= len(scenario.responses):
            before = scenario.responses[index - 1]
            if isinstance(before, MessageResponse) and before.repeat_while:
                newest = _tool_result_json(body, newest_only=True)
                if any(_dig(v, before.repeat_while)[1] is not None for v in newest):
                    return Plan(scenario, index - 1, before)
        state.cursor += 1
        if index < len(scenario.responses):
            return Plan(scenario, index, scenario.responses[index])
        if scenario.repeat_last and scenario.responses:
            last = len(scenario.responses) - 1
            return Plan(scenario, last, scenario.responses[last], exhausted=True)
        return Plan(scenario, None, MessageResponse(blocks=[TextBlock(text=EXHAUSTED_TEXT)]), exhausted=True)

    def _next_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{self._prefix}{self._counter:04d}"

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _on_get(self, handler: _Handler) -> None:
        self._probe(handler)

    def _on_head(self, handler: _Handler) -> None:
        self._probe(handler)

    def _probe(self, handler: _Handler) -> None:
        """``HEAD /`` (Claude Code's connectivity check on start) and any GET: an empty 200 at the root,
        404 elsewhere; nothing is consumed."""
        path = handler.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        found = path in ("", "/")
        self._record(
            RecordedRequest("", handler.command, path, headers, None, None, None, time.monotonic(), "probe")
        )
        body = b"" if handler.command == "HEAD" or found else b'{"type":"error"}'
        handler.close_connection = True
        handler.send_response(200 if found else 404)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _handle(self, handler: _Handler) -> None:
        raw = read_body(handler)
        path = handler.path.split("?", 1)[0].rstrip("/")
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        session_id = _session_of(headers, body)
        arrived = time.monotonic()
        request_id = f"req_{self._next_id()}"
        if path.endswith("/messages/count_tokens"):
            self._record(
                RecordedRequest(session_id, "POST", path, headers, body, None, None, arrived, "count_tokens")
            )
            estimate = max(1, len(raw) // 4)
            self._send_json(handler, 200, {"input_tokens": estimate}, {"request-id": request_id})
            return
        if not path.endswith("/messages"):
            self._record(
                RecordedRequest(session_id, "POST", path, headers, body, None, None, arrived, "not_found")
            )
            error = error_body("not_found_error", f"no route for {path}", request_id)
            self._send_json(handler, 404, error, {"request-id": request_id})
            return
        with self._cond:
            plan = self._plan(session_id, body)
            self._requests.append(
                RecordedRequest(
                    session_id=session_id,
                    method="POST",
                    path=path,
                    headers=headers,
                    body=body,
                    scenario=plan.scenario.name if plan.scenario else None,
                    response_index=plan.index,
                    time=arrived,
                    kind=plan.response.kind,
                    exhausted=plan.exhausted,
                )
            )
            self._in_flight += 1
            self._cond.notify_all()
        response = plan.response
        if isinstance(response, MessageResponse):
            response = response.resolved(_tool_result_json(body))
        try:
            self._reply(handler, response, body, request_id)
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            log.debug("client went away during %s", request_id)
            handler.close_connection = True
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _reply(self, handler: _Handler, response: Any, body: Any, request_id: str) -> None:
        self._hold(response)
        if self._stopping.is_set():
            handler.close_connection = True  # shutting down: hang up instead of replying late
            return
        limits = response.rate_limit.headers() if response.rate_limit is not None else {}
        extra = {"request-id": request_id, **limits, **response.headers}
        if isinstance(response, HttpErrorResponse):
            self._send_http_error(handler, response, extra, request_id)
            return
        model = str(body.get("model")) if isinstance(body, dict) and body.get("model") else DEFAULT_MODEL
        if isinstance(response, MessageResponse) and response.model:
            model = response.model
        encoder = _Encoder(f"msg_{self._next_id()}", model)
        streamed = isinstance(body, dict) and bool(body.get("stream"))
        if not streamed:
            self._reply_whole(handler, response, encoder, extra, request_id)
            return
        self._start_stream(handler, extra)
        write = writer(handler)
        if isinstance(response, RawResponse):
            for event in response.events:
                write(raw_frame(event))
            return
        usage = response.usage if isinstance(response, MessageResponse) else Usage()
        for frame in encoder.start(usage):
            write(frame)
        blocks = response.blocks if not isinstance(response, StallResponse) else []
        for index, block in enumerate(blocks):
            for frame in encoder.block_events(index, block):
                write(frame)
        if isinstance(response, MessageResponse):
            for frame in encoder.finish(response.final_stop_reason(), usage):
                write(frame)
        elif isinstance(response, DropResponse) and response.partial is not None:
            cut = encoder.block_events(len(blocks), TextBlock(text=response.partial))
            for frame in list(cut)[:-1]:  # everything but content_block_stop
                write(frame)
        elif isinstance(response, StreamErrorResponse):
            error = error_body(response.error_type, response.message, request_id)
            write(sse_frame("error", error))
        elif isinstance(response, StallResponse):
            self._stall(handler, response.stall_s)
        # DropResponse: return without message_stop; the connection closes.

    def _reply_whole(
        self, handler: _Handler, response: Any, encoder: _Encoder, extra: dict[str, str], request_id: str
    ) -> None:
        """The answer to a non-streaming request."""
        if isinstance(response, MessageResponse):
            self._send_json(handler, 200, encoder.whole(response), extra)
        elif isinstance(response, StreamErrorResponse):
            status = _ERROR_STATUS.get(response.error_type, 500)
            error = error_body(response.error_type, response.message, request_id)
            self._send_json(handler, status, error, extra)
        elif isinstance(response, StallResponse):
            self._stall(handler, response.stall_s)
            handler.close_connection = True
        elif isinstance(response, RawResponse):
            self._start_stream(handler, extra)
            write = writer(handler)
            for event in response.events:
                write(raw_frame(event))
        else:  # DropResponse: hang up without an answer
            handler.close_connection = True

    def _send_http_error(
        self, handler: _Handler, response: HttpErrorResponse, extra: dict[str, str], request_id: str
    ) -> None:
        if isinstance(response.body, str):
            self._send_text(handler, response.status, response.body, extra)
            return
        if response.body is not None:
            self._send_json(handler, response.status, response.body, extra)
            return
        kind = response.error_type or ERROR_TYPES.get(response.status, "api_error")
        message = response.message or phrase(response.status)
        self._send_json(handler, response.status, error_body(kind, message, request_id), extra)

    @classmethod
    def _send_json(cls, handler: _Handler, status: int, data: Any, extra: Mapping[str, str]) -> None:
        cls._send_text(handler, status, json.dumps(data), {"Content-Type": "application/json", **extra})

    @staticmethod
    def _send_text(handler: _Handler, status: int, text: str, extra: Mapping[str, str]) -> None:
        data = text.encode()
        handler.close_connection = True
        handler.send_response(status)
        if "content-type" not in {k.lower() for k in extra}:
            handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Connection", "close")
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cockpit.demo.scripted_claude",
        description="Serve scripted Messages API scenarios to Claude Code (ANTHROPIC_BASE_URL).",
    )
    parser.add_argument("--scenarios", type=Path, required=True, help="directory of *.toml scenarios")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--default", dest="default_name", help="scenario used when no match applies")
    args = parser.parse_args(argv)
    scenarios = load_scenarios(args.scenarios)
    default = None
    if args.default_name:
        default = next((s for s in scenarios if s.name == args.default_name), None)
        if default is None:
            parser.error(f"no scenario named {args.default_name!r} in {args.scenarios}")
    # Block the stop signals before any thread starts (threads inherit the mask), then wait for one.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with ScriptedClaude(scenarios, default=default, host=args.host, port=args.port) as server:
        print(server.base_url, flush=True)
        print(f"{len(scenarios)} scenario(s): {', '.join(s.name for s in scenarios)}", file=sys.stderr)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

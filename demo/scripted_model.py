"""Scripted Responses-API model server: the project's only stand-in for a model provider.

The real Codex CLI is pointed at this loopback server (see :mod:`cockpit.demo.codex_home`). Every
``POST /v1/responses`` of a Codex thread consumes the next response of the scenario chosen for that
thread and streams it back as Server-Sent Events in the shape Codex 0.169.0 expects. Scenarios are
pydantic models loaded from TOML files or Python dicts. Standard library HTTP only: one thread per
connection, so parallel Codex processes are served concurrently.

Run standalone with ``python -m cockpit.demo.scripted_model --scenarios DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

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
from cockpit.demo.script_format import RawResponse, ResponseBase, StrictModel, response_tag

log = logging.getLogger(__name__)

EXHAUSTED_TEXT = "COMPLETED: (scenario exhausted)"
NO_SCENARIO_TEXT = "COMPLETED: (no scenario matched)"

# ---------------------------------------------------------------------------------------------------
# Scenario model
# ---------------------------------------------------------------------------------------------------


class Usage(StrictModel):
    """Token usage reported in ``response.completed``."""

    input_tokens: int = Field(default=100, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=20, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)

    def as_api(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }


class MessageItem(StrictModel):
    """An assistant message (``agent_message`` in Codex's JSONL)."""

    kind: Literal["message"] = "message"
    text: str


class ReasoningItem(StrictModel):
    """A reasoning item carrying one summary text."""

    kind: Literal["reasoning"] = "reasoning"
    text: str


class ShellItem(StrictModel):
    """An ``exec_command`` function call (Codex runs it as ``bash -lc CMD``).

    ``escalate`` asks to run outside the sandbox (``sandbox_permissions = "require_escalated"``); under
    the ``on-request`` approval policy that prompts, and ``justification`` becomes the prompt's reason.
    """

    kind: Literal["shell"] = "shell"
    cmd: str
    workdir: str | None = None
    yield_time_ms: int | None = Field(default=None, ge=0)
    escalate: bool = False
    justification: str | None = None


class ApplyPatchItem(StrictModel):
    """A patch (``*** Begin Patch`` … ``*** End Patch``) sent through the tool the request offers."""

    kind: Literal["apply_patch"] = "apply_patch"
    patch: str


class FunctionCallItem(StrictModel):
    """A raw function call: any tool name with JSON arguments."""

    kind: Literal["function_call"] = "function_call"
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


Item = Annotated[
    MessageItem | ReasoningItem | ShellItem | ApplyPatchItem | FunctionCallItem,
    Field(discriminator="kind"),
]


class ItemsResponse(ResponseBase):
    """A normal streamed response: ``response.created``, the items, ``response.completed``."""

    kind: Literal["items"] = "items"
    items: list[Item] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class HttpErrorResponse(ResponseBase):
    """A non-streamed HTTP error. ``body`` is sent verbatim when a string, as JSON otherwise."""

    kind: Literal["http_error"]
    status: int = Field(default=500, ge=400, le=599)
    body: str | dict[str, Any] | list[Any] | None = None


class FailedResponse(ResponseBase):
    """``response.created``, optional items, then ``response.failed`` with an error code and message."""

    kind: Literal["failed"]
    code: str = "server_error"
    message: str = "scripted failure"
    items: list[Item] = Field(default_factory=list)


class DropResponse(ResponseBase):
    """``response.created``, optional items, then the connection closes without ``response.completed``."""

    kind: Literal["drop"]
    items: list[Item] = Field(default_factory=list)


class StallResponse(ResponseBase):
    """``response.created``, optional items, then silence for ``stall_s`` s or until the server stops."""

    kind: Literal["stall"]
    stall_s: float = Field(default=3600.0, ge=0)
    items: list[Item] = Field(default_factory=list)


ResponseSpec = Annotated[
    Annotated[ItemsResponse, Tag("items")]
    | Annotated[HttpErrorResponse, Tag("http_error")]
    | Annotated[FailedResponse, Tag("failed")]
    | Annotated[DropResponse, Tag("drop")]
    | Annotated[StallResponse, Tag("stall")]
    | Annotated[RawResponse, Tag("raw")],
    Discriminator(response_tag("items")),
]


class Scenario(StrictModel):
    """A named script: each request of a thread consumes the next response.

    ``match`` picks the scenario for a new thread when the user prompt contains it; ``""`` catches
    every thread no other scenario matched; ``None`` means the scenario is only used as the default.
    With ``repeat_last`` the last response is replayed once the script is exhausted.
    """

    name: str
    match: str | None = None
    responses: list[ResponseSpec] = Field(default_factory=list)
    repeat_last: bool = False


def load_scenario(path: Path) -> Scenario:
    """Load one scenario from a TOML file; ``name`` defaults to the file stem."""
    return script_format.load_scenario(path, Scenario)


def load_scenarios(directory: Path) -> list[Scenario]:
    """Load every ``*.toml`` scenario in ``directory``, sorted by file name."""
    return script_format.load_scenarios(directory, Scenario)


# ---------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it and what it answered with."""

    thread_id: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None when the body was not JSON
    scenario: str | None
    response_index: int | None  # index into the scenario's responses; None when nothing was scripted
    time: float  # time.monotonic() at arrival
    path: str = "/v1/responses"
    kind: str = "items"  # kind of the response served
    exhausted: bool = False

    def input_items(self) -> list[dict[str, Any]]:
        items = self.body.get("input") if isinstance(self.body, dict) else None
        return [item for item in items or [] if isinstance(item, dict)]

    def user_texts(self) -> list[str]:
        """Texts of the user messages in ``input``, oldest first."""
        return _user_texts(self.body)

    def tool_outputs(self) -> list[dict[str, Any]]:
        """``function_call_output`` / ``custom_tool_call_output`` items in ``input``."""
        return [item for item in self.input_items() if str(item.get("type", "")).endswith("_output")]


def _user_texts(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    texts: list[str] = []
    for item in body.get("input") or []:
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            parts = [str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p]
            texts.append("".join(parts))
    return texts


def _tool_names(body: Any) -> tuple[set[str], set[str]]:
    """(function tool names, custom/freeform tool names) offered by the request."""
    functions: set[str] = set()
    customs: set[str] = set()
    if isinstance(body, dict):
        for tool in body.get("tools") or []:
            if not isinstance(tool, dict):
                continue
            name = tool.get("name")
            if not isinstance(name, str):
                continue
            if tool.get("type") == "custom":
                customs.add(name)
            elif tool.get("type") == "function":
                functions.add(name)
    return functions, customs


# ---------------------------------------------------------------------------------------------------
# SSE encoding
# ---------------------------------------------------------------------------------------------------


def _typed_frame(data: dict[str, Any]) -> bytes:
    return sse_frame(str(data["type"]), data)


class _ItemEncoder:
    """Turns scenario items into output items with ids unique to one response."""

    def __init__(self, response_id: str, body: Any) -> None:
        self.response_id = response_id
        self.functions, self.customs = _tool_names(body)
        self.index = 0

    def _ids(self, prefix: str) -> tuple[str, str]:
        n = self.index
        self.index += 1
        return f"{prefix}_{self.response_id}_{n}", f"call_{self.response_id}_{n}"

    def frames(self, item: Item) -> Iterator[bytes]:
        output_index = self.index
        if isinstance(item, MessageItem):
            item_id, _ = self._ids("msg")
            base = {"id": item_id, "type": "message", "role": "assistant"}
            yield _typed_frame(
                {
                    "type": "response.output_item.added",
                    "output_index": output_index,
                    "item": {**base, "status": "in_progress", "content": []},
                }
            )
            yield _typed_frame(
                {
                    "type": "response.output_text.delta",
                    "item_id": item_id,
                    "output_index": output_index,
                    "content_index": 0,
                    "delta": item.text,
                }
            )
            done = {**base, "status": "completed", "content": [{"type": "output_text", "text": item.text}]}
            yield self._done(output_index, done)
        elif isinstance(item, ReasoningItem):
            item_id, _ = self._ids("rs")
            summary = [{"type": "summary_text", "text": item.text}]
            yield self._done(output_index, {"id": item_id, "type": "reasoning", "summary": summary})
        elif isinstance(item, ShellItem):
            call = self._shell_call(
                item.cmd,
                item.workdir,
                item.yield_time_ms,
                escalate=item.escalate,
                justification=item.justification,
            )
            yield self._done(output_index, call)
        elif isinstance(item, ApplyPatchItem):
            yield self._done(output_index, self._patch_call(item.patch))
        else:
            item_id, call_id = self._ids("fc")
            yield self._done(output_index, self._function_call(item_id, call_id, item.name, item.arguments))

    def _done(self, output_index: int, item: dict[str, Any]) -> bytes:
        return _typed_frame({"type": "response.output_item.done", "output_index": output_index, "item": item})

    @staticmethod
    def _function_call(item_id: str, call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        }

    def _shell_call(
        self,
        cmd: str,
        workdir: str | None,
        yield_time_ms: int | None,
        *,
        escalate: bool = False,
        justification: str | None = None,
    ) -> dict[str, Any]:
        item_id, call_id = self._ids("fc")
        args: dict[str, Any]
        if "exec_command" not in self.functions and "shell" in self.functions:
            name, args = "shell", {"command": ["bash", "-lc", cmd]}  # older argv-style shell tool
        else:
            name, args = "exec_command", {"cmd": cmd}
            if yield_time_ms is not None:
                args["yield_time_ms"] = yield_time_ms
        if workdir is not None:
            args["workdir"] = workdir
        if escalate:
            args["sandbox_permissions"] = "require_escalated"
        if justification is not None:
            args["justification"] = justification
        return self._function_call(item_id, call_id, name, args)

    def _patch_call(self, patch: str) -> dict[str, Any]:
        if "apply_patch" in self.customs:
            item_id, call_id = self._ids("ctc")
            return {
                "id": item_id,
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": call_id,
                "name": "apply_patch",
                "input": patch,
            }
        if "apply_patch" in self.functions:
            item_id, call_id = self._ids("fc")
            return self._function_call(item_id, call_id, "apply_patch", {"input": patch})
        text = patch if patch.endswith("\n") else patch + "\n"
        return self._shell_call(f"apply_patch <<'EOF'\n{text}EOF\n", None, None)


_Handler = LoopbackHandler

# ---------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------


class ScriptedModel(ScriptServer[Scenario, RecordedRequest]):
    """A loopback Responses-API server that replays scenarios, one cursor per Codex thread."""

    thread_name = "scripted-model"

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        default: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(scenarios, default, host, port)
        self._threads: dict[str, Conversation[Scenario]] = {}
        self.max_in_flight = 0
        self._response_counter = 0
        self._prefix = uuid.uuid4().hex[:8]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- scenarios, gates, inspection -----------------------------------------------------------

    def requests_for(self, thread_id: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if r.thread_id == thread_id]

    def thread_scenario(self, thread_id: str) -> str | None:
        """Name of the scenario bound to a thread, if the thread is known and matched one."""
        with self._lock:
            state = self._threads.get(thread_id)
            return state.scenario.name if state and state.scenario else None

    def wait_for_requests(self, n: int, timeout: float) -> bool:
        """Block until at least ``n`` requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout=timeout)

    def wait_for_in_flight(self, n: int, timeout: float) -> bool:
        """Block until at least ``n`` requests are being served at once; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight >= n, timeout=timeout)

    # -- request handling -----------------------------------------------------------------------

    def _plan(self, thread_id: str, body: Any) -> Plan[Scenario]:
        state = self._threads.get(thread_id)
        if state is None:
            state = Conversation(self._pick_scenario(_user_texts(body)))
            self._threads[thread_id] = state
        scenario = state.scenario
        if scenario is None:
            return Plan(None, None, ItemsResponse(items=[MessageItem(text=NO_SCENARIO_TEXT)]), exhausted=True)
        index = state.cursor
        state.cursor += 1
        if index < len(scenario.responses):
            return Plan(scenario, index, scenario.responses[index])
        if scenario.repeat_last and scenario.responses:
            last = len(scenario.responses) - 1
            return Plan(scenario, last, scenario.responses[last], exhausted=True)
        return Plan(scenario, None, ItemsResponse(items=[MessageItem(text=EXHAUSTED_TEXT)]), exhausted=True)

    def _next_response_id(self) -> str:
        self._response_counter += 1
        return f"resp_{self._prefix}_{self._response_counter}"

    def _on_get(self, handler: _Handler) -> None:
        self._not_found(handler)

    def _not_found(self, handler: _Handler) -> None:
        self._send_plain(handler, 404, json.dumps({"error": {"message": f"no route for {handler.path}"}}), {})

    def _handle(self, handler: _Handler) -> None:
        raw = read_body(handler)
        path = handler.path.split("?", 1)[0].rstrip("/")
        if not path.endswith("/responses"):
            self._not_found(handler)
            return
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        thread_id = headers.get("thread-id") or headers.get("session-id")
        if not thread_id and isinstance(body, dict):
            thread_id = body.get("prompt_cache_key")
        thread_id = str(thread_id or "anonymous")
        with self._cond:
            plan = self._plan(thread_id, body)
            response_id = self._next_response_id()
            self._requests.append(
                RecordedRequest(
                    thread_id=thread_id,
                    headers=headers,
                    body=body,
                    scenario=plan.scenario.name if plan.scenario else None,
                    response_index=plan.index,
                    time=time.monotonic(),
                    path=path,
                    kind=plan.response.kind,
                    exhausted=plan.exhausted,
                )
            )
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._cond.notify_all()
        try:
            self._reply(handler, plan.response, response_id, body)
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            log.debug("client went away during %s", response_id)
            handler.close_connection = True
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _reply(self, handler: _Handler, response: Any, response_id: str, body: Any) -> None:
        self._hold(response)
        if self._stopping.is_set():
            handler.close_connection = True  # shutting down: hang up instead of replying late
            return
        if isinstance(response, HttpErrorResponse):
            self._send_http_error(handler, response)
            return
        self._start_stream(handler, response.headers)
        write = writer(handler)
        if isinstance(response, RawResponse):
            for event in response.events:
                write(raw_frame(event))
            return
        encoder = _ItemEncoder(response_id, body)
        write(_typed_frame({"type": "response.created", "response": {"id": response_id}}))
        for item in response.items:
            for frame in encoder.frames(item):
                write(frame)
        if isinstance(response, ItemsResponse):
            completed = {"id": response_id, "status": "completed", "usage": response.usage.as_api()}
            write(_typed_frame({"type": "response.completed", "response": completed}))
        elif isinstance(response, FailedResponse):
            error = {"code": response.code, "message": response.message}
            failed = {"id": response_id, "status": "failed", "error": error}
            write(_typed_frame({"type": "response.failed", "response": failed}))
        elif isinstance(response, StallResponse):
            self._stall(handler, response.stall_s)
        # DropResponse: return without response.completed; the connection closes.

    def _send_http_error(self, handler: _Handler, response: HttpErrorResponse) -> None:
        if isinstance(response.body, str):
            text = response.body
        elif response.body is None:
            reason = phrase(response.status)
            text = json.dumps({"error": {"message": reason, "type": "scripted_error", "code": None}})
        else:
            text = json.dumps(response.body)
        self._send_plain(handler, response.status, text, response.headers)

    @staticmethod
    def _send_plain(handler: _Handler, status: int, text: str, extra: dict[str, str]) -> None:
        data = text.encode()
        handler.close_connection = True
        handler.send_response(status)
        lowered = {k.lower() for k in extra}
        if "content-type" not in lowered:
            is_json = text.lstrip().startswith(("{", "["))
            handler.send_header(
                "Content-Type", "application/json" if is_json else "text/plain; charset=utf-8"
            )
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Connection", "close")
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cockpit.demo.scripted_model", description="Serve scripted Responses-API scenarios."
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
    with ScriptedModel(scenarios, default=default, host=args.host, port=args.port) as model:
        print(model.base_url, flush=True)
        print(f"{len(scenarios)} scenario(s): {', '.join(s.name for s in scenarios)}", file=sys.stderr)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

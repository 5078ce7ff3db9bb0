"""Event parsing: every event and item type of the Codex CLI notes, unknown types kept, lenient shapes."""

from __future__ import annotations

import json

import pytest

from cockpit.core.codex.exec_events import (
    AgentMessageItem,
    CollabToolCallItem,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    EventParseError,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    McpToolCallItem,
    PlanDelta,
    PlanItem,
    ReasoningItem,
    RequestUserInput,
    ThreadStarted,
    TodoListItem,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    UnknownItem,
    Usage,
    WebSearchItem,
    parse_event_batch,
    parse_event_line,
)
from tests.helpers.codex_samples import APPLY_PATCH, HAPPY_PATH

RESUME = [
    '{"type":"thread.started","thread_id":"01a20a57-ae31-7432-97c1-6be36cd554aa"}',
    '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for '
    '`mock-model` not found. …"}}',
    '{"type":"turn.started"}',
    '{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc '
    '\'cat hello.txt\'","aggregated_output":"","exit_code":null,"status":"in_progress"}}',
    '{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc '
    '\'cat hello.txt\'","aggregated_output":"hi\\n","exit_code":0,"status":"completed"}}',
    '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"resumed ok"}}',
    '{"type":"turn.completed","usage":{"input_tokens":1534,"cached_input_tokens":1000,'
    '"cache_write_input_tokens":0,"output_tokens":116,"reasoning_output_tokens":7}}',
]
# §3 "Failing command" (its elided fields filled in) and §6 messages, as Codex frames them.
FAILING_COMMAND = (
    '{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc '
    '\'echo oops >&2; exit 3\'","aggregated_output":"oops\\n","exit_code":3,"status":"failed"}}'
)
FAILURE_MESSAGES = [
    "We’re currently experiencing high demand, which may cause temporary errors.",
    "exceeded retry limit, last status: 429 Too Many Requests",
    "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
    "https://chatgpt.com/settings/usage to purchase more credits or try again at 11:38 PM.",
    "unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:<port>/v1/responses",
    '{"error": {"message": "bad request thing", "type": "invalid_request_error"}}',
    "stream disconnected before completion: stream closed before response.completed",
    "Codex ran out of room in the model's context window. Start a new thread or clear earlier history "
    "before retrying.",
    "stream disconnected before completion: idle timeout waiting for SSE",
    "Missing environment variable: `MOCK_API_KEY`.",
]
RECONNECTING = [
    '{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion: stream closed '
    'before response.completed)"}',
    '{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending '
    'request)"}',
]


def failure_stream(message: str) -> list[str]:
    """§6 with retries at 0: turn.started → error M → turn.failed M."""
    return [
        '{"type":"thread.started","thread_id":"01a20a60-0000-7000-8000-000000000001"}',
        '{"type":"turn.started"}',
        json.dumps({"type": "error", "message": message}, ensure_ascii=False),
        json.dumps({"type": "turn.failed", "error": {"message": message}}, ensure_ascii=False),
    ]


# Item and event types of newer builds, shaped after the field lists of §3 (no verbatim sample exists).
NEWER = {
    "mcp_tool_call": '{"type":"item.completed","item":{"id":"item_5","type":"mcp_tool_call","server":"docs",'
    '"tool":"search","arguments":{"q":"tailer"},"result":{"content":[{"type":"text","text":"hit"}],'
    '"structured_content":{"hits":1}},"status":"completed"}}',
    "mcp_tool_call_failed": '{"type":"item.completed","item":{"id":"item_6","type":"mcp_tool_call",'
    '"server":"docs","tool":"search","arguments":{},"error":{"message":"server gone"},"status":"failed"}}',
    "web_search": '{"type":"item.completed","item":{"id":"ws_1","type":"web_search","query":"pydantic v2",'
    '"action":{"type":"search","query":"pydantic v2"}}}',
    "todo_list": '{"type":"item.updated","item":{"id":"item_7","type":"todo_list","items":[{"text":"read",'
    '"completed":true},{"text":"write","completed":false}]}}',
    "plan": '{"type":"item.completed","item":{"id":"item_8","type":"plan","text":"1. read\\n2. write"}}',
    "collab_tool_call": '{"type":"item.completed","item":{"id":"item_9","type":"collab_tool_call",'
    '"tool":"spawn_agent","sender_thread_id":"t1","receiver_thread_ids":["t2"],"prompt":"help",'
    '"agents_states":{"t2":{"status":"running","message":null}},"status":"completed"}}',
    "file_change_diff": '{"type":"item.completed","item":{"id":"item_10","type":"file_change","changes":'
    '[{"path":"/w/a.py","kind":"delete","diff":"-x\\n"}],"status":"completed"}}',
    "plan_delta": '{"type":"item.plan.delta","item_id":"item_8","delta":"1. re"}',
    "request_user_input": '{"type":"request_user_input","id":"turn_1","call_id":"call_1","questions":'
    '[{"id":"q1","header":"Pick","question":"Which one?","options":[{"label":"A"}]}]}',
}

ALL_SAMPLES = (
    HAPPY_PATH
    + APPLY_PATCH
    + RESUME
    + [FAILING_COMMAND]
    + RECONNECTING
    + [line for m in FAILURE_MESSAGES for line in failure_stream(m)]
    + list(NEWER.values())
)

EVENT_CLASSES = {
    "thread.started": ThreadStarted,
    "turn.started": TurnStarted,
    "item.started": ItemStarted,
    "item.updated": ItemUpdated,
    "item.completed": ItemCompleted,
    "turn.completed": TurnCompleted,
    "turn.failed": TurnFailed,
    "error": ErrorEvent,
    "item.plan.delta": PlanDelta,
    "request_user_input": RequestUserInput,
}
ITEM_CLASSES = {
    "agent_message": AgentMessageItem,
    "reasoning": ReasoningItem,
    "command_execution": CommandExecutionItem,
    "file_change": FileChangeItem,
    "mcp_tool_call": McpToolCallItem,
    "web_search": WebSearchItem,
    "todo_list": TodoListItem,
    "error": ErrorItem,
    "plan": PlanItem,
    "collab_tool_call": CollabToolCallItem,
}


def test_samples_cover_every_event_and_item_type() -> None:
    wire = [json.loads(line) for line in ALL_SAMPLES]
    assert {obj["type"] for obj in wire} == set(EVENT_CLASSES)
    assert {obj["item"]["type"] for obj in wire if "item" in obj} == set(ITEM_CLASSES)


@pytest.mark.parametrize("line", ALL_SAMPLES)
def test_every_sample_parses_to_its_model_and_round_trips(line: str) -> None:
    wire = json.loads(line)
    for raw in (line, line.encode(), line.encode() + b"\n"):
        event = parse_event_line(raw)
        assert type(event) is EVENT_CLASSES[wire["type"]]
        assert event.type == wire["type"]
        if "item" in wire:
            assert type(event.item) is ITEM_CLASSES[wire["item"]["type"]]  # type: ignore[union-attr]
            assert event.item.type == wire["item"]["type"]  # type: ignore[union-attr]
        # Nothing is lost: what was on the wire comes back out.
        assert json.loads(event.model_dump_json(exclude_unset=True)) == wire


def test_happy_path_fields() -> None:
    events = [parse_event_line(line) for line in HAPPY_PATH]
    assert isinstance(events[0], ThreadStarted)
    assert events[0].thread_id == "01a20a5f-decb-7541-abf5-b79e7c24b02c"
    assert isinstance(events[1], ItemCompleted) and isinstance(events[1].item, ErrorItem)
    assert events[1].item.message.startswith("Model metadata for `mock-model` not found.")
    started, completed = events[4], events[5]
    assert isinstance(started, ItemStarted) and isinstance(started.item, CommandExecutionItem)
    assert started.item.exit_code is None and started.item.status == "in_progress"
    assert isinstance(completed, ItemCompleted) and isinstance(completed.item, CommandExecutionItem)
    assert completed.item.command == "/bin/bash -lc 'echo hi > hello.txt'"
    assert completed.item.exit_code == 0 and not completed.item.failed
    last = events[-1]
    assert isinstance(last, TurnCompleted)
    assert last.usage == Usage(
        input_tokens=1334,
        cached_input_tokens=1000,
        cache_write_input_tokens=0,
        output_tokens=76,
        reasoning_output_tokens=7,
    )


def test_failing_command_and_failed_turn() -> None:
    command = parse_event_line(FAILING_COMMAND)
    assert isinstance(command, ItemCompleted) and isinstance(command.item, CommandExecutionItem)
    assert command.item.exit_code == 3 and command.item.status == "failed" and command.item.failed
    assert command.item.aggregated_output == "oops\n"
    for message in FAILURE_MESSAGES:
        _, _, error, failed = (parse_event_line(line) for line in failure_stream(message))
        assert isinstance(error, ErrorEvent) and error.message == message
        assert isinstance(failed, TurnFailed) and failed.message == message


def test_newer_items_fields() -> None:
    mcp = parse_event_line(NEWER["mcp_tool_call"]).item  # type: ignore[union-attr]
    assert isinstance(mcp, McpToolCallItem)
    assert (mcp.server, mcp.tool, mcp.arguments) == ("docs", "search", {"q": "tailer"})
    assert mcp.result is not None and mcp.result.structured_content == {"hits": 1}
    failed = parse_event_line(NEWER["mcp_tool_call_failed"]).item  # type: ignore[union-attr]
    assert isinstance(failed, McpToolCallItem) and failed.error is not None
    assert failed.error.message == "server gone"
    todo = parse_event_line(NEWER["todo_list"]).item  # type: ignore[union-attr]
    assert isinstance(todo, TodoListItem)
    assert [(e.text, e.completed) for e in todo.items] == [("read", True), ("write", False)]
    change = parse_event_line(NEWER["file_change_diff"]).item  # type: ignore[union-attr]
    assert isinstance(change, FileChangeItem)
    assert change.changes[0].kind == "delete" and change.changes[0].diff == "-x\n"
    delta = parse_event_line(NEWER["plan_delta"])
    assert isinstance(delta, PlanDelta) and (delta.item_id, delta.delta) == ("item_8", "1. re")
    ask = parse_event_line(NEWER["request_user_input"])
    assert isinstance(ask, RequestUserInput) and ask.call_id == "call_1"
    assert ask.questions[0]["question"] == "Which one?"


def test_unknown_event_type_is_kept_with_its_payload() -> None:
    line = '{"type":"thread.compacted","thread_id":"t","stats":{"before":10,"after":[1,2]},"note":null}'
    event = parse_event_line(line)
    assert isinstance(event, UnknownEvent)
    assert event.type == "thread.compacted"
    assert event.raw == json.loads(line)
    assert json.loads(event.model_dump_json()) == json.loads(line)


def test_unknown_item_type_is_kept_with_its_payload() -> None:
    line = (
        '{"type":"item.completed","item":{"id":"item_4","type":"image_view","path":"/w/cat.png",'
        '"size":[640,480]}}'
    )
    event = parse_event_line(line)
    assert isinstance(event, ItemCompleted)
    assert isinstance(event.item, UnknownItem)
    assert event.item.type == "image_view"
    assert event.item.item_id == "item_4"
    assert event.item.raw == json.loads(line)["item"]


def test_object_without_a_string_type_is_kept_as_unknown() -> None:
    event = parse_event_line('{"hello":"world"}')
    assert isinstance(event, UnknownEvent) and event.type == ""
    assert event.raw["hello"] == "world"
    numbered = parse_event_line('{"type":7,"x":1}')
    assert isinstance(numbered, UnknownEvent) and numbered.type == "7"
    assert numbered.model_extra == {"x": 1}


def test_known_types_accept_new_fields_and_missing_fields() -> None:
    event = parse_event_line(
        '{"type":"item.completed","seq":7,"item":{"id":"item_1","type":"command_execution",'
        '"command":"ls","exit_code":0,"status":"completed","duration_ms":12,"cwd":"/w"}}'
    )
    assert isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem)
    assert event.model_extra == {"seq": 7}
    assert event.item.model_extra == {"duration_ms": 12, "cwd": "/w"}
    assert event.item.aggregated_output == ""  # missing → default
    bare = parse_event_line('{"type":"turn.completed"}')
    assert isinstance(bare, TurnCompleted) and bare.usage == Usage()
    failed = parse_event_line('{"type":"turn.failed"}')
    assert isinstance(failed, TurnFailed) and failed.message == "turn failed"


def test_known_types_with_unexpected_field_types_are_repaired() -> None:
    event = parse_event_line(
        '{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"ls",'
        '"exit_code":"three","status":"failed"}}'
    )
    assert isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem)
    assert event.item.exit_code is None and event.item.status == "failed" and event.item.failed
    usage = parse_event_line('{"type":"turn.completed","usage":{"input_tokens":"many","output_tokens":5}}')
    assert isinstance(usage, TurnCompleted) and usage.usage.output_tokens == 5
    assert usage.usage.input_tokens == 0
    failed = parse_event_line('{"type":"turn.failed","error":"boom"}')
    assert isinstance(failed, TurnFailed) and failed.message == "boom"
    kind = parse_event_line(
        '{"type":"item.completed","item":{"id":"i","type":"file_change","changes":[{"path":"/a",'
        '"kind":{"type":"update","move_path":null}}],"status":"completed"}}'
    )
    assert isinstance(kind, ItemCompleted) and isinstance(kind.item, FileChangeItem)
    assert kind.item.changes[0].kind == "update"


def test_unrepairable_known_event_is_kept_as_unknown() -> None:
    event = parse_event_line('{"type":"item.completed","item":"not an object"}')
    assert isinstance(event, UnknownEvent)
    assert event.type == "item.completed" and event.raw == {"type": "item.completed", "item": "not an object"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"Reading additional input from stdin...", "invalid JSON"),
        (b'{"type":"turn.started"', "invalid JSON"),
        (b'{"type":"turn.started"} trailing', "invalid JSON"),
        (b"[1, 2]", "JSON array, not an object"),
        (b"42", "JSON number, not an object"),
        (b"4.5", "JSON number, not an object"),
        (b"true", "JSON boolean, not an object"),
        (b'"text"', "JSON string, not an object"),
        (b"null", "JSON null, not an object"),
        (b'{"type":"error","message":"caf\xe9"}', "invalid UTF-8"),
        (b"\xff\xfe{}", "invalid UTF-8"),
        (b"", "blank line"),
        (b"  \r", "blank line"),
        ("   ", "blank line"),
    ],
)
def test_non_events_raise_parse_errors(line: bytes | str, reason: str) -> None:
    with pytest.raises(EventParseError) as info:
        parse_event_line(line)
    assert info.value.reason.startswith(reason)


def test_batch_parse_matches_single_lines_and_refuses_bad_batches() -> None:
    lines = [line.encode() for line in HAPPY_PATH]
    batch = parse_event_batch(lines)
    assert batch == [parse_event_line(line) for line in lines]
    assert parse_event_batch([*lines, b"noise"]) is None
    assert parse_event_batch([]) == []


def test_usage_arithmetic() -> None:
    first = Usage(input_tokens=1334, cached_input_tokens=1000, output_tokens=76, reasoning_output_tokens=7)
    second = Usage(input_tokens=1534, cached_input_tokens=1000, output_tokens=116, reasoning_output_tokens=7)
    delta = second.minus(first)
    assert delta == Usage(input_tokens=200, output_tokens=40)
    assert first.plus(delta) == second
    assert first.minus(second) == Usage()  # clamped at 0, never negative
    assert first.minus(None) == first and first.plus(None) == first
    # cached ⊂ input and reasoning ⊂ output: they are not added again.
    assert second.total_tokens == 1534 + 116

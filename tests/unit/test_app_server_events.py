"""App-server (JSON-RPC) lines in an mcp-lane ``events.jsonl``: typed events and the same reducer."""

from __future__ import annotations

import json

from cockpit.core.events import (
    ErrorEvent,
    ItemCompleted,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    UnknownEvent,
    parse_event_line,
)
from cockpit.core.reducer import AttemptReducer


def line(method: str, params: dict | None = None, **extra: object) -> bytes:
    return json.dumps({"method": method, "params": params or {}, **extra}).encode() + b"\n"


def item(method: str, **fields: object) -> bytes:
    return line(method, {"threadId": "t", "turnId": "u", "item": fields})


TURN = [
    line("thread/started", {"thread": {"id": "thr-1", "cwd": "/w"}}),
    b'{"id":1,"result":{"thread":{"id":"thr-1"}}}\n',
    line("turn/started", {"threadId": "thr-1", "turn": {"id": "u", "status": "inProgress"}}),
    item("item/started", type="commandExecution", id="c1", command="ls", status="inProgress"),
    line("item/commandExecution/requestApproval", {"itemId": "c1", "command": "ls"}, id=0),
    item("item/completed", type="commandExecution", id="c1", command="ls", status="completed", exitCode=0),
    item("item/started", type="commandExecution", id="c2", command="rm x", status="inProgress"),
    item("item/completed", type="commandExecution", id="c2", command="rm x", status="declined"),
    item(
        "item/completed",
        type="fileChange",
        id="f1",
        status="completed",
        changes=[{"path": "/w/a.py", "kind": {"type": "add"}, "diff": "x\n"}],
    ),
    item("item/completed", type="agentMessage", id="m1", text="COMPLETED: done"),
    line(
        "thread/tokenUsage/updated",
        {
            "threadId": "thr-1",
            "tokenUsage": {
                "total": {
                    "inputTokens": 90,
                    "cachedInputTokens": 40,
                    "outputTokens": 7,
                    "reasoningOutputTokens": 2,
                }
            },
        },
    ),
    line("error", {"error": {"message": "Reconnecting... 1/5"}, "willRetry": True}),
    line("item/agentMessage/delta", {"delta": "x"}),
    line("turn/completed", {"threadId": "thr-1", "turn": {"id": "u", "status": "completed", "items": []}}),
]


def test_app_server_lines_become_typed_events() -> None:
    events = [parse_event_line(raw) for raw in TURN]
    assert isinstance(events[0], ThreadStarted) and events[0].thread_id == "thr-1"
    assert isinstance(events[1], UnknownEvent) and events[1].type == "rpc/response"
    assert isinstance(events[4], UnknownEvent) and events[4].type == "item/commandExecution/requestApproval"
    assert isinstance(events[5], ItemCompleted) and events[5].item.exit_code == 0
    assert isinstance(events[11], ErrorEvent) and events[11].message.startswith("Reconnecting")
    assert isinstance(events[12], UnknownEvent) and events[12].type == "item/agentMessage/delta"
    assert isinstance(events[13], TurnCompleted)


def test_reducer_folds_an_app_server_turn() -> None:
    reducer = AttemptReducer()
    for raw in TURN:
        reducer.apply(parse_event_line(raw))
    progress = reducer.snapshot()
    assert progress.thread_id == "thr-1"
    assert progress.turn_completed and progress.turn_failed is None
    assert (progress.commands, progress.commands_failed, progress.commands_running) == (2, 1, 0)
    assert progress.file_changes == ["/w/a.py"]
    assert progress.last_agent_message == "COMPLETED: done"
    assert progress.usage is not None
    assert (
        progress.usage.input_tokens,
        progress.usage.cached_input_tokens,
        progress.usage.output_tokens,
    ) == (
        90,
        40,
        7,
    )
    assert progress.errors == ["Reconnecting... 1/5"]


def test_failed_and_interrupted_turns_fail() -> None:
    failed = parse_event_line(
        line("turn/completed", {"turn": {"id": "u", "status": "failed", "error": {"message": "boom 500"}}})
    )
    assert isinstance(failed, TurnFailed) and failed.message == "boom 500"
    interrupted = parse_event_line(line("turn/completed", {"turn": {"id": "u", "status": "interrupted"}}))
    assert isinstance(interrupted, TurnFailed) and interrupted.message == "turn interrupted"
    reducer = AttemptReducer()
    reducer.apply(interrupted)
    assert reducer.snapshot().turn_failed == "turn interrupted"
    assert not reducer.snapshot().turn_completed

"""App-server (JSON-RPC) lines in an mcp-lane ``events.jsonl``: typed events, the same reducer, the
rendered log."""

from __future__ import annotations

import json

from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.codex.exec_events import (
    ErrorEvent,
    ItemCompleted,
    RateLimitsUpdated,
    ThreadStarted,
    TurnCompleted,
    TurnDiffUpdated,
    TurnFailed,
    UnknownEvent,
    parse_event_line,
)
from cockpit.core.views.event_lines import LogRenderer


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


PATCH_ONE = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n-x\n+y\n+z\n"
PATCH_TWO = (
    PATCH_ONE
    + "diff --git a/b.md b/b.md\nnew file mode 100644\n--- /dev/null\n+++ b/b.md\n@@ -0,0 +1 @@\n+hi\n"
)


def diff_line(patch: str) -> bytes:
    return line("turn/diff/updated", {"threadId": "t", "turnId": "u", "diff": patch})


def test_turn_diff_is_typed_and_the_reducer_counts_it_once_per_change() -> None:
    first = parse_event_line(diff_line(PATCH_ONE))
    assert isinstance(first, TurnDiffUpdated) and first.turn_id == "u" and first.diff == PATCH_ONE
    reducer = AttemptReducer()
    reducer.apply_many([first, parse_event_line(diff_line(PATCH_ONE))])  # re-sent unchanged
    assert reducer.turn_diff == PATCH_ONE and reducer.turn_diff_version == 1
    live = reducer.snapshot().live_diff
    assert live is not None and (live.files, live.insertions, live.deletions, live.paths) == (
        1,
        2,
        1,
        ["a.py"],
    )
    reducer.apply(parse_event_line(diff_line(PATCH_TWO)))
    assert reducer.turn_diff_version == 2
    live = reducer.snapshot().live_diff
    assert live is not None and (live.files, live.insertions, live.paths) == (2, 3, ["a.py", "b.md"])
    assert reducer.snapshot().unknown_events == 0


def test_rate_limit_notifications_are_typed_with_their_time() -> None:
    raw = line(
        "account/rateLimits/updated",
        {"rateLimits": {"limitId": "codex", "primary": {"usedPercent": 43}, "secondary": None}},
        emittedAtMs=1795490759058,
    )
    event = parse_event_line(raw)
    assert isinstance(event, RateLimitsUpdated)
    assert event.rate_limits["primary"] == {"usedPercent": 43} and event.rate_limits["secondary"] is None
    assert event.emitted_at == 1795490759.058
    untimed = parse_event_line(line("account/rateLimits/updated", {"rateLimits": {}}, emittedAtMs=True))
    assert isinstance(untimed, RateLimitsUpdated) and untimed.emitted_at is None
    reducer = AttemptReducer()
    reducer.apply(event)
    assert reducer.snapshot().unknown_events == 0


def rendered(lines: list[bytes]) -> list[str]:
    renderer = LogRenderer(root="/w")
    out: list[str] = []
    for raw in lines:
        out.extend(renderer.render(parse_event_line(raw)))
    return out


def test_the_log_shows_what_matters_of_an_app_server_turn() -> None:
    out = rendered(
        [
            line("configWarning", {"summary": "could not find \x1b[31mbubblewrap\x1b[0m", "details": None}),
            *TURN[:5],
            line("serverRequest/resolved", {"threadId": "thr-1", "requestId": 0}),
            line(
                "item/fileChange/requestApproval", {"itemId": "f9", "reason": "outside the workspace"}, id=1
            ),
            diff_line(PATCH_ONE),
            diff_line(PATCH_ONE),
            diff_line(PATCH_TWO),
            item("item/completed", type="userMessage", id="u1", content=[]),
            item("item/completed", type="somethingNew", id="n1"),
            line("thread/status/changed", {"threadId": "thr-1", "status": {"type": "idle"}}),
            line("account/rateLimits/updated", {"rateLimits": {"limitId": "codex"}}),
            *TURN[9:],
        ]
    )
    assert out[0] == "! config warning: could not find bubblewrap"
    assert "⚑ Codex asks to run ls: waiting for a decision" in out
    assert "⚑ approval answered" in out
    assert "⚑ Codex asks to change files (outside the workspace): waiting for a decision" in out
    assert [x for x in out if x.startswith("Δ")] == [
        "Δ turn diff: 1 file +2 -1",
        "Δ turn diff: 2 files +3 -1",
    ]
    assert "? unknown item type somethingNew" in out
    assert out[-1] == "■ turn completed"
    assert not [x for x in out if "rpc/response" in x or "status/changed" in x or "delta" in x.lower()]
    assert not [x for x in out if "userMessage" in x or "rateLimits" in x or "tokenUsage" in x]


def test_the_reducer_knows_what_codex_waits_for() -> None:
    reducer = AttemptReducer()
    ask = line("item/commandExecution/requestApproval", {"itemId": "c1", "command": "rm -rf build\nls"}, id=0)
    patch = line("item/fileChange/requestApproval", {"itemId": "f1", "reason": "outside"}, id=1)
    reducer.apply(parse_event_line(ask))
    assert reducer.snapshot().awaiting_approval == "run rm -rf build"
    reducer.apply(parse_event_line(patch))
    reducer.apply(parse_event_line(line("serverRequest/resolved", {"requestId": 0})))
    assert reducer.snapshot().awaiting_approval == "change files"
    reducer.apply(parse_event_line(line("serverRequest/resolved", {"requestId": 1})))
    assert reducer.snapshot().awaiting_approval is None
    reducer.apply(parse_event_line(ask))  # asked again, then the turn ends: nothing waits any more
    reducer.apply(parse_event_line(line("turn/completed", {"turn": {"id": "u", "status": "interrupted"}})))
    assert reducer.snapshot().awaiting_approval is None
    assert reducer.snapshot().unknown_events == 0

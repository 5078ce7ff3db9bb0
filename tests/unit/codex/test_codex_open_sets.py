"""What Codex emits is an open set: an event type, item type, status or method a newer Codex adds (0.171.0
added some, see the README's "Codex versions") is kept and counted, never rejected, and never fails a task
on its own. Each test feeds a value the pinned version does not send and asserts it is kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.codex.app_server.client import AppServerClient
from cockpit.core.codex.app_server.protocol import (
    ItemNotification,
    ThreadSnapshot,
    TurnNotification,
    turn_finished,
)
from cockpit.core.codex.exec_events import (
    CommandExecutionItem,
    FileChangeItem,
    ItemCompleted,
    TurnCompleted,
    UnknownEvent,
    UnknownItem,
    parse_event_line,
)
from cockpit.core.usage.rollouts import parse_rollout_line

THREAD = "01a20a65-2d3a-7000-8000-000000000001"
TURN = "01a20a65-2d5b-7000-8000-000000000002"


def exec_line(event: dict[str, Any]) -> str:
    return json.dumps(event)


def rpc_line(method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"method": method, "params": params, "emittedAtMs": 1795470732793}).encode() + b"\n"


# ------------------------------------------------------------------------------------- exec --json


def test_exec_stream_with_new_event_item_and_status_values_still_completes() -> None:
    lines = [
        exec_line({"type": "thread.started", "thread_id": THREAD}),
        exec_line({"type": "turn.started"}),
        exec_line({"type": "thread.search.partial", "results": [{"id": "x"}]}),  # a new event type
        exec_line({"type": "item.completed", "item": {"id": "item_0", "type": "hook_prompt", "text": "hi"}}),
        exec_line(
            {
                "type": "item.completed",
                "item": {
                    "id": "item_1",
                    "type": "command_execution",
                    "command": "true",
                    "aggregated_output": "",
                    "exit_code": 0,
                    "status": "skipped_by_hook",  # a new status
                    "environment_id": "local",  # a new field
                },
            }
        ),
        exec_line(
            {
                "type": "item.completed",
                "item": {
                    "id": "item_2",
                    "type": "file_change",
                    "changes": [{"path": "/w/a.py", "kind": "rename"}],  # a new change kind
                    "status": "applied_partially",  # a new status
                },
            }
        ),
        exec_line({"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 2, "new": 1}}),
    ]
    events = [parse_event_line(line) for line in lines]
    assert isinstance(events[2], UnknownEvent) and events[2].raw["results"] == [{"id": "x"}]
    assert isinstance(events[3], ItemCompleted) and isinstance(events[3].item, UnknownItem)
    assert events[3].item.raw == {"type": "hook_prompt", "id": "item_0", "text": "hi"}
    command = events[4].item  # type: ignore[union-attr]
    assert isinstance(command, CommandExecutionItem) and command.status == "skipped_by_hook"
    assert not command.failed and command.model_extra == {"environment_id": "local"}
    change = events[5].item  # type: ignore[union-attr]
    assert isinstance(change, FileChangeItem) and change.changes[0].kind == "rename"
    assert isinstance(events[6], TurnCompleted) and events[6].usage.model_extra == {"new": 1}

    reducer = AttemptReducer()
    reducer.apply_many(events)
    progress = reducer.snapshot()
    assert progress.turn_completed and progress.turn_failed is None
    assert progress.unknown_events == 2
    assert progress.unknown_types == ["thread.search.partial", "item:hook_prompt"]
    assert (progress.commands, progress.commands_failed) == (1, 0)
    assert progress.file_changes == ["/w/a.py"]  # an unknown status is not read as "not applied"


def test_a_declined_file_change_lists_no_changed_path() -> None:
    reducer = AttemptReducer()
    for status, path in (("declined", "/w/no.py"), ("failed", "/w/bad.py"), ("completed", "/w/yes.py")):
        item = {
            "id": path,
            "type": "file_change",
            "changes": [{"path": path, "kind": "add"}],
            "status": status,
        }
        reducer.apply(parse_event_line(exec_line({"type": "item.completed", "item": item})))
    assert reducer.snapshot().file_changes == ["/w/yes.py"]


# ------------------------------------------------------------------------- app-server events.jsonl


def test_app_server_methods_and_item_types_a_newer_codex_adds_are_counted() -> None:
    reducer = AttemptReducer()
    lines = [
        rpc_line("turn/started", {"threadId": THREAD, "turn": {"id": TURN, "status": "inProgress"}}),
        rpc_line("thread/search/partial", {"threadId": THREAD, "results": []}),  # new in 0.171.0
        rpc_line(
            "item/completed", {"threadId": THREAD, "turnId": TURN, "item": {"type": "sleep", "id": "s1"}}
        ),
        rpc_line("turn/completed", {"threadId": THREAD, "turn": {"id": TURN, "status": "completed"}}),
    ]
    for line in lines:
        reducer.apply(parse_event_line(line))
    progress = reducer.snapshot()
    assert progress.turn_completed and progress.turn_failed is None
    assert progress.unknown_events == 2
    assert progress.unknown_types == ["thread/search/partial", "item/completed"]


# -------------------------------------------------------------------------------- app-server client


def test_every_turn_status_but_in_progress_ends_the_turn() -> None:
    assert [turn_finished(s) for s in ("completed", "interrupted", "failed")] == [True, True, True]
    assert turn_finished("cancelledByPolicy")  # a status a newer Codex may add
    assert not turn_finished("inProgress") and not turn_finished("")


async def test_a_turn_with_a_new_status_is_recovered_from_thread_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = AppServerClient()
    turn = {
        "id": TURN,
        "status": "cancelledByPolicy",
        "items": [{"type": "agentMessage", "id": "m", "text": "x"}],
    }

    async def thread_read(thread_id: str, *, timeout: float | None = 30.0) -> ThreadSnapshot:
        return ThreadSnapshot.model_validate({"id": thread_id, "status": {"type": "idle"}, "turns": [turn]})

    monkeypatch.setattr(client, "thread_read", thread_read)
    recovered = await client.recover_turn(THREAD, TURN)
    assert recovered is not None and recovered.status == "cancelledByPolicy"
    assert client.completed_turns[TURN] is recovered and client.final_message(TURN) == "x"


def test_a_turn_completed_carrying_an_item_of_a_new_shape_still_ends_the_turn() -> None:
    client = AppServerClient()
    odd_item = {
        "type": "imageGeneration",  # the same field names as the lane's items, other shapes
        "id": "ig1",
        "status": "generating",
        "text": {"caption": "a cat"},
        "changes": {"frames": 3},
        "exitCode": "n/a",
    }
    final = {"type": "agentMessage", "id": "m1", "text": "COMPLETED: done"}
    turn = {"id": TURN, "status": "completed", "items": [odd_item, final], "error": None}
    client._on_line(rpc_line("item/started", {"threadId": THREAD, "turnId": TURN, "item": odd_item}))
    client._on_line(rpc_line("turn/completed", {"threadId": THREAD, "turn": turn}))
    assert client.malformed == 0
    started = client.incoming.get_nowait()
    assert isinstance(started.typed, ItemNotification)
    kept = client.items["ig1"]
    assert (kept.type, kept.status, kept.text, kept.changes, kept.exitCode) == (
        "imageGeneration",
        "generating",
        None,
        None,
        None,
    )
    completed = client.completed_turns[TURN]
    assert isinstance(completed, TurnNotification) and completed.status == "completed"
    assert [item.type for item in completed.turn.items] == ["imageGeneration", "agentMessage"]
    assert client.final_message(TURN) == "COMPLETED: done"


def test_an_item_with_a_non_string_id_is_kept_under_its_text() -> None:
    client = AppServerClient()
    client._on_line(
        rpc_line("item/started", {"threadId": THREAD, "turnId": TURN, "item": {"type": 7, "id": 42}})
    )
    assert client.items["42"].type == "7"


def test_unknown_notifications_and_server_requests_are_delivered_unchanged() -> None:
    client = AppServerClient()
    client._on_line(rpc_line("thread/search/partial", {"threadId": THREAD, "results": [1]}))
    request = {
        "id": 5,
        "method": "item/newTool/requestApproval",
        "params": {"threadId": THREAD, "turnId": TURN},
    }
    client._on_line(json.dumps(request).encode() + b"\n")
    note, asked = client.incoming.get_nowait(), client.incoming.get_nowait()
    assert (note.method, note.params, note.typed, note.is_request) == (
        "thread/search/partial",
        {"threadId": THREAD, "results": [1]},
        None,
        False,
    )
    assert asked.method == "item/newTool/requestApproval" and asked.request_id == 5
    assert client.pending_requests[5] is asked and client.malformed == 0


# ------------------------------------------------------------------------------------------ rollout


def test_rollout_snapshot_with_new_enum_values_and_fields_is_kept() -> None:
    record = {
        "timestamp": "2026-11-23T21:37:50.228Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": None,
            "rate_limits": {
                "limit_id": "codex_bengalfox",  # a limit of its own
                "limit_name": "GPT-5.6-Codex-Spark",
                "primary": {"used_percent": 12.5, "window_minutes": 300, "resets_at": 1795473469},
                "secondary": None,
                "credits": None,
                "plan_type": "self_serve_business_usage_based",
                "rate_limit_reached_type": "workspace_member_credits_depleted",
                "normal_model_slug": "gpt-5.6",  # new in the 0.171.0 schema
                "individual_limit": {"used": 3},
            },
        },
    }
    snapshot = parse_rollout_line(json.dumps(record), source="rollout:x")
    assert snapshot is not None
    assert (snapshot.limit_id, snapshot.plan_type, snapshot.reached_type) == (
        "codex_bengalfox",
        "self_serve_business_usage_based",
        "workspace_member_credits_depleted",
    )
    assert [(w.label, w.used_percent) for w in snapshot.windows] == [("5h", 12.5)]


def test_rollout_lines_of_a_new_kind_are_passed_over() -> None:
    for record in (
        {
            "timestamp": "2026-11-23T21:37:50Z",
            "type": "event_msg",
            "payload": {"type": "thread_search_partial"},
        },
        {"timestamp": "2026-11-23T21:37:50Z", "type": "realtime_frame", "payload": [1, 2]},
    ):
        assert parse_rollout_line(json.dumps(record), source="rollout:x") is None

"""The per-attempt reducer on the Codex CLI samples and on the recorded stream of a real run."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.core.attempts.reducer import MAX_ERRORS, MAX_FILE_CHANGES, MAX_MESSAGE_CHARS, AttemptReducer
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.codex.exec_events import CodexEvent, Usage, parse_event_line
from cockpit.core.records.attempt import AttemptProgress
from tests.helpers.codex_samples import APPLY_PATCH, HAPPY_PATH

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "codex" / "recorded-mixed.jsonl"

RESUME_LAST = (
    '{"type":"turn.completed","usage":{"input_tokens":1534,"cached_input_tokens":1000,'
    '"cache_write_input_tokens":0,"output_tokens":116,"reasoning_output_tokens":7}}'
)
FAILING_COMMAND = (
    '{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc '
    '\'echo oops >&2; exit 3\'","aggregated_output":"oops\\n","exit_code":3,"status":"failed"}}'
)
FAILURE_MESSAGES = [
    "We’re currently experiencing high demand, which may cause temporary errors.",
    "exceeded retry limit, last status: 429 Too Many Requests",
    "unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:<port>/v1/responses",
    "stream disconnected before completion: idle timeout waiting for SSE",
    "Missing environment variable: `MOCK_API_KEY`.",
]


def events(lines: list[str]) -> list[CodexEvent]:
    return [parse_event_line(line) for line in lines]


def reduce(lines: list[str]) -> AttemptProgress:
    reducer = AttemptReducer()
    reducer.apply_many(events(lines))
    return reducer.snapshot()


def failure_stream(message: str) -> list[str]:
    return [
        '{"type":"thread.started","thread_id":"01a20a60-0000-7000-8000-000000000001"}',
        '{"type":"turn.started"}',
        json.dumps({"type": "error", "message": message}, ensure_ascii=False),
        json.dumps({"type": "turn.failed", "error": {"message": message}}, ensure_ascii=False),
    ]


def test_happy_path() -> None:
    progress = reduce(HAPPY_PATH)
    assert progress.thread_id == "01a20a5f-decb-7541-abf5-b79e7c24b02c"
    assert progress.events == len(HAPPY_PATH)
    assert progress.turns_started == 1 and progress.turns_completed == 1
    assert progress.turn_completed is True and progress.turn_failed is None
    assert progress.usage == Usage(
        input_tokens=1334, cached_input_tokens=1000, output_tokens=76, reasoning_output_tokens=7
    )
    assert (progress.commands, progress.commands_failed, progress.commands_running) == (1, 0, 0)
    assert progress.agent_messages == 2 and progress.last_agent_message == "done"
    # The model-metadata error item is a warning, not a failure.
    assert progress.error_events == 1 and progress.errors[0].startswith("Model metadata for `mock-model`")
    assert progress.file_changes == [] and progress.unknown_events == 0 and progress.todo is None


def test_apply_patch_lists_distinct_paths() -> None:
    progress = reduce(APPLY_PATCH)
    assert progress.file_changes == ["<workdir>/notes.md"]
    assert progress.reasoning_items == 1
    assert progress.last_agent_message == "done patching"
    assert progress.usage is not None and progress.usage.total_tokens == 360


def test_failing_command_does_not_fail_the_turn() -> None:
    lines = [*HAPPY_PATH[:5], FAILING_COMMAND, *HAPPY_PATH[6:]]
    progress = reduce(lines)
    assert progress.commands == 1 and progress.commands_failed == 1
    assert progress.turn_completed is True and progress.turn_failed is None


def test_usage_is_the_last_thread_cumulative_reading() -> None:
    progress = reduce([*HAPPY_PATH, RESUME_LAST])
    assert progress.usage is not None and progress.usage.input_tokens == 1534
    assert progress.usage.output_tokens == 116


def test_failure_modes() -> None:
    for message in FAILURE_MESSAGES:
        progress = reduce(failure_stream(message))
        assert progress.turn_failed == message
        assert progress.turn_completed is False
        assert progress.usage is None
        assert progress.errors == [message] and progress.error_events == 1


def test_reconnect_warnings_do_not_fail() -> None:
    warning = (
        '{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion: '
        'stream closed before response.completed)"}'
    )
    progress = reduce([*HAPPY_PATH[:3], warning, *HAPPY_PATH[3:]])
    assert progress.turn_completed is True and progress.turn_failed is None
    assert progress.error_events == 2 and progress.errors[-1].startswith("Reconnecting... 1/5")


def test_failure_is_sticky_across_a_later_turn() -> None:
    lines = [*failure_stream("exceeded retry limit, last status: 429 Too Many Requests"), *HAPPY_PATH[2:]]
    progress = reduce(lines)
    assert progress.turn_failed == "exceeded retry limit, last status: 429 Too Many Requests"
    assert progress.turn_completed is False  # a failed turn is never undone within the attempt
    assert progress.turns_started == 2 and progress.turns_completed == 1
    assert progress.usage is not None and progress.usage.input_tokens == 1334  # still recorded


def test_turn_failed_without_message_and_malformed_terminal_events() -> None:
    assert reduce(['{"type":"turn.started"}', '{"type":"turn.failed"}']).turn_failed == "turn failed"
    odd_failure = reduce(['{"type":"turn.failed","error":{"message":["not", "text"]}}'])
    assert odd_failure.turn_failed == "turn failed"
    odd_completion = reduce(['{"type":"turn.completed","usage":[1,2,3]}'])
    assert odd_completion.turn_completed is True and odd_completion.usage is not None


def test_unknown_events_and_items_are_counted() -> None:
    progress = reduce(
        [
            *HAPPY_PATH,
            '{"type":"thread.compacted","x":1}',
            '{"type":"thread.compacted","x":2}',
            '{"type":"item.completed","item":{"id":"item_9","type":"image_view","path":"/a.png"}}',
        ]
    )
    assert progress.unknown_events == 3
    assert progress.unknown_types == ["thread.compacted", "item:image_view"]
    assert progress.turn_completed is True


def test_todo_list_follows_the_latest_update() -> None:
    def todo(event: str, done: bool) -> str:
        items = [{"text": "read", "completed": True}, {"text": "write", "completed": done}]
        return json.dumps({"type": event, "item": {"id": "item_1", "type": "todo_list", "items": items}})

    reducer = AttemptReducer()
    reducer.apply(parse_event_line(todo("item.started", False)))
    assert reducer.snapshot().todo == [
        {"text": "read", "completed": True},
        {"text": "write", "completed": False},
    ]
    reducer.apply(parse_event_line(todo("item.updated", True)))
    snapshot = reducer.snapshot()
    assert snapshot.todo is not None and snapshot.todo[1] == {"text": "write", "completed": True}


def test_running_commands_and_declined_commands() -> None:
    started = HAPPY_PATH[4]
    reducer = AttemptReducer()
    reducer.apply_many(events([HAPPY_PATH[2], started]))
    assert reducer.snapshot().commands_running == 1
    declined = json.loads(HAPPY_PATH[5])
    declined["item"].update(exit_code=None, status="declined")
    reducer.apply(parse_event_line(json.dumps(declined)))
    snapshot = reducer.snapshot()
    assert (snapshot.commands, snapshot.commands_failed, snapshot.commands_running) == (1, 1, 0)
    reducer.apply(parse_event_line(started))
    reducer.apply(parse_event_line('{"type":"turn.failed","error":{"message":"boom"}}'))
    assert reducer.snapshot().commands_running == 0  # the turn's end closes unfinished items


def test_bounds() -> None:
    reducer = AttemptReducer()
    for i in range(MAX_FILE_CHANGES + 30):
        change = {"path": f"/w/f{i}.txt", "kind": "add"}
        item = {"id": f"item_{i}", "type": "file_change", "changes": [change, change], "status": "completed"}
        reducer.apply(parse_event_line(json.dumps({"type": "item.completed", "item": item})))
    failed = {
        "id": "x",
        "type": "file_change",
        "changes": [{"path": "/w/no", "kind": "add"}],
        "status": "failed",
    }
    reducer.apply(parse_event_line(json.dumps({"type": "item.completed", "item": failed})))
    for i in range(MAX_ERRORS + 5):
        reducer.apply(parse_event_line(json.dumps({"type": "error", "message": f"warning {i}"})))
    long_text = "é" * (MAX_MESSAGE_CHARS + 100)
    reducer.apply(
        parse_event_line(
            json.dumps(
                {"type": "item.completed", "item": {"id": "m", "type": "agent_message", "text": long_text}}
            )
        )
    )
    progress = reducer.snapshot()
    assert len(progress.file_changes) == MAX_FILE_CHANGES
    assert progress.file_changes[0] == "/w/f0.txt"
    assert progress.file_changes_truncated == 30
    assert "/w/no" not in progress.file_changes  # a failed patch changed nothing
    assert len(progress.errors) == MAX_ERRORS and progress.errors[-1] == f"warning {MAX_ERRORS + 4}"
    assert progress.error_events == MAX_ERRORS + 5
    assert progress.last_agent_message is not None and len(progress.last_agent_message) == MAX_MESSAGE_CHARS


def test_snapshot_is_json_serialisable_and_detached() -> None:
    reducer = AttemptReducer()
    reducer.apply_many(events(HAPPY_PATH))
    reducer.parse_errors = 3
    snapshot = reducer.snapshot()
    assert snapshot.parse_errors == 3
    assert AttemptProgress.model_validate_json(snapshot.model_dump_json()) == snapshot
    reducer.apply(parse_event_line('{"type":"error","message":"later"}'))
    assert snapshot.error_events == 1  # an earlier snapshot does not move
    assert AttemptProgress() == AttemptProgress.model_validate({})


def test_recorded_stream_through_the_tailer(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(RECORDED.read_bytes())
    stream = EventTailer(path).read_new()
    bulk = AttemptReducer()
    bulk.apply_many(stream)
    one_by_one = AttemptReducer()
    for event in stream:
        one_by_one.apply(event)
    progress = bulk.snapshot()
    assert progress == one_by_one.snapshot()
    assert progress.events == len(stream)
    assert progress.turn_completed is True and progress.turn_failed is None
    assert progress.commands == sum(
        1
        for e in stream
        if e.type == "item.completed" and e.item.type == "command_execution"  # type: ignore[union-attr]
    )
    assert progress.commands_failed == 2
    assert progress.commands_running == 0
    assert [p.rsplit("/", 1)[-1] for p in progress.file_changes] == ["missing.txt", "words.txt"]
    assert progress.last_agent_message is not None and progress.last_agent_message.startswith("COMPLETED:")
    assert progress.usage is not None and progress.usage.input_tokens > 0

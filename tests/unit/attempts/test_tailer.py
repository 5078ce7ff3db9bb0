"""The tailer on real files: incremental reads, partial lines, noise, monster lines, truncation, follow."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cockpit.core.attempts.tailer import CHUNK_BYTES, MAX_ERRORS_KEPT, EventTailer
from cockpit.core.codex.exec_events import (
    CodexEvent,
    ErrorEvent,
    ItemCompleted,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    UnknownEvent,
    parse_event_line,
)

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "codex" / "recorded-mixed.jsonl"

# A stream with multi-byte UTF-8 (2, 3 and 4 bytes) so that splits can land inside a character.
EXTRA_LINES = [
    {
        "type": "error",
        "message": "We’re currently experiencing high demand, which may cause temporary errors.",
    },
    {
        "type": "item.completed",
        "item": {"id": "item_90", "type": "agent_message", "text": "naïve café 🚀 ✓ 日本"},
    },
    {"type": "some.future.event", "payload": {"ü": [1, 2, 3]}},
    {"type": "turn.failed", "error": {"message": "You’ve hit your usage limit."}},
]


def stream_bytes() -> bytes:
    recorded = RECORDED.read_bytes()
    extra = "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in EXTRA_LINES).encode()
    return recorded + extra


STREAM = stream_bytes()
EXPECTED = [parse_event_line(line) for line in STREAM.splitlines()]


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def test_missing_file_yields_nothing_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tailer = EventTailer(path)
    assert tailer.read_new() == []
    assert tailer.offset == 0 and tailer.lines == 0
    append(path, STREAM)
    assert tailer.read_new() == EXPECTED
    assert tailer.offset == len(STREAM)
    assert tailer.lines == tailer.events == len(EXPECTED)
    assert tailer.parse_errors == 0
    assert tailer.read_new() == []  # nothing new


def test_recorded_stream_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(RECORDED.read_bytes())
    events = EventTailer(path).read_new()
    assert len(events) == len(RECORDED.read_bytes().splitlines())
    assert isinstance(events[0], ThreadStarted)
    assert isinstance(events[-1], TurnCompleted)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
@example(cuts=[STREAM.index("’".encode()) + 1, STREAM.index("🚀".encode()) + 2])  # inside characters
@example(cuts=list(range(0, 400)))  # one byte at a time across the first lines
def test_arbitrary_byte_splits_give_the_same_events(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    path = tmp_path_factory.mktemp("split") / "events.jsonl"
    tailer = EventTailer(path)
    events: list[CodexEvent] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(STREAM)]:
        append(path, STREAM[start:cut])
        start = cut
        events.extend(tailer.read_new())
    assert events == EXPECTED
    assert tailer.parse_errors == 0
    assert tailer.pending_bytes == 0


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first, second = line({"type": "turn.started"}), line({"type": "error", "message": "Reconnecting... 1/5"})
    append(path, first + second[:-10])
    tailer = EventTailer(path)
    assert [e.type for e in tailer.read_new()] == ["turn.started"]
    assert tailer.pending_bytes == len(second) - 10
    assert tailer.offset == len(first) + len(second) - 10
    append(path, second[-10:])
    events = tailer.read_new()
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].message == "Reconnecting... 1/5"
    assert tailer.pending_bytes == 0


def test_flush_parses_an_unterminated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    append(path, b'{"type":"turn.started"}\n{"type":"turn.failed","error":{"message":"killed"}}')
    tailer = EventTailer(path)
    assert len(tailer.read_new()) == 1
    flushed = tailer.flush()
    assert len(flushed) == 1 and isinstance(flushed[0], TurnFailed)
    assert tailer.flush() == []


def test_monster_line_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    monster = line(
        {"type": "item.completed", "item": {"type": "agent_message", "text": "x" * (11 * 1024 * 1024)}}
    )
    append(path, line({"type": "turn.started"}) + monster + STREAM)
    tailer = EventTailer(path)
    events = tailer.read_new()
    assert events == [parse_event_line(b'{"type":"turn.started"}'), *EXPECTED]
    assert tailer.parse_errors == 1
    assert "longer than" in tailer.errors[-1]
    assert tailer.offset == path.stat().st_size


def test_monster_line_arriving_in_pieces_is_never_buffered_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    limit = 10 * 1024 * 1024
    tailer = EventTailer(path, max_line_bytes=limit)
    append(path, b'{"type":"item.completed","item":{"type":"agent_message","text":"')
    for _ in range(11):  # 11 MiB without a newline, read as it grows
        append(path, b"y" * (1024 * 1024))
        assert tailer.read_new() == []
        assert tailer.pending_bytes <= limit
    assert tailer.parse_errors == 1
    append(path, b'"}}\n' + line({"type": "turn.started"}))
    events = tailer.read_new()
    assert [e.type for e in events] == ["turn.started"]
    assert tailer.parse_errors == 1


def test_line_longer_than_a_small_limit_inside_one_chunk(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    long_event = line({"type": "item.completed", "item": {"type": "agent_message", "text": "z" * 500}})
    append(path, line({"type": "turn.started"}) + long_event + line({"type": "turn.started"}))
    tailer = EventTailer(path, max_line_bytes=200)
    assert [e.type for e in tailer.read_new()] == ["turn.started", "turn.started"]
    assert tailer.parse_errors == 1 and tailer.lines == 3


def test_lines_spanning_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    repeats = 3 * CHUNK_BYTES // len(STREAM) + 1
    path.write_bytes(STREAM * repeats)
    tailer = EventTailer(path)
    assert tailer.read_new() == EXPECTED * repeats
    assert tailer.parse_errors == 0


def test_noise_invalid_utf8_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    append(
        path,
        b"Reading additional input from stdin...\n"
        + line({"type": "turn.started"})
        + b"\n   \n\r\n"
        + b'{"type":"error","message":"caf\xe9"}\n'
        + b"[1,2,3]\n"
        + b'{"type":"turn.started"\n'
        + line({"type": "mystery"}),
    )
    tailer = EventTailer(path)
    events = tailer.read_new()
    assert [e.type for e in events] == ["turn.started", "mystery"]
    assert isinstance(events[1], UnknownEvent)
    assert tailer.parse_errors == 4
    assert tailer.lines == 6  # blank lines are not counted
    assert tailer.events == 2
    reasons = tailer.errors
    assert reasons[0].startswith("invalid JSON") and reasons[1].startswith("invalid UTF-8")
    assert reasons[2] == "JSON array, not an object"


def test_error_reasons_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    append(path, b"".join(b"noise %d\n" % i for i in range(100)))
    tailer = EventTailer(path)
    assert tailer.read_new() == []
    assert tailer.parse_errors == 100
    assert len(tailer.errors) == MAX_ERRORS_KEPT


def test_truncated_file_restarts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(STREAM)
    tailer = EventTailer(path)
    assert len(tailer.read_new()) == len(EXPECTED)
    with open(path, "r+b") as fh:
        fh.truncate(0)
    append(path, line({"type": "turn.started"}))
    assert [e.type for e in tailer.read_new()] == ["turn.started"]
    assert tailer.truncations == 1
    assert "truncated" in tailer.errors[-1]
    assert tailer.parse_errors == 0


def test_replaced_file_restarts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line({"type": "turn.started"}))
    tailer = EventTailer(path)
    assert len(tailer.read_new()) == 1
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(STREAM)  # larger than before: only the file identity tells
    os.replace(replacement, path)
    assert tailer.read_new() == EXPECTED
    assert tailer.truncations == 1


def test_bulk_read_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "events.jsonl"
    path.write_bytes(STREAM * (5 * CHUNK_BYTES // len(STREAM)))
    assert gc.isenabled()
    assert EventTailer(path).read_new()
    assert gc.isenabled()
    gc.disable()
    try:
        EventTailer(path).read_new()
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_follow_yields_appended_events_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tailer = EventTailer(path)
    done = False
    received: list[CodexEvent] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for event in tailer.follow(poll_interval=0.005, stop=lambda: done):
            received.append(event)
            got_one.set()

    consumer = asyncio.create_task(consume())
    for obj in EXTRA_LINES:
        got_one.clear()
        append(path, line(obj))
        await asyncio.wait_for(got_one.wait(), timeout=10)
    # The writer exits after a last line without its newline: follow still delivers it, then stops.
    append(path, b'{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":1}}')
    done = True
    await asyncio.wait_for(consumer, timeout=10)
    assert [e.type for e in received] == [*(obj["type"] for obj in EXTRA_LINES), "turn.completed"]
    assert isinstance(received[1], ItemCompleted)
    assert isinstance(received[-1], TurnCompleted) and received[-1].usage.input_tokens == 5


async def test_follow_on_a_finished_file_drains_and_returns(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(STREAM)
    events = [event async for event in EventTailer(path).follow(poll_interval=0.005, stop=lambda: True)]
    assert events == EXPECTED


def test_invalid_max_line_bytes() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        EventTailer(Path("x"), max_line_bytes=0)

"""The dead-letter queue: storage, the retry rules of each sweep, bump/remove, the 7-day archive and
corrupt files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.policy.breaker import BreakerState
from cockpit.core.policy.dead_letters import (
    ARCHIVE_AFTER_S,
    CADENCE_S,
    DeadLetter,
    DeadLetterQueue,
    ErrorType,
    Priority,
    default_retry_after,
)

START = 1_700_000_000.0
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


class FakeClock:
    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Reports:
    def __init__(self) -> None:
        self.calls: list[tuple[Path, str]] = []

    def __call__(self, path: Path, reason: str) -> None:
        self.calls.append((path, reason))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def dlq(tmp_path: Path, clock: FakeClock, reports: Reports) -> DeadLetterQueue:
    return DeadLetterQueue(tmp_path / "dead-letters", clock, on_corrupt=reports)


def letter(task_id: str = "add-hello-3fa2", **overrides: Any) -> DeadLetter:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "original_task": {"title": "add hello", "lane": "local"},
        "error": "429 Too Many Requests",
        "error_type": ErrorType.TRANSIENT,
        "attempts": 3,
        "first_attempt": START - 100,
        "last_attempt": START - 10,
        "context_summary": "rate limited three times",
        "retry_after": START,
        "priority": Priority.MEDIUM,
        "related_circuit_breaker": "openai",
    }
    fields.update(overrides)
    return DeadLetter(**fields)


CLOSED = {"openai": BreakerState.CLOSED}


def ids(letters: list[DeadLetter]) -> list[str]:
    return [a.task_id for a in letters]


# ---- storage -----------------------------------------------------------------------------------------


def test_add_writes_one_file_per_task_and_stamps_created_at(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    stored = dlq.add(letter())
    assert stored.created_at == clock.t
    path = dlq.directory / "add-hello-3fa2.json"
    data = json.loads(path.read_text())
    for key in (
        "task_id",
        "original_task",
        "error",
        "error_type",
        "attempts",
        "first_attempt",
        "last_attempt",
        "context_summary",
        "retry_after",
        "priority",
        "related_circuit_breaker",
    ):
        assert key in data
    assert data["error_type"] == "transient" and data["priority"] == "medium"
    assert dlq.get("add-hello-3fa2") == stored
    assert ids(dlq.list()) == ["add-hello-3fa2"]
    assert dlq.get("other-task") is None


def test_list_is_oldest_first(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter("bbb-1"))
    clock.advance(1)
    dlq.add(letter("aaa-2"))
    assert ids(dlq.list()) == ["bbb-1", "aaa-2"]


def test_task_ids_cannot_escape_the_directory(dlq: DeadLetterQueue) -> None:
    with pytest.raises(ValueError):
        dlq.path_for("../etc/passwd")
    with pytest.raises(ValueError):
        letter("../escape")


def test_remove_deletes_the_letter(dlq: DeadLetterQueue) -> None:
    dlq.add(letter())
    assert dlq.remove("add-hello-3fa2") is True
    assert not (dlq.directory / "add-hello-3fa2.json").exists()
    assert dlq.remove("add-hello-3fa2") is False
    assert dlq.list() == []


def test_bump_counts_the_failed_retry_and_reschedules_by_cadence(
    dlq: DeadLetterQueue, clock: FakeClock
) -> None:
    dlq.add(letter(priority=Priority.HIGH))
    clock.advance(HOUR)
    bumped = dlq.bump("add-hello-3fa2", error="503 Service Unavailable")
    assert bumped.attempts == 4
    assert bumped.last_attempt == clock.t
    assert bumped.error == "503 Service Unavailable"
    assert bumped.retry_after == clock.t + 15 * MIN
    assert dlq.get("add-hello-3fa2") == bumped
    again = dlq.bump("add-hello-3fa2", error_type="auth")
    assert again.attempts == 5 and again.error == "503 Service Unavailable"
    assert again.error_type is ErrorType.AUTH and again.retry_after is None
    with pytest.raises(KeyError):
        dlq.bump("no-such-task")


def test_mark_swept_records_the_sweep(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter())
    swept = dlq.mark_swept("add-hello-3fa2")
    assert swept.last_swept_at == clock.t and swept.sweep_attempts == 1
    assert dlq.mark_swept("add-hello-3fa2").sweep_attempts == 2


def test_default_retry_after() -> None:
    assert default_retry_after(ErrorType.TRANSIENT, Priority.HIGH, 100.0) == 100.0 + 15 * MIN
    assert default_retry_after("transient", "medium", 100.0) == 100.0 + HOUR
    assert default_retry_after(ErrorType.TRANSIENT, Priority.LOW, 100.0) == 100.0 + DAY
    for kind in ("auth", "logic", "state", "catastrophic"):
        assert default_retry_after(kind, Priority.HIGH, 100.0) is None
    assert CADENCE_S == {Priority.HIGH: 15 * MIN, Priority.MEDIUM: HOUR, Priority.LOW: DAY}


# ---- due() -------------------------------------------------------------------------------------------


def test_only_transient_letters_are_due(dlq: DeadLetterQueue) -> None:
    dlq.add(letter("transient-1"))
    for kind in ("auth", "logic", "state", "catastrophic"):
        dlq.add(letter(f"{kind}-1", error_type=kind))
    assert ids(dlq.due(CLOSED)) == ["transient-1"]
    reason = dlq.hold_reason(dlq.get("auth-1") or letter(), CLOSED)
    assert reason is not None and "human" in reason


def test_retry_after_must_have_passed(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter("later-1", retry_after=clock.t + 10))
    dlq.add(letter("never-1", retry_after=None))
    assert dlq.due(CLOSED) == []
    clock.advance(9.999)
    assert dlq.due(CLOSED) == []
    clock.advance(0.001)
    assert ids(dlq.due(CLOSED)) == ["later-1"]


@pytest.mark.parametrize(
    ("states", "due"),
    [
        ({"openai": BreakerState.CLOSED}, True),
        ({"openai": BreakerState.OPEN}, False),
        ({"openai": BreakerState.HALF_OPEN}, False),
        ({}, True),  # no breaker file: it never tripped
        ({"anthropic": BreakerState.OPEN}, True),
    ],
)
def test_the_related_breaker_must_be_closed(
    dlq: DeadLetterQueue, states: dict[str, BreakerState], due: bool
) -> None:
    dlq.add(letter())
    assert bool(dlq.due(states)) is due


def test_a_letter_without_a_breaker_counts_as_closed(dlq: DeadLetterQueue) -> None:
    dlq.add(letter(related_circuit_breaker=None))
    assert ids(dlq.due({"openai": BreakerState.OPEN})) == ["add-hello-3fa2"]


@pytest.mark.parametrize(
    ("priority", "cadence"),
    [(Priority.HIGH, 15 * MIN), (Priority.MEDIUM, HOUR), (Priority.LOW, DAY)],
)
def test_priority_cadence_spaces_the_sweeps(
    dlq: DeadLetterQueue, clock: FakeClock, priority: Priority, cadence: float
) -> None:
    dlq.add(letter(priority=priority))
    assert len(dlq.due(CLOSED)) == 1  # never swept: due as soon as retry_after passes
    dlq.mark_swept("add-hello-3fa2")
    assert dlq.due(CLOSED) == []
    clock.advance(cadence - 1)
    assert dlq.due(CLOSED) == []
    clock.advance(1)
    assert len(dlq.due(CLOSED)) == 1


def test_due_lists_high_priority_first(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter("low-1", priority="low"))
    dlq.add(letter("medium-1", priority="medium"))
    dlq.add(letter("high-2", priority="high", retry_after=START - 5))
    dlq.add(letter("high-1", priority="high", retry_after=START - 50))
    assert ids(dlq.due(CLOSED)) == ["high-1", "high-2", "medium-1", "low-1"]


def test_a_sweep_cycle_retry_fails_then_succeeds(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter(priority="high"))
    (due,) = dlq.due(CLOSED)
    dlq.mark_swept(due.task_id)
    dlq.bump(due.task_id)  # the retry failed
    clock.advance(14 * MIN)
    assert dlq.due(CLOSED) == []
    clock.advance(1 * MIN)
    (due,) = dlq.due(CLOSED)
    assert due.attempts == 4 and due.sweep_attempts == 1
    dlq.mark_swept(due.task_id)
    assert dlq.remove(due.task_id)  # the retry succeeded
    assert dlq.due(CLOSED) == []


# ---- on_breaker_closed() -----------------------------------------------------------------------------


def test_breaker_closing_sweeps_its_transient_letters_regardless_of_cadence(
    dlq: DeadLetterQueue, clock: FakeClock
) -> None:
    dlq.add(letter("openai-1", priority="low"))
    dlq.add(letter("openai-2", priority="high"))
    dlq.add(letter("openai-auth", error_type="auth"))
    dlq.add(letter("openai-later", retry_after=clock.t + HOUR))
    dlq.add(letter("anthropic-1", related_circuit_breaker="anthropic"))
    dlq.add(letter("nobody-1", related_circuit_breaker=None))
    dlq.mark_swept("openai-1")  # a low-priority letter swept a minute ago
    clock.advance(MIN)
    assert "openai-1" not in ids(dlq.due(CLOSED))
    assert ids(dlq.on_breaker_closed("openai")) == ["openai-2", "openai-1"]
    assert ids(dlq.on_breaker_closed("anthropic")) == ["anthropic-1"]
    assert dlq.on_breaker_closed("mistral") == []


# ---- archive -----------------------------------------------------------------------------------------


def test_letters_move_to_the_archive_after_seven_days(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter("old-1"))
    clock.advance(DAY)
    dlq.add(letter("young-1"))
    clock.advance(ARCHIVE_AFTER_S - DAY - 1)
    assert dlq.archive_old() == []
    clock.advance(1)
    assert dlq.archive_old() == ["old-1"]
    assert not (dlq.directory / "old-1.json").exists()
    assert (dlq.directory / "archive" / "old-1.json").exists()
    assert ids(dlq.list()) == ["young-1"]
    assert ids(dlq.list(include_archived=True)) == ["young-1", "old-1"]
    assert dlq.get("old-1") is None
    archived = dlq.get("old-1", include_archived=True)
    assert archived is not None and archived.task_id == "old-1"
    assert ids(dlq.due(CLOSED)) == ["young-1"]  # archived letters are not retried
    assert ARCHIVE_AFTER_S == 7 * DAY


def test_archiving_the_same_task_twice_keeps_both(dlq: DeadLetterQueue, clock: FakeClock) -> None:
    dlq.add(letter("again-1"))
    clock.advance(ARCHIVE_AFTER_S)
    assert dlq.archive_old() == ["again-1"]
    dlq.add(letter("again-1", error="second time"))
    clock.advance(ARCHIVE_AFTER_S)
    assert dlq.archive_old() == ["again-1"]
    names = sorted(p.name for p in (dlq.directory / "archive").iterdir())
    assert names == ["again-1--1.json", "again-1.json"]
    latest = dlq.get("again-1", include_archived=True)
    assert latest is not None and latest.error == "second time"


# ---- corrupt files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b'{"task_id": "broken-1"}',
        b"[1, 2]",
        json.dumps(letter("someone-else").model_dump(mode="json")).encode(),
    ],
)
def test_corrupt_letters_are_reported_and_skipped(
    dlq: DeadLetterQueue, reports: Reports, content: bytes
) -> None:
    dlq.add(letter("fine-1"))
    dlq.directory.joinpath("broken-1.json").write_bytes(content)
    assert ids(dlq.list()) == ["fine-1"]
    assert ids(dlq.due(CLOSED)) == ["fine-1"]
    assert {p.name for p, _ in reports.calls} == {"broken-1.json"}
    assert all(reason for _, reason in reports.calls)
    reports.calls.clear()
    assert dlq.get("broken-1") is None
    assert [p.name for p, _ in reports.calls] == ["broken-1.json"]


def test_corrupt_letters_go_to_the_blackboard_quarantine(tmp_path: Path, clock: FakeClock) -> None:
    board = Blackboard(tmp_path)
    board.init()
    dlq = DeadLetterQueue(board.root / "dead-letters", clock, on_corrupt=board.quarantine)
    dlq.add(letter("fine-1"))
    (board.root / "dead-letters" / "broken-1.json").write_text("{oops")
    (board.root / "dead-letters" / "archive" / "old-1.json").write_text("[]")
    assert ids(dlq.list(include_archived=True)) == ["fine-1"]
    names = sorted(p.name.split("-", 1)[1] for p in board.quarantined())
    assert names == ["dead-letters__archive__old-1.json", "dead-letters__broken-1.json"]
    assert ids(dlq.list(include_archived=True)) == ["fine-1"]


def test_without_a_callback_corrupt_letters_are_set_aside(tmp_path: Path, clock: FakeClock) -> None:
    dlq = DeadLetterQueue(tmp_path, clock)
    (tmp_path / "broken-1.json").write_text("{oops")
    assert dlq.list() == []
    assert not (tmp_path / "broken-1.json").exists()
    assert any(p.name.startswith("broken-1.json.corrupt-") for p in tmp_path.iterdir())

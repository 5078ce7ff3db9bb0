"""Test helpers for archiving: finished (or not) tasks written through the blackboard's own APIs, with
an attempt's files, a ledger row, and a last change backdated by a given age."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cockpit.core.atomic import atomic_write_json, atomic_write_text
from cockpit.core.board.blackboard import Blackboard, stamp_of
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.codex.exec_events import Usage
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus, utc_now
from cockpit.core.records.task import TaskState

EVENTS = (
    '{"type":"thread.started","thread_id":"th-1"}\n'
    '{"type":"turn.started"}\n'
    '{"type":"item.completed","item":{"id":"i0","type":"agent_message","text":"COMPLETED: done"}}\n'
    '{"type":"turn.completed","usage":{"input_tokens":120,"cached_input_tokens":20,"output_tokens":30}}\n'
)


def put_task(
    board: Blackboard,
    task_id: str,
    status: TaskStatus,
    *,
    age_days: float = 0.0,
    lane: str = "local",
    ledger: bool = True,
) -> TaskState:
    """A task with one attempt (events, last message, exit status), its envelope and, with ``ledger``,
    its ledger row; its ``updated_at`` lies ``age_days`` in the past."""
    envelope = envelope_from_mapping({"goal": f"Do {task_id}", "lane": lane})
    board.write_envelope(task_id, envelope)
    attempt = Attempt(
        n=1,
        deadline_s=600,
        signals=Signals(exit_code=0, turn_completed=True, last_message=True),
        usage_delta=Usage(input_tokens=120, cached_input_tokens=20, output_tokens=30),
    )
    state = TaskState(
        id=task_id,
        lane=lane,
        title=f"Task {task_id}",
        status=status,
        attempts=[attempt],
        usage=Usage(input_tokens=120, cached_input_tokens=20, output_tokens=30),
        thread_id="th-1",
        message=f"{status.value} for the test",
    )
    directory = board.attempt_dir(task_id, 1)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "events.jsonl", EVENTS)
    atomic_write_text(directory / "last-message.md", "COMPLETED: done\n")
    atomic_write_json(directory / "exit.json", {"code": 0, "started": 1.0, "ended": 2.0})
    board.write_state(state)
    if age_days:
        backdate(board, task_id, age_days)
    if ledger:
        board.append_ledger(
            {
                "task_id": task_id,
                "attempt": 1,
                "lane": lane,
                "effort": "default",
                "input_tokens": 120,
                "cached_input_tokens": 20,
                "output_tokens": 30,
                "reasoning_output_tokens": 0,
                "usage_reported": True,
                "ok": True,
            }
        )
    read = board.read_state(task_id)
    assert read is not None
    return read


def backdate(board: Blackboard, task_id: str, age_days: float) -> None:
    """Make the task's last change ``age_days`` old (``write_state`` always stamps now)."""
    state = board.read_state(task_id)
    assert state is not None
    state.updated_at = utc_now() - timedelta(days=age_days)
    written = atomic_write_json(board.task_dir(task_id) / "state.json", state.model_dump(mode="json"))
    board.task_index.record(TaskSummary.of(state), stamp=stamp_of(written))  # as write_state does


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }

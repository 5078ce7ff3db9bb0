"""``RUNNING step n/m`` lines follow the worker's plan (Codex ``todo_list`` items) as the supervisor
reads an attempt's events file."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import Running
from cockpit.core.supervisor.loop import Supervisor


def todo(item_type: str, done: int) -> str:
    steps = ["read calc.py", "add subtract", "test it"]
    items = [{"text": s, "completed": i < done} for i, s in enumerate(steps)]
    return json.dumps({"type": item_type, "item": {"id": "item_1", "type": "todo_list", "items": items}})


def test_step_lines_follow_the_plan(repo: Path) -> None:
    board = Blackboard(repo)
    supervisor = Supervisor(board, env={})
    state = TaskState(id="plan-task-0001", lane="local", title="plan")
    attempt = Attempt(n=1, deadline_s=60)
    directory = board.attempt_dir(state.id, 1)
    directory.mkdir(parents=True)
    events = directory / "events.jsonl"
    events.write_text('{"type":"thread.started","thread_id":"t-1"}\n' + todo("item.started", 0) + "\n")
    run = Running(state, attempt, directory, EventTailer(events))
    supervisor.poll(run)
    with events.open("a") as fh:
        fh.write(todo("item.updated", 1) + "\n" + todo("item.updated", 1) + "\n")
    supervisor.poll(run)
    lines = [e["line"] for e in board.read_jsonl("events.jsonl") if e["kind"] == "RUNNING"]
    assert lines == [
        "RUNNING plan-task-0001: running (step 1/3: read calc.py)",
        "RUNNING plan-task-0001: running (step 2/3: add subtract)",
    ]

"""The blackboard: layout, git exclusion, the one-supervisor lock, inbox drops and quarantine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.blackboard import Blackboard, BlackboardError, LockHeld
from cockpit.core.commands import submit
from cockpit.core.envelope import envelope_from_mapping
from cockpit.core.state import TaskState


def test_init_is_idempotent_and_outside_the_working_tree(repo: Path) -> None:
    board = Blackboard(repo)
    assert board.init() is False  # the fixture initialised it already
    assert board.root == repo / ".git" / "cockpit"
    (board.root / "scratch.txt").write_text("x")
    assert not Repo(repo).is_dirty(untracked_files=True)
    assert not (repo / ".cockpit").exists()


def test_only_one_supervisor_holds_the_lock(repo: Path) -> None:
    board = Blackboard(repo)
    with board.lock():
        assert board.supervisor_pid() is not None
        # A second process cannot take it.
        code = (
            "import sys; from pathlib import Path\n"
            "from cockpit.core.blackboard import Blackboard, LockHeld\n"
            f"b = Blackboard(Path({str(repo)!r}))\n"
            "try:\n    b.lock().acquire()\nexcept LockHeld as e:\n    print('held', e.pid); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("held")
        with pytest.raises(LockHeld):
            board.lock().acquire()
    assert board.supervisor_pid() is None


def test_corrupt_state_is_quarantined_and_the_rest_still_loads(repo: Path) -> None:
    board = Blackboard(repo)
    good = TaskState(id="good-task-0001", lane="local", title="good")
    bad = TaskState(id="bad-task-0002", lane="local", title="bad")
    board.write_state(good)
    board.write_state(bad)
    state_path = board.task_dir(bad.id) / "state.json"
    state_path.write_text('{"id": "bad-task-0002", "lane": ')  # torn JSON
    states = board.states()
    assert [s.id for s in states] == [good.id]
    assert not state_path.exists()
    moved = board.quarantined()
    assert len(moved) == 1 and moved[0].read_text() == '{"id": "bad-task-0002", "lane": '
    reason = moved[0].with_name(moved[0].name + ".reason.txt").read_text()
    assert "not valid JSON" in reason and str(state_path) in reason
    # a state that is JSON but not a valid state is quarantined too
    board.write_state(bad)
    state_path.write_text(json.dumps({"id": bad.id, "lane": "local", "title": "x", "status": "exploded"}))
    assert [s.id for s in board.states()] == [good.id]
    assert (
        "status"
        in board.quarantined()[-1].with_name(board.quarantined()[-1].name + ".reason.txt").read_text()
    )


def test_inbox_drop_is_atomic_and_corrupt_drops_are_quarantined(repo: Path) -> None:
    board = Blackboard(repo)
    task_id = submit(board, envelope_from_mapping({"goal": "Write a file", "lane": "local"}))
    (board.root / "inbox" / "0000-broken.submit.json").write_text("{nope")
    items = board.inbox()
    assert [i.data["task_id"] for i in items] == [task_id]
    assert len(board.quarantined()) == 1
    assert not list((board.root / "inbox").glob(".*.tmp"))


def test_resolve_task_by_unique_prefix(repo: Path) -> None:
    board = Blackboard(repo)
    for tid in ("alpha-1111", "alpha-2222", "beta-3333"):
        board.write_state(TaskState(id=tid, lane="local", title=tid))
    assert board.resolve_task("beta") == "beta-3333"
    with pytest.raises(BlackboardError, match="ambiguous"):
        board.resolve_task("alpha")
    with pytest.raises(BlackboardError, match="no task"):
        board.resolve_task("gamma")

"""The blackboard: layout, git exclusion, the one-supervisor lock, inbox drops and quarantine, the one
shape of a task id and how a reference resolves to one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import (
    Blackboard,
    BlackboardError,
    InvalidId,
    LockHeld,
    UnknownTask,
    check_task_id,
    is_request_id,
    is_task_id,
    match_task_ref,
)
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.task import TaskState


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
            "from cockpit.core.board.blackboard import Blackboard, LockHeld\n"
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


@pytest.mark.parametrize("good", ["abc", "add-hello-3fa2", "0-a", "a" * 64, "task-"])
def test_well_formed_task_ids(good: str) -> None:
    assert is_task_id(good) and check_task_id(good) == good


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "empty"),
        ("ab", "3 to 64"),
        ("a" * 65, "3 to 64"),
        ("../../../etc/x", "no path separators"),
        ("tasks/../x", "no path separators"),
        ("..", "no path separators"),
        (".hidden", "no path separators"),
        ("a\\b-c", "no path separators"),
        ("Upper-case", "lowercase"),
        ("-leading", "starting with a letter or digit"),
        ("abc\n", "lowercase"),
        ("ab c", "lowercase"),
        ("tâche-1", "lowercase"),
    ],
)
def test_malformed_task_ids_are_refused_naming_the_problem(bad: str, problem: str) -> None:
    assert not is_task_id(bad)
    with pytest.raises(InvalidId) as caught:
        check_task_id(bad)
    assert str(caught.value).startswith(f"invalid task id {bad!r}: ") and problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_non_strings_are_not_task_ids() -> None:
    for value in (None, 7, ["abc"], {"id": "abc"}):
        assert not is_task_id(value)
        with pytest.raises(InvalidId, match="not a string"):
            check_task_id(value)


def test_task_dir_refuses_what_is_not_a_task_id(repo: Path) -> None:
    board = Blackboard(repo)
    assert board.task_dir("good-task-0001") == board.root / "tasks" / "good-task-0001"
    for bad in ("", "../../outside", "..", "a/b", "x" * 80):
        with pytest.raises(InvalidId):
            board.task_dir(bad)
        with pytest.raises(InvalidId):
            board.worktree_path(bad)
    with pytest.raises(InvalidId):
        board.write_state(TaskState(id="../escape-0001", lane="local", title="x"))
    assert not (board.root / "escape-0001").exists() and not (board.root.parent / "escape-0001").exists()


def test_resolver_needs_four_characters_for_a_prefix_and_exactly_one_match() -> None:
    ids = ["abc", "alpha-1111", "alpha-2222", "beta-3333"]
    assert match_task_ref("abc", ids) == "abc"  # a whole id may be short
    assert match_task_ref("beta", ids) == "beta-3333"
    assert match_task_ref("alpha-1", ids) == "alpha-1111"
    assert match_task_ref("gamma", ids) is None
    with pytest.raises(UnknownTask, match="ambiguous"):
        match_task_ref("alph", ids)
    for short in ("b", "be", "bet"):
        with pytest.raises(InvalidId, match="at least 4 characters"):
            match_task_ref(short, ids)
    with pytest.raises(InvalidId, match="empty"):
        match_task_ref("", ids)
    with pytest.raises(InvalidId):
        match_task_ref("../alpha-1111", ids)


def test_resolve_task_never_matches_everything(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(TaskState(id="only-task-0001", lane="local", title="only"))
    for ref in ("", "o", "on", "onl", "../only-task-0001", "only-task-0001/"):
        with pytest.raises(InvalidId, match=f"^invalid task id {re.escape(repr(ref))}: "):
            board.resolve_task(ref)
    assert board.resolve_task("only") == "only-task-0001"


def test_request_ids_are_checked_before_a_reply_file_is_named(repo: Path) -> None:
    board = Blackboard(repo)
    assert is_request_id("1700000000000000000-4242")
    for bad in ("", "../../x", "a/b", "x" * 65, None):
        assert not is_request_id(bad)
    with pytest.raises(InvalidId):
        board.reply("../../escaped", {"ok": True})
    with pytest.raises(InvalidId):
        board.take_reply("../x")
    assert not (board.root.parent / "escaped.json").exists()


def test_a_claimed_request_cannot_be_withdrawn_and_a_withdrawn_one_cannot_be_claimed(repo: Path) -> None:
    board = Blackboard(repo)
    first = board.drop("cancel", {"task_id": "some-task-0001"})
    second = board.drop("cancel", {"task_id": "some-task-0002"})
    one, two = board.inbox()
    claimed = board.claim(one)
    assert claimed is not None and claimed.path in board.claimed() and not first.exists()
    assert board.withdraw(first) is False  # the supervisor has it
    assert board.withdraw(second) is True
    assert board.claim(two) is None  # its sender took it back first
    assert board.inbox() == []

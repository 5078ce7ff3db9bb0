"""Inbox requests run once or not at all: every drop is consumed (run, refused, expired or set aside)
and answered where it can be; a request the supervisor does not take in time is withdrawn by its
sender; malformed ids never reach a path."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import pytest
from git import Repo

from cockpit.cli import main as cli
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import CommandError, run_task_command
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from tests.helpers.inbox import expires_in, raw_drop
from tests.helpers.supervisor import SupervisorThread


def task_in_review(repo: Path, board: Blackboard, task_id: str = "review-task-0001") -> TaskState:
    """A worktree task whose branch really could be merged (one new file on top of main)."""
    git = Repo(repo)
    branch = f"cockpit/{task_id}"
    git.git.checkout("-b", branch)
    (repo / "feature.txt").write_text("feature\n")
    git.git.add("feature.txt")
    git.git.commit("-m", "add feature.txt")
    git.git.checkout("main")
    state = TaskState(
        id=task_id,
        lane="worktree",
        title="review me",
        status=TaskStatus.REVIEW,
        branch=branch,
        base_branch="main",
        base_commit=git.heads["main"].commit.hexsha,
    )
    board.write_state(state)
    return state


def queued_task(board: Blackboard, task_id: str = "queued-task-0001") -> TaskState:
    state = TaskState(id=task_id, lane="local", title="waits", status=TaskStatus.QUEUED)
    board.write_state(state)
    return state


def inbox_files(board: Blackboard) -> list[Path]:
    return sorted(p for p in (board.root / "inbox").rglob("*") if p.is_file())


def status_of(board: Blackboard, task_id: str) -> TaskStatus:
    state = board.read_state(task_id)
    assert state is not None
    return state.status


def test_cli_merge_not_taken_in_time_says_so_leaves_nothing_and_never_merges_later(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    board = Blackboard(repo)
    state = task_in_review(repo, board)
    head = Repo(repo).heads["main"].commit.hexsha
    monkeypatch.setattr(cli, "run_task_command", functools.partial(run_task_command, timeout=0.5))
    with board.lock():  # a supervisor that holds the blackboard and never answers
        code = cli.main(["--repo", str(repo), "merge", state.id])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("cockpit: not applied:") and len(err.splitlines()) == 1
    assert inbox_files(board) == []
    supervisor = Supervisor(board, env={})  # the next supervisor finds nothing to run
    supervisor.recover()
    supervisor.accept_inbox()
    assert status_of(board, state.id) == TaskStatus.REVIEW
    assert Repo(repo).heads["main"].commit.hexsha == head
    assert not (repo / "feature.txt").exists()


def test_a_lock_holder_that_lets_go_without_taking_the_request_leaves_it_to_the_sender(
    repo: Path,
) -> None:
    """The old reproduction: the lock is held by a command running directly, not by a supervisor; the
    waiting command withdraws its request when the lock is let go and runs itself, once."""
    board = Blackboard(repo)
    state = queued_task(board)
    lock = board.lock()
    lock.acquire()
    threading.Timer(0.3, lock.release).start()
    assert run_task_command(board, "cancel", state.id, timeout=10) == "cancelled"
    assert status_of(board, state.id) == TaskStatus.CANCELLED
    assert inbox_files(board) == []


def test_a_refused_request_is_consumed_and_answered(repo: Path) -> None:
    board = Blackboard(repo)
    state = task_in_review(repo, board)
    state.status = TaskStatus.FAILED
    board.write_state(state)
    sup = SupervisorThread(board, {}).start()
    try:
        assert sup.wait_for(lambda: board.supervisor_pid() is not None, timeout=30)
        with pytest.raises(CommandError, match="only a task in review can be merged"):
            run_task_command(board, "merge", state.id, timeout=30)
        assert run_task_command(board, "reject", state.id[:8], timeout=30).startswith("rejected")
    finally:
        sup.stop()
    assert inbox_files(board) == []  # requests, claims and replies all gone
    refused = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "request_refused"]
    assert [(e["request"], e["task_id"]) for e in refused] == [("merge", state.id)]
    assert status_of(board, state.id) == TaskStatus.REJECTED


def test_an_expired_request_is_discarded_with_a_log_line_not_run(repo: Path) -> None:
    board = Blackboard(repo)
    state = queued_task(board)
    raw_drop(
        board,
        "cancel",
        {"task_id": state.id, "request_id": "1-2", "expires_at": expires_in(-1)},
    )
    Supervisor(board, env={}).accept_inbox()
    assert status_of(board, state.id) == TaskStatus.QUEUED
    expired = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "request_expired"]
    assert len(expired) == 1 and expired[0]["task_id"] == state.id and "discarded" in expired[0]["line"]
    assert board.take_reply("1-2") == {
        "ok": False,
        "status": "expired",
        "error": "not applied: the request expired unanswered",
    }
    assert inbox_files(board) == []


def test_a_command_request_without_an_expiry_is_refused_and_set_aside(repo: Path) -> None:
    board = Blackboard(repo)
    state = queued_task(board)
    raw_drop(board, "cancel", {"task_id": state.id, "request_id": "3-4"})
    Supervisor(board, env={}).accept_inbox()
    assert status_of(board, state.id) == TaskStatus.QUEUED
    reply = board.take_reply("3-4")
    assert reply is not None and reply["status"] == "refused" and "expires_at" in reply["error"]
    assert inbox_files(board) == [] and len(board.quarantined()) == 1


def test_submissions_do_not_expire(repo: Path) -> None:
    board = Blackboard(repo)
    drop = {
        "task_id": "old-submission-0001",
        "envelope": envelope_from_mapping({"goal": "x", "lane": "local"}).model_dump(mode="json"),
        "expires_at": expires_in(-3600),
    }
    raw_drop(board, "submit", drop)
    Supervisor(board, env={}).accept_inbox()
    assert status_of(board, "old-submission-0001") == TaskStatus.QUEUED


def test_drops_with_malformed_ids_are_set_aside_and_never_written_anywhere(
    repo: Path, tmp_path: Path
) -> None:
    board = Blackboard(repo)
    state = queued_task(board)
    envelope = envelope_from_mapping({"goal": "escape", "lane": "local"}).model_dump(mode="json")
    escape = "../../../escaped-task"
    raw_drop(board, "submit", {"task_id": escape, "envelope": envelope})
    raw_drop(board, "submit", {"task_id": "", "envelope": envelope})
    raw_drop(board, "submit", {"task_id": ["a", "b"], "envelope": envelope})
    raw_drop(board, "cancel", {"task_id": escape, "request_id": "5-6", "expires_at": expires_in(60)})
    raw_drop(board, "merge", {"task_id": "", "request_id": "7-8", "expires_at": expires_in(60)})
    bad_reply = {"request_id": "../../../escaped-reply", "expires_at": expires_in(60)}
    raw_drop(board, "cancel", {"task_id": state.id, **bad_reply})
    before = {p for p in tmp_path.rglob("*") if board.root not in p.parents}
    supervisor = Supervisor(board, env={})
    supervisor.accept_inbox()
    after = {p for p in tmp_path.rglob("*") if board.root not in p.parents}
    assert after == before  # nothing outside the board
    assert len(board.quarantined()) == 6
    for request_id in ("5-6", "7-8"):
        reply = board.take_reply(request_id)
        assert reply is not None and reply["status"] == "refused" and "invalid task id" in reply["error"]
    assert inbox_files(board) == []
    assert status_of(board, state.id) == TaskStatus.QUEUED  # a malformed reply address: not run
    assert board.task_ids() == [state.id]
    reasons = [p.with_name(p.name + ".reason.txt").read_text() for p in board.quarantined()]
    assert sum("invalid task id" in r for r in reasons) == 5
    assert sum("invalid request id" in r for r in reasons) == 1


def test_a_request_left_claimed_by_a_dead_supervisor_is_set_aside_not_run(repo: Path) -> None:
    board = Blackboard(repo)
    state = queued_task(board)
    raw_drop(board, "cancel", {"task_id": state.id, "request_id": "9-9", "expires_at": expires_in(60)})
    (item,) = board.inbox()
    assert board.claim(item) is not None  # taken, then the supervisor died
    supervisor = Supervisor(board, env={})
    supervisor.recover()
    supervisor.accept_inbox()
    assert status_of(board, state.id) == TaskStatus.QUEUED
    assert board.claimed() == [] and len(board.quarantined()) == 1


def test_a_task_naming_a_malformed_decision_id_fails_instead_of_stopping_the_supervisor(
    repo: Path,
) -> None:
    board = Blackboard(repo)
    state = TaskState(
        id="gated-task-0001",
        lane="local",
        title="gated",
        status=TaskStatus.AWAITING_DECISION,
        decision_id="../../decision-001",
    )
    board.write_state(state)
    supervisor = Supervisor(board, env={})
    supervisor.recover()
    supervisor.housekeeping(time.time())
    assert status_of(board, state.id) == TaskStatus.FAILED

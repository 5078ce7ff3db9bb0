"""``cancel`` of a task in review, run where no supervisor holds the board: the round under way is
recorded as cancelled (not a verdict, not a failed try of the reviewer), and the runner recorded for it
is stopped only when that pid still runs this round's spec — never a process that has the pid since.
The next supervisor finishes what such a cancel left: a runner that did not stop is killed, the
reviewer's checkout removed, and the task's state left as the command wrote it, even when that goes
wrong. End to end, with the real reviewer and judge: ``tests/integration/test_review_cancel.py``."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import run_task_command
from cockpit.core.git.operations import add_detached_worktree
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import ReviewerRun, ReviewRound, ReviewState
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from cockpit.core.supervisor.review import ReviewPhase
from tests.helpers.processes import sleeper
from tests.helpers.supervisor import state_of

TASK = "halt-job-0c1e"


def in_review(board: Blackboard, runner_pid: int, head: str = "0" * 40) -> Path:
    """A worktree task in round 1 of its review of ``head``, whose runner is ``runner_pid``; the round's
    spec path."""
    rnd = ReviewRound(n=1, attempt=1, head_commit=head, tries=1, reviewer=ReviewerRun(runner_pid=runner_pid))
    state = TaskState(id=TASK, lane="worktree", title="halt", status=TaskStatus.REVIEWING)
    state.review = ReviewState(rounds=[rnd])
    board.write_state(state)
    spec = board.attempt_dir(TASK, 1) / "review-1" / "spec.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    return spec


def test_the_round_is_recorded_as_cancelled_and_its_runner_stopped(
    repo: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    board = Blackboard(repo)
    spec = in_review(board, 0)
    runner = sleeper("-m", "cockpit.core.attempts.review_runner", str(spec), own_group=True)
    processes.append(runner)
    in_review(board, runner.pid)
    assert run_task_command(board, "cancel", TASK) == "cancelled during its review"
    assert runner.wait(10) == -15  # SIGTERM: the runner stops Claude Code and writes its exit
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.CANCELLED
    assert state.review is not None and state.review.status == "cancelled"
    (rnd,) = state.review.rounds
    assert rnd.failed and rnd.failure == "the task was cancelled during the review"
    assert rnd.decision == "round 1: cancelled during the review" and rnd.ended_at is not None
    assert rnd.reviewer_failures == [] and rnd.retry_at is None and rnd.verdict == "none"
    assert state.decision_id is None
    (event,) = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "CANCELLED"]
    assert (
        event["review_round"] == 1
        and event["line"] == f"CANCELLED {TASK}: cancelled during its review round 1"
    )


def test_a_pid_now_held_by_another_process_is_left_alone(
    repo: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    board = Blackboard(repo)
    other = sleeper(own_group=True)  # has the pid the board recorded for the runner (a recycled pid)
    processes.append(other)
    in_review(board, other.pid)
    run_task_command(board, "cancel", TASK)
    assert other.poll() is None
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.CANCELLED


def left_by_a_cancel(board: Blackboard, processes: list[subprocess.Popen[bytes]]) -> tuple[Path, int]:
    """A task cancelled in review with no supervisor running, whose runner ignored the SIGTERM and whose
    checkout is still there (and listed by git); the checkout and the runner's pid."""
    head = Repo(board.repo).head.commit.hexsha
    spec = in_review(board, 0, head)
    runner = sleeper("-m", "cockpit.core.attempts.review_runner", str(spec), own_group=True, deaf=True)
    processes.append(runner)
    (spec.parent / "pid.json").write_text(json.dumps({"runner_pid": runner.pid, "codex_pgid": runner.pid}))
    in_review(board, runner.pid, head)
    checkout = board.root / "reviews" / f"{TASK}-r1"
    add_detached_worktree(board.repo, checkout, head)
    (board.root / "config.toml").write_text("kill_grace_s = 0.5\n")
    run_task_command(board, "cancel", TASK)
    assert runner.poll() is None  # it did not stop: the next supervisor has to
    return checkout, runner.pid


def settled(board: Blackboard) -> None:
    """The task is as the cancel left it: cancelled in review, no card."""
    state = state_of(board, TASK)
    assert state.status == TaskStatus.CANCELLED and state.decision_id is None
    assert state.review is not None and state.review.status == "cancelled"


def test_the_next_supervisor_kills_a_runner_left_running_and_removes_its_checkout(
    repo: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    board = Blackboard(repo)
    checkout, _ = left_by_a_cancel(board, processes)
    asyncio.run(Supervisor(board, env={}).run(until_idle=True))
    assert processes[0].wait(10) == -signal.SIGKILL
    assert not checkout.exists() and str(checkout) not in Repo(repo).git.worktree("list")
    settled(board)


def test_a_review_step_that_breaks_after_a_cancel_leaves_the_task_cancelled(
    repo: Path, processes: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Blackboard(repo)
    left_by_a_cancel(board, processes)

    def broken(*_args: object) -> bool:
        raise RuntimeError("the runner could not be looked at")

    monkeypatch.setattr(ReviewPhase, "_reviewer_gone", broken)
    asyncio.run(Supervisor(board, env={}).run(until_idle=True))
    settled(board)  # never a review_failed card on a cancelled task
    errors = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "settle_error"]
    assert [e["task_id"] for e in errors] == [TASK] and "could not be looked at" in errors[0]["error"]

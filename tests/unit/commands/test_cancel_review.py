"""``cancel`` of a task in review, run where no supervisor holds the board: the round under way is
recorded as cancelled (not a verdict, not a failed try of the reviewer), and the runner recorded for it
is stopped only when that pid still runs this round's spec — never a process that has the pid since.
End to end, with the real reviewer and judge: ``tests/integration/test_review_cancel.py``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import run_task_command
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import ReviewerRun, ReviewRound, ReviewState
from cockpit.core.records.task import TaskState
from tests.helpers.processes import sleeper

TASK = "halt-job-0c1e"


def in_review(board: Blackboard, runner_pid: int) -> Path:
    """A worktree task in round 1 of its review, whose runner is ``runner_pid``; the round's spec path."""
    rnd = ReviewRound(
        n=1, attempt=1, head_commit="0" * 40, tries=1, reviewer=ReviewerRun(runner_pid=runner_pid)
    )
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

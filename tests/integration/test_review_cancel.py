"""Cancelling a task in the middle of its cross-family review, end to end: the real Codex against the
scripted Responses model writes the change, the real Claude Code against the scripted Messages API server
reviews it (its answer held back), the judge runs a challenge's evidence under the real ``codex
sandbox``. Whichever of them runs when ``cancel`` arrives — through a live supervisor, or with none after
the supervisor was killed with SIGKILL — its processes are gone, its throw-away checkout is removed (and
unknown to git), the task is ``cancelled`` with its branch and the user's checkout as they were, the round
is recorded as cancelled (not a pass, not a failed try to retry), and no later supervisor reviews again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import run_task_command
from cockpit.core.records.basics import TaskStatus
from cockpit.demo.scripted_claude import ScriptedClaude
from tests.helpers.processes import alive, kill_groups, live_processes, wait_until
from tests.helpers.review_loop import FIXED, ReviewRig, review_on, reviewer, text, verdict
from tests.helpers.supervisor import state_of

pytestmark = [pytest.mark.codex, pytest.mark.claude]

COCKPIT = Path(sys.executable).parent / "cockpit"
STALL = {"kind": "stall"}  # message_start, then nothing: the reviewer waits for the rest of its answer
GONE_S = 30.0  # how long a stopped process or a removed checkout may take to be gone


@pytest.fixture
def stray() -> Iterator[list[int]]:
    """Pids a test saw running; whatever of them is still alive at teardown (after a failure) is killed,
    so that it neither outlives the test nor keeps the interpreter from exiting."""
    pids: list[int] = []
    yield pids
    kill_groups(*pids)


@dataclass(frozen=True)
class Before:
    """What must not change when a review is cancelled: the task's branch and the user's checkout."""

    branch: str
    branch_head: str
    user_head: str
    user_status: str

    @classmethod
    def of(cls, repo: Path, task_id: str) -> Before:
        git = Repo(repo)
        branch = f"cockpit/{task_id}"
        return cls(
            branch, git.heads[branch].commit.hexsha, git.head.commit.hexsha, git.git.status("--porcelain")
        )

    def unchanged(self, repo: Path) -> None:
        assert Before.of(repo, self.branch.removeprefix("cockpit/")) == self


@dataclass(frozen=True)
class Reviewer:
    """The reviewer of round 1, as it runs: its runner, Claude Code, and the checkout it runs in."""

    runner: int
    claude: int
    checkout: Path


def reviewer_under_way(board: Blackboard, task_id: str, server: ScriptedClaude) -> Reviewer:
    """Wait until Claude Code has sent its first request for ``task_id`` (its answer is held back), then
    say which processes and which checkout are the reviewer's."""
    wait_until(lambda: bool(server.message_requests()), 180, f"the reviewer of {task_id} to ask the model")
    pid_file = board.attempt_dir(task_id, 1) / "review-1" / "pid.json"
    pids = wait_until(lambda: pid_file.exists() and json.loads(pid_file.read_text()), 10, "pid.json")
    state = state_of(board, task_id)
    assert state.status == TaskStatus.REVIEWING and state.review is not None
    runner = state.review.rounds[0].reviewer.runner_pid
    assert runner == pids["runner_pid"] and alive(runner) and alive(pids["codex_pid"])
    checkout = board.root / "reviews" / f"{task_id}-r1"
    assert checkout.is_dir()
    return Reviewer(runner, pids["codex_pid"], checkout)


def review_worktrees(repo: Path) -> list[str]:
    """The worktrees git lists under the board's ``reviews/`` (the reviewers' and the judge's)."""
    listed = Repo(repo).git.worktree("list", "--porcelain").splitlines()
    return [line for line in listed if line.startswith("worktree ") and "/reviews/" in line]


def assert_cancelled_in_review(board: Blackboard, task_id: str, before: Before) -> None:
    """The task is cancelled, nothing of its review is left on disk or in git, its branch and the user's
    checkout are as they were, and the round says it was cancelled: neither a pass nor a failed try."""
    reviews = board.root / "reviews"
    wait_until(lambda: not any(reviews.iterdir()), GONE_S, f"{reviews} to be empty")
    assert review_worktrees(board.repo) == []
    state = state_of(board, task_id)
    assert state.status == TaskStatus.CANCELLED, state.message
    assert state.decision_id is None  # no review_failed card: a person asked for this
    assert len(state.attempts) == 1 and state.pending_feedback is None
    review = state.review
    assert review is not None and review.status == "cancelled"
    (rnd,) = review.rounds
    assert rnd.failed and rnd.failure and "cancelled" in rnd.failure and rnd.ended_at is not None
    assert rnd.tries == 1 and rnd.reviewer_failures == [] and rnd.retry_at is None
    assert rnd.decision and "cancelled" in rnd.decision
    before.unchanged(board.repo)
    events = [e for e in board.read_jsonl("events.jsonl") if e.get("task_id") == task_id]
    assert not [e for e in events if e.get("kind") == "review_error"]  # never counted as a reviewer failure


def test_cancel_while_the_reviewer_runs(review_rig: ReviewRig, stray: list[int]):
    rig, board = review_rig, review_rig.board
    tid = rig.task("halt-job", FIXED, reviews=[reviewer("halt-job", STALL)])
    with rig.supervisor():
        running = reviewer_under_way(board, tid, rig.claude)
        stray += [running.runner, running.claude]
        before = Before.of(rig.repo, tid)
        said = run_task_command(board, "cancel", tid)  # through the live supervisor's inbox
        assert "cancelled" in said
        wait_until(
            lambda: not alive(running.runner) and not alive(running.claude), GONE_S, "the reviewer to stop"
        )
        assert_cancelled_in_review(board, tid, before)
    # A supervisor started afterwards reviews nothing again.
    rig.run_idle()
    assert len(rig.prompts()) == 1
    assert_cancelled_in_review(board, tid, before)


def test_cancel_while_the_judge_runs_a_challenges_evidence(review_rig: ReviewRig, stray: list[int]):
    rig, board = review_rig, review_rig.board
    review_on(board, evidence_timeout_s=1800)  # the judge's own limit is far away: only cancel ends it
    blocking = {
        "kind": "failing_test",
        "claim": "subtract hangs",
        "command": "mkfifo held.fifo && cat held.fifo",  # a shell line: blocks until a write that never comes
        "expect": "fails",
    }
    tid = rig.task(
        "judged-job", FIXED, reviews=[reviewer("judged-job", text(verdict("challenge", blocking)))]
    )
    reviews = board.root / "reviews"
    with rig.supervisor():
        started = reviews / "judge-*" / "scratch" / ".judge-started"
        wait_until(lambda: any(reviews.glob(str(started.relative_to(reviews)))), 180, "the evidence to run")
        sandboxed = wait_until(
            lambda: live_processes(environ=str(reviews / "judge-")) or None, 10, "the sandboxed command"
        )
        stray += sandboxed
        (judge_dir,) = reviews.glob("judge-*")
        assert any(str(judge_dir) in line for line in review_worktrees(rig.repo))
        before = Before.of(rig.repo, tid)
        assert "cancelled" in run_task_command(board, "cancel", tid)
        wait_until(
            lambda: not any(alive(pid) for pid in sandboxed), GONE_S, "the sandboxed command to be killed"
        )
        assert live_processes(environ=str(reviews / "judge-")) == []
        assert_cancelled_in_review(board, tid, before)
        (rnd,) = state_of(board, tid).review.rounds  # type: ignore[union-attr]
        assert rnd.verdict == "challenge"  # read before the cancel: it was never judged, nor acted on


def test_kill_9_of_the_supervisor_mid_review_then_cancel_with_no_supervisor(
    review_rig: ReviewRig, claude_env: dict, stray: list[int]
):
    rig, board = review_rig, review_rig.board
    tid = rig.task("orphan-job", FIXED, reviews=[reviewer("orphan-job", STALL)])
    first = subprocess.Popen(
        [str(COCKPIT), "--repo", str(rig.repo), "run"],
        env={**claude_env, **rig.env},  # the reviewer inherits the supervisor's environment
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        running = reviewer_under_way(board, tid, rig.claude)
        stray += [running.runner, running.claude]
        before = Before.of(rig.repo, tid)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert board.supervisor_pid() is None
    assert alive(running.runner) and alive(running.claude)  # detached: the reviewer outlived its supervisor
    said = run_task_command(board, "cancel", tid)  # no supervisor: run here, under the board's lock
    assert "cancelled" in said and state_of(board, tid).status == TaskStatus.CANCELLED
    rig.run_idle()  # a new supervisor finishes what the cancel started
    wait_until(
        lambda: not alive(running.runner) and not alive(running.claude), GONE_S, "the orphaned reviewer"
    )
    assert_cancelled_in_review(board, tid, before)
    assert len(rig.prompts()) == 1  # nothing was resumed
    assert not os.path.exists(running.checkout)

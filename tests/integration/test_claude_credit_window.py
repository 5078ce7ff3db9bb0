"""Claude's credit window through the real supervisor: the pinned Claude Code, logged in as a subscription
would be, reviews against the scripted Messages API server; the ``rate_limit_event`` lines of its stream
reach the board's ``claude-limits.json`` as the review phase reads them, the board view and ``cockpit
usage`` show them, and a ``rejected`` window holds the next reviewer until its reset."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cockpit.cli.main import main as cockpit_main
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.git.operations import main_git
from cockpit.core.layout import CLAUDE_LIMITS_FILE
from cockpit.core.records.attempt import FailureCode
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import ReviewRound, ReviewState
from cockpit.core.usage.claude_limits import ClaudeLimits
from cockpit.core.views.board import BoardView
from cockpit.demo.review import reviewer, text, verdict
from cockpit.demo.scripted_claude import ScriptedClaude, client_env
from tests.helpers.review import make_review_task
from tests.helpers.review_loop import review_on
from tests.helpers.supervisor import SupervisorThread

pytestmark = [pytest.mark.claude, pytest.mark.codex]

FAR = 1_893_456_000  # 2030-01-01 00:00 UTC


def reviewing_task(board: Blackboard, tid: str) -> None:
    """A worktree task whose result waits for review round 1 (what the settler leaves behind)."""
    make_review_task(board, tid, {"sub.py": "def subtract(a, b):\n    return a - b\n"}, title=tid)
    state = board.read_state(tid)
    assert state is not None and state.branch
    head = main_git(board.repo).rev(f"refs/heads/{state.branch}")
    assert head is not None
    state.head_commit = head
    state.status = TaskStatus.REVIEWING
    state.review = ReviewState(rounds=[ReviewRound(n=1, attempt=1, head_commit=head)])
    board.write_state(state)


def test_a_rejected_window_holds_the_next_reviewer_until_its_reset(
    repo: Path, scripted_claude: ScriptedClaude, cockpit_env: dict, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    board = Blackboard(repo)
    review_on(board)
    tid = "held-job-0001"
    reviewing_task(board, tid)
    reset = int(time.time()) + 6  # the retry policy's first delay is about 1 s: the hold is what waits
    rejected = {"status": "rejected", "resets_at": reset, "claim": "five_hour"}
    warning = {
        "status": "allowed_warning",
        "claim": "five_hour",
        "windows": {"5h": {"utilization": 0.93, "resets_at": FAR, "surpassed_threshold": 0.9}},
    }
    limited = {"kind": "http_error", "status": 429, "message": "limit", "rate_limit": rejected}
    scripted_claude.add_scenario(reviewer("held-job", limited, round_n=1, try_n=1))
    approve = {**text(verdict("approve"), input_tokens=800, output_tokens=100), "rate_limit": warning}
    scripted_claude.add_scenario(reviewer("held-job", approve, round_n=1, try_n=2))
    reviewer_env = client_env(scripted_claude.base_url, tmp_path / "claude-home", subscription=True)

    sup = SupervisorThread(board, cockpit_env, until_idle=True, reviewer_env=reviewer_env).start()
    sup.join(120)
    assert sup.error is None

    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state and state.message
    assert state.review is not None and state.review.status == "converged"
    (rnd,) = state.review.rounds
    assert rnd.tries == 2 and [f.code for f in rnd.reviewer_failures] == [FailureCode.HTTP_429]
    round_dir = board.attempt_dir(tid, 1) / "review-1"
    started = json.loads((round_dir / "pid.json").read_text())["started"]
    assert started >= reset - 0.5, (started, reset)  # try 2 waited for the reset, not just the backoff
    # The hold was said on the task and in the event log, once.
    events = board.read_jsonl("events.jsonl")
    held = [e for e in events if e.get("task_id") == tid and "waiting:" in e.get("line", "")]
    assert len(held) == 1 and "Claude Code's 5h limit is reached (rejected)" in held[0]["line"]

    # The board's file holds the latest state: try 2's warning (its stream, read as it ran).
    limits = ClaudeLimits.model_validate_json((board.root / CLAUDE_LIMITS_FILE).read_bytes())
    assert limits.current is not None and limits.current.status == "allowed_warning"
    assert limits.current.used_percent == 93.0 and limits.source == str(round_dir / "stream.jsonl")
    assert [w.kind for w in limits.windows] == ["five_hour"] and limits.malformed == 0
    snapshot = BoardView(board).snapshot()
    assert snapshot.claude.state == "warning" and snapshot.claude.current == limits.current

    # `cockpit usage` shows both families' windows and the reviewer's spend.
    assert cockpit_main(["--repo", str(repo), "usage"]) == 0
    out = capsys.readouterr().out
    assert "Claude Code credit windows" in out and "5h      93.0% used  allowed_warning  resets " in out
    assert "Claude  today 1 review (2 runs), 900 tokens, $0.0" in out and "Codex   today 0 runs" in out

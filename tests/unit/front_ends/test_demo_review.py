"""The demo's reviewed task (``cockpit.demo.review``): the real Claude Code gets a throw-away home and
temporary directory inside the demo's own directory and none of the host's Anthropic or Claude Code
settings; without a Claude Code CLI the demo leaves the task out; the two scripts agree on the task
(Codex's thread is matched by its goal, the reviewer's sessions by its id and round); quitting the
full-screen demo mid-review stops the reviewer's runner."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core import Blackboard, ClaudeNotFound, TaskState, TaskStatus
from cockpit.core.records.review import ReviewerRun, ReviewRound, ReviewState
from cockpit.demo import review
from cockpit.demo.interactive import stop_workers
from cockpit.demo.repo import make_demo_repo
from cockpit.demo.review import (
    REVIEW_DEMO_TASK,
    TASK_PREFIX,
    codex_scenario,
    demo_reviewer,
    demo_reviewer_env,
    reviewer_scenarios,
)
from cockpit.demo.scripted_claude import API_KEY


def test_the_reviewer_env_drops_the_host_settings_and_stays_in_the_demo(tmp_path: Path) -> None:
    host = {
        "ANTHROPIC_API_KEY": "sk-ant-real",
        "ANTHROPIC_AUTH_TOKEN": "real-token",
        "ANTHROPIC_BASE_URL": "https://api.anthropic.com",
        "CLAUDE_CONFIG_DIR": "/home/u/.claude",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "CLAUDECODE": "1",
        "AWS_BEARER_TOKEN_BEDROCK": "b",
        "IS_SANDBOX": "yes",
        "HOME": "/home/u",
        "PATH": "/usr/bin",
    }
    env = demo_reviewer_env(tmp_path, "http://127.0.0.1:9", host)
    removed = {name for name, value in env.items() if value is None}
    assert removed == {
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDECODE",
        "AWS_BEARER_TOKEN_BEDROCK",
        "IS_SANDBOX",
    }
    home = tmp_path / "claude-home"
    assert env["HOME"] == str(home) and env["CLAUDE_CONFIG_DIR"] == str(home / ".claude")
    assert env["TMPDIR"] == str(home / "tmp") and (home / "tmp").is_dir() and (home / ".claude").is_dir()
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9" and env["ANTHROPIC_API_KEY"] == API_KEY
    assert "PATH" not in env  # the rest of the environment is inherited as it is


def test_without_claude_code_the_demo_leaves_its_reviewed_task_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*_args: object, **_kwargs: object) -> None:
        raise ClaudeNotFound("Claude Code not found (looked at: PATH)")

    monkeypatch.setattr(review, "find_claude", missing)
    notes: list[str] = []
    with demo_reviewer(tmp_path, notes.append) as reviewer:
        assert reviewer is None
    assert notes == ["Claude Code not found (looked at: PATH)"]
    assert not (tmp_path / "claude-home").exists()


def test_the_two_scripts_fit_the_task() -> None:
    codex = codex_scenario()
    assert codex.match == REVIEW_DEMO_TASK["goal"] and len(codex.responses) == 6  # two attempts of three
    first, second = reviewer_scenarios(pace_ms=500)
    assert first.match == f"Review round 1, try 1, of task {TASK_PREFIX}"
    assert second.match == f"Review round 2, try 1, of task {TASK_PREFIX}"
    text = first.responses[-1].blocks[0].text
    verdict = json.loads(text.split("```json", 1)[1].split("```", 1)[0])
    (challenge,) = verdict["challenges"]
    assert (verdict["verdict"], challenge["kind"], challenge["file"]) == (
        "challenge",
        "failing_test",
        "stats.py",
    )
    # The test runs with this Python's unittest: pytest is not among the cockpit's dependencies.
    assert challenge["command"] == [sys.executable, "-m", "unittest", *challenge["files"]]
    assert first.responses[-1].delay_ms == 500 and first.responses[0].delay_ms == 0


def test_quitting_the_demo_stops_a_review_under_way(tmp_path: Path) -> None:
    make_demo_repo(tmp_path / "repo")
    board = Blackboard(tmp_path / "repo")
    board.init()
    # A stand-in for the detached review runner: its command line names the runners' package.
    runner = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "cockpit.core.attempts.review_runner"]
    )
    try:
        rnd = ReviewRound(n=1, attempt=1, head_commit="c", reviewer=ReviewerRun(runner_pid=runner.pid))
        review = ReviewState(status="reviewing", rounds=[rnd])
        board.write_state(
            TaskState(
                id="add-a-mean-1a2b", lane="worktree", title="t", status=TaskStatus.REVIEWING, review=review
            )
        )
        assert stop_workers(board) == 1
        assert runner.wait(timeout=10) == -signal.SIGTERM
    finally:
        runner.kill()
        runner.wait()

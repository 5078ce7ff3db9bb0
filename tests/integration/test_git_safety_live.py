"""Workers stay in their box (git), with the real Codex binary: a worker's ``git init`` is left out and
reported, a stale ``index.lock`` a killed supervisor left is cleared at start-up, and a settle that
raises fails only its own task."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.lanes.worktree import WorktreeLane
from cockpit.core.records.basics import TaskStatus
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import say, scenario
from tests.helpers.supervisor import SupervisorThread

pytestmark = pytest.mark.codex


def shell_step(cmd: str) -> dict[str, object]:
    return {"items": [{"kind": "shell", "cmd": cmd}]}


def worktree_task(board: Blackboard, name: str) -> str:
    return submit(
        board, envelope_from_mapping({"goal": f"Do the {name} job", "title": name, "lane": "worktree"})
    )


def run_idle(board: Blackboard, env: dict[str, str]) -> None:
    SupervisorThread(board, env, until_idle=True).start().join(120)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_a_workers_git_init_is_left_out_and_reported(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario(
            "nest-job",
            shell_step("echo y > top.txt && git init -q sub && echo x > sub/f"),
            say("COMPLETED: wrote top.txt and sub/"),
        )
    )
    board = Blackboard(repo)
    tid = worktree_task(board, "nest-job")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state and state.message
    assert (board.worktree_path(tid) / "sub" / "f").exists(), "the worker's git init did not run"
    assert state.skipped_nested_repos == ["sub/"]
    assert "left out: sub/ (a nested git repository)" in (state.message or "")
    assert state.diff is not None and state.diff.paths == ["top.txt"]


def test_a_stale_index_lock_from_a_killed_supervisor_is_cleared_at_start_up(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario("lock-job", shell_step("echo done > done.txt"), say("COMPLETED: wrote done.txt"))
    )
    board = Blackboard(repo)
    tid = worktree_task(board, "lock-job")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW and state.base_commit
    # Put the task back where a kill -9 during the cockpit's commit leaves it: still running, the
    # worker's change staged but not committed, and git's index.lock in the worktree's admin dir.
    worktree = board.worktree_path(tid)
    git(worktree, "reset", "-q", "--soft", state.base_commit)
    admin = Path(git(worktree, "rev-parse", "--absolute-git-dir"))
    (admin / "index.lock").write_text("")
    state.status, state.head_commit, state.diff, state.message = TaskStatus.RUNNING, None, None, None
    board.write_state(state)
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state.message
    assert not (admin / "index.lock").exists()
    assert state.head_commit and git(worktree, "show", f"{state.head_commit}:done.txt") == "done"
    assert any(e.get("kind") == "stale_lock_removed" for e in board.read_jsonl("events.jsonl"))


def test_a_settle_that_raises_fails_only_its_task(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_model.add_scenario(scenario("boom-job", shell_step("echo a > a.txt"), say("COMPLETED: a")))

    def boom(self: WorktreeLane, state: object, attempt_n: int) -> tuple[TaskStatus, str]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(WorktreeLane, "settle_success", boom)
    board = Blackboard(repo)
    tid = worktree_task(board, "boom-job")
    run_idle(board, cockpit_env)  # returns: the supervisor survived
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.FAILED
    assert "disk on fire" in (state.message or "")
    errors = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "settle_error"]
    assert errors and errors[0]["task_id"] == tid and errors[0]["error_type"] == "RuntimeError"

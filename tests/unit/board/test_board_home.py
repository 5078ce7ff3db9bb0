"""Where the board lives (inside the git dir, out of every worker's reach) and the move of a legacy board."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard, BlackboardError
from cockpit.core.board.home import board_root_for, state_home
from cockpit.core.codex.confinement import confinement_problem, trusted_places
from cockpit.core.config import board_config
from cockpit.core.records.task import TaskState
from cockpit.core.trust import user_config_dir
from cockpit.demo.repo import make_demo_repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_the_board_lives_in_the_git_dir_owner_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    board = Blackboard(repo)
    assert board.init() is True
    assert board.root == repo.resolve() / ".git" / "cockpit"
    assert stat.S_IMODE(board.root.stat().st_mode) == 0o700
    assert git(repo, "status", "--porcelain", "--ignored") == ""  # nothing in the working tree at all


def test_a_linked_worktree_of_the_user_has_a_board_of_its_own(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    main_board, side_board = Blackboard(repo), Blackboard(linked)
    assert side_board.root == repo.resolve() / ".git" / "worktrees" / "linked" / "cockpit"
    assert main_board.root != side_board.root


def test_a_plain_directory_keeps_its_board_in_the_user_state_dir(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    board = Blackboard(plain)
    board.init()
    assert board.root.is_relative_to(state_home() / "cockpit" / "boards")
    assert list(plain.iterdir()) == []
    assert board_root_for(plain.resolve()) == board.root  # stable


def legacy_board_with_a_worktree(repo: Path) -> tuple[Path, Path]:
    """A board as earlier versions left it: ``<repo>/.cockpit`` with a task and its registered worktree."""
    old = repo / ".cockpit"
    for sub in ("tasks/old-task-1a2b", "inbox", "worktrees"):
        (old / sub).mkdir(parents=True)
    wt = old / "worktrees" / "old-task-1a2b"
    git(repo, "worktree", "add", "-q", "-b", "cockpit/old-task-1a2b", str(wt))
    (wt / "work.txt").write_text("in progress\n")
    state = TaskState(id="old-task-1a2b", title="old", lane="worktree", worktree=str(wt))
    (old / "tasks" / "old-task-1a2b" / "state.json").write_text(state.model_dump_json())
    (old / "config.toml").write_text("max_workers = 2\n")
    with (repo / ".git" / "info" / "exclude").open("a") as fh:
        fh.write("/.cockpit/\n")
    return old, wt


def test_a_legacy_board_moves_into_the_git_dir_with_its_worktrees(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    old, _ = legacy_board_with_a_worktree(repo)
    board = Blackboard(repo)
    assert not old.exists()
    assert board_config(board).max_workers == 2
    state = board.read_state("old-task-1a2b")
    assert state is not None and state.worktree == str(board.worktree_path("old-task-1a2b"))
    assert (board.worktree_path("old-task-1a2b") / "work.txt").read_text() == "in progress\n"
    listed = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {board.worktree_path('old-task-1a2b')}" in listed
    assert "prunable" not in listed
    assert git(str(board.worktree_path("old-task-1a2b")), "rev-parse", "--abbrev-ref", "HEAD").strip() == (
        "cockpit/old-task-1a2b"
    )


def test_a_legacy_board_in_use_is_not_moved(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    old, _ = legacy_board_with_a_worktree(repo)
    fd = os.open(old / "supervisor.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(BlackboardError, match="still runs on it"):
            Blackboard(repo)
        assert (old / "tasks" / "old-task-1a2b" / "state.json").exists()
    finally:
        os.close(fd)
    assert Blackboard(repo).read_state("old-task-1a2b") is not None  # moves once the lock is free


def test_a_tracked_cockpit_dir_from_the_repository_is_never_adopted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    shipped = repo / ".cockpit"
    (shipped / "tasks").mkdir(parents=True)
    (shipped / "tasks" / ".keep").write_text("")
    (shipped / "config.toml").write_text(f'codex_bin = "{repo / "evil"}"\nmax_workers = 1\n')
    Repo(repo).index.add([".cockpit/config.toml", ".cockpit/tasks/.keep"])
    Repo(repo).index.commit("ship a board")
    board = Blackboard(repo)
    board.init()
    assert shipped.is_dir()  # left where the repository put it
    config = board_config(board)
    assert config.max_workers == 3 and config.codex_bin is None


def test_confinement_refuses_a_worker_whose_root_holds_a_trusted_place(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    board = Blackboard(repo)
    board.init()
    scratch = board.scratch_dir("t-1", 1)
    places = trusted_places(board.root)
    assert confinement_problem([repo, scratch], places) is None  # the board sits under the read-only .git
    assert confinement_problem([board.worktree_path("t-1"), scratch], places) is None
    # A repository that is the user's home (its .config holds the trust records) is refused.
    problem = confinement_problem([user_config_dir().parent.parent], [*places, user_config_dir()])
    assert problem is not None and "refusing to start a worker" in problem
    venv_in_repo = repo / ".venv"
    problem = confinement_problem([repo], [venv_in_repo])
    assert problem is not None and str(repo.resolve()) in problem


def test_legacy_state_paths_are_rewritten_as_json(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_demo_repo(repo)
    legacy_board_with_a_worktree(repo)
    board = Blackboard(repo)
    raw = json.loads((board.task_dir("old-task-1a2b") / "state.json").read_text())
    assert raw["worktree"].startswith(str(board.root))

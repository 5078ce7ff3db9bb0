"""Workers stay in their box (git): no worktree hook ever runs, nested repositories are left out and
reported, and a merge lands in one journaled step that a kill -9 at any point cannot leave half-done.

Real git throughout; the test plays the worker by writing files into the task's worktree directly.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import CommandError, run_task_command
from cockpit.core.config import UntrustedSetting
from cockpit.core.git.operations import head_commit, open_repo
from cockpit.core.lanes.worktree import WorktreeLane
from cockpit.core.merging import journal_path, recover_merge
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.trust import trust_file

COCKPIT = Path(sys.executable).parent / "cockpit"
HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-merge-commit",
    "post-merge",
    "post-checkout",
    "post-rewrite",
    "reference-transaction",
    "fsmonitor",  # not a hook: core.fsmonitor below names it as the repository's fsmonitor command
)


def worker_task(board: Blackboard, name: str, files: dict[str, str], *, settle: bool = True) -> TaskState:
    """A worktree task whose "worker" wrote ``files``, settled by the lane (commit, diff) unless not."""
    state = TaskState(
        id=f"{name}-0000",
        lane="worktree",
        title=name,
        base_branch="main",
        base_commit=head_commit(open_repo(board.repo)),
    )
    lane = WorktreeLane(board)
    lane.prepare(state)
    write_files(board.worktree_path(state.id), files)
    if settle:
        state.status, state.message = lane.settle_success(state, 1)
    board.write_state(state)
    return state


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def plant_hooks(directory: Path, markers: Path, names: tuple[str, ...] = HOOKS, code: int = 0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        hook = directory / name
        hook.write_text(f"#!/bin/sh\ntouch '{markers}/{name}'\nexit {code}\n")
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def assert_checkout_consistent(repo: Path) -> None:
    """No merge left half-done: tracked files match HEAD, no MERGE_HEAD, no index.lock."""
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert not (repo / ".git" / "index.lock").exists()


# ---- hooks -----------------------------------------------------------------------------------------


def test_hooks_a_worker_plants_never_run(repo: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    git(repo, "config", "core.hooksPath", ".husky/_")
    git(repo, "config", "core.fsmonitor", ".husky/_/fsmonitor")
    board = Blackboard(repo)
    state = worker_task(board, "hooked", {"feature.txt": "new\n"}, settle=False)
    worktree = board.worktree_path(state.id)
    plant_hooks(worktree / ".husky" / "_", markers)
    status, message = WorktreeLane(board).settle_success(state, 1)
    state.status, state.message = status, message
    board.write_state(state)
    assert status == TaskStatus.REVIEW, message
    assert sorted(p.name for p in markers.iterdir()) == []
    assert run_task_command(board, "merge", state.id).startswith("merged into main")
    assert (repo / "feature.txt").read_text() == "new\n"
    assert sorted(p.name for p in markers.iterdir()) == []
    # the attack is real: the same hooks, now merged into the checkout, run for plain git
    git(repo, "commit", "--allow-empty", "--no-verify", "-m", "plain git")
    assert {"post-commit", "fsmonitor"} <= {p.name for p in markers.iterdir()}


def test_merge_runs_the_users_hooks_only_when_the_config_opts_in(repo: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    plant_hooks(repo / ".git" / "hooks", markers, ("pre-merge-commit", "post-merge"))
    board = Blackboard(repo)
    quiet = worker_task(board, "quiet", {"a.txt": "a\n"})
    run_task_command(board, "merge", quiet.id)
    assert list(markers.iterdir()) == []
    (board.root / "config.toml").write_text("merge_runs_hooks = true\n")
    loud = worker_task(board, "loud", {"b.txt": "b\n"})
    with pytest.raises(UntrustedSetting, match="merge_runs_hooks"):  # it runs code: the file needs trust
        run_task_command(board, "merge", loud.id)
    assert list(markers.iterdir()) == []
    trust_file(board.root / "config.toml")
    run_task_command(board, "merge", loud.id)
    assert sorted(p.name for p in markers.iterdir()) == ["post-merge", "pre-merge-commit"]


def test_a_failing_pre_merge_commit_hook_refuses_the_merge(repo: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    plant_hooks(repo / ".git" / "hooks", markers, ("pre-merge-commit",), code=1)
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("merge_runs_hooks = true\n")
    trust_file(board.root / "config.toml")
    state = worker_task(board, "refused", {"c.txt": "c\n"})
    before = git(repo, "rev-parse", "main")
    with pytest.raises(CommandError, match="pre-merge-commit"):
        run_task_command(board, "merge", state.id)
    assert git(repo, "rev-parse", "main") == before and not (repo / "c.txt").exists()
    assert board.read_state(state.id).status == TaskStatus.REVIEW
    assert not journal_path(board).exists()


# ---- nested repositories ---------------------------------------------------------------------------


def test_nested_repositories_are_left_out_and_reported(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "nested", {"top.txt": "top\n"}, settle=False)
    worktree = board.worktree_path(state.id)
    write_files(worktree, {"sub/f": "x\n", "deep/er/inner/g": "y\n", "deep/plain.txt": "p\n"})
    git(worktree / "sub", "init", "-q")  # no commits
    inner = worktree / "deep" / "er" / "inner"
    git(inner, "init", "-q")
    git(inner, "add", "g")
    git(inner, "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", "inner")
    status, message = WorktreeLane(board).settle_success(state, 1)
    assert status == TaskStatus.REVIEW, message
    assert state.skipped_nested_repos == ["deep/er/inner/", "sub/"]
    assert "left out: deep/er/inner/, sub/ (nested git repositories)" in message
    assert state.diff is not None and sorted(state.diff.paths) == ["deep/plain.txt", "top.txt"]
    committed = git(worktree, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "sub" not in committed and not any(p.startswith(("sub/", "deep/er")) for p in committed)


def test_a_lone_nested_repository_is_no_change_and_no_crash(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "lonely", {}, settle=False)
    worktree = board.worktree_path(state.id)
    write_files(worktree, {"sub/f": "x\n"})
    git(worktree / "sub", "init", "-q")
    status, message = WorktreeLane(board).settle_success(state, 1)
    assert status == TaskStatus.SUCCEEDED
    assert "left out: sub/ (a nested git repository)" in message


# ---- merging off the user's tree -------------------------------------------------------------------


def test_untracked_or_ignored_files_in_the_way_refuse_the_merge(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "inway", {"new.txt": "from task\n", "build/out.bin": "task\n"})
    (repo / "new.txt").write_text("mine\n")
    before = git(repo, "rev-parse", "main")
    with pytest.raises(CommandError, match=r"would be overwritten: new\.txt"):
        run_task_command(board, "merge", state.id)
    (repo / "new.txt").unlink()
    (repo / ".git" / "info" / "exclude").open("a").write("build\n")
    (repo / "build").write_text("an ignored file where the task needs a directory\n")
    with pytest.raises(CommandError, match="would be overwritten: build"):
        run_task_command(board, "merge", state.id)
    assert git(repo, "rev-parse", "main") == before
    assert (repo / "build").read_text().startswith("an ignored file")
    assert_checkout_consistent(repo)
    assert board.read_state(state.id).status == TaskStatus.REVIEW


def test_touched_but_unchanged_files_do_not_block_the_merge(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "touchy", {"calc.py": "def add(a, b):\n    return b + a\n"})
    text = (repo / "calc.py").read_text()
    (repo / "calc.py").write_text(text)  # same content, new mtime: the index's stat data is stale
    later = time.time() + 5
    os.utime(repo / "calc.py", (later, later))
    assert run_task_command(board, "merge", state.id).startswith("merged into main")
    assert "b + a" in (repo / "calc.py").read_text()
    assert_checkout_consistent(repo)


def test_base_branch_not_checked_out_only_its_ref_moves(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "away", {"away.txt": "x\n"})
    git(repo, "checkout", "-q", "-b", "elsewhere")
    (repo / "scratch.txt").write_text("user's own\n")
    run_task_command(board, "merge", state.id)
    assert not (repo / "away.txt").exists() and git(repo, "branch", "--show-current").strip() == "elsewhere"
    assert git(repo, "show", "main:away.txt") == "x\n"
    merged = Repo(repo).heads["main"].commit
    assert len(merged.parents) == 2 and merged.committer.name == "Codex Cockpit"


def test_a_conflict_touches_nothing(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "clash", {"calc.py": "def add(a, b):\n    return b + a\n"})
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b  # mine\n")
    git(repo, "commit", "-qam", "user edit")
    before = git(repo, "rev-parse", "main")
    with pytest.raises(CommandError, match=r"conflicted \(calc.py\)"):
        run_task_command(board, "merge", state.id)
    assert git(repo, "rev-parse", "main") == before
    assert_checkout_consistent(repo)
    assert board.read_state(state.id).status == TaskStatus.CONFLICT


CRASH_POINTS = {
    "merge:before-journal": False,
    "merge:after-journal": True,
    "merge:after-read-tree": True,
    "merge:after-update-ref": True,
    "merge:before-journal-removal": True,
}


def cockpit_merge(repo: Path, task_id: str, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_CRASH_AT"}
    if crash_at:
        env["COCKPIT_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "merge", task_id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_after_recovery(repo: Path, board: Blackboard, state: TaskState, old: str, merged: bool) -> None:
    assert_checkout_consistent(repo)
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? notes.txt\n"  # no strays
    assert not journal_path(board).exists()
    after = board.read_state(state.id)
    assert after is not None
    main = git(repo, "rev-parse", "main").strip()
    if merged:
        assert after.status == TaskStatus.MERGED, after.message
        assert main == after.merge_commit and main != old
        assert git(repo, "rev-parse", "HEAD").strip() == main
        assert not board.worktree_path(state.id).exists()
    else:
        assert after.status == TaskStatus.REVIEW, after.message
        assert main == old
    assert (repo / "notes.txt").read_text() == "the user's untracked notes\n"


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_kill_9_during_merge_then_recovery(repo: Path, point: str) -> None:
    board = Blackboard(repo)
    state = worker_task(
        board, "crashy", {"calc.py": "def add(a, b):\n    return b + a\n", "added/new.txt": "n\n"}
    )
    git(repo, "rm", "-q", "README.md")
    git(repo, "commit", "-qm", "user removes the readme")  # the merge is a real two-parent merge
    (repo / "notes.txt").write_text("the user's untracked notes\n")
    old = git(repo, "rev-parse", "main").strip()
    proc = cockpit_merge(repo, state.id, point)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    recovered = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "run", "--until-idle"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    check_after_recovery(repo, board, state, old, CRASH_POINTS[point])
    if CRASH_POINTS[point]:
        assert (repo / "added" / "new.txt").read_text() == "n\n" and "b + a" in (repo / "calc.py").read_text()
        assert not (repo / "README.md").exists()


def test_a_merge_command_after_a_crash_finishes_the_interrupted_merge(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "again", {"again.txt": "a\n"})
    (repo / "notes.txt").write_text("the user's untracked notes\n")
    old = git(repo, "rev-parse", "main").strip()
    proc = cockpit_merge(repo, state.id, "merge:after-read-tree")
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    assert "merged into main" in run_task_command(board, "merge", state.id)
    check_after_recovery(repo, board, state, old, merged=True)


def test_recovery_leaves_the_branch_alone_when_the_user_moved_it(repo: Path) -> None:
    board = Blackboard(repo)
    state = worker_task(board, "moved", {"moved.txt": "m\n"})
    (repo / "notes.txt").write_text("the user's untracked notes\n")
    proc = cockpit_merge(repo, state.id, "merge:after-journal")
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    git(repo, "commit", "-q", "--allow-empty", "-m", "the user moves on")
    moved = git(repo, "rev-parse", "main").strip()
    assert recover_merge(board) is not None
    check_after_recovery(repo, board, state, moved, merged=False)
    assert "moved while the merge was interrupted" in (board.read_state(state.id).message or "")


def test_kill_9_while_a_big_tree_is_checked_out(repo: Path) -> None:
    """3,000 files change (and 500 arrive): the merge is killed as soon as it starts on the checkout,
    a little later, and later still; every time recovery leaves the checkout whole."""
    files = {f"pkg/m{i:04d}.py": f"x = {i}\n" for i in range(3000)}
    write_files(repo, files)
    git(repo, "add", "pkg")
    git(repo, "commit", "-qm", "a big tree")
    (repo / "notes.txt").write_text("the user's untracked notes\n")
    board = Blackboard(repo)
    for n, delay in enumerate((0.0, 0.01, 0.03)):
        changed = {p: f"x = {n} # changed\n" for p in files} | {f"new/f{i}.txt": "n\n" for i in range(500)}
        state = worker_task(board, f"big{n}", changed)
        old = git(repo, "rev-parse", "main").strip()
        proc = cockpit_merge(repo, state.id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if b'"checkout"' in journal_path(board).read_bytes():
                    break
            except FileNotFoundError:
                pass
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        recover_merge(board)
        after = board.read_state(state.id)
        assert after is not None and after.status == TaskStatus.MERGED, after.message
        check_after_recovery(repo, board, state, old, merged=True)
        assert (repo / "pkg" / "m2999.py").read_text() == f"x = {n} # changed\n"
        assert git(repo, "status", "--porcelain", "--", "new").strip() == ""

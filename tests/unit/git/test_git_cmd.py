"""The one git invocation builder: hooks and fsmonitor off, explicit repository, no prompts; the
checked-out branch read from HEAD; and the crash-point facility the merge tests use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cockpit.core.crashpoints import crash_point
from cockpit.core.git.safe_command import NO_HOOKS_DIR, Git, GitError, GitOpError, git_env, head_branch


def make_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def test_every_invocation_disables_hooks_and_fsmonitor_and_names_its_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    argv = Git.checkout(repo).argv("status")
    common = (repo / ".git").resolve()
    assert argv[:3] == ["git", f"--git-dir={common}", f"--work-tree={repo.resolve()}"]
    assert f"core.hooksPath={common / NO_HOOKS_DIR}" in argv and "core.fsmonitor=false" in argv
    assert argv[-1] == "status"
    assert "core.hooksPath" not in " ".join(Git.checkout(repo).argv("hook", "run", "x", hooks=True))


def test_the_empty_hooks_directory_is_emptied_before_use(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git = Git.checkout(repo)
    git.argv("status")
    planted = repo / ".git" / NO_HOOKS_DIR / "post-commit"
    planted.write_text("#!/bin/sh\ntouch /tmp/never\n")
    git.argv("status")
    assert not planted.exists() and (repo / ".git" / NO_HOOKS_DIR).is_dir()


def test_inherited_git_variables_do_not_redirect_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "r")
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert Path(Git.checkout(repo).out("rev-parse", "--show-toplevel")) == repo.resolve()
    env = git_env()
    assert "GIT_DIR" not in env and env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_COMMITTER_NAME"] == "Codex Cockpit"


def test_a_failing_command_raises_with_what_git_said(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    with pytest.raises(GitError, match=r"unknown revision|bad revision|ambiguous argument"):
        Git.checkout(repo).out("log", "no-such-ref")
    assert Git.checkout(repo).rev("no-such-ref") is None


def test_crash_points_are_no_ops_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCKPIT_CRASH_AT", raising=False)
    crash_point("merge:after-journal")
    monkeypatch.setenv("COCKPIT_CRASH_AT", "merge:something-else")
    crash_point("merge:after-journal")
    assert os.getpid() > 0  # still alive


def test_the_checked_out_branch_is_read_from_head(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "feature/x", str(repo)], check=True)
    assert head_branch(repo) == "feature/x"  # no commit yet: the branch is still the checked-out one
    (repo / ".git" / "HEAD").write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert head_branch(repo) is None  # detached
    with pytest.raises(GitOpError):
        head_branch(tmp_path)  # not a checkout

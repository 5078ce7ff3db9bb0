"""The cloud lane's parts without a cloud: the envelope's cloud fields, the ``[cloud]`` config and the
trust its ``extra_env`` needs, the poll schedule, and a diff put on a task's own branch (clean, 3-way
conflict, a path outside the worktree refused) with real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.config import UntrustedSetting, load_config
from cockpit.core.envelope.model import EnvelopeError, envelope_from_mapping
from cockpit.core.git.operations import GitOpError, apply_patch, reset_to
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.task import TaskState
from cockpit.core.results import apply_cloud_result
from cockpit.core.supervisor.cloud import poll_interval
from cockpit.core.trust import trust_file


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def new_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", ".")
    git(path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return path


def new_file(path: str, text: str) -> str:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"lane": "worktree", "cloud_env": "fake/repo"}, "cloud_env: only for the cloud lane"),
        ({"lane": "local", "attempts": 2}, "attempts: only for the cloud lane"),
        ({"lane": "cloud", "attempts": 5}, "attempts:"),
        ({"lane": "cloud", "attempts": 0}, "attempts:"),
        ({"lane": "cloud", "cloud_env": "--all"}, "cloud_env: must be"),
        ({"lane": "cloud", "branch": "-x"}, "branch: must be"),
        ({"lane": "cloud", "branch": "a..b"}, "branch: must be"),
    ],
)
def test_cloud_fields_are_checked_and_name_the_field(fields: dict, error: str) -> None:
    with pytest.raises(EnvelopeError, match=error):
        envelope_from_mapping({"goal": "g", **fields})


def test_cloud_fields_and_their_aliases() -> None:
    env = envelope_from_mapping(
        {"goal": "g", "lane": "cloud", "env": "fake/repo", "best_of": 3, "branch": "dev"}
    )
    assert (env.cloud_env, env.attempts, env.branch) == ("fake/repo", 3, "dev")
    assert envelope_from_mapping(env.to_json_dict()) == env


def test_extra_env_is_taken_from_a_board_config_only_once_trusted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[cloud]\nenv = "fake/repo"\n[cloud.extra_env]\nHTTPS_PROXY = "http://127.0.0.1:9"\n')
    config = load_config(path, user_path=tmp_path / "none.toml")
    assert config.cloud.env == "fake/repo" and config.cloud.extra_env == {}
    with pytest.raises(UntrustedSetting, match=r"cloud\.extra_env"):
        config.trusted("cloud.extra_env")
    trust_file(path)
    trusted = load_config(path, user_path=tmp_path / "none.toml")
    assert trusted.trusted("cloud.extra_env") == {"HTTPS_PROXY": "http://127.0.0.1:9"}


def test_polls_slow_down_with_age_and_stay_within_the_bounds() -> None:
    ages = [0, 10, 29, 31, 120, 299, 301, 1000, 1799, 1801, 86400]
    steps = [poll_interval(a, 2.0, 60.0) for a in ages]
    assert steps == sorted(steps) and steps[0] == 2.0 and steps[-1] == 60.0
    assert all(2.0 <= s <= 60.0 for s in steps)
    assert poll_interval(400, 30.0, 45.0) == 45.0  # never above the maximum


def test_a_patch_applies_conflicts_or_is_refused_in_a_worktree_only(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    assert apply_patch(repo, new_file("greeting.txt", "hi")) == []
    assert git(repo, "status", "--porcelain") == "A  greeting.txt\n"
    reset_to(repo, base)
    assert git(repo, "status", "--porcelain") == ""
    assert apply_patch(repo, new_file("README.md", "other")) == ["README.md"]
    reset_to(repo, base)
    with pytest.raises(GitOpError, match="invalid path"):
        apply_patch(repo, new_file("../outside.txt", "x"))
    with pytest.raises(GitOpError):
        apply_patch(repo, new_file(".git/hooks/post-commit", "#!/bin/sh\necho owned"))
    assert not (tmp_path / "outside.txt").exists() and not (repo / ".git/hooks/post-commit").exists()


def test_a_chosen_attempt_lands_on_the_task_branch_and_a_pick_replaces_it(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    board = Blackboard(repo)
    board.init()
    base = git(repo, "rev-parse", "HEAD").strip()
    results = [
        CloudResult(n=1, diff_file="cloud-attempt-1.diff"),
        CloudResult(n=2, diff_file="cloud-attempt-2.diff"),
    ]
    state = TaskState(id="greet-0001", lane="cloud", title="greet", base_commit=base, base_branch="main")
    state.attempts.append(
        Attempt(n=1, deadline_s=60, cloud=CloudRun(env="fake/repo", best_of=2, results=results))
    )
    directory = board.attempt_dir(state.id, 1)
    directory.mkdir(parents=True)
    (directory / "cloud-attempt-1.diff").write_text(new_file("one.txt", "one"))
    (directory / "cloud-attempt-2.diff").write_text(new_file("two.txt", "two"))
    status, message = apply_cloud_result(board, state, 1, results[0])
    assert status == TaskStatus.REVIEW and "attempt 1 of 2" in message
    assert state.diff is not None and state.diff.paths == ["one.txt"]
    status, _ = apply_cloud_result(board, state, 1, results[1])
    assert status == TaskStatus.REVIEW and state.diff.paths == ["two.txt"]
    branch_files = git(repo, "ls-tree", "--name-only", f"cockpit/{state.id}").split()
    assert "two.txt" in branch_files and "one.txt" not in branch_files
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "main").strip() == base

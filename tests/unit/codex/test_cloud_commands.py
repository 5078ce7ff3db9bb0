"""The ``codex cloud`` command lines: the query always on stdin, every argv value checked and refused
naming its field; the child's environment; the private working directory every call writes
``error.log`` into."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cockpit.core.codex.cloud.commands import (
    CloudInputError,
    check_task_id,
    cloud_child_env,
    cloud_diff,
    cloud_exec,
    cloud_list,
    cloud_status,
    prepare_cloud_cwd,
)
from cockpit.core.errors import EXIT_USAGE, InputError, exit_code_of

CODEX = Path("/opt/codex/bin/codex")
TASK = "task_e_3d32aa0f1b2c"


# ---------------------------------------------------------------------------------------------- exec


def test_exec_reads_the_query_from_stdin_never_from_argv() -> None:
    query = "--help me: add a greeting file\nwith a second line"
    call = cloud_exec(CODEX, query, env="env_fake_main")
    assert call.command == "exec"
    assert call.argv == (str(CODEX), "cloud", "exec", "--env", "env_fake_main", "-")
    assert call.stdin == query
    assert query not in call.argv


def test_exec_with_attempts_and_branch() -> None:
    call = cloud_exec(CODEX, "do x", env="fake/repo", attempts=2, branch="feature/cloud-lane")
    assert call.argv == (
        *(str(CODEX), "cloud", "exec", "--env", "fake/repo"),
        *("--attempts", "2", "--branch", "feature/cloud-lane", "-"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": "--yolo"}, "env: must not start with '-'"),
        ({"env": "env\x00x"}, "env: must not contain a NUL character"),
        ({"env": "env\x1b[31m"}, "env: must not contain control characters"),
        ({"env": "env\nx"}, "env: must not contain control characters"),
        ({"env": "   "}, "env: must not be empty"),
        ({"env": "e" * 201}, "env: is longer than 200 characters"),
        ({"env": 7}, "env: must be a string"),
        ({"env": "e", "attempts": 0}, "attempts: must be between 1 and 4 (got 0)"),
        ({"env": "e", "attempts": 5}, "attempts: must be between 1 and 4 (got 5)"),
        ({"env": "e", "attempts": True}, "attempts: must be a whole number"),
        ({"env": "e", "branch": "-b"}, "branch: must not start with '-'"),
        ({"env": "e", "branch": "main\x00"}, "branch: must not contain a NUL character"),
        ({"env": "e", "branch": "a b"}, "branch: is not a valid git branch name"),
        ({"env": "e", "branch": "a..b"}, "branch: is not a valid git branch name"),
        ({"env": "e", "branch": "topic.lock"}, "branch: is not a valid git branch name"),
    ],
)
def test_exec_refuses_naming_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CloudInputError) as caught:
        cloud_exec(CODEX, "q", **kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"invalid cloud argument: {message}"), str(caught.value)
    assert isinstance(caught.value, InputError) and exit_code_of(caught.value) == EXIT_USAGE


@pytest.mark.parametrize(("query", "message"), [("", "must not be empty"), (" \n", "must not be empty")])
def test_exec_refuses_an_empty_query(query: str, message: str) -> None:
    with pytest.raises(CloudInputError, match=f"query: {message}"):
        cloud_exec(CODEX, query, env="e")


def test_exec_refuses_a_nul_in_the_query() -> None:
    with pytest.raises(CloudInputError, match="query: must not contain a NUL"):
        cloud_exec(CODEX, "a\x00b", env="e")


# --------------------------------------------------------------------------------- list, status, diff


def test_list_is_always_json() -> None:
    assert cloud_list(CODEX).argv == (str(CODEX), "cloud", "list", "--json")
    call = cloud_list(CODEX, env="fake/repo", limit=20, cursor="2")
    assert call.command == "list" and call.stdin is None
    assert call.argv[3:] == ("--json", "--env", "fake/repo", "--limit", "20", "--cursor", "2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit: must be between 1 and 20"),
        ({"limit": 21}, "limit: must be between 1 and 20"),
        ({"cursor": "--all"}, "cursor: must not start with '-'"),
        ({"cursor": "2\x07"}, "cursor: must not contain control characters"),
        ({"env": "-x"}, "env: must not start with '-'"),
    ],
)
def test_list_refuses_naming_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CloudInputError, match=message):
        cloud_list(CODEX, **kwargs)  # type: ignore[arg-type]


def test_status_and_diff() -> None:
    assert cloud_status(CODEX, TASK).argv == (str(CODEX), "cloud", "status", TASK)
    assert cloud_diff(CODEX, TASK).argv == (str(CODEX), "cloud", "diff", TASK)
    assert cloud_diff(CODEX, TASK, attempt=2).argv == (str(CODEX), "cloud", "diff", "--attempt", "2", TASK)


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        ("-h", "task_id: must not start with '-'"),
        ("task_\x00", "task_id: must not contain a NUL character"),
        ("task_e_1\x1b]0;x\x07", "task_id: must not contain control characters"),
        ("https://chatgpt.com/codex/tasks/task_e_1", "task_id: must look like task_"),
        ("task-e-1", "task_id: must look like task_"),
        ("task_", "task_id: must look like task_"),
        ("task_e_1; rm -rf /", "task_id: must look like task_"),
        ("", "task_id: must not be empty"),
    ],
)
def test_task_ids_are_refused_naming_the_field(task_id: str, message: str) -> None:
    with pytest.raises(CloudInputError, match=message.replace("[", r"\[")):
        cloud_status(CODEX, task_id)
    with pytest.raises(CloudInputError, match="task_id"):
        cloud_diff(CODEX, task_id)


def test_diff_attempt_is_1_to_4() -> None:
    for attempt in (0, 5, -1):
        with pytest.raises(CloudInputError, match="attempt: must be between 1 and 4"):
            cloud_diff(CODEX, TASK, attempt=attempt)
    assert check_task_id("task_e_ABC_123") == "task_e_ABC_123"


# ------------------------------------------------------------------------------------- environment


def test_child_env_drops_the_backtrace_and_adds_the_extra() -> None:
    base = {"PATH": "/usr/bin", "HOME": "/home/u", "RUST_BACKTRACE": "1", "RUST_LIB_BACKTRACE": "full"}
    env = cloud_child_env(base, {"COCKPIT_DEMO": "1"})
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "COCKPIT_DEMO": "1"}
    assert base["RUST_BACKTRACE"] == "1"  # the given mapping is untouched
    assert cloud_child_env(base) == {"PATH": "/usr/bin", "HOME": "/home/u"}


def test_child_env_keeps_the_base_proxy_when_nothing_redirects() -> None:
    base = {"HTTPS_PROXY": "http://corp:3128", "NO_PROXY": "localhost", "OPENAI_API_KEY": "sk-x"}
    assert cloud_child_env(base, {}) == base


def test_a_redirect_needs_a_throwaway_codex_home() -> None:
    with pytest.raises(CloudInputError, match="extra_env: HTTPS_PROXY, CODEX_CA_CERTIFICATE needs a throw"):
        cloud_child_env({}, {"HTTPS_PROXY": "http://127.0.0.1:9", "CODEX_CA_CERTIFICATE": "/s/ca.pem"})


def test_a_redirect_drops_other_proxies_and_real_credentials() -> None:
    base = {
        "PATH": "/usr/bin",
        "HTTP_PROXY": "http://corp:3128",
        "ALL_PROXY": "socks5://corp",
        "NO_PROXY": "chatgpt.com",
        "OPENAI_API_KEY": "sk-real",
        "CODEX_ACCESS_TOKEN": "at-real",
        "RUST_BACKTRACE": "1",
    }
    extra = {
        "HTTPS_PROXY": "http://127.0.0.1:4100",
        "https_proxy": "http://127.0.0.1:4100",
        "NO_PROXY": "",
        "CODEX_CA_CERTIFICATE": "/state/certs/ca.pem",
        "CODEX_CLOUD_TASKS_BASE_URL": "https://chatgpt.com/backend-api",
        "CODEX_HOME": "/tmp/t/home",
    }
    assert cloud_child_env(base, extra) == {"PATH": "/usr/bin", **extra}


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"A=B": "x"}, "extra_env"), ({"": "x"}, "extra_env"), ({"A": "x\x00"}, "extra_env.A")],
)
def test_child_env_refuses_a_bad_extra(extra: dict[str, str], field: str) -> None:
    with pytest.raises(CloudInputError, match=f"invalid cloud argument: {field}"):
        cloud_child_env({}, extra)


# -------------------------------------------------------------------------------------------- cwd


def test_prepare_cloud_cwd_makes_a_private_directory_under_the_board(tmp_path: Path) -> None:
    board = tmp_path / "repo" / ".git" / "cockpit"  # the board lives in the repository's git dir
    (tmp_path / "repo" / "src").mkdir(parents=True)
    board.mkdir(parents=True)
    place = board / "scratch" / "t1" / "1" / "cloud"
    assert prepare_cloud_cwd(place, board_root=board) == place
    assert place.is_dir() and stat.S_IMODE(place.stat().st_mode) == 0o700
    place.chmod(0o755)
    prepare_cloud_cwd(place, board_root=board)  # again: fine, and private again
    assert stat.S_IMODE(place.stat().st_mode) == 0o700


def test_prepare_cloud_cwd_refuses_the_repository_and_worktrees(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    board = repo / ".git" / "cockpit"
    board.mkdir(parents=True)
    for outside in (repo, repo / "sub" / "dir", tmp_path / "elsewhere", board, board / ".." / "x"):
        with pytest.raises(CloudInputError, match=r"cwd: .* is not a directory below the board"):
            prepare_cloud_cwd(outside, board_root=board)
    worktree = board / "worktrees" / "t1"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: /elsewhere\n")  # a linked worktree's .git is a file
    with pytest.raises(CloudInputError, match=r"cwd: .* is inside the git working tree .*t1"):
        prepare_cloud_cwd(worktree / "cloud", board_root=board)
    (board / "link").symlink_to(repo)  # a link out of the board is followed, then refused
    with pytest.raises(CloudInputError, match=r"cwd: .* is not a directory below the board"):
        prepare_cloud_cwd(board / "link" / "cloud", board_root=board)
    assert not (repo / "sub").exists() and not (worktree / "cloud").exists()
    assert not (repo / "cloud").exists()


def test_prepare_cloud_cwd_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CloudInputError, match=r"cwd: .* is not a directory$"):
        prepare_cloud_cwd(tmp_path / "f", board_root=tmp_path)

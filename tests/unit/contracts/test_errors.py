"""One error tree: every exception the cockpit defines sits on a branch of ``CockpitError``, and the
branch decides the exit code (input 2, refused, Codex or Claude Code 1)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import cockpit.cli
import cockpit.core
from cockpit.cli.main import UsageError, main
from cockpit.core.board.blackboard import BlackboardError, InvalidId, LockHeld, UnknownTask
from cockpit.core.board.decisions import DecisionError
from cockpit.core.claude.binary import ClaudeNotFound
from cockpit.core.claude.stream import StreamLineError
from cockpit.core.codex.app_server.client import AppServerClosed, AppServerError
from cockpit.core.codex.binary import CodexNotFound
from cockpit.core.commands import CommandError
from cockpit.core.config import ConfigError, UntrustedSetting
from cockpit.core.envelope.model import EnvelopeError
from cockpit.core.errors import (
    ClaudeError,
    CockpitError,
    CodexError,
    InputError,
    RefusedError,
    exit_code_of,
)
from cockpit.core.git.safe_command import GitError, GitOpError


def _defined_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for package in (cockpit.core, cockpit.cli):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found.append(obj)
    return found


def test_every_exception_the_cockpit_defines_is_on_the_tree() -> None:
    outside = [
        f"{c.__module__}.{c.__qualname__}" for c in _defined_exceptions() if not issubclass(c, CockpitError)
    ]
    assert not outside, f"not CockpitErrors: {outside}"


@pytest.mark.parametrize(
    ("error", "branch", "code"),
    [
        (EnvelopeError("goal", "missing"), InputError, 2),
        (ConfigError("max_workers", "not a number"), InputError, 2),
        (UntrustedSetting("codex_bin", Path("config.toml")), InputError, 2),
        (UnknownTask("no task 'x'"), InputError, 2),
        (InvalidId("invalid task id"), InputError, 2),
        (DecisionError("no option Z"), InputError, 2),
        (UsageError("--older-than: bad"), InputError, 2),
        (CommandError("task is running"), RefusedError, 1),
        (BlackboardError("no readable state"), RefusedError, 1),
        (LockHeld(123), RefusedError, 1),
        (GitOpError("dirty tree"), RefusedError, 1),
        (GitError(["git", "status"], 128, "", "fatal: not a git repository"), RefusedError, 1),
        (CodexNotFound("no codex"), CodexError, 1),
        (AppServerError(-32600, "bad reply"), CodexError, 1),
        (AppServerClosed("closed"), CodexError, 1),
        (ClaudeNotFound("no claude"), ClaudeError, 1),
        (StreamLineError("not a JSON object"), ClaudeError, 1),
    ],
)
def test_each_error_sits_on_its_branch_with_its_exit_code(error: Exception, branch: type, code: int) -> None:
    assert isinstance(error, branch)
    assert exit_code_of(error) == code == type(error).exit_code  # type: ignore[attr-defined]


def test_built_in_bases_are_kept_for_code_that_catches_them() -> None:
    assert issubclass(EnvelopeError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(AppServerClosed, ConnectionError) and issubclass(CommandError, RuntimeError)


def test_the_cli_maps_a_branch_to_its_exit_code(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """An unknown task is input (2); a refused command on a task that exists is 1 — one except each."""
    import subprocess

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    assert main(["--repo", str(repo), "init"]) == 0
    assert main(["--repo", str(repo), "show", "no-such-task-0000"]) == 2
    assert "no-such-task-0000" in capsys.readouterr().err
    assert main(["--repo", str(repo), "archive", "--older-than", "soon"]) == 2
    assert "--older-than" in capsys.readouterr().err

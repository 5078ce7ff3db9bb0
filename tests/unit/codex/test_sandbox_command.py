"""The ``codex sandbox`` command line and environment: workspace-write with the network off and the
cockpit's confinement, the command after ``--`` as given, and no secret of the cockpit's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.core.codex.sandbox import sandbox_argv, sandbox_env, sandbox_works


def test_the_command_line() -> None:
    argv = sandbox_argv(Path("/bin/codex"), ["bash", "-c", "echo $HOME; rm -rf /"], scratch=Path("/s"))
    assert argv[:4] == ["/bin/codex", "sandbox", "-c", 'sandbox_mode="workspace-write"']
    overrides = argv[4 : argv.index("--")]
    assert overrides == [
        "-c",
        "sandbox_workspace_write.network_access=false",
        "-c",
        "sandbox_workspace_write.exclude_slash_tmp=true",
        "-c",
        "sandbox_workspace_write.exclude_tmpdir_env_var=true",
        "-c",
        'sandbox_workspace_write.writable_roots=["/s"]',
    ]
    assert argv[argv.index("--") + 1 :] == ["bash", "-c", "echo $HOME; rm -rf /"]


@pytest.mark.parametrize("command", [[], ["a\x00b"]])
def test_refused_commands(command: list[str]) -> None:
    with pytest.raises(ValueError):
        sandbox_argv(Path("/bin/codex"), command, scratch=Path("/s"))


def test_the_environment_keeps_no_secrets() -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "OPENAI_API_KEY": "sk-x",
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "GITHUB_TOKEN": "ghp_x",
        "CODEX_HOME": "/home/u/.codex",
        "SSH_AUTH_SOCK": "/run/agent",
    }
    env = sandbox_env(scratch=Path("/s"), codex_home=Path("/j/codex-home"), base=base)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "TMPDIR": "/s",
        "XDG_CACHE_HOME": "/s/.cache",
        "CODEX_HOME": "/j/codex-home",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "CI": "1",
    }


@pytest.mark.codex
def test_the_sandbox_check_leaves_nothing_in_tmpdir(
    codex_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # codex sandbox keeps a directory of its own in TMPDIR: the check's TMPDIR is its own temporary one.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    ok, detail = sandbox_works(codex_bin)
    assert ok, detail
    assert list(tmp_path.iterdir()) == []

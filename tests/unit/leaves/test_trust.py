"""Programs come only from trusted places: the environment, the user's config, or a trusted board config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.codex import binary as codex_binary
from cockpit.core.codex.binary import CodexNotFound, find_codex
from cockpit.core.config import UntrustedSetting, board_config
from cockpit.core.trust import is_trusted, trust_file, user_config_path

COCKPIT = Path(sys.executable).parent / "cockpit"


def cockpit(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COCKPIT), "--repo", str(repo), *args], capture_output=True, text=True, timeout=120, env=env
    )


def planted(repo: Path) -> Path:
    """What a worker (or the repository itself) would leave: a script posing as Codex."""
    evil = repo / ".evil-codex"
    evil.write_text(f"#!/bin/sh\ntouch {repo / 'PLANTED-RAN'}\n")
    evil.chmod(0o755)
    return evil


@pytest.mark.codex
def test_an_untrusted_board_config_may_not_name_the_codex_binary(repo: Path, codex_bin: Path) -> None:
    board = Blackboard(repo)
    config_file = board.root / "config.toml"
    config_file.write_text(f'codex_bin = "{planted(repo)}"\nmax_workers = 2\n')
    config = board_config(board)
    assert config.max_workers == 2  # the rest of the file still applies
    with pytest.raises(UntrustedSetting, match="codex_bin"):
        config.trusted("codex_bin")

    out = cockpit(repo, "run", "--until-idle")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "codex_bin" in out.stderr and "cockpit trust" in out.stderr
    assert not (repo / "PLANTED-RAN").exists()
    doctor = cockpit(repo, "doctor")
    assert "FAIL  trust" in doctor.stdout and doctor.returncode == 1

    # The user looks at the file and trusts it (here pointing at the real binary).
    config_file.write_text(f'codex_bin = "{codex_bin}"\n')
    out = cockpit(repo, "trust")
    assert out.returncode == 0 and "runs code: codex_bin" in out.stdout
    assert board_config(board).trusted("codex_bin") == str(codex_bin)
    assert cockpit(repo, "run", "--until-idle").returncode == 0

    # A changed file is untrusted again.
    config_file.write_text(f'codex_bin = "{planted(repo)}"\n')
    assert not is_trusted(config_file)
    assert cockpit(repo, "run", "--until-idle").returncode == 2
    assert not (repo / "PLANTED-RAN").exists()
    assert cockpit(repo, "trust", "--revoke").returncode == 0


def test_the_users_own_config_is_trusted(repo: Path, codex_bin: Path) -> None:
    user_config_path().parent.mkdir(parents=True, exist_ok=True)
    user_config_path().write_text(f'codex_bin = "{codex_bin}"\nmax_workers = 1\n')
    config = board_config(Blackboard(repo))
    assert config.trusted("codex_bin") == str(codex_bin) and config.max_workers == 1
    # The board's file still wins for settings that run no code.
    (Blackboard(repo).root / "config.toml").write_text("max_workers = 2\n")
    assert board_config(Blackboard(repo)).max_workers == 2


def test_trust_is_recorded_outside_the_repository(repo: Path) -> None:
    config_file = Blackboard(repo).root / "config.toml"
    config_file.write_text("merge_runs_hooks = true\n")
    with pytest.raises(UntrustedSetting, match="merge_runs_hooks"):
        board_config(Blackboard(repo)).trusted("merge_runs_hooks")
    trust_file(config_file)
    assert board_config(Blackboard(repo)).trusted("merge_runs_hooks") is True
    assert not user_config_path().parent.is_relative_to(repo)


def test_a_binary_inside_the_repository_is_never_found_implicitly(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_project = tmp_path / "cockpit-install"
    fake_project.mkdir()
    monkeypatch.setattr(codex_binary, "PROJECT_ROOT", fake_project)
    monkeypatch.setenv("PATH", str(repo / "bin"))
    monkeypatch.delenv("COCKPIT_CODEX_BIN", raising=False)
    (repo / "bin").mkdir()
    evil = planted(repo)
    (repo / "bin" / "codex").symlink_to(evil)
    key = (codex_binary.platform.system(), codex_binary.platform.machine())
    pkg, triple = codex_binary._TARGETS[key]  # the layout the pinned package uses on this machine
    nested = repo / "node_modules" / "@openai" / f"codex-{pkg}" / "vendor" / triple / "bin"
    nested.mkdir(parents=True)
    (nested / "codex").symlink_to(evil)
    with pytest.raises(CodexNotFound):
        find_codex(None, repo)

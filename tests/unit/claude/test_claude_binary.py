"""Finding Claude Code like Codex: ``COCKPIT_CLAUDE_BIN``, a trusted ``claude_bin``, the cockpit's own
``node_modules`` (the platform package's native executable, the wrapper once its postinstall ran, an
older ``cli.js`` through node), ``PATH`` — never inside the repository; the pin is one version everywhere;
``cockpit doctor`` reports it, a missing one as a warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cockpit.cli.main import main as cockpit_main
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.claude import binary as claude_binary
from cockpit.core.claude.binary import (
    PINNED_VERSION,
    PROJECT_ROOT,
    ClaudeBinary,
    ClaudeNotFound,
    find_claude,
    is_native_executable,
)
from cockpit.core.config import CODE_SETTINGS, UntrustedSetting, board_config
from cockpit.core.doctor import Check, claude_check, run_checks
from cockpit.core.errors import ClaudeError, exit_code_of

ELF = b"\x7fELF\x02\x01\x01\x00"
NODE = shutil.which("node")  # looked up before a test empties PATH
GIT = shutil.which("git") or "git"


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def native(path: Path) -> Path:
    """A file that starts like an ELF executable (never run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ELF + b"\x00" * 56)
    path.chmod(0o755)
    return path


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Claude Code anywhere: an empty project root, an empty PATH, no COCKPIT_CLAUDE_BIN."""
    project = tmp_path / "cockpit-install"
    (project / "node_modules").mkdir(parents=True)
    monkeypatch.setattr(claude_binary, "PROJECT_ROOT", project)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.delenv("COCKPIT_CLAUDE_BIN", raising=False)
    return project


def platform_dir(project: Path) -> Path:
    key = (claude_binary.platform.system(), claude_binary.platform.machine())
    suffix = claude_binary._PLATFORMS[key][0]  # the layout npm uses on this machine
    return project / "node_modules" / "@anthropic-ai" / f"claude-code-{suffix}"


def test_the_pin_is_the_same_in_package_json_the_lock_file_and_the_code() -> None:
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert manifest["dependencies"]["@anthropic-ai/claude-code"] == PINNED_VERSION
    assert lock["packages"][""]["dependencies"]["@anthropic-ai/claude-code"] == PINNED_VERSION
    assert lock["packages"]["node_modules/@anthropic-ai/claude-code"]["version"] == PINNED_VERSION
    assert "claude_bin" in CODE_SETTINGS


def test_nothing_found_names_every_place_and_the_fix(nowhere: Path) -> None:
    with pytest.raises(ClaudeNotFound) as raised:
        find_claude("/no/such/claude")
    message = str(raised.value)
    assert "config claude_bin=/no/such/claude (missing)" in message and "PATH" in message
    assert f"@anthropic-ai/claude-code@{PINNED_VERSION}" in message and "COCKPIT_CLAUDE_BIN" in message
    assert isinstance(raised.value, ClaudeError) and exit_code_of(raised.value) == 1


def test_the_order_is_env_config_node_modules_path(
    nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = script(tmp_path / "bin" / "claude", "echo path")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_claude().source == "path"
    installed = native(platform_dir(nowhere) / "claude")
    assert find_claude() == ClaudeBinary(installed.resolve(), "node_modules")
    configured = script(tmp_path / "configured-claude", "echo config")
    assert find_claude(str(configured)) == ClaudeBinary(configured.resolve(), "config")
    named = script(tmp_path / "env-claude", "echo env")
    monkeypatch.setenv("COCKPIT_CLAUDE_BIN", str(named))
    assert find_claude(str(configured)) == ClaudeBinary(named.resolve(), "env")
    monkeypatch.setenv("COCKPIT_CLAUDE_BIN", str(tmp_path / "gone"))
    assert find_claude(str(configured)).source == "config"  # a missing env binary is passed over


def test_the_wrapper_counts_only_once_its_stub_was_replaced(nowhere: Path) -> None:
    wrapper = nowhere / "node_modules" / "@anthropic-ai" / "claude-code"
    stub = script(wrapper / "bin" / "claude.exe", 'echo "Error: claude native binary not installed." >&2')
    assert not is_native_executable(stub)
    with pytest.raises(ClaudeNotFound):
        find_claude()
    native(stub)  # what the postinstall does: the native executable over the stub
    assert find_claude() == ClaudeBinary(stub.resolve(), "node_modules")


def test_an_older_cli_js_runs_through_node(
    nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = NODE
    if node is None:
        pytest.skip("no node on PATH")
    cli_js = nowhere / "node_modules" / "@anthropic-ai" / "claude-code" / "cli.js"
    cli_js.parent.mkdir(parents=True)
    cli_js.write_text('console.log("1.0.100 (Claude Code)")\n')
    monkeypatch.setenv("PATH", str(Path(node).parent))
    found = find_claude()
    assert found.source == "node_modules" and found.argv == [node, str(cli_js)]
    assert found.version() == "1.0.100"
    monkeypatch.setenv("COCKPIT_CLAUDE_BIN", str(cli_js))
    assert find_claude().argv == [node, str(cli_js.resolve())]  # a named .js too


def test_a_cli_inside_the_repository_is_never_found_implicitly(
    nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    planted = script(repo / "bin" / "claude", f"touch {repo / 'PLANTED-RAN'}")
    monkeypatch.setenv("PATH", str(planted.parent))
    monkeypatch.setattr(claude_binary, "PROJECT_ROOT", repo)  # the cockpit installed inside the repository
    native(platform_dir(repo) / "claude")
    with pytest.raises(ClaudeNotFound) as raised:
        find_claude(None, repo)
    assert "inside the repository: refused" in str(raised.value)
    assert find_claude(None, None).source == "node_modules"  # with no repository to guard, it is found


def test_an_untrusted_board_config_may_not_name_claude(repo: Path) -> None:
    board = Blackboard(repo)
    (board.root / "config.toml").write_text(f'claude_bin = "{repo / "evil"}"\n')
    config = board_config(board)
    with pytest.raises(UntrustedSetting, match="claude_bin"):
        config.trusted("claude_bin")


def test_doctor_reports_claude_where_and_which_version(nowhere: Path, tmp_path: Path) -> None:
    pinned = script(tmp_path / "claude-pinned", f'echo "{PINNED_VERSION} (Claude Code)"')
    check = claude_check(str(pinned), tmp_path / "repo")
    assert check == Check("claude", True, f"{pinned} (config) version {PINNED_VERSION}")
    assert not check.fails
    other = script(tmp_path / "claude-other", 'echo "9.9.9 (Claude Code)"')
    check = claude_check(str(other), tmp_path / "repo")
    assert not check.ok and check.warning and not check.fails
    assert check.detail.endswith(f"version 9.9.9; the cockpit is pinned to {PINNED_VERSION}")


def test_doctor_warns_when_claude_is_missing_and_review_is_on(nowhere: Path, tmp_path: Path) -> None:
    check = claude_check(None, tmp_path / "repo")  # the default [review] lanes
    assert check.name == "claude" and not check.ok and check.warning and not check.fails
    assert check.detail.startswith(
        "reviews of the worktree, mcp, cloud lanes will fail until Claude Code is "
    )
    assert "`npm ci` in " in check.detail and "COCKPIT_CLAUDE_BIN" in check.detail
    assert "claude_bin" in check.detail and "[review] lanes = []" in check.detail
    assert "Claude Code not found" in check.detail  # and where it looked
    one = claude_check(None, tmp_path / "repo", ["worktree"])
    assert one.detail.startswith("reviews of the worktree lane will fail")
    assert Check("codex", False, "x").fails


def test_doctor_only_says_claude_is_missing_when_review_is_off(nowhere: Path, tmp_path: Path) -> None:
    check = claude_check(None, tmp_path / "repo", [])
    assert check.ok and not check.warning and not check.fails
    assert check.detail.startswith("not needed: review is off ([review] lanes = []); Claude Code not found")


def test_doctor_reads_the_review_lanes_from_the_config(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tests' user config turns review off; a board config turning it on makes the warning."""
    project = tmp_path / "cockpit-install"  # no Claude Code where find_claude looks
    (project / "node_modules").mkdir(parents=True)
    monkeypatch.setattr(claude_binary, "PROJECT_ROOT", project)
    monkeypatch.delenv("COCKPIT_CLAUDE_BIN", raising=False)
    tools = tmp_path / "git-only"  # doctor runs git; nothing else is on PATH
    tools.mkdir()
    (tools / "git").symlink_to(GIT)
    monkeypatch.setenv("PATH", str(tools))
    (off,) = [c for c in run_checks(repo, check_sandbox=False) if c.name == "claude"]
    assert off.ok and off.detail.startswith("not needed: review is off")
    (Blackboard(repo).root / "config.toml").write_text('[review]\nlanes = ["worktree", "mcp"]\n')
    (on,) = [c for c in run_checks(repo, check_sandbox=False) if c.name == "claude"]
    assert on.warning and on.detail.startswith("reviews of the worktree, mcp lanes will fail")
    cockpit_main(["--repo", str(repo), "doctor"])
    out = capsys.readouterr().out
    assert "warn  claude     reviews of the worktree, mcp lanes will fail" in out


@pytest.mark.claude
def test_the_pinned_cli_is_installed_and_reports_its_version() -> None:
    """The project's own ``npm ci`` put the pinned CLI where find_claude looks (no env override)."""
    found = claude_binary.binary_in(PROJECT_ROOT / "node_modules")
    assert found is not None, "Run `npm ci` in the project root to install the pinned Claude Code."
    assert found.version() == PINNED_VERSION

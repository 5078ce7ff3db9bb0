"""The one search order both program finders use (``cockpit.core.programs``): env, config, the cockpit's
own ``node_modules``, ``PATH``; never inside the repository; one not-found message naming every place
and the fix; one reading of ``--version``. The finders' own cases: ``tests/unit/claude/
test_claude_binary.py`` and ``tests/unit/leaves/test_trust.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.core.programs import Program, find_program, inside, parse_version, reported_version


@dataclass(frozen=True)
class Tool:
    path: Path
    source: str


class ToolNotFound(RuntimeError):
    pass


def executable(path: Path, body: str = "echo 'tool 1.2.3'") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _installed(where: Path) -> Tool | None:
    found = where / "tool"
    return Tool(found, "node_modules") if found.is_file() else None


def _named(path: Path, source: str) -> Tool | None:
    return Tool(path, source) if path.is_file() else None


TOOL = Program(
    name="Tool",
    command="cockpit-test-tool",
    env_var="COCKPIT_TOOL_BIN",
    setting="tool_bin",
    package="@x/tool",
    pinned="1.2.3",
    installed=_installed,
    named=_named,
    not_found=ToolNotFound,
)


def find(config_bin: str | None, node_modules: Path, repo: Path | None = None) -> Tool:
    return find_program(TOOL, config_bin, repo, node_modules)


def test_env_then_config_then_node_modules_then_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node_modules = tmp_path / "node_modules"
    monkeypatch.delenv("COCKPIT_TOOL_BIN", raising=False)
    on_path = executable(tmp_path / "bin" / "cockpit-test-tool")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find(None, node_modules) == Tool(on_path, "path")
    installed = executable(node_modules / "tool")
    assert find(None, node_modules) == Tool(installed, "node_modules")
    configured = executable(tmp_path / "configured")
    assert find(str(configured), node_modules) == Tool(configured, "config")
    monkeypatch.setenv("COCKPIT_TOOL_BIN", str(executable(tmp_path / "env")))
    assert find(str(configured), node_modules).source == "env"
    monkeypatch.setenv("COCKPIT_TOOL_BIN", str(tmp_path / "gone"))
    assert find(str(configured), node_modules).source == "config"  # a missing one is passed over


def test_nothing_inside_the_repository_and_a_message_naming_every_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    planted = executable(repo / "bin" / "cockpit-test-tool")
    executable(repo / "node_modules" / "tool")
    monkeypatch.setenv("PATH", str(planted.parent))
    monkeypatch.setenv("COCKPIT_TOOL_BIN", str(tmp_path / "gone"))
    with pytest.raises(ToolNotFound) as raised:
        find("/no/such/tool", repo / "node_modules", repo)
    assert str(raised.value) == (
        f"Tool not found (looked at: COCKPIT_TOOL_BIN={tmp_path / 'gone'} (missing); "
        f"config tool_bin=/no/such/tool (missing); {repo / 'node_modules'} (inside the repository: refused); "
        "PATH). Run `npm ci` in the project to install the pinned @x/tool@1.2.3, or set COCKPIT_TOOL_BIN."
    )
    assert find(None, repo / "node_modules").source == "node_modules"  # no repository to guard
    assert inside(repo / "bin" / ".." / "bin", repo) and not inside(tmp_path, repo) and not inside(repo, None)


def test_versions_are_read_from_what_the_program_prints(tmp_path: Path) -> None:
    assert parse_version("2.1.197 (Claude Code)\n") == "2.1.197"
    assert parse_version("codex-cli 0.171.0\n") == "0.171.0"
    assert parse_version("claude 3.0.0-beta.1") == "3.0.0-beta.1"
    assert parse_version("") == parse_version("no version here") == "unknown"
    assert reported_version([str(executable(tmp_path / "tool"))]) == "1.2.3"
    assert reported_version([str(executable(tmp_path / "quiet", "echo 'v 4.5.6' >&2"))]) == "4.5.6"

"""The reviewer's command line, environment additions, prompt and inputs (no process is started)."""

from __future__ import annotations

import shlex
from pathlib import Path

from cockpit.core.claude.binary import ClaudeBinary
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.review.reviewer import (
    MAX_RETRIES,
    claude_effort,
    review_prompt,
    reviewer_argv,
    reviewer_env,
    write_inputs,
    write_sandbox_runner,
)
from cockpit.core.review.verdict import REVIEW_FORMAT


def test_argv_is_headless_read_only_and_ends_with_the_prompt(tmp_path: Path):
    claude = ClaudeBinary(Path("/opt/claude"), "env")
    argv = reviewer_argv(claude, "PROMPT", inputs=tmp_path / "inputs", model="claude-x", effort="minimal")
    assert argv[:7] == [
        "/opt/claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--no-session-persistence",
        "--tools",
    ]
    assert argv[7] == "Read,Grep,Glob,Bash"
    assert argv[-2:] == ["--", "PROMPT"]
    assert f"--add-dir={tmp_path / 'inputs'}" in argv
    allowed = [a for a in argv if a.startswith("--allowedTools=")]
    assert allowed == [f"--allowedTools=Bash({tmp_path / 'inputs' / 'run-in-sandbox'}:*)"]
    assert argv[argv.index("--model") + 1] == "claude-x"
    assert argv[argv.index("--effort") + 1] == "low"
    assert argv[8:11] == ["--setting-sources", "user", "--strict-mcp-config"]
    for flag in ("--dangerously-skip-permissions", "--permission-mode", "--bare"):
        assert flag not in argv


def test_effort_levels_and_defaults():
    assert [claude_effort(e) for e in ("none", "minimal", "low", "medium", "high", "xhigh")] == [
        "low",
        "low",
        "low",
        "medium",
        "high",
        "xhigh",
    ]
    assert claude_effort(None) is None
    argv = reviewer_argv(ClaudeBinary(Path("/c"), "env"), "P", inputs=Path("/i"))
    assert "--model" not in argv and "--effort" not in argv


def test_env_adds_only_what_is_needed_and_keeps_a_lower_retry_budget():
    added = reviewer_env({"ANTHROPIC_API_KEY": "k", "HOME": "/h"})
    assert added == {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(MAX_RETRIES),
    }
    assert "CLAUDE_CODE_MAX_RETRIES" not in reviewer_env({"CLAUDE_CODE_MAX_RETRIES": "0"})
    assert reviewer_env({"CLAUDE_CODE_MAX_RETRIES": "10"})["CLAUDE_CODE_MAX_RETRIES"] == str(MAX_RETRIES)
    extra = reviewer_env({}, {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert extra["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"


def test_prompt_gives_paths_not_contents(tmp_path: Path):
    envelope = envelope_from_mapping(
        {"goal": "Add subtract", "title": "sub", "acceptance_criteria": ["subtract(3, 1) == 2"]}
    )
    secret_diff = "+def subtract(a, b):\n+    return a - b  # DIFF-BODY\n"
    inputs = write_inputs(tmp_path, envelope, secret_diff)
    prompt = review_prompt(task_id="sub-1a2b", title="sub", round_n=2, try_n=1, inputs=inputs)
    assert prompt.startswith("Review round 2, try 1, of task sub-1a2b.")
    for path in (inputs.envelope, inputs.diff, inputs.acceptance):
        assert str(path) in prompt and path.is_file()
    assert "DIFF-BODY" not in prompt and "subtract(3, 1)" not in prompt
    assert prompt.rstrip().endswith(REVIEW_FORMAT.rstrip())
    assert inputs.diff.read_text() == secret_diff
    assert "- subtract(3, 1) == 2" in inputs.acceptance.read_text()
    assert '"goal": "Add subtract"' in inputs.envelope.read_text()


def test_the_sandbox_runner_runs_its_arguments_under_codex_sandbox_with_a_bare_environment(tmp_path: Path):
    runner = write_sandbox_runner(
        tmp_path, Path("/opt/codex"), scratch=tmp_path / "scratch", codex_home=tmp_path / "home"
    )
    script = runner.read_text()
    assert script.startswith("#!/bin/sh\n") and runner.stat().st_mode & 0o100
    words = shlex.split(script.splitlines()[-1])
    assert words[:2] == ["exec", "env"] and words[2] == "-i"
    at = words.index("/opt/codex")
    assert words[at : at + 4] == ["/opt/codex", "sandbox", "-c", 'sandbox_mode="workspace-write"']
    assert "sandbox_workspace_write.network_access=false" in words and words[-2:] == ["--", "$@"]
    env = dict(w.split("=", 1) for w in words[3:at])
    assert env["TMPDIR"] == str(tmp_path / "scratch") and env["CODEX_HOME"] == str(tmp_path / "home")
    assert not any(k.startswith(("ANTHROPIC", "OPENAI", "CLAUDE")) for k in env)
    assert (tmp_path / "scratch").is_dir() and (tmp_path / "home").is_dir()

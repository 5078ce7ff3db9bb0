"""Worker prompt: paths not contents, always under 8K tokens, always the output protocol; outcome parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.core.envelope.formats import load_envelope
from cockpit.core.envelope.model import Envelope, envelope_from_mapping
from cockpit.core.envelope.paths import check_paths
from cockpit.core.envelope.prompt import (
    MAX_PROMPT_TOKENS,
    estimate_tokens,
    parse_outcome,
    render_followup_prompt,
    render_prompt,
)
from cockpit.core.records.attempt import Outcome

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "envelopes"
PROTOCOL = "The FIRST line of your final message must be `COMPLETED: …`, `FAILED: …` or `BLOCKED: …`."


def _env(**fields: Any) -> Envelope:
    return envelope_from_mapping({"goal": "Fix the login bug.", **fields})


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_prompt_renders_every_part_of_the_envelope() -> None:
    env = load_envelope(FIXTURES / "full.toml")
    prompt = render_prompt(env, "t-0001")
    assert prompt.startswith("# Task t-0001: Status JSON\n")
    for fragment in (
        "## Goal\nAdd a --json flag to cockpit status.",
        "- cockpit status --json prints one JSON object per task",
        "- `cli/status.py` — the status command",
        "- `core/state.py` — task state model",
        "Risk level: medium",
        "Sandbox: workspace-write; network access: off",
        "- shell",
        "- editing files outside cli/",
        "at most 10 tool calls, about 50000 tokens, 20m wall time, about $0.50",
        "## Checkpoint\nnotes in .notes/status.md after the flag parses",
        "- 3 consecutive failures on the same step",
        "Write the result to `reports/status-json.md` (format: markdown).",
        PROTOCOL,
        "`~/.ssh/`",
    ):
        assert fragment in prompt, fragment
    assert estimate_tokens(prompt) < MAX_PROMPT_TOKENS


def test_lightweight_prompt_omits_empty_sections() -> None:
    prompt = render_prompt(load_envelope(FIXTURES / "lightweight.md"), "t-2")
    assert "## Acceptance criteria" not in prompt
    assert "## Budget" not in prompt
    assert "## Checkpoint" not in prompt
    assert "## Forbidden" not in prompt
    assert "## Stop conditions" in prompt
    assert PROTOCOL in prompt


def test_prompt_contains_paths_but_never_file_contents(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    secret_line = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    (repo / "config" / "settings.py").write_text(f"# settings\n{secret_line}\nDEBUG = False\n")
    env = check_paths(_env(inputs=["config/settings.py — runtime settings"], output="out/r.md"), repo)
    prompt = render_prompt(env, "t-3")
    assert str(repo.resolve() / "config" / "settings.py") in prompt
    assert "runtime settings" in prompt
    assert secret_line not in prompt
    assert "wJalrXUtnFEMI" not in prompt
    assert "DEBUG = False" not in prompt


def test_five_thousand_inputs_are_trimmed_below_the_token_limit() -> None:
    inputs = [f"src/pkg{i // 100}/module_{i}.py — module number {i} of the package" for i in range(5000)]
    env = _env(inputs=inputs, acceptance_criteria=["tests pass"], stop_if="3 failures", output="r.md")
    prompt = render_prompt(env, "t-4")
    assert estimate_tokens(prompt) < MAX_PROMPT_TOKENS
    match = re.search(r"^… and (\d+) more inputs \(see envelope\)$", prompt, re.MULTILINE)
    assert match is not None
    shown = prompt.count("- `src/pkg")
    assert shown > 100
    assert shown + int(match.group(1)) == 5000
    # Small lists survive in full next to the huge one, and the protocol is still there.
    assert "- tests pass" in prompt and "- 3 failures" in prompt
    assert prompt.rstrip().endswith("Can continue with.")
    assert PROTOCOL in prompt


def test_more_line_names_the_envelope_file_when_given() -> None:
    env = _env(inputs=[f"f{i}.py" for i in range(20000)])
    prompt = render_prompt(env, "t-5", envelope_path=".cockpit/tasks/t-5/envelope.json")
    assert "more inputs (see envelope: .cockpit/tasks/t-5/envelope.json)" in prompt


def test_huge_everything_still_fits() -> None:
    env = envelope_from_mapping(
        {
            "goal": "g" * 50_000,
            "title": "T" * 900,
            "acceptance_criteria": ["c" * 1000] * 3000,
            "inputs": [{"path": "p" * 1000, "summary": "s" * 1000}] * 3000,
            "allowed_tools": ["t" * 500] * 3000,
            "forbidden": ["f" * 900] * 3000,
            "stop_conditions": ["s" * 800] * 3000,
            "checkpoint": "k" * 9000,
            "output_protocol": "o" * 9000,
            "output": {"path": "x" * 4000, "format": "y" * 300},
        }
    )
    prompt = render_prompt(env, "z" * 500)
    assert estimate_tokens(prompt) < MAX_PROMPT_TOKENS
    assert PROTOCOL in prompt
    assert "[truncated]" in prompt
    for noun in ("criteria", "inputs", "tools", "items", "stop conditions"):
        assert re.search(rf"… and \d+ more {noun} \(see envelope\)", prompt), noun


@settings(max_examples=40, deadline=None)
@given(
    n_inputs=st.integers(min_value=0, max_value=3000),
    n_criteria=st.integers(min_value=0, max_value=500),
    item_len=st.integers(min_value=1, max_value=600),
    goal_len=st.integers(min_value=1, max_value=20_000),
)
def test_prompt_is_always_under_the_limit(
    n_inputs: int, n_criteria: int, item_len: int, goal_len: int
) -> None:
    env = envelope_from_mapping(
        {
            "goal": "g" * goal_len,
            "inputs": [
                {"path": f"p{i}/" + "q" * item_len, "summary": "s" * item_len} for i in range(n_inputs)
            ],
            "acceptance_criteria": ["c" * item_len] * n_criteria,
            "stop_conditions": ["x"],
        }
    )
    prompt = render_prompt(env, "t")
    assert estimate_tokens(prompt) < MAX_PROMPT_TOKENS
    assert PROTOCOL in prompt
    assert "- x" in prompt


def test_custom_output_protocol_keeps_the_rule() -> None:
    prompt = render_prompt(_env(output_protocol="Also list the files you changed."), "t-6")
    assert PROTOCOL in prompt
    assert "Also list the files you changed." in prompt


def test_multiline_items_and_summaries_become_one_line() -> None:
    env = _env(acceptance_criteria=["first\nsecond"], inputs=[{"path": "a.py", "summary": "one\ntwo"}])
    prompt = render_prompt(env, "t-7")
    assert "- first second" in prompt
    assert "- `a.py` — one two" in prompt


def test_followup_prompt_is_a_short_digest() -> None:
    env = load_envelope(FIXTURES / "full.toml")
    prompt = render_followup_prompt(
        env, "t-8", "test_status_json fails: missing 'id' key", "FAILED: tests fail\nType: logic"
    )
    assert "test_status_json fails: missing 'id' key" in prompt
    assert "`FAILED: tests fail`" in prompt
    assert "Type: logic" not in prompt
    assert "reports/status-json.md" in prompt
    assert PROTOCOL in prompt
    assert "cli/status.py" not in prompt  # the thread already has the envelope
    assert len(prompt) < len(render_prompt(env, "t-8"))


def test_followup_prompt_caps_huge_feedback() -> None:
    prompt = render_followup_prompt(_env(), "t-9", "log line\n" * 100_000, None)
    assert estimate_tokens(prompt) < MAX_PROMPT_TOKENS
    assert PROTOCOL in prompt
    assert "previous result" not in prompt


@pytest.mark.parametrize(
    ("message", "status", "detail"),
    [
        ("COMPLETED: added the flag", "COMPLETED", "added the flag"),
        ("FAILED: tests fail\nType: logic", "FAILED", "tests fail"),
        ("BLOCKED: need the API key", "BLOCKED", "need the API key"),
        ("completed: lower case", "COMPLETED", "lower case"),
        ("Blocked: mixed case", "BLOCKED", "mixed case"),
        ("**COMPLETED:** bold status", "COMPLETED", "bold status"),
        ("**COMPLETED: bold line**", "COMPLETED", "bold line"),
        ("**FAILED**: bold word", "FAILED", "bold word"),
        ("# COMPLETED: heading", "COMPLETED", "heading"),
        ("## BLOCKED: deeper heading", "BLOCKED", "deeper heading"),
        ("- FAILED: bullet", "FAILED", "bullet"),
        ("\n\n   COMPLETED: after blank lines\nmore", "COMPLETED", "after blank lines"),
        ("COMPLETED:", "COMPLETED", ""),
        ("COMPLETED : spaced colon", "COMPLETED", "spaced colon"),
    ],
)
def test_parse_outcome_accepts_protocol_lines(message: str, status: str, detail: str) -> None:
    assert parse_outcome(message) == Outcome(status=status, detail=detail)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        (None, ""),
        ("", ""),
        ("   \n\n", ""),
        ("Done! COMPLETED: later on the line", "Done! COMPLETED: later on the line"),
        ("All good.\nCOMPLETED: on the second line", "All good."),
        ("COMPLETEDX: not the word", "COMPLETEDX: not the word"),
        ("COMPLETED without a colon", "COMPLETED without a colon"),
        ("SUCCESS: other word", "SUCCESS: other word"),
    ],
)
def test_parse_outcome_rejects_everything_else(message: str | None, detail: str) -> None:
    assert parse_outcome(message) == Outcome(status=None, detail=detail)


def test_the_worker_is_told_not_to_weaken_tests_unless_the_envelope_allows_it() -> None:
    strict = render_prompt(envelope_from_mapping({"goal": "Fix the parser"}), "fix-0001")
    allowed = render_prompt(
        envelope_from_mapping({"goal": "Fix the parser", "allow_test_changes": True}), "fix-0001"
    )
    assert "Do not weaken tests" in strict and "Do not weaken tests" not in allowed

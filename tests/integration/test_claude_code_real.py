"""The real Claude Code CLI (the pinned one) headless against the scripted Messages API server: a plain
answer, a Bash tool round trip, overload and rate-limit retries, a broken stream, a rejected key, and,
logged in as a subscription would be, the ``rate_limit_event`` lines it prints. What
these pin is written up in ``docs/claude-code.md``. Every run is a second or two: retries are kept few
with ``CLAUDE_CODE_MAX_RETRIES`` or ``retry-after``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cockpit.core.claude.binary import PINNED_VERSION, ClaudeBinary
from cockpit.core.claude.stream import ApiRetry, TextBlock, ThinkingBlock
from cockpit.core.policy.review_failures import classify_review
from cockpit.core.records.attempt import FailureCode
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.usage.claude_limits import ClaudeLimitsStore, RateLimitLines
from cockpit.demo.scripted_claude import API_KEY, OAUTH_TOKEN, Scenario, ScriptedClaude
from tests.helpers.claude import ClaudeRun, run_claude
from tests.helpers.claude import claude_env as make_claude_env

pytestmark = pytest.mark.claude

TOOLS = ("--tools", "Bash,Read")  # a small tool list keeps each request small


def scenario(*responses: dict[str, Any], match: str = "") -> Scenario:
    return Scenario.model_validate({"name": "test", "match": match, "responses": list(responses)})


def say(text: str, **extra: Any) -> dict[str, Any]:
    return {"blocks": [{"kind": "text", "text": text}], **extra}


def assert_ok(run: ClaudeRun) -> None:
    assert run.exit_code == 0 and not run.timed_out, run.describe()
    assert run.stream.malformed == 0 and not run.stream.unknown, run.describe()
    assert run.stream.result is not None and not run.stream.result.is_error, run.describe()


def test_a_plain_answer(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        scenario(
            {
                "blocks": [
                    {"kind": "thinking", "text": "The user wants a greeting."},
                    {"kind": "text", "text": "Hello from the script."},
                ],
                "usage": {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 200},
            }
        )
    )
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "say hello", *TOOLS)
    assert_ok(run)
    # Thinking deltas are counted as they stream (system/thinking_tokens), then each block is a line.
    types = run.line_types
    assert types[0] == "system/init" and types[-3:] == ["assistant", "assistant", "result"], types
    assert set(types[1:-3]) == {"system/thinking_tokens"}, types
    init = run.stream.init
    assert (
        init is not None
        and init.claude_code_version == PINNED_VERSION
        and init.api_key_source == "ANTHROPIC_API_KEY"
    )
    assert init.tools == ["Bash", "Read"] and init.cwd == str(tmp_path / "work")
    blocks = run.stream.assistant_blocks()
    assert isinstance(blocks[0], ThinkingBlock) and blocks[0].thinking == "The user wants a greeting."
    assert isinstance(blocks[1], TextBlock) and blocks[1].text == "Hello from the script."
    result = run.stream.result
    assert result is not None
    assert result.subtype == "success" and result.result == "Hello from the script." and result.num_turns == 1
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cache_read_input_tokens) == (
        1000,
        50,
        200,
    )
    assert result.total_cost_usd > 0 and result.stop_reason == "end_turn"

    # What it asked: a connectivity HEAD, then one streamed POST /v1/messages with the dummy key.
    assert [(r.method, r.path) for r in scripted_claude.requests] == [("HEAD", "/"), ("POST", "/v1/messages")]
    (request,) = scripted_claude.message_requests()
    assert request.streamed and request.session_id == result.session_id
    assert request.headers["x-api-key"] == API_KEY and request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["user-agent"].startswith(f"claude-cli/{PINNED_VERSION} ")
    assert request.user_texts()[-1] == "say hello" and request.tool_names() == ["Bash", "Read"]


def test_a_bash_tool_round_trip(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        scenario(
            {
                "blocks": [
                    {"kind": "text", "text": "Writing the file."},
                    {"kind": "bash", "command": "echo made-by-bash > made.txt && cat made.txt && pwd"},
                ]
            },
            say("The file says made-by-bash."),
        )
    )
    work = tmp_path / "work"
    run = run_claude(claude_bin, claude_env, work, "write made.txt", *TOOLS, "--allowedTools=Bash")
    assert_ok(run)
    assert run.line_types == ["system/init", "assistant", "assistant", "user", "assistant", "result"]
    assert (work / "made.txt").read_text() == "made-by-bash\n"
    (use,) = run.stream.tool_uses()
    assert use.name == "Bash" and use.input["command"].startswith("echo made-by-bash")
    (tool_result,) = run.stream.tool_results()
    assert tool_result.tool_use_id == use.id and not tool_result.is_error
    assert tool_result.text == f"made-by-bash\n{work}"
    result = run.stream.result
    assert result is not None and result.num_turns == 2 and result.result == "The file says made-by-bash."
    assert result.permission_denials == []

    # The second request carries the tool's output back and consumed the second scripted response.
    first, second = scripted_claude.message_requests()
    assert (first.response_index, second.response_index) == (0, 1)
    (sent,) = second.tool_results()
    assert sent["tool_use_id"] == use.id and sent["content"] == f"made-by-bash\n{work}"


def test_a_write_without_permission_is_denied_not_fatal(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        scenario({"blocks": [{"kind": "bash", "command": "echo x > denied.txt"}]}, say("Could not write."))
    )
    work = tmp_path / "work"
    run = run_claude(claude_bin, claude_env, work, "try to write", *TOOLS)  # no --allowedTools
    assert_ok(run)
    assert not (work / "denied.txt").exists()
    (tool_result,) = run.stream.tool_results()
    assert tool_result.is_error and "blocked" in tool_result.text
    result = run.stream.result
    assert result is not None and [d.tool_name for d in result.permission_denials] == ["Bash"]


def test_overloaded_once_is_retried(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(scenario({"kind": "http_error", "status": 529}, say("Back again.")))
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    (retry,) = run.stream.retries
    assert (retry.attempt, retry.error_status, retry.error) == (1, 529, "overloaded")
    assert retry.max_retries == 10  # the default
    assert run.stream.text() == "Back again." and len(scripted_claude.message_requests()) == 2


def test_overloaded_three_times_gives_up(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        Scenario.model_validate(
            {
                "name": "busy",
                "match": "",
                "responses": [{"kind": "http_error", "status": 529}],
                "repeat_last": True,
            }
        )
    )
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert run.exit_code == 1, run.describe()
    # Three 529s in a row end the run although ten retries were allowed.
    assert [r.error_status for r in run.stream.retries] == [529, 529]
    assert len(scripted_claude.message_requests()) == 3
    result = run.stream.result
    assert result is not None and result.is_error and result.subtype == "success"
    assert result.api_error_status is None and "Repeated 529 Overloaded errors" in (result.result or "")
    assert result.total_cost_usd == 0 and result.num_turns == 1


def test_rate_limited_waits_for_retry_after(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    limited = {"kind": "http_error", "status": 429, "headers": {"retry-after": 1}}
    scripted_claude.add_scenario(scenario(limited, say("After the wait.")))
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    (retry,) = run.stream.retries
    assert isinstance(retry, ApiRetry) and (retry.error_status, retry.error) == (429, "rate_limit")
    assert retry.retry_delay_ms == 1000
    first, second = scripted_claude.message_requests()
    assert second.time - first.time >= 0.9


def test_a_stream_cut_inside_a_block_falls_back_to_a_whole_message(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        scenario({"kind": "drop", "partial": "half an ans"}, say("The whole answer."))
    )
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    assert run.stream.text() == "The whole answer." and not run.stream.retries
    first, second = scripted_claude.message_requests()
    assert first.streamed and not second.streamed  # the same request again, without "stream"


def test_a_stream_cut_between_blocks_is_taken_as_the_answer(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    """Whole blocks and then no message_delta/message_stop: the CLI answers with what it got, as a
    success, and only the result's missing stop_reason and zero usage tell."""
    dropped = {"kind": "drop", "blocks": [{"kind": "text", "text": "Cut short"}]}
    scripted_claude.add_scenario(scenario(dropped, say("never asked for")))
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    result = run.stream.result
    assert result is not None and result.result == "Cut short" and result.stop_reason is None
    assert result.usage.output_tokens == 0 and result.total_cost_usd == 0
    assert len(scripted_claude.message_requests()) == 1


def test_a_rejected_key_fails_with_exit_1(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(
        Scenario.model_validate(
            {
                "name": "bad-key",
                "match": "",
                "responses": [{"kind": "http_error", "status": 401, "message": "key not accepted"}],
                "repeat_last": True,
            }
        )
    )
    # A 401 is retried like any error (ten times by default, minutes of back-off): one retry here.
    env = {**claude_env, "CLAUDE_CODE_MAX_RETRIES": "1"}
    run = run_claude(claude_bin, env, tmp_path / "work", "hello", *TOOLS)
    assert run.exit_code == 1, run.describe()
    assert [(r.error_status, r.error) for r in run.stream.retries] == [(401, "authentication_failed")]
    assert len(scripted_claude.message_requests()) == 2
    result = run.stream.result
    assert result is not None and result.is_error and result.api_error_status == 401
    assert result.result == "Failed to authenticate. API Error: 401 key not accepted"
    (synthetic,) = [x for x in run.stream.lines if getattr(x, "synthetic", False)]
    assert synthetic.error == "authentication_failed"  # type: ignore[union-attr]
    assert run.stderr == ""


def test_a_401_that_says_do_not_retry_is_not_retried(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    refused = {"kind": "http_error", "status": 401, "headers": {"x-should-retry": "false"}}
    scripted_claude.add_scenario(scenario(refused))
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert run.exit_code == 1, run.describe()
    assert not run.stream.retries and len(scripted_claude.message_requests()) == 1
    result = run.stream.result
    assert result is not None and result.is_error and result.api_error_status == 401


# ---- a subscription login: rate_limit_event lines ---------------------------------------------------

RESET = 1_893_456_000  # 2030-01-01 00:00 UTC


def warning(utilization: float) -> dict[str, Any]:
    """A five-hour window past its 0.9 threshold: the CLI reports it as ``allowed_warning``."""
    window = {"utilization": utilization, "resets_at": RESET, "surpassed_threshold": 0.9}
    return {"status": "allowed_warning", "claim": "five_hour", "windows": {"5h": window}}


def test_a_subscription_login_prints_rate_limit_events(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, tmp_path: Path
) -> None:
    """Logged in as a subscription would be, the CLI reads the rate-limit headers and prints a
    ``rate_limit_event`` line after the turn whose response changed them; with an API key it prints none
    (``test_an_api_key_never_prints_rate_limit_events``)."""
    scripted_claude.add_scenario(
        scenario(
            {"blocks": [{"kind": "bash", "command": "echo one"}], "rate_limit": warning(0.91)},
            {"blocks": [{"kind": "bash", "command": "echo two"}], "rate_limit": warning(0.91)},
            {**say("Done."), "rate_limit": warning(0.95)},
        )
    )
    env = make_claude_env(scripted_claude.base_url, tmp_path / "claude-home", subscription=True)
    run = run_claude(claude_bin, env, tmp_path / "work", "count", *TOOLS, "--allowedTools=Bash")
    assert_ok(run)
    init = run.stream.init
    assert init is not None and init.api_key_source == "none"
    types = run.line_types
    assert types == [
        "system/init",
        "assistant",
        "rate_limit_event",  # after the first turn: the state changed from "allowed"
        "user",
        "assistant",  # the second turn's headers said the same: no line
        "user",
        "assistant",
        "rate_limit_event",
        "result",
    ], types
    first, last = run.stream.rate_limits
    assert (first.status, first.rate_limit_type, first.utilization, first.resets_at) == (
        "allowed_warning",
        "five_hour",
        0.91,
        RESET,
    )
    assert last.utilization == 0.95 and last.model_extra == {
        "isUsingOverage": False,
        "surpassedThreshold": 0.9,
    }
    # The token goes as a bearer token with the OAuth beta; no API key is sent.
    for request in scripted_claude.message_requests():
        assert (
            request.headers["authorization"] == f"Bearer {OAUTH_TOKEN}" and "x-api-key" not in request.headers
        )
        assert "oauth-2025-04-20" in request.headers["anthropic-beta"]

    # What the supervisor does with a reviewer's stream: the same lines, read from the file, on the gauge.
    stream_file = tmp_path / "stream.jsonl"
    stream_file.write_text(run.stdout)
    found = RateLimitLines(stream_file).read_new(final=True)
    assert found.malformed == 0 and [i.utilization for i in found.infos] == [0.91, 0.95]
    store = ClaudeLimitsStore(tmp_path / "claude-limits.json")
    assert store.record(found.infos, found.observed_at, str(stream_file))
    limits = store.read()
    assert limits.state == "warning" and limits.current is not None
    assert (limits.current.label, limits.current.used_percent) == ("5h", 95.0)


def test_an_api_key_never_prints_rate_limit_events(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, claude_env: dict[str, str], tmp_path: Path
) -> None:
    scripted_claude.add_scenario(scenario({**say("Hi."), "rate_limit": warning(0.97)}))
    run = run_claude(claude_bin, claude_env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    assert "rate_limit_event" not in run.line_types and run.stream.rate_limits == []


def test_a_subscription_without_rate_limit_headers_says_allowed_once(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, tmp_path: Path
) -> None:
    scripted_claude.add_scenario(scenario(say("Hi.")))
    env = make_claude_env(scripted_claude.base_url, tmp_path / "claude-home", subscription=True)
    run = run_claude(claude_bin, env, tmp_path / "work", "hello", *TOOLS)
    assert_ok(run)
    (info,) = run.stream.rate_limits
    assert (info.status, info.rate_limit_type, info.resets_at, info.utilization) == (
        "allowed",
        None,
        None,
        None,
    )


def test_a_rejected_subscription_limit_ends_the_run_without_a_retry(
    claude_bin: ClaudeBinary, scripted_claude: ScriptedClaude, tmp_path: Path
) -> None:
    """A 429 whose headers say ``rejected`` is not retried under a subscription login (an API key's 429
    is): the run prints the rejected state, says when the limit resets, and fails with 429."""
    rejected = {"status": "rejected", "resets_at": RESET, "claim": "five_hour"}
    limited = {"kind": "http_error", "status": 429, "headers": {"retry-after": 1}, "rate_limit": rejected}
    scripted_claude.add_scenario(scenario(limited, say("never asked for")))
    env = make_claude_env(scripted_claude.base_url, tmp_path / "claude-home", subscription=True)
    run = run_claude(claude_bin, env, tmp_path / "work", "hello", *TOOLS)
    assert run.exit_code == 1, run.describe()
    assert len(scripted_claude.message_requests()) == 1 and not run.stream.retries
    (info,) = run.stream.rate_limits
    assert (info.status, info.rate_limit_type, info.resets_at) == ("rejected", "five_hour", RESET)
    result = run.stream.result
    assert result is not None and result.is_error and result.api_error_status == 429
    assert (result.result or "").startswith("You've hit your session limit · resets ")
    failure = classify_review(run.stream, ExitInfo(code=1))
    assert failure is not None and failure.code == FailureCode.HTTP_429

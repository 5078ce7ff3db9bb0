"""Claude Code's stream-json lines read as an open set: the shapes the pinned CLI prints (seen against the
scripted server, see docs/claude-code.md) become models; a new line type, subtype, block type, field or
enum value is kept; a line that is not a usable object is counted, never fatal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cockpit.core.claude.stream import (
    ApiRetry,
    AssistantLine,
    ClaudeStream,
    RateLimitEvent,
    ResultLine,
    StreamEvent,
    StreamLineError,
    SystemInit,
    SystemLine,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UnknownBlock,
    UnknownLine,
    UserLine,
    parse_line,
    read_stream,
)
from cockpit.core.errors import ClaudeError

SID = "4e2d535e-d7a9-489d-a4f2-9e12ba58a49f"


def line(data: dict[str, Any]) -> str:
    return json.dumps(data)


def assistant(*content: dict[str, Any], model: str = "claude-opus-4-8", **extra: Any) -> str:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(content),
    }
    message |= {"stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}
    return line(
        {"type": "assistant", "message": message, "parent_tool_use_id": None, "session_id": SID, **extra}
    )


INIT = line(
    {
        "type": "system",
        "subtype": "init",
        "cwd": "/tmp/work",
        "session_id": SID,
        "tools": ["Bash", "Read"],
        "mcp_servers": [],
        "model": "claude-opus-4-8[1m]",
        "permissionMode": "default",
        "apiKeySource": "ANTHROPIC_API_KEY",
        "claude_code_version": "2.1.197",
        "uuid": "6b54357e-54c1-4807-8632-03af62d7cfb5",
    }
)
TOOL_RESULT = line(
    {
        "type": "user",
        "message": {
            "role": "user",
            "content": [
                {
                    "tool_use_id": "toolu_01",
                    "type": "tool_result",
                    "content": "hello\n/tmp/work",
                    "is_error": False,
                }
            ],
        },
        "parent_tool_use_id": None,
        "session_id": SID,
        "timestamp": "2026-12-06T01:15:42.195Z",
        "tool_use_result": {"stdout": "hello\n/tmp/work", "stderr": "", "interrupted": False},
    }
)
RESULT = line(
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "api_error_status": None,
        "duration_ms": 226,
        "duration_api_ms": 63,
        "num_turns": 2,
        "result": "Done.",
        "stop_reason": "end_turn",
        "session_id": SID,
        "total_cost_usd": 0.000975,
        "usage": {
            "input_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 35,
            "service_tier": "standard",
        },
        "modelUsage": {"claude-opus-4-8[1m]": {"inputTokens": 20, "outputTokens": 35, "costUSD": 0.000975}},
        "permission_denials": [],
        "terminal_reason": "completed",
    }
)


def test_a_tool_round_trip_reads_as_models() -> None:
    stream = read_stream(
        [
            INIT,
            assistant({"type": "text", "text": "Running it."}),
            assistant({"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "pwd"}}),
            TOOL_RESULT,
            assistant({"type": "text", "text": "Done."}),
            RESULT,
        ]
    )
    assert stream.malformed == 0 and not stream.unknown
    assert [type(x) for x in stream.lines] == [
        SystemInit,
        AssistantLine,
        AssistantLine,
        UserLine,
        AssistantLine,
        ResultLine,
    ]
    init = stream.init
    assert init is not None and init.claude_code_version == "2.1.197" and init.tools == ["Bash", "Read"]
    assert init.permission_mode == "default" and init.api_key_source == "ANTHROPIC_API_KEY"
    assert stream.session_id == SID
    assert stream.text() == "Running it.\n\nDone."
    (use,) = stream.tool_uses()
    assert isinstance(use, ToolUseBlock) and use.name == "Bash" and use.input == {"command": "pwd"}
    (done,) = stream.tool_results()
    assert (
        isinstance(done, ToolResultBlock)
        and done.tool_use_id == "toolu_01"
        and done.text == "hello\n/tmp/work"
    )
    result = stream.result
    assert result is not None and not stream.failed
    assert (
        result.num_turns,
        result.total_cost_usd,
        result.usage.input_tokens,
        result.usage.output_tokens,
    ) == (
        2,
        0.000975,
        20,
        35,
    )
    assert result.usage.model_extra == {"service_tier": "standard"}
    assert result.model_usage["claude-opus-4-8[1m]"]["costUSD"] == 0.000975


def test_an_api_failure_is_a_result_with_is_error_and_a_synthetic_message() -> None:
    retry = {
        "type": "system",
        "subtype": "api_retry",
        "attempt": 1,
        "max_retries": 1,
        "retry_delay_ms": 609.22,
        "error_status": 401,
        "error": "authentication_failed",
        "session_id": SID,
    }
    failed = {
        "type": "result",
        "subtype": "success",  # the subtype says success: is_error is the verdict
        "is_error": True,
        "api_error_status": 401,
        "num_turns": 1,
        "result": "Failed to authenticate. API Error: 401 scripted",
        "stop_reason": "stop_sequence",
        "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    synthetic = assistant(
        {"type": "text", "text": "Failed to authenticate. API Error: 401 scripted"},
        model="<synthetic>",
        error="authentication_failed",
    )
    stream = read_stream([INIT, line(retry), synthetic, line(failed)])
    (attempt,) = stream.retries
    assert isinstance(attempt, ApiRetry)
    assert (attempt.attempt, attempt.error_status, attempt.error, attempt.retry_delay_ms) == (
        1,
        401,
        "authentication_failed",
        609.22,
    )
    message = stream.lines[2]
    assert (
        isinstance(message, AssistantLine) and message.synthetic and message.error == "authentication_failed"
    )
    assert stream.text() == ""  # the CLI's own message is not the model's text
    assert stream.failed and stream.result is not None and stream.result.api_error_status == 401


def test_a_connection_failure_retry_has_no_status() -> None:
    retry = parse_line(
        line({"type": "system", "subtype": "api_retry", "error_status": None, "error": "unknown"})
    )
    assert isinstance(retry, ApiRetry) and retry.error_status is None


def test_max_turns_is_an_error_result_without_text() -> None:
    data = {
        "type": "result",
        "subtype": "error_max_turns",
        "is_error": True,
        "num_turns": 2,
        "stop_reason": "tool_use",
        "terminal_reason": "max_turns",
        "errors": ["Reached maximum number of turns (1)"],
    }
    result = parse_line(line(data))
    assert isinstance(result, ResultLine) and result.result is None and result.errors == [data["errors"][0]]
    assert result.terminal_reason == "max_turns"


def test_thinking_and_rate_limit_and_partial_messages() -> None:
    thinking = parse_line(assistant({"type": "thinking", "thinking": "hmm", "signature": "c2ln"}))
    assert isinstance(thinking, AssistantLine)
    (block,) = thinking.message.content
    assert isinstance(block, ThinkingBlock) and block.thinking == "hmm"
    limit = parse_line(
        line(
            {
                "type": "rate_limit_event",
                "rate_limit_info": {
                    "status": "allowed_warning",
                    "resetsAt": 1796600000,
                    "rateLimitType": "five_hour",
                    "utilization": 0.91,
                    "surpassedThreshold": 0.9,
                },
                "session_id": SID,
            }
        )
    )
    assert isinstance(limit, RateLimitEvent)
    info = limit.rate_limit_info
    assert (info.status, info.resets_at, info.rate_limit_type, info.utilization) == (
        "allowed_warning",
        1796600000,
        "five_hour",
        0.91,
    )
    assert info.model_extra == {"surpassedThreshold": 0.9}
    stream = read_stream([line(limit.model_dump(by_alias=True))])
    assert len(stream.rate_limits) == 1
    event = parse_line(line({"type": "stream_event", "event": {"type": "message_stop"}, "session_id": SID}))
    assert isinstance(event, StreamEvent) and event.event == {"type": "message_stop"}


def test_new_types_subtypes_blocks_fields_and_values_are_kept() -> None:
    stream = read_stream(
        [
            line({"type": "prompt_suggestion", "suggestion": "next?"}),
            line({"type": "system", "subtype": "thinking_tokens", "estimated_tokens": 3, "session_id": SID}),
            line({"type": "system", "subtype": "model_fallback", "fallback_model": "claude-sonnet-4-5"}),
            assistant({"type": "redacted_thinking", "data": "xyz"}, brand_new=1),
            line(
                {"type": "result", "subtype": "error_new_kind", "is_error": True, "stop_reason": "pause_turn"}
            ),
        ]
    )
    assert stream.malformed == 0
    unknown, tokens, fallback, message, result = stream.lines
    assert isinstance(unknown, UnknownLine) and unknown.raw == {
        "type": "prompt_suggestion",
        "suggestion": "next?",
    }
    assert stream.unknown == [unknown]
    assert isinstance(tokens, SystemLine) and tokens.subtype == "thinking_tokens"
    assert tokens.model_extra == {"estimated_tokens": 3}
    assert isinstance(fallback, SystemLine) and fallback.model_extra == {
        "fallback_model": "claude-sonnet-4-5"
    }
    assert isinstance(message, AssistantLine) and message.model_extra == {"brand_new": 1}
    (block,) = message.message.content
    assert isinstance(block, UnknownBlock) and block.type == "redacted_thinking"
    assert (
        isinstance(result, ResultLine)
        and result.subtype == "error_new_kind"
        and result.stop_reason == "pause_turn"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"no": "type"}', "no string 'type'"),
        ('{"type": 7}', "no string 'type'"),
        ('{"type": "result", "num_turns": "many"}', "malformed result line: num_turns"),
        (
            '{"type": "assistant", "message": {"content": [{"type": "text", "text": 5}]}}',
            "malformed assistant",
        ),
        ('{"type": "system", "subtype": "api_retry", "attempt": "first"}', "malformed system line: attempt"),
    ],
)
def test_a_malformed_line_is_an_error_of_its_own(text: str, reason: str) -> None:
    with pytest.raises(StreamLineError) as raised:
        parse_line(text)
    assert reason in raised.value.reason
    assert isinstance(raised.value, ClaudeError) and isinstance(raised.value, ValueError)


def test_the_reader_counts_malformed_lines_and_reads_on() -> None:
    stream = ClaudeStream()
    assert stream.feed(INIT) is not None
    assert stream.feed("garbage{") is None
    assert stream.feed("") is None and stream.feed(b"  \n") is None  # blank: skipped, not counted
    for _ in range(7):
        stream.feed('{"type": "result", "is_error": "perhaps"}')
    assert isinstance(stream.feed(RESULT.encode()), ResultLine)  # bytes work too
    assert stream.malformed == 8 and len(stream.malformed_samples) == ClaudeStream.SAMPLES
    assert stream.malformed_samples[0].startswith("not a JSON object")
    assert stream.result is not None and stream.result.result == "Done."


def test_a_run_without_a_result_line_failed() -> None:
    stream = read_stream([INIT, assistant({"type": "text", "text": "half"})])
    assert stream.result is None and stream.failed and stream.text() == "half"

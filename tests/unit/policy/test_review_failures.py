"""A reviewer's try classified like an attempt, from stream-json lines as the pinned Claude Code prints
them (docs/claude-code.md): API errors by status, a cut stream, no result, the runner's own endings."""

from __future__ import annotations

import json
import random

import pytest

from cockpit.core.claude.stream import read_stream
from cockpit.core.policy.retry import decide
from cockpit.core.policy.review_failures import classify_review, no_verdict
from cockpit.core.records.exit_info import ExitInfo

OK_EXIT = ExitInfo(code=0, started=1.0, ended=2.0)
ERR_EXIT = ExitInfo(code=1, started=1.0, ended=2.0)


def stream(*lines: dict) -> object:
    init = {"type": "system", "subtype": "init", "session_id": "s", "model": "claude-opus-4-8"}
    return read_stream([json.dumps(x) for x in (init, *lines)])


def result(**fields: object) -> dict:
    return {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "text",
        "stop_reason": "end_turn",
        "session_id": "s",
        **fields,
    }


def err(status: int | None, text: str | None, **fields: object) -> dict:
    return result(is_error=True, api_error_status=status, result=text, **fields)


def retry(status: int | None, error: str) -> dict:
    return {"type": "system", "subtype": "api_retry", "attempt": 1, "error_status": status, "error": error}


def test_a_result_with_text_is_no_failure():
    assert classify_review(stream(result()), OK_EXIT) is None


@pytest.mark.parametrize(
    ("lines", "code", "error_type"),
    [
        (
            [
                retry(529, "overloaded"),
                result(
                    is_error=True,
                    api_error_status=None,
                    result="API Error: Repeated 529 Overloaded errors. The API is at capacity",
                ),
            ],
            "http_5xx",
            "transient",
        ),
        (
            [err(429, "API Error: Request rejected (429)")],
            "http_429",
            "transient",
        ),
        (
            [
                result(
                    is_error=True,
                    api_error_status=401,
                    result="Failed to authenticate. API Error: 401 invalid",
                )
            ],
            "auth_401",
            "auth",
        ),
        (
            [err(400, "API Error: 400 bad")],
            "bad_request_400",
            "logic",
        ),
        (
            [err(None, "API Error: Unable to connect to API")],
            "connection_refused",
            "transient",
        ),
        ([result(subtype="error_max_turns", is_error=True, result=None)], "no_final_message", "logic"),
        ([result(stop_reason=None, result="half an ans")], "stream_dropped", "transient"),
    ],
)
def test_api_failures_by_what_the_cli_printed(lines: list[dict], code: str, error_type: str):
    failure = classify_review(stream(*lines), ERR_EXIT)
    assert failure is not None and failure.code.value == code
    assert failure.message.startswith("the reviewer: ") and failure.error_type.value == error_type
    if code == "auth_401":
        assert not failure.retryable
        assert decide(failure, [], rng=random.Random(0), now=0).action == "fail"


def test_endings_without_a_result():
    assert classify_review(stream(), ExitInfo(timed_out=True)).code.value == "timeout"
    assert classify_review(stream(), ExitInfo(lost=True)).code.value == "lost"
    assert classify_review(stream(), ExitInfo(signal=9)).code.value == "killed"
    crashed = classify_review(read_stream([]), ExitInfo(code=1), stderr_tail="Error: bad flag\n")
    assert crashed is not None and crashed.code.value == "unknown" and "bad flag" in crashed.message


def test_no_verdict_is_retried_as_a_logic_failure_then_gated():
    failure = no_verdict("no verdict block: the reply has none")
    assert failure.code.value == "no_final_message"
    history: list = []
    actions = []
    for _ in range(3):
        actions.append(decide(failure, history, rng=random.Random(0), now=0).action)
        history.append(failure)
    assert actions == ["retry", "retry", "gate"]

"""The retry policy case by case, plus the classifier's precedence and the rollout reader (no Codex)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.core.policy.cloud_failures import classify_cloud_error, cloud_task_failure
from cockpit.core.policy.failures import (
    acceptance_failure,
    classify,
    error_event,
    normalise_error_info,
    rollout_error_info,
    signature_of,
)
from cockpit.core.policy.retry import (
    BACKOFF_CODES,
    CONNECTION_DELAY_S,
    JITTER_S,
    TIMEOUT_DELAY_S,
    TRANSIENT_BACKOFF_S,
    USAGE_LIMIT_MAX_WAITS,
    decide,
    max_attempts_for,
)
from cockpit.core.records.attempt import AttemptProgress, ErrorType, Failure, FailureCode, Outcome
from cockpit.core.records.exit_info import ExitInfo

C = FailureCode
NOW = 1_800_000_000.0
HIGH_DEMAND = "We’re currently experiencing high demand, which may cause temporary errors."


def failure(code: FailureCode, message: str = "boom", **update: Any) -> Failure:
    """A failure of ``code`` as the classifier builds it (via a failed turn with a fitting message)."""
    messages = {
        C.HTTP_429: "exceeded retry limit, last status: 429 Too Many Requests",
        C.USAGE_LIMIT: "You’ve hit your usage limit. Try again later.",
        C.HTTP_5XX: HIGH_DEMAND,
        C.STREAM_DROPPED: "stream disconnected before completion: stream closed before response.completed",
        C.STREAM_STALLED: "stream disconnected before completion: idle timeout waiting for SSE",
        C.AUTH_401: "unexpected status 401 Unauthorized: Incorrect API key provided, url: http://h/v1",
        C.AUTH_403: "unexpected status 403 Forbidden: nope, url: http://h/v1",
        C.MISSING_API_KEY: "Missing environment variable: `MOCK_API_KEY`.",
        C.BAD_REQUEST_400: '{"error": {"message": "bad", "type": "invalid_request_error"}}',
        C.CONTEXT_LENGTH: "Codex ran out of room in the model's context window. Start a new thread.",
    }
    if code in messages:
        built = classify(AttemptProgress(turn_failed=messages[code]), ExitInfo(code=1), None)
    elif code is C.ACCEPTANCE_NOT_MET:
        built = acceptance_failure("pytest -q", message)
    elif code is C.WORKER_FAILED:
        built = classify(done(), ExitInfo(code=0), Outcome(status="FAILED", detail=message))
    elif code is C.WORKER_BLOCKED:
        built = classify(done(), ExitInfo(code=0), Outcome(status="BLOCKED", detail=message))
    elif code is C.NO_FINAL_MESSAGE:
        built = classify(done(), ExitInfo(code=0), None)
    elif code is C.TIMEOUT:
        built = classify(AttemptProgress(turns_started=1), ExitInfo(timed_out=True, signal=15), None)
    elif code is C.CONNECTION_REFUSED:
        errors = ["Reconnecting... waiting for network (Connection failed: error sending request)"]
        built = classify(AttemptProgress(errors=errors), ExitInfo(timed_out=True, signal=9), None)
    elif code is C.KILLED:
        built = classify(AttemptProgress(turns_started=1), ExitInfo(signal=9), None)
    elif code is C.LOST:
        built = classify(AttemptProgress(), ExitInfo(lost=True), None)
    elif code is C.INTERRUPTED:
        built = classify(AttemptProgress(), ExitInfo(cancelled=True), None)
    elif code in CLOUD_STDERR:
        built = classify_cloud_error("exec", 1, CLOUD_STDERR[code])
    elif code is C.CLOUD_TASK_ERROR:
        built = cloud_task_failure(message)
    else:
        built = classify(AttemptProgress(turns_started=1), ExitInfo(code=3), None)
    assert built is not None and built.code is code, built
    return built.model_copy(update=update) if update else built


CLOUD_STDERR = {
    C.NOT_SIGNED_IN: "Not signed in. Please run 'codex login' to sign in with ChatGPT.",
    C.CLOUD_ENV_NOT_FOUND: "Error: environment 'x' not found; run `codex cloud` to list environments",
    C.CLOUD_NO_DIFF: "Error: No diff available for task task_e_1; it may still be running.",
}


def done() -> AttemptProgress:
    return AttemptProgress(turns_started=1, turns_completed=1, turn_completed=True)


def rng() -> random.Random:
    return random.Random(1234)


# ------------------------------------------------------------------------------------------ the table


@pytest.mark.parametrize("code", sorted(BACKOFF_CODES))
def test_transient_backoff_is_1_2_4_seconds_plus_jitter_then_dead_letter(code: FailureCode) -> None:
    current = failure(code)
    assert current.error_type is ErrorType.TRANSIENT and current.trips_breaker and current.retryable
    history: list[Failure] = []
    for base in TRANSIENT_BACKOFF_S:
        decision = decide(current, history, rng=rng(), now=NOW)
        assert decision.action == "retry"
        assert base <= decision.delay_s <= base + JITTER_S
        assert decision.feedback is None
        history.append(current)
    last = decide(current, history, rng=rng(), now=NOW)
    assert last.action == "dead_letter"
    assert max_attempts_for(current) == 4


def test_transient_kinds_share_one_budget() -> None:
    history = [failure(C.HTTP_429), failure(C.HTTP_5XX), failure(C.STREAM_DROPPED)]
    assert decide(failure(C.STREAM_STALLED), history, rng=rng(), now=NOW).action == "dead_letter"
    third = decide(failure(C.STREAM_STALLED), history[:2], rng=rng(), now=NOW)
    assert third.action == "retry" and 4.0 <= third.delay_s <= 4.5


def test_jitter_comes_from_the_injected_rng() -> None:
    a = decide(failure(C.HTTP_5XX), [], rng=random.Random(7), now=NOW)
    b = decide(failure(C.HTTP_5XX), [], rng=random.Random(7), now=NOW)
    c = decide(failure(C.HTTP_5XX), [], rng=random.Random(8), now=NOW)
    assert a.delay_s == b.delay_s != c.delay_s


def test_timeout_two_attempts_linear_30s() -> None:
    current = failure(C.TIMEOUT)
    assert current.error_type is ErrorType.TRANSIENT and current.trips_breaker
    first = decide(current, [], rng=rng(), now=NOW)
    assert (first.action, first.delay_s) == ("retry", TIMEOUT_DELAY_S)
    assert decide(current, [current], rng=rng(), now=NOW).action == "dead_letter"
    assert max_attempts_for(current) == 2


def test_connection_refused_two_attempts_linear_10s() -> None:
    current = failure(C.CONNECTION_REFUSED)
    assert current.trips_breaker and current.error_type is ErrorType.TRANSIENT
    first = decide(current, [], rng=rng(), now=NOW)
    assert (first.action, first.delay_s) == ("retry", CONNECTION_DELAY_S)
    assert decide(current, [current], rng=rng(), now=NOW).action == "dead_letter"
    assert max_attempts_for(current) == 2


@pytest.mark.parametrize(
    "code", [C.AUTH_401, C.AUTH_403, C.MISSING_API_KEY, C.BAD_REQUEST_400, C.CONTEXT_LENGTH]
)
def test_never_retried(code: FailureCode) -> None:
    current = failure(code)
    assert not current.retryable and not current.trips_breaker
    decision = decide(current, [], rng=rng(), now=NOW)
    assert decision.action == "fail" and decision.delay_s == 0
    assert max_attempts_for(current) == 1


def test_auth_and_bad_request_classes() -> None:
    assert failure(C.AUTH_401).error_type is ErrorType.AUTH
    assert failure(C.AUTH_401).http_status == 401
    assert "MOCK_API_KEY / OPENAI_API_KEY" in failure(C.AUTH_401).suggestion
    assert failure(C.MISSING_API_KEY).suggestion.startswith("set MOCK_API_KEY")
    assert failure(C.BAD_REQUEST_400).error_type is ErrorType.LOGIC
    assert failure(C.BAD_REQUEST_400).http_status == 400


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (C.WORKER_FAILED, "tests do not pass"),
        (C.WORKER_BLOCKED, "need the staging password"),
        (C.ACCEPTANCE_NOT_MET, "3 tests failed in test_calc.py"),
    ],
)
def test_logic_retried_twice_with_specific_feedback_then_gated(code: FailureCode, detail: str) -> None:
    current = failure(code, detail)
    assert current.error_type is ErrorType.LOGIC and not current.trips_breaker
    first = decide(current, [], rng=rng(), now=NOW)
    assert first.action == "retry" and first.delay_s == 0
    assert first.feedback is not None and detail in first.feedback
    second = decide(current, [current], rng=rng(), now=NOW)
    assert second.action == "retry" and detail in (second.feedback or "")
    third = decide(current, [current, current], rng=rng(), now=NOW)
    assert third.action == "gate"
    expected = "acceptance_failed" if code is C.ACCEPTANCE_NOT_MET else "repeated_failures"
    assert third.gate_trigger == expected
    assert max_attempts_for(current) == 3


def test_feedback_names_the_acceptance_check() -> None:
    decision = decide(failure(C.ACCEPTANCE_NOT_MET, "expected 3, got 4"), [], rng=rng(), now=NOW)
    assert decision.feedback is not None
    assert "pytest -q" in decision.feedback and "expected 3, got 4" in decision.feedback


def test_no_final_message_is_retried_with_the_protocol_reminder() -> None:
    decision = decide(failure(C.NO_FINAL_MESSAGE), [], rng=rng(), now=NOW)
    assert decision.action == "retry" and "COMPLETED:" in (decision.feedback or "")


def test_three_failed_attempts_gate_even_across_classes() -> None:
    history = [failure(C.HTTP_5XX), failure(C.KILLED)]
    decision = decide(failure(C.WORKER_FAILED, "x"), history, rng=rng(), now=NOW)
    assert (decision.action, decision.gate_trigger) == ("gate", "repeated_failures")
    # ... but transient kinds keep their own budget and end in the dead-letter queue instead.
    retry = decide(failure(C.HTTP_429), [failure(C.WORKER_FAILED, "x")] * 2, rng=rng(), now=NOW)
    assert retry.action == "retry"


def test_interruptions_and_usage_waits_do_not_count_as_failed_attempts() -> None:
    history = [failure(C.INTERRUPTED), failure(C.USAGE_LIMIT), failure(C.WORKER_FAILED, "x")]
    assert decide(failure(C.WORKER_FAILED, "x"), history, rng=rng(), now=NOW).action == "retry"


def test_killed_or_lost_restarts_once_then_gates() -> None:
    killed = failure(C.KILLED)
    assert killed.error_type is ErrorType.STATE and "SIGKILL" in killed.message
    first = decide(killed, [], rng=rng(), now=NOW)
    assert first.action == "retry" and first.feedback and "SIGKILL" in first.feedback
    again = decide(failure(C.LOST), [killed], rng=rng(), now=NOW)
    assert (again.action, again.gate_trigger) == ("gate", "repeated_failures")


def test_unknown_gates_and_interrupted_fails() -> None:
    unknown = decide(failure(C.UNKNOWN), [], rng=rng(), now=NOW)
    assert (unknown.action, unknown.gate_trigger) == ("gate", "unknown_error")
    assert decide(failure(C.INTERRUPTED), [], rng=rng(), now=NOW).action == "fail"


def test_usage_limit_waits_until_reset_and_is_not_counted() -> None:
    current = failure(C.USAGE_LIMIT, resets_at=NOW + 600)
    assert current.error_type is ErrorType.TRANSIENT and current.trips_breaker
    transient = [failure(C.HTTP_429)] * 3  # the transient budget is spent ...
    decision = decide(current, transient, rng=rng(), now=NOW)
    assert decision.action == "retry"  # ... yet the usage limit still waits for its reset
    assert 600 <= decision.delay_s <= 600 + JITTER_S
    past = decide(failure(C.USAGE_LIMIT, resets_at=NOW - 5), [], rng=rng(), now=NOW)
    assert past.action == "retry" and past.delay_s <= JITTER_S


def test_usage_limit_dead_letters_when_reset_unknown_far_or_repeated() -> None:
    unknown = decide(failure(C.USAGE_LIMIT), [], rng=rng(), now=NOW)
    assert unknown.action == "dead_letter" and unknown.delay_s > 0
    far = decide(failure(C.USAGE_LIMIT, resets_at=NOW + 3 * 86400), [], rng=rng(), now=NOW)
    assert far.action == "dead_letter" and far.delay_s == 3 * 86400
    current = failure(C.USAGE_LIMIT, resets_at=NOW + 60)
    repeated = decide(current, [current] * USAGE_LIMIT_MAX_WAITS, rng=rng(), now=NOW)
    assert repeated.action == "dead_letter"


def test_catastrophic_beats_everything_and_keeps_the_code() -> None:
    for code in (C.HTTP_429, C.AUTH_401, C.WORKER_FAILED, C.UNKNOWN):
        base = failure(code)
        promoted = classify(
            AttemptProgress(turn_failed=base.message) if code not in (C.WORKER_FAILED, C.UNKNOWN) else done(),
            ExitInfo(code=1 if code is not C.WORKER_FAILED else 0),
            Outcome(status="FAILED", detail="x") if code is C.WORKER_FAILED else None,
            consecutive_failures=4,
        )
        assert promoted is not None
        assert promoted.error_type is ErrorType.CATASTROPHIC and promoted.trips_breaker
        assert not promoted.retryable
        decision = decide(promoted, [], rng=rng(), now=NOW)
        assert (decision.action, decision.gate_trigger) == ("gate", "catastrophic")
    assert failure(C.HTTP_5XX).error_type is ErrorType.TRANSIENT  # 4 in a row is not catastrophic yet
    assert classify(AttemptProgress(turn_failed=HIGH_DEMAND), ExitInfo(code=1), None, consecutive_failures=3)
    over = classify(AttemptProgress(turn_failed=HIGH_DEMAND), ExitInfo(code=1), None, over_budget=True)
    assert over is not None and over.code is C.HTTP_5XX and over.error_type is ErrorType.CATASTROPHIC


# --------------------------------------------------------------------------------------- properties

CODES = st.sampled_from(list(FailureCode))


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(CODES, max_size=8),
    code=st.sampled_from(sorted(BACKOFF_CODES)),
    seed=st.integers(0, 2**32 - 1),
)
def test_transient_delay_is_bounded_and_retries_never_exceed_three(
    history: list[FailureCode], code: FailureCode, seed: int
) -> None:
    earlier = [failure(c) for c in history]
    decision = decide(failure(code), earlier, rng=random.Random(seed), now=NOW)
    assert decision.delay_s >= 0
    if decision.action == "retry":
        assert 1.0 <= decision.delay_s < 5.0
    assert decision.action in ("retry", "dead_letter")
    # Walking a run of transient failures from here retries at most 3 times in total.
    chain = list(earlier)
    retries = 0
    while decide(failure(code), chain, rng=random.Random(seed), now=NOW).action == "retry":
        retries += 1
        chain.append(failure(code))
        assert retries <= 3
    assert sum(1 for f in chain if f.code in BACKOFF_CODES) >= 3


@settings(max_examples=200, deadline=None)
@given(history=st.lists(CODES, max_size=8), code=CODES, seed=st.integers(0, 2**32 - 1))
def test_every_decision_is_well_formed(history: list[FailureCode], code: FailureCode, seed: int) -> None:
    decision = decide(failure(code), [failure(c) for c in history], rng=random.Random(seed), now=NOW)
    assert decision.delay_s >= 0
    assert (decision.action == "gate") == (decision.gate_trigger is not None)
    if decision.action != "retry":
        assert decision.feedback is None
    if code in (C.AUTH_401, C.AUTH_403, C.MISSING_API_KEY, C.BAD_REQUEST_400, C.CONTEXT_LENGTH):
        assert decision.action == "fail"


# ----------------------------------------------------------------------------- classifier precedence


def test_success_is_none() -> None:
    ok = classify(done(), ExitInfo(code=0), Outcome(status="COMPLETED", detail="done"))
    assert ok is None
    assert classify(done(), ExitInfo(code=0), Outcome(status=None, detail="done anyway")) is None
    assert (
        classify(done(), ExitInfo(code=0), Outcome(status="COMPLETED", detail=""), over_budget=True) is None
    )


def test_precedence_cancel_then_turn_failed_then_cap() -> None:
    refused = ["Reconnecting... waiting for network (Connection failed: error sending request)"]
    progress = AttemptProgress(turn_failed=HIGH_DEMAND, errors=refused)
    cancelled = classify(progress, ExitInfo(cancelled=True, timed_out=True), None)
    assert cancelled is not None and cancelled.code is C.INTERRUPTED
    failed = classify(progress, ExitInfo(timed_out=True, signal=15), None)
    assert failed is not None and failed.code is C.HTTP_5XX
    capped = classify(AttemptProgress(errors=refused), ExitInfo(timed_out=True, lost=True), None)
    assert capped is not None and capped.code is C.CONNECTION_REFUSED
    assert capped.message.startswith("Reconnecting... waiting for network")
    plain_cap = classify(AttemptProgress(turns_started=1), ExitInfo(timed_out=True, note="cap 30s"), None)
    assert plain_cap is not None and (plain_cap.code, plain_cap.message) == (C.TIMEOUT, "cap 30s")


def test_chunk_pause_and_watchdog_kill() -> None:
    chunk = ExitInfo(code=1, chunked=True, note="stopped at the chunk limit of 1500s")
    paused = classify(AttemptProgress(turns_started=1), chunk, None)
    assert paused is not None and paused.code is C.INTERRUPTED and "planned pause" in paused.message
    failed = classify(AttemptProgress(turn_failed=HIGH_DEMAND), chunk, None)
    assert failed is not None and failed.code is C.HTTP_5XX  # a real error before the pause still counts
    note = "stopped by the watchdog: no new event for too long"
    stalled = classify(AttemptProgress(turns_started=1), ExitInfo(signal=15, watchdog=True, note=note), None)
    assert stalled is not None and (stalled.code, stalled.message) == (C.TIMEOUT, note)
    refused = ["Reconnecting... waiting for network (Connection failed: error sending request)"]
    unreachable = classify(AttemptProgress(errors=refused), ExitInfo(signal=15, watchdog=True), None)
    assert unreachable is not None and unreachable.code is C.CONNECTION_REFUSED


def test_signals_lost_and_exit_codes() -> None:
    lost = classify(AttemptProgress(), ExitInfo(lost=True, signal=9), None)
    assert lost is not None and lost.code is C.LOST
    sigint = classify(AttemptProgress(turns_started=1), ExitInfo(signal=2), None)
    assert sigint is not None and sigint.code is C.INTERRUPTED
    # Codex's own SIGINT handling: exit 1, turn started, no turn.failed.
    native = classify(AttemptProgress(turns_started=1), ExitInfo(code=1), None)
    assert native is not None and native.code is C.INTERRUPTED
    config = classify(
        AttemptProgress(),
        ExitInfo(code=1),
        None,
        stderr_tail="Reading additional input from stdin...\nError loading config.toml: bad\n",
    )
    assert config is not None and config.code is C.UNKNOWN and "Error loading config.toml" in config.message
    key = classify(
        AttemptProgress(), ExitInfo(code=1), None, stderr_tail="Missing environment variable: `K`."
    )
    assert key is not None and key.code is C.MISSING_API_KEY
    assert "set K" in key.suggestion
    no_turn = classify(AttemptProgress(turns_started=1), ExitInfo(code=0), None)
    assert no_turn is not None and no_turn.code is C.UNKNOWN


def test_worker_outcomes_only_count_when_the_run_succeeded() -> None:
    blocked = classify(done(), ExitInfo(code=0), Outcome(status="BLOCKED", detail="need creds"))
    assert blocked is not None and (blocked.code, blocked.message) == (
        C.WORKER_BLOCKED,
        "BLOCKED: need creds",
    )
    killed = classify(
        AttemptProgress(turns_started=1), ExitInfo(signal=9), Outcome(status="FAILED", detail="x")
    )
    assert killed is not None and killed.code is C.KILLED


@pytest.mark.parametrize(
    ("info", "message", "code", "status"),
    [
        ("usage_limit_exceeded", "Quota exceeded. Check your plan and billing details.", C.USAGE_LIMIT, 429),
        ("internal_server_error", HIGH_DEMAND, C.HTTP_5XX, 500),
        ("http_connection_failed:401", "unexpected status 401 Unauthorized: x", C.AUTH_401, 401),
        ("http_connection_failed:503", "something new", C.HTTP_5XX, 503),
        ("response_too_many_failed_attempts:429", "retry limit", C.HTTP_429, 429),
        ("context_window_exceeded", "whatever wording", C.CONTEXT_LENGTH, None),
        (
            "other",
            "stream disconnected before completion: idle timeout waiting for SSE",
            C.STREAM_STALLED,
            None,
        ),
        ("response_stream_disconnected", "a new wording", C.STREAM_DROPPED, None),
        ("other", "a new wording", C.UNKNOWN, None),
        (None, "unexpected status 502 Bad Gateway: Bad Gateway, url: http://h", C.HTTP_5XX, 502),
        (None, "rate limit exceeded: Rate limit reached. Please try again in 1s", C.HTTP_429, 429),
    ],
)
def test_codex_error_info_and_messages(
    info: str | None, message: str, code: FailureCode, status: int | None
) -> None:
    got = classify(AttemptProgress(turn_failed=message), ExitInfo(code=1), None, codex_error_info=info)
    assert got is not None and (got.code, got.http_status) == (code, status)


def test_usage_limit_reset_from_argument_or_message() -> None:
    message = (
        "You’ve hit your usage limit. Upgrade to Pro (https://x), … or try again at Nov 24th, 2026 12:01 AM."
    )
    given_reset = classify(
        AttemptProgress(turn_failed=message), ExitInfo(code=1), None, resets_at=NOW + 60, now=NOW
    )
    assert given_reset is not None and given_reset.resets_at == NOW + 60
    parsed = classify(AttemptProgress(turn_failed=message), ExitInfo(code=1), None, now=NOW)
    assert parsed is not None and parsed.resets_at is not None
    from datetime import datetime

    assert datetime.fromtimestamp(parsed.resets_at).timetuple()[:5] == (2026, 11, 24, 0, 1)
    short = "You’ve hit your usage limit. … or try again at 11:38 PM."
    today = classify(AttemptProgress(turn_failed=short), ExitInfo(code=1), None, now=NOW)
    assert today is not None and today.resets_at is not None and NOW < today.resets_at <= NOW + 86400
    assert datetime.fromtimestamp(today.resets_at).strftime("%H:%M") == "23:38"


def test_signature_strips_numbers_ids_urls_and_times() -> None:
    a = "unexpected status 503 Service Unavailable: busy, url: http://127.0.0.1:41011/v1/responses"
    b = "unexpected status 503 Service Unavailable: busy, url: http://127.0.0.1:52345/v1/responses"
    assert signature_of("http_5xx", a) == signature_of("http_5xx", b)
    c = "try again at 11:38 PM (request 01a20aa4-9746-7ba2-a8c8-49e3c1bd3da7, resp_abc_12)"
    d = "try again at 9:02 AM (request 01a20bbb-0000-7ba2-a8c8-49e3c1bd3da8, resp_def_9)"
    assert signature_of("usage_limit", c) == signature_of("usage_limit", d)
    assert signature_of("x", "Reconnecting... 1/5 (boom)") == signature_of("x", "Reconnecting... 4/5 (boom)")
    assert signature_of("http_429", a) != signature_of("http_5xx", a)


def test_error_event_template() -> None:
    current = failure(C.HTTP_5XX)
    event = error_event(
        "t-1", current, attempt=2, max_attempts=max_attempts_for(current), last_completed_step=None
    )
    data = json.loads(event.model_dump_json())
    assert data["status"] == "FAILED" and data["error_type"] == "transient" and data["code"] == "http_5xx"
    assert data["attempt"] == 2 and data["max_attempts"] == 4 and data["http_status"] == 500
    assert data["suggestion"] == current.suggestion and data["error"] == HIGH_DEMAND
    assert {"task_id", "last_completed_step", "timestamp"} <= set(data)
    assert event.status_line() == f"FAILED t-1: FAILED (error: {HIGH_DEMAND})"


# -------------------------------------------------------------------------------------- rollout file


def write_rollout(home: Path, thread: str, records: list[dict[str, Any]], *, day: str = "2026/11/23") -> Path:
    path = home / "sessions" / day / f"rollout-2026-11-23T21-37-50-{thread}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def event(payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": "2026-11-23T21:37:50.228Z", "type": "event_msg", "payload": payload}


def limits(primary: float, secondary: float) -> dict[str, Any]:
    return {
        "primary": {"used_percent": primary, "window_minutes": 300, "resets_at": 1_795_478_488},
        "secondary": {"used_percent": secondary, "window_minutes": 10080, "resets_at": 1_795_561_288},
    }


def test_rollout_error_info_reads_the_last_failed_turn(tmp_path: Path) -> None:
    thread = "01a20aa4-9746-7ba2-a8c8-49e3c1bd3da7"
    assert rollout_error_info(tmp_path, thread) == (None, None)
    failed = {"type": "task_complete", "last_agent_message": None}
    write_rollout(
        tmp_path,
        thread,
        [
            event({"type": "token_count", "info": None, "rate_limits": limits(42.5, 13)}),
            event({**failed, "error": {"message": "m", "codex_error_info": "internal_server_error"}}),
            event({"type": "token_count", "info": None, "rate_limits": limits(100.0, 50)}),
            event({**failed, "error": {"message": "m", "codex_error_info": "usage_limit_exceeded"}}),
            {"type": "response_item", "payload": {"type": "message"}},
        ],
    )
    assert rollout_error_info(tmp_path, thread) == ("usage_limit_exceeded", 1_795_478_488.0)


def test_rollout_error_info_detailed_kinds_and_success(tmp_path: Path) -> None:
    thread = "t-detail"
    info = {"http_connection_failed": {"http_status_code": 401}}
    write_rollout(
        tmp_path,
        thread,
        [event({"type": "task_complete", "error": {"message": "m", "codex_error_info": info}})],
    )
    assert rollout_error_info(tmp_path, thread) == ("http_connection_failed:401", None)
    ok = "t-ok"
    write_rollout(
        tmp_path,
        ok,
        [
            event({"type": "task_complete", "error": {"message": "m", "codex_error_info": "other"}}),
            event({"type": "token_count", "rate_limits": limits(100.0, 100.0)}),
            event({"type": "task_complete", "last_agent_message": "COMPLETED: ok"}),
        ],
    )
    assert rollout_error_info(tmp_path, ok) == (None, 1_795_561_288.0)  # both windows full: the later reset
    assert normalise_error_info({"responseStreamDisconnected": {"httpStatusCode": None}}) == (
        "response_stream_disconnected"
    )
    assert normalise_error_info("usageLimitExceeded") == "usage_limit_exceeded"


def test_rollout_error_info_reads_only_the_tail_of_a_huge_file(tmp_path: Path) -> None:
    thread = "t-big"
    filler = event({"type": "agent_message", "message": "x" * 10_000})
    records = [filler] * 200  # ~2 MB, with a partial last line being written
    records.append(
        event({"type": "task_complete", "error": {"message": "m", "codex_error_info": "bad_request"}})
    )
    path = write_rollout(tmp_path, thread, records)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"type": "event_msg", "payload": {"type": "task_comp')
    assert path.stat().st_size > 1_000_000
    assert rollout_error_info(tmp_path, thread) == ("bad_request", None)


def test_rollout_error_info_picks_the_newest_file(tmp_path: Path) -> None:
    thread = "t-two"
    old = write_rollout(
        tmp_path,
        thread,
        [event({"type": "task_complete", "error": {"codex_error_info": "other"}})],
        day="2026/11/22",
    )
    new = write_rollout(
        tmp_path,
        thread,
        [event({"type": "task_complete", "error": {"codex_error_info": "context_window_exceeded"}})],
    )
    os.utime(old, (1, 1))
    os.utime(new, (2, 2))
    assert rollout_error_info(tmp_path, thread)[0] == "context_window_exceeded"

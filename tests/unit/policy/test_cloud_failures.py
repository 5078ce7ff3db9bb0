"""Failed ``codex cloud`` calls classified from their exit code and stderr, as the 0.169.0 binary
words them (docs/codex-cloud.md §1, §3, §4), and what the retry policy then does with each."""

from __future__ import annotations

import random

import pytest

from cockpit.core.policy.cloud_failures import classify_cloud_error, cloud_task_failure, parse_http_error
from cockpit.core.policy.retry import CLOUD_TASK_TRIGGER, decide, max_attempts_for
from cockpit.core.records.attempt import ErrorType, FailureCode

C = FailureCode
NOW = 1_800_000_000.0
LIST_URL = "https://chatgpt.com/backend-api/wham/tasks/list?limit=20&task_filter=current"


def http_error(status: str, body: str = '{"detail": "expired"}', op: str = "list_tasks") -> str:
    return (
        f"Error: http error: {op} failed: GET {LIST_URL} failed: {status}; "
        f"content-type=application/json; body={body}\n"
    )


NOT_SIGNED_IN = (
    "Not signed in. Please run 'codex login' to sign in with ChatGPT, then re-run 'codex cloud'.\n"
)
USAGE = (
    "error: the following required arguments were not provided:\n  --env <ENV_ID>\n\n"
    "Usage: codex cloud exec --env <ENV_ID> <QUERY>\n\nFor more information, try '--help'.\n"
)


def test_http_error_text_is_parsed() -> None:
    parsed = parse_http_error(http_error("429 Too Many Requests"))
    assert parsed is not None
    assert parsed.op == "list_tasks" and parsed.method == "GET" and parsed.url == LIST_URL
    assert (parsed.status, parsed.reason) == (429, "Too Many Requests")
    assert parse_http_error(NOT_SIGNED_IN) is None


@pytest.mark.parametrize(
    ("stderr", "code", "status", "error_type", "retryable", "trips"),
    [
        (http_error("401 Unauthorized"), C.AUTH_401, 401, ErrorType.AUTH, False, False),
        (http_error("403 Forbidden", "<html>cf</html>"), C.AUTH_403, 403, ErrorType.AUTH, False, False),
        (http_error("429 Too Many Requests", "{}"), C.HTTP_429, 429, ErrorType.TRANSIENT, True, True),
        (http_error("500 Internal Server Error", "{}"), C.HTTP_5XX, 500, ErrorType.TRANSIENT, True, True),
        (http_error("503 Service Unavailable", "busy"), C.HTTP_5XX, 503, ErrorType.TRANSIENT, True, True),
        (
            http_error("404 Not Found", '{"detail": "no task"}', op="get_task_details"),
            C.BAD_REQUEST_400,
            404,
            ErrorType.LOGIC,
            False,
            False,
        ),
        (NOT_SIGNED_IN, C.NOT_SIGNED_IN, None, ErrorType.AUTH, False, False),
        ("Error: ChatGPT token not available\n", C.NOT_SIGNED_IN, None, ErrorType.AUTH, False, False),
        (
            "Error: http error: list_tasks failed: Decode error for "
            f"{LIST_URL}: missing field `archived` at line 1 column 60; content-type=application/json; "
            'body={"items": [{"id": "task_e_1", "title": "x"}]}\n',
            C.HTTP_5XX,
            None,
            ErrorType.TRANSIENT,
            True,
            True,
        ),
        (
            f"Error: http error: list_tasks failed: error sending request for url ({LIST_URL})\n",
            C.CONNECTION_REFUSED,
            None,
            ErrorType.TRANSIENT,
            True,
            True,
        ),
        (
            "Error: No diff available for task task_e_c744; it may still be running.\n",
            C.CLOUD_NO_DIFF,
            None,
            ErrorType.STATE,
            False,
            False,
        ),
        (
            "Error: Attempt 3 not available; only 2 attempt(s) found\n",
            C.BAD_REQUEST_400,
            None,
            ErrorType.LOGIC,
            False,
            False,
        ),
        (
            "Error: environment 'nope' not found; run `codex cloud` to list available environments\n",
            C.CLOUD_ENV_NOT_FOUND,
            None,
            ErrorType.LOGIC,
            False,
            False,
        ),
        (
            "Error: no cloud environments are available for this workspace\n",
            C.CLOUD_ENV_NOT_FOUND,
            None,
            ErrorType.LOGIC,
            False,
            False,
        ),
        (
            "Error: CODEX_CLOUD_TASKS_BASE_URL must use a trusted HTTPS origin on port 443, without user "
            "information, a query, or a fragment; custom backends cannot use saved ChatGPT credentials\n",
            C.BAD_REQUEST_400,
            None,
            ErrorType.LOGIC,
            False,
            False,
        ),
        ("Error: something new went wrong\n", C.UNKNOWN, None, ErrorType.LOGIC, False, False),
        ("", C.UNKNOWN, None, ErrorType.LOGIC, False, False),
    ],
)
def test_classified(
    stderr: str, code: FailureCode, status: int | None, error_type: ErrorType, retryable: bool, trips: bool
) -> None:
    failure = classify_cloud_error("list", 1, stderr)
    assert failure.code is code, failure.message
    assert failure.http_status == status
    assert failure.error_type is error_type
    assert (failure.retryable, failure.trips_breaker) == (retryable, trips)
    assert failure.message.startswith("codex cloud list exited 1")
    assert failure.suggestion and failure.signature.startswith(f"{code.value}|")


def test_usage_error_exit_2_is_our_bug() -> None:
    failure = classify_cloud_error("exec", 2, USAGE)
    assert failure.code is C.BAD_REQUEST_400 and failure.error_type is ErrorType.LOGIC
    assert not failure.retryable and not failure.trips_breaker and failure.http_status is None
    assert failure.message.startswith(
        "codex cloud exec exited 2 (usage error): error: the following required"
    )
    assert decide(failure, [], rng=random.Random(1), now=NOW).action == "fail"


def test_auth_suggestions_speak_of_the_chatgpt_login() -> None:
    assert "codex login" in classify_cloud_error("list", 1, NOT_SIGNED_IN).suggestion
    assert "codex login" in classify_cloud_error("list", 1, http_error("401 Unauthorized")).suggestion
    assert "API key" not in classify_cloud_error("list", 1, http_error("401 Unauthorized")).suggestion


def test_message_drops_the_stdin_notice_and_a_backtrace() -> None:
    stderr = (
        "Reading query from stdin...\n"
        + http_error("500 Internal Server Error", "{}", op="create_task").replace("GET", "POST")
        + "\nStack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n   1: codex_cloud_tasks::run\n"
    )
    failure = classify_cloud_error("exec", 1, stderr)
    assert failure.code is C.HTTP_5XX and failure.http_status == 500
    assert "Reading query" not in failure.message and "backtrace" not in failure.message.lower()
    assert "\n" not in failure.message


def test_secrets_in_stderr_are_redacted() -> None:
    body = (
        '{"error": "bad token", "access_token": "eyJhbGciOiJSUzI1NiJ9.payload.sig", '
        '"x": "Bearer abcdefghijkl123"}'
    )
    failure = classify_cloud_error("list", 1, http_error("401 Unauthorized", body) + "\x1b[31mred\x1b[0m\n")
    assert failure.code is C.AUTH_401
    dumped = failure.model_dump_json()
    assert "eyJhbGciOiJSUzI1NiJ9" not in dumped and "abcdefghijkl123" not in dumped
    assert "[REDACTED]" in failure.message and "\x1b" not in failure.message


def test_long_bodies_are_cut_but_the_status_is_read() -> None:
    failure = classify_cloud_error("list", 1, http_error("503 Service Unavailable", "<html>" + "x" * 50_000))
    assert failure.code is C.HTTP_5XX and failure.http_status == 503
    assert len(failure.message) <= 2000


def test_same_error_same_signature_across_task_ids_and_urls() -> None:
    one = classify_cloud_error(
        "diff", 1, "Error: No diff available for task task_e_aaa111; it may still be running."
    )
    two = classify_cloud_error(
        "diff", 1, "Error: No diff available for task task_e_bbb222; it may still be running."
    )
    assert one.signature == two.signature


# ---------------------------------------------------------------------------------- a failed cloud task


def test_cloud_task_failure() -> None:
    failure = cloud_task_failure("tests failed: 3 errors", "task_failed")
    assert failure.code is C.CLOUD_TASK_ERROR and failure.error_type is ErrorType.LOGIC
    assert not failure.retryable and not failure.trips_breaker
    assert failure.message == "the cloud task ended in error (task_failed): tests failed: 3 errors"
    assert cloud_task_failure("").message == "the cloud task ended in error"
    assert "\x1b" not in cloud_task_failure("\x1b[31mboom", "\x1b]0;t\x07E").message


# ------------------------------------------------------------------------------------ the retry policy


def test_retry_policy_fits_cloud_failures() -> None:
    rng = random.Random(7)
    for stderr in (NOT_SIGNED_IN, http_error("401 Unauthorized"), "Error: environment 'x' not found; run …"):
        failure = classify_cloud_error("exec", 1, stderr)
        assert decide(failure, [], rng=rng, now=NOW).action == "fail"
        assert max_attempts_for(failure) == 1
    for failure in (
        cloud_task_failure("boom"),
        classify_cloud_error(
            "diff", 1, "Error: No diff available for task task_e_1; it may still be running."
        ),
    ):
        decision = decide(failure, [], rng=rng, now=NOW)
        assert (decision.action, decision.gate_trigger) == ("gate", CLOUD_TASK_TRIGGER)
        assert max_attempts_for(failure) == 1
    rate_limited = classify_cloud_error("status", 1, http_error("429 Too Many Requests", "{}"))
    assert decide(rate_limited, [], rng=rng, now=NOW).action == "retry"
    unreachable = classify_cloud_error(
        "status", 1, "Error: error sending request for url (https://chatgpt.com/)"
    )
    assert decide(unreachable, [], rng=rng, now=NOW).action == "retry"
    assert decide(classify_cloud_error("list", 1, "?"), [], rng=rng, now=NOW).gate_trigger == "unknown_error"

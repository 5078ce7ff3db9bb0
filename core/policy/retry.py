"""The retry policy: what happens after a classified failure (playbook §5, §8, §12).

:func:`decide` maps a :class:`~cockpit.core.policy.failures.Failure` and the task's earlier failures to a
:class:`RetryDecision`: retry (after ``delay_s``, with feedback for the worker when the failure was the
worker's), gate (stop the task for a human decision), dead letter (park it for a later sweep) or fail
(stop; retrying cannot help). The delays are the playbook's: transient 1 s, 2 s, 4 s plus 0–500 ms
jitter; timeouts linear 30 s; connection failures linear 10 s. Randomness comes from an injected
:class:`random.Random`, time from ``now``, so decisions are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel

from cockpit.core.records.attempt import DEFAULT_ATTEMPT_LIMIT, ErrorType, Failure, FailureCode

__all__ = [
    "BACKOFF_CODES",
    "CLOUD_TASK_TRIGGER",
    "CONNECTION_DELAY_S",
    "CONNECTION_MAX_ATTEMPTS",
    "DEAD_LETTER_RETRY_AFTER_S",
    "GATE_AFTER_FAILED_ATTEMPTS",
    "GATE_AT_ONCE",
    "JITTER_S",
    "LOGIC_MAX_RETRIES",
    "NEVER_RETRY",
    "STATE_MAX_RETRIES",
    "STATE_RETRY_DELAY_S",
    "TIMEOUT_DELAY_S",
    "TIMEOUT_MAX_ATTEMPTS",
    "TRANSIENT_BACKOFF_S",
    "TRANSIENT_MAX_RETRIES",
    "USAGE_LIMIT_MAX_WAITS",
    "USAGE_LIMIT_MAX_WAIT_S",
    "USAGE_LIMIT_UNKNOWN_RETRY_AFTER_S",
    "RetryDecision",
    "decide",
    "feedback_for",
    "max_attempts_for",
]

_C = FailureCode

# Transient provider trouble (429, 5xx, dropped or stalled streams): exponential backoff plus jitter.
TRANSIENT_BACKOFF_S: Final = (1.0, 2.0, 4.0)
TRANSIENT_MAX_RETRIES: Final = len(TRANSIENT_BACKOFF_S)
JITTER_S: Final = 0.5
BACKOFF_CODES: Final = frozenset({_C.HTTP_429, _C.HTTP_5XX, _C.STREAM_DROPPED, _C.STREAM_STALLED})
# The cockpit's hard cap: 2 attempts in all, linear 30 s. Connection refused / reset: 2 attempts, linear 10 s.
TIMEOUT_MAX_ATTEMPTS: Final = 2
TIMEOUT_DELAY_S: Final = 30.0
CONNECTION_MAX_ATTEMPTS: Final = 2
CONNECTION_DELAY_S: Final = 10.0
# Usage limits wait for the reset instead of backing off, outside the transient budget.
USAGE_LIMIT_MAX_WAITS: Final = 3  # consecutive waits that ended in the limit again ⇒ dead letter
USAGE_LIMIT_MAX_WAIT_S: Final = 6 * 3600.0  # a reset further away goes to the dead-letter queue
USAGE_LIMIT_UNKNOWN_RETRY_AFTER_S: Final = 3600.0  # no reset time known: the hourly dead-letter sweep
# The worker's own failures: retried with specific feedback.
LOGIC_MAX_RETRIES: Final = 2
# Killed or lost runs: restart once from where the thread stands.
STATE_MAX_RETRIES: Final = 1
STATE_RETRY_DELAY_S: Final = 5.0
# Any failure that is not transient gates the task once it has failed this many times.
GATE_AFTER_FAILED_ATTEMPTS: Final = DEFAULT_ATTEMPT_LIMIT
# A transient dead letter becomes eligible for the sweep after this long.
DEAD_LETTER_RETRY_AFTER_S: Final = 900.0

NEVER_RETRY: Final = frozenset(
    {
        _C.AUTH_401,
        _C.AUTH_403,
        _C.MISSING_API_KEY,
        _C.BAD_REQUEST_400,
        _C.CONTEXT_LENGTH,
        _C.NOT_SIGNED_IN,
        _C.CLOUD_ENV_NOT_FOUND,
    }
)
# A cloud task that ended in error, or left no diff: a new cloud task costs a run of its own, so a
# person decides (retry, park, give up) from the first time.
GATE_AT_ONCE: Final = frozenset({_C.CLOUD_TASK_ERROR, _C.CLOUD_NO_DIFF})
CLOUD_TASK_TRIGGER: Final = "cloud_task_failed"
_STATE_CODES: Final = frozenset({_C.KILLED, _C.LOST})
_LOGIC_CODES: Final = frozenset(
    {_C.WORKER_FAILED, _C.WORKER_BLOCKED, _C.ACCEPTANCE_NOT_MET, _C.NO_FINAL_MESSAGE}
)
# Failures that say nothing about the task itself and are left out of the 3-failed-attempts count.
_NOT_COUNTED: Final = frozenset({_C.INTERRUPTED, _C.USAGE_LIMIT})
MAX_FEEDBACK_DETAIL_CHARS: Final = 2000

Action = Literal["retry", "gate", "dead_letter", "fail"]


class RetryDecision(BaseModel):
    """What to do after a failed attempt.

    ``delay_s`` is the wait before the retry; for a dead letter it is the earliest ``retry_after`` (from
    now) the dead-letter sweep should honour; 0 for gate and fail. ``feedback`` is the follow-up prompt's
    feedback when the worker is retried for its own failure. ``gate_trigger`` names the playbook's gate
    trigger when ``action`` is ``gate``.
    """

    action: Action
    delay_s: float = 0.0
    feedback: str | None = None
    reason: str
    gate_trigger: str | None = None


def _detail(failure: Failure) -> str:
    text = failure.message.strip()
    if len(text) > MAX_FEEDBACK_DETAIL_CHARS:
        text = text[:MAX_FEEDBACK_DETAIL_CHARS].rstrip() + " …"
    return text


def feedback_for(failure: Failure) -> str | None:
    """The feedback a retried worker gets for its own failure, built from what it reported."""
    code = failure.code
    detail = _detail(failure)
    if code is _C.WORKER_FAILED:
        return (
            f"Your previous attempt ended with `{detail}`.\n"
            "Find the cause of that failure, fix it, and check the result yourself before you finish. "
            "If it cannot be fixed within the task's constraints, answer FAILED: with the exact reason."
        )
    if code is _C.WORKER_BLOCKED:
        return (
            f"Your previous attempt ended with `{detail}`.\n"
            "Work around the blocker within the task's constraints if you can (re-read the goal, the "
            "inputs and the acceptance criteria). If it truly needs a human, answer BLOCKED: again and "
            "say exactly what decision or information you need."
        )
    if code is _C.ACCEPTANCE_NOT_MET:
        return (
            f"Your previous result did not pass review: {detail}.\n"
            "Change the work so that this check passes, without weakening any test or check, then "
            "report COMPLETED:."
        )
    if code is _C.NO_FINAL_MESSAGE:
        return (
            "Your previous turn ended without a final message.\n"
            "Finish the task and end with a final message whose first line is COMPLETED:, FAILED: or "
            "BLOCKED: followed by a one-line summary."
        )
    if code in _STATE_CODES:
        return (
            f"Your previous run was stopped before it finished ({detail}).\n"
            "Check what is already done in the working directory, then continue the task from there."
        )
    return None


def _count(history: Sequence[Failure], codes: frozenset[FailureCode]) -> int:
    return sum(1 for f in history if f.code in codes)


def _trailing(history: Sequence[Failure], code: FailureCode) -> int:
    n = 0
    for failure in reversed(history):
        if failure.code is not code:
            break
        n += 1
    return n


def _jitter(rng: random.Random) -> float:
    return rng.uniform(0.0, JITTER_S)


def max_attempts_for(failure: Failure) -> int:
    """Total attempts the policy allows a task failing this way (the error event's ``max_attempts``).

    Catastrophic failures report their underlying kind's budget.
    """
    code = failure.code
    if code in NEVER_RETRY or code in GATE_AT_ONCE or code in (_C.INTERRUPTED, _C.UNKNOWN):
        return 1
    if code is _C.USAGE_LIMIT:
        return 1 + USAGE_LIMIT_MAX_WAITS
    if code in BACKOFF_CODES:
        return 1 + TRANSIENT_MAX_RETRIES
    if code is _C.TIMEOUT:
        return TIMEOUT_MAX_ATTEMPTS
    if code is _C.CONNECTION_REFUSED:
        return CONNECTION_MAX_ATTEMPTS
    if code in _STATE_CODES:
        return 1 + STATE_MAX_RETRIES
    return min(1 + LOGIC_MAX_RETRIES, GATE_AFTER_FAILED_ATTEMPTS)


def _usage_limit(
    failure: Failure, history: Sequence[Failure], rng: random.Random, now: float
) -> RetryDecision:
    waits = _trailing(history, _C.USAGE_LIMIT)
    if failure.resets_at is None:
        return RetryDecision(
            action="dead_letter",
            delay_s=USAGE_LIMIT_UNKNOWN_RETRY_AFTER_S,
            reason="usage limit reached and no reset time known; parked for the dead-letter sweep",
        )
    wait = max(0.0, failure.resets_at - now)
    if waits >= USAGE_LIMIT_MAX_WAITS:
        return RetryDecision(
            action="dead_letter",
            delay_s=wait,
            reason=f"usage limit still reached after {waits} waits for its reset",
        )
    if wait > USAGE_LIMIT_MAX_WAIT_S:
        return RetryDecision(
            action="dead_letter",
            delay_s=wait,
            reason=f"usage limit resets in {wait / 3600:.1f} h; parked until then",
        )
    return RetryDecision(
        action="retry",
        delay_s=wait + _jitter(rng),
        reason=f"usage limit reached; waiting {wait:.0f} s for the reset (not counted as a retry)",
    )


def _linear(
    failure: Failure, history: Sequence[Failure], max_attempts: int, step_s: float, what: str
) -> RetryDecision:
    attempts = _count(history, frozenset({failure.code})) + 1
    if attempts < max_attempts:
        return RetryDecision(
            action="retry",
            delay_s=step_s * attempts,
            reason=f"{what}: attempt {attempts} of {max_attempts}; retrying in {step_s * attempts:.0f} s",
        )
    return RetryDecision(
        action="dead_letter",
        delay_s=DEAD_LETTER_RETRY_AFTER_S,
        reason=f"{what} on all {max_attempts} attempts; parked for the dead-letter sweep",
    )


def decide(failure: Failure, history: Sequence[Failure], *, rng: random.Random, now: float) -> RetryDecision:
    """The next step after ``failure``; ``history`` holds the task's earlier failures, oldest first.

    Precedence (the first rule that applies decides):

    1. ``catastrophic`` (5+ consecutive failures, over budget) ⇒ gate ``catastrophic``; the caller
       trips the breaker.
    2. ``interrupted`` ⇒ fail: a person or the cockpit stopped the attempt on purpose.
    3. Never retried: 401, 403, missing API key, 400 (our bug), context window full, no ChatGPT login
       for codex cloud, an unknown cloud environment ⇒ fail.
    4. ``unknown`` ⇒ gate ``unknown_error``; a cloud task in error or without a diff ⇒ gate
       :data:`CLOUD_TASK_TRIGGER`.
    5. ``usage_limit`` ⇒ retry once the limit resets (``resets_at − now`` + jitter). These waits are not
       counted against the transient budget nor the failed-attempt count. Unknown reset time, a reset
       more than :data:`USAGE_LIMIT_MAX_WAIT_S` away, or :data:`USAGE_LIMIT_MAX_WAITS` consecutive waits
       already spent ⇒ dead letter.
    6. Transient 429 / 5xx / dropped / stalled stream ⇒ retry after 1 s, 2 s, 4 s (+ 0–500 ms jitter),
       counting the earlier failures of these kinds; once the 3 retries are spent ⇒ dead letter.
    7. ``timeout`` ⇒ 2 attempts, linear 30 s; ``connection_refused`` ⇒ 2 attempts, linear 10 s; then
       dead letter. Rules 5–7 have their own budgets and are exempt from rule 8.
    8. :data:`GATE_AFTER_FAILED_ATTEMPTS` or more failed attempts (this one included; interruptions and
       usage-limit waits not counted) ⇒ gate (``acceptance_failed`` for an acceptance failure, else
       ``repeated_failures``).
    9. Killed / lost ⇒ restart once after :data:`STATE_RETRY_DELAY_S`, then gate ``repeated_failures``.
    10. Logic (``FAILED:``, ``BLOCKED:``, acceptance not met, no final message) ⇒ retry at once with
        feedback built from the failure, at most :data:`LOGIC_MAX_RETRIES` times, then gate.
    """
    code = failure.code
    if failure.error_type is ErrorType.CATASTROPHIC:
        return RetryDecision(
            action="gate",
            reason=f"catastrophic failure ({code.value}): {failure.suggestion}",
            gate_trigger="catastrophic",
        )
    if code is _C.INTERRUPTED:
        return RetryDecision(action="fail", reason="the attempt was interrupted; not retried automatically")
    if code in NEVER_RETRY:
        return RetryDecision(action="fail", reason=f"{code.value} is never retried: {failure.suggestion}")
    if code is _C.UNKNOWN:
        return RetryDecision(
            action="gate", reason=f"unrecognised failure: {failure.message}", gate_trigger="unknown_error"
        )
    if code in GATE_AT_ONCE:
        return RetryDecision(
            action="gate", reason=f"{code.value}: {failure.message}", gate_trigger=CLOUD_TASK_TRIGGER
        )
    if code is _C.USAGE_LIMIT:
        return _usage_limit(failure, history, rng, now)
    if code in BACKOFF_CODES:
        used = _count(history, BACKOFF_CODES)
        if used < TRANSIENT_MAX_RETRIES:
            delay = TRANSIENT_BACKOFF_S[used] + _jitter(rng)
            return RetryDecision(
                action="retry",
                delay_s=delay,
                reason=f"transient {code.value}: retry {used + 1} of {TRANSIENT_MAX_RETRIES} in {delay:.2f}s",
            )
        return RetryDecision(
            action="dead_letter",
            delay_s=DEAD_LETTER_RETRY_AFTER_S,
            reason=f"transient {code.value} after {TRANSIENT_MAX_RETRIES} retries; parked for the sweep",
        )
    if code is _C.TIMEOUT:
        return _linear(failure, history, TIMEOUT_MAX_ATTEMPTS, TIMEOUT_DELAY_S, "hard cap reached")
    if code is _C.CONNECTION_REFUSED:
        return _linear(failure, history, CONNECTION_MAX_ATTEMPTS, CONNECTION_DELAY_S, "provider unreachable")
    failed_attempts = sum(1 for f in history if f.code not in _NOT_COUNTED) + 1
    trigger = "acceptance_failed" if code is _C.ACCEPTANCE_NOT_MET else "repeated_failures"
    if failed_attempts >= GATE_AFTER_FAILED_ATTEMPTS:
        return RetryDecision(
            action="gate",
            reason=f"{failed_attempts} failed attempts (last: {failure.message})",
            gate_trigger=trigger,
        )
    if code in _STATE_CODES:
        if _count(history, _STATE_CODES) < STATE_MAX_RETRIES:
            return RetryDecision(
                action="retry",
                delay_s=STATE_RETRY_DELAY_S,
                feedback=feedback_for(failure),
                reason=f"{code.value}: restarting once from where the thread stands",
            )
        return RetryDecision(
            action="gate", reason=f"{code.value} again after a restart", gate_trigger="repeated_failures"
        )
    if code in _LOGIC_CODES:
        used = _count(history, _LOGIC_CODES)
        if used < LOGIC_MAX_RETRIES:
            return RetryDecision(
                action="retry",
                feedback=feedback_for(failure),
                reason=f"{code.value}: retry {used + 1} of {LOGIC_MAX_RETRIES} with feedback",
            )
        return RetryDecision(
            action="gate",
            reason=f"{code.value} after {LOGIC_MAX_RETRIES} retries with feedback",
            gate_trigger=trigger,
        )
    return RetryDecision(
        action="gate", reason=f"no retry rule for {code.value}", gate_trigger="unknown_error"
    )

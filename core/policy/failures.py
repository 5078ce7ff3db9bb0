"""Classification of failed attempts from what the real Codex CLI reported.

:func:`classify` turns one finished attempt (its reduced event stream, the runner's exit status, the
worker's declared outcome, optionally the rollout's ``codex_error_info``) into a :class:`Failure`: an
error class (transient, auth, logic, state, catastrophic), a stable short ``code``, whether the circuit
breaker should count it, one actionable suggestion for the human and a normalised ``signature`` for the
breaker's "5 identical consecutive errors" rule. :func:`rollout_error_info` reads the structured error
kind and a usage-limit reset time from the tail of a thread's rollout file, and :func:`error_event`
builds the playbook's structured error event. What happens next is decided in
:mod:`cockpit.core.policy.retry`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, Field

from cockpit.core.records.attempt import ErrorType, Failure, FailureCode
from cockpit.core.text import clean

if TYPE_CHECKING:  # annotations only: a reader of stored failures needs none of these models
    from cockpit.core.records.attempt import AttemptProgress, Outcome
    from cockpit.core.records.exit_info import ExitInfo

__all__ = [
    "CATASTROPHIC_CONSECUTIVE_FAILURES",
    "StructuredErrorEvent",
    "acceptance_failure",
    "classify",
    "error_event",
    "failure_of",
    "normalise_error_info",
    "rollout_error_info",
    "signature_of",
    "start_failure",
    "status_code",
]

CATASTROPHIC_CONSECUTIVE_FAILURES: Final = 5
ROLLOUT_TAIL_BYTES: Final = 256 * 1024
MAX_MESSAGE_CHARS: Final = 2000
MAX_SIGNATURE_CHARS: Final = 200


_C = FailureCode

_ERROR_TYPE: Final[dict[FailureCode, ErrorType]] = {
    _C.HTTP_429: ErrorType.TRANSIENT,
    _C.USAGE_LIMIT: ErrorType.TRANSIENT,
    _C.HTTP_5XX: ErrorType.TRANSIENT,
    _C.STREAM_DROPPED: ErrorType.TRANSIENT,
    _C.STREAM_STALLED: ErrorType.TRANSIENT,
    _C.CONNECTION_REFUSED: ErrorType.TRANSIENT,
    _C.TIMEOUT: ErrorType.TRANSIENT,
    _C.AUTH_401: ErrorType.AUTH,
    _C.AUTH_403: ErrorType.AUTH,
    _C.MISSING_API_KEY: ErrorType.AUTH,
    _C.BAD_REQUEST_400: ErrorType.LOGIC,  # "our bug": the request itself is wrong
    _C.CONTEXT_LENGTH: ErrorType.STATE,  # the thread is full: restart from a checkpoint summary
    _C.WORKER_FAILED: ErrorType.LOGIC,
    _C.WORKER_BLOCKED: ErrorType.LOGIC,
    _C.ACCEPTANCE_NOT_MET: ErrorType.LOGIC,
    _C.NO_FINAL_MESSAGE: ErrorType.LOGIC,
    _C.KILLED: ErrorType.STATE,
    _C.INTERRUPTED: ErrorType.STATE,
    _C.LOST: ErrorType.STATE,
    _C.NOT_SIGNED_IN: ErrorType.AUTH,
    _C.CLOUD_ENV_NOT_FOUND: ErrorType.LOGIC,
    _C.CLOUD_TASK_ERROR: ErrorType.LOGIC,
    _C.CLOUD_NO_DIFF: ErrorType.STATE,
    _C.UNKNOWN: ErrorType.LOGIC,
}

# Provider-side trouble the breaker counts (playbook §4: 429, 503, timeouts trip; 401/400/logic do not).
_TRIPS: Final = frozenset(
    {
        _C.HTTP_429,
        _C.USAGE_LIMIT,
        _C.HTTP_5XX,
        _C.STREAM_DROPPED,
        _C.STREAM_STALLED,
        _C.CONNECTION_REFUSED,
        _C.TIMEOUT,
    }
)
# Kinds the retry policy never retries automatically.
_NOT_RETRYABLE: Final = frozenset(
    {
        _C.AUTH_401,
        _C.AUTH_403,
        _C.MISSING_API_KEY,
        _C.BAD_REQUEST_400,
        _C.CONTEXT_LENGTH,
        _C.INTERRUPTED,
        _C.NOT_SIGNED_IN,
        _C.CLOUD_ENV_NOT_FOUND,
        _C.CLOUD_TASK_ERROR,
        _C.CLOUD_NO_DIFF,
        _C.UNKNOWN,
    }
)

_SUGGESTION: Final[dict[FailureCode, str]] = {
    _C.HTTP_429: "the provider is rate-limiting requests; retrying with backoff",
    _C.USAGE_LIMIT: "the account's usage limit is reached; waiting for it to reset (or add credits)",
    _C.HTTP_5XX: "the model provider is overloaded; retrying with backoff",
    _C.STREAM_DROPPED: "the response stream was cut off before it completed; retrying with backoff",
    _C.STREAM_STALLED: "the model stream went silent (idle timeout); retrying with backoff",
    _C.CONNECTION_REFUSED: "cannot reach the model provider; check its base_url and the network",
    _C.TIMEOUT: "the attempt hit the hard wall-clock cap; raise budget.wall_time_s if the task needs longer",
    _C.AUTH_401: "the provider rejected the API key; check MOCK_API_KEY / OPENAI_API_KEY",
    _C.AUTH_403: "the API key has no access to this model or project; check the key's permissions",
    _C.MISSING_API_KEY: "the API key variable is not set; check MOCK_API_KEY / OPENAI_API_KEY",
    _C.BAD_REQUEST_400: "the provider rejected the request as malformed; check the model and -c overrides",
    _C.CONTEXT_LENGTH: "the thread's context window is full; start a fresh thread from a checkpoint summary",
    _C.WORKER_FAILED: "the worker reported FAILED; retrying with its reason as feedback",
    _C.WORKER_BLOCKED: "the worker is blocked; resolve the blocker or answer its question",
    _C.ACCEPTANCE_NOT_MET: "an acceptance check failed; retrying with the failing check as feedback",
    _C.KILLED: "codex was killed by a signal the cockpit did not send; check memory limits and other tools",
    _C.INTERRUPTED: "the attempt was interrupted; retry it when ready",
    _C.LOST: "the runner process vanished; check the working tree before retrying",
    _C.NO_FINAL_MESSAGE: "the worker ended without a final message; retrying with the output protocol",
    _C.NOT_SIGNED_IN: "codex cloud needs a ChatGPT login: run `codex login` for the cockpit's CODEX_HOME",
    _C.CLOUD_ENV_NOT_FOUND: "the cloud environment is unknown or ambiguous; set its id in the config",
    _C.CLOUD_TASK_ERROR: "the cloud task ended in error; read its message, then retry or give up",
    _C.CLOUD_NO_DIFF: "the cloud task has no diff: it is still running, failed, or changed nothing",
    _C.UNKNOWN: "unrecognised failure; read the attempt's stderr.log and events.jsonl",
}


# --------------------------------------------------------------------------------------------- messages

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?", re.IGNORECASE)
_ID_TOKEN = re.compile(r"\b(?=[a-z_-]*\d)[a-z0-9]+(?:[_-][a-z0-9]+)+\b|\b[0-9a-f]{8,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")


_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _plain(text: str) -> str:
    """Lower case with typographic apostrophes and quotes made plain, for matching."""
    return text.translate(_TYPOGRAPHIC).lower()


def signature_of(code: str, message: str) -> str:
    """``code|message`` with URLs, ids, dates, times and numbers replaced, whitespace collapsed.

    Two failures of the same kind whose messages differ only in a port, a request id, a reset time or a
    retry counter get the same signature.
    """
    text = _plain(message)
    text = _URL.sub("<url>", text)
    text = _UUID.sub("<id>", text)
    text = _DATE.sub("<date>", text)
    text = _TIME.sub("<time>", text)
    text = _ID_TOKEN.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    text = _SPACE.sub(" ", text).strip()
    return f"{code}|{text}"[:MAX_SIGNATURE_CHARS]


_USAGE_LIMIT = re.compile(
    r"hit your usage limit|usage limit (?:has been )?reached|usage_limit_reached|quota exceeded"
    r"|insufficient_quota|usage_not_included|out of credits"
)
_CONTEXT = re.compile(
    r"ran out of room in the model's context window|context_length_exceeded|context window exceeded"
    r"|exceeds the context window|maximum context length"
)
_MISSING_KEY = re.compile(r"missing environment variable|env(?:ironment)? var(?:iable)? .*not (?:set|found)")
_ENV_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
_STATUS = re.compile(r"(?:unexpected status|last status:?|status code:?|http)\s*(\d{3})\b")
_STATUS_PHRASE = re.compile(
    r"\b(\d{3}) (?:unauthorized|forbidden|too many requests|bad request|internal server error|bad gateway"
    r"|service unavailable|gateway timeout)\b"
)
_RATE_LIMIT = re.compile(r"rate limit exceeded|rate_limit_exceeded|too many requests")
_OVERLOADED = re.compile(r"experiencing high demand|server overloaded|server_is_overloaded|overloaded_error")
_BAD_REQUEST = re.compile(r"invalid_request_error")
_STALLED = re.compile(r"idle timeout waiting for sse")
_DROPPED = re.compile(
    r"stream disconnected before completion|stream closed before response\.completed"
    r"|error decoding response body"
)
_CONNECTION = re.compile(
    r"connection failed|connection refused|error sending request|waiting for network|connection reset"
    r"|dns error|failed to lookup address"
)
_TRY_AGAIN_AT = re.compile(
    r"try again at\s+"
    r"(?:(?P<month>[a-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\s+)?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[ap])\.?m\.?",
    re.IGNORECASE,
)
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _status_from(plain: str) -> int | None:
    match = _STATUS.search(plain) or _STATUS_PHRASE.search(plain)
    return int(match.group(1)) if match else None


def status_code(status: int) -> FailureCode | None:
    """The failure code of an HTTP status (a 4xx other than 400/401/403/429 has none here)."""
    if status == 401:
        return _C.AUTH_401
    if status == 403:
        return _C.AUTH_403
    if status == 429:
        return _C.HTTP_429
    if status == 400:
        return _C.BAD_REQUEST_400
    if 500 <= status <= 599:
        return _C.HTTP_5XX
    return None


def _looks_like_error_body(message: str) -> bool:
    """Codex reports a 400 as the raw response body: a JSON object with an ``error`` member."""
    text = message.strip()
    if not text.startswith("{"):
        return False
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body


def _from_message(message: str) -> tuple[FailureCode, int | None] | None:
    """The kind a Codex error message names (codex-cli.md §6 wording), with its HTTP status if known."""
    plain = _plain(message)
    status = _status_from(plain)
    if _USAGE_LIMIT.search(plain):
        return _C.USAGE_LIMIT, 429
    if _CONTEXT.search(plain):
        return _C.CONTEXT_LENGTH, None
    if _MISSING_KEY.search(plain):
        return _C.MISSING_API_KEY, None
    if status is not None and (code := status_code(status)) is not None:
        return code, status
    if _RATE_LIMIT.search(plain):
        return _C.HTTP_429, 429
    if _OVERLOADED.search(plain):
        return _C.HTTP_5XX, status or 500
    if _BAD_REQUEST.search(plain) or _looks_like_error_body(message):
        return _C.BAD_REQUEST_400, 400
    if _STALLED.search(plain):
        return _C.STREAM_STALLED, None
    if _DROPPED.search(plain):
        return _C.STREAM_DROPPED, None
    if _CONNECTION.search(plain):
        return _C.CONNECTION_REFUSED, None
    return None


# ------------------------------------------------------------------------------------- codex_error_info

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower() if any(ch.isupper() for ch in name) else name


def normalise_error_info(value: Any) -> str | None:
    """``codex_error_info`` as one string: ``kind`` or ``kind:STATUS`` (snake_case kind).

    Codex writes bare kinds as strings (``"usage_limit_exceeded"``) and detailed kinds as one-key
    objects (``{"http_connection_failed": {"http_status_code": 401}}``); the app-server spells them in
    camelCase. All become e.g. ``"usage_limit_exceeded"`` or ``"http_connection_failed:401"``.
    """
    if isinstance(value, str):
        return _snake(value) or None
    if isinstance(value, dict) and value:
        kind, details = next(iter(value.items()))
        status = None
        if isinstance(details, dict):
            status = details.get("http_status_code", details.get("httpStatusCode"))
        name = _snake(str(kind))
        return f"{name}:{status}" if isinstance(status, int) else name
    return None


_INFO_KINDS: Final[dict[str, FailureCode]] = {
    "usage_limit_exceeded": _C.USAGE_LIMIT,
    "context_window_exceeded": _C.CONTEXT_LENGTH,
    "unauthorized": _C.AUTH_401,
    "bad_request": _C.BAD_REQUEST_400,
    "internal_server_error": _C.HTTP_5XX,
    "server_overloaded": _C.HTTP_5XX,
    "rate_limit_exceeded": _C.HTTP_429,
}
# Kinds only used when the message itself is not recognised.
_INFO_FALLBACK: Final[dict[str, FailureCode]] = {
    "response_stream_disconnected": _C.STREAM_DROPPED,
    "response_stream_connection_failed": _C.STREAM_DROPPED,
    "http_connection_failed": _C.CONNECTION_REFUSED,
}
_INFO_STATUS: Final[dict[FailureCode, int]] = {
    _C.USAGE_LIMIT: 429,
    _C.AUTH_401: 401,
    _C.BAD_REQUEST_400: 400,
    _C.HTTP_5XX: 500,
    _C.HTTP_429: 429,
}


def _from_info(info: str | None) -> tuple[FailureCode | None, FailureCode | None, int | None]:
    """(definite kind, fallback kind, HTTP status) named by a normalised ``codex_error_info``."""
    if not info:
        return None, None, None
    kind, _, status_text = info.partition(":")
    status = int(status_text) if status_text.isdigit() else None
    if kind in _INFO_KINDS:
        code = _INFO_KINDS[kind]
        return code, None, status or _INFO_STATUS.get(code)
    if status is not None and (code := status_code(status)) is not None:
        return code, None, status
    return None, _INFO_FALLBACK.get(kind), status


# ----------------------------------------------------------------------------------------- reset times


def _parse_reset(message: str, now: float) -> float | None:
    """The reset time in "… try again at 11:38 PM." / "… at Nov 24th, 2026 12:01 AM." (local time)."""
    match = _TRY_AGAIN_AT.search(_plain(message))
    if match is None:
        return None
    hour = int(match["hour"]) % 12 + (12 if match["ampm"] == "p" else 0)
    minute = int(match["minute"])
    if hour > 23 or minute > 59:
        return None
    if match["month"]:
        if match["month"] not in _MONTHS:
            return None
        try:
            moment = datetime(int(match["year"]), _MONTHS.index(match["month"]) + 1, int(match["day"]))
        except ValueError:
            return None
        return moment.replace(hour=hour, minute=minute).timestamp()
    today = datetime.fromtimestamp(now).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if today.timestamp() <= now:
        today += timedelta(days=1)
    return today.timestamp()


# -------------------------------------------------------------------------------------------- classify


def _suggestion(code: FailureCode, message: str, resets_at: float | None) -> str:
    if code is _C.MISSING_API_KEY and (name := _ENV_NAME.search(message)):
        return f"set {name.group(1)} in the cockpit's environment (check MOCK_API_KEY / OPENAI_API_KEY)"
    if code is _C.USAGE_LIMIT and resets_at is not None:
        when = datetime.fromtimestamp(resets_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"the account's usage limit is reached; waiting until it resets at {when}"
    return _SUGGESTION[code]


def _failure(
    code: FailureCode,
    message: str,
    *,
    http_status: int | None = None,
    resets_at: float | None = None,
    suggestion: str | None = None,
) -> Failure:
    message = clean(message.strip())[:MAX_MESSAGE_CHARS] or code.value
    return Failure(
        error_type=_ERROR_TYPE[code],
        code=code,
        message=message,
        http_status=http_status,
        retryable=code not in _NOT_RETRYABLE,
        trips_breaker=code in _TRIPS,
        suggestion=suggestion or _suggestion(code, message, resets_at),
        signature=signature_of(code.value, message),
        resets_at=resets_at,
    )


def failure_of(
    code: FailureCode, message: str, *, http_status: int | None = None, suggestion: str | None = None
) -> Failure:
    """A failure of ``code``: its class, retryability and breaker rule from this module's tables, the
    message cleaned (escapes stripped, secrets masked) and cut, its signature, and ``suggestion`` or the
    code's own. For classifiers of other Codex surfaces (:mod:`cockpit.core.policy.cloud_failures`)."""
    return _failure(code, message, http_status=http_status, suggestion=suggestion)


def start_failure(what: str) -> Failure:
    """A failure for an attempt that could not be started (preparing its lane, building Codex's argv,
    spawning its runner): an unknown error of this task, never of the supervisor."""
    return _failure(_C.UNKNOWN, f"could not start the attempt: {what}")


def acceptance_failure(check: str, detail: str = "") -> Failure:
    """A failure for an attempt whose three signals were green but an acceptance check did not pass."""
    message = f"acceptance check failed: {check.strip()}"
    if detail.strip():
        message += f" — {detail.strip()}"
    return _failure(_C.ACCEPTANCE_NOT_MET, message)


def _last_line(text: str) -> str:
    """The last meaningful line of stderr (Codex's stdin notice and helper warnings skipped)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line and not line.startswith(("Reading additional input from stdin", "WARNING: proceeding")):
            return line
    return ""


def _connection_error(errors: Iterable[str]) -> str | None:
    for message in reversed(list(errors)):
        plain = _plain(message)
        if "waiting for network" in plain or "connection failed" in plain or "connection refused" in plain:
            return message
    return None


def _turn_failure(message: str, info: str | None, resets_at: float | None, now: float | None) -> Failure:
    definite, fallback, info_status = _from_info(info)
    from_message = _from_message(message)
    if definite is not None:
        code = definite
        status = from_message[1] if from_message and from_message[0] == code else info_status
    elif from_message is not None:
        code, status = from_message
    elif fallback is not None:
        code, status = fallback, info_status
    else:
        code, status = _C.UNKNOWN, info_status
    if code is _C.USAGE_LIMIT and resets_at is None:
        resets_at = _parse_reset(message, time.time() if now is None else now)
    return _failure(code, message, http_status=status, resets_at=resets_at)


def _base(
    progress: AttemptProgress,
    exit: ExitInfo,
    outcome: Outcome | None,
    info: str | None,
    stderr_tail: str,
    resets_at: float | None,
    now: float | None,
) -> Failure | None:
    if exit.cancelled:
        return _failure(_C.INTERRUPTED, exit.note or "cancelled by the cockpit")
    if progress.turn_failed:
        return _turn_failure(progress.turn_failed, info, resets_at, now)
    if getattr(exit, "chunked", False):
        note = exit.note or "stopped at the chunk limit"
        return _failure(_C.INTERRUPTED, f"{note} (a planned pause: continue the thread)")
    if exit.timed_out or getattr(exit, "watchdog", False):
        refused = _connection_error(progress.errors)
        if refused is not None:
            return _failure(_C.CONNECTION_REFUSED, refused)
        return _failure(_C.TIMEOUT, exit.note or "hard wall-clock cap reached; process group killed")
    if exit.lost:
        return _failure(_C.LOST, exit.note or "the runner disappeared without recording an exit status")
    if exit.signal is not None:
        if exit.signal == signal.SIGINT:
            return _failure(_C.INTERRUPTED, f"codex interrupted by signal {exit.signal} (SIGINT)")
        name = _signal_name(exit.signal)
        return _failure(_C.KILLED, f"codex killed by signal {exit.signal} ({name})")
    if exit.code != 0:
        stderr_line = _last_line(stderr_tail)
        if stderr_line and (known := _from_message(stderr_line)) is not None:
            return _failure(known[0], stderr_line, http_status=known[1])
        if exit.code == 1 and progress.turns_started and not progress.turns_completed:
            # Codex's SIGINT signature: exit 1 after turn.started, no turn.failed (codex-cli.md §7).
            return _failure(_C.INTERRUPTED, "codex exited 1 mid-turn without turn.failed (interrupted)")
        for text in reversed(progress.errors):
            if (known := _from_message(text)) is not None:
                return _failure(known[0], text, http_status=known[1])
        detail = stderr_line or exit.note or "no error reported"
        what = f"codex exited with code {exit.code}" if exit.code is not None else "codex did not run"
        return _failure(_C.UNKNOWN, f"{what}: {detail}")
    if not progress.turn_completed:
        return _failure(_C.UNKNOWN, "codex exited 0 without turn.completed")
    if outcome is None:
        return _failure(_C.NO_FINAL_MESSAGE, "the final message file is empty")
    if outcome.status == "FAILED":
        return _failure(_C.WORKER_FAILED, f"FAILED: {outcome.detail}".rstrip(": "))
    if outcome.status == "BLOCKED":
        return _failure(_C.WORKER_BLOCKED, f"BLOCKED: {outcome.detail}".rstrip(": "))
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(
    progress: AttemptProgress,
    exit: ExitInfo,
    outcome: Outcome | None,
    *,
    codex_error_info: str | None = None,
    stderr_tail: str = "",
    consecutive_failures: int = 0,
    over_budget: bool = False,
    resets_at: float | None = None,
    now: float | None = None,
) -> Failure | None:
    """Classify one finished attempt; ``None`` when it succeeded.

    Success: exit code 0, ``turn.completed`` without ``turn.failed``, a non-empty final message
    (``outcome`` is ``None`` only when the ``-o`` file was empty) whose first line is not ``FAILED:`` /
    ``BLOCKED:``. A successful attempt is never a failure, even when ``over_budget``.

    Precedence (the first rule that applies decides the code):

    1. ``exit.cancelled`` ⇒ ``interrupted`` (the cockpit or the human stopped it).
    2. ``turn.failed`` ⇒ the kind its message names (codex-cli.md §6 wording). A definite
       ``codex_error_info`` (usage limit, context window, unauthorized, bad request, internal server
       error/overloaded, rate limit, or any kind carrying an HTTP status) overrides the wording; the
       stream / connection kinds only fill in when the wording is not recognised; else ``unknown``.
    3. ``exit.chunked`` ⇒ ``interrupted`` (a planned pause at the chunk limit; the supervisor continues
       such a thread, and one stopped by the watchdog, instead of classifying it: rules 3–4 are fallbacks).
    4. ``exit.timed_out`` (the cockpit's cap) or ``exit.watchdog`` (no event for too long) ⇒
       ``connection_refused`` when Codex had been reporting
       ``Reconnecting... waiting for network (Connection failed …)``, else ``timeout``.
    5. ``exit.lost`` ⇒ ``lost``.
    6. A signal: SIGINT ⇒ ``interrupted``, any other ⇒ ``killed``.
    7. A non-zero exit: a known message in the last stderr line; else exit 1 mid-turn without
       ``turn.failed`` ⇒ ``interrupted`` (Codex's SIGINT signature); else a known message among the
       non-fatal errors; else ``unknown``.
    8. Exit 0: no ``turn.completed`` ⇒ ``unknown``; empty final message ⇒ ``no_final_message``;
       ``FAILED:`` ⇒ ``worker_failed``; ``BLOCKED:`` ⇒ ``worker_blocked``.

    Then, except for ``interrupted``: ``consecutive_failures`` (failures immediately before this attempt,
    not counting it) + 1 ≥ :data:`CATASTROPHIC_CONSECUTIVE_FAILURES`, or ``over_budget``, turns the
    failure ``catastrophic`` (code kept, not retryable, trips the breaker).

    ``resets_at`` (unix seconds, e.g. from :func:`rollout_error_info`) is used for usage limits; without
    it the "try again at …" time of the message is parsed (local time, relative to ``now``).
    """
    failure = _base(progress, exit, outcome, codex_error_info, stderr_tail, resets_at, now)
    if failure is None or failure.code is _C.INTERRUPTED:
        return failure
    streak = consecutive_failures + 1
    if over_budget or streak >= CATASTROPHIC_CONSECUTIVE_FAILURES:
        why = "the task is over budget" if over_budget else f"{streak} consecutive failures"
        return failure.model_copy(
            update={
                "error_type": ErrorType.CATASTROPHIC,
                "retryable": False,
                "trips_breaker": True,
                "suggestion": f"{why}: stopping for a human decision (last error: {failure.suggestion})",
            }
        )
    return failure


# ----------------------------------------------------------------------------------------- rollout file


def _rollout_path(codex_home: Path, thread_id: str) -> Path | None:
    sessions = Path(codex_home) / "sessions"
    matches = list(sessions.glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))
    if not matches:
        return None

    def newest(path: Path) -> tuple[float, str]:
        try:
            return path.stat().st_mtime, path.name
        except OSError:
            return 0.0, path.name

    return max(matches, key=newest)


def _tail_records(path: Path, limit: int = ROLLOUT_TAIL_BYTES) -> list[dict[str, Any]]:
    """The complete JSON lines among the last ``limit`` bytes of ``path``, oldest first."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - limit)
        fh.seek(start)
        data = fh.read(size - start)
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first piece is the end of a line that began before the window
    if lines and not data.endswith(b"\n"):
        lines = lines[:-1]  # a line still being written
    records: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _exhausted_reset(rate_limits: Any) -> float | None:
    if not isinstance(rate_limits, dict):
        return None
    resets: list[float] = []
    for window in ("primary", "secondary"):
        limit = rate_limits.get(window)
        if not isinstance(limit, dict):
            continue
        used, reset = limit.get("used_percent"), limit.get("resets_at")
        if isinstance(used, int | float) and used >= 100 and isinstance(reset, int | float):
            resets.append(float(reset))
    return max(resets) if resets else None


def rollout_error_info(codex_home: Path, thread_id: str) -> tuple[str | None, float | None]:
    """(``codex_error_info`` of the thread's last failed turn, usage-limit reset time) from its rollout.

    Reads only the last :data:`ROLLOUT_TAIL_BYTES` of
    ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<thread_id>.jsonl`` (the newest when several match).
    The error kind is normalised by :func:`normalise_error_info` and is ``None`` when the last turn
    record (``task_complete`` or ``turn_aborted``) is not a failure.
    The reset time is the latest ``resets_at`` among the rate-limit windows at ≥ 100 % in the last
    ``token_count`` that carried rate limits. A missing or unreadable file gives ``(None, None)``.
    """
    path = _rollout_path(codex_home, thread_id)
    if path is None:
        return None, None
    try:
        records = _tail_records(path)
    except OSError:
        return None, None
    info: str | None = None
    reset: float | None = None
    seen_turn = seen_limits = False
    for record in reversed(records):
        payload = record.get("payload")
        if record.get("type") != "event_msg" or not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if not seen_turn and kind in ("task_complete", "turn_aborted"):
            seen_turn = True
            error = payload.get("error")
            if kind == "task_complete" and isinstance(error, dict):
                info = normalise_error_info(error.get("codex_error_info")) or "other"
        elif not seen_limits and kind == "token_count" and payload.get("rate_limits") is not None:
            seen_limits = True
            reset = _exhausted_reset(payload.get("rate_limits"))
        if seen_turn and seen_limits:
            break
    return info, reset


# --------------------------------------------------------------------------------------- error events


class StructuredErrorEvent(BaseModel):
    """The playbook's structured error event (§6 template) for one failed attempt."""

    task_id: str
    status: Literal["FAILED"] = "FAILED"
    error: str
    error_type: ErrorType
    code: FailureCode
    http_status: int | None = None
    attempt: int
    max_attempts: int
    last_completed_step: str | None = None
    suggestion: str
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def status_line(self) -> str:
        """The one-line form: ``FAILED {id}: FAILED (error: …)``."""
        return f"FAILED {self.task_id}: FAILED (error: {self.error})"


def error_event(
    task_id: str,
    failure: Failure,
    attempt: int,
    max_attempts: int,
    last_completed_step: str | None,
) -> StructuredErrorEvent:
    """The structured error event for ``failure`` on attempt ``attempt`` of ``max_attempts``."""
    return StructuredErrorEvent(
        task_id=task_id,
        error=failure.message,
        error_type=failure.error_type,
        code=failure.code,
        http_status=failure.http_status,
        attempt=attempt,
        max_attempts=max_attempts,
        last_completed_step=last_completed_step,
        suggestion=failure.suggestion,
    )

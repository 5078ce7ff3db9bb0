"""A failed review, classified like a failed attempt: the reviewer's try ended without a verdict to read.

:func:`classify_review` reads how one try of the reviewer (Claude Code, ``stream-json``) ended — its
runner's ``exit.json`` and the stream's ``result`` line — and returns a
:class:`~cockpit.core.records.attempt.Failure` with the codes the retry policy already knows
(:mod:`cockpit.core.policy.retry`), or None when the try left a final text to read a verdict from.
:func:`no_verdict` is the failure of a try whose text holds no readable verdict. Neither is ever a pass.

What the pinned CLI does on each failure is in ``docs/claude-code.md`` ("Errors, retries and exit
codes"): every API failure ends in a ``result`` with ``is_error: true`` (its ``subtype`` may still say
``success``), its status in ``api_error_status`` (null after repeated 529s, when only the text and the
``api_retry`` lines name it), exit 1. So:

* 529 / overloaded, 500s → ``http_5xx``; 429 → ``http_429`` (transient: retried with backoff);
* 401 / ``authentication_failed`` → ``auth_401``, 403 → ``auth_403`` (never retried);
* 400 → ``bad_request_400`` (never retried); "Unable to connect to API" → ``connection_refused``;
* a stream cut between whole blocks (``stop_reason: null``, exit 0) → ``stream_dropped``;
* no ``result`` line: the reviewer crashed or was killed (``killed``, ``unknown``), the runner vanished
  (``lost``), or ran past the review's cap (``timeout``);
* ``error_max_turns`` and a reply with no verdict block → ``no_final_message`` (retried twice, then a
  person decides).
"""

from __future__ import annotations

import re
import signal
from typing import Final

from cockpit.core.claude.stream import AssistantLine, ClaudeStream
from cockpit.core.policy.failures import failure_of, status_code
from cockpit.core.records.attempt import Failure, FailureCode
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.text import cut, one_line

__all__ = ["classify_review", "no_verdict"]

_C = FailureCode
_STATUS_IN_TEXT: Final = re.compile(r"\b(?:API Error:|Error:)?\s*(?:Repeated\s+)?([45]\d\d)\b")
_ERROR_KINDS: Final[dict[str, FailureCode]] = {
    "authentication_failed": _C.AUTH_401,
    "rate_limit": _C.HTTP_429,
    "overloaded": _C.HTTP_5XX,
    "server_error": _C.HTTP_5XX,
}
_SUGGESTIONS: Final[dict[FailureCode, str]] = {
    _C.AUTH_401: "check Claude Code's login (run `claude` by hand, or ANTHROPIC_API_KEY / CLAUDE_CONFIG_DIR)",
    _C.AUTH_403: "check that Claude Code's account may use the reviewer's model",
    _C.BAD_REQUEST_400: "check the reviewer's model and effort in [review]",
    _C.HTTP_429: "the reviewer's API is rate limited: the review is retried after a pause",
    _C.HTTP_5XX: "the reviewer's API is overloaded or failing: the review is retried after a pause",
    _C.CONNECTION_REFUSED: "check ANTHROPIC_BASE_URL and the network",
    _C.STREAM_DROPPED: "the reviewer's answer was cut short: the review is retried",
    _C.TIMEOUT: "the review ran past [review] reviewer_timeout_s: raise it or review a smaller change",
    _C.NO_FINAL_MESSAGE: "the reviewer ended without a verdict block: the review is retried",
    _C.KILLED: "the reviewer was killed: the review is retried once",
    _C.LOST: "the review runner vanished: the review is retried once",
    _C.INTERRUPTED: "the review was stopped on purpose",
    _C.UNKNOWN: "read the round's stream.jsonl and stderr.log",
}


def _failure(code: FailureCode, message: str, status: int | None = None) -> Failure:
    return failure_of(code, f"the reviewer: {message}", http_status=status, suggestion=_SUGGESTIONS[code])


def no_verdict(detail: str) -> Failure:
    """The failure of a try whose reply has no readable verdict (``detail``: why, from the parser)."""
    return _failure(_C.NO_FINAL_MESSAGE, f"no verdict ({one_line(detail)})")


def _api_failure(stream: ClaudeStream, text: str, status: int | None) -> tuple[FailureCode, int | None]:
    retries = stream.retries
    if status is None and retries and retries[-1].error_status is not None:
        status = retries[-1].error_status
    if status is None and (found := _STATUS_IN_TEXT.search(text)):
        status = int(found.group(1))
    if status is not None:
        if status == 529:
            return _C.HTTP_5XX, status
        if (code := status_code(status)) is not None:
            return code, status
    kinds = [line.error for line in stream.lines if isinstance(line, AssistantLine) and line.error]
    kinds += [r.error for r in retries if r.error]
    for kind in reversed(kinds):
        if kind in _ERROR_KINDS:
            code = _ERROR_KINDS[kind]
            return code, status
    lowered = text.lower()
    if "overloaded" in lowered:
        return _C.HTTP_5XX, status
    if "unable to connect" in lowered or "connectionrefused" in lowered or "connection refused" in lowered:
        return _C.CONNECTION_REFUSED, status
    return _C.UNKNOWN, status


def classify_review(stream: ClaudeStream, info: ExitInfo, *, stderr_tail: str = "") -> Failure | None:
    """How one try of the reviewer failed, or None when its ``result`` holds a final text (whose verdict
    is read next). ``stderr_tail``: the end of the try's ``stderr.log`` (bad arguments print there)."""
    if info.cancelled:
        return _failure(_C.INTERRUPTED, info.note or "cancelled")
    if info.timed_out:
        return _failure(_C.TIMEOUT, info.note or "the review's hard wall-clock cap was reached")
    if info.lost:
        return _failure(_C.LOST, info.note or "the runner disappeared without recording an exit status")
    result = stream.result
    if result is None:
        if info.signal is not None:
            try:
                name = signal.Signals(info.signal).name
            except ValueError:
                name = f"signal {info.signal}"
            return _failure(_C.KILLED, f"killed by signal {info.signal} ({name})")
        last = next((ln.strip() for ln in reversed(stderr_tail.splitlines()) if ln.strip()), "")
        what = f"exited with code {info.code}" if info.code is not None else "did not run"
        detail = (
            last or info.note or ("its stream has no result line" if stream.lines else "it printed nothing")
        )
        return _failure(_C.UNKNOWN, f"{what} without a result: {cut(detail, 300)}")
    if result.is_error:
        if result.subtype == "error_max_turns":
            return _failure(_C.NO_FINAL_MESSAGE, "it reached its maximum number of turns")
        text = result.result or "; ".join(result.errors) or result.subtype or "an error"
        code, status = _api_failure(stream, text, result.api_error_status)
        return _failure(code, cut(one_line(text), 500), status)
    if result.stop_reason is None and result.subtype == "success":
        return _failure(
            _C.STREAM_DROPPED, "its answer was cut short (the stream ended without a stop reason)"
        )
    if not (result.result or "").strip() and not stream.text().strip():
        return no_verdict("the reply is empty")
    return None

"""Classification of failed ``codex cloud`` calls, and of cloud tasks that ended in error.

``codex cloud`` never retries: any non-2xx answer exits 1 at once, and network errors, HTTP errors and
a task that is merely not ready share that exit code. So a failed call is read from its stderr:

- exit 2: a usage error (clap) — the cockpit built a bad command line: ``bad_request_400``, never
  retried;
- ``Not signed in. Please run 'codex login' …`` (also what an API-key login gets), ``ChatGPT token not
  available``: ``not_signed_in``, never retried, no breaker;
- ``http error: <op> failed: <METHOD> <url> failed: <status> <reason>; content-type=…; body=…``:
  401/403 ⇒ auth, never retried, no breaker; 429 ⇒ transient, backoff, trips the breaker; 5xx ⇒
  transient, backoff; any other 4xx (a 404 for an unknown task) ⇒ ``bad_request_400``;
- ``Decode error for <url>`` (a body codex cannot read), ``succeeded but no task id found``:
  ``http_5xx`` without a status — the backend's answer was wrong; transient, backoff;
- ``error sending request`` (no route, proxy or TLS trouble), connection refused or reset, DNS:
  ``connection_refused``, transient;
- ``No diff available for task …; it may still be running.``: ``cloud_no_diff`` (state: the task is
  still running, failed or changed nothing; read its status);
- ``Attempt 3 not available; only 2 attempt(s) found``, an empty query, a refused base URL:
  ``bad_request_400``;
- ``environment '…' not found``, ``… is ambiguous``, ``no cloud environments are available``:
  ``cloud_env_not_found``, never retried;
- anything else: ``unknown`` (logic; the retry policy gates it).

The message kept is stderr's meaningful lines, cleaned (escapes stripped, tokens masked) and cut; the
suggestion speaks of the cloud. Codes, classes and retry rules are the ones of
:mod:`cockpit.core.policy.failures` and :mod:`cockpit.core.policy.retry`.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from cockpit.core.policy.failures import failure_of, status_code
from cockpit.core.records.attempt import Failure, FailureCode
from cockpit.core.text import clean, one_line

__all__ = ["CloudHttpError", "classify_cloud_error", "cloud_task_failure", "parse_http_error"]

_C = FailureCode
CODEX_USAGE_EXIT: Final = 2  # clap's exit code for a bad command line
MAX_STDERR_LINES: Final = 20

_SUGGESTION: Final[dict[FailureCode, str]] = {
    _C.AUTH_401: "the cloud backend refused the ChatGPT login (401); run `codex login` again",
    _C.AUTH_403: "the ChatGPT account has no access to this cloud workspace or task (403); check the account",
    _C.HTTP_429: "the cloud backend is rate-limiting requests; retrying with backoff",
    _C.HTTP_5XX: "the cloud backend failed or sent an unreadable answer; retrying with backoff",
    _C.CONNECTION_REFUSED: "cannot reach the cloud backend (network, proxy or TLS); check the connection",
    _C.BAD_REQUEST_400: "codex cloud refused the request (argument, task id or setting); fix the call",
}

# http error: list_tasks failed: GET https://…/wham/tasks/list failed: 401 Unauthorized; content-type=…
_HTTP: Final = re.compile(
    r"(?:(?P<op>[a-z_]+) failed: )?(?P<method>[A-Z]{3,7}) (?P<url>\S+) failed: (?P<status>\d{3})\b"
    r"(?P<reason>[^;\n]*)"
)
_NOT_SIGNED_IN: Final = re.compile(
    r"not signed in|please run 'codex login'|chatgpt token not available|log out and sign in again"
)
_DECODE: Final = re.compile(
    r"decode error for |succeeded but no task id found|task metadata missing|error decoding response body"
)
_CONNECTION: Final = re.compile(
    r"error sending request|connection refused|connection reset|connection closed|dns error"
    r"|failed to lookup address|timed out|operation timed out|tls handshake|certificate"
)
_NO_DIFF: Final = re.compile(r"no diff available")
_BAD_REQUEST: Final = re.compile(
    r"attempt \d+ not available|attempt must be at least|no attempts available|no query provided"
    r"|must use a trusted https origin|task id must not be empty|environment id must not be empty"
    r"|expected unified git diff"
)
_ENVIRONMENT: Final = re.compile(
    r"environment '.*' not found|environment label '.*' is ambiguous|no cloud environments are available"
)
_NOISE: Final = ("Reading query from stdin",)
_BACKTRACE: Final = "Stack backtrace:"


class CloudHttpError(NamedTuple):
    """The parts of codex cloud's HTTP error text."""

    op: str | None  # list_tasks, get_task_details, create_task, ...
    method: str
    url: str
    status: int
    reason: str  # Unauthorized, Too Many Requests, ...


def parse_http_error(text: str) -> CloudHttpError | None:
    """The operation, method, URL, status and reason of
    ``http error: <op> failed: <METHOD> <url> failed: <status> <reason>; content-type=…; body=…``."""
    match = _HTTP.search(text)
    if match is None:
        return None
    return CloudHttpError(
        match["op"], match["method"], match["url"], int(match["status"]), match["reason"].strip()
    )


def _message(stderr: str) -> str:
    """stderr's meaningful lines on one line: the stdin notice and a backtrace block left out."""
    text = stderr.split(_BACKTRACE, 1)[0]
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.startswith(_NOISE)]
    return one_line(" ".join(kept[:MAX_STDERR_LINES]))


def _code_for_status(status: int) -> FailureCode:
    """As for the other lanes; any other 4xx is a request the cloud refused (a 404 for a lost task)."""
    code = status_code(status)
    if code is not None:
        return code
    return _C.BAD_REQUEST_400 if 400 <= status <= 499 else _C.UNKNOWN


def _classified(message: str, exit_code: int) -> tuple[FailureCode, int | None]:
    plain = message.lower()
    if exit_code == CODEX_USAGE_EXIT:
        return _C.BAD_REQUEST_400, None
    if (http := parse_http_error(message)) is not None:
        return _code_for_status(http.status), http.status
    if _NOT_SIGNED_IN.search(plain):
        return _C.NOT_SIGNED_IN, None
    if _DECODE.search(plain):
        return _C.HTTP_5XX, None
    if _NO_DIFF.search(plain):
        return _C.CLOUD_NO_DIFF, None
    if _BAD_REQUEST.search(plain):
        return _C.BAD_REQUEST_400, None
    if _ENVIRONMENT.search(plain):
        return _C.CLOUD_ENV_NOT_FOUND, None
    if _CONNECTION.search(plain):
        return _C.CONNECTION_REFUSED, None
    return _C.UNKNOWN, None


def classify_cloud_error(command: str, exit_code: int, stderr: str) -> Failure:
    """The failure of one ``codex cloud <command>`` call that exited ``exit_code`` (non-zero) with
    ``stderr``; see the module's table. ``status`` exiting 1 with a ``[STATE]`` line on stdout is not a
    failed call: read it with :func:`cockpit.core.codex.cloud.wire.parse_status_output` first."""
    detail = _message(clean(stderr))
    code, status = _classified(detail, exit_code)
    what = f"codex cloud {command} exited {exit_code}"
    if code is _C.BAD_REQUEST_400 and exit_code == CODEX_USAGE_EXIT:
        what += " (usage error)"
    message = f"{what}: {detail}" if detail else f"{what} without a message"
    return failure_of(code, message, http_status=status, suggestion=_SUGGESTION.get(code))


def cloud_task_failure(message: str, code: str | None = None) -> Failure:
    """The failure of a cloud task whose remote status is ``error``, with the backend's error ``code``
    and ``message`` when known: logic, not retried automatically (the retry policy gates it)."""
    detail = one_line(message.strip())
    remote = f" ({one_line(code.strip())})" if code and code.strip() else ""
    text = f"the cloud task ended in error{remote}" + (f": {detail}" if detail else "")
    return failure_of(_C.CLOUD_TASK_ERROR, text)

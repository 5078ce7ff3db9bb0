"""What one attempt leaves on the board, as persisted inside ``state.json``: its exit, three signals,
usage, the progress its event stream showed, the worker's declared outcome, and why it failed.

Records only: which failure class a message belongs to, what is retried and how an outcome is read are
policy (:mod:`cockpit.core.policy.failures`, :mod:`cockpit.core.policy.retry`,
:mod:`cockpit.core.envelope.prompt`) and import these, never the other way round.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from cockpit.core.diff_parse import count_patch
from cockpit.core.records.basics import Signals, Usage, utc_now
from cockpit.core.records.cloud import CloudRun
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.text import CleanText

DEFAULT_ATTEMPT_LIMIT: Final = 3  # attempts before a human gate, unless a failure's class allows other


class ErrorType(StrEnum):
    """The playbook's error classes (§12)."""

    TRANSIENT = "transient"
    AUTH = "auth"
    LOGIC = "logic"
    STATE = "state"
    CATASTROPHIC = "catastrophic"


class FailureCode(StrEnum):
    """A stable short kind of failure, independent of the exact wording Codex used."""

    HTTP_429 = "http_429"
    USAGE_LIMIT = "usage_limit"
    HTTP_5XX = "http_5xx"
    STREAM_DROPPED = "stream_dropped"
    STREAM_STALLED = "stream_stalled"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"  # the cockpit's own hard wall-clock cap
    AUTH_401 = "auth_401"
    AUTH_403 = "auth_403"
    MISSING_API_KEY = "missing_api_key"
    BAD_REQUEST_400 = "bad_request_400"
    CONTEXT_LENGTH = "context_length"
    WORKER_FAILED = "worker_failed"
    WORKER_BLOCKED = "worker_blocked"
    ACCEPTANCE_NOT_MET = "acceptance_not_met"
    KILLED = "killed"  # by a signal the cockpit did not send
    INTERRUPTED = "interrupted"  # SIGINT / cancelled
    LOST = "lost"  # the runner vanished
    NO_FINAL_MESSAGE = "no_final_message"
    NOT_SIGNED_IN = "not_signed_in"  # codex cloud has no ChatGPT login to use
    CLOUD_ENV_NOT_FOUND = "cloud_env_not_found"  # the cloud environment is unknown or ambiguous
    CLOUD_TASK_ERROR = "cloud_task_error"  # the cloud task itself ended in error
    CLOUD_NO_DIFF = "cloud_no_diff"  # the cloud task has no diff (still running, failed, or empty)
    UNKNOWN = "unknown"


class Failure(BaseModel):
    """Why one attempt failed, as far as the cockpit can tell."""

    error_type: ErrorType
    code: FailureCode
    message: CleanText
    http_status: int | None = None
    retryable: bool
    trips_breaker: bool
    suggestion: CleanText
    signature: CleanText
    resets_at: float | None = None
    max_attempts: int | None = None  # attempts the retry policy allows a task failing this way


OutcomeStatus = Literal["COMPLETED", "FAILED", "BLOCKED"]


class Outcome(BaseModel):
    """The worker's declared result: the status word of its first line and the rest of that line.

    ``status`` is ``None`` when the first non-empty line does not follow the protocol; ``detail`` then
    holds that line as written.
    """

    status: OutcomeStatus | None
    detail: CleanText


MAX_LIVE_DIFF_PATHS: Final = 50


class LiveDiff(BaseModel):
    """Counts of a running turn's diff (the diff itself is written beside the attempt as ``turn.diff``)."""

    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[CleanText] = Field(default_factory=list)  # at most :data:`MAX_LIVE_DIFF_PATHS`

    @classmethod
    def of(cls, patch: str) -> LiveDiff:
        counts = count_patch(patch, MAX_LIVE_DIFF_PATHS)
        return cls(files=counts.files, insertions=counts.added, deletions=counts.removed, paths=counts.paths)


class AttemptProgress(BaseModel):
    """What one attempt's event stream has shown so far (persisted in ``state.json``)."""

    thread_id: str | None = None  # set once a turn has started in the thread: resumable
    events: int = 0
    turns_started: int = 0
    turns_completed: int = 0
    turn_completed: bool = False
    turn_failed: CleanText | None = None
    usage: Usage | None = None
    commands: int = 0
    commands_failed: int = 0
    commands_running: int = 0
    file_changes: list[CleanText] = Field(default_factory=list)
    file_changes_truncated: int = 0
    agent_messages: int = 0
    last_agent_message: CleanText | None = None
    reasoning_items: int = 0
    errors: list[CleanText] = Field(default_factory=list)
    error_events: int = 0
    unknown_events: int = 0
    unknown_types: list[CleanText] = Field(default_factory=list)
    todo: list[dict[str, Any]] | None = None
    user_input_requests: int = 0
    parse_errors: int = 0
    awaiting_approval: CleanText | None = None  # what Codex asks while it waits for an answer (mcp lane)
    live_diff: LiveDiff | None = None  # the running turn's diff so far (mcp lane: ``turn/diff/updated``)


class DiffStat(BaseModel):
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[CleanText] = Field(default_factory=list)


class Attempt(BaseModel):
    n: int
    kind: Literal["initial", "followup", "retry", "resume"] = "initial"
    resumed_thread: str | None = None
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    deadline_s: float
    effort: str | None = None
    model: str | None = None
    runner_pid: int | None = None
    exit: ExitInfo | None = None
    signals: Signals = Field(default_factory=Signals)
    progress: AttemptProgress = Field(default_factory=AttemptProgress)
    usage_delta: Usage | None = None
    outcome: Outcome | None = None
    error: CleanText | None = None  # worker-derived text: cleaned (see cockpit.core.text)
    failure: Failure | None = None
    probe: bool = False
    cloud: CloudRun | None = None  # the cloud lane's remote task

    @property
    def finished(self) -> bool:
        return self.exit is not None

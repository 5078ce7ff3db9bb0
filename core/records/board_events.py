"""The kinds of the board's event log (``events.jsonl``), spelled once.

Every line the cockpit appends there (:meth:`~cockpit.core.board.blackboard.Blackboard.log_event`) is a
JSON object with a ``ts`` and one of these ``kind`` values; the rest of the object depends on the kind.
Readers (``cockpit show``, the task view's log, scripts) match on these strings, so a kind is part of the
on-disk format: add one here, never rename one. The members are strings (``StrEnum``), written as their
values.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    ACCEPTED = "accepted"
    ARCHIVE_ERROR = "archive_error"
    ARCHIVED = "archived"
    BLOCKED = "BLOCKED"
    BREAKER = "breaker"
    CHALLENGE_LABELLED = "challenge_labelled"  # a human or the orchestrator labelled a review challenge
    CLOUD_PICKED = "cloud_picked"
    CLOUD_STATUS = "cloud_status"
    CLOUD_SUBMITTED = "cloud_submitted"
    CODEX_NOTIFY = "codex_notify"
    CODEX_NOTIFY_REJECTED = "codex_notify_rejected"
    CONFINEMENT = "confinement"
    CONTINUATION = "continuation"
    DEAD_LETTER_ARCHIVED = "dead_letter_archived"
    DEAD_LETTER_RETRY = "dead_letter_retry"
    DECISION_APPLIED = "decision_applied"
    DECISION_OPENED = "decision_opened"
    DECISION_RESOLVED = "decision_resolved"
    DISK_SPACE = "disk_space"
    EFFORT = "effort"
    ERROR = "error"
    GIT_RECOVERY_ERROR = "git_recovery_error"
    LATE_APPROVAL = "late_approval"
    MERGE_CONFLICT = "merge_conflict"
    MERGE_RECOVERED = "merge_recovered"
    MERGED = "merged"
    NOTIFY = "notify"
    QUARANTINE = "quarantine"
    REATTACHED = "reattached"
    REJECTED = "rejected"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_REFUSED = "request_refused"
    RESUME = "resume"
    REVIEWING = "REVIEWING"  # a review round starts, or its reviewer (re)starts
    REVIEW_ROUND = "review_round"  # a round decided: converged, sent back, capped, failed
    REVIEW_ERROR = "review_error"  # a try of the reviewer failed (classified like an attempt)
    RUNNING = "RUNNING"
    SETTLE_ERROR = "settle_error"
    STALE_LOCK_REMOVED = "stale_lock_removed"
    SUPERVISOR_STARTED = "supervisor_started"
    SUPERVISOR_STOPPED = "supervisor_stopped"
    TASK_INDEX_ERROR = "task_index_error"
    TASK_INDEX_REBUILT = "task_index_rebuilt"
    WATCHDOG = "watchdog"
    WATCHDOG_KILL = "watchdog_kill"

"""What a lane needs to know about its conversation with the app-server, kept from every message received
whoever consumes the queue: items, completed turns, diffs, usage, rate limits, thread status, pending
server requests and each turn's final agent message.

A file-change approval request carries no diff: the preceding ``item/started`` does, and the request is
completed from it. Unchanged re-sends of a turn's diff are not queued. Rate limits are merged per
``limitId`` (:func:`~cockpit.core.codex.app_server.protocol.merge_rate_limits`).
"""

from __future__ import annotations

import time
from typing import Any

from cockpit.core.codex.app_server.connection import Incoming
from cockpit.core.codex.app_server.protocol import (
    ITEM_COMPLETED,
    ITEM_STARTED,
    TURN_COMPLETED,
    ErrorNotification,
    FileChangeApprovalRequest,
    ItemNotification,
    RateLimitSnapshot,
    RateLimitsUpdated,
    RequestId,
    ServerRequestResolved,
    ThreadItem,
    ThreadStarted,
    ThreadStatus,
    ThreadStatusChanged,
    ThreadTokenUsage,
    TokenUsageUpdated,
    TurnDiffUpdated,
    TurnNotification,
    limit_key,
    merge_rate_limits,
    merge_sparse,
)


class ConversationState:
    """The state kept from the messages received (:meth:`track` each one, in order)."""

    def __init__(self) -> None:
        self.items: dict[str, ThreadItem] = {}  # itemId -> latest view (started, then completed)
        self.completed_turns: dict[str, TurnNotification] = {}
        self.turn_diffs: dict[str, str] = {}  # turnId -> latest diff
        self.token_usage: dict[str, ThreadTokenUsage] = {}  # threadId -> latest
        self.rate_limits: dict[str, RateLimitSnapshot] = {}  # limitId -> merged
        self.thread_status: dict[str, ThreadStatus] = {}
        self.thread_status_at: dict[str, float] = {}  # threadId -> time.monotonic() of the last change
        self.recovered_turns: set[str] = set()  # turns completed from thread/read, not turn/completed
        self.thread_cwd: dict[str, str] = {}
        self.threads: dict[str, dict[str, Any]] = {}  # threadId -> thread/start or thread/resume result
        self.pending_requests: dict[RequestId, Incoming] = {}  # server requests not answered/resolved
        self.errors: list[ErrorNotification] = []
        self._agent_messages: dict[str, str] = {}  # turnId -> last completed agentMessage text

    def track(self, incoming: Incoming) -> bool:
        """Update the state from one message; False when it is a duplicate not worth queueing."""
        typed = incoming.typed
        if isinstance(typed, ItemNotification):
            item = typed.item
            if incoming.method == ITEM_STARTED or item.id not in self.items:
                self.items[item.id] = item
            else:
                self.items[item.id] = _merge_item(self.items[item.id], item)
            if incoming.method == ITEM_COMPLETED and item.type == "agentMessage" and item.text is not None:
                self._agent_messages[typed.turnId] = item.text
        elif isinstance(typed, FileChangeApprovalRequest):
            started = self.items.get(typed.itemId)
            if not typed.changes and started is not None and started.changes:
                typed.changes = list(started.changes)
            if typed.cwd is None:
                typed.cwd = self.thread_cwd.get(typed.threadId)
        elif isinstance(typed, TurnDiffUpdated):
            if self.turn_diffs.get(typed.turnId) == typed.diff:
                return False
            self.turn_diffs[typed.turnId] = typed.diff
        elif isinstance(typed, TokenUsageUpdated):
            self.token_usage[typed.threadId] = typed.tokenUsage
        elif isinstance(typed, RateLimitsUpdated):
            key = limit_key(typed.rateLimits)
            self.rate_limits[key] = merge_rate_limits(self.rate_limits.get(key), typed.rateLimits)
        elif isinstance(typed, ServerRequestResolved):
            self.pending_requests.pop(typed.requestId, None)
        elif isinstance(typed, ThreadStarted):
            if typed.thread.cwd:
                self.thread_cwd[typed.thread.id] = typed.thread.cwd
        elif isinstance(typed, ThreadStatusChanged):
            self.thread_status[typed.threadId] = typed.status
            self.thread_status_at[typed.threadId] = time.monotonic()
        elif isinstance(typed, ErrorNotification):
            self.errors.append(typed)
        elif isinstance(typed, TurnNotification) and incoming.method == TURN_COMPLETED:
            self.completed_turns[typed.turn_id] = typed
            for request_id, pending in list(self.pending_requests.items()):
                if isinstance(pending.params, dict) and pending.params.get("turnId") == typed.turn_id:
                    del self.pending_requests[request_id]
        if incoming.request_id is not None:
            self.pending_requests[incoming.request_id] = incoming
        return True

    def final_message(self, turn_id: str) -> str | None:
        """The text of the turn's last completed ``agentMessage`` (for a turn recovered from
        ``thread/read``, the last one there: item notifications may have been missed too)."""
        text = None if turn_id in self.recovered_turns else self._agent_messages.get(turn_id)
        if text is not None:
            return text
        completed = self.completed_turns.get(turn_id)
        if completed is not None:
            for item in reversed(completed.turn.items):
                if item.type == "agentMessage" and item.text is not None:
                    return item.text
        return self._agent_messages.get(turn_id)


def _merge_item(old: ThreadItem, new: ThreadItem) -> ThreadItem:
    """A completed item over its started view: fields absent or null in ``new`` keep the old value."""
    merged = merge_sparse(old.model_dump(), new.model_dump())
    return ThreadItem.model_validate(merged)

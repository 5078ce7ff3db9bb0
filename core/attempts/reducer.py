"""Folds one attempt's event stream into :class:`AttemptProgress`, the summary persisted in the task state.

:class:`AttemptReducer` is fed every event of an attempt in order (``apply`` is cheap: plain attribute
updates, no model construction) and produces an immutable, JSON-serialisable snapshot on demand.

Turn outcome rules (one ``codex exec`` attempt normally runs exactly one turn):

- ``turn.failed`` is sticky: once seen, ``turn_failed`` keeps its message and ``turn_completed`` stays
  false for the rest of the attempt, even if a later turn of the same stream completes. Such a later
  ``turn.completed`` still updates ``usage`` (Codex's thread-cumulative counter) and ``turns_completed``.
- Top-level ``error`` events and ``error`` items are warnings: they land in ``errors`` /
  ``error_events`` and never fail the turn.
- ``thread_id`` (what a later attempt resumes) is set only once a turn has started in the thread
  (``turn.started``, or an app-server ``turn/start`` answer): a thread that never ran a turn has no
  rollout, and resuming it fails.
- A known event that could not be parsed into its model arrives as an :class:`UnknownEvent` carrying the
  known type name; a malformed ``turn.failed`` still fails the turn, a malformed ``turn.completed``
  counts as completed without usage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

from cockpit.core.codex.app_server.protocol import (
    APPROVAL_METHODS,
    SERVER_REQUEST_RESOLVED,
    TOKEN_USAGE_UPDATED,
)
from cockpit.core.codex.exec_events import (
    RPC_RESPONSE,
    AgentMessageItem,
    CodexEvent,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    PlanDelta,
    RateLimitsUpdated,
    ReasoningItem,
    RequestUserInput,
    ThreadStarted,
    TodoListItem,
    TurnCompleted,
    TurnDiffUpdated,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    UnknownItem,
)
from cockpit.core.records.attempt import AttemptProgress, LiveDiff
from cockpit.core.records.basics import Usage
from cockpit.core.text import clean

__all__ = ["AttemptReducer"]

# File-change statuses that mean nothing was written (an app-server patch the user declined has status
# ``declined``). Statuses are an open set: any other one, known or new, counts the change's paths.
NOT_APPLIED: Final = frozenset({"failed", "declined"})

MAX_FILE_CHANGES: Final = 200
MAX_TRACKED_PATHS: Final = 100_000  # beyond this, paths are no longer de-duplicated, only counted
MAX_ERRORS: Final = 20
MAX_UNKNOWN_TYPES: Final = 50
MAX_MESSAGE_CHARS: Final = 4000
MAX_ERROR_CHARS: Final = 1000


class AttemptReducer:
    """Incremental fold of events into :class:`AttemptProgress`.

    Counting rules: ``commands`` / ``commands_failed`` count completed ``command_execution`` items (failed
    = non-zero exit, or status failed/declined); ``commands_running`` is started minus completed.
    ``file_changes`` lists distinct paths of completed ``file_change`` items not failed or declined, in
    first-seen order. ``error_events`` counts top-level ``error`` events and ``error`` items alike;
    ``errors`` keeps the last messages of both. ``unknown_events`` counts unknown events and items; item
    types are listed in ``unknown_types`` as ``item:<type>``.
    """

    def __init__(self) -> None:
        self.parse_errors = 0
        self._thread_id: str | None = None
        self._started_thread: str | None = None  # announced, but no turn has started in it yet
        self._events = 0
        self._turns_started = 0
        self._turns_completed = 0
        self._turn_completed = False
        self._turn_failed: str | None = None
        self._usage: Usage | None = None
        self._commands = 0
        self._commands_failed = 0
        self._commands_started: set[str] = set()
        self._paths: list[str] = []
        self._path_set: set[str] = set()
        self._paths_truncated = 0
        self._agent_messages = 0
        self._last_agent_message: str | None = None
        self._reasoning = 0
        self._errors: deque[str] = deque(maxlen=MAX_ERRORS)
        self._error_events = 0
        self._unknown_events = 0
        self._unknown_types: list[str] = []
        self._todo: list[dict[str, Any]] | None = None
        self._user_input_requests = 0
        self._approvals: dict[str, str] = {}  # open approval requests: request id -> what is asked
        self.turn_diff: str | None = None  # the latest live diff of the turn (mcp lane)
        self.turn_diff_version = 0  # bumped whenever that diff changes
        self._live_diff: LiveDiff | None = None
        self._live_diff_version = 0
        self._dispatch: dict[type, Callable[[Any], None]] = {
            ItemCompleted: self._on_item_completed,
            ItemStarted: self._on_item_started,
            ItemUpdated: self._on_item_updated,
            TurnStarted: self._on_turn_started,
            TurnCompleted: self._on_turn_completed,
            TurnFailed: self._on_turn_failed,
            ThreadStarted: self._on_thread_started,
            ErrorEvent: self._on_error_event,
            UnknownEvent: self._on_unknown_event,
            PlanDelta: _ignore,
            RequestUserInput: self._on_request_user_input,
            TurnDiffUpdated: self._on_turn_diff,
            RateLimitsUpdated: _ignore,  # account-wide: the supervisor feeds them to the credit window
        }
        self._item_dispatch: dict[type, Callable[[Any], None]] = {
            CommandExecutionItem: self._on_command_completed,
            AgentMessageItem: self._on_agent_message,
            ReasoningItem: self._on_reasoning,
            FileChangeItem: self._on_file_change,
            ErrorItem: self._on_error_item,
            TodoListItem: self._on_todo,
            UnknownItem: self._on_unknown_item,
        }

    # ------------------------------------------------------------------------------------------ feeding

    def apply(self, event: CodexEvent) -> None:
        self._events += 1
        handler = self._dispatch.get(type(event))
        if handler is not None:
            handler(event)

    def apply_many(self, events: Iterable[CodexEvent]) -> None:
        dispatch = self._dispatch
        item_dispatch = self._item_dispatch
        count = 0
        for event in events:
            count += 1
            event_type = type(event)
            if event_type is ItemCompleted:  # most events: skip one level of dispatch
                item = event.item
                handler = item_dispatch.get(type(item))
                if handler is not None:
                    handler(item)
                continue
            handler = dispatch.get(event_type)
            if handler is not None:
                handler(event)
        self._events += count

    def snapshot(self) -> AttemptProgress:
        return AttemptProgress(
            thread_id=self._thread_id,
            events=self._events,
            turns_started=self._turns_started,
            turns_completed=self._turns_completed,
            turn_completed=self._turn_completed,
            turn_failed=self._turn_failed,
            usage=self._usage.model_copy() if self._usage is not None else None,
            commands=self._commands,
            commands_failed=self._commands_failed,
            commands_running=len(self._commands_started),
            file_changes=list(self._paths),
            file_changes_truncated=self._paths_truncated,
            agent_messages=self._agent_messages,
            last_agent_message=self._last_agent_message,
            reasoning_items=self._reasoning,
            errors=list(self._errors),
            error_events=self._error_events,
            unknown_events=self._unknown_events,
            unknown_types=list(self._unknown_types),
            todo=[dict(entry) for entry in self._todo] if self._todo is not None else None,
            user_input_requests=self._user_input_requests,
            parse_errors=self.parse_errors,
            awaiting_approval=next(iter(self._approvals.values()), None),
            live_diff=self._live_diff_stat(),
        )

    # ------------------------------------------------------------------------------------------- events

    def _on_thread_started(self, event: ThreadStarted) -> None:
        self._started_thread = event.thread_id or self._started_thread

    def _on_turn_started(self, event: TurnStarted) -> None:
        self._turns_started += 1
        self._thread_ran_a_turn()

    def _thread_ran_a_turn(self) -> None:
        if self._started_thread:
            self._thread_id = self._started_thread

    def _on_turn_completed(self, event: TurnCompleted) -> None:
        self._turns_completed += 1
        self._approvals.clear()  # late answers are dropped: nothing waits any more
        if not (event.model_extra and "method" in event.model_extra):
            self._usage = event.usage  # app-server turns carry no usage: thread/tokenUsage/updated does
        self._commands_started.clear()  # Codex closes unfinished items at turn end
        if self._turn_failed is None:
            self._turn_completed = True

    def _on_turn_failed(self, event: TurnFailed) -> None:
        self._fail(event.message)

    def _fail(self, message: str) -> None:
        self._commands_started.clear()
        self._approvals.clear()
        if self._turn_failed is None:
            self._turn_failed = message[:MAX_ERROR_CHARS]
        self._turn_completed = False

    def _on_error_event(self, event: ErrorEvent) -> None:
        self._error_events += 1
        self._errors.append(event.message[:MAX_ERROR_CHARS])

    def _on_turn_diff(self, event: TurnDiffUpdated) -> None:
        if event.diff != self.turn_diff:  # the server re-sends an unchanged diff after every response
            self.turn_diff = event.diff
            self.turn_diff_version += 1

    def _live_diff_stat(self) -> LiveDiff | None:
        if self.turn_diff is None:
            return None
        if self._live_diff_version != self.turn_diff_version:
            self._live_diff = LiveDiff.of(self.turn_diff)
            self._live_diff_version = self.turn_diff_version
        return self._live_diff

    def _on_request_user_input(self, event: RequestUserInput) -> None:
        self._user_input_requests += 1

    def _on_unknown_event(self, event: UnknownEvent) -> None:
        if event.type == RPC_RESPONSE:
            result = (event.model_extra or {}).get("result")
            turn = result.get("turn") if isinstance(result, dict) else None
            if isinstance(turn, dict) and turn.get("id"):
                self._thread_ran_a_turn()  # the app-server acknowledged turn/start
        if event.type in APPROVAL_METHODS or event.type == SERVER_REQUEST_RESOLVED:
            self._on_approval(event)
            return
        if event.type == TOKEN_USAGE_UPDATED:
            usage = (event.model_extra or {}).get("usage")
            if isinstance(usage, Usage):
                self._usage = usage  # the thread's running total, like exec's turn.completed usage
                return
        self._unknown_events += 1
        self._note_unknown(event.type)
        if event.type == "turn.failed":
            error = (event.model_extra or {}).get("error")
            message = error.get("message") if isinstance(error, dict) else error
            self._fail(message if isinstance(message, str) and message else "turn failed")
        elif event.type == "turn.completed":
            self._turns_completed += 1
            if self._turn_failed is None:
                self._turn_completed = True

    def _on_approval(self, event: UnknownEvent) -> None:
        """Codex asks (a server request) or stops asking (``serverRequest/resolved``)."""
        extra = event.model_extra or {}
        params = extra.get("params") if isinstance(extra.get("params"), dict) else {}
        if event.type == SERVER_REQUEST_RESOLVED:
            self._approvals.pop(str(params.get("requestId")), None)
            return
        command = params.get("command")
        if isinstance(command, str) and command.strip():
            asked = "run " + command.strip().splitlines()[0][:200]
        else:
            asked = "change files"
        self._approvals[str(extra.get("id"))] = asked

    def _note_unknown(self, name: str) -> None:
        if name not in self._unknown_types and len(self._unknown_types) < MAX_UNKNOWN_TYPES:
            self._unknown_types.append(name)

    # -------------------------------------------------------------------------------------------- items

    def _on_item_started(self, event: ItemStarted) -> None:
        item = event.item
        item_type = type(item)
        if item_type is CommandExecutionItem:
            self._commands_started.add(item.id)
        elif item_type is TodoListItem:
            self._on_todo(item)

    def _on_item_updated(self, event: ItemUpdated) -> None:
        item = event.item
        if type(item) is TodoListItem:
            self._on_todo(item)

    def _on_item_completed(self, event: ItemCompleted) -> None:
        item = event.item
        handler = self._item_dispatch.get(type(item))
        if handler is not None:
            handler(item)

    def _on_command_completed(self, item: CommandExecutionItem) -> None:
        self._commands += 1
        self._commands_started.discard(item.id)
        exit_code = item.exit_code
        if item.status in ("failed", "declined") or (exit_code is not None and exit_code != 0):
            self._commands_failed += 1

    def _on_agent_message(self, item: AgentMessageItem) -> None:
        self._agent_messages += 1
        self._last_agent_message = item.text[:MAX_MESSAGE_CHARS]

    def _on_reasoning(self, item: ReasoningItem) -> None:
        self._reasoning += 1

    def _on_file_change(self, item: FileChangeItem) -> None:
        if item.status in NOT_APPLIED:
            return
        seen = self._path_set
        for change in item.changes:
            path = change.path
            if path in seen:
                continue
            if len(seen) < MAX_TRACKED_PATHS:
                seen.add(path)
            if len(self._paths) < MAX_FILE_CHANGES:
                self._paths.append(path)
            else:
                self._paths_truncated += 1

    def _on_error_item(self, item: ErrorItem) -> None:
        self._error_events += 1
        self._errors.append(item.message[:MAX_ERROR_CHARS])

    def _on_todo(self, item: TodoListItem) -> None:
        self._todo = [{"text": clean(entry.text), "completed": entry.completed} for entry in item.items]

    def _on_unknown_item(self, item: UnknownItem) -> None:
        self._unknown_events += 1
        self._note_unknown(f"item:{item.type}")


def _ignore(event: Any) -> None:
    return None

"""One task as a card in its lane: state as symbol and word (never colour alone), short goal, elapsed,
tokens, attempt n/max and the three signals; a running mcp-lane task whose turn waits for an approval
says what Codex asks (and is marked ``-asking``). Text is built without markup: titles are data."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from cockpit.core.state import TaskStatus
from cockpit.core.task_summary import TaskSummary
from cockpit.core.text import clean

SYMBOLS: dict[TaskStatus, str] = {
    TaskStatus.QUEUED: "○",
    TaskStatus.RUNNING: "▶",
    TaskStatus.SUCCEEDED: "✓",
    TaskStatus.FAILED: "✗",
    TaskStatus.BLOCKED: "■",
    TaskStatus.REVIEW: "◆",
    TaskStatus.MERGED: "✔",
    TaskStatus.REJECTED: "⊘",
    TaskStatus.CONFLICT: "⚠",
    TaskStatus.CANCELLED: "⊘",
    TaskStatus.AWAITING_DECISION: "?",
    TaskStatus.DEAD_LETTER: "☠",
}


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _elapsed(state: TaskSummary, now: datetime) -> str:
    start = state.started_at or state.created_at
    end = now if state.status == TaskStatus.RUNNING or state.ended_at is None else state.ended_at
    seconds = max(0, int((end - start).total_seconds()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def card_text(state: TaskSummary, now: datetime) -> Text:
    """The card's two lines, as plain data."""
    signals = state.signals
    sig = (
        "exit "
        + ("·" if signals.exit_code is None else str(signals.exit_code))
        + " turn "
        + ("✓" if signals.turn_completed else "·")
        + " msg "
        + ("✓" if signals.last_message else "·")
    )
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{SYMBOLS.get(state.status, '·')} {state.status.value}", style="bold")
    text.append(f"  {clean(state.title)}")
    attempts = f"att {state.attempts}/{state.attempt_limit}"
    text.append(f"\n{_elapsed(state, now)}  {_tokens(state.tokens)} tok  {attempts}  {sig}")
    asked = state.awaiting_approval
    if asked:
        text.append(f"\n⚑ waits for your approval to {clean(asked)[:200]} (g)", style="bold")
    elif state.message and state.status in (
        TaskStatus.AWAITING_DECISION,
        TaskStatus.FAILED,
        TaskStatus.QUEUED,
    ):
        text.append(f"\n{clean(state.message)[:200]}", style="italic")
    return text


class TaskCard(Static):
    """A task card; its CSS class ``-<status>`` colours it from the theme."""

    DEFAULT_CLASSES = "task-card"
    can_focus = True

    class Opened(Message):
        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    class ReviewRequested(Message):
        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    class CommandRequested(Message):
        """The user asked for a task command (``cancel``, ``retry``) on this card."""

        def __init__(self, kind: str, task_id: str) -> None:
            super().__init__()
            self.kind = kind
            self.task_id = task_id

    BINDINGS = [
        Binding("enter", "open", "Open task", id="card.open"),
        Binding("d", "review", "Review diff", id="card.review"),
        Binding("c", "command('cancel')", "Cancel task", id="card.cancel"),
        Binding("r", "command('retry')", "Retry now", id="card.retry"),
    ]

    def action_command(self, kind: str) -> None:
        self.post_message(self.CommandRequested(kind, self.task_id))

    def action_open(self) -> None:
        self.post_message(self.Opened(self.task_id))

    def action_review(self) -> None:
        self.post_message(self.ReviewRequested(self.task_id))

    def on_click(self) -> None:
        self.post_message(self.Opened(self.task_id))

    def __init__(self, state: TaskSummary, now: datetime) -> None:
        super().__init__(card_text(state, now), id=f"task-{state.id}")
        self.task_id = state.id
        self._status: str | None = None
        self.show(state, now)

    def show(self, state: TaskSummary, now: datetime) -> None:
        if self._status != state.status.value:
            if self._status:
                self.remove_class(f"-{self._status}")
            self._status = state.status.value
            self.add_class(f"-{self._status}")
        self.set_class(state.awaiting_approval is not None, "-asking")
        self.update(card_text(state, now))

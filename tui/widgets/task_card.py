"""A task's card text, the one formatter of how a task reads in its lane: state as symbol and word
(never colour alone), short goal, elapsed, tokens, attempt n/max and the three signals; a running
mcp-lane task whose turn waits for an approval says what Codex asks; a cloud-lane task says where its
Codex Cloud run is (``cloud pending · 4 polls``) where the others count tokens (Codex Cloud reports
none); a reviewed task says where its cross-family review is (``review 2/3 challenged``, before the
signals). Text is built without markup: titles are data. The lane pane
(:mod:`cockpit.tui.widgets.lane_pane`) draws it."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from cockpit.core import (
    STATUS_SYMBOLS,
    TaskStatus,
    TaskSummary,
    clean,
    format_duration,
    format_tokens,
    one_line,
)

_NOTE_STATUSES = (TaskStatus.AWAITING_DECISION, TaskStatus.FAILED, TaskStatus.QUEUED)


def _line(text: str) -> str:
    """Data on one line: cleaned, whitespace runs (line breaks and tabs too) one space."""
    return one_line(clean(text))


def _elapsed(state: TaskSummary, now: datetime) -> str:
    """How long the last attempt ran: a running one up to ``now`` (the only text that changes with the
    clock), a stopped one up to its end (or the task's last change)."""
    if state.started_at is None and state.status != TaskStatus.RUNNING:
        return "not started"
    start = state.started_at or state.created_at
    end = now if state.status == TaskStatus.RUNNING else (state.ended_at or state.updated_at)
    return format_duration((end - start).total_seconds())


def _has_third_line(state: TaskSummary) -> bool:
    return bool(state.awaiting_approval) or bool(state.message and state.status in _NOTE_STATUSES)


def _third_line(state: TaskSummary) -> tuple[str, str] | None:
    """The card's optional third line and its style: what Codex asks, or the task's message."""
    if not _has_third_line(state):
        return None
    if state.awaiting_approval:
        return f"⚑ waits for your approval to {_line(state.awaiting_approval)[:200]} (g)", "bold"
    return _line(state.message or "")[:200], "italic"


def card_height(state: TaskSummary) -> int:
    """Lines of :func:`card_text` for this task (2 or 3), without building it."""
    return 3 if _has_third_line(state) else 2


def ticks(state: TaskSummary) -> bool:
    """True when the card's text changes with the clock (a running task's elapsed time)."""
    return state.status == TaskStatus.RUNNING


def card_text(state: TaskSummary, now: datetime) -> Text:
    """The card's two or three lines, as plain data."""
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
    text.append(f"{STATUS_SYMBOLS.get(state.status, '·')} {state.status.value}", style="bold")
    text.append(f"  {_line(state.title)}")
    attempts = f"att {state.attempts}/{state.attempt_limit}"
    work = f"cloud {_line(state.cloud.note)}" if state.cloud else f"{format_tokens(state.tokens)} tok"
    # The review's words before the signals: on a narrow lane the line is cut at its end, and while a
    # review goes on (reviewing, challenged and back with Codex) where it stands says more.
    review = f"{state.review.words}  " if state.review is not None else ""
    text.append(f"\n{_elapsed(state, now)}  {work}  {attempts}  {review}{sig}")
    third = _third_line(state)
    if third is not None:
        text.append(f"\n{third[0]}", style=third[1])
    return text

"""A lane's pane: its task cards, updated in place from board snapshots (cards are added, changed or
removed by task id, never rebuilt wholesale). A lane whose adapter is not built says so plainly. The mcp
lane's pane also lists the newest Codex sessions run by hand (as data: no markup is parsed)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.core.board_view import EXTERNAL_LANE
from cockpit.core.external_sessions import ExternalSession, ago, cut
from cockpit.core.lanes import UNBUILT
from cockpit.core.task_summary import TaskSummary
from cockpit.tui.widgets.task_card import TaskCard


class LanePane(VerticalScroll):
    DEFAULT_CLASSES = "lane-pane"

    def __init__(self, lane: str) -> None:
        super().__init__(id=f"lane-{lane}")
        self.lane = lane
        self.border_title = lane
        self._cards: dict[str, TaskCard] = {}
        self._external_plain: str | None = None

    def compose(self):
        note = UNBUILT.get(self.lane)
        yield Static(note or "no tasks", classes="lane-note", id=f"lane-note-{self.lane}")
        if self.lane == EXTERNAL_LANE:
            box = Static("", classes="lane-external", id=f"lane-external-{self.lane}")
            box.display = False
            yield box

    def show(
        self, tasks: list[TaskSummary], now: datetime, external: tuple[ExternalSession, ...] = ()
    ) -> None:
        wanted = {t.id: t for t in tasks}
        for task_id in list(self._cards):
            if task_id not in wanted:
                self._cards.pop(task_id).remove()
        for task in tasks:
            card = self._cards.get(task.id)
            if card is None:
                card = self._cards[task.id] = TaskCard(task, now)
                self.mount(card)
            else:
                card.show(task, now)
        note = self.query_one(f"#lane-note-{self.lane}", Static)
        unbuilt = UNBUILT.get(self.lane)
        note.display = bool(unbuilt) or not tasks
        if unbuilt:
            note.update(f"{unbuilt} ({len(tasks)} queued)" if tasks else unbuilt)
        self.border_subtitle = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
        if self.lane == EXTERNAL_LANE:
            self._show_external(external, now)

    def _show_external(self, sessions: tuple[ExternalSession, ...], now: datetime) -> None:
        box = self.query_one(f"#lane-external-{self.lane}", Static)
        box.display = bool(sessions)
        text = external_text(sessions, now)
        if text.plain != self._external_plain:
            self._external_plain = text.plain
            box.update(text)


def external_text(sessions: tuple[ExternalSession, ...], now: datetime) -> Text:
    """One line per session: ``hand-run Codex: <place> — <first line> · <time ago>``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, session in enumerate(sessions):
        if i:
            text.append("\n")
        text.append("hand-run Codex: ", style="dim")
        text.append(session.place, style="bold")
        text.append(f" — {cut(session.headline, 80)}")
        text.append(f" · {ago((now - session.updated_at).total_seconds())}", style="dim")
    return text

"""A lane's pane: the lane's rows (:mod:`cockpit.core.views.lane_rows` decides them — what needs you first,
then the finished tasks folded into one line) drawn with the Line API, so a lane of 5,000 tasks costs
what one of 10 costs: only the rows on screen are drawn.

Layout, top to bottom: a note (an empty lane or a filter that matches nothing says
so), the mcp lane's hand-run Codex sessions (one line each, as data), then
one item per row — a task card (:func:`~cockpit.tui.widgets.task_card.card_text`, the one formatter of
a card: two or three lines behind a bar in its status colour, then a blank line) or the fold line.

Drawing: a card's lines are rendered once per text and width and kept in an LRU by task id; a card is
rendered again only when its text changes (``card_renders`` counts renders per task). A board change
rebuilds the item offsets only when the rows changed; a task updated where it stands repaints only its
own lines. The elapsed clock is a 1 s timer that repaints the elapsed line of the *visible* running
tasks (``refresh(Region)``: no layout pass). Colours come from component classes (``lane-pane--<status>``
for the bar and the state word, ``--cursor``, ``--fold``, ``--note``) set in ``styles/cockpit.tcss``.

Keys: up/down/page up/page down/home/end move the cursor over the tasks and the fold line; Enter opens
the task (:class:`LanePane.Opened`) or folds/unfolds; ``d``, ``c``, ``r`` review, cancel, retry the task
under the cursor. A click selects a row, a second click (or a double click) opens it; a click on the
fold line folds/unfolds.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.core import (
    EXTERNAL_LANE,
    FOLD,
    STATUS_SYMBOLS,
    ExternalSession,
    LaneChange,
    LaneRows,
    Row,
    TaskStatus,
    TaskSummary,
    ago,
    cut,
)
from cockpit.tui.widgets.task_card import card_height, card_text, ticks

__all__ = ["LanePane", "external_text"]

BAR: Final = "▌ "
TICK_S: Final = 1.0
_CARD_CACHE: Final = 1024
_NOTE, _EXTERNAL, _TASK, _FOLD = range(4)


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


@dataclass(slots=True)
class _Drawn:
    """Lines drawn for one text at one width (before the pane's background and cursor are applied)."""

    text: Text
    width: int
    strips: list[Strip]


class LanePane(ScrollView, can_focus=True):
    """One lane's virtual list of rows, fed by :meth:`sync` from the board's :class:`LaneRows`."""

    DEFAULT_CLASSES = "lane-pane"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"lane-pane--{status.value}" for status in TaskStatus),
        "lane-pane--asking",
        "lane-pane--cursor",
        "lane-pane--fold",
        "lane-pane--note",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open task", id="card.open"),
        Binding("d", "review", "Review diff", id="card.review"),
        Binding("c", "command('cancel')", "Cancel task", id="card.cancel"),
        Binding("r", "command('retry')", "Retry now", id="card.retry"),
        Binding("up", "cursor_up", show=False, id="lane.up"),
        Binding("down", "cursor_down", show=False, id="lane.down"),
        Binding("pageup", "page_up", show=False, id="lane.page_up"),
        Binding("pagedown", "page_down", show=False, id="lane.page_down"),
        Binding("home", "first", show=False, id="lane.first"),
        Binding("end", "last", show=False, id="lane.last"),
    ]

    class Opened(Message):
        """Open the task view of ``task_id``."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    class ReviewRequested(Message):
        """Open the diff review of ``task_id``."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    class CommandRequested(Message):
        """The user asked for a task command (``cancel``, ``retry``) on the task under the cursor."""

        def __init__(self, kind: str, task_id: str) -> None:
            super().__init__()
            self.kind = kind
            self.task_id = task_id

    def __init__(self, lane: str, rows: LaneRows | None = None, *, clock: Callable[[], float] = time.time):
        super().__init__(id=f"lane-{lane}")
        self.lane = lane
        self.rows = rows if rows is not None else LaneRows(lane)
        self._clock = clock
        self._now = datetime.fromtimestamp(clock(), UTC)
        self._external: tuple[ExternalSession, ...] = ()
        self._external_text = Text()
        self._kinds: list[int] = []
        self._keys: list[Row | None] = []
        self._starts: list[int] = [0]
        self._index: dict[Row, int] = {}
        self._cursor: Row | None = None
        self._cards: LRUCache[str, _Drawn] = LRUCache(_CARD_CACHE)
        self._texts: LRUCache[str, tuple[TaskSummary, int, Text]] = LRUCache(_CARD_CACHE)
        self._fixed: dict[int, _Drawn] = {}
        self._status_styles: tuple[Style, ...] | None = None
        self._status_styles_seen: tuple[Style, ...] | None = None
        self.card_renders: Counter[str] = Counter()
        """Renders of each task's card (a render happens only when its text or the width changes)."""
        self.border_title = lane

    # ---------------------------------------------------------------------------------------- feeding

    def on_mount(self) -> None:
        super().on_mount()
        self.rows.sync(self._now)
        self._relayout()
        self.set_interval(TICK_S, self._tick)

    def sync(self, now: datetime, external: tuple[ExternalSession, ...] = ()) -> None:
        """Show the lane's rows as of ``now`` (call after the board's lanes took in a snapshot)."""
        self._now = now
        change = self.rows.sync(now)
        relayout = change.rows
        if not self.is_mounted:
            self._external = external
            return  # drawn when mounted
        if self.lane == EXTERNAL_LANE:
            text = external_text(external, now)
            if len(external) != len(self._external):
                relayout = True
            elif text != self._external_text and not relayout:
                self._refresh_item(self._kind_index(_EXTERNAL))
            self._external, self._external_text = external, text
        self._show_change(change, relayout)

    @property
    def external(self) -> tuple[ExternalSession, ...]:
        """The hand-run Codex sessions shown (the mcp lane's pane only)."""
        return self._external

    def _show_change(self, change: LaneChange, relayout: bool) -> None:
        if relayout:
            self._relayout()
            return
        for task_id in change.tasks:
            i = self._index.get(task_id)
            if i is None:
                continue
            task = self.rows.task(task_id)
            if task is None or self._starts[i] + card_height(task) + 1 != self._starts[i + 1]:
                self._relayout()  # its card grew or shrank: the rows below move
                return
            self._refresh_item(i)

    def _tick(self) -> None:
        """Once a second: repaint the elapsed line of the visible running tasks (and fold fresh
        failures that turned a day old)."""
        self._now = datetime.fromtimestamp(self._clock(), UTC)
        change = self.rows.sync(self._now)
        if change:
            self._show_change(change, change.rows)
        if not self._kinds or not self.is_mounted:
            return
        first, last = self._visible_items()
        for i in range(first, last + 1):
            if self._kinds[i] == _TASK:
                key = self._keys[i]
                task = self.rows.task(key) if isinstance(key, str) else None
                if task is not None and ticks(task):
                    self.refresh_lines(self._starts[i] + 1, 1)  # the card's elapsed line

    # ----------------------------------------------------------------------------------------- layout

    def _note(self) -> str | None:
        rows = self.rows
        unmatched = rows.filter.active and rows.total and not rows.matched
        nothing = "no task matches the filter" if unmatched else None
        if not rows.total:
            return "no tasks"
        return nothing

    def _relayout(self) -> None:
        """Rebuild the items and their offsets from the rows (O(rows)); keep the cursor on its row."""
        old_index = self._index.get(self._cursor) if self._cursor is not None else None
        was_visible = old_index is not None and self._is_visible(old_index)
        kinds: list[int] = []
        keys: list[Row | None] = []
        heights: list[int] = []
        if self._note() is not None:
            kinds.append(_NOTE)
            keys.append(None)
            heights.append(len(self._note_lines(self._width)) + 1)
        if self._external:
            kinds.append(_EXTERNAL)
            keys.append(None)
            heights.append(len(self._external) + 1)
        rows = self.rows
        for row in rows.rows:
            if row is FOLD:
                kinds.append(_FOLD)
                heights.append(len(self._fold_lines(self._width)) + 1)
            else:
                task = rows.task(row)  # type: ignore[arg-type]
                kinds.append(_TASK)
                heights.append(card_height(task) + 1 if task is not None else 2)
            keys.append(row)
        self._kinds, self._keys = kinds, keys
        self._starts = [0, *accumulate(heights)]
        self._index = {key: i for i, key in enumerate(keys) if key is not None}
        if self._cursor is None or self._cursor not in self._index:
            self._cursor = self._nearest_selectable(old_index if old_index is not None else 0)
        self.virtual_size = Size(0, self._starts[-1])
        title = rows.title()
        if self.border_title != title:
            self.border_title = title
        self.refresh()
        if was_visible and self._cursor is not None:
            self._scroll_to_item(self._index[self._cursor])

    def _nearest_selectable(self, index: int) -> Row | None:
        kinds = self._kinds
        if not kinds:
            return None
        index = max(0, min(index, len(kinds) - 1))
        for i in (*range(index, len(kinds)), *range(index - 1, -1, -1)):
            if kinds[i] in (_TASK, _FOLD):
                return self._keys[i]
        return None

    def _kind_index(self, kind: int) -> int | None:
        for i, k in enumerate(self._kinds[:2]):
            if k == kind:
                return i
        return None

    def _refresh_item(self, index: int | None) -> None:
        if index is not None:
            start = self._starts[index]
            self.refresh_lines(start, self._starts[index + 1] - start)

    # ------------------------------------------------------------------------------------- geometry

    @property
    def _view_height(self) -> int:
        return max(self.scrollable_content_region.height, 1)

    def _item_at(self, line: int) -> int | None:
        if line < 0 or line >= self._starts[-1]:
            return None
        return bisect_right(self._starts, line) - 1

    def _visible_items(self) -> tuple[int, int]:
        top = round(self.scroll_y)
        last_line = min(top + self._view_height, self._starts[-1]) - 1
        first = self._item_at(top)
        last = self._item_at(last_line)
        if first is None or last is None:
            return 0, -1
        return first, last

    def _is_visible(self, index: int) -> bool:
        first, last = self._visible_items()
        return first <= index <= last

    def _scroll_to_item(self, index: int) -> None:
        top = self._starts[index]
        bottom = self._starts[index + 1] - 1  # the blank line after an item may stay below the view
        if self._kinds[index] in (_TASK, _FOLD):
            bottom -= 1
        view_top = round(self.scroll_y)
        height = self._view_height
        if top < view_top:
            self.scroll_to(y=top, animate=False)
        elif bottom >= view_top + height:
            self.scroll_to(y=min(top, bottom - height + 1), animate=False)

    # ------------------------------------------------------------------------------------------ cursor

    @property
    def cursor_row(self) -> Row | None:
        """The row under the cursor: a task id, :data:`~cockpit.core.views.lane_rows.FOLD`, or None."""
        return self._cursor

    @property
    def cursor_task(self) -> str | None:
        """The id of the task under the cursor, if the cursor is on a task."""
        return self._cursor if isinstance(self._cursor, str) else None

    def row_lines(self, row: Row) -> tuple[int, int] | None:
        """The first line (in the whole list) and the line count of a row's text, if it is listed."""
        index = self._index.get(row)
        if index is None:
            return None
        return self._starts[index], self._starts[index + 1] - self._starts[index] - 1

    def select(self, row: Row) -> bool:
        """Put the cursor on ``row`` (a task id or ``FOLD``) if the pane lists it; True if it does."""
        index = self._index.get(row)
        if index is None:
            return False
        self._move_cursor(index)
        return True

    def _move_cursor(self, index: int) -> None:
        key = self._keys[index]
        if key is None:
            return
        old = self._index.get(self._cursor) if self._cursor is not None else None
        if key != self._cursor:
            was_fold = self._cursor is FOLD
            self._cursor = key
            self._refresh_item(old)
            self._refresh_item(index)
            if was_fold != (key is FOLD):
                self.refresh_bindings()
        self._scroll_to_item(index)

    def _step(self, start: int, step: int) -> int | None:
        """The first selectable item from ``start`` (inclusive) going by ``step``."""
        i = start
        while 0 <= i < len(self._kinds):
            if self._kinds[i] in (_TASK, _FOLD):
                return i
            i += step
        return None

    def _cursor_index(self) -> int | None:
        return self._index.get(self._cursor) if self._cursor is not None else None

    def action_cursor_up(self) -> None:
        current = self._cursor_index()
        target = self._step(current - 1, -1) if current is not None else self._step(0, 1)
        if target is not None:
            self._move_cursor(target)

    def action_cursor_down(self) -> None:
        current = self._cursor_index()
        target = self._step(current + 1, 1) if current is not None else self._step(0, 1)
        if target is not None:
            self._move_cursor(target)

    def _page(self, direction: int) -> None:
        current = self._cursor_index()
        if current is None:
            self.action_first()
            return
        line = self._starts[current] + direction * self._view_height
        line = max(0, min(line, self._starts[-1] - 1))
        at = self._item_at(line)
        if at is None:
            return
        target = self._step(at, direction) or self._step(at, -direction)
        if target is not None:
            self._move_cursor(target)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def action_first(self) -> None:
        target = self._step(0, 1)
        if target is not None:
            self._move_cursor(target)
            self.scroll_to(y=0, animate=False)

    def action_last(self) -> None:
        target = self._step(len(self._kinds) - 1, -1)
        if target is not None:
            self._move_cursor(target)

    # ----------------------------------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("review", "command"):
            return True if self.cursor_task is not None else None
        return True

    def toggle_fold(self) -> None:
        """Expand the finished tasks (newest first) or fold them back into one line."""
        self.rows.expanded = not self.rows.expanded
        self.rows.sync(self._now)
        self._relayout()
        index = self._index.get(FOLD)
        if index is not None:
            self._move_cursor(index)

    def action_open(self) -> None:
        if self._cursor is FOLD:
            self.toggle_fold()
        elif (task_id := self.cursor_task) is not None:
            self.post_message(self.Opened(task_id))

    def action_review(self) -> None:
        if (task_id := self.cursor_task) is not None:
            self.post_message(self.ReviewRequested(task_id))

    def action_command(self, kind: str) -> None:
        if (task_id := self.cursor_task) is not None:
            self.post_message(self.CommandRequested(kind, task_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self._item_at(round(self.scroll_y) + offset.y)
        if index is None or self._kinds[index] not in (_TASK, _FOLD):
            return
        again = self._keys[index] == self._cursor
        self._move_cursor(index)
        if self._kinds[index] == _FOLD:
            self.toggle_fold()
        elif again or event.chain > 1:
            self.action_open()

    # --------------------------------------------------------------------------------------- drawing

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._fixed.clear()
        self._status_styles = None  # checked at the next draw: cards re-render only if colours changed

    def _check_styles(self) -> None:
        if self._status_styles is not None:
            return
        styles = tuple(self._fg(f"lane-pane--{name}") for name in (*(s.value for s in TaskStatus), "asking"))
        if styles != self._status_styles_seen:
            self._cards.clear()
        self._status_styles = self._status_styles_seen = styles

    def _fg(self, name: str) -> Style:
        """A component's text colour (blended over the pane, so ``$text-muted`` reads muted) and text
        style, without its background (the pane's or the cursor's goes underneath)."""
        full = self.get_component_rich_style(name)
        return Style(color=full.color, bold=full.bold, italic=full.italic, underline=full.underline)

    def _status_style(self, task: TaskSummary) -> Style:
        name = "asking" if task.awaiting_approval and task.status == TaskStatus.RUNNING else task.status.value
        return self._fg(f"lane-pane--{name}")

    def _card_text(self, task: TaskSummary) -> Text:
        tick = int(self._now.timestamp()) if ticks(task) else 0
        memo = self._texts.get(task.id)
        if memo is not None and memo[0] is task and memo[1] == tick:
            return memo[2]
        text = card_text(task, self._now)
        self._texts.discard(task.id)  # an LRUCache keeps the first value set for a key
        self._texts[task.id] = (task, tick, text)
        return text

    def _lines(
        self, text: Text, width: int, prefix: Segment | None = None, wrap: bool = False
    ) -> list[Strip]:
        console = self.app.console
        inner = max(width - (len(prefix.text) if prefix else 0), 1)
        strips = []
        lines = text.wrap(console, inner) if wrap else text.split("\n", allow_blank=True)
        for line in lines:
            line.truncate(inner, overflow="ellipsis")
            segments = list(line.render(console))
            if prefix is not None:
                segments.insert(0, prefix)
            strips.append(Strip(segments).adjust_cell_length(width))
        return strips

    def _card(self, task: TaskSummary, width: int) -> list[Strip]:
        text = self._card_text(task)
        drawn = self._cards.get(task.id)
        if drawn is not None and drawn.width == width and (drawn.text is text or drawn.text == text):
            drawn.text = text
            return drawn.strips
        style = self._status_style(task)
        colored = text.copy()
        head = len(STATUS_SYMBOLS.get(task.status, "·")) + 1 + len(task.status.value)
        colored.stylize(style, 0, head)
        strips = self._lines(colored, width, Segment(BAR, style))
        self._cards.discard(task.id)
        self._cards[task.id] = _Drawn(text, width, strips)
        self.card_renders[task.id] += 1
        return strips

    def _fixed_lines(self, kind: int, text: Text, width: int) -> list[Strip]:
        drawn = self._fixed.get(kind)
        if drawn is None or drawn.width != width or drawn.text != text:
            drawn = self._fixed[kind] = _Drawn(text, width, self._lines(text, width, wrap=kind == _NOTE))
        return drawn.strips

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width or self.size.width

    def _note_lines(self, width: int) -> list[Strip]:
        note_style = self._fg("lane-pane--note")
        note = Text(self._note() or "", end="")
        note.stylize(note_style)
        return self._fixed_lines(_NOTE, note, max(width, 1))

    def _fold_lines(self, width: int) -> list[Strip]:
        """The fold line, broken between its parts (``✓ 4,812 done``, …) when the pane is narrow."""
        width = max(width, 1)
        inner = max(width - 2, 1)
        lines: list[str] = []
        parts = self.rows.fold_parts()
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            joined = f"{lines[-1]}{' ' if last else ' · '}{part}" if lines else part
            if lines and cell_len(joined) <= inner:
                lines[-1] = joined
            else:
                lines.append(part)
        arrow = "▾ " if self.rows.expanded else "▸ "
        fold = Text("\n".join((arrow if i == 0 else "  ") + line for i, line in enumerate(lines)), end="")
        fold.stylize(self._fg("lane-pane--fold"))  # a span: ``Text.render`` ignores a base style
        return self._fixed_lines(_FOLD, fold, width)

    def on_resize(self, event: events.Resize) -> None:
        if (self._kinds and self._kinds[0] == _NOTE) or FOLD in self._index:
            self._relayout()  # the note and the fold line wrap to the new width

    def _item_lines(self, index: int, width: int) -> Sequence[Strip]:
        kind = self._kinds[index]
        if kind == _TASK:
            key = self._keys[index]
            task = self.rows.task(key) if isinstance(key, str) else None
            return self._card(task, width) if task is not None else ()
        if kind == _FOLD:
            return self._fold_lines(width)
        if kind == _NOTE:
            return self._note_lines(width)
        return self._fixed_lines(_EXTERNAL, self._external_text, width)

    def render_line(self, y: int) -> Strip:
        self._check_styles()
        width = self._width
        base = self.rich_style
        line = round(self.scroll_y) + y
        index = self._item_at(line)
        if index is None:
            return Strip.blank(width, base)
        lines = self._item_lines(index, width)
        sub = line - self._starts[index]
        if sub >= len(lines):
            return Strip.blank(width, base)
        strip = lines[sub]
        key = self._keys[index]
        if key is not None and key == self._cursor:
            base = base + Style(bgcolor=self.get_component_rich_style("lane-pane--cursor").bgcolor)
        return strip.apply_style(base)

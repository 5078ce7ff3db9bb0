"""The task view's live log: one attempt's ``events.jsonl``, drawing only the rows on screen.

:class:`EventLog` is a Line-API ``ScrollView`` over a :class:`~cockpit.core.views.line_index.LineIndex`: it
never holds the file's text, only 8 bytes of offset per line, and reads a visible line with ``pread``
when a row needs it. A huge file opens tail first: the last couple of thousand lines are indexed at
once (reading backwards from the end) and shown, while a thread builds the full index; the view then
switches to it without moving.

Layout of the rows (the mapping from display rows to source lines): **one row per JSONL line**. In the
rendered mode the row is the first line :class:`~cockpit.core.views.event_lines.LogRenderer` gives for the
event (events it renders as nothing get a short muted ``· type`` row), with a muted ``+N`` when the
event has more; in the raw mode it is the JSON line itself. ``enter`` expands the line under the
cursor in place into all of its rendered lines (raw: its pretty-printed JSON); only one line is
expanded at a time, so the mapping stays a simple shift.

Everything shown is data: it goes through :func:`~cockpit.core.text.clean` (terminal controls
stripped, secrets masked) into ``rich.text.Text`` built without markup parsing, and is cut at
:data:`MAX_CELLS` cells with ``…``. Strips are cached (LRU) by the line's byte offset, which stays
valid as the file grows; the cache is cleared on resize and style/theme changes.

Polling is the owner's job: call :meth:`EventLog.refresh_from_disk` from a timer (~15 Hz). It does
nothing while the widget is hidden, and appends whole batches. The view follows the end only while the
user is at the end; otherwise an "N new lines" badge appears and ``End`` resumes tailing. The page keys
and ``Home`` scroll at once, without animation; leaving the end by them polls the file right away, so
the badge shows with the scroll instead of at the next poll.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState, get_current_worker

from cockpit.core import (
    AgentMessageItem,
    CodexEvent,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    EventParseError,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    LineIndex,
    LogRenderer,
    McpToolCallItem,
    ReasoningItem,
    TurnFailed,
    clean,
    parse_event_line,
    strip_control,
    tail_start,
)

__all__ = ["MAX_CELLS", "EventLog"]

MAX_CELLS: Final = 1000
"""Rows are cut at this many cells (with ``…``); the full line stays on disk."""
RAW_READ_BYTES: Final = 16 * 1024
"""Bytes of a line read for a raw row (enough for :data:`MAX_CELLS` cells after cleaning)."""
PARSE_READ_BYTES: Final = 2 * 1024 * 1024
"""Longest line parsed for the rendered mode; longer events are shown as a size note."""
TAIL_FIRST_BYTES: Final = 4 * 1024 * 1024
"""Unscanned bytes above which the file is opened tail first (with the full index built in a thread)."""
TAIL_LINES: Final = 2000
"""Lines indexed at once when opening tail first."""
INDEX_STEP_BYTES: Final = 8 * 1024 * 1024
"""Bytes scanned between two cancellation checks of the index thread."""
MAX_EXPANDED_ROWS: Final = 2000
_STRIP_CACHE: Final = 2048
_EVENT_CACHE: Final = 4096
_KINDS: Final = ("command", "error", "message", "reasoning", "file", "meta")


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the rendered mode shows for one line: its kind and its cleaned human lines (at least one)."""

    kind: str
    lines: tuple[str, ...]


def _kind(event: CodexEvent) -> str:
    """Component-class suffix colouring an event's rows."""
    if isinstance(event, ErrorEvent | TurnFailed):
        return "error"
    if isinstance(event, ItemStarted | ItemUpdated | ItemCompleted):
        item = event.item
        if isinstance(item, CommandExecutionItem):
            return "error" if isinstance(event, ItemCompleted) and item.failed else "command"
        if isinstance(item, ErrorItem):
            return "error"
        if isinstance(item, AgentMessageItem):
            return "message"
        if isinstance(item, ReasoningItem):
            return "reasoning"
        if isinstance(item, FileChangeItem):
            return "error" if item.status == "failed" else "file"
        if isinstance(item, McpToolCallItem) and (item.error is not None or item.status == "failed"):
            return "error"
    return "meta"


def _describe(event: CodexEvent) -> str:
    """``· item.started file_change``: the row of an event the renderer shows as nothing."""
    item = getattr(event, "item", None)
    item_type = getattr(item, "type", "") if item is not None else ""
    return clean(f"· {event.type} {item_type}".rstrip())


def _display(text: str, *, cleaned: bool = False) -> str:
    """Data to a single display line: controls stripped, secrets masked, tabs expanded, length bounded.

    ``cleaned`` text (the renderer's output, already through :func:`clean`) is only checked for
    controls again, which costs one regex search when there are none.
    """
    # Clean a stretch longer than what can be shown, so a secret across the cut is still recognised.
    text = text[: 8 * MAX_CELLS]
    text = strip_control(text) if cleaned else clean(text)
    return text.replace("\n", " ").expandtabs(4)[: MAX_CELLS + 1]


def _text(plain: str, style: Style) -> Text:
    """A ``Text`` of display data: never parsed as markup; the style is a span (``Text.render`` ignores a
    base style)."""
    text = Text(plain, no_wrap=True, end="")
    text.stylize(style)
    return text


def _cut(text: Text) -> Text:
    if cell_len(text.plain) > MAX_CELLS:
        text.truncate(MAX_CELLS, overflow="ellipsis")
    return text


class EventLog(ScrollView, can_focus=True):
    """Live view of one attempt's ``events.jsonl`` (rendered or raw), tailing while at the end."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"event-log--{kind}" for kind in _KINDS),
        "event-log--cursor",
        "event-log--badge",
    }
    DEFAULT_CSS = files("cockpit.styles").joinpath("event_log.tcss").read_text(encoding="utf-8")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "toggle_raw", "Raw/rendered", id="log.toggle_raw"),
        Binding("end", "tail", "Tail", id="log.tail"),
        Binding("enter", "toggle_expand", "Expand", id="log.expand"),
        Binding("up", "cursor_up", "Previous event", show=False, id="log.cursor_up"),
        Binding("down", "cursor_down", "Next event", show=False, id="log.cursor_down"),
        Binding("escape", "clear_cursor", "Clear selection", show=False, id="log.clear_cursor"),
    ]

    class _IndexBuilt(Message, bubble=False):
        """The full index built in a thread, handed back to the widget (which owns it from then on)."""

        def __init__(self, index: LineIndex) -> None:
            super().__init__()
            self.index = index

    def __init__(
        self,
        path: Path | str,
        *,
        root: str | None = None,
        raw: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.path = Path(path)
        self.root = root
        self._raw = raw
        self._index: LineIndex | None = None
        self._loader: LineIndex | None = None  # the full index while a thread builds it
        self._tailing = True
        self._pending = 0
        self._cursor: int | None = None
        self._expanded: int | None = None
        self._expanded_rows: list[tuple[str, str]] = []  # (kind, text) rows of the expanded line
        self._max_width = 0
        self._version = 0
        self._width_update_queued = False
        self._strips: LRUCache[tuple[int, int, bool, int, bool, int], Strip] = LRUCache(_STRIP_CACHE)
        self._entries: LRUCache[int, _Entry] = LRUCache(_EVENT_CACHE)
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------------------------------ state

    @property
    def raw(self) -> bool:
        """True when the rows are the JSON lines themselves."""
        return self._raw

    @raw.setter
    def raw(self, value: bool) -> None:
        if value == self._raw:
            return
        self._raw = value
        if self._expanded is not None:
            self._expanded_rows = self._expansion(self._expanded)
        self._max_width = 0
        self._clear_strips()
        self._update_virtual_size()
        self._keep_tail()
        self.refresh()

    @property
    def line_count(self) -> int:
        """Complete lines indexed (while :attr:`indexing`, only the tail of the file)."""
        return self._index.line_count if self._index is not None else 0

    @property
    def indexing(self) -> bool:
        """True while the full index of a large file is being built (the view shows its tail)."""
        return self._loader is not None

    @property
    def tailing(self) -> bool:
        """True while the view follows the end of the file."""
        return self._tailing

    @property
    def pending_lines(self) -> int:
        """Lines appended since the user scrolled away from the end (shown as a badge)."""
        return self._pending

    @property
    def cursor_line(self) -> int | None:
        return self._cursor

    @property
    def expanded_line(self) -> int | None:
        return self._expanded

    # ------------------------------------------------------------------------------------------ polling

    def on_mount(self) -> None:
        self._poll()

    def on_unmount(self) -> None:
        if self._index is not None:
            self._index.close()
        self._loader = None  # the index thread closes it when cancelled

    def on_show(self) -> None:
        self.refresh_from_disk()

    def refresh_from_disk(self) -> int:
        """Index what was appended to the file since the last call; returns the number of new lines.

        Meant for a timer owned by the task view (~15 Hz). Does nothing while the widget is hidden (it
        catches up in one batch when shown). A truncated or replaced file restarts the view at its end.
        """
        if not self.is_mounted or not self.display or not self.is_on_screen:
            return 0
        return self._poll()

    def _poll(self) -> int:
        index = self._index
        if index is None or (self._loader is None and index.backlog() > TAIL_FIRST_BYTES):
            return self._open()
        generation = index.generation
        added = index.extend()
        if index.generation != generation:
            self._cancel_loader()
            if index.backlog() > TAIL_FIRST_BYTES:
                return self._open()
            self._reset_view()
            return index.line_count
        if added:
            self._lines_added(added)
        elif self._tailing and not self.is_vertical_scroll_end:
            self._keep_tail()
        return added

    def _open(self) -> int:
        """(Re)open the file: small files in one go, large ones tail first with a thread for the rest."""
        self._cancel_loader()
        if self._index is not None:
            self._index.close()
        start = tail_start(self.path, TAIL_LINES)
        if start <= TAIL_FIRST_BYTES:
            start = 0
        index = self._index = LineIndex(self.path, start=start)
        index.extend()
        if index.start > 0:
            self._loader = LineIndex(self.path)
            self.call_after_refresh(self._start_loader, self._loader, index.scanned)
        self._reset_view()
        return index.line_count

    def _start_loader(self, loader: LineIndex, until: int) -> None:
        if loader is not self._loader:
            loader.close()
            return
        self.run_worker(
            partial(self._build_index, loader, until),
            name="event-log index",
            group="event-log-index",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _build_index(self, index: LineIndex, until: int) -> None:
        """Thread: index the file up to byte ``until``, checking for cancellation between steps."""
        worker = get_current_worker()
        try:
            while index.scanned < until and not worker.is_cancelled:
                before = index.scanned
                index.extend(INDEX_STEP_BYTES)
                if index.scanned == before:
                    break
        except BaseException:
            index.close()
            raise
        if worker.is_cancelled or not self.post_message(self._IndexBuilt(index)):
            index.close()

    @on(Worker.StateChanged)
    def _index_worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "event-log-index" and event.state == WorkerState.ERROR:
            self._loader = None  # keep the tail view; the app's worker-error handler reports the error
            self.refresh()

    def _cancel_loader(self) -> None:
        if self._loader is not None:
            self._loader = None
            self.workers.cancel_group(self, "event-log-index")

    @on(_IndexBuilt)
    def _index_built(self, message: _IndexBuilt) -> None:
        full, tail = message.index, self._index
        if full is not self._loader or tail is None:
            full.close()
            return
        self._loader = None
        shown = tail.line_count
        full.extend()
        shift = full.line_at(tail.start) if full.line_count else 0
        if (
            full.generation
            or tail.start == 0
            or full.line_count == 0
            or full.line_start(shift) != tail.start
            or full.line_count - shift < shown
        ):
            # The file changed under the thread: open it afresh (the view shows its end meanwhile).
            full.close()
            self._open()
            return
        added = full.line_count - shift - shown
        self._index = full
        tail.close()
        self._entries.discard(tail.start)  # rendered without knowing the line before it
        self._clear_strips()
        if self._cursor is not None:
            self._cursor += shift
        if self._expanded is not None:
            self._expanded += shift
        scroll_y = self.scroll_y
        tailing = self._still_tailing()
        self._update_virtual_size()
        if tailing:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self._keep_tail()
        else:  # the same rows stay on screen, now numbered from the start of the file
            self.scroll_target_y = self.scroll_y = scroll_y + shift
        if added:
            self._lines_added(added)
        self.refresh()

    def _reset_view(self) -> None:
        """A (re)opened file: forget rows, selection and pending count, and follow the end."""
        self._entries.clear()
        self._clear_strips()
        self._cursor = self._expanded = None
        self._expanded_rows = []
        self._max_width = 0
        self._pending = 0
        self._tailing = True
        self._update_virtual_size()
        self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def _still_tailing(self) -> bool:
        """False once a scroll up has started, even while its animation has not moved a row yet."""
        if self._tailing and self.scroll_target_y < self.scroll_y - 0.5:
            self._tailing = False
        return self._tailing

    def _lines_added(self, count: int) -> None:
        tailing = self._still_tailing()
        self._update_virtual_size()
        if tailing:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self._keep_tail()
        else:
            self._pending += count
        self.refresh()

    def _keep_tail(self) -> None:
        """Stay at the end once layout has settled (a horizontal scrollbar may have taken a row)."""

        def settle() -> None:
            if self._still_tailing() and not self.is_vertical_scroll_end:
                self.scroll_end(animate=False, immediate=True, x_axis=False)

        if self._tailing:
            self.call_after_refresh(settle)

    # ---------------------------------------------------------------------------------------- geometry

    @property
    def _expansion_extra(self) -> int:
        return len(self._expanded_rows) - 1 if self._expanded is not None and self._expanded_rows else 0

    def _row_to_line(self, row: int) -> tuple[int, int]:
        """``(line, sub_row)`` shown on display row ``row``."""
        expanded = self._expanded
        if expanded is None or row < expanded:
            return row, 0
        extra = self._expansion_extra
        if row <= expanded + extra:
            return expanded, row - expanded
        return row - extra, 0

    def _line_to_row(self, line: int) -> int:
        expanded = self._expanded
        if expanded is None or line <= expanded:
            return line
        return line + self._expansion_extra

    def _update_virtual_size(self) -> None:
        self._width_update_queued = False
        self.virtual_size = Size(self._max_width, self.line_count + self._expansion_extra)

    def _note_width(self, width: int) -> None:
        """Widen the virtual size to the widest row drawn so far (after this render pass)."""
        if width > self._max_width:
            self._max_width = width
            if not self._width_update_queued:
                self._width_update_queued = True
                self.call_after_refresh(self._widen)

    def _widen(self) -> None:
        self._update_virtual_size()
        self._keep_tail()  # a horizontal scrollbar may now cover the last row

    @property
    def _view_height(self) -> int:
        return self.scrollable_content_region.height

    @property
    def _top_row(self) -> int:
        """The display row drawn at the top. While tailing it is the last page's, even before the scroll
        position has caught up (it moves after the next layout), so the first frame is already right."""
        top = round(self.scroll_y)
        return max(top, self.max_scroll_y) if self._tailing else top

    def _visible_lines(self) -> tuple[int, int]:
        """First and last source line on screen (last may equal first on a tiny widget)."""
        top = self._top_row
        first = self._row_to_line(top)[0]
        last = self._row_to_line(top + max(self._view_height, 1) - 1)[0]
        count = self.line_count
        return min(first, max(count - 1, 0)), min(last, max(count - 1, 0))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) >= self.max_scroll_y:
            self._tailing = True
            if self._pending:
                self._pending = 0
                self.refresh()
        else:
            self._tailing = False

    def on_resize(self, event: events.Resize) -> None:
        self._clear_strips()
        self._keep_tail()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._clear_strips()

    def _clear_strips(self) -> None:
        self._version += 1
        self._strips.clear()
        self._styles.clear()

    # ------------------------------------------------------------------------------------------ actions

    def action_toggle_raw(self) -> None:
        """Switch between the rendered events and the raw JSON lines."""
        self.raw = not self._raw

    def action_tail(self) -> None:
        """Jump to the end and follow new lines again."""
        self._tailing = True
        self._pending = 0
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._keep_tail()
        self.refresh()

    def action_page_up(self) -> None:
        self._scroll_by_key(self.scroll_y - self._view_height)

    def action_page_down(self) -> None:
        self._scroll_by_key(self.scroll_y + self._view_height)

    def action_scroll_home(self) -> None:
        self._scroll_by_key(0)

    def _scroll_by_key(self, y: float) -> None:
        """Scroll at once (no animation); leaving the end, count the lines that came since the last poll
        now, so the "N new lines" badge shows with the scroll, not at the next poll."""
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_to(y=max(0.0, y), animate=False, immediate=True)
        if not self._tailing:
            self.refresh_from_disk()

    def action_cursor_up(self) -> None:
        if not self.line_count:
            return
        self._move_cursor(self._visible_lines()[1] if self._cursor is None else self._cursor - 1)

    def action_cursor_down(self) -> None:
        if not self.line_count:
            return
        self._move_cursor(self._visible_lines()[0] if self._cursor is None else self._cursor + 1)

    def action_clear_cursor(self) -> None:
        if self._cursor is None and self._expanded is None:
            raise SkipAction()  # nothing to clear: let escape reach the screen (back)
        self._cursor = None
        self._set_expanded(None)

    def action_toggle_expand(self) -> None:
        """Show all the lines of the selected event (or collapse it)."""
        if not self.line_count:
            return
        if self._cursor is None:
            self._move_cursor(self._visible_lines()[1])
        assert self._cursor is not None
        self._set_expanded(None if self._expanded == self._cursor else self._cursor)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self.line_count:
            return
        line = self._row_to_line(self._top_row + offset.y)[0]
        if line >= self.line_count:
            return
        if line == self._cursor:
            self._set_expanded(None if self._expanded == line else line)
        else:
            self._move_cursor(line)

    def _move_cursor(self, line: int) -> None:
        line = max(0, min(line, self.line_count - 1))
        if line != self._cursor:
            self._cursor = line
            self.refresh()
        self._scroll_to_line(line)

    def _scroll_to_line(self, line: int, *, whole_expansion: bool = False) -> None:
        row = self._line_to_row(line)
        rows = 1 + (self._expansion_extra if whole_expansion and line == self._expanded else 0)
        height = max(self._view_height, 1)
        top = self._top_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row + rows > top + height:
            self.scroll_to(y=max(row, row + rows - height), animate=False, immediate=True)

    def _set_expanded(self, line: int | None) -> None:
        """Expand ``line`` (``None``: collapse) without moving the rows above it; then bring the whole
        expansion into view. Tailing continues only if that leaves the view at the end."""
        self._expanded = line
        self._expanded_rows = self._expansion(line) if line is not None else []
        self._clear_strips()
        self._update_virtual_size()
        if line is not None:
            self._scroll_to_line(line, whole_expansion=True)
        self._tailing = round(self.scroll_y) >= self.max_scroll_y
        self.refresh()

    # ---------------------------------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        scroll_x = self.scroll_offset.x
        region = self.scrollable_content_region
        width = region.width or self.size.width
        row = self._top_row + y
        line, sub = self._row_to_line(row)
        selected = line == self._cursor
        base = self._style("")
        if line >= self.line_count:
            strip = Strip.blank(width, base)
        else:
            strip = self._line_strip(line, sub, width, selected)
            pad = base + self._style("cursor") if selected else base
            strip = strip.crop_extend(scroll_x, scroll_x + width, pad)
        if y == region.height - 1 and self._pending and not self._tailing:
            plural = "s" if self._pending != 1 else ""
            strip = self._badge(strip, f" ↓ {self._pending} new line{plural} · End ", width)
        elif y == 0 and self._loader is not None:
            strip = self._badge(strip, " indexing… ", width)
        return strip

    def _badge(self, strip: Strip, label: str, width: int) -> Strip:
        """``strip`` with ``label`` drawn over its right end."""
        label_width = cell_len(label)
        if label_width >= width:
            return Strip([Segment(label, self._style("badge"))]).crop(0, width)
        badge = Strip([Segment(label, self._style("badge"))], label_width)
        return Strip.join([strip.crop(0, width - label_width), badge])

    def _line_strip(self, line: int, sub: int, width: int, selected: bool) -> Strip:
        """The uncropped strip of one row, from the cache when possible."""
        assert self._index is not None
        key = (self._index.line_start(line), sub, self._raw, width, selected, self._version)
        strip = self._strips.get(key)
        if strip is None:
            text = self._row_text(line, sub)
            strip = Strip(text.render(self.app.console), text.cell_len)
            if selected:  # the cursor's background over the row's own (its colours stay)
                strip = Strip(Segment.apply_style(strip, post_style=self._style("cursor")), strip.cell_length)
            self._strips[key] = strip
            self._note_width(strip.cell_length)
        return strip

    def _row_text(self, line: int, sub: int) -> Text:
        if line == self._expanded and self._expanded_rows:
            kind, text = self._expanded_rows[min(sub, len(self._expanded_rows) - 1)]
            return _cut(_text(text, self._style(kind)))
        if self._raw:
            return self._raw_text(line)
        entry = self._entry(line)
        text = _text(entry.lines[0], self._style(entry.kind))
        if len(entry.lines) > 1:
            text.append(f"  +{len(entry.lines) - 1}", style=self._style("meta"))
        return _cut(text)

    def _raw_text(self, line: int) -> Text:
        assert self._index is not None
        data = self._index.read_line(line, RAW_READ_BYTES)
        return _cut(_text(_display(data.decode("utf-8", "replace")), self._style("")))

    def _style(self, kind: str) -> Style:
        """Rich style of a component (``""``: the widget's own), cached until the next style update.

        The cursor's is partial (only what its rule sets), to be laid over a row's own style.
        """
        style = self._styles.get(kind)
        if style is None:
            if not kind:
                style = self.rich_style
            else:
                style = self.get_component_rich_style(f"event-log--{kind}", partial=kind == "cursor")
            self._styles[kind] = style
        return style

    def _entry(self, line: int) -> _Entry:
        """The rendered-mode view of ``line`` (cached by byte offset)."""
        assert self._index is not None
        offset = self._index.line_start(line)
        entry = self._entries.get(offset)
        if entry is None:
            entry = self._entries[offset] = self._make_entry(line)
        return entry

    def _make_entry(self, line: int) -> _Entry:
        assert self._index is not None
        length = self._index.line_length(line)
        if length > PARSE_READ_BYTES:
            return _Entry("meta", (f"? event of {length} bytes, too long to render (press r for raw)",))
        event = self._parse(line)
        if event is None:
            data = self._index.read_line(line, RAW_READ_BYTES)
            if not data.strip():
                return _Entry("meta", ("",))
            return _Entry("meta", ("? not an event: " + _display(data.decode("utf-8", "replace")),))
        renderer = LogRenderer(root=self.root)
        item = getattr(event, "item", None)
        if isinstance(event, ItemCompleted) and isinstance(item, CommandExecutionItem) and line > 0:
            # The renderer leaves out the "$ command" line when a command's completion directly follows
            # its start: show it that start first.
            previous = self._parse(line - 1)
            if isinstance(previous, ItemStarted) and isinstance(previous.item, CommandExecutionItem):
                renderer.render(previous)
        lines = [_display(text, cleaned=True) for text in renderer.render(event)] or [_describe(event)]
        return _Entry(_kind(event), tuple(lines))

    def _parse(self, line: int) -> CodexEvent | None:
        assert self._index is not None
        try:
            return parse_event_line(self._index.read_line(line, PARSE_READ_BYTES))
        except EventParseError:
            return None

    def _expansion(self, line: int) -> list[tuple[str, str]]:
        """All the rows of an expanded line: its rendered lines, or (raw) its pretty-printed JSON."""
        if self._index is None or line >= self._index.line_count:
            return []
        if self._raw:
            data = self._index.read_line(line, PARSE_READ_BYTES)
            try:
                pretty = json.dumps(json.loads(data), indent=2, ensure_ascii=False).split("\n")
            except ValueError:
                pretty = [data.decode("utf-8", "replace")]
            return [("", _display(text)) for text in pretty[:MAX_EXPANDED_ROWS]]
        entry = self._entry(line)
        return [(entry.kind, text) for text in entry.lines[:MAX_EXPANDED_ROWS]]

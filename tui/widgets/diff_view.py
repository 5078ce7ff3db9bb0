"""A unified diff of one file, rendered line by line with the Line API (only visible rows are drawn,
so a lock file with thousands of lines scrolls as fast as a small one). Lines are data: no markup.

Line kinds come from the position in the file's diff: everything above the first ``@@`` is the header
(``diff --git``, ``index``, ``---``/``+++``: muted), then hunk headers, added, removed and context lines
(so a removed ``-- comment`` line is not mistaken for a ``---`` header). Added and removed lines keep
their component class (``diff-view--added``/``--removed``: colour and a tinted background); hunk headers
keep ``diff-view--hunk``.

Syntax highlighting: the file name picks a Pygments lexer (looked up once per name, in a thread, so
opening a file never waits for Pygments; until the lexer is known the file is shown plain). The code
part of an added, removed or context line (after the leading ``+``/``-``/space) gets the token colours
of a Pygments style that follows the app theme (:data:`DARK_STYLE` on dark themes, :data:`LIGHT_STYLE`
on light ones), over the line's own background; the marker column keeps the line's colour, so tokens
never hide what was added or removed. Token backgrounds are ignored. Each line is lexed on its own,
and only when it is drawn: state that spans lines (a multi-line string or comment, a heredoc) is not
carried over, so the inside of such a construct may be coloured as code. Shown without highlighting:
files with no known lexer, binary files, lock and minified files (:data:`PLAIN_NAMES`,
:data:`PLAIN_SUFFIXES`) and lines longer than :data:`MAX_CELLS` characters.

Display: text goes through :func:`~cockpit.core.text.clean` (controls stripped, secrets masked),
tabs become 4 spaces and a line is cut at :data:`MAX_CELLS` cells with ``…`` (the patch on disk keeps
the full text). The drawn line (a full-width ``Strip``, before horizontal cropping) is cached in an LRU
keyed by (line index, version); the version changes when another file is shown, when the lexer arrives
and on style or theme updates, which also empties the cache. The crop to the visible columns is cached
by the ``Strip`` itself per (scroll x, width).

Keys: the scroll keys (arrows, page up/down, ctrl+page up/down, home, end) and the hunk jumps move the
view at once, without Textual's scroll animation.

Marks (the review's challenges): :meth:`set_marks` names lines of the new version of each file; the view
then keeps a two-cell gutter left of the lines (fixed when scrolling sideways) with ``●`` on the rows
that show a marked line (``diff-view--mark``). :meth:`mark_line` scrolls to one line of the shown file
and marks its row ``▶`` with the ``diff-view--target`` background until another file is shown.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import ClassVar, Final

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.style import Style as PygmentsStyle
from pygments.styles import get_style_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.actions import SkipAction
from textual.cache import LRUCache
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.core import FileDiff, clean

__all__ = ["DARK_STYLE", "LIGHT_STYLE", "MAX_CELLS", "DiffView", "lexer_for"]

MAX_CELLS: Final = 1000
"""Lines are cut at this many cells (with ``…``), and longer lines are not highlighted."""
DARK_STYLE: Final = "monokai"
LIGHT_STYLE: Final = "default"
PLAIN_NAMES: Final = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "pnpm-lock.yaml",
        "yarn.lock",
        "poetry.lock",
        "Cargo.lock",
        "Gemfile.lock",
        "composer.lock",
        "uv.lock",
        "go.sum",
    }
)
"""Generated files shown without highlighting (big, and nobody reviews them token by token)."""
PLAIN_SUFFIXES: Final = (".lock", ".min.js", ".min.css", ".map")
_STRIP_CACHE: Final = 1024
_NAME_CACHE: Final = 4096

_lexers_by_name: dict[str, Lexer | None] = {}
_lexers_by_class: dict[type[Lexer], Lexer] = {}


def lexer_for(path: str) -> Lexer | None:
    """The Pygments lexer for a file path (by its name only), or None for plain display.

    Blocking (the first look-up loads Pygments' lexer table and plugins, a new language imports its
    lexer module): the view calls it in a thread. Results are cached per file name; lexers are shared.
    """
    name = PurePosixPath(path).name
    if name in _lexers_by_name:
        return _lexers_by_name[name]
    lexer: Lexer | None = None
    if name not in PLAIN_NAMES and not name.endswith(PLAIN_SUFFIXES):
        try:
            found = get_lexer_for_filename(name)
        except (ClassNotFound, ValueError):
            found = None
        if found is not None:
            lexer = _lexers_by_class.setdefault(type(found), found)
    if len(_lexers_by_name) >= _NAME_CACHE:
        _lexers_by_name.clear()
    _lexers_by_name[name] = lexer
    return lexer


def _display(line: str) -> str:
    """A patch line as shown: cleaned, tabs expanded, cut at :data:`MAX_CELLS` cells with ``…``."""
    # Clean more than can be shown, so a secret across the cut is still recognised.
    text = clean(line[: 8 * MAX_CELLS]).expandtabs(4)
    if len(text) > MAX_CELLS or cell_len(text) > MAX_CELLS:
        text = set_cell_size(text, MAX_CELLS - 1) + "…"
    return text


def _tokens(lexer: Lexer, code: str) -> list[tuple[_TokenType, str]] | None:
    """``code`` (one line) as (token type, text) pairs covering it exactly, or None if the lexer fails
    or changes the text."""
    try:
        tokens = [(ttype, value) for ttype, value in lexer.get_tokens(code) if value]
    except Exception:  # a lexer bug must not break the review; the line is shown plain
        return None
    if tokens and tokens[-1][1].endswith("\n") and not code.endswith("\n"):
        ttype, value = tokens[-1]
        value = value[:-1]  # Pygments ends its input with a newline
        tokens[-1:] = [(ttype, value)] if value else []
    if "".join(value for _, value in tokens) != code:
        return None
    return tokens


class DiffView(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--added",
        "diff-view--removed",
        "diff-view--hunk",
        "diff-view--meta",
        "diff-view--mark",
        "diff-view--target",
    }
    GUTTER: ClassVar[int] = 2

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.diff: FileDiff | None = None
        self.lexer: Lexer | None = None
        self._hunk = 0
        self._version = 0
        self._strips: LRUCache[tuple[int, int], tuple[Strip, Style]] = LRUCache(_STRIP_CACHE)
        self._token_styles: dict[_TokenType, Style] = {}
        self._pygments_style: type[PygmentsStyle] | None = None
        self.marks: dict[str, set[int]] | None = None  # path -> marked new-file lines; None: no gutter
        self.marked_rows: set[int] = set()  # rows of the shown file that show a marked line
        self.target_row: int | None = None  # the row mark_line scrolled to

    @property
    def mark_gutter(self) -> int:
        return self.GUTTER if self.marks is not None else 0

    # ------------------------------------------------------------------------------------------- content

    def show(self, diff: FileDiff | None) -> None:
        self.diff = diff
        self.lexer = None
        self._hunk = 0
        self.target_row = None
        self._clear_strips()
        self._find_marked_rows()
        width = max(map(len, diff.lines), default=0) if diff else 0
        self.virtual_size = self.virtual_size.with_width(
            min(width, MAX_CELLS) + self.mark_gutter
        ).with_height(len(diff.lines) if diff else 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()
        if diff is not None and not diff.binary:
            name = PurePosixPath(diff.path).name
            if name in _lexers_by_name:
                self.lexer = _lexers_by_name[name]
            else:
                self._find_lexer(diff)

    @work(group="diff-lexer", exit_on_error=False)  # a stale answer is dropped below; never cancelled
    async def _find_lexer(self, diff: FileDiff) -> None:
        lexer = await asyncio.to_thread(lexer_for, diff.path)
        if self.diff is diff and lexer is not None:
            self.lexer = lexer
            self._clear_strips()
            self.refresh()

    def set_marks(self, marks: dict[str, set[int]] | None) -> None:
        """Mark these new-file lines of each path (None: no marks, and no gutter)."""
        had = self.mark_gutter
        self.marks = marks
        self._find_marked_rows()
        if self.mark_gutter != had:
            self.virtual_size = self.virtual_size.with_width(self.virtual_size.width - had + self.mark_gutter)
        self.refresh()

    def _find_marked_rows(self) -> None:
        lines = self.marks.get(self.diff.path) if self.marks and self.diff else None
        self.marked_rows = set(self.diff.rows_of(lines).values()) if self.diff and lines else set()

    def mark_line(self, line: int) -> bool:
        """Scroll the shown file to its new-file line ``line`` and mark that row; False when the diff does
        not show that line."""
        row = self.diff.rows_of([line]).get(line) if self.diff else None
        if row is None:
            return False
        self.target_row = row
        self._jump(y=max(0, row - self.scrollable_content_region.height // 3))
        self.refresh()
        return True

    def jump_hunk(self, step: int) -> None:
        if not self.diff or not self.diff.hunks:
            return
        self._hunk = max(0, min(len(self.diff.hunks) - 1, self._hunk + step))
        self._jump(y=self.diff.hunks[self._hunk])

    # -------------------------------------------------------------------------------------------- keys
    # Every scroll key lands at once. Textual's own actions animate (home and end over a second, a page
    # in about 0.7 s here), drawing every page on the way and keeping the reader from the page they
    # asked for.

    def _jump(self, x: float | None = None, y: float | None = None) -> None:
        self.scroll_to(x, y, animate=False, immediate=True)

    def _scrolls(self, vertical: bool = True) -> None:
        if not (self.allow_vertical_scroll if vertical else self.allow_horizontal_scroll):
            raise SkipAction()

    def action_scroll_home(self) -> None:
        self._scrolls()
        self._jump(0 if self.scroll_y == 0 else None, 0)  # home at the top: back to column 0 too

    def action_scroll_end(self) -> None:
        self._scrolls()
        self._jump(0 if self.is_vertical_scroll_end else None, self.max_scroll_y)

    def action_page_up(self) -> None:
        self._scrolls()
        self._jump(y=self.scroll_y - self.scrollable_content_region.height)

    def action_page_down(self) -> None:
        self._scrolls()
        self._jump(y=self.scroll_y + self.scrollable_content_region.height)

    def action_scroll_up(self) -> None:
        self._scrolls()
        self._jump(y=self.scroll_y - 1)

    def action_scroll_down(self) -> None:
        self._scrolls()
        self._jump(y=self.scroll_y + 1)

    def action_scroll_left(self) -> None:
        self._scrolls(vertical=False)
        self._jump(x=self.scroll_x - 1)

    def action_scroll_right(self) -> None:
        self._scrolls(vertical=False)
        self._jump(x=self.scroll_x + 1)

    def action_page_left(self) -> None:
        self._scrolls(vertical=False)
        self._jump(x=self.scroll_x - self.scrollable_content_region.width)

    def action_page_right(self) -> None:
        self._scrolls(vertical=False)
        self._jump(x=self.scroll_x + self.scrollable_content_region.width)

    # ----------------------------------------------------------------------------------------- styling

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._token_styles.clear()
        self._pygments_style = None
        self._clear_strips()

    def _clear_strips(self) -> None:
        self._version += 1
        self._strips.clear()

    def _line_style(self, index: int, line: str) -> tuple[Style, bool]:
        """The style of line ``index`` and whether its code part may be highlighted."""
        assert self.diff is not None
        hunks = self.diff.hunks
        if not hunks or index < hunks[0]:
            return self.get_component_rich_style("diff-view--meta"), False
        if line.startswith("@@"):
            return self.get_component_rich_style("diff-view--hunk"), False
        if line.startswith("+"):
            return self.get_component_rich_style("diff-view--added"), True
        if line.startswith("-"):
            return self.get_component_rich_style("diff-view--removed"), True
        if line.startswith("\\"):  # "\ No newline at end of file"
            return self.get_component_rich_style("diff-view--meta"), False
        return self.rich_style, line.startswith(" ")

    def _token_style(self, ttype: _TokenType) -> Style:
        """Foreground, bold, italic and underline of a token in the theme's Pygments style (no background,
        so the line's own background stays visible)."""
        style = self._token_styles.get(ttype)
        if style is None:
            if self._pygments_style is None:
                self._pygments_style = get_style_by_name(
                    DARK_STYLE if self.app.current_theme.dark else LIGHT_STYLE
                )
            spec = self._pygments_style.style_for_token(ttype)
            style = self._token_styles[ttype] = Style(
                color=f"#{spec['color']}" if spec["color"] else None,
                bold=spec["bold"] or None,
                italic=spec["italic"] or None,
                underline=spec["underline"] or None,
            )
        return style

    def _line_strip(self, index: int) -> tuple[Strip, Style]:
        """Line ``index`` drawn at full width, and the style that pads it to the view's width."""
        assert self.diff is not None
        raw = self.diff.lines[index]
        text = _display(raw)
        style, code = self._line_style(index, text)
        tokens = None
        if code and self.lexer is not None and len(raw) <= MAX_CELLS and text:
            tokens = _tokens(self.lexer, text[1:])
        if not tokens:
            return Strip([Segment(text, style)], cell_len(text)), style
        # The code keeps the line's background and takes the widget's text colour under the token colours.
        base = self.rich_style + Style(bgcolor=style.bgcolor)
        segments = [Segment(text[0], style)]
        segments.extend(Segment(value, base + self._token_style(ttype)) for ttype, value in tokens)
        return Strip(segments, cell_len(text)), style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        gutter = min(self.mark_gutter, width)
        if self.diff is None or index >= len(self.diff.lines):
            return Strip.blank(width, self.rich_style)
        key = (index, self._version)
        cached = self._strips.get(key)
        if cached is None:
            cached = self._strips[key] = self._line_strip(index)
        strip, pad = cached
        line = strip.crop_extend(scroll_x, scroll_x + width - gutter, pad)
        target = index == self.target_row
        if target:
            background = self.get_component_rich_style("diff-view--target").bgcolor
            if background is not None:  # over the line's own background (added, removed)
                line = Strip(
                    Segment.apply_style(line, post_style=Style(bgcolor=background)), line.cell_length
                )
        if not gutter:
            return line
        sign = "▶" if target else "●" if index in self.marked_rows else " "
        mark = self.get_component_rich_style("diff-view--mark") if sign != " " else self.rich_style
        return Strip.join([Strip([Segment(sign.ljust(gutter), mark)], gutter), line])

"""A unified diff of one file, rendered line by line with the Line API (only visible rows are drawn,
so a lock file with thousands of lines scrolls as fast as a small one). Lines are data: no markup."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.core.diff_parse import FileDiff
from cockpit.core.log_render import clean

MAX_CELLS = 1000


class DiffView(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"diff-view--added", "diff-view--removed", "diff-view--hunk", "diff-view--meta"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.diff: FileDiff | None = None
        self._hunk = 0

    def show(self, diff: FileDiff | None) -> None:
        self.diff = diff
        self._hunk = 0
        width = max((len(line) for line in diff.lines), default=0) if diff else 0
        self.virtual_size = self.virtual_size.with_width(min(width, MAX_CELLS)).with_height(
            len(diff.lines) if diff else 0
        )
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def jump_hunk(self, step: int) -> None:
        if not self.diff or not self.diff.hunks:
            return
        self._hunk = max(0, min(len(self.diff.hunks) - 1, self._hunk + step))
        self.scroll_to(y=self.diff.hunks[self._hunk], animate=False)

    def _style(self, line: str) -> Style:
        if line.startswith("@@"):
            return self.get_component_rich_style("diff-view--hunk")
        if line.startswith(("+++", "---", "diff --git", "index ", "new file", "deleted file")):
            return self.get_component_rich_style("diff-view--meta")
        if line.startswith("+"):
            return self.get_component_rich_style("diff-view--added")
        if line.startswith("-"):
            return self.get_component_rich_style("diff-view--removed")
        return self.rich_style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if self.diff is None or index >= len(self.diff.lines):
            return Strip.blank(width, self.rich_style)
        text = clean(self.diff.lines[index]).expandtabs(4)[:MAX_CELLS]
        strip = Strip([Segment(text, self._style(text))])
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

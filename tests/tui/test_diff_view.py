"""Syntax highlighting in the diff review: Python code gets token colours while the +/- marker keeps
its colour, lock files and over-long lines stay plain (and long lines are cut), header lines are told
apart from removed lines by position, and a theme switch re-colours the tokens."""

from __future__ import annotations

from pathlib import Path

from git import Repo
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.diff_parse import FileDiff, parse_patch
from cockpit.tui.app import STYLESHEETS
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.widgets.diff_view import MAX_CELLS, DiffView

PY_PATCH = """\
diff --git a/calc.py b/calc.py
index 1111111..2222222 100644
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,6 @@
 def add(a, b):
     return a + b
+
+
+def subtract(a, b):
+    return a - b
"""

LOCK_PATCH = """\
diff --git a/package-lock.json b/package-lock.json
index 1111111..2222222 100644
--- a/package-lock.json
+++ b/package-lock.json
@@ -1,3 +1,4 @@
 {
   "name": "demo",
+  "lockfileVersion": 3,
   "requires": true
"""

SQL_PATCH = """\
diff --git a/schema.sql b/schema.sql
index 1111111..2222222 100644
--- a/schema.sql
+++ b/schema.sql
@@ -1,2 +1,1 @@
--- the old note
 SELECT 1;
"""


def long_patch(length: int) -> str:
    line = "x = '" + "a" * (length - 6) + "'"
    return f"diff --git a/data.py b/data.py\n--- a/data.py\n+++ b/data.py\n@@ -0,0 +1,2 @@\n+{line}\n+y = 1\n"


class ReviewApp(App[None]):
    """The cockpit's stylesheets (where the diff colours live), without the board polling of the full app."""

    CSS_PATH = STYLESHEETS


class ViewApp(ReviewApp):
    def compose(self) -> ComposeResult:
        yield DiffView(id="diff-view")


def one_file(patch: str) -> FileDiff:
    (diff,) = parse_patch(patch)
    return diff


async def show(app: App[None], pilot, diff: FileDiff) -> DiffView:
    view = app.query_one(DiffView)
    view.show(diff)
    await app.workers.wait_for_complete()  # the lexer is looked up in a thread
    await pilot.pause()
    return view


def row_of(view: DiffView, line: str) -> int:
    assert view.diff is not None
    return view.diff.lines.index(line) - view.scroll_offset.y


def styles_of(strip: Strip) -> set[Style]:
    return {segment.style for segment in strip if segment.text}


def segment_style(strip: Strip, text: str) -> Style:
    return next(segment.style for segment in strip if segment.text == text)


async def test_added_python_line_is_highlighted_and_marker_keeps_added_style() -> None:
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = await show(app, pilot, one_file(PY_PATCH))
        assert view.lexer is not None and view.lexer.name == "Python"
        strip = view.render_line(row_of(view, "+def subtract(a, b):"))
        assert strip.text.startswith("+def subtract(a, b):")
        added = view.get_component_rich_style("diff-view--added")
        assert len(styles_of(strip)) > 2
        marker = next(iter(strip))
        assert marker.text == "+" and marker.style == added
        keyword, name = segment_style(strip, "def"), segment_style(strip, "subtract")
        assert keyword.color != name.color
        # The code keeps the added line's background: the +/- meaning spans the whole line.
        assert keyword.bgcolor == name.bgcolor == added.bgcolor
        assert added.bgcolor != view.rich_style.bgcolor
        context = view.render_line(row_of(view, "     return a + b"))  # context lines are highlighted too
        assert segment_style(context, "return").color == keyword.color


async def test_lock_file_line_has_a_single_style() -> None:
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = await show(app, pilot, one_file(LOCK_PATCH))
        assert view.lexer is None
        strip = view.render_line(row_of(view, '+  "lockfileVersion": 3,'))
        assert strip.text.startswith('+  "lockfileVersion": 3,')
        assert styles_of(strip) == {view.get_component_rich_style("diff-view--added")}


async def test_long_line_is_cut_and_not_highlighted() -> None:
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = await show(app, pilot, one_file(long_patch(5000)))
        assert view.lexer is not None  # a Python file, yet the long line stays plain
        assert len(view.diff.lines[4]) == 5001
        assert view.virtual_size.width == MAX_CELLS
        row = row_of(view, view.diff.lines[4])
        first = view.render_line(row)
        assert first.text.startswith("+x = 'aaa")
        assert styles_of(first) == {view.get_component_rich_style("diff-view--added")}
        assert len(styles_of(view.render_line(row + 1))) > 1  # the short line next to it is highlighted
        view.scroll_to(x=view.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        last = view.render_line(row)
        assert view.scroll_offset.x == MAX_CELLS - view.scrollable_content_region.width
        assert last.text.endswith("a…")


async def test_removed_line_that_looks_like_a_header_is_a_removed_line() -> None:
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = await show(app, pilot, one_file(SQL_PATCH))
        removed = view.get_component_rich_style("diff-view--removed")
        meta = view.get_component_rich_style("diff-view--meta")
        assert next(iter(view.render_line(row_of(view, "--- a/schema.sql")))).style == meta
        strip = view.render_line(row_of(view, "--- the old note"))
        assert next(iter(strip)).style == removed
        assert removed in styles_of(strip) and meta not in styles_of(strip)


async def test_theme_switch_recolours_tokens() -> None:
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        app.theme = "textual-dark"
        view = await show(app, pilot, one_file(PY_PATCH))
        dark = segment_style(view.render_line(row_of(view, "+def subtract(a, b):")), "def")
        app.theme = "textual-light"
        await pilot.pause()
        light = segment_style(view.render_line(row_of(view, "+def subtract(a, b):")), "def")
        assert dark.color != light.color
        assert light.bold  # Pygments' light style sets keywords in bold


async def test_review_screen_highlights_a_real_git_diff(repo: Path) -> None:
    (repo / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef subtract(a, b):\n    return a - b\n"
    )
    (repo / "package-lock.json").write_text('{\n  "name": "calc",\n  "lockfileVersion": 3\n}\n')
    git = Repo(repo)
    git.git.add("-A")
    patch = git.git.diff("--cached", "--no-color", "--no-ext-diff") + "\n"
    board = Blackboard(repo)
    atomic_write_text(board.task_dir("subtract-0001") / "diff.patch", patch)
    app = ReviewApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(DiffScreen(board, "subtract-0001"))
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.screen.query_one(DiffView)
        assert view.diff is not None and view.diff.path == "calc.py"
        added = view.get_component_rich_style("diff-view--added")
        strip = view.render_line(row_of(view, "+def subtract(a, b):"))
        assert next(iter(strip)).style == added
        assert segment_style(strip, "def").color != segment_style(strip, "subtract").color
        await pilot.press("n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.diff.path == "package-lock.json"
        strip = view.render_line(row_of(view, '+  "lockfileVersion": 3'))
        assert styles_of(strip) == {added}


def numbered_patch(lines: int) -> str:
    body = "".join(f"+line = {n}\n" for n in range(lines))
    return f"diff --git a/long.py b/long.py\n--- /dev/null\n+++ b/long.py\n@@ -0,0 +1,{lines} @@\n{body}"


async def test_scroll_keys_land_at_once_without_animation() -> None:
    """``end`` puts the last page on screen as the key is handled (the offset is at the bottom right
    away, and it moved there in one step, not through an animation); so do home, the page keys and the
    arrows. Every value the view's vertical offset takes is noted."""
    app = ViewApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = await show(app, pilot, one_file(numbered_patch(500)))
        view.focus()
        taken: list[float] = []
        view.watch(view, "scroll_y", lambda y: taken.append(y), init=False)
        page = view.scrollable_content_region.height
        bottom = view.max_scroll_y
        assert bottom > 3 * page
        steps = [
            ("end", bottom),
            ("home", 0),
            ("pagedown", page),
            ("pagedown", 2 * page),
            ("pageup", page),
            ("down", page + 1),
            ("up", page),
            ("end", bottom),
        ]
        for key, expected in steps:
            taken.clear()
            await pilot.press(key)
            assert view.scroll_offset.y == expected, key
            assert taken == [expected], f"{key} moved through {taken[:5]}…"
            assert not app.animator.is_being_animated(view, "scroll_y")

"""EventLog driven through a real app (Pilot, fixed size) over real files copied from the recorded fixture."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from cockpit.tui.widgets import EventLog

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "codex" / "recorded-mixed.jsonl"
SIZE = (100, 16)


class LogApp(App[None]):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield EventLog(self.path, id="log")


def message(text: str, item_id: str = "item_t") -> bytes:
    event = {"type": "item.completed", "item": {"id": item_id, "type": "agent_message", "text": text}}
    return json.dumps(event).encode() + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def rows(log: EventLog) -> list[str]:
    """The rows the widget draws for its current scroll position."""
    return [log.render_line(y).text for y in range(log.scrollable_content_region.height)]


async def until(pilot: Pilot[None], condition: Callable[[], bool], tries: int = 100) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("condition not reached")


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    shutil.copy(FIXTURE, path)
    return path


async def test_rendered_rows_are_the_events_human_lines(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        assert log.line_count == 31
        shown = rows(log)
        assert any(row.startswith("$ ") for row in shown)
        assert shown[-1].startswith("■ turn completed")
        assert log.tailing and log.scroll_y == log.max_scroll_y > 0
        command_row = next(y for y, row in enumerate(shown) if row.startswith("$ "))
        command_style = log.get_component_rich_style("event-log--command")
        segments = list(log.render_line(command_row))
        assert segments[0].style is not None and segments[0].style.color == command_style.color
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert rows(log)[0].startswith("▸ thread ")


async def test_control_sequences_markup_and_secrets_are_shown_as_data(events_file: Path) -> None:
    append(
        events_file,
        message("\x1b[31mred\x1b[0m and [bold]markup[/bold] key sk-proj-abcdefghijklmnopqrstuvwx"),
    )
    # Not even valid JSON: raw ESC bytes and a window-title sequence straight in the file.
    append(events_file, b"\x1b[31mnot json\x1b[0m \x1b]0;title\x07[red]x[/red]\n")
    app = LogApp(events_file)
    async with app.run_test(size=(250, 16)) as pilot:  # wide enough for the whole raw lines
        await pilot.pause()
        log = app.query_one(EventLog)
        for mode in ("rendered", "raw"):
            shown = rows(log)
            text = "\n".join(shown)
            assert "\x1b" not in text and "\x07" not in text, mode
            assert not any(seg.control for y in range(len(shown)) for seg in log.render_line(y)), mode
            assert "[bold]markup[/bold]" in text, mode
            assert "[red]x[/red]" in text, mode
            assert "abcdefghijklmnop" not in text and "[REDACTED]" in text, mode
            await pilot.press("r")
            await pilot.pause()
        assert "» red and [bold]markup[/bold]" in "\n".join(rows(log))


async def test_r_toggles_raw_json(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        assert not log.raw
        await pilot.press("r")
        await pilot.pause()
        assert log.raw
        shown = rows(log)
        assert all(row.startswith('{"type":') for row in shown)
        assert shown[-1].startswith('{"type":"turn.completed"')
        await pilot.press("r")
        await pilot.pause()
        assert not log.raw and rows(log)[-1].startswith("■ turn completed")


async def test_long_lines_are_cut_with_an_ellipsis(events_file: Path) -> None:
    append(events_file, message("word " * 2000))
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        for _ in range(2):
            log.scroll_to(x=log.max_scroll_x, animate=False, immediate=True)
            await pilot.pause()
            assert log.virtual_size.width <= 1000
            assert rows(log)[-1].rstrip().endswith("…")
            await pilot.press("r")
            await pilot.pause()


async def test_appending_at_the_end_keeps_the_last_line_visible(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        for n in range(3):
            append(events_file, b"".join(message(f"tail line {n}.{i}") for i in range(7)))
            assert log.refresh_from_disk() == 7
            await pilot.pause()
            assert rows(log)[-1].startswith(f"» tail line {n}.6")
            assert log.tailing and log.pending_lines == 0
        append(events_file, b'{"type":"turn.started"')  # half a line: not shown until its newline
        assert log.refresh_from_disk() == 0
        append(events_file, b"}\n")
        assert log.refresh_from_disk() == 1
        await pilot.pause()
        assert rows(log)[-1].startswith("▸ turn started")


async def test_new_lines_while_scrolled_up_show_a_badge_and_end_resumes_tailing(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        await pilot.press("pageup")
        await until(pilot, lambda: not log.tailing)
        scroll_y = log.scroll_y
        before = rows(log)
        append(events_file, message("fresh 1") + message("fresh 2") + message("fresh 3"))
        assert log.refresh_from_disk() == 3
        await pilot.pause()
        after = rows(log)
        assert log.scroll_y == scroll_y
        assert after[:-1] == before[:-1]
        assert log.pending_lines == 3
        assert "3 new lines" in after[-1]
        assert not any("fresh" in row for row in after)
        await pilot.press("end")
        await pilot.pause()
        assert log.tailing and log.pending_lines == 0
        shown = rows(log)
        assert shown[-1].startswith("» fresh 3")
        assert not any("new line" in row for row in shown)


async def test_page_up_lands_at_once_and_counts_the_lines_since_the_last_poll(events_file: Path) -> None:
    """The page keys scroll without animation (the offset moves once, to its target), and leaving the
    end counts the lines appended since the last poll right away: the badge comes with the scroll."""
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        append(events_file, b"".join(message(f"more {n}") for n in range(40)))
        log.refresh_from_disk()
        await pilot.pause()
        taken: list[float] = []
        log.watch(log, "scroll_y", lambda y: taken.append(y), init=False)
        bottom, page = log.max_scroll_y, log.scrollable_content_region.height
        assert bottom > 2 * page
        append(events_file, message("unpolled 1") + message("unpolled 2"))  # no poll since
        await pilot.press("pageup")
        assert taken == [bottom - page] and not log.tailing
        assert log.pending_lines == 2
        assert "2 new lines" in rows(log)[-1]
        taken.clear()
        await pilot.press("home")
        assert taken == [0]
        taken.clear()
        await pilot.press("pagedown")
        assert taken == [page]


async def test_scrolling_back_to_the_end_by_hand_resumes_tailing(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        await pilot.press("pageup")
        await until(pilot, lambda: not log.tailing)
        append(events_file, message("fresh"))
        log.refresh_from_disk()
        await pilot.press("pagedown")
        await until(pilot, lambda: log.tailing)
        assert log.pending_lines == 0
        append(events_file, message("fresher"))
        log.refresh_from_disk()
        await pilot.pause()
        assert rows(log)[-1].startswith("» fresher")


async def test_a_selected_event_expands_into_all_its_lines(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        row = next(y for y, text in enumerate(rows(log)) if text.startswith("  ✓ exit 0  +4"))
        await pilot.click(EventLog, offset=(3, row))
        assert log.cursor_line is not None and log.expanded_line is None
        await pilot.click(EventLog, offset=(3, row))
        await pilot.pause()
        assert log.expanded_line == log.cursor_line
        assert log.virtual_size.height == 31 + 4
        shown = "\n".join(rows(log))
        assert "1  alpha" in shown and "now present" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert log.expanded_line is None and log.virtual_size.height == 31


async def test_a_hidden_log_does_nothing_and_catches_up_when_shown(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        log.display = False
        await pilot.pause()
        append(events_file, message("while hidden"))
        assert log.refresh_from_disk() == 0
        assert log.line_count == 31
        log.display = True
        await until(pilot, lambda: log.line_count == 32)
        await pilot.pause()
        assert rows(log)[-1].startswith("» while hidden")


async def test_a_truncated_file_restarts_the_view(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        await pilot.press("pageup")
        events_file.write_bytes(message("after truncation"))
        log.refresh_from_disk()
        await pilot.pause()
        assert log.line_count == 1 and log.tailing
        assert rows(log)[0].startswith("» after truncation")


async def test_a_200k_line_file_opens_at_its_last_page(tmp_path: Path) -> None:
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "big.jsonl"
    total = 200_000
    with open(path, "wb") as fh:
        tiles, rest = divmod(total - 1, len(lines))
        fh.write(b"".join(lines) * tiles + b"".join(lines[:rest]))
        fh.write(message("the very last event"))
    app = LogApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        assert rows(log)[-1].startswith("» the very last event")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not log.indexing)
        assert log.line_count == total
        assert log.scroll_y == log.max_scroll_y == total - log.scrollable_content_region.height
        assert rows(log)[-1].startswith("» the very last event")
        append(path, message("one more"))
        assert log.refresh_from_disk() == 1
        await pilot.pause()
        assert rows(log)[-1].startswith("» one more")
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert rows(log)[0].startswith("▸ thread ")


def tiled_file(path: Path, total: int, last: str) -> Path:
    """``total`` lines: the recorded fixture tiled, then one agent message ``last``."""
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    tiles, rest = divmod(total - 1, len(lines))
    with open(path, "wb") as fh:
        fh.write(b"".join(lines) * tiles + b"".join(lines[:rest]))
        fh.write(message(last))
    return path


async def test_switching_to_the_full_index_keeps_a_scrolled_view_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 40_000  # about 7 MB: opened tail first
    path = tiled_file(tmp_path / "big.jsonl", total, "last of the big file")
    held: list[tuple[EventLog, tuple[object, ...]]] = []
    start_loader = EventLog._start_loader
    monkeypatch.setattr(EventLog, "_start_loader", lambda self, *args: held.append((self, args)))
    app = LogApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(held))
        log = app.query_one(EventLog)
        assert log.indexing and log.line_count < total
        assert "indexing" in rows(log)[0]
        assert rows(log)[-1].startswith("» last of the big file")
        log.scroll_to(y=100, animate=False, immediate=True)
        await pilot.pause()
        assert not log.tailing
        before = rows(log)
        append(path, message("appended during the build"))
        assert log.refresh_from_disk() == 1
        monkeypatch.undo()
        widget, args = held[0]
        start_loader(widget, *args)
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not log.indexing)
        assert log.line_count == total + 1
        assert log.scroll_y == 100 + total - 2000
        after = rows(log)
        assert after[1:-1] == before[1:-1]
        assert "indexing" not in after[0] and "1 new line" in after[-1]
        await pilot.press("end")
        await pilot.pause()
        assert rows(log)[-1].startswith("» appended during the build")


async def test_removing_the_log_while_it_indexes_stops_the_thread(tmp_path: Path) -> None:
    path = tiled_file(tmp_path / "big.jsonl", 100_000, "last")
    app = LogApp(path)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(EventLog)
        await until(pilot, lambda: log.line_count > 0)
        await log.remove()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.query(EventLog)


async def test_a_theme_change_restyles_the_rows(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        row = next(y for y, text in enumerate(rows(log)) if text.startswith("$ "))
        colours = []
        for theme in ("textual-light", "nord"):
            app.theme = theme
            await pilot.pause()
            colour = next(iter(log.render_line(row))).style.color
            assert colour == log.get_component_rich_style("event-log--command").color
            colours.append(colour)
        assert colours[0] != colours[1]


async def test_a_file_that_does_not_exist_yet_shows_once_written(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    app = LogApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        assert log.line_count == 0 and log.refresh_from_disk() == 0
        assert rows(log) == [" " * len(rows(log)[0])] * len(rows(log))
        path.write_bytes(message("first words"))
        assert log.refresh_from_disk() == 1
        await pilot.pause()
        assert rows(log)[0].startswith("» first words")


async def test_keyboard_cursor_and_raw_expansion(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        await pilot.press("up")
        assert log.cursor_line == 30
        await pilot.press("up", "up")
        assert log.cursor_line == 28
        await pilot.press("enter", "r")
        await pilot.pause()
        assert log.expanded_line == 28 and log.raw
        shown = [row.rstrip() for row in rows(log)]
        assert '  "type": "item.completed",' in shown
        assert '    "type": "agent_message",' in shown
        await pilot.press("down")
        assert log.cursor_line == 29
        await pilot.press("escape")
        await pilot.pause()
        assert log.cursor_line is None and log.expanded_line is None
        assert log.virtual_size.height == 31


async def test_a_page_up_still_animating_is_not_undone_by_new_lines(events_file: Path) -> None:
    app = LogApp(events_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(EventLog)
        assert log.tailing
        end = log.scroll_y
        log.scroll_page_up(animate=True, duration=5.0)  # the target moves now, the rows only later
        assert log.scroll_target_y < end
        append(events_file, message("during the flood"))
        assert log.refresh_from_disk() == 1
        assert not log.tailing and log.pending_lines == 1
        await pilot.pause()
        assert log.scroll_y < log.max_scroll_y

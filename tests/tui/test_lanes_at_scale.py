"""Lane panes over big boards with Pilot: 5,000 tasks fold into one line, expand, filter, and a task
deep in the history opens its task view; only the cards on screen are ever drawn, a changed card is
drawn again while the others are not, the clock repaints the running tasks' elapsed lines alone (no
layout pass), the mouse selects, opens, folds and scrolls, and a bad filter is named while the last good
one stays.

The board comes from :class:`board_stub.StubView` (summaries in memory, the ids changed since the last
snapshot), standing in for the board view; a task the test opens also has its state on disk."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.geometry import Region

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.views.lane_rows import FOLD
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.board_stub import T0, StubView, history, summary
from tests.helpers.pilot import card_shown, shown, until

SIZE = (120, 40)


class Clock:
    """A clock the test moves by hand (the board's and the panes')."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def app_over(repo: Path, view: StubView, clock: Clock) -> CockpitApp:
    app = CockpitApp(repo, host_supervisor=False, clock=clock)
    app.view = view  # type: ignore[assignment]
    return app


def big_board() -> list:
    """5,000 worktree tasks: three that need you, the rest finished (every 130th failed, days ago)."""
    return [
        summary("review-0001", TaskStatus.REVIEW, created=-30, title="Review the parser"),
        summary("running-0001", TaskStatus.RUNNING, created=-20, started_at=T0, title="Port the CLI"),
        summary("queued-0001", TaskStatus.QUEUED, created=-10, title="Write the docs"),
        *history(4997),
    ]


async def test_a_5000_task_lane_folds_expands_filters_and_opens_a_task_deep_in_history(repo: Path) -> None:
    deepest = "worktree-h04996"  # the oldest finished task: the last row once expanded
    Blackboard(repo).write_state(
        TaskState(id=deepest, lane="worktree", title="History item 4996", status=TaskStatus.SUCCEEDED)
    )
    clock = Clock()
    app = app_over(repo, StubView(big_board(), clock), clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        pane = app.screen.query_one("#lane-worktree", LanePane)
        await until(pilot, lambda: pane.border_title == "worktree · 5,000", what="the lane's count")
        # folded: the three tasks that need you, then one line for the 4,997 finished ones
        lines = [line for line in shown(pane) if line]
        assert [line.split("  ")[0] for line in lines[::2][:3]] == ["▌ ◆ review", "▌ ▶ running", "▌ ○ queued"]
        assert "▸ ✓ 4,959 done · ✗ 38 failed — enter to expand" in lines
        assert pane.virtual_size.height < 20
        pane.focus()
        await pilot.press("end")
        assert pane.cursor_row is FOLD
        await pilot.press("enter")
        await until(pilot, lambda: pane.rows.expanded and pane.virtual_size.height > 10_000, what="expanded")
        assert "▾ ✓ 4,959 done · ✗ 38 failed — enter to fold" in shown(pane)
        await pilot.press("down")
        assert pane.cursor_task == "worktree-h00000"  # newest first
        # the filter narrows the lane; the lane's title counts what matches
        await pilot.press("slash", *"state:done history", "enter")
        filtered = "worktree · 4,959 of 5,000"
        await until(pilot, lambda: pane.border_title == filtered, what="the filtered count")
        assert app.focused is pane
        assert app.screen.query_one("#lane-local", LanePane).border_title == "local · 0 of 0"
        # deep in the history: the last row, 4,958 rows down
        await pilot.press("end")
        assert pane.cursor_task == deepest
        assert any(line.startswith("▌ ✓ succeeded  History item 4996") for line in shown(pane))
        # drawing 5,000 tasks drew only the cards that were on screen
        assert sum(pane.card_renders.values()) < 60, sum(pane.card_renders.values())
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen), what="the task view")
        assert app.screen.task_id == deepest
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert pane.cursor_task == deepest  # back where the user was
        await pilot.press("escape")  # clears the filter
        await until(pilot, lambda: pane.border_title == "worktree · 5,000", what="the filter cleared")


async def test_a_changed_card_is_drawn_again_and_no_other(repo: Path) -> None:
    clock = Clock()
    view = StubView(
        [
            summary("a-0001", TaskStatus.REVIEW, created=-3),
            summary("b-0001", TaskStatus.REVIEW, created=-2),
            summary("c-0001", TaskStatus.QUEUED, created=-1),
            *history(2000),
        ],
        clock,
    )
    app = app_over(repo, view, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        pane = app.screen.query_one("#lane-worktree", LanePane)
        await until(pilot, lambda: pane.card_renders["c-0001"] == 1, what="the cards drawn")
        before, rebuilds, polls = dict(pane.card_renders), pane.rows.rebuilds, view.snapshots
        await until(pilot, lambda: view.snapshots >= polls + 3, what="idle polls")
        assert pane.card_renders == before and pane.rows.rebuilds == rebuilds  # idle: nothing drawn
        view.put(summary("b-0001", TaskStatus.REVIEW, created=-2, usage={"input_tokens": 4200}))
        await until(pilot, lambda: "4.2K tok" in card_shown(pane, "b-0001"), what="the new token count")
        drawn = {k: v - before.get(k, 0) for k, v in pane.card_renders.items() if v != before.get(k, 0)}
        assert drawn == {"b-0001": 1}
        assert pane.rows.rebuilds == rebuilds  # updated where it stands: the rows were not rebuilt
        # a change of state moves the card (the rows are rebuilt) but draws only what changed
        view.put(summary("c-0001", TaskStatus.REVIEW, created=-1))
        await until(pilot, lambda: "◆ review" in card_shown(pane, "c-0001"), what="the queued task in review")
        assert pane.card_renders["a-0001"] == before["a-0001"]


async def test_the_clock_repaints_only_the_elapsed_line_of_running_tasks(repo: Path) -> None:
    clock = Clock()
    view = StubView(
        [
            summary("run-0001", TaskStatus.RUNNING, created=-5, started_at=T0),
            summary("review-0001", TaskStatus.REVIEW, created=-4),
            summary("queued-0001", TaskStatus.QUEUED, created=-3),
        ],
        clock,
    )
    app = app_over(repo, view, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        pane = app.screen.query_one("#lane-worktree", LanePane)
        await until(pilot, lambda: "0s  0 tok" in card_shown(pane, "run-0001"), what="the running card")
        start = pane.row_lines("run-0001")[0]
        before = dict(pane.card_renders)
        refreshes: list[tuple[tuple[Region, ...], bool]] = []
        refresh = pane.refresh

        def recorded(*regions: Region, repaint: bool = True, layout: bool = False, **kwargs: bool):
            refreshes.append((regions, layout))
            return refresh(*regions, repaint=repaint, layout=layout, **kwargs)

        pane.refresh = recorded  # type: ignore[method-assign]
        clock.now += 65
        await until(pilot, lambda: any(regions for regions, _ in refreshes), what="the clock ticking")
        pane.refresh = refresh  # type: ignore[method-assign]
        assert all(not layout for _, layout in refreshes)  # no layout pass
        line = start + 1 - round(pane.scroll_y)  # the running card's elapsed line, and nothing else
        assert [tuple(regions) for regions, _ in refreshes] == [(Region(0, line, pane.size.width, 1),)]
        assert pane.render_line(line).text.startswith("▌ 1m 05s  0 tok")
        assert pane.card_renders["review-0001"] == before["review-0001"]
        assert pane.card_renders["queued-0001"] == before["queued-0001"]
        assert "not started" in card_shown(pane, "queued-0001")  # a queued task has no clock


async def test_the_mouse_selects_opens_folds_and_scrolls(repo: Path) -> None:
    Blackboard(repo).write_state(TaskState(id="review-0002", lane="worktree", title="Second"))
    clock = Clock()
    view = StubView(
        [
            summary("review-0001", TaskStatus.REVIEW, created=-5),
            summary("review-0002", TaskStatus.REVIEW, created=-4),
            *history(300),
        ],
        clock,
    )
    app = app_over(repo, view, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        pane = app.screen.query_one("#lane-worktree", LanePane)
        await until(pilot, lambda: pane.row_lines(FOLD) is not None, what="the fold line")
        # the pane's border and padding put content line y at (2, 1 + y)
        second = pane.row_lines("review-0002")[0]
        await pilot.click(pane, offset=(4, 1 + second))
        assert app.focused is pane and pane.cursor_task == "review-0002"
        await pilot.click(pane, offset=(4, 1 + second))  # a second click opens
        await until(pilot, lambda: isinstance(app.screen, TaskScreen), what="the task view")
        assert app.screen.task_id == "review-0002"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.click(pane, offset=(4, 1 + pane.row_lines(FOLD)[0]))  # the fold line unfolds
        await until(pilot, lambda: pane.rows.expanded and pane.virtual_size.height > 600, what="expanded")
        assert pane.scroll_y == 0
        for _ in range(3):
            pane.post_message(events.MouseScrollDown(pane, 4, 4, 0, 1, 0, False, False, False))
        await until(pilot, lambda: pane.scroll_y > 0, what="scrolled by the wheel")
        assert pane.cursor_row is FOLD  # the wheel scrolls; the cursor stays


async def test_a_bad_filter_is_named_and_escape_clears_the_filter(repo: Path) -> None:
    clock = Clock()
    view = StubView([summary("review-0001", TaskStatus.REVIEW), *history(40)], clock)
    app = app_over(repo, view, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        pane = app.screen.query_one("#lane-worktree", LanePane)
        await until(pilot, lambda: pane.border_title == "worktree · 41", what="the lane")
        await pilot.press("slash", *"state:review")
        assert pane.border_title == "worktree · 1 of 41"
        app.focused.post_message(events.Paste(" lane:xyz"))  # pasted: no half-typed term on the way
        await until(pilot, lambda: "xyz" in str(app.screen.query_one("#lane-filter-error").render()))
        error = str(app.screen.query_one("#lane-filter-error").render())
        assert error.startswith("unknown lane 'xyz': one of local, worktree")
        assert pane.border_title == "worktree · 1 of 41"  # the last good filter stays
        await pilot.press("escape")  # from the filter line itself: cleared and closed
        assert pane.border_title == "worktree · 41"
        assert not app.screen.query_one("#lane-filter-bar").display
        assert isinstance(app.focused, LanePane)

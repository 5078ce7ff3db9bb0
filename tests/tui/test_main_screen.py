"""The main screen with Pilot: lane panes show task cards from the blackboard (state as symbol and
word; finished tasks folded into one line until expanded), the cloud lane lists its tasks too, the
header counts decisions and reviews and gauges both model families' credit windows, and titles are shown
as data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionOption, DecisionStore
from cockpit.core.claude.stream import RateLimitInfo
from cockpit.core.layout import CLAUDE_LIMITS_FILE
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.usage.claude_limits import ClaudeLimits, ClaudeLimitsStore, ClaudeWindow
from cockpit.core.usage.windows import UsageWindows, Window
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.widgets.cockpit_header import CockpitHeader, claude_gauge, codex_gauge
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import card_shown, pane_listing, shown, until


def seed(board: Blackboard) -> None:
    done = TaskState(id="write-notes-0001", lane="local", title="Write NOTES.md", status=TaskStatus.SUCCEEDED)
    done.attempts.append(
        Attempt(n=1, deadline_s=60, signals=Signals(exit_code=0, turn_completed=True, last_message=True))
    )
    review = TaskState(
        id="subtract-0002", lane="worktree", title="[bold]Add subtract[/bold]", status=TaskStatus.REVIEW
    )
    waiting = TaskState(
        id="changelog-0003",
        lane="worktree",
        title="Summarise the changelog",
        status=TaskStatus.AWAITING_DECISION,
        message="waiting for decision-001",
    )
    cloud = TaskState(id="cloud-0004", lane="cloud", title="Run in the cloud")
    for state in (done, review, waiting, cloud):
        board.write_state(state)
    options = [
        DecisionOption(key="A", label="Retry", action="retry"),
        DecisionOption(key="B", label="Park", action="dead_letter"),
    ]
    DecisionStore(board.root, lambda: datetime.now(UTC)).open(
        task_id=waiting.id,
        trigger="repeated_failures",
        title="failed repeatedly",
        context="three failures",
        options=options,
        recommended="A",
        recommended_why="cheap",
        risk="medium",
        default="B",
    )


async def test_lanes_show_cards_from_the_blackboard(repo: Path) -> None:
    board = Blackboard(repo)
    seed(board)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DecisionModal)  # the pending card asks for attention first
        main = app.screen_stack[1]
        worktree = main.query_one("#lane-worktree", LanePane)
        review = card_shown(worktree, "subtract-0002")
        assert review.startswith("▌ ◆ review  [bold]Add subtract[/bold]")  # shown literally
        assert "waiting for decision-001" in card_shown(worktree, "changelog-0003")
        assert worktree.border_title == "worktree · 2"
        # the review's bar and state word take the review colour from the theme
        drawn = worktree.render_line(worktree.row_lines("subtract-0002")[0] - round(worktree.scroll_y))
        accent = worktree.get_component_rich_style("lane-pane--review").color
        assert [seg.style.color for seg in drawn if seg.text.strip() == "◆ review"] == [accent]
        local = main.query_one("#lane-local", LanePane)
        assert shown(local)[0] == "▸ ✓ 1 done — enter to expand"  # the finished task is folded
        cloud = main.query_one("#lane-cloud", LanePane)
        assert shown(cloud)[0] == "▌ ○ queued  Run in the cloud" and cloud.border_title == "cloud · 1"
        header = str(main.query_one(CockpitHeader).render())
        assert "workers 0/3" in header and "decisions 1" in header and "reviews 1" in header
        assert "Codex unknown │ Claude unknown" in header and "[viewer]" in header
        await pilot.press("escape")  # answer the decision later
        await until(pilot, lambda: app.screen is main, what="the main screen")
        local.focus()
        await pilot.press("home", "enter")  # the cursor on the fold line: expand it
        notes = card_shown(local, "write-notes-0001")
        assert notes.startswith("▌ ✓ succeeded  Write NOTES.md") and "exit 0 turn ✓ msg ✓" in notes
        assert shown(local)[0] == "▾ ✓ 1 done — enter to fold"
        # a new state on disk shows up without restarting the app
        board.write_state(TaskState(id="late-0005", lane="local", title="Arrives later"))
        await app.workers.wait_for_complete()
        app.poll_board()
        await until(pilot, lambda: pane_listing(app, "late-0005") is local, what="the late task listed")
        assert local.border_title == "local · 2"


async def test_decision_modal_answers_with_one_key(repo: Path) -> None:
    board = Blackboard(repo)
    seed(board)
    store = DecisionStore(board.root, lambda: datetime.now(UTC))
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, DecisionModal)
        body = str(modal.query_one("#decision-card").render())
        assert "[A] Retry  ★ recommended" in body and "[B] Park" in body and "(default)" in body
        assert "default B in" in str(modal.query_one("#decision-countdown").render())
        await pilot.press("c")  # not an option of this card: nothing happens
        await pilot.pause()
        assert app.screen is modal and store.get("decision-001").resolved is None
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, DecisionModal)
        card = store.get("decision-001")
        assert card.resolved.option == "B" and card.resolved.by == "human"


async def test_modal_closes_when_the_card_is_answered_elsewhere(repo: Path) -> None:
    board = Blackboard(repo)
    seed(board)
    store = DecisionStore(board.root, lambda: datetime.now(UTC))
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DecisionModal)
        store.answer("decision-001", "A", by="human")  # e.g. `cockpit decide 1 A` in another terminal
        app.screen._tick()
        await pilot.pause()
        assert not isinstance(app.screen, DecisionModal)


# ---- the credit-window gauge of both families ----------------------------------------------------------

NOW = 1_795_470_000.0


def codex_windows(five: float | None, week: float | None) -> UsageWindows:
    windows = [
        Window(minutes=300, used_percent=five, resets_at=NOW + 4320),
        Window(minutes=10080, used_percent=week, resets_at=NOW + 86400),
    ]
    return UsageWindows(windows=windows)


def claude(*windows: ClaudeWindow) -> ClaudeLimits:
    return ClaudeLimits(windows=[w for w in windows if w.kind], current=windows[0] if windows else None)


def test_the_gauges_of_both_families() -> None:
    assert codex_gauge(UsageWindows(), NOW) == "Codex unknown"
    assert codex_gauge(codex_windows(42, 10), NOW) == "Codex 5h 42% resets in 1h12m · wk 10%"
    assert codex_gauge(codex_windows(None, 100), NOW) == "Codex wk 100% blocked resets in 24h00m"
    assert claude_gauge(ClaudeLimits(), NOW) == "Claude unknown"
    warn = ClaudeWindow(kind="five_hour", status="allowed_warning", utilization=0.71, resets_at=NOW + 60)
    week = ClaudeWindow(kind="seven_day", status="allowed_warning", utilization=0.3, resets_at=NOW + 600)
    assert claude_gauge(claude(warn, week), NOW) == "Claude 5h 71% · wk 30%"
    allowed = ClaudeWindow(kind="five_hour", status="allowed", resets_at=NOW + 60)
    assert claude_gauge(claude(allowed), NOW) == "Claude 5h ok"  # no number given: never 0 %
    passed = claude(allowed).as_of(NOW + 61)
    assert claude_gauge(passed, NOW + 61) == "Claude 5h unknown"
    rejected = ClaudeWindow(kind="seven_day", status="rejected", resets_at=NOW + 7380)
    assert claude_gauge(claude(rejected, warn), NOW) == "Claude wk blocked resets in 2h03m · 5h 71%"
    assert claude_gauge(claude(ClaudeWindow(status="rejected")), NOW) == "Claude blocked (reset unknown)"
    assert claude_gauge(claude(ClaudeWindow(kind="opus_x", status="paused")), NOW) == "Claude opus_x paused"


async def test_the_header_shows_both_families_from_the_board(repo: Path, tmp_path: Path) -> None:
    """Codex's windows from a rollout, Claude's from the board's file the review phase writes; a new
    Claude line on disk shows up at the next poll."""
    home = tmp_path / "codex-home"
    day = home / "sessions" / "2026" / "11" / "23"
    day.mkdir(parents=True)
    limits = {
        "limit_id": "codex",
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": NOW + 4320},
        "secondary": {"used_percent": 10.0, "window_minutes": 10080, "resets_at": NOW + 86400},
    }
    line = {
        "timestamp": "2026-11-23T21:37:50.228Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": None, "rate_limits": limits},
    }
    (day / "rollout-2026-11-23T21-37-00-test.jsonl").write_text(json.dumps(line) + "\n")
    board = Blackboard(repo)
    store = ClaudeLimitsStore(board.root / CLAUDE_LIMITS_FILE)
    warn = {
        "status": "allowed_warning",
        "rateLimitType": "five_hour",
        "utilization": 0.71,
        "resetsAt": NOW + 60,
    }
    store.record([RateLimitInfo.model_validate(warn)], NOW - 5, "stream")
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: NOW, env={"CODEX_HOME": str(home)})
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.screen_stack[-1]
        header = main.query_one(CockpitHeader)
        await until(pilot, lambda: "Claude 5h 71%" in str(header.render()), what="Claude's window")
        assert "Codex 5h 42% resets in 1h12m · wk 10% │ Claude 5h 71%" in str(header.render())
        rejected = {"status": "rejected", "rateLimitType": "five_hour", "resetsAt": NOW + 3600}
        store.record([RateLimitInfo.model_validate(rejected)], NOW, "stream")
        app.poll_board()
        await until(
            pilot, lambda: "Claude 5h blocked resets in 1h00m" in str(header.render()), what="blocked"
        )

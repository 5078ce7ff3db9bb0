"""The main screen with Pilot: lane panes show task cards from the blackboard (state as symbol and
word), unbuilt lanes say so, the header counts decisions and reviews, and titles are shown as data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.blackboard import Blackboard
from cockpit.core.decisions import DecisionOption, DecisionStore
from cockpit.core.state import Attempt, Signals, TaskState, TaskStatus
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.cockpit_header import CockpitHeader
from cockpit.tui.widgets.lane_pane import LanePane
from cockpit.tui.widgets.task_card import TaskCard


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
        cards = {card.task_id: str(card.render()) for card in app.screen.query(TaskCard)}
        assert cards["write-notes-0001"].startswith("✓ succeeded  Write NOTES.md")
        assert "exit 0 turn ✓ msg ✓" in cards["write-notes-0001"]
        assert cards["subtract-0002"].startswith("◆ review  [bold]Add subtract[/bold]")  # shown literally
        assert "waiting for decision-001" in cards["changelog-0003"]
        assert app.screen.query_one("#task-subtract-0002").has_class("-review")
        worktree = app.screen.query_one("#lane-worktree", LanePane)
        assert worktree.border_subtitle == "2 tasks"
        cloud_note = str(app.screen.query_one("#lane-note-cloud").render())
        assert "not built yet" in cloud_note and "(1 queued)" in cloud_note
        header = str(app.screen.query_one(CockpitHeader).render())
        assert "workers 0/3" in header and "decisions 1" in header and "reviews 1" in header
        assert "credits: unknown" in header and "[viewer]" in header
        # a new state on disk shows up without restarting the app
        board.write_state(TaskState(id="late-0005", lane="local", title="Arrives later"))
        await app.workers.wait_for_complete()
        app.poll_board()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "late-0005" in {card.task_id for card in app.screen.query(TaskCard)}
